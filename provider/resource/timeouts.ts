/**
 * Time limits of one provider operation.
 *
 * Pulumi's `customTimeouts` resource option reaches the engine, but the Node.js dynamic-provider
 * host does not pass it to `create`/`update`/`delete`; the `Vm` class therefore copies it into an
 * internal input (`__xapiCustomTimeouts`), and this module turns it into a deadline. Within an
 * operation, each XAPI lifecycle task gets `min(timeouts.operationSeconds, time left)`, and the
 * operation stops with `DEADLINE_EXCEEDED` between steps once the deadline has passed.
 */
import { ProviderError, ProviderErrorCode } from "./errors";

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration string as Pulumi writes `customTimeouts` ("5m", "1h30m", "90s", "1.5h",
 * "250ms") into milliseconds. Returns `undefined` for anything else (including "" and "0"-less junk).
 */
export function parseGoDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  const pattern = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = pattern.exec(trimmed); match !== null; match = pattern.exec(trimmed)) {
    const [whole, amount, unit] = match;
    total += Number(amount) * (UNIT_MS[unit ?? ""] ?? Number.NaN);
    consumed += whole.length;
  }
  if (consumed === 0 || consumed !== trimmed.length || !Number.isFinite(total)) return undefined;
  return total;
}

/** A point in time after which an operation must not start another step. */
export class Deadline {
  readonly #endsAt: number | undefined;
  readonly #label: string;
  readonly #now: () => number;

  /**
   * @param budgetMs the operation's budget; `undefined` = no deadline
   * @param label names the budget in error text, e.g. `customTimeouts.update (5m)`
   */
  constructor(budgetMs: number | undefined, label: string, now: () => number = Date.now) {
    this.#now = now;
    this.#endsAt = budgetMs === undefined ? undefined : now() + budgetMs;
    this.#label = label;
  }

  /** Milliseconds left (never negative), or `undefined` without a deadline. */
  remainingMs(): number | undefined {
    return this.#endsAt === undefined ? undefined : Math.max(0, this.#endsAt - this.#now());
  }

  /**
   * The timeout for the next XAPI task: the smaller of the per-operation limit and the time left.
   * `undefined` when neither is set (the executor's default applies).
   */
  taskTimeoutMs(perOperationMs: number | undefined): number | undefined {
    const left = this.remainingMs();
    if (left === undefined) return perOperationMs;
    return perOperationMs === undefined ? left : Math.min(perOperationMs, left);
  }

  /** Throws `DEADLINE_EXCEEDED` once the deadline has passed. */
  check(doing: string): void {
    if (this.#endsAt !== undefined && this.#now() >= this.#endsAt) {
      throw new ProviderError(
        ProviderErrorCode.DEADLINE_EXCEEDED,
        `Deadline exceeded before ${doing}: ${this.#label} has passed. Try a longer customTimeouts value.`,
      );
    }
  }
}
