/**
 * Reading xapi-sim from an end-to-end test: its control operations, and the state-changing calls its call
 * log shows since a point (what a `pulumi up` really sent), shared by the tests that compare them with a
 * preview or a program's intent.
 */
import type { RunningSimulator } from "../../simulator";

/** One entry of the simulator's call log (the fields the end-to-end tests read). */
export interface CallLogEntry {
  seq: number;
  method: string;
  vm?: string;
  /** The call's parameters after the session. */
  params: unknown[];
  ok: boolean;
  /** The XAPI error code of a failed call. */
  error?: string;
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

/** XAPI method name without the `Async.` prefix. */
export function syncName(method: string): string {
  return method.replace(/^Async\./, "");
}

/** The calls of a log that change something: successful, no reads, no session/task/event traffic. */
export function stateChanging(log: readonly CallLogEntry[]): CallLogEntry[] {
  return log.filter((c) => {
    if (!c.ok) return false;
    const [cls = "", name = ""] = syncName(c.method).split(".");
    if (["session", "task", "event", "system"].includes(cls)) return false;
    return !/^(get|assert|query|retrieve)/.test(name);
  });
}

/** The state-changing calls logged after `since`, in the log's order. */
export async function stateChangingSince(sim: RunningSimulator, since: number): Promise<CallLogEntry[]> {
  return stateChanging(await simControl<CallLogEntry[]>(sim, "callLog", { since }));
}

/** The state-changing calls made after `since`, sync names. */
export async function writesSince(sim: RunningSimulator, since: number): Promise<string[]> {
  return (await stateChangingSince(sim, since)).map((c) => syncName(c.method));
}
