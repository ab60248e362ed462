/**
 * The plan shown in `pulumi preview`.
 *
 * Where it comes from:
 * - **From the pool** whenever the provider can read it: `check` runs the operation `pulumi up` will run
 *   (`createVm`, `updateVm`, and for a replacement `deleteVm` of the old VM: `create.ts`, `update.ts`,
 *   `delete.ts`) through a {@link DryRunConnection} over a batched {@link PoolSnapshot}: the same code, the
 *   same planner and the same live records, with the writes recorded instead of sent. Reads only; a preview
 *   of N VMs costs a handful of calls (`snapshot.ts`). Mistakes the pool reveals (an unknown template, a
 *   missing uuid, a wrong password) fail the preview with the message `up` would give.
 * - **From the recorded inputs** when it cannot (no credentials, as in a fork's CI; the pool unreachable;
 *   a VM the preview cannot identify): the previous inputs are taken as the VM's state
 *   (`recorded-plan.ts`), and the first line says so, with the reason.
 * - **Deferred** while a property the plan depends on is unknown (an output of another resource).
 *
 * How it reaches the screen (why there is no perpetual diff):
 * - `check` adds the lines as the synthetic input `plannedCalls`, **only in a preview** (the `Vm` class
 *   passes `pulumi.runtime.isDryRun()` in the internal input `__xapiPreview`) and only when there is
 *   something to do. The engine renders a preview by diffing the old inputs with the new ones, so the
 *   lines appear as an added property: `+ plannedCalls: ["1. VM.clean_reboot (Running → Running): …"]`.
 *   The same steps as data go in the internal input `__xapiPlan` (`plan-data.ts`), which the human diff
 *   does not render (internal keys, `resource.IsInternalPropertyKey`) but `pulumi preview --json` carries.
 * - During the real update the keys are absent, so the stored inputs never hold them: the next preview
 *   diffs against inputs without them. `diff` ignores them when deciding update vs replace, and reports
 *   an update whenever the live plan makes a call (`live-diff.ts`), so a plain `pulumi up` does what the
 *   preview showed.
 *
 * What the engine does not let a provider show: a resource removed from the program is deleted without
 * any `check` or `diff` call (the engine's step generator emits the delete step itself), so its preview
 * line is the engine's `- pulumi-nodejs:dynamic/xapi:Vm: (delete)`; README.md "What `pulumi preview`
 * shows" tells what `delete` then does.
 */
import type { XapiConnection } from "../client";
import { ExecutionError } from "../executor";
import type { ConnectionSource } from "./connection";
import { createVm } from "./create";
import { deleteVm } from "./delete";
import { DryRunConnection } from "./dry-run";
import { ProviderError, ProviderErrorCode, VmOperationError } from "./errors";
import { callsOf, describeStep, type PlannedStep, type PreviewOutcome, plannedStep } from "./plan-data";
import { poolThrough, Unreachable } from "./pool-identity";
import { type Bag, validated } from "./property-bag";
import {
  deferredInputs,
  type PlannedInputs,
  plannedCalls,
  readOldDeclaration,
  sameIdentity,
} from "./recorded-plan";
import { ownVm } from "./recorded-vm";
import { declaredSizingOf, failingSizingProperty } from "./sizing";
import { type PoolSnapshot, renewSnapshot, snapshotAbout, snapshotFor } from "./snapshot";
import { InternalKey, type VmCallRecord, type VmDeclared } from "./types";
import { updateVm } from "./update";

export type { PlanData, PlannedStep, PreviewOutcome } from "./plan-data";
export { type PlannedInputs, plannedCalls } from "./recorded-plan";

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
  if (deferredInputs(unknowns).length > 0) {
    return { lines: plannedCalls(olds, value, unknowns), data: { source: "deferred", steps: [] } };
  }
  const fallback = (reason: string) => fromRecordedInputs(plannedCalls(olds, value, unknowns), reason);
  const conn = connection();
  if (conn instanceof ProviderError) return fallback(conn.message);
  const snapshot = snapshotFor(conn, [inputs[InternalKey.urn], value.uuid, olds.uuid, olds[InternalKey.vm]]);
  const pool = await poolThrough(snapshot, conn);
  if (pool instanceof Unreachable) return fallback(pool.reason);
  const old = readOldDeclaration(olds);
  const view =
    old === undefined ? { current: snapshot, own: undefined } : await viewOf(conn, snapshot, olds, inputs);
  const updates =
    old !== undefined &&
    (sameIdentity(old, value) || (value.uuid !== undefined && view.own?.uuid === value.uuid));
  if (updates && view.own === undefined) {
    return fallback(
      "the VM of this resource was not found in the pool by its uuid or its owner tag (run `pulumi refresh` to record its uuid)",
    );
  }
  const run = await dryRun(view, olds, inputs, old, updates);
  if (run instanceof ProviderError || run instanceof SizingFailure) {
    return { lines: [], data: { source: "pool", pool, steps: [] }, failures: [failureOf(run)] };
  }
  const steps = run.parts.flatMap(({ vm, calls }) =>
    calls
      .filter((c) => c.skipped === undefined)
      .map((c) => plannedStep(vm, c, vm === "replaced" ? "Halted" : value.powerState)),
  );
  const replaced = view.own === undefined ? "" : `replaced VM ${view.own.uuid}: `;
  const lines = [
    ...steps.map((s, i) => `${i + 1}. ${s.vm === "replaced" ? replaced : ""}${describeStep(s)}`),
    ...run.notes,
  ];
  return { lines, data: { source: "pool", pool, steps } };
}

