/**
 * The restore rule (module doc of `index.ts`, "Restore"): which steps lift a VM to Running, and the step
 * that puts it back after a stopped run (pure), and carrying it out with what the run lends
 * ({@link RestoreHost}).
 */
import { hasFlag, TransitionFlag, transitionsFrom } from "../model/lifecycle";
import type { PlanStep, Policy } from "../model/plan";
import { LifecycleCall, PowerState } from "../model/vocabulary";
import { isAllowedByPolicy } from "../planner";
import { type ExecutionError, errorText } from "./errors";
import { type RunEvent, RunEventKind } from "./events";
import type { ExecutedStep } from "./index";

/** Calls that take a Paused or Suspended VM to Running: what a stopped run may undo. */
const LIFTS: ReadonlySet<string> = new Set([LifecycleCall.unpause, LifecycleCall.resume]);

/**
 * The state a completed lifecycle step lifted the VM out of (Paused, Suspended) when it ended Running
 * by `VM.unpause` / `VM.resume`; `undefined` for any other step.
 */
export function liftedBy(call: string, from: PowerState, to: PowerState): PowerState | undefined {
  return LIFTS.has(call) && to === PowerState.Running ? from : undefined;
}

/**
 * The restore step after a stopped run: back to the state (`lifted`) this run took the VM out of only
 * on its way to a Halted or Suspended `target`, with a call of the lifecycle table from Running that is
 * neither hard nor destructive and that the policy allows; `undefined` when there is none to make.
 */
export function restoreStep(
  lifted: PowerState | undefined,
  target: PowerState,
  policy: Policy,
): PlanStep | undefined {
  // A live target means Running (or Paused) is where the VM is going, not a state it passes through.
  if (lifted === undefined || target === PowerState.Running || target === PowerState.Paused) return undefined;
  const back = transitionsFrom(PowerState.Running).find(
    (t) =>
      t.to === lifted &&
      !hasFlag(t, TransitionFlag.hard) &&
      !hasFlag(t, TransitionFlag.destructive) &&
      isAllowedByPolicy(t, policy),
  );
  if (back === undefined) return undefined;
  return {
    kind: "lifecycle",
    call: back.call,
    args: { ...back.args },
    from: PowerState.Running,
    to: lifted,
    reason: `restore ${lifted}: the run stopped after taking the VM from ${lifted} to Running only on its way to ${target}`,
  };
}

/** What carrying out a restore needs from the run. */
export interface RestoreHost {
  /** One `VM.get_power_state`, which the run also takes as the VM's state. */
  readPower(): Promise<PowerState>;
  /** Runs `step` as a lifecycle step of the run (recorded in `done`); throws when it fails. */
  runLifecycle(step: PlanStep): Promise<void>;
  emit(event: RunEvent): Promise<void>;
  /** The steps the run has recorded so far. */
  readonly done: readonly ExecutedStep[];
  /** Why a failed restore step failed, as a sentence. */
  whyFailed(error: unknown): string;
}

/**
 * After a stopped run: carry out `step` (the {@link restoreStep}) if the VM still reads Running. Returns
 * the error to throw: `failure` itself when there was nothing to restore, otherwise the same failure
 * told with the outcome.
 */
export async function carryOutRestore(
  failure: ExecutionError,
  step: PlanStep | undefined,
  host: RestoreHost,
): Promise<ExecutionError> {
  if (step === undefined) return failure;
  const before = host.done.length;
  const outcome = (restored: boolean, why?: string): ExecutionError =>
    failure.withRestore(
      { state: step.to, call: step.call as LifecycleCall, restored, ...(why === undefined ? {} : { why }) },
      host.done.slice(before),
    );
  let now: PowerState;
  try {
    now = await host.readPower();
  } catch (error) {
    return outcome(false, `reading its power state failed (${errorText(error)}).`);
  }
  // Someone (or the failed call) moved it: it is not in the state this run left it in; leave it alone.
  if (now !== PowerState.Running) return failure;
  await host.emit({ kind: RunEventKind.restore, step, failure: failure.code });
  try {
    await host.runLifecycle(step);
  } catch (error) {
    return outcome(false, host.whyFailed(error));
  }
  return outcome(true);
}
