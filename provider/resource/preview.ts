/**
 * The plan shown in `pulumi preview`.
 *
 * Where it comes from:
 * - **From the pool** whenever the provider can read it: `check` runs the operation `pulumi up` will run
 *   (`createVm`, `updateVm`, and for a replacement `deleteVm` of the old VM; `operations.ts`) through a
 *   {@link DryRunConnection} over a batched {@link PoolSnapshot}: the same code, the same planner and the
 *   same live records, with the writes recorded instead of sent. Reads only; a preview of N VMs costs a
 *   handful of calls (`snapshot.ts`). Mistakes the pool reveals (an unknown template, a missing uuid, a
 *   wrong password) fail the preview with the message `up` would give.
 * - **From the recorded inputs** when it cannot (no credentials, as in a fork's CI; the pool unreachable;
 *   a VM the preview cannot identify): the previous inputs are taken as the VM's state, as before this
 *   provider read pools in previews, and the first line says so, with the reason.
 * - **Deferred** while a property the plan depends on is unknown (an output of another resource).
 *
 * How it reaches the screen (why there is no perpetual diff):
 * - `check` adds the lines as the synthetic input `plannedCalls`, **only in a preview** (the `Vm` class
 *   passes `pulumi.runtime.isDryRun()` in the internal input `__xapiPreview`) and only when there is
 *   something to do. The engine renders a preview by diffing the old inputs with the new ones, so the
 *   lines appear as an added property: `+ plannedCalls: ["1. VM.clean_reboot (Running → Running): …"]`.
 *   The same steps as data go in the internal input `__xapiPlan`, which the human diff does not render
 *   (internal keys, `resource.IsInternalPropertyKey`) but `pulumi preview --json` carries.
 * - During the real update the keys are absent, so the stored inputs never hold them: the next preview
 *   diffs against inputs without them. `diff` ignores them when deciding update vs replace, and reports
 *   an update whenever the live plan makes a call, so a plain `pulumi up` does what the preview showed.
 *
 * What the engine does not let a provider show: a resource removed from the program is deleted without
 * any `check` or `diff` call (the engine's step generator emits the delete step itself), so its preview
 * line is the engine's `- pulumi-nodejs:dynamic/xapi:Vm: (delete)`; README "What `pulumi preview`
 * shows" tells what `delete` then does.
 */
import { isTransientTransportError, type XapiConnection, XapiError, XapiTransportError } from "../client";
import { validateVmInputs } from "../inputs";
import type { ObservedDisk } from "../model/boot";
import { formatCall } from "../model/lifecycle";
import type { Policy } from "../model/plan";
import { type DeclarablePowerState, PowerState } from "../model/vocabulary";
import { describePlan, planTransition } from "../planner";
import { assumedBootFields, type BootDeclaration, declaredBootWithDisks, UNKNOWN_BOOT } from "./boot";
import { explainLoginFailure, explainTlsFailure } from "./config";
import { DryRunConnection } from "./dry-run";
import { ProviderError, ProviderErrorCode, VmOperationError } from "./errors";
import {
  assertSamePool,
  type Bag,
  createVm,
  deleteVm,
  flagsOf,
  NOT_USER_INPUT,
  updateVm,
} from "./operations";
import { type PoolSnapshot, renewSnapshot, snapshotAbout, snapshotFor, snapshotOf } from "./snapshot";
import { InternalKey, type VmCallRecord, type VmDeclared } from "./types";

/** What `check` knows about the new inputs. */
export interface PlannedInputs extends BootDeclaration {
  readonly template?: string | undefined;
  readonly uuid?: string | undefined;
  readonly nameLabel?: string | undefined;
  readonly nameDescription?: string | undefined;
  readonly powerState: DeclarablePowerState;
  readonly bootableDisks?: readonly string[] | undefined;
  readonly policy: Policy;
  readonly restartTrigger?: string | undefined;
  readonly deleteAdopted?: boolean | undefined;
}

/** The top-level inputs the plan depends on; if one is unknown the plan is deferred to apply time. */
const PLAN_INPUTS = [
  "template",
  "uuid",
  "powerState",
  "pv",
  "hvm",
  "bootableDisks",
  "policy",
  "restartTrigger",
] as const;

