/**
 * The planner: a pure function from (observed power state and boot fields, declared power state and
 * boot fields, policy) to the ordered XenAPI calls that get there. It performs no calls; the executor
 * (`provider/executor/`) runs what it returns.
 *
 * How a plan is built:
 * 0. **The declaration is completed against the observed fields** (`resolveDeclaredBoot`): a PV
 *    declaration whose resulting bootloader and kernel (declared, else observed) are both empty also
 *    declares `PV_bootloader: "pygrub"`, the seed's "as if PV/bootloader was specified as pygrub".
 * 1. **Setter steps first** (`setters.ts`), one per boot field whose observed value differs from the
 *    declared one, in the order XAPI's coupled setters need, then one `VBD.set_bootable` per VBD whose
 *    flag differs from `bootableUserdevices`; such a change counts as a boot-config change like any field
 *    (a bootloader reads the flags at every build: docs/xapi-facts.md, "A boot change reaches a live
 *    domain only when the domain is rebuilt").
 * 2. **Lifecycle steps** (`search.ts`): the fewest lifecycle calls the policy allows, ties broken by
 *    gentleness, then `CALL_PREFERENCE`, so the result is deterministic.
 *
 * Decisions this module makes (documented for users in the README by the lead):
 * - **Policy** (`policy.ts`): `clean` / `clean-then-hard` may use start, pause, unpause, suspend, resume,
 *   clean_shutdown, clean_reboot; `hard` may use start, pause, unpause, suspend, resume, hard_shutdown and
 *   hard_reboot (from Running or Paused). `VM.shutdown` is never planned. A Crashed VM is always left
 *   with hard_shutdown.
 * - **`allowDiscardSuspendedState`** narrows `hard`, it grants nothing on its own: `VM.hard_shutdown` of a
 *   Suspended VM (it discards the saved image) needs `shutdown: "hard"` *and* the flag. `clean` and
 *   `clean-then-hard` never plan `VM.hard_shutdown`, so there, and
 *   without the flag, a Suspended VM is resumed first. A non-destructive plan of the same length is
 *   still preferred.
 * - **Boot changes, `restart`**: when the target is Running or Paused, the final domain must run the
 *   declared config, so the plan contains the cheapest domain rebuild (start, clean_reboot or
 *   hard_reboot; a resume is not one: the lifecycle table's `rebuildsDomain`). A **Suspended** target is not rebuilt: rebooting a guest
 *   only to suspend it again is a restart nobody asked for; the saved image keeps the old config and the
 *   change is reported pending (it applies at the first reboot after resume). A **Halted** target needs
 *   nothing: the next start reads the new fields.
 * - **Boot changes, `next-boot`**: setters only, no rebuild added; pending when the VM ends with a
 *   domain or image built from the old config.
 * - **`forceRestart`** (restartTrigger changed): when the target is Running or Paused the plan contains
 *   exactly one domain build, and the final domain is that one; a `VM.start` counts (a Halted VM that is
 *   started is freshly booted). When the target is Halted or Suspended no restart is added: there is no
 *   live domain at the end to restart, and starting a VM only to stop it again helps nobody.
 * - **vCPUs and memory** (`sizing.ts`, rules in `provider/model/sizing-rules.ts`): the target is the
 *   declared fields overlaid on the observed ones (`resolveSizing`), checked by `validateSizing`
 *   (`INVALID_DECLARED_SIZING`). A change XAPI applies live (`VM.set_VCPUs_number_live` when the guest can
 *   hotplug and the pool is licensed, `VM.set_memory_dynamic_range` on a Running VM) is applied live with
 *   no restart; `VCPUs_at_startup` otherwise waits for a domain build and joins the boot changes' restart
 *   window (`bootChanges` governs both; pending under next-boot: `Plan.sizingPending`). A change XAPI
 *   only takes on a Halted VM (`vcpus.max`, `memory.staticMax`) is written where the plan is Halted anyway;
 *   a plan that has to add a halt (or a pass through Running, for the dynamic range of a Paused or
 *   Suspended VM) for it costs more than the plan without it, which only `policy.powerCycle: "allow"`
 *   permits (else `NEEDS_POWER_CYCLE`); the cycle is then also the restart window: one build in all.
 * - A declared Crashed target, or no legal path, is a typed failure, never a partial plan.
 */

