/**
 * The restore rule (module doc of `index.ts`, "Restore"): which steps lift a VM to Running, and the step
 * that puts it back after a stopped run. Pure.
 */
import { hasFlag, TransitionFlag, transitionsFrom } from "../model/lifecycle";
import type { PlanStep, Policy } from "../model/plan";
import { LifecycleCall, PowerState } from "../model/vocabulary";
import { isAllowedByPolicy } from "../planner";

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
