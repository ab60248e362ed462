/**
 * Waiting for asynchronous XAPI tasks.
 *
 * Choice: ONE `event.from` long-poll per session serves every task of that session in flight, subscribed
 * to `task/<ref>` of those tasks only, the way XAPI's own client waits (xen-api ocaml/xapi-client/tasks.ml
 * `wait_for_all_inner`: `event.from` on `task/<ref>` classes with a 5 s timeout, then `task.destroy`);
 * `task.get_record` is polled with backoff only where `event.from` is missing or failed. Why:
 * - cost: polling spends a call per task per backoff step (≈ 9 for a 5 s operation); the long-poll spends
 *   about one per task (a first look, shared by the tasks started together, and its end, shared by the
 *   tasks that end together);
 * - our tasks only (not the whole `task` class): other tools' tasks, and our own task creations and
 *   destructions, never wake the poll. A task started while a poll is out joins at its answer (at most
 *   {@link EVENT_TIMEOUT_S} later), with the token the watcher held BEFORE its `Async.*` call was sent, so
 *   every change of the task since its creation is in the next answer and none can be missed;
 * - first looks are batched (the one timing choice here). A poll naming a task not seen yet answers at
 *   once: the task's creation is after the poll's token, and no later token can be had without looking at
 *   the task (it may end first). So such a poll goes out {@link Backoff.initialMs} after the previous
 *   answer, and once the `Async.*` calls still out are answered (a slot's next operation starts as soon as
 *   a task ends, before its `task.destroy`): every task started meanwhile shares that one answer, and a
 *   short task is seen ended in it. That pause is the only one: after first looks, and after an end, the
 *   next poll goes out at once and waits on the host, which batches ends that come close together
 *   (xen-api ocaml/xapi/xapi_event.ml `from`; docs/xapi-facts.md "event.from batches"). In the executor
 *   bench (bench/results/2026-11-27-calls.json, 93 and 827 tasks) this costs 1.00 and 0.96 answers per
 *   task; a look per new task followed by the same pause cost 1.43 and 1.29;
 * - an event's snapshot has status, result and error_info together: the answer that shows the end is also
 *   the read of the outcome (no `task.get_record`);
 * - answers that show only progress (XAPI writes it while xenopsd works) re-arm on the polling schedule,
 *   so waiting never costs more calls than polling;
 * - tokens are DB generations, not per session: a re-login or a HOST_IS_SLAVE redirect (handled by the
 *   session) keeps the poll valid; any failure of the poll hands the tasks in flight to polling, and
 *   MESSAGE_METHOD_UNKNOWN (XAPI before API 1.9 "boston", XenServer 6.0: ocaml/idl/datamodel_types.ml)
 *   makes polling this session's only way.
 * Every task is destroyed afterwards, whatever happened (`finally`): XAPI keeps finished tasks for 65
 * minutes and deletes the oldest beyond 200 (xen-api ocaml/xapi/xapi_globs.ml `completed_task_timeout`,
 * `max_tasks`; ocaml/xapi/db_gc_util.ml `timeout_tasks`), so tasks left behind would push other tools' tasks out.
 */
import type { TaskRef } from "../model/vocabulary";
import { type Backoff, backoffDelay, sleep } from "./backoff";
import { isXapiError, XapiError, XapiErrorCode, XapiTimeoutError } from "./errors";

/** The task fields this module reads (the `task` class of xen-api's datamodel, ocaml/idl/datamodel.ml). */
export interface TaskRecord {
  readonly status: "pending" | "success" | "failure" | "cancelling" | "cancelled";
  readonly result: string;
  readonly error_info: readonly string[];
}

/** A session-prefixed call (`XapiSession.call`). */
export type SessionCall = (method: string, args: readonly unknown[]) => Promise<unknown>;

/**
 * Task polling schedule: the fallback's polls, the delay before the first look at a new task, and the
 * pause before re-arming after an answer that settled nothing. @default initial 20 ms, ×2, at most 2000 ms
 */
