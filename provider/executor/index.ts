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
 *    "already-set").
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
 * Failures:
 * - `OTHER_OPERATION_IN_PROGRESS`: retried with bounded exponential backoff.
 * - Transient network failure: a lifecycle call is re-sent only after a read made after the backoff shows
 *   the VM still in `step.from` (the request may or may not have reached XAPI); a setter (idempotent) is
 *   re-sent.
 * - `VM_BAD_POWER_STATE`, `TASK_CANCELLED`, a vanished task (`HANDLE_INVALID`): the VM moved under the
 *   plan; re-read and re-plan (if it did not move, stop: XAPI and the executor disagree).
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
 * - per lifecycle step: `Async.VM.<call>` and `task.destroy`, plus the session's share of the `event.from`
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
 *   documented domain_type ↔ HVM_boot_policy coupling, xapi-semantics §7.3);
 * - only when the target declares `boot.bootableUserdevices`: with every `VM.get_record`, one
 *   `VBD.get_record` per ref in the record's `VBDs` (the VM's own disks; `VBD.get_all_records` would
 *   read every disk of the pool), so that `VBD.set_bootable` steps know each VBD's ref and flag;
 * - per re-plan: `VM.get_record`; per escalation, per retried network failure and per
 *   VM_BAD_POWER_STATE / TASK_CANCELLED / vanished task: one `VM.get_power_state`;
 * - only on a stopped run that may restore (see "Restore"): one `VM.get_power_state` (is the VM still
 *   Running?), then, if it is, the restore call as a lifecycle step (`Async.VM.pause` or
 *   `Async.VM.suspend`, its `event.from` share, `task.destroy`).
 */
import { type Backoff, backoffDelay, sleep } from "../client/backoff";
import type { XapiConnection } from "../client/connection";
import {
  ClientErrorCode,
  isTransientTransportError,
  isXapiError,
  XapiError,
  XapiErrorCode,
  XapiTimeoutError,
  XapiTransportError,
} from "../client/errors";
import type { DeclaredBootFields, ObservedDisk, XapiBootFields } from "../model/boot";
import { DEFAULT_HVM_BOOT_ORDER, DomainType, domainTypeOf } from "../model/boot";
import { hasFlag, TransitionFlag, transitionsFrom } from "../model/lifecycle";
import type { PlanStep, Policy } from "../model/plan";
import {
  type DeclarablePowerState,
  LifecycleCall,
  PowerState,
  SetterCall,
  ShutdownMode,
  type VbdRef,
  type VmRef,
} from "../model/vocabulary";
import { isAllowedByPolicy, mayDiscardSuspendedState, planTransition } from "../planner";

/** What the VM should become. */
export interface ConvergeTarget {
  powerState: DeclarablePowerState;
  /** Declared boot fields (XAPI names); `undefined` = boot config not managed. */
  boot?: DeclaredBootFields | undefined;
  /** restartTrigger changed: exactly one restart when the VM ends live. */
  forceRestart?: boolean | undefined;
  /** The live domain was built from an older boot config (a pending `next-boot` change). */
  liveDomainBootStale?: boolean | undefined;
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
  /** One line per event (step start/end, retry, escalation, re-plan). */
  log?: ((line: string) => void) | undefined;
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
   * run and the power state: where the caller records the change as pending before it is written.
   */
  beforeLiveBootWrite?: ((setters: readonly PlanStep[], power: PowerState) => Promise<void>) | undefined;
}

/** Codes an {@link ExecutionError} can carry besides XAPI's and the client's. */
export const ExecutionErrorCode = {
  STEP_LIMIT: "STEP_LIMIT",
  REPLAN_LIMIT: "REPLAN_LIMIT",
  /** XAPI refused a call from a state the executor also observes: they disagree; stopping is safer. */
  STATE_CONFLICT: "STATE_CONFLICT",
  /** A `VBD.set_bootable` step names a userdevice the VM has no VBD at (the disks changed under the run). */
  UNKNOWN_DISK: "UNKNOWN_DISK",
} as const;
export type ExecutionErrorCode = (typeof ExecutionErrorCode)[keyof typeof ExecutionErrorCode];

/**
 * How a stopped run put back a state the VM only passed through (module doc, "Restore").
 * `restored` false: the VM is left where the failure left it (`why` says why).
 */
export interface RestoreOutcome {
  /** The state the VM was in before this run lifted it to Running (Paused or Suspended). */
  readonly state: PowerState;
  /** The restore call (`VM.pause`, `VM.suspend`). */
  readonly call: LifecycleCall;
  readonly restored: boolean;
  /** Why restoring failed (the error's message); only when `restored` is false. */
  readonly why?: string;
}

