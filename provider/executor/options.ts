/** The run's options: {@link ConvergeOptions} with every default applied. */
import type { Backoff } from "../client/backoff";
import type { ConvergeOptions } from "./index";

const DEFAULTS = {
  operationTimeoutMs: 300_000,
  maxSteps: 24,
  maxReplans: 4,
  retries: 5,
  retryBackoff: { initialMs: 250, maxMs: 4000, factor: 2, jitter: 0.2 } satisfies Backoff,
};

/** {@link ConvergeOptions} with every default applied. */
export interface RunOptions {
  readonly operationTimeoutMs: number;
  readonly maxSteps: number;
  readonly maxReplans: number;
  readonly retries: number;
  readonly retryBackoff: Backoff;
  readonly log: (line: string) => void;
  readonly onEvent: ConvergeOptions["onEvent"];
  readonly canSetDomainType: boolean;
  readonly beforeLiveBootWrite: ConvergeOptions["beforeLiveBootWrite"];
  readonly availableSizingCalls: ConvergeOptions["availableSizingCalls"];
}

export function runOptions(opts: ConvergeOptions): RunOptions {
  return {
    operationTimeoutMs: opts.operationTimeoutMs ?? DEFAULTS.operationTimeoutMs,
    maxSteps: opts.maxSteps ?? DEFAULTS.maxSteps,
    maxReplans: opts.maxReplans ?? DEFAULTS.maxReplans,
    retries: opts.retries ?? DEFAULTS.retries,
    retryBackoff: opts.retryBackoff ?? DEFAULTS.retryBackoff,
    log: opts.log ?? (() => undefined),
    onEvent: opts.onEvent,
    canSetDomainType: opts.canSetDomainType !== false,
    beforeLiveBootWrite: opts.beforeLiveBootWrite,
    availableSizingCalls: opts.availableSizingCalls,
  };
}
