/**
 * The planner: a pure function from (observed power state and boot fields, declared power state and
 * boot fields, policy) to the ordered XenAPI calls that get there. It performs no calls; the executor
 * (`provider/executor.ts`) runs what it returns.
 *
 * How a plan is built:
 * 0. **The declaration is completed against the observed fields** (`resolveDeclaredBoot`): a PV
 *    declaration whose resulting bootloader and kernel (declared, else observed) are both empty also
 *    declares `PV_bootloader: "pygrub"`, the seed's "as if PV/bootloader was specified as pygrub".
 * 1. **Setter steps first**, one per boot field whose observed value differs from the declared one
 *    (fields can be written in any power state, xapi-semantics §7.2). XAPI couples two of them:
 *    `VM.set_HVM_boot_policy` also rewrites `domain_type` and `VM.set_domain_type` also rewrites
 *    `HVM_boot_policy` (§7.3), so the policy is written first and each setter is emitted only if the
 *    field still differs after the previous ones. `HVM_boot_params` is merged: only the declared keys
 *    are managed, other keys (e.g. a template's `firmware`) are kept. Then one `VBD.set_bootable` per
 *    VBD whose bootable flag differs from `bootableUserdevices` (issue #7); such a change counts as a
 *    boot-config change like any field (a bootloader reads the flags at every build, §7.4, §7.6).
 * 2. **Lifecycle steps**: a bounded breadth-first search over the product state space
 *    (power state × "the live domain already runs the declared boot config" × domain builds so far),
 *    using only the transitions of `LIFECYCLE` that the policy allows. The plan has the fewest lifecycle
 *    calls; among equally short plans the one with the fewest destructive, then fewest hard calls wins,
 *    then the gentlest calls earliest (`CALL_PREFERENCE`), so the result is deterministic.
 *
 * Decisions this module makes (documented for users in the README by the lead):
 * - **Policy** (issue #2): `clean` / `clean-then-hard` may use start, pause, unpause, suspend, resume,
 *   clean_shutdown, clean_reboot; `hard` may use start, pause, unpause, suspend, resume, hard_shutdown and
 *   hard_reboot (from Running or Paused). `VM.shutdown` is never planned. A Crashed VM is always left
 *   with hard_shutdown.
 * - **`allowDiscardSuspendedState`** narrows `hard`, it grants nothing on its own: `VM.hard_shutdown` of a
 *   Suspended VM (it discards the saved image) needs `shutdown: "hard"` *and* the flag. `clean` and
 *   `clean-then-hard` never plan `VM.hard_shutdown` (issue #2: "never hard_shutdown"), so there, and
 *   without the flag, a Suspended VM is resumed first. A non-destructive plan of the same length is
 *   still preferred.
 * - **Boot changes, `restart`**: when the target is Running or Paused, the final domain must run the
 *   declared config, so the plan contains the cheapest domain rebuild (start, clean_reboot or
 *   hard_reboot; a resume is not one, §7.6). A **Suspended** target is not rebuilt: rebooting a guest
 *   only to suspend it again is a restart nobody asked for; the saved image keeps the old config and the
 *   change is reported pending (it applies at the first reboot after resume). A **Halted** target needs
 *   nothing: the next start reads the new fields.
 * - **Boot changes, `next-boot`**: setters only, no rebuild added; pending when the VM ends with a
 *   domain or image built from the old config.
 * - **`forceRestart`** (restartTrigger changed): when the target is Running or Paused the plan contains
 *   exactly one domain build, and the final domain is that one; a `VM.start` counts (a Halted VM that is
 *   started is freshly booted). When the target is Halted or Suspended no restart is added: there is no
 *   live domain at the end to restart, and starting a VM only to stop it again helps nobody.
 * - A declared Crashed target, or no legal path, is a typed failure, never a partial plan.
 */

import {
  type DeclaredBootFields,
  DomainType,
  type ObservedDisk,
  resolveDeclaredBoot,
  type XapiBootFields,
} from "./model/boot";
import { diskNumberOf, sameDisk } from "./model/device-number";
import { formatCall, hasFlag, type Transition, TransitionFlag, transitionsFrom } from "./model/lifecycle";
import {
  DEFAULT_POLICY,
  type Plan,
  type PlanFailure,
  type PlanInput,
  type PlanResult,
  type PlanStep,
  type Policy,
} from "./model/plan";
import {
  DECLARABLE_POWER_STATES,
  type DeclarablePowerState,
  LifecycleCall,
  PowerState,
  SetterCall,
  ShutdownMode,
} from "./model/vocabulary";

