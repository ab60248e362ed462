/**
 * The event subscriptions and the event queue of the legacy `event.register` / `event.next` API
 * (docs/simulator-behaviour.md#events), after the `Next` module of xen-api ocaml/xapi/xapi_event.ml: one
 * subscription per session, one queue for the whole pool, numbered by a counter that only moves when an
 * event is queued. Also the subscription parsing and matching `event.from` shares.
 */
import { createHash } from "node:crypto";
import { XapiFault, type XValue } from "../api";
import { ErrorCode } from "./vocabulary";

/** One `event.register` / `event.from` subscription: a class (lower case) or `*`, and maybe one object. */
export interface Subscription {
  readonly cls: string | "*";
  readonly ref?: string;
}

/**
 * `*`, `class` or `class/ref`, the class lower-cased (xapi_event.ml `Subscription.of_string`); anything
 * else → EVENT_SUBSCRIPTION_PARSE_FAILURE [subscription].
 */
export function parseSubscription(s: string): Subscription {
  if (s === "*") return { cls: "*" };
  const parts = s.split("/");
  if (parts.length === 1 && parts[0]) return { cls: parts[0].toLowerCase() };
  if (parts.length === 2 && parts[0] && parts[1]) return { cls: parts[0].toLowerCase(), ref: parts[1] };
  throw new XapiFault(ErrorCode.eventSubscriptionParseFailure, [s]);
}

/** Whether one of `subs` selects the object `ref` of class `cls` (`Subscription.object_matches`). */
export function matches(subs: readonly Subscription[], cls: string, ref: string): boolean {
  const lower = cls.toLowerCase();
  return subs.some((s) => s.cls === "*" || (s.cls === lower && (s.ref === undefined || s.ref === ref)));
}

/** Structural equality of two subscriptions, as `List.mem` compares them in `unregister`. */
function sameSubscription(a: Subscription, b: Subscription): boolean {
  return a.cls === b.cls && a.ref === b.ref;
}

/**
 * The most bytes of JSON the queue holds (xapi_event.ml `Next.max_queue_size`: 10,000,000, each event
 * measured as the length of its JSON-RPC text, `Next.event_size`).
 */
export const MAX_QUEUE_BYTES = 10_000_000;

/** One queued event: its number, its size, what it is about, and the record `event.next` returns. */
export interface QueuedEvent {
  readonly id: number;
  readonly size: number;
  readonly cls: string;
  readonly ref: string;
  readonly record: { readonly [key: string]: XValue };
}

/** A session's subscription (`Next.subscription`). */
export interface NextSubscription {
  readonly session: string;
  /** The number of the first event this session has not been given yet (`last_id`). */
  lastId: number;
  subs: Subscription[];
  /** Set when the session is gone (logout, reset): a waiting `event.next` then fails SESSION_INVALID. */
  invalid: boolean;
}

/** XAPI's `Context.trackid_of_session`: "trackid=" and the MD5 of the session ref, in hex. */
export function trackIdOfSession(session: string): string {
  return `trackid=${createHash("md5").update(session).digest("hex")}`;
}

/** The pool's `event.next` state: the queue, its counter and the per-session subscriptions. */
export class EventQueue {
  /** One more than the newest queued event's number (`Next.id`; `event.get_current_id` returns it). */
  id = 0;
  /** Oldest first (XAPI keeps it newest first; only the order of reading matters). */
  private queue: QueuedEvent[] = [];
  private bytes = 0;
  /** The newest event dropped to keep the queue under {@link MAX_QUEUE_BYTES} (`highest_forgotten_id`). */
  private highestForgotten = -1;
  private readonly subscriptions = new Map<string, NextSubscription>();

  constructor(private readonly maxBytes = MAX_QUEUE_BYTES) {}

  /** Whether any session's subscription selects the object (`Next.add` queues only such events). */
  wanted(cls: string, ref: string): boolean {
    for (const sub of this.subscriptions.values()) if (matches(sub.subs, cls, ref)) return true;
    return false;
  }