/**
 * The calls a create or update would make, as numbered human lines, or `[]` when nothing would be
 * called. `olds` are the previous inputs (`{}` for a new resource); `unknowns` are the dot paths
 * still unknown in this preview.
 */
export function plannedCalls(
  olds: Readonly<Record<string, unknown>>,
  news: PlannedInputs,
  unknowns: readonly string[],
): string[] {
  const pending = PLAN_INPUTS.filter((key) => unknowns.some((u) => u === key || u.startsWith(`${key}.`)));
  if (pending.length > 0) {
    return [
      `(the calls depend on ${pending.join(", ")}, known only during the update; they are planned then)`,
    ];
  }
  const old = readOldDeclaration(olds);
  const identityChanged =
    old === undefined ||
    (news.uuid !== undefined
      ? old.uuid !== news.uuid
      : old.uuid !== undefined || old.template !== news.template);
  const lines = identityChanged ? createLines(news, old) : updateLines(old, news);
  return lines.map((line, i) => `${i + 1}. ${line}`);
}

/** The lines of a create (and, for a replacement, the release or destruction of the old VM). */
function createLines(news: PlannedInputs, old: VmDeclared | undefined): string[] {
  const lines: string[] = [];
  if (news.uuid !== undefined) {
    lines.push(
      `adopt VM ${news.uuid}: the lifecycle calls to ${news.powerState} are planned from its live state during the update`,
    );
    if (news.nameLabel !== undefined)
      lines.push(`VM.set_name_label(value: ${JSON.stringify(news.nameLabel)}) if it differs`);
  } else {
    lines.push(
      `VM.clone(template: ${JSON.stringify(news.template)}, new_name: ${JSON.stringify(news.nameLabel ?? "")}) (→ Halted): copy the template`,
      "VM.provision (Halted → Halted): create the disks the template describes",
      "VM.set_is_a_template(value: false) (Halted → Halted): turn the copy into a VM",
    );
    if (news.nameDescription !== undefined && news.nameDescription !== "") {
      lines.push(`VM.set_name_description(value: ${JSON.stringify(news.nameDescription)}) (Halted → Halted)`);
    }
    const plan = planTransition({
      observedPowerState: PowerState.Halted,
      observedBoot: UNKNOWN_BOOT,
      declaredPowerState: news.powerState,
      declaredBoot: declaredBootWithDisks(news),
      policy: news.policy,
    });
    if (plan.ok) lines.push(...stripNumbers(describePlan(plan.plan)).map(markSetterConditional));
    else lines.push(`no legal plan from Halted: ${plan.failure.reason}`);
  }
  if (old !== undefined) lines.push(...releaseLines(old, news));
  return lines;
}

/** What happens to the VM a replacement leaves behind (after the new one exists). */
function releaseLines(old: VmDeclared, news: PlannedInputs): string[] {
  const what =
    old.uuid !== undefined ? `VM ${old.uuid}` : `the VM cloned from ${JSON.stringify(old.template)}`;
  if (old.uuid !== undefined && old.deleteAdopted !== true)
    return [`release ${what} (replaced; no call, the VM is kept)`];
  // The previous inputs of a created VM do not hold its uuid: it may be the VM adopted now (diff,
  // which sees the uuid, then makes this an in-place adoption, not a replacement).
  const unlessSame =
    old.uuid === undefined && news.uuid !== undefined
      ? ` (unless VM ${news.uuid} is that VM: then it is adopted in place and kept)`
      : "";
  return [`replace: then shut down ${what} per its policy and VM.destroy it${unlessSame}`];
}

