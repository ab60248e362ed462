/**
 * XAPI class `event` (docs/simulator-behaviour.md#events): `from` (long-poll over every table's generations),
 * `inject`, `get_current_id`, the legacy `register` / `unregister` / `next` (a per-session subscription and a
 * pool-wide queue, ../event-queue.ts), and the helpers that fold changes into events.
 */
import { XapiFault, XInt32, type XValue } from "../../api";
import { encodeJsonValue } from "../../wire/jsonrpc";
import type { Table } from "../db";
import { closedFault, type Engine, ocamlFloat } from "../engine";
import {
  EventQueue,
  matches,
  type NextSubscription,
  parseSubscription,
  type Subscription,
} from "../event-queue";
import { num, str, strList } from "../params";
import { ErrorCode } from "../vocabulary";
import type { Def } from "./registry";

export function registerEvent(def: Def, e: Engine): void {
  def("event.inject", ["class", "ref"], ({ args }) => {
    const cls = str(args, 0, "class");
    const ref = str(args, 1, "ref");
    // The ref's table must be exactly `class` ("VM", "pool", "task"; xapi_event.ml `inject`).
    const table = e.tables.find((t) => t.name === cls);
    if (!table?.has(ref)) throw new XapiFault(ErrorCode.handleInvalid, [cls, ref]);
    const before = e.db.gen;
    table.touch(ref);
    return formatToken(before);
  });
  def("event.from", ["classes", "token", "timeout"], async ({ args }) => {
    const classes = strList(args, 0, "classes");
    const token = str(args, 1, "token");
    const timeout = eventTimeoutSeconds(args);
    const since = parseToken(token);
    const subs = classes.map(parseSubscription);
    const batching = subs.every(isTaskOnly) ? EVENT_FROM_TASK_BATCHING : EVENT_FROM_BATCHING;
    const { events, last } = await grabNonEmpty(e, since, subs, batching, e.clock.now() + timeout * 1000);
    return { events, valid_ref_counts: validRefCounts(e), token: formatToken(last) };
  });
  registerEventNext(def, e);
}

// ------------------------------------------------------------------ register / unregister / next

/**
 * The legacy API (xapi_event.ml `register`, `unregister`, `next`, `get_current_id`): each session has
 * one subscription; every change an existing subscription selects is queued with the next number of a
 * pool-wide counter, and `next` hands a session what its subscription selects of what was queued since
 * its last call.
 */
function registerEventNext(def: Def, e: Engine): void {
  const queue = new EventQueue();
  feedQueue(e, queue);
  def("event.register", ["classes"], ({ args, session }) => {
    queue.register(session ?? "", strList(args, 0, "classes").map(parseSubscription));
    return "";
  });
  def("event.unregister", ["classes"], ({ args, session }) => {
    queue.unregister(session ?? "", strList(args, 0, "classes").map(parseSubscription));
    return "";
  });
  def("event.next", [], async ({ session }) => {
    for (;;) {
      // Each round is XAPI's `next ~__context` again: the check, then the 200 ms pause.
      const sub = queue.assertSubscribed(session ?? "");
      await pause(e, EVENT_NEXT_BATCHING.beforeMs);
      const [from, to] = await grabNonEmptyRange(e, queue, sub, EVENT_NEXT_BATCHING);
      const relevant = queue.read(from, to).filter((ev) => matches(sub.subs, ev.cls, ev.ref));
      if (relevant.length > 0) return relevant.map((ev) => ev.record);
    }
  });
  // The number the next queued event gets (`get_current_id` reads `Next.id`, not the DB generation).
  def("event.get_current_id", [], () => queue.id);
}

/**
 * Queues every change as `event.next` reports it (xapi_event.ml `event_add`, called for each database
 * write): the object's class in lower case, add / mod / del, its record at that moment as `snapshot`
 * (none for del here; see docs), `timestamp` the Unix time in whole seconds as OCaml prints a float.
 * A session that disappears (logout, reset) loses its subscription (`on_session_deleted`).
 */
function feedQueue(e: Engine, queue: EventQueue): void {
  e.db.onChange((name) => {
    if (name === "session") queue.endSessions((s) => e.sessions.has(s));
    const table = e.tables.find((t) => t.name === name);
    if (table === undefined || !hasEvents(table) || !queue.wantsClass(name)) return;
    // The change just made is the only one newer than the generation before it.
    for (const { event } of stampedTableEvents(e, table, e.db.gen - 1, ALL)) {
      queue.add(event.class, event.ref, (id) => {
        const record = { ...event, id: String(id), timestamp: ocamlFloat(Math.floor(e.clock.now() / 1000)) };
        return { record, size: Buffer.byteLength(encodeJsonValue(record)) };
      });
    }
  });
}

