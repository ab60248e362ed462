/**
 * The plan as data: `__xapiPlan` in a preview's inputs (`pulumi preview --json`), which `xapi-review`
 * (`provider/cli/review-input.ts`) reads, and the one-line form of a step the human lines use.
 */
import { formatCall } from "../model/lifecycle";
import { PowerState } from "../model/vocabulary";
import { flagsOf } from "./call-record";
import type { Bag } from "./property-bag";
import type { VmCallRecord } from "./types";

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

/** The calls an operation recorded in its outputs (`lastCalls`). */
export function callsOf(outs: Bag): VmCallRecord[] {
  return Array.isArray(outs.lastCalls) ? (outs.lastCalls as VmCallRecord[]) : [];
}

/** A recorded call as a planned step; `target` is the power state the VM is going to. */
export function plannedStep(vm: PlannedStep["vm"], call: VmCallRecord, target: string): PlannedStep {
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