export type { Plan, PlanFailure, PlanInput, PlanResult, PlanStep, Policy };
export { DEFAULT_POLICY };

/** Default bound on the number of lifecycle calls the search explores (the longest real plan has 3). */
export const DEFAULT_SEARCH_LIMIT = 8;

/**
 * Tie-break among equally short, equally gentle plans: earlier calls in this list are preferred, and
 * `start_paused: false` before `true`. Keeping the domain (unpause, resume) comes before building one.
 */
export const CALL_PREFERENCE: readonly LifecycleCall[] = [
  LifecycleCall.unpause,
  LifecycleCall.resume,
  LifecycleCall.start,
  LifecycleCall.pause,
  LifecycleCall.suspend,
  LifecycleCall.cleanReboot,
  LifecycleCall.cleanShutdown,
  LifecycleCall.hardReboot,
  LifecycleCall.hardShutdown,
  LifecycleCall.shutdown,
];

/**
 * Whether the policy lets a plan discard a Suspended VM's memory image (`VM.hard_shutdown` from
 * Suspended): only `shutdown: "hard"` together with `allowDiscardSuspendedState`.
 */
export function mayDiscardSuspendedState(policy: Policy): boolean {
  return policy.shutdown === ShutdownMode.hard && policy.allowDiscardSuspendedState;
}

/**
 * Whether `policy` allows the planner to use transition `t` (issue #2, "Policy").
 *
 * @example isAllowedByPolicy(<Running --VM.hard_shutdown--> Halted>, DEFAULT_POLICY) === false
 */