/** `event.next`'s batching (ocaml/xapi/xapi_globs.ml `event_next_delay`: 200 ms before, 50 ms between). */
export const EVENT_NEXT_BATCHING: Batching = { beforeMs: 200, betweenMs: 50 };

/**
 * `next`'s `grab_nonempty_range` under `Throttle.Batching.with_recursive_loop`: take the range of numbers
 * queued since the session's last call; while it is empty, wait until anything is queued, then look again
 * after the pause {@link recursionPauses} gives.
 */
async function grabNonEmptyRange(
  e: Engine,
  queue: EventQueue,
  sub: NextSubscription,
  batching: Batching,
): Promise<[number, number]> {
  const pauses = recursionPauses(batching);
  for (;;) {
    const range = queue.grabRange(sub);
    if (range[0] !== range[1]) return range;
    await waitForQueued(e, queue, sub, range[1]);
    await pause(e, pauses.next().value);
  }
}

/**
 * Until the queue's counter passes `seen` (any session's event; `Next.wait`), or the session is gone
 * (SESSION_INVALID [session]), or the model closes (INTERNAL_ERROR, as for every call the close cuts).
 */
async function waitForQueued(
  e: Engine,
  queue: EventQueue,
  sub: NextSubscription,
  seen: number,
): Promise<void> {
  while (queue.id === seen && !sub.invalid) {
    if (e.clock.closed) throw closedFault();
    await e.db.waitForChange(Number.POSITIVE_INFINITY);
  }
  if (sub.invalid) throw new XapiFault(ErrorCode.sessionInvalid, [sub.session]);
}

// ------------------------------------------------------------------ batching

/**
 * How long one event call waits before looking and between looks (xen-api ocaml/xapi-aux/throttle.ml
 * `Batching`): `beforeMs` before the first look; after a look that found nothing and a wait for a change,
 * the pauses of {@link recursionPauses} (docs/simulator-behaviour.md#events).
 */
export interface Batching {
  readonly beforeMs: number;
  readonly betweenMs: number;
}

/** `event.from`'s batching (ocaml/xapi/xapi_globs.ml `event_from_delay`: 50 ms, 50 ms). */
export const EVENT_FROM_BATCHING: Batching = { beforeMs: 50, betweenMs: 50 };
/** `event.from`'s batching when every subscription is `task` or `task/<ref>` (`event_from_task_delay`). */
export const EVENT_FROM_TASK_BATCHING: Batching = { beforeMs: 0, betweenMs: 50 };

/**
 * The pause before each look that follows a wait, in order, as `Throttle.Batching.with_recursive_loop`
 * inserts them: none for the first recursion (its `self0`), then `delay_initial` (`betweenMs / 16`) doubled,
 * doubling up to `betweenMs`: 0, 6.25, 12.5, 25, 50, 50, … ms for a 50 ms `betweenMs`.
 */
function* recursionPauses(batching: Batching): Generator<number, never> {
  yield 0;
  for (let ms = batching.betweenMs / 8; ; ms = Math.min(batching.betweenMs, 2 * ms)) yield ms;
}

/**
 * XAPI's `from_inner` under `Throttle.Batching.with_recursive_loop`: pause `beforeMs`, look; while a look
 * finds nothing and the deadline has not passed, wait for a subscribed object to change (or the deadline),
 * pause as {@link recursionPauses} says, look again. The model's close ends every wait and pause: the
 * answer is then what the last look found.
 */
async function grabNonEmpty(
  e: Engine,
  from: number,
  subs: readonly Subscription[],
  batching: Batching,
  deadline: number,
): Promise<{ events: XValue[]; last: number }> {
  let since = from;
  const pauses = recursionPauses(batching);
  await pause(e, batching.beforeMs);
  for (;;) {
    const grabbed = collectEvents(e, since, subs);
    if (grabbed.events.length > 0 || e.clock.now() >= deadline || e.clock.closed) return grabbed;
    // Nothing relevant fell out: the client is up to date to `last` (xapi_event.ml).
    since = grabbed.last;
    await waitForSubscribed(e, since, subs, deadline);
    await pause(e, pauses.next().value);
  }
}

/**
 * Until an object of `subs` changed after `since`, the deadline passed or the model closed. XAPI wakes a
 * waiting call only for a change its subscriptions select (xapi_event.ml `From.add`, `wait2`); the
 * database here wakes its waiters on any change, so a change of another object just waits again.
 */
async function waitForSubscribed(
  e: Engine,
  since: number,
  subs: readonly Subscription[],
  deadline: number,
): Promise<void> {
  let seen = since;
  while (e.clock.now() < deadline && !e.clock.closed) {
    await e.db.waitForChange(deadline - e.clock.now());
    const { events, last } = collectEvents(e, seen, subs);
    if (events.length > 0) return;
    seen = last;
  }
}

/** Sleep `ms` on the model's clock; the model's close ends it early (the call then answers at once). */
async function pause(e: Engine, ms: number): Promise<void> {
  if (ms <= 0) return;
  await e.clock.sleep(ms).catch(() => undefined);
}

