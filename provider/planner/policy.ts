/**
 * Which calls a policy lets a plan use (the planner's module comment, `index.ts`, "Decisions"): `clean` / `clean-then-hard` may use start,
 * pause, unpause, suspend, resume, clean_shutdown, clean_reboot; `hard` may use start, pause, unpause,
 * suspend, resume, hard_shutdown and hard_reboot. A Crashed VM is always left with hard_shutdown.
 */
import type { Transition } from "../model/lifecycle";
import type { PlanFailure, Policy } from "../model/plan";
import { LifecycleCall, PowerState, ShutdownMode } from "../model/vocabulary";

/**
 * Whether the policy lets a plan discard a Suspended VM's memory image (`VM.hard_shutdown` from
 * Suspended): only `shutdown: "hard"` together with `allowDiscardSuspendedState`.
 */
export function mayDiscardSuspendedState(policy: Policy): boolean {
  return policy.shutdown === ShutdownMode.hard && policy.allowDiscardSuspendedState;
}

/**
 * Whether `policy` allows the planner to use transition `t` (module comment).
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

/** A typed planner failure (never a partial plan). */
export function fail(code: PlanFailure["code"], reason: string): { ok: false; failure: PlanFailure } {
  return { ok: false, failure: { code, reason } };
}