/** The fallback outcome: the lines planned from the recorded inputs, the first saying why. */
function fromRecordedInputs(lines: string[], reason: string): PreviewOutcome {
  const data = { source: "recorded-inputs", reason, steps: [] } as const;
  if (lines.length === 0) return { lines, data };
  return { lines: [`(planned from the recorded inputs, not from the pool: ${reason})`, ...lines], data };
}

/** The pool as the dry run sees it, and the VM the previous inputs stand for. */
interface PoolView {
  readonly current: PoolSnapshot;
  readonly own: { uuid: string } | undefined;
}

/** The resource's VM, and a snapshot fresh for it: the shared one may predate a write of this process (`snapshot.ts`). */
async function viewOf(
  conn: XapiConnection,
  snapshot: PoolSnapshot,
  olds: Bag,
  inputs: Bag,
): Promise<PoolView> {
  const own = await ownVm(snapshot, olds, inputs);
  const fresh =
    own === undefined
      ? snapshot.stale.size > 0
        ? renewSnapshot(conn)
        : snapshot
      : await snapshotAbout(conn, own.uuid);
  if (fresh === snapshot) return { current: snapshot, own };
  return { current: fresh, own: await ownVm(fresh, olds, inputs) };
}

/** The calls of the dry run, per VM, and notes after them. */
interface DryRun {
  readonly parts: { vm: PlannedStep["vm"]; calls: readonly VmCallRecord[] }[];
  readonly notes: string[];
}

/**
 * Runs the update (`updates`), or the create and the replaced VM's delete, against the pool view; a
 * mistake the pool reveals comes back as the {@link ProviderError} to report on its property, a failure
 * of the operation itself as the calls made before it and a note.
 */
async function dryRun(
  view: PoolView,
  olds: Bag,
  inputs: Bag,
  old: VmDeclared | undefined,
  updates: boolean,
): Promise<DryRun | ProviderError | SizingFailure> {
  const { current, own } = view;
  const run: DryRun = { parts: [], notes: [] };
  try {
    if (updates && own !== undefined) {
      const outs = await updateVm(new DryRunConnection(current), own.uuid, olds, inputs);
      run.parts.push({ vm: "existing", calls: callsOf(outs) });
      return run;
    }
    const created = await createVm(new DryRunConnection(current), inputs);
    run.parts.push({ vm: "new", calls: callsOf(created.outs) });
    if (old === undefined) return run;
    if (own === undefined) {
      run.notes.push("the replaced VM was not found in the pool: nothing to shut down or destroy");
      return run;
    }
    const oldProps = { ...olds, adopted: old.uuid !== undefined };
    run.parts.push({
      vm: "replaced",
      calls: await deleteVm(new DryRunConnection(current), own.uuid, oldProps),
    });
    return run;
  } catch (error) {
    if (error instanceof ProviderError && FAILING_PROPERTY[error.code] !== undefined) return error;
    if (!(error instanceof VmOperationError)) throw error;
    const sizing = sizingFailure(error, inputs);
    if (sizing !== undefined) return sizing;
    run.parts.push({ vm: old === undefined ? "new" : "existing", calls: callsOf(error.properties) });
    run.notes.push(`then fails: ${error.message}`);
    return run;
  }
}

/** The property a pool-dependent mistake is reported on, by error code. */
const FAILING_PROPERTY: Partial<Record<ProviderErrorCode, string>> = {
  [ProviderErrorCode.TEMPLATE_NOT_FOUND]: "template",
  [ProviderErrorCode.TEMPLATE_AMBIGUOUS]: "template",
  [ProviderErrorCode.VM_NOT_FOUND]: "uuid",
  [ProviderErrorCode.OWNED_ELSEWHERE]: "uuid",
};

function failureOf(error: ProviderError | SizingFailure): { property: string; reason: string } {
  if (error instanceof SizingFailure) return { property: error.property, reason: error.message };
  return { property: FAILING_PROPERTY[error.code] ?? "uuid", reason: error.message };
}

/** A vCPU / memory declaration the planner refused: reported on its property, as `up` would refuse it. */
class SizingFailure extends Error {
  constructor(
    readonly property: string,
    message: string,
  ) {
    super(message);
  }
}

/** The planner codes that refuse a declaration itself: the preview fails on the property instead of planning. */
const SIZING_PLAN_FAILURES: ReadonlySet<string> = new Set(["NEEDS_POWER_CYCLE", "INVALID_DECLARED_SIZING"]);

/** `error` as a {@link SizingFailure} when the planner refused the declared sizing; else `undefined`. */
function sizingFailure(error: VmOperationError, inputs: Bag): SizingFailure | undefined {
  const cause = error.cause;
  if (!(cause instanceof ExecutionError) || !SIZING_PLAN_FAILURES.has(cause.code)) return undefined;
  let declared: ReturnType<typeof declaredSizingOf>;
  try {
    declared = declaredSizingOf(validated(inputs));
  } catch {
    declared = undefined; // an unknown input: the block is named instead of the property
  }
  const observed = {
    vcpus: error.properties.observedVcpus,
    memory: error.properties.observedMemory,
  } as Parameters<typeof failingSizingProperty>[1];
  return new SizingFailure(failingSizingProperty(declared, observed), cause.message);
}