// ------------------------------------------------------------------ events helpers

/** XAPI's default wait when the timeout is not a span (xapi_event.ml `from`: 24 hours). */
const EVENT_FROM_DEFAULT_S = 24 * 60 * 60;

/**
 * `event.from`'s timeout in seconds, as XAPI reads it: `Mtime.Span.of_float_ns` turns a negative,
 * NaN, infinite or too large value into None, which `from` replaces with 24 hours.
 */
function eventTimeoutSeconds(args: readonly unknown[]): number {
  const raw = args[2];
  const seconds = typeof raw === "number" ? raw : num(args, 2, "timeout");
  return seconds >= 0 && seconds * 1e9 < 2 ** 64 ? seconds : EVENT_FROM_DEFAULT_S;
}

/** `"%020d,%020d"`: the DB generation and the message generation (always 0 here). */
export function formatToken(gen: number): string {
  return `${String(gen).padStart(20, "0")},${"0".repeat(20)}`;
}

/**
 * "" → 0; "N,M" → N; anything else → EVENT_FROM_TOKEN_PARSE_FAILURE [token] (xapi_event.ml
 * `Token.of_string`).
 */
export function parseToken(token: string): number {
  if (token === "") return 0;
  const m = /^(\d+),(\d+)$/.exec(token);
  if (!m?.[1]) throw new XapiFault(ErrorCode.eventFromTokenParseFailure, [token]);
  return Number(m[1]);
}

/** A `task` or `task/<ref>` subscription (xapi_event.ml `Subscription.is_task_only`). */
function isTaskOnly(sub: Subscription): boolean {
  return sub.cls === "task";
}

/** Every object of every class (the queue filters by the sessions' subscriptions itself). */
const ALL: readonly Subscription[] = [{ cls: "*" }];

/**
 * Classes whose datamodel says `gen_events:false`: no event is ever made for them (xapi_event.ml
 * `generate_events_for`, and `from_inner`'s table list). Of the simulator's classes only `session`.
 */
const NO_EVENTS: ReadonlySet<string> = new Set(["session"]);

function hasEvents(table: Table<unknown>): boolean {
  return !NO_EVENTS.has(table.name);
}

/**
 * The events since generation `since`, folded to one per object (add if created since, mod
 * otherwise, del for deleted rows that existed at `since`), in generation order
 * (docs/simulator-behaviour.md#events).
 */
export function collectEvents(
  e: Engine,
  since: number,
  subs: readonly Subscription[],
): { events: XValue[]; last: number } {
  const found: { gen: number; event: EventRecord }[] = [];
  for (const table of e.tables) {
    if (hasEvents(table)) found.push(...stampedTableEvents(e, table, since, subs));
  }
  found.sort((a, b) => a.gen - b.gen);
  return { events: found.map((f) => f.event), last: e.db.gen };
}

/** One event as `event.from` and `event.next` return it (ocaml/xapi-types/event_types.ml `event`). */
type EventRecord = { readonly class: string; readonly ref: string; readonly [key: string]: XValue };

/** One table's events since `since` (see {@link collectEvents}), in the table's order, with their generations. */
function stampedTableEvents(
  e: Engine,
  table: Table<unknown>,
  since: number,
  subs: readonly Subscription[],
): { gen: number; event: EventRecord }[] {
  const found: { gen: number; event: EventRecord }[] = [];
  const cls = table.name.toLowerCase();
  for (const row of table.rows.values()) {
    if (row.modified <= since || !matches(subs, cls, row.ref)) continue;
    const operation = row.created > since ? "add" : "mod";
    found.push({
      gen: row.modified,
      event: {
        // XAPI numbers an add with the creation's generation, a mod with the last modification's.
        id: String(operation === "add" ? row.created : row.modified),
        timestamp: "0.0",
        class: cls,
        operation,
        ref: row.ref,
        snapshot: e.wire(table.name, row.value as object),
      },
    });
  }
  for (const tomb of table.deleted.values()) {
    // Created and destroyed since the last update: never seen, not reported (xapi_event.ml).
    if (tomb.deleted <= since || tomb.created > since || !matches(subs, cls, tomb.ref)) continue;
    found.push({
      gen: tomb.deleted,
      event: { id: String(tomb.deleted), timestamp: "0.0", class: cls, operation: "del", ref: tomb.ref },
    });
  }
  return found;
}

/**
 * Live row counts of every table, lower-case names, as Int32 (docs/simulator-behaviour.md#events; xen-api
 * needs `task`).
 */
export function validRefCounts(e: Engine): { [cls: string]: XValue } {
  const out: { [cls: string]: XValue } = {};
  for (const table of e.tables) out[table.name.toLowerCase()] = new XInt32(table.size);
  return out;
}
