/**
 * The calls an operation makes, recorded as it makes them: the `lastCalls` output and, in a preview, the
 * plan (`preview.ts` reads the calls a dry run recorded).
 */
import type { XapiConnection } from "../client";
import type { ExecutedStep } from "../executor";
import { hasFlag, TransitionFlag, transitionsFrom } from "../model/lifecycle";
import type { PowerState } from "../model/vocabulary";
import { stripUndefined } from "./property-bag";
import type { VmCallRecord } from "./types";

/** Runs one provider-level call and records it in `lastCalls`. */
export async function recorded<T>(
  calls: VmCallRecord[],
  entry: Omit<VmCallRecord, "durationMs">,
  run: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  const result = await run();
  calls.push({ ...entry, durationMs: Date.now() - started });
  return result;
}

/** `VM.add_to_other_config(key, value)`, recorded in `lastCalls` with the key (and `shown`), not the value. */
export async function addKey(
  conn: XapiConnection,
  calls: VmCallRecord[],
  ref: string,
  power: PowerState,
  key: string,
  value: string,
  reason: string,
  shown: Readonly<Record<string, unknown>> = {},
): Promise<void> {
  await recorded(
    calls,
    { call: "VM.add_to_other_config", args: { key, ...shown }, from: power, to: power, reason },
    () => conn.call("VM.add_to_other_config", ref, key, value),
  );
}

/** `VM.remove_from_other_config(key)`, recorded in `lastCalls`. */
export async function removeKey(
  conn: XapiConnection,
  calls: VmCallRecord[],
  ref: string,
  power: PowerState,
  key: string,
  reason: string,
): Promise<void> {
  await recorded(
    calls,
    { call: "VM.remove_from_other_config", args: { key }, from: power, to: power, reason },
    () => conn.call("VM.remove_from_other_config", ref, key),
  );
}

/** An executor step as recorded in `lastCalls`. */
export function callRecordOf(step: ExecutedStep): VmCallRecord {
  return stripUndefined({
    call: step.call,
    args: step.args,
    from: step.from,
    to: step.to,
    reason: step.reason,
    durationMs: step.durationMs,
    escalatedFrom: step.escalatedFrom,
    skipped: step.skipped,
  }) as VmCallRecord;
}

/**
 * True when the executor sent a call (a setter not skipped, or a lifecycle call). Otherwise the record
 * read before it is still the VM's (only names were set since, and the outputs take names from the
 * declaration), so the outputs need no second `VM.get_record`.
 */
export function madeCalls(steps: readonly ExecutedStep[]): boolean {
  return steps.some((s) => s.skipped === undefined);
}

/** The setters the executor sent (not skipped). */
export function executedSetters(steps: readonly ExecutedStep[]): ExecutedStep[] {
  return steps.filter((s) => s.kind === "set" && s.skipped === undefined);
}

/** The transition flags of a recorded lifecycle call (`hard`, `destructive`), empty for other calls. */
export function flagsOf(call: VmCallRecord): { hard: boolean; destructive: boolean } {
  const from = call.from;
  const row =
    from === undefined
      ? undefined
      : transitionsFrom(from).find((t) => t.call === call.call && t.to === call.to);
  return {
    hard: row !== undefined && hasFlag(row, TransitionFlag.hard),
    destructive: row !== undefined && hasFlag(row, TransitionFlag.destructive),
  };
}
