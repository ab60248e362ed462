/**
 * Realistic XAPI operation times, scaled down for the benchmarks, and the critical-path bound they give.
 *
 * On a real pool an operation takes seconds (a guest boots, flushes its memory to disk, shuts its
 * services down); the simulator sleeps for each operation's configured time (its `operationMs`). The
 * benchmarks use the representative times below divided by one factor (`--time-scale`, default 100), so
 * every operation keeps its proportion to the others and a run stays short. Ranges are those of XCP-ng /
 * XenServer pools with a few GiB of guest memory; the value used is a representative point in each.
 */
import type { PlanStep } from "../provider/model/plan";

/** Representative real durations (ms), keyed by the simulator's operation names. */
export const REAL_OPERATION_MS: Readonly<Record<string, number>> = {
  // VM.start: 5–10 s (domain build + BIOS/bootloader until the guest runs).
  start: 8_000,
  start_on: 8_000,
  // VM.suspend / VM.resume: 5–20 s, mostly memory written to / read from the suspend VDI.
  suspend: 12_000,
  resume: 12_000,
  resume_on: 12_000,
  // VM.clean_shutdown: 5–30 s (the guest's own shutdown). VM.shutdown is clean first.
  clean_shutdown: 15_000,
  shutdown: 15_000,
  // VM.clean_reboot = a clean shutdown + a start; VM.hard_reboot = a hard shutdown + a start.
  clean_reboot: 23_000,
  hard_reboot: 10_000,
  // VM.hard_shutdown: the domain is destroyed, 1–3 s (assumed; no guest involvement).
  hard_shutdown: 2_000,
  // VM.pause / VM.unpause: ~0.1 s (the domain's vCPUs are descheduled / rescheduled).
  pause: 100,
  unpause: 100,
  // Creation, for `pulumi up` (assumed): a fast clone on thin storage, disks provisioned, a destroy.
  clone: 2_000,
  copy: 20_000,
  provision: 3_000,
  destroy: 1_000,
};

/**
 * Setters (`VM.set_*`, `add_to_*`…): 10–50 ms on a real pool (a database write on the pool master).
 * The simulator gives them no operation time, only the round trip of any call; the bound counts them as
 * `max(round trip, SETTER_MS / scale)`.
 */
export const REAL_SETTER_MS = 30;

/** The simulator's `operationMs` for `scale` (every real time / scale, rounded to 0.1 ms). */
export function scaledOperationMs(scale: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(REAL_OPERATION_MS).map(([op, ms]) => [op, Math.round((ms / scale) * 10) / 10]),
  );
}

/** The simulator operation a plan step's call runs as (`VM.start` → `start`), or undefined for a setter. */
export function operationOf(call: string): string | undefined {
  const name = call.replace(/^Async\./, "").replace(/^VM\./, "");
  return name in REAL_OPERATION_MS ? name : undefined;
}

/**
 * One VM's chain: Σ over its plan's calls of (round trip + the call's operation time in `operationMs`),
 * a setter counting max(round trip, `setterMs`). The least wall time any client needs for that VM,
 * since its calls must run one after the other.
 */
export function chainMs(
  steps: readonly Pick<PlanStep, "call">[],
  roundTripMs: number,
  operationMs: Readonly<Record<string, number>>,
  setterMs: number,
): number {
  let total = 0;
  for (const step of steps) {
    const op = operationOf(step.call);
    total += op === undefined ? Math.max(roundTripMs, setterMs) : roundTripMs + (operationMs[op] ?? 0);
  }
  return total;
}

/**
 * The critical-path bound at `concurrency` calls in flight: max(longest chain, Σ chains / concurrency).
 * No client making only the plans' calls with at most `concurrency` VMs in flight can finish sooner.
 */
export function criticalPathBound(chains: readonly number[], concurrency: number): number {
  if (chains.length === 0) return 0;
  const total = chains.reduce((a, b) => a + b, 0);
  return Math.max(Math.max(...chains), total / concurrency);
}

/**
 * The bound for a client that also runs at most `operationLimit` lifecycle calls (tasks) at once, as the
 * provider's per-pool limit does (provider/client/limit.ts): the bound above, and Σ over every lifecycle
 * call of (round trip + its operation time) / `operationLimit`.
 */
export function criticalPathBoundAtLimit(
  chains: readonly number[],
  operationTotalMs: number,
  concurrency: number,
  operationLimit: number,
): number {
  return Math.max(
    criticalPathBound(chains, concurrency),
    operationTotalMs / Math.min(operationLimit, concurrency),
  );
}

/** Σ over `steps`' lifecycle calls of (round trip + the call's operation time). */
export function operationsMs(
  steps: readonly Pick<PlanStep, "call">[],
  roundTripMs: number,
  operationMs: Readonly<Record<string, number>>,
): number {
  let total = 0;
  for (const step of steps) {
    const op = operationOf(step.call);
    if (op !== undefined) total += roundTripMs + (operationMs[op] ?? 0);
  }
  return total;
}
