/**
 * The executor: keeps a plan's promise over the network. It reads the live VM, asks the pure planner
 * for the calls, and runs them one by one, checking at every step that the VM is where the plan
 * expects it; when it is not, it re-plans from what is really there instead of continuing blindly.
 *
 * Per step:
 * 1. **Check** the power state the run knows matches `step.from` (see "Reads" for where that knowledge
 *    comes from); otherwise re-plan.
 * 2. **Call** it: lifecycle calls as `Async.VM.*` with a per-operation timeout (the task is waited for by
 *    the session's `event.from` long-poll, cancelled on timeout and always destroyed, client/task.ts);
 *    setters synchronously, skipped when the live value already matches ({@link ExecutedStep.skipped} =
 *    "already-set"). A vCPU or memory setter (`SIZING_RULES`, `provider/model/sizing-rules.ts`) is legal in
 *    some power states only, so step 1 checks it like a lifecycle call; its arguments are sent in XAPI's
 *    order as JSON numbers (int64); `VM.set_VCPUs_number_live` is never skipped (it is about the domain).
 * 3. **Post-state**: a lifecycle task that succeeded leaves the VM in `step.to` (see "Post-state").
 * 4. **Record** the step (start time, duration, escalation).
 *
 * Post-state (choice): after a lifecycle task succeeds, the VM is taken to be in the call's documented
 * post-state (`step.to`, the lifecycle table), neither read back with `VM.get_power_state` nor taken from
 * a `VM` event. Why: XAPI ends the task only after it has synced the power state from xenopsd, and fails it
 * unless the state is the expected one for every target but Running (ocaml/xapi/xapi_xenops.ml
 * `check_power_state_is` → `Xapi_vm_lifecycle.assert_final_power_state_is`; for Running it only warns);
 * a read right after could only add the instant between the task's end and the read, a gap every later
 * step has anyway and that stays guarded: XAPI refuses a lifecycle call from a wrong state
 * (VM_BAD_POWER_STATE: read, re-plan), and the calls that are also legal from a state they would harm
 * (`VM.hard_shutdown` on a Suspended VM) keep their read right before the call. Watching `VM/<ref>` in the
 * long-poll instead would wake it on every VM field XAPI writes during an operation (allowed_operations,
 * current_operations, metrics): more calls than the read it replaces. The power state is read where the
 * outcome is ambiguous: escalation, a refused or cancelled call, a network failure.
 *
 * Failures (the decision table is `onFailure`, `on-failure.ts`; `run.ts` carries it out):
 * - `OTHER_OPERATION_IN_PROGRESS`: retried with bounded exponential backoff.
 * - Transient network failure: a lifecycle call is re-sent only after a read made after the backoff shows
 *   the VM still in `step.from` (the request may or may not have reached XAPI); a setter (idempotent) is
 *   re-sent.
 * - `VM_BAD_POWER_STATE`, `TASK_CANCELLED`, a vanished task (`HANDLE_INVALID`) on a lifecycle call or a
 *   sizing setter: the VM moved under the plan; re-read and re-plan (if it did not move, stop: XAPI and
 *   the executor disagree).
 * - `VM_LACKS_FEATURE` or `LICENCE_RESTRICTION` on `VM.set_VCPUs_number_live`: stop, the message naming
 *   `vcpus.atStartup` and the way out (the guest's tools, the licence, or `bootChanges: "restart"`); no
 *   silent fallback to a reboot. The memory constraint codes, `INVALID_VALUE` and
 *   `HOST_NOT_ENOUGH_FREE_MEMORY` are worded the same way (`sizing.ts`).
 * - `VM_LACKS_FEATURE`, `VM_SHUTDOWN_TIMEOUT`, `VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT` or the operation
 *   timeout on `clean_shutdown` / `clean_reboot`: escalated to `hard_shutdown` / `hard_reboot` ONLY under
 *   policy `clean-then-hard` (after a read confirms the VM is still in `step.from`), and never for a VM
 *   that was Suspended when the run began unless the policy may discard a suspended image
 *   (`mayDiscardSuspendedState`): its saved state would be lost; otherwise they stop the run (and a VM
 *   this run resumed is suspended again, see "Restore").
 * - Anything else stops the run with an {@link ExecutionError} naming the VM, the step, the code and
 *   what was already done.
 * - Hard caps: `maxSteps` executed steps and `maxReplans` re-plans per run (no loops).
 *
 * Restore (a stopped run does not leave the VM in a state the owner never had nor asked for): when a run
 * stops with an {@link ExecutionError} after this run itself took the VM from Paused or Suspended to
 * Running (`VM.unpause`, `VM.resume`) only on its way to a Halted or Suspended target, and the VM still
 * reads Running, the executor puts it back with the one call of the lifecycle table from Running to that
 * state that is neither hard nor destructive and that the policy allows: `VM.pause` (→ Paused) or
 * `VM.suspend` (→ Suspended). Never when the target itself is Running or Paused (then Running is not a
 * state merely passed through), never with a hard call. The restore step is recorded in
 * {@link ExecutionError.done} (its `reason` starts with "restore"), the error keeps its code, and its
 * message says what was restored, or that restoring failed and why ({@link ExecutionError.restore}).
 *
 * Reads (the exact calls besides the plan's own, so tests can compare the simulator's counters):
 * - once per run: `VM.get_by_uuid` (only when `vm.ref` is not given) and `VM.get_record` (not when
 *   the caller passes the record it has just read, {@link ConvergeOptions.record});
 * - per lifecycle step: `VM.pause` and `VM.unpause` as plain calls (see `PLAIN_CALLS` in call-args.ts); any other
 *   call as `Async.VM.<call>` and `task.destroy`, plus the session's share of the `event.from`
 *   answers that show its task's end (one long-poll serves every task of the session in flight: about two
 *   answers per task waited alone, fewer when tasks end together; `task.get_record` polls instead on a host
 *   without `event.from`). No power-state read after it (see "Post-state"): the post-state is also the
 *   pre-check of the next step; no call is made in between except setters, which do not depend on the
 *   power state, and XAPI itself refuses a lifecycle call from a wrong state, which triggers a re-plan;
 * - before `VM.hard_shutdown` unless the policy may discard a suspended image (`shutdown: "hard"`
 *   with `allowDiscardSuspendedState`, see `mayDiscardSuspendedState`): one `VM.get_power_state` right
 *   before each send of the call (retries after OTHER_OPERATION_IN_PROGRESS included), because
 *   hard_shutdown is also legal on a Suspended VM and would silently discard its memory image if the VM was
 *   suspended meanwhile; not when the read just before was the escalation check or the network-failure
 *   check, which serves as this one;
 * - per setter step: the setter only (the skip decision uses the record read for the plan plus XAPI's
 *   documented domain_type ↔ HVM_boot_policy coupling, `provider/model/boot-fields.ts`, or what the
 *   sizing setters write, `SIZING_RULES`);
 * - only when the target declares `boot.bootableUserdevices`: with every `VM.get_record`, one
 *   `VBD.get_record` per ref in the record's `VBDs` (the VM's own disks; `VBD.get_all_records` would
 *   read every disk of the pool), so that `VBD.set_bootable` steps know each VBD's ref and flag;
 * - per re-plan: `VM.get_record`; per escalation, per retried network failure and per
 *   VM_BAD_POWER_STATE / TASK_CANCELLED / vanished task: one `VM.get_power_state`;
 * - only on a stopped run that may restore (see "Restore"): one `VM.get_power_state` (is the VM still
 *   Running?), then, if it is, the restore call as a lifecycle step (`Async.VM.pause` or
 *   `Async.VM.suspend`, its `event.from` share, `task.destroy`).
 */