/**
 * The run stopped. The message names the VM, the step, the code, what was already done and, when
 * the run put back a state the VM only passed through, what it restored ({@link ExecutionError.restore}).
 * `code` is the XAPI code (e.g. `VM_LACKS_FEATURE`), a client code (`TASK_TIMEOUT`, `ECONNREFUSED`), a
 * planner failure code (`NO_LEGAL_PATH`, …) or an {@link ExecutionErrorCode}: always the failure's,
 * never the restore's.
 */
export class ExecutionError extends Error {
  override readonly name = "ExecutionError";
  readonly vm: { readonly uuid: string; readonly ref?: string };
  readonly step?: PlanStep;
  readonly code: string;
  /** Steps completed (the VM may have moved), the restore step last when one was made. */
  readonly done: ExecutedStep[];
  /** Set when the run tried to put back the state the VM had before it (module doc, "Restore"). */
  readonly restore?: RestoreOutcome;
  readonly #args: ExecutionErrorArgs;

  constructor(args: ExecutionErrorArgs) {
    const where = args.step === undefined ? "" : `${formatStep(args.step)} failed: `;
    const done =
      args.done.length === 0
        ? "Nothing was done before."
        : `Done before: ${args.done.map((s, i) => `${i + 1}. ${formatStep(s)}${s.skipped ? " (skipped, already set)" : ""}`).join("; ")}.`;
    const restore = args.restore === undefined ? "" : ` ${restoreText(args.restore.outcome)}`;
    super(
      `VM ${args.vm.uuid}: ${where}${args.detail} ${done}${args.hint === undefined ? "" : ` ${args.hint}`}${restore}`,
      args.cause === undefined ? undefined : { cause: args.cause },
    );
    this.#args = args;
    this.vm = args.vm.ref === undefined ? { uuid: args.vm.uuid } : { uuid: args.vm.uuid, ref: args.vm.ref };
    this.code = args.code;
    this.done = [...args.done, ...(args.restore?.steps ?? [])];
    if (args.step !== undefined) this.step = args.step;
    if (args.restore !== undefined) this.restore = args.restore.outcome;
  }