  /** Whether any subscription could select an object of `cls` (so changes nobody wants cost nothing). */
  wantsClass(cls: string): boolean {
    const lower = cls.toLowerCase();
    for (const sub of this.subscriptions.values()) {
      if (sub.subs.some((s) => s.cls === "*" || s.cls === lower)) return true;
    }
    return false;
  }

  /**
   * Queues an event numbered with the counter (which then moves on), then drops the oldest events if the
   * queue is over its size (`Next.add`). `build` makes the record from the event's number.
   */
  add(
    cls: string,
    ref: string,
    build: (id: number) => { record: QueuedEvent["record"]; size: number },
  ): void {
    if (!this.wanted(cls, ref)) return;
    const { record, size } = build(this.id);
    this.queue.push({ id: this.id, size, cls, ref, record });
    this.bytes += size;
    this.id += 1;
    if (this.bytes > this.maxBytes) this.collect();
  }

  /**
   * Keeps the newest events while their running total stays under the limit and forgets the rest,
   * remembering the newest forgotten number (`Next.add`'s GC: the total counts dropped events too, so
   * everything older than the first event that does not fit goes).
   */
  private collect(): void {
    let total = 0;
    let keepFrom = this.queue.length;
    while (keepFrom > 0) {
      const size = this.queue[keepFrom - 1]?.size ?? 0;
      if (total + size >= this.maxBytes) break;
      total += size;
      keepFrom -= 1;
    }
    const dropped = this.queue.slice(0, keepFrom);
    const newestDropped = dropped[dropped.length - 1];
    if (newestDropped !== undefined) this.highestForgotten = newestDropped.id;
    this.queue = this.queue.slice(keepFrom);
    this.bytes = total;
  }

  /** The session's subscription, made on first use with nothing subscribed (`Next.get_subscription`). */
  subscription(session: string): NextSubscription {
    let sub = this.subscriptions.get(session);
    if (sub === undefined) {
      // A new subscription starts at the counter: nothing queued before it is for this session.
      sub = { session, lastId: this.id, subs: [], invalid: false };
      this.subscriptions.set(session, sub);
    }
    return sub;
  }

  /** SESSION_NOT_REGISTERED [trackid] unless the session registered (`Next.assert_subscribed`). */
  assertSubscribed(session: string): NextSubscription {
    const sub = this.subscriptions.get(session);
    if (sub === undefined) throw new XapiFault(ErrorCode.sessionNotRegistered, [trackIdOfSession(session)]);
    return sub;
  }

  /** Adds `subs` to the session's subscription (xapi_event.ml `register`: new ones first, duplicates kept). */
  register(session: string, subs: readonly Subscription[]): void {
    const sub = this.subscription(session);
    sub.subs = [...subs, ...sub.subs];
  }

  /**
   * Removes every subscription equal to one of `subs` (`unregister`); like XAPI, a session that never
   * registered gets an empty subscription, so its `event.next` then blocks instead of failing.
   */
  unregister(session: string, subs: readonly Subscription[]): void {
    const sub = this.subscription(session);
    sub.subs = sub.subs.filter((s) => !subs.some((x) => sameSubscription(s, x)));
  }

  /**
   * The numbers `[from, to)` this call owns, possibly empty: the subscription moves past them at once, so
   * concurrent calls of one session get disjoint ranges (`next`'s `grab_range`).
   */
  grabRange(sub: NextSubscription): [number, number] {
    const from = sub.lastId;
    sub.lastId = this.id;
    return [from, this.id];
  }

  /**
   * The queued events numbered in `[from, to)`, oldest first; EVENTS_LOST [] when any event from `from` on
   * was dropped (`Next.events_read`).
   */
  read(from: number, to: number): QueuedEvent[] {
    if (this.highestForgotten >= from) throw new XapiFault(ErrorCode.eventsLost, []);
    return this.queue.filter((ev) => ev.id >= from && ev.id < to);
  }

  /** Ends the subscriptions of sessions that no longer exist (`Next.on_session_deleted`). */
  endSessions(exists: (session: string) => boolean): void {
    for (const [session, sub] of this.subscriptions) {
      if (exists(session)) continue;
      sub.invalid = true;
      this.subscriptions.delete(session);
    }
  }
}