import type { Backoff } from "../client/backoff";
import type { XapiConnection } from "../client/connection";
import type { DeclaredBootFields, ObservedDisk, XapiBootFields } from "../model/boot";
import type { PlanStep, Policy } from "../model/plan";
import type { DeclaredSizing, GuestAbilities, SizingFields } from "../model/sizing";
import type { VmRecord } from "../model/vm-record";
import type { DeclarablePowerState, PowerState, SizingCall } from "../model/vocabulary";
import type { RunEvent } from "./events";
import { Run } from "./run";

export { applyBootSetter } from "../model/boot-fields";
export { bootFieldsOf, readVm, type VmRecord } from "../model/vm-record";
export { ExecutionError, ExecutionErrorCode, type RestoreOutcome } from "./errors";
export { describeEvent, type RunEvent, RunEventKind } from "./events";
export { FailureDecision, type FailurePolicy, onFailure } from "./on-failure";

/** What the VM should become. */
export interface ConvergeTarget {
  powerState: DeclarablePowerState;
  /** Declared boot fields (XAPI names); `undefined` = boot config not managed. */
  boot?: DeclaredBootFields | undefined;
  /** restartTrigger changed: exactly one restart when the VM ends live. */
  forceRestart?: boolean | undefined;
  /** The live domain was built from an older boot config (a pending `next-boot` change). */
  liveDomainBootStale?: boolean | undefined;
  /** Declared vCPUs and memory (bytes); `undefined` = not managed. */
  sizing?: DeclaredSizing | undefined;
  /** The live domain runs another vCPU count than the record's `VCPUs_at_startup` (a pending change). */
  liveDomainSizingStale?: boolean | undefined;
}