  /** The same failure, told with what the run did afterwards to restore the VM's earlier state. */
  withRestore(outcome: RestoreOutcome, steps: readonly ExecutedStep[]): ExecutionError {
    return new ExecutionError({ ...this.#args, restore: { outcome, steps } });
  }
}

interface ExecutionErrorArgs {
  vm: { uuid: string; ref?: string | undefined };
  code: string;
  detail: string;
  /** Steps completed before the failure. */
  done: ExecutedStep[];
  step?: PlanStep | undefined;
  hint?: string | undefined;
  cause?: unknown;
  /** What the run did after the failure, and the steps it recorded doing it. */
  restore?: { outcome: RestoreOutcome; steps: readonly ExecutedStep[] } | undefined;
}

/** The VM record fields the executor reads (wire names); other fields pass through untyped. */
export interface VmRecord extends XapiBootFields {
  readonly uuid: string;
  readonly name_label: string;
  readonly power_state: PowerState;
  readonly [field: string]: unknown;
}

/** One `VM.get_by_uuid` + one `VM.get_record`. @throws XapiError (`UUID_INVALID` when there is no such VM) */
export async function readVm(conn: XapiConnection, uuid: string): Promise<{ ref: VmRef; record: VmRecord }> {
  const ref = await conn.call<VmRef>("VM.get_by_uuid", uuid);
  const record = await conn.call<VmRecord>("VM.get_record", ref);
  return { ref, record };
}

/**
 * The boot fields of a VM record, read as XAPI boots them (docs/xapi-facts.md):
 * - a record without `domain_type` (XAPI before API 2.10, XenAPI 1.0) or with "unspecified" gets the
 *   type derived from `HVM_boot_policy` (empty ⇒ PV);
 * - an HVM VM whose `HVM_boot_params.order` is absent or "" boots "cd" (QEMU's default), so it reads "cd".
 */
export function bootFieldsOf(record: XapiBootFields): XapiBootFields {
  const domainType = domainTypeOf(record);
  const params = { ...(record.HVM_boot_params ?? {}) };
  if (domainType === DomainType.hvm && (params.order === undefined || params.order === "")) {
    params.order = DEFAULT_HVM_BOOT_ORDER;
  }
  return {
    domain_type: domainType,
    HVM_boot_policy: record.HVM_boot_policy,
    HVM_boot_params: params,
    PV_bootloader: record.PV_bootloader,
    PV_kernel: record.PV_kernel,
    PV_ramdisk: record.PV_ramdisk,
    PV_args: record.PV_args,
    PV_bootloader_args: record.PV_bootloader_args,
  };
}

const DEFAULTS = {
  operationTimeoutMs: 300_000,
  maxSteps: 24,
  maxReplans: 4,
  retries: 5,
  retryBackoff: { initialMs: 250, maxMs: 4000, factor: 2, jitter: 0.2 } satisfies Backoff,
};

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

/** Thrown inside a run when the VM is not where the plan expects it. */
class Replan {
  constructor(readonly why: string) {}
}

/** XAPI's wire parameter order after the VM ref, per call (the plan names them, the wire is positional). */
const POSITIONAL_ARGS: Readonly<Record<string, readonly string[]>> = {
  [LifecycleCall.start]: ["start_paused", "force"],
  [LifecycleCall.resume]: ["start_paused", "force"],
};

/** Calls that build a new domain from the current boot fields (xapi-semantics §7.6); resume does not. */
const BUILDS_DOMAIN: ReadonlySet<string> = new Set([
  LifecycleCall.start,
  LifecycleCall.cleanReboot,
  LifecycleCall.hardReboot,
]);

/** Calls that take a Paused or Suspended VM to Running: what a stopped run may undo (module doc, "Restore"). */
const LIFTS: ReadonlySet<string> = new Set([LifecycleCall.unpause, LifecycleCall.resume]);

/** The hard twin a clean call may escalate to under `clean-then-hard`. */
const HARD_TWIN: Readonly<Record<string, LifecycleCall>> = {
  [LifecycleCall.cleanShutdown]: LifecycleCall.hardShutdown,
  [LifecycleCall.cleanReboot]: LifecycleCall.hardReboot,
};

/** Failures of a clean call that mean "the guest will not do it cleanly". */
const ESCALATION_CODES: ReadonlySet<string> = new Set([
  XapiErrorCode.VM_LACKS_FEATURE,
  XapiErrorCode.VM_SHUTDOWN_TIMEOUT,
  XapiErrorCode.VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT,
  ClientErrorCode.TASK_TIMEOUT,
]);

/** Failures after which the VM may have moved: re-read and re-plan if it did. */
const MOVED_CODES: ReadonlySet<string> = new Set([
  XapiErrorCode.VM_BAD_POWER_STATE,
  XapiErrorCode.TASK_CANCELLED,
  XapiErrorCode.HANDLE_INVALID,
]);

class Run {
  readonly #conn: XapiConnection;
  readonly #vm: { ref?: string | undefined; uuid: string };
  readonly #target: ConvergeTarget;
  readonly #policy: Policy;
  readonly #opts: {
    operationTimeoutMs: number;
    maxSteps: number;
    maxReplans: number;
    retries: number;
    retryBackoff: Backoff;
    log: (line: string) => void;
    canSetDomainType: boolean;
    beforeLiveBootWrite: ConvergeOptions["beforeLiveBootWrite"];
  };
  #ref: VmRef | undefined;
  /** Last observed (or verified) power state. */
  #power: PowerState = PowerState.Halted;
  /** Boot fields as read, plus what this run wrote. */
  #boot!: XapiBootFields;
  /** The VM's VBDs by userdevice (ref and bootable flag), read only when bootable disks are declared. */
  #disks: Map<string, { ref: VbdRef; bootable: boolean }> | undefined;
  /** The live domain runs an older boot config than `#boot`. */
  #stale = false;
  /** A domain was built during this run (consumes `forceRestart`). */
  #restarted = false;
  /** This run wrote a boot field. */
  #wroteBoot = false;
  readonly #done: ExecutedStep[] = [];
  #replans = 0;
  /** The caller's fresh record (`ConvergeOptions.record`), used once instead of the first read. */
  #given: VmRecord | undefined;
  /**
   * The state this run's last lifecycle step lifted the VM out of to Running (Paused by `VM.unpause`,
   * Suspended by `VM.resume`); `undefined` once any other lifecycle step ran. What a stopped run restores.
   */
  #lifted: PowerState | undefined;
  /** The VM was Suspended when the run began: its saved state must survive the run (no hard escalation). */
  #startedSuspended = false;
  /** `beforeLiveBootWrite` has run. */
  #hookCalled = false;

  constructor(
    conn: XapiConnection,
    vm: { ref?: string | undefined; uuid: string },
    target: ConvergeTarget,
    policy: Policy,
    opts: ConvergeOptions,
  ) {
    this.#conn = conn;
    this.#vm = vm;
    this.#target = target;
    this.#policy = policy;
    this.#ref = vm.ref as VmRef | undefined;
    this.#given = vm.ref === undefined ? undefined : opts.record;
    this.#opts = {
      operationTimeoutMs: opts.operationTimeoutMs ?? DEFAULTS.operationTimeoutMs,
      maxSteps: opts.maxSteps ?? DEFAULTS.maxSteps,
      maxReplans: opts.maxReplans ?? DEFAULTS.maxReplans,
      retries: opts.retries ?? DEFAULTS.retries,
      retryBackoff: opts.retryBackoff ?? DEFAULTS.retryBackoff,
      log: opts.log ?? (() => undefined),
      canSetDomainType: opts.canSetDomainType !== false,
      beforeLiveBootWrite: opts.beforeLiveBootWrite,
    };
  }