/** The lines of an update: name setters, then the lifecycle plan from the previous declaration. */
function updateLines(old: VmDeclared, news: PlannedInputs): string[] {
  const lines: string[] = [];
  if (news.nameLabel !== undefined && news.nameLabel !== old.nameLabel) {
    lines.push(`VM.set_name_label(value: ${JSON.stringify(news.nameLabel)})`);
  }
  if (news.nameDescription !== undefined && news.nameDescription !== old.nameDescription) {
    lines.push(`VM.set_name_description(value: ${JSON.stringify(news.nameDescription)})`);
  }
  const observed = old.powerState as PowerState | undefined;
  if (observed === undefined || !Object.values(PowerState).includes(observed)) return lines;
  const plan = planTransition({
    observedPowerState: observed,
    observedBoot: assumedBootFields(old),
    declaredPowerState: news.powerState,
    declaredBoot: declaredBootWithDisks(news),
    observedDisks: assumedDisks(old.bootableDisks, news.bootableDisks),
    forceRestart: news.restartTrigger !== undefined && news.restartTrigger !== old.restartTrigger,
    policy: news.policy,
  });
  if (plan.ok) lines.push(...stripNumbers(describePlan(plan.plan)));
  else lines.push(`no legal plan from ${observed}: ${plan.failure.reason}`);
  return lines;
}

/** The previous inputs, read leniently (they may come from `read`, e.g. powerState "Crashed"). */
function readOldDeclaration(olds: Readonly<Record<string, unknown>>): VmDeclared | undefined {
  const template = typeof olds.template === "string" ? olds.template : undefined;
  const uuid = typeof olds.uuid === "string" ? olds.uuid : undefined;
  if (template === undefined && uuid === undefined) return undefined;
  const text = (key: string) => (typeof olds[key] === "string" ? (olds[key] as string) : undefined);
  const object = (key: string) =>
    typeof olds[key] === "object" && olds[key] !== null ? (olds[key] as never) : undefined;
  const declared: Record<string, unknown> = {
    template,
    uuid,
    nameLabel: text("nameLabel"),
    nameDescription: text("nameDescription"),
    powerState: text("powerState"),
    pv: object("pv"),
    hvm: object("hvm"),
    bootableDisks: Array.isArray(olds.bootableDisks)
      ? olds.bootableDisks.filter((d): d is string => typeof d === "string")
      : undefined,
    restartTrigger: text("restartTrigger"),
    deleteAdopted: olds.deleteAdopted === true,
  };
  return declared as VmDeclared;
}

function stripNumbers(lines: readonly string[]): string[] {
  return lines.map((line) => line.replace(/^\d+\.\s*/, ""));
}

/**
 * The disks an update preview assumes: the previous declaration achieved (its disks bootable, the
 * newly declared ones not). `undefined` when bootable disks are not declared now, or were not before
 * (then the VM's other disks are unknown until apply).
 */
function assumedDisks(
  old: readonly string[] | undefined,
  news: readonly string[] | undefined,
): ObservedDisk[] | undefined {
  if (news === undefined || old === undefined) return undefined;
  const all = [...new Set([...old, ...news])];
  return all.map((userdevice) => ({ userdevice, bootable: old.includes(userdevice) }));
}

// On a fresh clone the template's own boot fields are not known before apply: a setter may be skipped.
function markSetterConditional(line: string): string {
  if (!line.startsWith("VM.set_") && !line.startsWith("VBD.set_")) return line;
  const at = line.indexOf("): ");
  return at < 0 ? line : `${line.slice(0, at + 1)}: unless the template already has this value`;
}

//////////////////////////////
////   from the pool      ////
//////////////////////////////

/** One planned call as data (`__xapiPlan.steps[]`). */
export interface PlannedStep {
  /** Which VM the call is for: the resource's VM, a new one (create), or the VM a replacement deletes. */
  readonly vm: "existing" | "new" | "replaced";
  readonly call: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly reason?: string | undefined;
  /** A hard lifecycle call (the guest is not asked). */
  readonly hard: boolean;
  /** The call loses guest state (running memory or a suspend image). */
  readonly destructive: boolean;
  /** The call brings the VM to Running although Running is not where it is going. */
  readonly passesThroughRunning: boolean;
}

/** `__xapiPlan`: where the plan comes from, and its steps. */
export interface PlanData {
  /** "pool": planned from the live records; "recorded-inputs": the fallback; "deferred": unknown inputs. */
  readonly source: "pool" | "recorded-inputs" | "deferred";
  /** The pool's uuid, when planned from it. */
  readonly pool?: string | undefined;
  /** Why the plan is not from the pool. */
  readonly reason?: string | undefined;
  readonly steps: readonly PlannedStep[];
}