/** A step as it was executed. */
export interface ExecutedStep extends PlanStep {
  /** ISO timestamp of the first call of the step. */
  startedAt: string;
  durationMs: number;
  /** The clean call this hard call replaced (policy `clean-then-hard`). */
  escalatedFrom?: string;
  /** The setter was not sent: the live value already matched. */
  skipped?: "already-set";
}

/** The outcome of a successful {@link converge}. */
export interface ConvergeResult {
  vmRef: string;
  uuid: string;
  finalPowerState: PowerState;
  steps: ExecutedStep[];
  /** The declared boot config is written but the live domain still runs an older one. */
  bootChangePending: boolean;
  /** The boot fields as they are now (read, plus what this run wrote). */
  observedBoot: XapiBootFields;
  /** Declared vCPUs are written but the domain still runs the old count; only when `target.sizing` is set. */
  sizingPending?: boolean;
  /** The vCPU and memory fields as they are now (read, plus what this run wrote); when the record has them. */
  observedSizing?: SizingFields;
  /** The VM's disks and bootable flags as they are now; only when the target declares `bootableUserdevices`. */
  observedDisks?: ObservedDisk[];
  /** How many times the executor re-planned because the VM was not where the plan expected. */
  replans: number;
}

/** Options of {@link converge}. */
export interface ConvergeOptions {
  /** Per lifecycle call (the task is cancelled after this). @default 300000 (5 min) */
  operationTimeoutMs?: number | undefined;
  /** Executed steps per run. @default 24 */
  maxSteps?: number | undefined;
  /** Re-plans per run. @default 4 */
  maxReplans?: number | undefined;
  /** Retries of OTHER_OPERATION_IN_PROGRESS and of transient network failures, per step. @default 5 */
  retries?: number | undefined;
  /** Delay between those retries. @default 250 ms ×2 up to 4 s, ±20 % jitter */
  retryBackoff?: Backoff | undefined;
  /** One line per event (step start/end, retry, escalation, re-plan): {@link describeEvent} of each. */
  log?: ((line: string) => void) | undefined;
  /**
   * Called with each {@link RunEvent} as it happens, after its log line, and awaited: the run goes on
   * when it settles (a test can change the VM at that exact point, e.g. right before a step is sent).
   */
  onEvent?: ((event: RunEvent) => void | Promise<void>) | undefined;
  /**
   * A `VM.get_record` of this VM (`vm.ref`) that the caller has just made: the run plans from it instead
   * of reading the record again. Only pass a record read moments before with no lifecycle call since:
   * a VM that moved is still caught (XAPI refuses the first call and the run re-plans, and
   * `VM.hard_shutdown` is re-checked anyway), but at the cost of a wasted call. Ignored without `vm.ref`.
   */
  record?: VmRecord | undefined;
  /** False on a pool without `VM.set_domain_type` (XAPI API before 2.10): see `PlanInput.canSetDomainType`. @default true */
  canSetDomainType?: boolean | undefined;
  /**
   * Called once, before the first boot setter when the VM is not Halted, with the setter steps about to
   * run and the power state: where the caller records the change as pending before it is written. The
   * steps are the boot setters and the sizing writes the live domain only gets at its next build
   * (`VM.set_VCPUs_at_startup` on a live VM); live sizing writes are not among them.
   */
  beforeLiveBootWrite?: ((setters: readonly PlanStep[], power: PowerState) => Promise<void>) | undefined;
  /**
   * What the guest and the pool allow for live vCPU changes. A field left out is read from the record
   * (`vcpuHotplug`: `changing_VCPUs_live` in `allowed_operations`, which XAPI lists for a Running VM only)
   * or taken as not granted (`liveVcpusLicensed`: read `pool.restrictions` to grant it).
   */
  guest?: Partial<GuestAbilities> | undefined;
  /** The sizing calls the pool's XAPI has. @default all of them */
  availableSizingCalls?: ReadonlySet<SizingCall> | undefined;
}

/**
 * Bring the VM to `target` under `policy`: read, plan, run step by step, re-plan when the VM is not
 * where the plan expects it. See the module comment for the exact calls made.
 * @throws ExecutionError
 */
export async function converge(
  conn: XapiConnection,
  vm: { ref?: string | undefined; uuid: string },
  target: ConvergeTarget,
  policy: Policy,
  opts?: ConvergeOptions,
): Promise<ConvergeResult> {
  const run = new Run(conn, vm, target, policy, opts ?? {});
  return run.execute();
}