  async execute(): Promise<ConvergeResult> {
    await this.#readRecord(true);
    this.#startedSuspended = this.#power === PowerState.Suspended;
    this.#stale = this.#power !== PowerState.Halted && this.#target.liveDomainBootStale === true;
    try {
      await this.#converge();
    } catch (error) {
      if (error instanceof ExecutionError) throw await this.#restore(error);
      throw error;
    }
    return {
      vmRef: this.#ref as string,
      uuid: this.#vm.uuid,
      finalPowerState: this.#power,
      steps: this.#done,
      bootChangePending: this.#power !== PowerState.Halted && this.#stale,
      observedBoot: bootFieldsOf(this.#boot),
      ...(this.#disks === undefined ? {} : { observedDisks: this.#observedDisks() ?? [] }),
      replans: this.#replans,
    };
  }

  /** Plan, run, re-plan until the VM is where the target says, or throw. */
  async #converge(): Promise<void> {
    for (;;) {
      const steps = this.#plan();
      try {
        await this.#beforeLiveBootWrite(steps);
        for (const step of steps) await this.#runStep(step);
        return;
      } catch (error) {
        if (!(error instanceof Replan)) throw error;
        this.#replans++;
        this.#opts.log(`re-plan ${this.#replans}: ${error.why}`);
        if (this.#replans > this.#opts.maxReplans) {
          throw this.#error(
            ExecutionErrorCode.REPLAN_LIMIT,
            `The VM kept moving under the plan (${error.why}); gave up after ${this.#opts.maxReplans} re-plans.`,
          );
        }
        await this.#readRecord(false);
      }
    }
  }

  /**
   * After a stopped run: put back the Paused or Suspended state this run lifted the VM out of only on its
   * way to a Halted or Suspended target, with a call that is neither hard nor destructive and that the
   * policy allows (module doc, "Restore"). Returns the error to throw: `failure` itself when there was
   * nothing to restore, otherwise the same failure told with the outcome.
   */
  async #restore(failure: ExecutionError): Promise<ExecutionError> {
    const state = this.#lifted;
    const target = this.#target.powerState;
    // A live target means Running (or Paused) is where the VM is going, not a state it passes through.
    if (state === undefined || target === PowerState.Running || target === PowerState.Paused) return failure;
    const back = transitionsFrom(PowerState.Running).find(
      (t) =>
        t.to === state &&
        !hasFlag(t, TransitionFlag.hard) &&
        !hasFlag(t, TransitionFlag.destructive) &&
        isAllowedByPolicy(t, this.#policy),
    );
    if (back === undefined) return failure;
    const step: PlanStep = {
      kind: "lifecycle",
      call: back.call,
      args: { ...back.args },
      from: PowerState.Running,
      to: state,
      reason: `restore ${state}: the run stopped after taking the VM from ${state} to Running only on its way to ${target}`,
    };
    const before = this.#done.length;
    const outcome = (restored: boolean, why?: string): ExecutionError =>
      failure.withRestore(
        { state, call: back.call, restored, ...(why === undefined ? {} : { why }) },
        this.#done.slice(before),
      );
    let now: PowerState;
    try {
      now = await this.#conn.call<PowerState>("VM.get_power_state", this.#ref);
    } catch (error) {
      return outcome(false, `reading its power state failed (${errorText(error)}).`);
    }
    // Someone (or the failed call) moved it: it is not in the state this run left it in; leave it alone.
    if (now !== PowerState.Running) return failure;
    this.#power = now;
    this.#opts.log(`restore ${state}: ${formatStep(step)} after ${failure.code}`);
    try {
      await this.#runLifecycle(step);
    } catch (error) {
      const why = error instanceof Replan ? `${error.why}.` : `${errorText(causeOf(error))}.`;
      return outcome(false, why);
    }
    return outcome(true);
  }

