/** An operation's deadline (`customTimeouts`) and the per-task timeout it leaves (`timeouts.ts`). */
import type { VmInputs } from "../inputs";
import type { Bag } from "./property-bag";
import { Deadline, parseGoDuration } from "./timeouts";
import { type CustomTimeoutStrings, InternalKey } from "./types";

/** What an operation reads its timeouts from: the declared `timeouts` block. */
type WithTimeouts = { timeouts?: VmInputs["timeouts"] };

/** The deadline of `operation` from the resource's `customTimeouts` (none: no deadline). */
export function deadlineOf(bag: Bag, operation: keyof CustomTimeoutStrings): Deadline {
  const timeouts = (bag[InternalKey.customTimeouts] ?? {}) as CustomTimeoutStrings;
  const text = timeouts[operation];
  const ms = text === undefined ? undefined : parseGoDuration(text);
  return new Deadline(ms, `customTimeouts.${operation} (${text ?? "none"})`);
}

/** The `timeoutMs` option of one XAPI task (`conn.callAsync`). */
export function timeoutOpts(deadline: Deadline, value: WithTimeouts): { timeoutMs?: number } {
  const timeoutMs = deadline.taskTimeoutMs(perOperationMs(value));
  return timeoutMs === undefined ? {} : { timeoutMs };
}

/** The executor's `operationTimeoutMs` option. */
export function convergeOpts(deadline: Deadline, value: WithTimeouts): { operationTimeoutMs?: number } {
  const operationTimeoutMs = deadline.taskTimeoutMs(perOperationMs(value));
  return operationTimeoutMs === undefined ? {} : { operationTimeoutMs };
}

function perOperationMs(value: WithTimeouts): number | undefined {
  const seconds = value.timeouts?.operationSeconds;
  return seconds === undefined ? undefined : seconds * 1000;
}