/** What `check` adds in a preview, or the failures that stop it. */
export interface PreviewOutcome {
  readonly lines: readonly string[];
  readonly data: PlanData;
  readonly failures?: readonly { property: string; reason: string }[] | undefined;
}

/** The connection, or why there is none. */
export type ConnectionSource = () => XapiConnection | ProviderError;

/**
 * The plan of a create or update (and of the replaced VM's deletion) for `check` in a preview; see the
 * module comment for the three sources.
 * @param olds the previous inputs (`{}` for a new resource)
 * @param inputs the checked inputs (internal keys included)
 * @param value the validated, normalized inputs
 */
export async function previewPlan(
  connection: ConnectionSource,
  olds: Bag,
  inputs: Bag,
  value: PlannedInputs,
  unknowns: readonly string[],
): Promise<PreviewOutcome> {
  const deferred = PLAN_INPUTS.filter((key) => unknowns.some((u) => u === key || u.startsWith(`${key}.`)));
  if (deferred.length > 0) {
    return { lines: plannedCalls(olds, value, unknowns), data: { source: "deferred", steps: [] } };
  }
  const fallback = (reason: string): PreviewOutcome => {
    const lines = plannedCalls(olds, value, unknowns);
    if (lines.length === 0) return { lines, data: { source: "recorded-inputs", reason, steps: [] } };
    return {
      lines: [`(planned from the recorded inputs, not from the pool: ${reason})`, ...lines],
      data: { source: "recorded-inputs", reason, steps: [] },
    };
  };
  const conn = connection();
  if (conn instanceof ProviderError) return fallback(conn.message);
  const snapshot = snapshotFor(conn, [inputs[InternalKey.urn], value.uuid, olds.uuid, olds[InternalKey.vm]]);
  let pool: string;
  try {
    pool = (await snapshot.pool()).uuid;
  } catch (error) {
    if (isUnreachable(error))
      return fallback(`the pool at ${conn.url} cannot be reached (${codeText(error)})`);
    throw await explainTlsFailure(explainLoginFailure(error, conn), conn.url);
  }

  const old = readOldDeclaration(olds);
  let own = old === undefined ? undefined : await ownVm(snapshot, olds, inputs);
  let current = snapshot;
  if (old !== undefined) {
    // The VM's record in the shared snapshot may predate a write of this process (snapshot.ts).
    const fresh =
      own === undefined
        ? snapshot.stale.size > 0
          ? renewSnapshot(conn)
          : snapshot
        : await snapshotAbout(conn, own.uuid);
    if (fresh !== snapshot) {
      current = fresh;
      own = await ownVm(current, olds, inputs);
    }
  }
  const parts: { vm: PlannedStep["vm"]; calls: readonly VmCallRecord[] }[] = [];
  const notes: string[] = [];
  try {
    const sameIdentity =
      old !== undefined &&
      (value.uuid !== undefined
        ? old.uuid === value.uuid
        : old.uuid === undefined && old.template === value.template);
    if (old !== undefined && (sameIdentity || (value.uuid !== undefined && own?.uuid === value.uuid))) {
      if (own === undefined) {
        return fallback(
          "the VM of this resource was not found in the pool by its uuid or its owner tag (run `pulumi refresh` to record its uuid)",
        );
      }
      const outs = await updateVm(new DryRunConnection(current), own.uuid, olds, inputs);
      parts.push({ vm: "existing", calls: callsOf(outs) });
    } else {
      const created = await createVm(new DryRunConnection(current), inputs);
      parts.push({ vm: "new", calls: callsOf(created.outs) });
      if (old !== undefined) {
        if (own === undefined)
          notes.push("the replaced VM was not found in the pool: nothing to shut down or destroy");
        else {
          const oldProps = { ...olds, adopted: old.uuid !== undefined };
          parts.push({
            vm: "replaced",
            calls: await deleteVm(new DryRunConnection(current), own.uuid, oldProps),
          });
        }
      }
    }
  } catch (error) {
    if (error instanceof ProviderError) {
      const property = FAILING_PROPERTY[error.code];
      if (property !== undefined)
        return {
          lines: [],
          data: { source: "pool", pool, steps: [] },
          failures: [{ property, reason: error.message }],
        };
      throw error;
    }
    if (error instanceof VmOperationError) {
      parts.push({ vm: old === undefined ? "new" : "existing", calls: callsOf(error.properties) });
      notes.push(`then fails: ${error.message}`);
    } else throw error;
  }
  const steps = parts.flatMap(({ vm, calls }) =>
    calls
      .filter((c) => c.skipped === undefined)
      .map((c) => plannedStep(vm, c, vm === "replaced" ? "Halted" : value.powerState)),
  );
  const lines = [
    ...steps.map(
      (s, i) =>
        `${i + 1}. ${s.vm === "replaced" && own !== undefined ? `replaced VM ${own.uuid}: ` : ""}${describeStep(s)}`,
    ),
    ...notes,
  ];
  return { lines, data: { source: "pool", pool, steps } };
}

