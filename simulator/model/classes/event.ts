/**
 * XAPI class `event` (docs/simulator-behaviour.md#events): `from` (long-poll over every table's generations),
 * `inject` and `get_current_id`, and the helpers that fold changes into events.
 */
import { XapiFault, XInt32, type XValue } from "../../api";
import type { Engine } from "../engine";
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
  def("event.get_current_id", [], () => String(e.db.gen));
}

// ------------------------------------------------------------------ batching

/**
 * How long one event call waits before looking and between looks (xen-api ocaml/xapi-aux/throttle.ml
 * `Batching`): `beforeMs` before the first look; after a look that found nothing and a wait for a change,
 * a pause that starts at `betweenMs / 8` and doubles up to `betweenMs`, so changes made close together
 * come back in one answer (docs/simulator-behaviour.md#events).
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
 * XAPI's `from_inner` under `Throttle.Batching.with_recursive_loop`: pause `beforeMs`, look; while a look
 * finds nothing and the deadline has not passed, wait for a subscribed object to change (or the deadline),
 * pause the doubling delay, look again. The model's close ends every wait and pause: the answer is then
 * what the last look found.
 */
async function grabNonEmpty(
  e: Engine,
  from: number,
  subs: readonly Subscription[],
  batching: Batching,
  deadline: number,
): Promise<{ events: XValue[]; last: number }> {
  let since = from;
  // `delay_initial` is delay_between / 16; the first pause after a wait is twice that.
  let pauseMs = batching.betweenMs / 16;
  await pause(e, batching.beforeMs);
  for (;;) {
    const grabbed = collectEvents(e, since, subs);
    if (grabbed.events.length > 0 || e.clock.now() >= deadline || e.clock.closed) return grabbed;
    // Nothing relevant fell out: the client is up to date to `last` (xapi_event.ml).
    since = grabbed.last;
    await waitForSubscribed(e, since, subs, deadline);
    pauseMs = Math.min(batching.betweenMs, 2 * pauseMs);
    await pause(e, pauseMs);
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

interface Subscription {
  readonly cls: string | "*";
  readonly ref?: string;
}

function parseSubscription(s: string): Subscription {
  if (s === "*") return { cls: "*" };
  const parts = s.split("/");
  if (parts.length === 1 && parts[0]) return { cls: parts[0].toLowerCase() };
  if (parts.length === 2 && parts[0] && parts[1]) return { cls: parts[0].toLowerCase(), ref: parts[1] };
  throw new XapiFault(ErrorCode.eventSubscriptionParseFailure, [s]);
}

/** A `task` or `task/<ref>` subscription (xapi_event.ml `Subscription.is_task_only`). */
function isTaskOnly(sub: Subscription): boolean {
  return sub.cls === "task";
}

function matches(subs: readonly Subscription[], cls: string, ref: string): boolean {
  return subs.some((s) => s.cls === "*" || (s.cls === cls && (s.ref === undefined || s.ref === ref)));
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
  const found: { gen: number; event: XValue }[] = [];
  for (const table of e.tables) {
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
  }
  found.sort((a, b) => a.gen - b.gen);
  return { events: found.map((f) => f.event), last: e.db.gen };
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
