/**
 * Waiting for an asynchronous XAPI task.
 *
 * Choice: poll `task.get_record` with exponential backoff, NOT `event.from`. Why:
 * - cost is bounded and predictable per task (about log2(duration / initial) + duration / max polls)
 *   and needs no subscription state: `event.from` needs a token first (an extra `event.inject` or a
 *   full `task` snapshot), and its long-poll holds one connection per waiter, which at pool-wide
 *   concurrency competes with the operations themselves;
 * - it survives re-login and HOST_IS_SLAVE redirects transparently (event tokens and registrations
 *   are per session; a lost long-poll must be re-armed and can miss the final transition);
 * - one `task.get_record` returns status, result and error_info together, so the final poll is also
 *   the read of the outcome.
 * The task is always destroyed afterwards, whatever happened (`finally`).
 */
import type { TaskRef } from "../model/vocabulary";
import { type Backoff, backoffDelay, sleep } from "./backoff";
import { isXapiError, XapiError, XapiErrorCode, XapiTimeoutError } from "./errors";

/** The task fields this module reads (xapi-semantics §8.6). */
export interface TaskRecord {
  readonly status: "pending" | "success" | "failure" | "cancelling" | "cancelled";
  readonly result: string;
  readonly error_info: readonly string[];
}

/** A session-prefixed call (`XapiSession.call`). */
export type SessionCall = (method: string, args: readonly unknown[]) => Promise<unknown>;

/** Task polling schedule. @default initial 20 ms, ×2, at most 2000 ms */
export const DEFAULT_TASK_POLL: Backoff = { initialMs: 20, maxMs: 2000, factor: 2 };
/** How long to wait for a task to settle after `task.cancel`. */
const CANCEL_GRACE_MS = 5000;

/** Options of {@link waitForTask}. */
export interface WaitOptions {
  /** Give up (cancel the task) after this long. @default no limit */
  readonly timeoutMs?: number | undefined;
  readonly poll?: Backoff | undefined;
}

/**
 * Wait for `task` (created by `Async.<method>`), destroy it, and return its decoded result.
 * @throws XapiError (the task's `error_info`, `call` = `method`), XapiTimeoutError after `task.cancel`.
 */
export async function waitForTask(
  call: SessionCall,
  task: TaskRef,
  method: string,
  options: WaitOptions = {},
): Promise<unknown> {
  const poll = options.poll ?? DEFAULT_TASK_POLL;
  const timeoutMs = options.timeoutMs;
  const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
  try {
    let record = await pollUntilSettled(call, task, deadline, poll);
    if (record === undefined) {
      // Best effort: XAPI may refuse (OPERATION_NOT_ALLOWED) or the task may finish meanwhile.
      await call("task.cancel", [task]).catch(() => undefined);
      record = await pollUntilSettled(call, task, Date.now() + CANCEL_GRACE_MS, poll);
      // The operation may have completed before the cancel landed: then it succeeded.
      if (record?.status !== "success") throw new XapiTimeoutError(method, task, timeoutMs ?? 0);
    }
    return outcome(record, task, method);
  } finally {
    await destroyTask(call, task);
  }
}

async function pollUntilSettled(
  call: SessionCall,
  task: TaskRef,
  deadline: number,
  poll: Backoff,
): Promise<TaskRecord | undefined> {
  for (let attempt = 0; ; attempt++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return undefined;
    await sleep(Math.min(backoffDelay(poll, attempt), remaining));
    const record = (await call("task.get_record", [task])) as TaskRecord;
    if (record.status !== "pending" && record.status !== "cancelling") return record;
  }
}

function outcome(record: TaskRecord, task: TaskRef, method: string): unknown {
  switch (record.status) {
    case "success":
      return parseTaskResult(record.result);
    case "cancelled":
      return failWith(
        record.error_info.length > 0 ? record.error_info : [XapiErrorCode.TASK_CANCELLED, task],
      );
    default:
      return failWith(record.error_info);
  }
  function failWith(description: readonly string[]): never {
    throw XapiError.fromDescription(description, method, task);
  }
}

/** Destroy, tolerating a task that is already gone. Never throws: the operation's outcome matters more. */
async function destroyTask(call: SessionCall, task: TaskRef): Promise<void> {
  try {
    await call("task.destroy", [task]);
  } catch (error) {
    if (isXapiError(error, XapiErrorCode.HANDLE_INVALID)) return;
    // Anything else: XAPI garbage-collects finished tasks eventually; do not mask the result.
  }
}

const XML_ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/**
 * Why: `task.result` is the XML-RPC serialisation of the return value, not the value itself
 * (xapi-semantics §8.6): `"<value></value>"` for void, `"<value>OpaqueRef:…</value>"` for a ref.
 * Scalars are decoded; anything structured is returned as the raw string.
 */
export function parseTaskResult(result: string): unknown {
  const match = /^\s*<value>(?:<(string|int|i4|i8|double|boolean)>)?([^<]*)(?:<\/\1>)?<\/value>\s*$/.exec(
    result,
  );
  if (match === null) return result;
  const text = (match[2] ?? "").replace(
    /&(amp|lt|gt|quot|apos);/g,
    (_, name: string) => XML_ENTITIES[name] ?? "",
  );
  switch (match[1]) {
    case "int":
    case "i4":
    case "i8":
    case "double":
      return Number(text);
    case "boolean":
      return text === "1";
    default:
      return text;
  }
}