  /**
   * Once per run, before the first boot setter on a live VM: the caller's hook (`ConvergeOptions
   * .beforeLiveBootWrite`) notes the change as pending where the next run sees it, so that a run stopped
   * between the setter and the restart that applies it (a kill, a crash) never loses the change.
   */
  async #beforeLiveBootWrite(steps: readonly PlanStep[]): Promise<void> {
    const hook = this.#opts.beforeLiveBootWrite;
    if (hook === undefined || this.#hookCalled || this.#power === PowerState.Halted) return;
    const setters = steps.filter((s) => s.kind === "set");
    if (setters.length === 0) return;
    this.#hookCalled = true;
    try {
      await hook(setters, this.#power);
    } catch (error) {
      throw this.#errorFrom(error, setters[0], undefined, "Noting the pending boot change on the VM failed.");
    }
  }

  /** Plan from the current observation. */
  #plan(): readonly PlanStep[] {
    const result = planTransition({
      observedPowerState: this.#power,
      observedBoot: this.#boot,
      declaredPowerState: this.#target.powerState,
      declaredBoot: this.#target.boot,
      observedDisks: this.#observedDisks(),
      liveDomainBootStale: this.#stale,
      forceRestart: this.#target.forceRestart === true && !this.#restarted,
      policy: this.#policy,
      canSetDomainType: this.#opts.canSetDomainType,
    });
    if (!result.ok) throw this.#error(result.failure.code, result.failure.reason);
    return result.plan.steps;
  }

  async #readRecord(first: boolean): Promise<void> {
    const before = this.#power;
    let record: VmRecord;
    try {
      const given = first ? this.#given : undefined;
      this.#given = undefined;
      this.#ref ??= await this.#conn.call<VmRef>("VM.get_by_uuid", this.#vm.uuid);
      record = given ?? (await this.#conn.call<VmRecord>("VM.get_record", this.#ref));
    } catch (error) {
      throw this.#errorFrom(error, undefined, undefined, "Reading the VM failed.");
    }
    this.#power = record.power_state;
    this.#boot = bootFieldsOf(record);
    if (this.#target.boot?.bootableUserdevices !== undefined) await this.#readDisks(record);
    if (!first) this.#observedMove(before);
  }

  /** One `VBD.get_record` per VBD of the VM: userdevice → ref and bootable flag. */
  async #readDisks(record: VmRecord): Promise<void> {
    const refs = Array.isArray(record.VBDs) ? (record.VBDs as VbdRef[]) : [];
    const disks = new Map<string, { ref: VbdRef; bootable: boolean }>();
    try {
      for (const ref of refs) {
        const vbd = await this.#conn.call<{ userdevice: string; bootable: boolean }>("VBD.get_record", ref);
        disks.set(vbd.userdevice, { ref, bootable: vbd.bootable });
      }
    } catch (error) {
      throw this.#errorFrom(error, undefined, undefined, "Reading the VM's disks failed.");
    }
    this.#disks = disks;
  }

  #observedDisks(): ObservedDisk[] | undefined {
    if (this.#disks === undefined) return undefined;
    return [...this.#disks].map(([userdevice, d]) => ({ userdevice, bootable: d.bootable }));
  }

  /** Keep `#stale` honest after the power state was observed to differ from what the run expected. */
  #observedMove(expected: PowerState): void {
    if (this.#power === PowerState.Halted) this.#stale = false;
    // Someone else moved a VM whose fields this run rewrote: assume its domain may run the old config.
    else if (this.#power !== expected && this.#wroteBoot) this.#stale = true;
  }

  async #runStep(step: PlanStep): Promise<void> {
    if (this.#done.length >= this.#opts.maxSteps) {
      throw this.#error(
        ExecutionErrorCode.STEP_LIMIT,
        `Step limit reached: ${this.#opts.maxSteps} steps executed without converging.`,
        step,
      );
    }
    if (step.kind === "set") return this.#runSetter(step);
    if (this.#power !== step.from) {
      throw new Replan(`expected ${step.from} before ${step.call}, observed ${this.#power}`);
    }
    return this.#runLifecycle(step);
  }