export function isAllowedByPolicy(t: Transition, policy: Policy): boolean {
  if (!t.planned) return false;
  // Nothing else leaves Crashed, so no policy can forbid it.
  if (t.from === PowerState.Crashed) return true;
  // Discarding a suspend image is a hard shutdown: it needs the hard policy and the explicit consent.
  if (t.from === PowerState.Suspended && t.call === LifecycleCall.hardShutdown) {
    return mayDiscardSuspendedState(policy);
  }
  switch (t.call) {
    case LifecycleCall.cleanShutdown:
    case LifecycleCall.cleanReboot:
      return policy.shutdown !== ShutdownMode.hard;
    case LifecycleCall.hardShutdown:
    case LifecycleCall.hardReboot:
      return policy.shutdown === ShutdownMode.hard;
    default:
      return true;
  }
}

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
 *   (fields XAPI's setters cannot reach together), `NO_LEGAL_PATH` or `SEARCH_LIMIT`. Never a partial plan.
 * @example
 * planTransition({ observedPowerState: "Paused", declaredPowerState: "Halted", observedBoot, policy: DEFAULT_POLICY })
 * // → VM.unpause, VM.clean_shutdown
 */
export function planTransition(input: PlanInput): PlanResult {
  const target = input.declaredPowerState;
  if (!isDeclarable(target)) {
    return fail(
      "TARGET_NOT_DECLARABLE",
      `Invalid target power state: expected one of ${DECLARABLE_POWER_STATES.map((s) => `"${s}"`).join(", ")}, received ${JSON.stringify(target)}.${target === PowerState.Crashed ? " Crashed can be observed but not declared." : ""}`,
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
  // A bootable-flag change is a boot-config change like any field (it is read at the next build).
  const setters = { steps: [...fields.steps, ...disks.steps] };

  const bootChanged = setters.steps.length > 0;
  const live = input.observedPowerState !== PowerState.Halted;
  const start: SearchNode = {
    power: input.observedPowerState,
    // A Halted VM has no domain: whatever it boots next reads the (new) fields.
    fresh: !live || !(bootChanged || input.liveDomainBootStale === true),
    builds: 0,
  };
  const targetIsLive = target === PowerState.Running || target === PowerState.Paused;
  const goal: Goal = {
    power: target,
    mustBeFresh: targetIsLive && input.policy.bootChanges === "restart",
    exactlyOneBuild: targetIsLive && input.forceRestart === true,
  };
  const limit = input.searchLimit ?? DEFAULT_SEARCH_LIMIT;
  const found = search(start, goal, input.policy, limit);
  if (!found.ok) return found;

  const lifecycle = explainPath(start, found.path, goal, bootChanged);
  const end = found.end;
  const plan: Plan = {
    steps: [...setters.steps, ...lifecycle],
    lifecycleCalls: lifecycle.length,
    bootChangePending: end.power !== PowerState.Halted && !end.fresh,
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
////    setter steps      ////
//////////////////////////////

type SetterResult = { readonly ok: true; readonly steps: PlanStep[] } | { ok: false; failure: PlanFailure };

const SETTER_ORDER = [
  ["HVM_boot_policy", SetterCall.setHvmBootPolicy],
  ["domain_type", SetterCall.setDomainType],
  ["HVM_boot_params", SetterCall.setHvmBootParams],
  ["PV_bootloader", SetterCall.setPvBootloader],
  ["PV_kernel", SetterCall.setPvKernel],
  ["PV_ramdisk", SetterCall.setPvRamdisk],
  ["PV_args", SetterCall.setPvArgs],
  ["PV_bootloader_args", SetterCall.setPvBootloaderArgs],
] as const satisfies readonly (readonly [keyof XapiBootFields, SetterCall])[];

type Params = Readonly<Record<string, string>>;
type MutableBoot = { -readonly [K in keyof XapiBootFields]: XapiBootFields[K] };

function planSetters(
  power: PowerState,
  observed: XapiBootFields,
  declared: DeclaredBootFields | undefined,
  canSetDomainType: boolean,
): SetterResult {
  if (declared === undefined) return { ok: true, steps: [] };
  const invalid = checkDeclaredBoot(declared);
  if (invalid !== undefined) return fail("INVALID_DECLARED_BOOT", invalid);

  if (!canSetDomainType) {
    // XAPI before API 2.10 has no domain_type: PV vs HVM is HVM_boot_policy alone (empty ⇒ PV).
    const type = declared.domain_type;
    if (type !== undefined && type !== DomainType.pv && type !== DomainType.hvm) {
      return fail(
        "INVALID_DECLARED_BOOT",
        `Unsupported declared domain type: expected "pv" or "hvm" on this pool, received ${JSON.stringify(type)}. Its XAPI has no VM.domain_type (API before 2.10, XenServer 7.4 and older); ${type} needs XCP-ng 8 or XenServer 8.`,
      );
    }
    const order = SETTER_ORDER.filter(([field]) => field !== "domain_type");
    const only = writeFields(power, observed, declared, order);
    if (lands(only.current, observed, declared)) return { ok: true, steps: only.steps };
    return fail(
      "INVALID_DECLARED_BOOT",
      `Unreachable declared boot fields on a pool without VM.domain_type: expected ${JSON.stringify(declared.domain_type)} from HVM_boot_policy ${JSON.stringify(declared.HVM_boot_policy)}.`,
    );
  }
  const first = writeFields(power, observed, declared, SETTER_ORDER);
  if (lands(first.current, observed, declared)) return { ok: true, steps: first.steps };
  // A policy other than "BIOS order" (with domain_type hvm) must be written after set_domain_type,
  // which would overwrite it (xapi-semantics §7.3).
  const [policy, domainType, ...rest] = SETTER_ORDER;
  const second = writeFields(power, observed, declared, [domainType, policy, ...rest]);
  if (lands(second.current, observed, declared)) return { ok: true, steps: second.steps };
  // Safety net: the coupled setters must land exactly on the declaration (checkDeclaredBoot rejects
  // every known way to miss it first).
  for (const [field] of SETTER_ORDER) {
    const value = declaredValue(observed, declared, field);
    if (value !== undefined && !sameValue(first.current[field], value)) {
      return fail(
        "INVALID_DECLARED_BOOT",
        `Unreachable declared ${field}: expected ${JSON.stringify(value)} after XAPI's setters, received ${JSON.stringify(first.current[field])}. VM.set_domain_type and VM.set_HVM_boot_policy rewrite each other (xapi-semantics §7.3).`,
      );
    }
  }
  return { ok: true, steps: first.steps };
}

/** The value `field` must have after the setters (`HVM_boot_params` merged), or undefined if unmanaged. */
function declaredValue(
  observed: XapiBootFields,
  declared: DeclaredBootFields,
  field: keyof XapiBootFields,
): unknown {
  const want = declared[field];
  if (want === undefined) return undefined;
  return field === "HVM_boot_params" ? mergeParams(observed.HVM_boot_params, want as Params) : want;
}

function lands(current: XapiBootFields, observed: XapiBootFields, declared: DeclaredBootFields): boolean {
  return SETTER_ORDER.every(([field]) => {
    const value = declaredValue(observed, declared, field);
    return value === undefined || sameValue(current[field], value);
  });
}

/** One setter step per declared field that still differs, in `order`, tracking XAPI's coupling. */
function writeFields(
  power: PowerState,
  observed: XapiBootFields,
  declared: DeclaredBootFields,
  order: readonly (readonly [keyof XapiBootFields, SetterCall])[],
): { current: MutableBoot; steps: PlanStep[] } {
  const current: MutableBoot = { ...observed, HVM_boot_params: { ...observed.HVM_boot_params } };
  const steps: PlanStep[] = [];
  for (const [field, call] of order) {
    const want = declared[field];
    if (want === undefined) continue;
    const value = field === "HVM_boot_params" ? mergeParams(current.HVM_boot_params, want as Params) : want;
    if (sameValue(current[field], value)) continue;
    const before = current[field];
    applySetter(current, field, value);
    steps.push({
      kind: "set",
      call,
      args: { value },
      from: power,
      to: power,
      reason: `${field} is ${JSON.stringify(before)}, declared ${JSON.stringify(value)}`,
    });
  }
  return { current, steps };
}

/**
 * `VBD.set_bootable` steps, one per VBD whose flag differs from the declaration (declared userdevices
 * bootable, every other VBD not), in userdevice order. Without an observation (a preview before the
 * VM exists) every declared disk gets a step, value true. A declared userdevice the VM does not have
 * is an `INVALID_DECLARED_BOOT` failure.
 */
function planBootableDisks(
  power: PowerState,
  declared: readonly string[] | undefined,
  observed: readonly ObservedDisk[] | undefined,
): SetterResult {
  if (declared === undefined) return { ok: true, steps: [] };
  const step = (userdevice: string, value: boolean, reason: string): PlanStep => ({
    kind: "set",
    call: SetterCall.setVbdBootable,
    args: { userdevice, value },
    from: power,
    to: power,
    reason,
  });
  const bad = declared.find((u) => diskNumberOf(u) === undefined);
  if (bad !== undefined) {
    return fail(
      "INVALID_DECLARED_BOOT",
      `Invalid declared bootable disk: expected a userdevice such as "0" or "xvda", received ${JSON.stringify(bad)}.`,
    );
  }
  const wanted = [...new Set(declared)].sort(byUserdevice);
  if (observed === undefined) {
    return {
      ok: true,
      steps: wanted.map((u) =>
        step(u, true, `disk ${u} declared bootable (the VM's disks are read when the plan runs)`),
      ),
    };
  }
  const have = [...observed].sort((a, b) => byUserdevice(a.userdevice, b.userdevice));
  // A declared "xvda" and an observed "0" are the same disk, as XAPI reads them (device-number.ts).
  const missing = wanted.filter((u) => !have.some((d) => sameDisk(d.userdevice, u)));
  if (missing.length > 0) {
    const list = have.map((d) => JSON.stringify(d.userdevice)).join(", ");
    return fail(
      "INVALID_DECLARED_BOOT",
      `Unknown disk: expected the userdevice of one of the VM's disks (${list === "" ? "it has none" : list}), received ${missing.map((u) => JSON.stringify(u)).join(", ")}. List them with \`xe vbd-list vm-uuid=<uuid> params=userdevice,type,bootable\`.`,
    );
  }
  const steps: PlanStep[] = [];
  for (const disk of have) {
    const want = wanted.some((u) => sameDisk(disk.userdevice, u));
    if (disk.bootable === want) continue;
    steps.push(
      step(disk.userdevice, want, `VBD ${disk.userdevice} bootable is ${disk.bootable}, declared ${want}`),
    );
  }
  return { ok: true, steps };
}

/** Disk order of userdevice slots ("2" before "10", "xvdb" after "0"). */
function byUserdevice(a: string, b: string): number {
  return (diskNumberOf(a) ?? 0) - (diskNumberOf(b) ?? 0) || (a < b ? -1 : a > b ? 1 : 0);
}

function checkDeclaredBoot(d: DeclaredBootFields): string | undefined {
  if (d.domain_type === DomainType.unspecified) {
    return 'Invalid declared domain_type: expected one of "hvm", "pv", "pvh", "pv_in_pvh", received "unspecified". XAPI rejects VM.set_domain_type("unspecified").';
  }
  if (d.domain_type !== undefined && d.HVM_boot_policy !== undefined) {
    const hvm = d.domain_type === DomainType.hvm;
    if (hvm !== (d.HVM_boot_policy !== "")) {
      return `Conflicting declared boot fields: domain_type ${JSON.stringify(d.domain_type)} needs HVM_boot_policy ${hvm ? "non-empty" : '""'}, received ${JSON.stringify(d.HVM_boot_policy)}. XAPI's setters rewrite one from the other (xapi-semantics §7.3).`;
    }
  }
  return undefined;
}

// XAPI §7.3: each of these two setters also rewrites the other field.
function applySetter(b: MutableBoot, field: keyof XapiBootFields, value: unknown): void {
  if (field === "HVM_boot_policy") {
    b.HVM_boot_policy = value as string;
    b.domain_type = value === "" ? DomainType.pv : DomainType.hvm;
  } else if (field === "domain_type") {
    b.domain_type = value as DomainType;
    b.HVM_boot_policy = value === DomainType.hvm ? "BIOS order" : "";
  } else if (field === "HVM_boot_params") {
    b.HVM_boot_params = value as Record<string, string>;
  } else {
    (b as Record<string, unknown>)[field] = value;
  }
}

function mergeParams(observed: Params, declared: Params): Record<string, string> {
  return { ...observed, ...declared };
}

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return (
      ka.length === kb.length &&
      ka.every(
        (k, i) => k === kb[i] && (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k],
      )
    );
  }
  return a === b;
}

//////////////////////////////
////   lifecycle search   ////
//////////////////////////////

interface SearchNode {
  readonly power: PowerState;
  /** The live domain (or suspend image) runs the declared boot config; always true when Halted. */
  readonly fresh: boolean;
  /** Domains built during the plan, capped at 2 (enough to tell "exactly one"). */
  readonly builds: 0 | 1 | 2;
}

interface Goal {
  readonly power: DeclarablePowerState;
  readonly mustBeFresh: boolean;
  readonly exactlyOneBuild: boolean;
}

interface Path {
  readonly node: SearchNode;
  readonly edges: readonly Transition[];
}

type SearchResult =
  | { readonly ok: true; readonly path: readonly Transition[]; readonly end: SearchNode }
  | { readonly ok: false; readonly failure: PlanFailure };

function step(n: SearchNode, t: Transition): SearchNode {
  const builds = t.rebuildsDomain ? (Math.min(n.builds + 1, 2) as 1 | 2) : n.builds;
  return { power: t.to, fresh: t.to === PowerState.Halted || t.rebuildsDomain || n.fresh, builds };
}

function isGoal(n: SearchNode, g: Goal): boolean {
  return n.power === g.power && (!g.mustBeFresh || n.fresh) && (!g.exactlyOneBuild || n.builds === 1);
}

const keyOf = (n: SearchNode): string => `${n.power}/${n.fresh}/${n.builds}`;

// Layered BFS: every layer holds, per node, the best path of that length (see `better`). A node first
// reached at layer d is never revisited, so every kept path is a shortest one.
function search(start: SearchNode, goal: Goal, policy: Policy, limit: number): SearchResult {
  if (isGoal(start, goal)) return { ok: true, path: [], end: start };
  const seen = new Set([keyOf(start)]);
  let layer: Path[] = [{ node: start, edges: [] }];
  for (let depth = 1; depth <= limit; depth++) {
    const next = new Map<string, Path>();
    for (const p of layer) {
      for (const t of transitionsFrom(p.node.power)) {
        if (!isAllowedByPolicy(t, policy)) continue;
        const node = step(p.node, t);
        const key = keyOf(node);
        if (seen.has(key)) continue;
        const candidate = { node, edges: [...p.edges, t] };
        const kept = next.get(key);
        if (kept === undefined || better(candidate.edges, kept.edges)) next.set(key, candidate);
      }
    }
    for (const key of next.keys()) seen.add(key);
    const goals = [...next.values()].filter((p) => isGoal(p.node, goal));
    if (goals.length > 0) {
      const best = goals.reduce((a, b) => (better(b.edges, a.edges) ? b : a));
      return { ok: true, path: best.edges, end: best.node };
    }
    if (next.size === 0) {
      return fail(
        "NO_LEGAL_PATH",
        `No legal plan: no sequence of calls allowed by the policy leads from ${start.power} to ${describeGoal(goal)}. ${policyHint(policy)}`,
      );
    }
    layer = [...next.values()];
  }
  return fail(
    "SEARCH_LIMIT",
    `Search limit reached: no plan from ${start.power} to ${describeGoal(goal)} within ${limit} lifecycle calls. This is a planner bug or a too small searchLimit; report it.`,
  );
}

/** Lexicographic: fewer destructive, fewer hard, then the preferred call earliest. */
function better(a: readonly Transition[], b: readonly Transition[]): boolean {
  const cost = (p: readonly Transition[]) => [
    p.filter((t) => hasFlag(t, TransitionFlag.destructive)).length,
    p.filter((t) => hasFlag(t, TransitionFlag.hard)).length,
    ...p.map(rank),
  ];
  const ca = cost(a);
  const cb = cost(b);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const x = ca[i] ?? 0;
    const y = cb[i] ?? 0;
    if (x !== y) return x < y;
  }
  return ca.length < cb.length;
}

function rank(t: Transition): number {
  return CALL_PREFERENCE.indexOf(t.call) * 2 + (t.args.start_paused === true ? 1 : 0);
}

function describeGoal(g: Goal): string {
  const extra = [
    g.mustBeFresh ? "running the declared boot config" : "",
    g.exactlyOneBuild ? "restarted exactly once" : "",
  ].filter((s) => s !== "");
  return extra.length > 0 ? `${g.power} (${extra.join(", ")})` : g.power;
}

function policyHint(p: Policy): string {
  return `Policy: shutdown "${p.shutdown}", bootChanges "${p.bootChanges}", allowDiscardSuspendedState ${p.allowDiscardSuspendedState}.`;
}

//////////////////////////////
////   step reasons       ////
//////////////////////////////

function explainPath(
  start: SearchNode,
  path: readonly Transition[],
  goal: Goal,
  bootChanged: boolean,
): PlanStep[] {
  let node = start;
  return path.map((t, i) => {
    const before = node;
    node = step(node, t);
    const last = i === path.length - 1;
    return {
      kind: "lifecycle",
      call: t.call,
      args: { ...t.args },
      from: t.from,
      to: t.to,
      reason: reasonFor(t, before, last, goal, bootChanged),
    };
  });
}

function reasonFor(
  t: Transition,
  before: SearchNode,
  last: boolean,
  goal: Goal,
  bootChanged: boolean,
): string {
  const at = (text: string) =>
    last ? `${text} (declared ${goal.power})` : `${text}, on the way to ${goal.power}`;
  if (t.from === PowerState.Crashed) {
    return at("a Crashed VM can only be left with VM.hard_shutdown, whatever the policy");
  }
  if (t.from === PowerState.Suspended && t.call === LifecycleCall.hardShutdown) {
    return at("discard the suspended memory image, as allowDiscardSuspendedState permits");
  }
  const paused = t.args.start_paused === true ? " paused" : "";
  switch (t.call) {
    case LifecycleCall.start:
      return at(`start the VM${paused}`);
    case LifecycleCall.resume:
      return at(`resume the saved domain${paused}`);
    case LifecycleCall.unpause:
      return at("unpause the VM");
    case LifecycleCall.pause:
      return at("pause the VM");
    case LifecycleCall.suspend:
      return at("suspend the VM");
    case LifecycleCall.cleanShutdown:
      return at("shut the guest down cleanly");
    case LifecycleCall.hardShutdown:
      return at("power the VM off (hard)");
    default: {
      const purpose = rebuildPurpose(before, goal, bootChanged) ?? "to rebuild the domain";
      const text = `${hasFlag(t, TransitionFlag.hard) ? "hard" : "clean"} reboot ${purpose}`;
      // A final reboot keeps the declared state; its purpose says enough.
      return last ? text : `${text}, on the way to ${goal.power}`;
    }
  }
}

function rebuildPurpose(before: SearchNode, goal: Goal, bootChanged: boolean): string | undefined {
  const boot = !before.fresh && goal.mustBeFresh;
  const trigger = goal.exactlyOneBuild;
  if (boot && trigger) return "once for both the restartTrigger change and the declared boot config";
  if (boot)
    return !bootChanged
      ? "so the domain runs the boot config already set in an earlier run"
      : "so the domain runs the declared boot config";
  if (trigger) return "because restartTrigger changed";
  return undefined;
}

//////////////////////////////
////   helpers            ////
//////////////////////////////

function isDeclarable(s: PowerState): s is DeclarablePowerState {
  return (DECLARABLE_POWER_STATES as readonly string[]).includes(s);
}

function fail(code: PlanFailure["code"], reason: string): { ok: false; failure: PlanFailure } {
  return { ok: false, failure: { code, reason } };
}
