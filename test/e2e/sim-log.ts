/**
 * Reading xapi-sim from an end-to-end test: its control operations, and the state-changing calls its call
 * log shows since a point (what a `pulumi up` really sent), shared by the tests that compare them with a
 * preview or a program's intent.
 */
import type { RunningSimulator } from "../../simulator";

/** One entry of the simulator's call log. */
export interface CallLogEntry {
  seq: number;
  method: string;
  vm?: string;
  ok: boolean;
}

/** Runs one control operation of the simulator (`state`, `callLog`, `setPowerState`, …). */
export async function simControl<T>(
  sim: RunningSimulator,
  op: string,
  body: Record<string, unknown> = {},
): Promise<T> {
  const fn = sim.model.control[op];
  if (fn === undefined) throw new Error(`xapi-sim has no control op ${op}`);
  return (await fn(body)) as T;
}

/** The sequence number of the last logged call (0 when none). */
export async function lastSeq(sim: RunningSimulator): Promise<number> {
  return (await simControl<CallLogEntry[]>(sim, "callLog")).at(-1)?.seq ?? 0;
}

/** The state-changing calls made after `since` (no reads, no session/task/event traffic), sync names. */
export async function writesSince(sim: RunningSimulator, since: number): Promise<string[]> {
  const log = await simControl<CallLogEntry[]>(sim, "callLog", { since });
  return log
    .filter((c) => c.ok)
    .map((c) => c.method.replace(/^Async\./, ""))
    .filter((m) => !/^(session|task|event|system)\./.test(m) && !/\.(get|assert|query|retrieve)_/.test(m));
}
