/**
 * The simulated clock: the time source, sleeps that a task cancel or the model's close ends early,
 * and waits for the next database change.
 */
import { XapiFault } from "../../api";
import { clampDelay, type Db } from "../db";
import { ErrorCode } from "../vocabulary";

/** The fault a sleep rejects with when the model closes under it. */
export function closedFault(): XapiFault {
  return new XapiFault(ErrorCode.internalError, ["xapi-sim is shutting down"]);
}

export class SimClock {
  closed = false;
  private readonly closers = new Set<() => void>();

  constructor(
    private readonly db: Db,
    readonly now: () => number = () => Date.now(),
  ) {}

  /** Sleeps `ms`; rejects with the signal's reason when aborted, or {@link closedFault} on close. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(closedFault());
      if (signal?.aborted) return reject(signal.reason);
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.closers.delete(onClose);
      };
      const timer = setTimeout(() => {
        done();
        resolve();
      }, clampDelay(ms));
      const onAbort = (): void => {
        done();
        reject(signal?.reason);
      };
      const onClose = (): void => {
        done();
        reject(closedFault());
      };
      signal?.addEventListener("abort", onAbort);
      this.closers.add(onClose);
    });
  }

  /** Waits for the next DB change (or `ms`); rejects like {@link sleep} on abort or close. */
  async waitForChange(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) throw closedFault();
    if (signal?.aborted) throw signal.reason;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal?.reason);
      signal?.addEventListener("abort", onAbort);
    });
    aborted.catch(() => undefined);
    try {
      await Promise.race([this.db.waitForChange(ms), aborted]);
    } finally {
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
    if (this.closed) throw closedFault();
  }

  /** Ends every sleep (each rejects with {@link closedFault}); later sleeps and waits reject at once. */
  close(): void {
    this.closed = true;
    for (const close of [...this.closers]) close();
    this.closers.clear();
  }
}