  async #runSetter(step: PlanStep): Promise<void> {
    if (step.call === SetterCall.setVbdBootable) return this.#runVbdSetter(step);
    const field = step.call.slice("VM.set_".length) as keyof XapiBootFields;
    const value = step.args.value;
    const startedAt = new Date();
    if (sameValue(this.#boot[field], value)) {
      this.#opts.log(`skip ${step.call}: already ${JSON.stringify(value)}`);
      this.#record(step, startedAt, { skipped: "already-set" });
      return;
    }
    this.#opts.log(`step ${this.#done.length + 1}: ${step.call} ${JSON.stringify(value)}`);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#conn.call(step.call, this.#ref, value);
        break;
      } catch (error) {
        // A setter writes a value: sending it again is harmless.
        if (this.#retryable(error) && attempt < this.#opts.retries) {
          await this.#backoff(step, error, attempt);
          continue;
        }
        throw this.#errorFrom(error, step);
      }
    }
    this.#boot = applyBootSetter(this.#boot, field, value);
    this.#wroteBoot = true;
    if (this.#power !== PowerState.Halted) this.#stale = true;
    this.#record(step, startedAt, {});
  }

  /** `VBD.set_bootable(<ref of the VBD at args.userdevice>, args.value)`, skipped when already so. */
  async #runVbdSetter(step: PlanStep): Promise<void> {
    const userdevice = String(step.args.userdevice);
    const value = step.args.value === true;
    const startedAt = new Date();
    const disk = this.#disks?.get(userdevice);
    if (disk === undefined) {
      // The planner only names disks it was shown; a missing one means the disks were not read.
      throw this.#error(
        ExecutionErrorCode.UNKNOWN_DISK,
        `No VBD at userdevice ${userdevice} was read for this VM.`,
        step,
      );
    }
    if (disk.bootable === value) {
      this.#opts.log(`skip ${step.call} ${userdevice}: already ${value}`);
      this.#record(step, startedAt, { skipped: "already-set" });
      return;
    }
    this.#opts.log(`step ${this.#done.length + 1}: ${step.call} ${userdevice} ${value}`);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#conn.call(step.call, disk.ref, value);
        break;
      } catch (error) {
        if (this.#retryable(error) && attempt < this.#opts.retries) {
          await this.#backoff(step, error, attempt);
          continue;
        }
        throw this.#errorFrom(error, step);
      }
    }
    disk.bootable = value;
    this.#wroteBoot = true;
    if (this.#power !== PowerState.Halted) this.#stale = true;
    this.#record(step, startedAt, {});
  }

  async #runLifecycle(step: PlanStep): Promise<void> {
    const startedAt = new Date();
    this.#opts.log(`step ${this.#done.length + 1}: ${formatStep(step)}`);
    let call = step.call as LifecycleCall;
    let escalatedFrom: string | undefined;
    /** The power state was read (and equals `step.from`) since the last call was sent. */
    let fresh = false;
    for (let attempt = 0; ; attempt++) {
      // hard_shutdown is also legal on a Suspended VM (it discards the image): check right before EVERY
      // send, retries included (the operation that made XAPI refuse the first one may have been a suspend).
      if (call === LifecycleCall.hardShutdown && !mayDiscardSuspendedState(this.#policy) && !fresh) {
        await this.#recheck(step, "before VM.hard_shutdown");
      }
      fresh = false;
      try {
        await this.#conn.callAsync(call, [this.#ref, ...positionalArgs(call, step.args)], {
          timeoutMs: this.#opts.operationTimeoutMs,
        });
        break;
      } catch (error) {
        const code = codeOf(error);
        const twin = HARD_TWIN[call];
        if (twin !== undefined && escalatedFrom === undefined && ESCALATION_CODES.has(code)) {
          if (this.#policy.shutdown !== ShutdownMode.cleanThenHard) {
            throw this.#errorFrom(error, step, undefined, escalationHint(call, code));
          }
          // A VM that was Suspended when the run began keeps its saved state: no hard call unless the policy
          // may discard a suspended image; the run stops and puts it back (module doc, "Restore").
          if (this.#startedSuspended && !mayDiscardSuspendedState(this.#policy)) {
            throw this.#errorFrom(error, step, undefined, suspendedEscalationHint(call, twin));
          }
          // Did the clean call complete after all (e.g. it finished as the timeout hit)?
          const now = await this.#readPower(step, step.from);
          if (now === step.to && call === LifecycleCall.cleanShutdown) break;
          if (now !== step.from) throw new Replan(`${call} failed with ${code}; the VM is now ${now}`);
          this.#opts.log(`escalate ${call} → ${twin} after ${code}`);
          escalatedFrom = call;
          call = twin;
          attempt = -1;
          fresh = true;
          continue;
        }
        if (isXapiError(error, XapiErrorCode.OTHER_OPERATION_IN_PROGRESS) && attempt < this.#opts.retries) {
          await this.#backoff(step, error, attempt);
          continue;
        }
        if (isTransientTransportError(error) && attempt < this.#opts.retries) {
          // The request may have reached XAPI: only re-send if the VM demonstrably did not move,
          // read after the backoff so that the observation is the one right before the re-send.
          await this.#backoff(step, error, attempt);
          const now = await this.#readPower(step, step.from);
          if (now !== step.from) throw new Replan(`${call} hit a network failure; the VM is now ${now}`);
          fresh = true;
          continue;
        }
        if (MOVED_CODES.has(code)) {
          const now = await this.#readPower(step, step.from);
          if (now !== step.from) throw new Replan(`${call} failed with ${code}; the VM is now ${now}`);
          throw this.#errorFrom(error, step, ExecutionErrorCode.STATE_CONFLICT, stateConflictHint(now));
        }
        throw this.#errorFrom(error, step, undefined, bootFailureHint(error));
      }
    }
    // The task succeeded: the VM is in the call's post-state (module doc, "Post-state"), the next step's pre-check.
    this.#power = step.to;
    const executed = escalatedFrom === undefined ? step : { ...step, call };
    // Only a lift to Running made by this very step is one a stopped run may undo.
    this.#lifted = LIFTS.has(call) && step.to === PowerState.Running ? step.from : undefined;
    if (BUILDS_DOMAIN.has(call)) {
      this.#restarted = true;
      this.#stale = false;
    }
    if (step.to === PowerState.Halted) this.#stale = false;
    this.#record(executed, startedAt, escalatedFrom === undefined ? {} : { escalatedFrom });
  }

  /** Extra pre-check read right before a call whose meaning depends on the source state. */
  async #recheck(step: PlanStep, why: string): Promise<void> {
    const now = await this.#readPower(step, step.from);
    if (now !== step.from) throw new Replan(`${why}: expected ${step.from}, observed ${now}`);
  }

  /**
   * One `VM.get_power_state`. `expected` is where the run believes the VM is at this read (`step.from`
   * before the call, `step.to` after it): only a different answer is a move made by someone else.
   */
  async #readPower(step: PlanStep, expected: PowerState): Promise<PowerState> {
    try {
      this.#power = await this.#conn.call<PowerState>("VM.get_power_state", this.#ref);
    } catch (error) {
      throw this.#errorFrom(
        error,
        step,
        undefined,
        "Reading the power state failed; the VM's state is unknown.",
      );
    }
    if (this.#power !== expected) this.#observedMove(expected);
    return this.#power;
  }

  #retryable(error: unknown): boolean {
    return isXapiError(error, XapiErrorCode.OTHER_OPERATION_IN_PROGRESS) || isTransientTransportError(error);
  }

  async #backoff(step: PlanStep, error: unknown, attempt: number): Promise<void> {
    const delay = backoffDelay(this.#opts.retryBackoff, attempt);
    this.#opts.log(
      `retry ${step.call} in ${Math.round(delay)} ms after ${codeOf(error)} (attempt ${attempt + 1})`,
    );
    await sleep(delay);
  }

  #record(step: PlanStep, startedAt: Date, extra: Pick<ExecutedStep, "escalatedFrom" | "skipped">): void {
    const executed: ExecutedStep = {
      ...step,
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      ...extra,
    };
    this.#done.push(executed);
    this.#opts.log(`done ${formatStep(executed)} in ${executed.durationMs} ms`);
  }

  #error(code: string, detail: string, step?: PlanStep, hint?: string, cause?: unknown): ExecutionError {
    return new ExecutionError({
      vm: { uuid: this.#vm.uuid, ref: this.#ref },
      code,
      detail,
      done: [...this.#done],
      step,
      hint,
      cause,
    });
  }

  #errorFrom(error: unknown, step?: PlanStep, code?: string, hint?: string): ExecutionError {
    if (error instanceof ExecutionError) return error;
    const detail = error instanceof Error ? error.message : String(error);
    return this.#error(code ?? codeOf(error), `${detail}.`, step, hint, error);
  }
}