import { resolveDeclaredBoot } from "../model/boot";
import { formatCall, rebuildsDomain } from "../model/lifecycle";
import {
  DEFAULT_POLICY,
  type Plan,
  type PlanFailure,
  type PlanInput,
  type PlanResult,
  type PlanStep,
  type Policy,
} from "../model/plan";
import { resolveSizing, type SizingFields, validateSizing } from "../model/sizing";
import { DECLARABLE_POWER_STATES, type DeclarablePowerState, PowerState } from "../model/vocabulary";
import { invalid } from "../model/wording";
import { fail } from "./policy";
import { costsMore, explainPath, type Goal, NO_SIZING, type SearchNode, type Settle, search } from "./search";
import { planBootableDisks, planSetters } from "./setters";
import {
  explainCycle,
  placeSizingWrites,
  powerCycleFailure,
  type SizingContext,
  settleSizing,
  sizingContext,
  withoutCycleChanges,
} from "./sizing";

export { resolveSizing, sizingOf, validateSizing } from "../model/sizing";
export { isAllowedByPolicy, mayDiscardSuspendedState } from "./policy";
export { CALL_PREFERENCE } from "./search";
export type { Plan, PlanFailure, PlanInput, PlanResult, PlanStep, Policy };
export { DEFAULT_POLICY };

/** Default bound on the number of lifecycle calls the search explores (the longest real plan has 3). */
export const DEFAULT_SEARCH_LIMIT = 8;

/**
 * Plans the calls that take a VM from its observed to its declared power state and boot config.
 * Pure: performs no calls, reads no clock, same input → same output.
 *
 * Only the declared boot fields are planned; the declaration is first completed with
 * `resolveDeclaredBoot` (a PV VM left with an empty bootloader and an empty kernel gets
 * `PV_bootloader: "pygrub"`), so every caller gets the seed's rule against the VM's real fields.
 *
 * @returns `{ ok: true, plan }` with setter steps first, then the fewest lifecycle calls; or
 *   `{ ok: false, failure }` with `code` `TARGET_NOT_DECLARABLE` (e.g. Crashed), `INVALID_DECLARED_BOOT`
 *   (fields XAPI's setters cannot reach together), `INVALID_DECLARED_SIZING` (vCPUs or memory out of
 *   XAPI's order), `NEEDS_POWER_CYCLE` (a sizing change needs a cycle the policy refuses), `NO_LEGAL_PATH`
 *   or `SEARCH_LIMIT`. Never a partial plan.
 * @example
 * planTransition({ observedPowerState: "Paused", declaredPowerState: "Halted", observedBoot, policy: DEFAULT_POLICY })
 * // → VM.unpause, VM.clean_shutdown
 */
export function planTransition(input: PlanInput): PlanResult {
  const target = input.declaredPowerState;
  if (!isDeclarable(target)) {
    return fail(
      "TARGET_NOT_DECLARABLE",
      invalid(
        "Invalid target power state",
        `one of ${DECLARABLE_POWER_STATES.map((s) => `"${s}"`).join(", ")}`,
        target,
        target === PowerState.Crashed ? "Crashed can be observed but not declared." : undefined,
      ),
    );
  }
  const declaredBoot =
    input.declaredBoot === undefined
      ? undefined
      : resolveDeclaredBoot(input.declaredBoot, input.observedBoot);
  const fields = planSetters(
    input.observedPowerState,
    input.observedBoot,
    declaredBoot,
    input.canSetDomainType !== false,
  );
  if (!fields.ok) return fields;
  const disks = planBootableDisks(
    input.observedPowerState,
    declaredBoot?.bootableUserdevices,
    input.observedDisks,
  );
  if (!disks.ok) return disks;
  const sized = sizingOf(input);
  if (sized !== undefined && !sized.ok) return sized;
  // A bootable-flag change is a boot-config change like any field (it is read at the next build).
  return planSteps(input, target, [...fields.steps, ...disks.steps], sized?.context);
}

/**
 * The plan once the setters are known: the search for the lifecycle calls (with the sizing writes as
 * free moves), the power-cycle rule, the sizing writes placed along the path.
 */