export const DEFAULT_TASK_POLL: Backoff = { initialMs: 20, maxMs: 2000, factor: 2 };
/** `event.from`'s timeout, in seconds: XAPI's own client's (ocaml/xapi-client/tasks.ml, `timeout = 5.0`). */
export const EVENT_TIMEOUT_S = 5;
/** How long to wait for a task to settle after `task.cancel`. */
const CANCEL_GRACE_MS = 5000;

/** Options of {@link waitForTask} and {@link TaskWatcher.run}. */
export interface WaitOptions {
  /** Give up (cancel the task) after this long. @default no limit */
  readonly timeoutMs?: number | undefined;
  readonly poll?: Backoff | undefined;
  /** Called once the task has ended (or the wait failed), before its `task.destroy`: its slot is free. */
  readonly onEnded?: (() => void) | undefined;
}

/**
 * Wait for `task` (created by `Async.<method>`) by polling `task.get_record`, destroy it, and return its
 * decoded result. The way for hosts without `event.from`; {@link TaskWatcher} uses it as its fallback.
 * @throws XapiError (the task's `error_info`, `call` = `method`), XapiTimeoutError after `task.cancel`.
 */
export async function waitForTask(
  call: SessionCall,
  task: TaskRef,
  method: string,
  options: WaitOptions = {},
): Promise<unknown> {
  const poll = options.poll ?? DEFAULT_TASK_POLL;
  return settleAndDestroy(call, task, method, options, (deadline) =>
    pollUntilSettled(call, task, deadline, poll),
  );
}

/** Where in the event stream a waiter's changes start: a token, and its local order (0 = from the start). */
interface Mark {
  readonly token: string;
  readonly seq: number;
}

const ORIGIN: Mark = { token: "", seq: 0 };

/** The earlier of two marks; "" (everything from the start) is earlier than any token. */
function older(a: Mark, b: Mark): Mark {
  if (a.token === "") return a;
  if (b.token === "") return b;
  return a.seq <= b.seq ? a : b;
}

/** One task waited for by the long-poll. */
interface Waiter {
  readonly task: TaskRef;
  /** Changes of the task after this mark are still to be read. */
  since: Mark;
  /** An answer has shown the task (until then `since` is from before its creation). */
  seen: boolean;
  /** Ended: its final record; `undefined` = the deadline passed; "poll" = continue by polling. */
  readonly done: (outcome: TaskRecord | undefined | "poll") => void;
}

/** Where a task's waiting stands between two watches (before and after a `task.cancel`). */
interface Progress {
  readonly since: Mark;
  readonly seen: boolean;
}

/** One `event.from` event, as far as this module reads it. */
interface TaskEvent {
  readonly class?: string;
  readonly operation?: string;
  readonly ref?: string;
  readonly snapshot?: TaskRecord;
}

/**
 * The waiting of one session's tasks: one `event.from` long-poll at a time serves all of them (module doc).
 */
export class TaskWatcher {
  readonly #call: SessionCall;
  readonly #timeoutS: number;
  #poll: Backoff;
  readonly #waiters = new Map<TaskRef, Waiter>();
  /** The token of the last answer: what a task started now is read from. */
  #latest: Mark = ORIGIN;
  #running = false;
  /** `Async.*` calls sent and not answered yet: tasks about to join. */
  #starting = 0;
  /** Called when {@link #starting} drops to 0. */
  #onStarted: (() => void)[] = [];
  /** False once the host answered MESSAGE_METHOD_UNKNOWN: this session polls. */
  #events = true;
  #closed = false;

  /**
   * @param poll the fallback's polls, the delay before the first look and the pauses between answers
   * @param timeoutS the long-poll's timeout; keep it below the transport's request timeout
   */
  constructor(call: SessionCall, poll: Backoff, timeoutS: number = EVENT_TIMEOUT_S) {
    this.#call = call;
    this.#poll = poll;
    this.#timeoutS = timeoutS;
  }