function codeOf(error: unknown): string {
  if (
    error instanceof XapiError ||
    error instanceof XapiTransportError ||
    error instanceof XapiTimeoutError
  ) {
    return error.code;
  }
  return "UNEXPECTED";
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The XAPI or client error behind an {@link ExecutionError} (its message without the run's context). */
function causeOf(error: unknown): unknown {
  return error instanceof ExecutionError && error.cause !== undefined ? error.cause : error;
}

function positionalArgs(call: string, args: Readonly<Record<string, unknown>>): unknown[] {
  const order = POSITIONAL_ARGS[call] ?? [];
  const unknown = Object.keys(args).filter((name) => !order.includes(name));
  if (unknown.length > 0) throw new TypeError(`${call}: unexpected plan arguments ${unknown.join(", ")}`);
  return order.map((name) => args[name] ?? false);
}

function escalationHint(call: string, code: string): string {
  const why =
    code === XapiErrorCode.VM_LACKS_FEATURE
      ? "the guest has no PV drivers / shutdown support"
      : "the guest did not comply in time";
  return `Try policy.shutdown "clean-then-hard" to allow ${HARD_TWIN[call] ?? "a hard call"} when ${why}, or fix the guest.`;
}

/**
 * What to do about a start or reboot that failed while building the domain (xapi-semantics §7.4):
 * no bootable disk for the bootloader, or a bootloader that found no kernel.
 */
function bootFailureHint(error: unknown): string | undefined {
  if (!(error instanceof XapiError)) return undefined;
  if (error.code === "INTERNAL_ERROR" && error.params.some((p) => p.includes("no bootable device"))) {
    return 'No disk of this VM is bootable: its PV bootloader needs a VBD with bootable=true that is not empty. Declare bootableDisks, e.g. ["0"] for the root disk.';
  }
  if (error.code === "BOOTLOADER_FAILED") {
    return "The bootloader found no kernel on the bootable disks: check the guest's /boot (menu.lst) or pv.kernel.";
  }
  return undefined;
}

/** How a lifted state is named in messages: the call that left it, and the call that restores it. */
const RESTORE_WORDS: Readonly<Partial<Record<PowerState, { left: string; back: string }>>> = {
  [PowerState.Paused]: { left: "unpaused", back: "paused again" },
  [PowerState.Suspended]: { left: "resumed", back: "suspended again" },
};

/** The sentence an {@link ExecutionError} ends with when the run tried to restore the VM's earlier state. */
function restoreText(outcome: RestoreOutcome): string {
  const words = RESTORE_WORDS[outcome.state] ?? { left: "moved", back: `put back to ${outcome.state}` };
  const lifted = `This run had ${words.left} the VM only on its way to the declared state`;
  return outcome.restored
    ? `${lifted}: it was ${words.back} (${outcome.call}), ${outcome.state} as before the run.`
    : `${lifted}; it was not ${words.back} (${outcome.call}): ${outcome.why ?? "unknown reason."}`;
}

function suspendedEscalationHint(call: string, twin: string): string {
  return `The VM was Suspended when this run began, so ${twin} (which would discard what the guest had saved) is not used in place of ${call}; policy shutdown "hard" with allowDiscardSuspendedState allows it. Or fix the guest's clean shutdown.`;
}

function stateConflictHint(now: PowerState): string {
  return `XAPI refused the call, yet the VM still reads ${now}; another tool may be operating on it. Retry later.`;
}

/** `VM.clean_shutdown (Running → Halted)`. */
function formatStep(step: PlanStep): string {
  return `${step.call} (${step.from} → ${step.to})`;
}

/**
 * The boot fields after `VM.set_<field>(value)`, as XAPI leaves them: `set_domain_type` and
 * `set_HVM_boot_policy` each rewrite the other field (docs/xapi-facts.md, "domain_type and
 * HVM_boot_policy"); every other setter writes its field only.
 */
export function applyBootSetter(
  boot: XapiBootFields,
  field: keyof XapiBootFields,
  value: unknown,
): XapiBootFields {
  if (field === "HVM_boot_policy") {
    return {
      ...boot,
      HVM_boot_policy: value as string,
      domain_type: value === "" ? DomainType.pv : DomainType.hvm,
    };
  }
  if (field === "domain_type") {
    return {
      ...boot,
      domain_type: value as DomainType,
      HVM_boot_policy: value === DomainType.hvm ? "BIOS order" : "",
    };
  }
  return { ...boot, [field]: value };
}

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && ra[k] === rb[k]);
  }
  return a === b;
}