function planSteps(
  input: PlanInput,
  target: DeclarablePowerState,
  setters: readonly PlanStep[],
  sizing: SizingContext | undefined,
): PlanResult {
  const bootChanged = setters.length > 0;
  const live = input.observedPowerState !== PowerState.Halted;
  const settle: Settle =
    sizing === undefined ? NO_SIZING : (power, pending, stale) => settleSizing(sizing, power, pending, stale);
  const startNode = (ctx: SizingContext | undefined): SearchNode => ({
    power: input.observedPowerState,
    // A Halted VM has no domain: whatever it boots next reads the (new) fields.
    fresh: !live || !(bootChanged || input.liveDomainBootStale === true),
    builds: 0,
    ...settle(input.observedPowerState, ctx?.pending ?? 0, ctx?.stale ?? 0),
  });
  const start = startNode(sizing);
  const targetIsLive = target === PowerState.Running || target === PowerState.Paused;
  const goal: Goal = {
    power: target,
    mustBeFresh: targetIsLive && input.policy.bootChanges === "restart",
    exactlyOneBuild: targetIsLive && input.forceRestart === true,
  };
  const limit = input.searchLimit ?? DEFAULT_SEARCH_LIMIT;
  const found = search(start, goal, input.policy, limit, settle);
  if (!found.ok) return found;
  // Measured against the plan without the changes that may need a cycle: costing more is a cycle.
  const baseline =
    sizing === undefined || sizing.pending === withoutCycleChanges(sizing).pending
      ? undefined
      : search(startNode(withoutCycleChanges(sizing)), goal, input.policy, limit, settle);
  const cycled = sizing !== undefined && baseline?.ok === true && costsMore(found.path, baseline.path);
  if (cycled && input.policy.powerCycle !== "allow") {
    return { ok: false, failure: powerCycleFailure(sizing, input.observedPowerState, target) };
  }

  const explained = explainPath(start, found.path, goal, bootChanged, settle);
  const lifecycle = cycled ? explainCycle(explained, sizing, target) : explained;
  const end = found.end;
  const plan: Plan = {
    steps: [...setters, ...interleave(lifecycle, sizing, input.observedPowerState)],
    lifecycleCalls: lifecycle.length,
    bootChangePending: end.power !== PowerState.Halted && !end.fresh,
    ...(sizing === undefined ? {} : { sizingPending: end.power !== PowerState.Halted && end.stale !== 0 }),
  };
  return { ok: true, plan };
}

/**
 * The plan as human lines, one per step, numbered from 1:
 * `1. VM.clean_reboot (Running → Running): clean reboot so the domain runs the declared boot config`.
 * Used by `xapi-plan` and by the provider to show the plan in `pulumi preview`.
 */
export function describePlan(plan: Plan): string[] {
  return plan.steps.map(
    (s, i) => `${i + 1}. ${formatCall(s.call, s.args)} (${s.from} → ${s.to}): ${s.reason}`,
  );
}

//////////////////////////////
////   helpers            ////
//////////////////////////////

/**
 * The sizing context of the input, `undefined` when sizing is not managed (or the VM's fields were not
 * read), or the `INVALID_DECLARED_SIZING` / `NO_LEGAL_PATH` failure.
 */
function sizingOf(input: PlanInput): ReturnType<typeof sizingContext> | undefined {
  const observed: SizingFields | undefined = input.observedSizing;
  if (observed === undefined) return undefined;
  if (input.declaredSizing === undefined && input.liveDomainSizingStale !== true) return undefined;
  const target =
    input.declaredSizing === undefined ? observed : resolveSizing(input.declaredSizing, observed);
  const problem = validateSizing(target, input.declaredSizing);
  if (problem !== undefined) return fail("INVALID_DECLARED_SIZING", problem);
  return sizingContext(input, observed, target);
}

/** The lifecycle steps with the sizing writes placed before the step that leaves their node. */
function interleave(
  lifecycle: readonly PlanStep[],
  sizing: SizingContext | undefined,
  observed: PowerState,
): PlanStep[] {
  if (sizing === undefined) return [...lifecycle];
  const powers = [observed, ...lifecycle.map((s) => s.to)];
  const buildAfter = powers.map((_, i) => lifecycle.slice(i).some((s) => rebuildsDomain(s.call)));
  const writes = placeSizingWrites(sizing, powers, buildAfter);
  return powers.flatMap((_, i) => [
    ...(writes.get(i) ?? []),
    ...(lifecycle[i] === undefined ? [] : [lifecycle[i]]),
  ]);
}

function isDeclarable(s: PowerState): s is DeclarablePowerState {
  return (DECLARABLE_POWER_STATES as readonly string[]).includes(s);
}