/**
 * `diff`'s answer to "would the update make a call?" from the VM's live state (drift, a pending boot
 * change now due), through the same dry run as the preview. `fallback` decides when the pool cannot be
 * read or the inputs are not all known.
 * @throws ProviderError POOL_MISMATCH, VM_NOT_FOUND; a login failure
 */
export async function liveDiff(
  connection: ConnectionSource,
  id: string,
  olds: Bag,
  news: Bag,
  fallback: () => boolean,
): Promise<boolean> {
  const validation = validateVmInputs(news, { ignoreKeys: NOT_USER_INPUT });
  if (!validation.ok || validation.unknowns.length > 0) return fallback();
  const conn = connection();
  if (conn instanceof ProviderError) return fallback();
  const snapshot = snapshotOf(conn);
  let pool: string;
  try {
    pool = (await snapshot.pool()).uuid;
  } catch (error) {
    if (isUnreachable(error)) return fallback();
    throw await explainTlsFailure(explainLoginFailure(error, conn), conn.url);
  }
  assertSamePool(conn, olds, pool, id);
  const current = await snapshotAbout(conn, id);
  const outs = await updateVm(new DryRunConnection(current), id, olds, news);
  return callsOf(outs).some((c) => c.skipped === undefined);
}

/**
 * The previous inputs of each resource whose `check` saw its identity change (a replacement), by URN.
 * On a replacement the engine calls `check` a second time, without the olds, and shows THAT result
 * (pulumi pkg/v3 resource/deploy/step_generator.go: "If we are going to perform a replacement, we need
 * to recompute the default values"); the second call plans from the olds kept here, so the preview still
 * lists the replaced VM's calls.
 */
const replacedOlds = new Map<string, Bag>();

export function replacementOlds(olds: Bag, inputs: Bag, value: PlannedInputs): Bag {
  const urn = inputs[InternalKey.urn];
  if (typeof urn !== "string") return olds;
  // No previous declaration (the host may still pass its own `__provider`): the engine's second check.
  if (readOldDeclaration(olds) === undefined) {
    const kept = replacedOlds.get(urn);
    replacedOlds.delete(urn);
    return kept ?? olds;
  }
  const old = readOldDeclaration(olds);
  const identityChanged =
    old !== undefined &&
    (value.uuid !== undefined
      ? old.uuid !== value.uuid
      : old.uuid !== undefined || old.template !== value.template);
  if (identityChanged) replacedOlds.set(urn, olds);
  else replacedOlds.delete(urn);
  return olds;
}

/**
 * What `create` must know to take a VM a stopped create left behind (operations.ts `findLeftover`): the
 * VM the previous inputs stand for (never a leftover: it is recorded, or a replacement is about to delete
 * it), and whether the pool could be read to say so. Sets `__xapiVm` (same identity), `__xapiReplaces`
 * (identity changed) and `__xapiLeftovers: "named"` (the pool was read: a finished VM with this resource's
 * name and tag that is neither of these is a leftover). Reads only, through the shared snapshot.
 */
