/**
 * What the executor does after a call of a plan failed: a pure decision table, one row per kind of
 * failure, read top to bottom (the first row that matches decides). The run (`run.ts`) carries the
 * decision out; nothing here performs a call.
 *
 * | failure                                                                | call       | decision                    |
 * | ---------------------------------------------------------------------- | ---------- | --------------------------- |
 * | guest will not comply (`ESCALATION_CODES`), policy not clean-then-hard | clean call | `stop-no-escalation`        |
 * | same, VM Suspended when the run began, its image protected             | clean call | `stop-keep-suspended-image` |
 * | same, otherwise                                                        | clean call | `escalate`                  |
 * | OTHER_OPERATION_IN_PROGRESS, retries left                              | any        | `retry`                     |
 * | transient network failure, retries left                                | setter     | `retry`                     |
 * | transient network failure, retries left                                | lifecycle  | `retry-if-unmoved`          |
 * | VM_BAD_POWER_STATE, TASK_CANCELLED, HANDLE_INVALID (`MOVED_CODES`)     | lifecycle  | `replan-if-moved`           |
 * | same                                                                   | sizing     | `replan-if-moved`           |
 * | anything else (retries exhausted included)                             | any        | `stop`                      |
 *
 * "clean call" is `VM.clean_shutdown` / `VM.clean_reboot`, the calls with a hard twin ({@link hardTwinOf});
 * the twin itself never escalates. "sizing" is a vCPU or memory setter (`SIZING_RULES`): unlike a boot
 * setter it is legal only in some power states, so XAPI refusing it for the state means the VM moved.
 */
import { ClientErrorCode, isTransientTransportError, isXapiError, XapiErrorCode } from "../client/errors";
import type { Policy } from "../model/plan";
import { isSizingCall } from "../model/sizing-rules";
import { LifecycleCall, ShutdownMode } from "../model/vocabulary";
import { mayDiscardSuspendedState } from "../planner";
import { codeOf } from "./errors";

/** What to do after a failed call. */
export const FailureDecision = {
  /** Back off, then send the same call again: XAPI refused it without acting, or it is an idempotent setter. */
  retry: "retry",
  /**
   * Back off, read the power state, and send again only if the VM is still in the step's `from` (the
   * lost request may have reached XAPI); otherwise re-plan.
   */
  retryIfUnmoved: "retry-if-unmoved",
  /**
   * Read the power state: a clean shutdown that completed after all ends the step; a VM that moved
   * otherwise means re-plan; a VM still in `from` gets the hard twin (a fresh retry budget).
   */
  escalate: "escalate",
  /** Read the power state: re-plan if the VM moved; if it did not, XAPI and the run disagree: stop (STATE_CONFLICT). */
  replanIfMoved: "replan-if-moved",
  /** Stop: the guest will not comply and the policy does not allow the hard twin. */
  stopNoEscalation: "stop-no-escalation",
  /** Stop: the hard twin would discard the image of a VM that was Suspended when the run began. */
  stopKeepSuspendedImage: "stop-keep-suspended-image",
  /** Stop with the failure's own code. */
  stop: "stop",
} as const;
export type FailureDecision = (typeof FailureDecision)[keyof typeof FailureDecision];

/** The policy and the run's facts that the decision depends on. */
export interface FailurePolicy extends Policy {
  /** Retries of OTHER_OPERATION_IN_PROGRESS and network failures allowed per call. */
  readonly retries: number;
  /** The VM was Suspended when the run began: its saved image must survive unless the policy may discard it. */
  readonly startedSuspended: boolean;
}

/** The hard call a clean call may escalate to under `clean-then-hard`. */
const HARD_TWIN: Readonly<Partial<Record<string, LifecycleCall>>> = {
  [LifecycleCall.cleanShutdown]: LifecycleCall.hardShutdown,
  [LifecycleCall.cleanReboot]: LifecycleCall.hardReboot,
};

/** `VM.hard_shutdown` for `VM.clean_shutdown`, `VM.hard_reboot` for `VM.clean_reboot`, else `undefined`. */
export function hardTwinOf(call: string): LifecycleCall | undefined {
  return HARD_TWIN[call];
}

/** Failures of a clean call that mean "the guest will not do it cleanly". */
export const ESCALATION_CODES: ReadonlySet<string> = new Set([
  XapiErrorCode.VM_LACKS_FEATURE,
  XapiErrorCode.VM_SHUTDOWN_TIMEOUT,
  XapiErrorCode.VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT,
  ClientErrorCode.TASK_TIMEOUT,
]);

/** Failures of a lifecycle call after which the VM may have moved. */
export const MOVED_CODES: ReadonlySet<string> = new Set([
  XapiErrorCode.VM_BAD_POWER_STATE,
  XapiErrorCode.TASK_CANCELLED,
  XapiErrorCode.HANDLE_INVALID,
]);

const LIFECYCLE_CALLS: ReadonlySet<string> = new Set(Object.values(LifecycleCall));

/**
 * The decision after `call` failed with `error` on its `attempt`-th send (0 = first). Pure: the table
 * in the module comment, as code.
 *
 * @example onFailure("VM.clean_shutdown", <VM_LACKS_FEATURE>, { ...CLEAN_THEN_HARD, retries: 5, startedSuspended: false }, 0)
 * // → "escalate"
 */
export function onFailure(
  call: string,
  error: unknown,
  policy: FailurePolicy,
  attempt: number,
): FailureDecision {
  const code = codeOf(error);
  if (hardTwinOf(call) !== undefined && ESCALATION_CODES.has(code)) {
    if (policy.shutdown !== ShutdownMode.cleanThenHard) return FailureDecision.stopNoEscalation;
    if (policy.startedSuspended && !mayDiscardSuspendedState(policy)) {
      return FailureDecision.stopKeepSuspendedImage;
    }
    return FailureDecision.escalate;
  }
  const lifecycle = LIFECYCLE_CALLS.has(call);
  const retriesLeft = attempt < policy.retries;
  if (retriesLeft && isXapiError(error, XapiErrorCode.OTHER_OPERATION_IN_PROGRESS)) {
    return FailureDecision.retry;
  }
  if (retriesLeft && isTransientTransportError(error)) {
    return lifecycle ? FailureDecision.retryIfUnmoved : FailureDecision.retry;
  }
  if ((lifecycle || isSizingCall(call)) && MOVED_CODES.has(code)) return FailureDecision.replanIfMoved;
  return FailureDecision.stop;
}
