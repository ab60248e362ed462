/**
 * The one converge-and-report path of `create` and `update`: once the VM is found or born and its names
 * set, the executor brings it to the declaration (`provider/executor/`), the pending-boot note follows
 * (`pending-boot.ts`), and the run ends in the outputs (`outputs.ts`) or, on any failure, in a
 * {@link VmOperationError} carrying them (`failure-report.ts`).
 */
import type { XapiConnection } from "../client";
import { type ConvergeTarget, converge, type VmRecord } from "../executor";
import type { VmInputs } from "../inputs";
import { type ApiVersion, hasDomainType } from "./api-version";
import { declaredBootWithDisks } from "./boot";
import { callRecordOf, madeCalls } from "./call-record";
import { convergeOpts } from "./deadlines";
import { operationFailure } from "./failure-report";
import { outputsOf } from "./outputs";
import {
  legacyMarker,
  markerApplies,
  notePendingFirst,
  pendingAfter,
  pendingMarkerOf,
  recordPending,
} from "./pending-boot";
import { poolInfoOf } from "./pool-identity";
import { type Bag, policyOf } from "./property-bag";
import { availableSizingCallsOf, declaredSizingOf, isSizingPath } from "./sizing";
import type { Deadline } from "./timeouts";
import type { VmCallRecord } from "./types";
import { recordOf, type VmHandle } from "./vm-reads";

/** One create or update of one VM. */
export interface Run {
  readonly operation: "create" | "update";
  readonly conn: XapiConnection;
  readonly vm: VmHandle;
  readonly value: VmInputs;
  /** The operation's input bag. */
  readonly bag: Bag;
  readonly adopted: boolean;
  readonly pool: string;
  readonly api: ApiVersion;
  readonly deadline: Deadline;
  /** The calls made so far; the run appends its own. */
  readonly calls: VmCallRecord[];
  /** The VM's record as last read, once read: {@link Prepare} sets it. */
  before?: VmRecord | undefined;
}

/** What a run does before converging (tag, finish a birth, set names); it sets `run.before`. */
export type Prepare = (run: Run) => Promise<void>;

/** How the run converges and ends. */
export interface ConvergeRules {
  /** `restartTrigger` changed: restart even when nothing else asks for it. */
  readonly forceRestart: boolean;
  /** The outputs an older version recorded, read for a pending change it noted there only. */
  readonly legacyOutputs?: Bag | undefined;
  /** What the run does after converging, before the outputs are built (a create's rename). */
  readonly finish?: ((after: VmRecord) => Promise<void>) | undefined;
}

/** Prepares, converges and reports the VM: its outputs, or the {@link VmOperationError} to throw. */
export async function convergeAndReport(run: Run, prepare: Prepare, rules: ConvergeRules): Promise<Bag> {
  const { conn, vm, value, calls } = run;
  let stillPending: readonly string[] = [];
  try {
    await prepare(run);
    const record = run.before;
    if (record === undefined) throw new Error("pulumi-xapi: a run converged before reading its VM (a bug)");
    const marker =
      pendingMarkerOf(record) ??
      (rules.legacyOutputs === undefined ? undefined : legacyMarker(rules.legacyOutputs));
    const stale = markerApplies(marker, record);
    stillPending = stale ? [...(marker?.paths ?? [])] : [];
    const note = notePendingFirst(conn, vm.ref, record, stillPending, calls);
    // The pool's licence for live vCPUs: read with the pool's identity, once per connection.
    const { liveVcpusLicensed } = await poolInfoOf(conn);
    run.deadline.check("converging the power state");
    const result = await converge(
      conn,
      vm,
      targetOf(value, {
        forceRestart: rules.forceRestart,
        liveDomainBootStale: stillPending.some((p) => !isSizingPath(p)),
        liveDomainSizingStale: stillPending.some(isSizingPath),
      }),
      policyOf(value.policy),
      // The record just read: the executor plans from it instead of reading it again.
      {
        ...convergeOpts(run.deadline, value),
        record,
        canSetDomainType: hasDomainType(run.api),
        beforeLiveBootWrite: note.hook,
        guest: { liveVcpusLicensed },
        availableSizingCalls: availableSizingCallsOf(run.api),
      },
    );
    calls.push(...result.steps.map(callRecordOf));
    const pending = pendingAfter(result, stillPending, record);
    const after = madeCalls(result.steps) || note.fired() ? await recordOf(conn, vm.ref) : record;
    await recordPending(conn, vm.ref, after, pending, calls);
    await rules.finish?.(after);
    return outputsOf(value, after, { ...run, pending, calls, disks: result.observedDisks });
  } catch (error) {
    throw await operationFailure(conn, vm, value, { ...run, pending: stillPending }, error);
  }
}

/** The executor's target: the declared power state, boot configuration, vCPUs and memory. */
function targetOf(
  value: VmInputs,
  flags: { forceRestart: boolean; liveDomainBootStale: boolean; liveDomainSizingStale: boolean },
): ConvergeTarget {
  const boot = declaredBootWithDisks(value);
  const sizing = declaredSizingOf(value);
  return {
    powerState: value.powerState,
    ...(boot === undefined ? {} : { boot }),
    ...(sizing === undefined ? {} : { sizing }),
    ...flags,
  };
}
