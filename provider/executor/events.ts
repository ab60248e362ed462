/**
 * What a run tells its caller as it goes: typed events (`ConvergeOptions.onEvent`) and the log line of
 * each (`ConvergeOptions.log`). The log is a rendering of the events, for humans; code reacts to events.
 */
import type { PlanStep } from "../model/plan";
import { SetterCall } from "../model/vocabulary";
import { formatStep } from "./errors";
import type { ExecutedStep } from "./index";

/** The kinds of {@link RunEvent}. */
export const RunEventKind = {
  /** A step is about to be sent (before any pre-call read it needs). */
  step: "step",
  /** A setter step is not sent: the live value already matches. */
  skip: "skip",
  /** A call failed and is sent again after `delayMs` (before the backoff sleep). */
  retry: "retry",
  /** A clean call is replaced by its hard twin (policy `clean-then-hard`). */
  escalate: "escalate",
  /** The VM is not where the plan expects it: the run reads it and plans again. */
  replan: "replan",
  /** A stopped run puts back a state the VM only passed through. */
  restore: "restore",
  /** A step completed (or was skipped). */
  done: "done",
} as const;
export type RunEventKind = (typeof RunEventKind)[keyof typeof RunEventKind];

export type RunEvent =
  | { readonly kind: typeof RunEventKind.step; readonly number: number; readonly step: PlanStep }
  | { readonly kind: typeof RunEventKind.skip; readonly step: PlanStep }
  | {
      readonly kind: typeof RunEventKind.retry;
      readonly step: PlanStep;
      /** The call that failed (the hard twin after an escalation). */
      readonly call: string;
      /** 0 for the first retry. */
      readonly attempt: number;
      readonly code: string;
      readonly delayMs: number;
    }
  | {
      readonly kind: typeof RunEventKind.escalate;
      readonly step: PlanStep;
      readonly from: string;
      readonly to: string;
      readonly code: string;
    }
  | { readonly kind: typeof RunEventKind.replan; readonly number: number; readonly why: string }
  | { readonly kind: typeof RunEventKind.restore; readonly step: PlanStep; readonly failure: string }
  | { readonly kind: typeof RunEventKind.done; readonly step: ExecutedStep };

/** The log line of an event. */
export function describeEvent(event: RunEvent): string {
  switch (event.kind) {
    case RunEventKind.step:
      return `step ${event.number}: ${describeSend(event.step)}`;
    case RunEventKind.skip:
      return `skip ${describeTarget(event.step)}: already ${describeValue(event.step)}`;
    case RunEventKind.retry:
      return `retry ${event.step.call} in ${Math.round(event.delayMs)} ms after ${event.code} (attempt ${event.attempt + 1})`;
    case RunEventKind.escalate:
      return `escalate ${event.from} → ${event.to} after ${event.code}`;
    case RunEventKind.replan:
      return `re-plan ${event.number}: ${event.why}`;
    case RunEventKind.restore:
      return `restore ${event.step.to}: ${formatStep(event.step)} after ${event.failure}`;
    case RunEventKind.done:
      return `done ${formatStep(event.step)} in ${event.step.durationMs} ms`;
  }
}

/** `VM.clean_shutdown (Running → Halted)`, `VM.set_PV_args "quiet"`, `VBD.set_bootable 0 true`. */
function describeSend(step: PlanStep): string {
  return step.kind === "set" ? `${describeTarget(step)} ${describeValue(step)}` : formatStep(step);
}

function describeTarget(step: PlanStep): string {
  return step.call === SetterCall.setVbdBootable ? `${step.call} ${String(step.args.userdevice)}` : step.call;
}

function describeValue(step: PlanStep): string {
  return step.call === SetterCall.setVbdBootable
    ? String(step.args.value === true)
    : JSON.stringify(step.args.value);
}