export async function markRecordedVm(
  connection: ConnectionSource,
  olds: Bag,
  inputs: Bag,
  value: PlannedInputs,
): Promise<void> {
  const conn = connection();
  if (conn instanceof ProviderError) return;
  let own: { uuid: string } | undefined;
  try {
    const snapshot = snapshotFor(conn, [inputs[InternalKey.urn], olds.uuid, olds[InternalKey.vm]]);
    await snapshot.pool();
    own = readOldDeclaration(olds) === undefined ? undefined : await ownVm(snapshot, olds, inputs);
  } catch {
    return; // unreadable now: create then takes only a VM still bearing its birth name
  }
  inputs[InternalKey.leftovers] = "named";
  if (own === undefined) return;
  const old = readOldDeclaration(olds);
  const same =
    old !== undefined &&
    (value.uuid !== undefined
      ? old.uuid === value.uuid
      : old.uuid === undefined && old.template === value.template);
  inputs[same ? InternalKey.vm : InternalKey.replaces] = own.uuid;
}

/** The property a pool-dependent mistake is reported on, by error code. */
const FAILING_PROPERTY: Partial<Record<ProviderErrorCode, string>> = {
  [ProviderErrorCode.TEMPLATE_NOT_FOUND]: "template",
  [ProviderErrorCode.TEMPLATE_AMBIGUOUS]: "template",
  [ProviderErrorCode.VM_NOT_FOUND]: "uuid",
  [ProviderErrorCode.OWNED_ELSEWHERE]: "uuid",
};

/**
 * The VM the previous inputs stand for: the adopted uuid, the uuid a refresh recorded, or the VM whose
 * owner tag names this resource's URN.
 */
async function ownVm(snapshot: PoolSnapshot, olds: Bag, inputs: Bag): Promise<{ uuid: string } | undefined> {
  for (const key of ["uuid", InternalKey.vm] as const) {
    const uuid = olds[key];
    if (typeof uuid === "string") {
      const found = await snapshot.vmByUuid(uuid);
      if (found !== undefined) return { uuid };
    }
  }
  const urn = inputs[InternalKey.urn] ?? olds[InternalKey.urn];
  if (typeof urn !== "string") return undefined;
  // Several tagged VMs (a copy keeps the tag): which one is this resource's is not known here.
  const owned = await snapshot.vmsOwnedBy(urn);
  return owned.length === 1 && owned[0] !== undefined ? { uuid: owned[0].record.uuid } : undefined;
}

function callsOf(outs: Bag): VmCallRecord[] {
  return Array.isArray(outs.lastCalls) ? (outs.lastCalls as VmCallRecord[]) : [];
}

function plannedStep(vm: PlannedStep["vm"], call: VmCallRecord, target: string): PlannedStep {
  const { hard, destructive } = flagsOf(call);
  return {
    vm,
    call: call.call,
    args: call.args ?? {},
    from: call.from,
    to: call.to,
    reason: call.reason,
    hard,
    destructive,
    passesThroughRunning:
      call.to === PowerState.Running && call.from !== call.to && target !== PowerState.Running,
  };
}

/** `VM.pause (Running → Paused): reason`, the form of `xapi-plan` and the executor's messages. */
export function describeStep(step: Pick<PlannedStep, "call" | "args" | "from" | "to" | "reason">): string {
  const states =
    step.from !== undefined && step.to !== undefined
      ? ` (${step.from} → ${step.to})`
      : step.to !== undefined
        ? ` (→ ${step.to})`
        : step.from !== undefined
          ? ` (${step.from})`
          : "";
  return `${formatCall(step.call, step.args)}${states}${step.reason === undefined ? "" : `: ${step.reason}`}`;
}

/** The pool cannot be reached at all (as opposed to refusing us, which fails the preview like `up`). */
function isUnreachable(error: unknown): boolean {
  return (
    isTransientTransportError(error) || (error instanceof XapiTransportError && error.code === "ENOTFOUND")
  );
}

function codeText(error: unknown): string {
  return error instanceof XapiTransportError || error instanceof XapiError ? error.code : String(error);
}
