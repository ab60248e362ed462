/** Bounded exponential backoff shared by the session, the task poller and the executor. */

/** A backoff schedule: delay n is `min(maxMs, initialMs * factor^n)`, with ±`jitter` spread. */
export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  /** Fraction of the delay to randomise (0 = deterministic). @default 0 */
  readonly jitter?: number;
}

/** The delay before attempt `attempt` (0-based). */
export function backoffDelay(schedule: Backoff, attempt: number): number {
  const base = Math.min(schedule.maxMs, schedule.initialMs * schedule.factor ** attempt);
  const jitter = schedule.jitter ?? 0;
  // Why: concurrent callers retrying in lockstep would hit XAPI together again.
  return jitter === 0 ? base : base * (1 - jitter + Math.random() * 2 * jitter);
}

/** `setTimeout` as a promise. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