  /** The schedule of the fallback polls and of the pauses between answers. */
  set poll(poll: Backoff) {
    this.#poll = poll;
  }

  /** False once this session's host turned out to have no `event.from`. */
  get usesEvents(): boolean {
    return this.#events;
  }

  /**
   * `start()` (which sends `Async.<method>` and returns its task), then wait for the task, destroy it, and
   * return its decoded result.
   * @throws XapiError (the task's `error_info`, `call` = `method`), XapiTimeoutError after `task.cancel`.
   */
  async run(start: () => Promise<TaskRef>, method: string, options: WaitOptions = {}): Promise<unknown> {
    // Taken before the task exists: its creation and every later change come after this token.
    let progress: Progress = { since: this.#latest, seen: false };
    const task = await this.#starts(start);
    const poll = options.poll ?? this.#poll;
    return settleAndDestroy(this.#call, task, method, options, async (deadline) => {
      if (this.#events && !this.#closed) {
        const watched = await this.#watch(task, progress, deadline);
        progress = watched.progress;
        if (watched.outcome !== "poll") return watched.outcome;
      }
      return pollUntilSettled(this.#call, task, deadline, poll);
    });
  }

  /** Stop the long-poll; tasks still waited for continue by polling. */
  close(): void {
    this.#closed = true;
    for (const waiter of [...this.#waiters.values()]) waiter.done("poll");
  }

  /** `start()`, counted in {@link #starting} while it is out. */
  async #starts(start: () => Promise<TaskRef>): Promise<TaskRef> {
    this.#starting++;
    try {
      return await start();
    } finally {
      if (--this.#starting === 0) for (const started of this.#onStarted.splice(0)) started();
    }
  }

  /** Until every `Async.*` call out has been answered (its task joined), or `ms` passed. */
  #started(ms: number): Promise<void> {
    if (this.#starting === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#onStarted.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #watch(
    task: TaskRef,
    progress: Progress,
    deadline: number,
  ): Promise<{ outcome: TaskRecord | undefined | "poll"; progress: Progress }> {
    return new Promise((resolve) => {
      const remaining = deadline - Date.now();
      const waiter: Waiter = {
        task,
        since: progress.since,
        seen: progress.seen,
        done: (outcome) => {
          if (this.#waiters.get(task) !== waiter) return;
          this.#waiters.delete(task);
          if (timer !== undefined) clearTimeout(timer);
          resolve({ outcome, progress: { since: waiter.since, seen: waiter.seen } });
        },
      };
      const timer = Number.isFinite(remaining)
        ? setTimeout(() => waiter.done(undefined), Math.max(0, remaining))
        : undefined;
      this.#waiters.set(task, waiter);
      this.#kick();
    });
  }

  #kick(): void {
    if (!this.#events || this.#closed) {
      // Tasks that joined while the poll failed for good: they are polled too.
      for (const waiter of [...this.#waiters.values()]) waiter.done("poll");
      return;
    }
    if (this.#running || this.#waiters.size === 0) return;
    this.#running = true;
    void this.#loop().finally(() => {
      this.#running = false;
      this.#kick();
    });
  }

  /**
   * The waiters the next poll asks about, once it may go out (module doc, "first looks are shared"): with a
   * task not seen yet, `initialMs` after the previous answer (`answeredAt`) and after the `Async.*` calls
   * out (at most `initialMs` more); with seen tasks only, at once.
   */
  async #nextBatch(answeredAt: number): Promise<Waiter[]> {
    // Tasks the last answer ended free their slots now: the successors' `Async.*` calls go out first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if ([...this.#waiters.values()].some((w) => !w.seen)) {
      const pause = answeredAt + this.#poll.initialMs - Date.now();
      if (pause > 0) await sleep(pause);
      await this.#started(this.#poll.initialMs);
    }
    return [...this.#waiters.values()];
  }

  async #loop(): Promise<void> {
    let quiet = 0;
    let answeredAt = Date.now();
    while (this.#waiters.size > 0 && this.#events && !this.#closed) {
      const batch = await this.#nextBatch(answeredAt);
      if (batch.length === 0) continue;
      // The oldest mark of the batch: no waiter misses a change (the others just see some twice).
      const since = batch.reduce((oldest, w) => older(w.since, oldest), this.#latest);
      let answer: { events?: unknown; token?: unknown };
      try {
        answer = (await this.#call("event.from", [
          batch.map((w) => `task/${w.task}`),
          since.token,
          this.#timeoutS,
        ])) as typeof answer;
      } catch (error) {
        if (isXapiError(error, XapiErrorCode.MESSAGE_METHOD_UNKNOWN)) this.#events = false;
        // The token may be what failed (e.g. another coordinator's database): the next batch starts afresh.
        this.#latest = { token: "", seq: this.#latest.seq + 1 };
        for (const waiter of batch) waiter.done("poll");
        return;
      }
      answeredAt = Date.now();
      const mark: Mark = { token: String(answer.token ?? ""), seq: this.#latest.seq + 1 };
      this.#latest = mark;
      const last = lastEventOf(Array.isArray(answer.events) ? (answer.events as TaskEvent[]) : []);
      let settled = 0;
      let progressed = 0;
      for (const waiter of batch) {
        if (this.#waiters.get(waiter.task) !== waiter) continue;
        const event = last.get(waiter.task);
        const record = event?.operation === "del" ? undefined : event?.snapshot;
        // Absent although read from before its creation, or deleted: gone. Polling reports it as XAPI does.
        if ((event === undefined && !waiter.seen) || (event !== undefined && record === undefined)) {
          waiter.done("poll");
          settled++;
          continue;
        }
        waiter.since = mark;
        if (record === undefined) continue;
        if (record.status !== "pending" && record.status !== "cancelling") {
          waiter.done(record);
          settled++;
        } else if (waiter.seen) progressed++;
        waiter.seen = true;
      }
      // Progress only (XAPI writes it while xenopsd works): pause as a poll would before asking again.
      if (settled > 0 || progressed === 0) quiet = 0;
      else await sleep(backoffDelay(this.#poll, quiet++));
    }
  }
}

/** The last event of each task ref in an answer (events come in generation order). */
function lastEventOf(events: readonly TaskEvent[]): Map<string, TaskEvent> {
  const last = new Map<string, TaskEvent>();
  for (const event of events) {
    if (event.class === "task" && typeof event.ref === "string") last.set(event.ref, event);
  }
  return last;
}

/**
 * Wait until `settled(deadline)` yields the final record (undefined = deadline passed: cancel and wait the
 * grace), destroy the task in any case, and return the decoded result.
 */
async function settleAndDestroy(
  call: SessionCall,
  task: TaskRef,
  method: string,
  options: WaitOptions,
  settled: (deadline: number) => Promise<TaskRecord | undefined>,
): Promise<unknown> {
  const { timeoutMs } = options;
  const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
  try {
    let record: TaskRecord | undefined;
    try {
      record = await settled(deadline);
      if (record === undefined) {
        // Best effort: XAPI may refuse (OPERATION_NOT_ALLOWED) or the task may finish meanwhile.
        await call("task.cancel", [task]).catch(() => undefined);
        record = await settled(Date.now() + CANCEL_GRACE_MS);
        // The operation may have completed before the cancel landed: then it succeeded.
        if (record?.status !== "success") throw new XapiTimeoutError(method, task, timeoutMs ?? 0);
      }
    } finally {
      options.onEnded?.();
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
 * (xen-api ocaml/xapi/taskHelper.ml `set_result_on_task`): `"<value></value>"` for void,
 * `"<value>OpaqueRef:…</value>"` for a ref.
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
