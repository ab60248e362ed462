/**
 * xapi-sim's legacy event API (docs/simulator-behaviour.md#events; xen-api ocaml/xapi/xapi_event.ml
 * `register`, `unregister`, `next` and its `Next` module): a per-session subscription, a pool-wide queue
 * of every change, `next` blocking until its session has something.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { XapiFault } from "../simulator/api";
import { FIXTURE, type Harness, harness, MASTER, type SimEvent } from "./sim-model-helpers";

type NextEvent = SimEvent;

const next = async (h: Harness): Promise<NextEvent[]> =>
  (await h.call("event.next")) as unknown as NextEvent[];

/** A second root session of the same model; returns its ref and a caller. */
async function secondSession(h: Harness) {
  const ref = (await h.model.dispatch("session.login_with_password", ["root", "xapi-sim"], MASTER)) as string;
  const call = (method: string, ...args: unknown[]) => h.model.dispatch(method, [ref, ...args], MASTER);
  return { ref, call };
}

/** Resolves with the fault a pending call ends with (fails the test if it succeeds). */
async function faultOf(pending: Promise<unknown>): Promise<XapiFault> {
  try {
    await pending;
  } catch (error) {
    return error as XapiFault;
  }
  throw new Error("the call succeeded; a fault was expected");
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("event.register and event.next", () => {
  it("returns a VM change made after register: id, timestamp, lower-case class, operation, ref, snapshot", async () => {
    const h = await harness();
    await h.call("event.register", ["vm"]);
    await h.call("VM.set_name_description", FIXTURE.db.ref, "changed");
    const events = await next(h);
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(Object.keys(event ?? {})).toEqual(["id", "timestamp", "class", "operation", "ref", "snapshot"]);
    expect(event).toMatchObject({ id: "0", class: "vm", operation: "mod", ref: FIXTURE.db.ref });
    // OCaml's string_of_float of a whole number of seconds: "1724212345."
    expect(event?.timestamp).toMatch(/^\d{10}\.$/);
    expect(event?.snapshot?.name_description).toBe("changed");
    expect(event?.snapshot?.name_label).toBe("db-01");
  });

  it("reports every change, each with its own number and its record at that moment (no folding)", async () => {
    const h = await harness();
    await h.call("event.register", ["vm"]);
    await h.call("VM.set_name_description", FIXTURE.db.ref, "first");
    await h.call("VM.set_name_description", FIXTURE.db.ref, "second");
    const events = await next(h);
    expect(events.map((e) => [e.id, e.operation, e.snapshot?.name_description])).toEqual([
      ["0", "mod", "first"],
      ["1", "mod", "second"],
    ]);
  });

  it("does not report what changed before register, and numbers from get_current_id", async () => {
    const h = await harness();
    await h.call("VM.set_name_description", FIXTURE.db.ref, "before");
    expect(await h.call("event.get_current_id")).toBe(0);
    await h.call("event.register", ["vm"]);
    await h.call("VM.set_name_description", FIXTURE.web.ref, "after");
    expect(await h.call("event.get_current_id")).toBe(1);
    expect((await next(h)).map((e) => [e.ref, e.snapshot?.name_description])).toEqual([
      [FIXTURE.web.ref, "after"],
    ]);
  });

  it("blocks until a change arrives", async () => {
    const h = await harness();
    await h.call("event.register", ["vm"]);
    const pending = next(h);
    // Past the 200 ms before the first look: the call has found nothing and waits.
    const early = await Promise.race([pending.then(() => "returned"), delay(300).then(() => "waiting")]);
    await h.call("VM.set_name_description", FIXTURE.db.ref, "wake");
    const events = await pending;
    expect([early, events.map((e) => [e.ref, e.snapshot?.name_description])]).toEqual([
      "waiting",
      [[FIXTURE.db.ref, "wake"]],
    ]);
  });

  it("answers add for a new object and del (no snapshot here) for a destroyed one", async () => {
    const h = await harness();
    await h.call("event.register", ["vm"]);
    const clone = (await h.call("VM.clone", FIXTURE.db.ref, "fresh")) as string;
    // The clone is created, then its fields are filled in: one add, then a mod per write.
    const added = (await next(h)).filter((e) => e.ref === clone);
    expect([added[0]?.operation, added[0]?.snapshot?.name_label]).toEqual(["add", "fresh"]);
    expect(new Set(added.slice(1).map((e) => e.operation))).toEqual(new Set(["mod"]));
    await h.call("VM.destroy", clone);
    const last = (await next(h)).filter((e) => e.ref === clone).pop();
    expect([last?.class, last?.operation, last && Object.hasOwn(last, "snapshot")]).toEqual([
      "vm",
      "del",
      false,
    ]);
  });
});

describe("subscriptions", () => {
  it("gives a session only the classes it registered, though other sessions' events are queued too", async () => {
    const h = await harness();
    const other = await secondSession(h);
    await other.call("event.register", ["vm"]);
    await h.call("event.register", ["pool"]);
    const [pool] = (await h.call("pool.get_all")) as string[];
    await h.call("VM.set_name_description", FIXTURE.db.ref, "not for pool");
    await h.call("pool.set_name_description", pool, "for pool");
    expect((await next(h)).map((e) => [e.id, e.class, e.ref])).toEqual([["1", "pool", pool]]);
  });

  it("reads classes without regard to case, and * as every class", async () => {
    const h = await harness();
    const other = await secondSession(h);
    await h.call("event.register", ["VM"]);
    await other.call("event.register", ["*"]);
    const [pool] = (await h.call("pool.get_all")) as string[];
    await h.call("VM.set_name_description", FIXTURE.db.ref, "vm");
    await h.call("pool.set_name_description", pool, "pool");
    expect((await next(h)).map((e) => e.class)).toEqual(["vm"]);
    const everything = (await other.call("event.next")) as unknown as NextEvent[];
    expect(everything.map((e) => e.class)).toEqual(["vm", "pool"]);
  });

  it("selects one object with class/ref", async () => {
    const h = await harness();
    await h.call("event.register", [`vm/${FIXTURE.web.ref}`]);
    await h.call("VM.set_name_description", FIXTURE.db.ref, "other");
    await h.call("VM.set_name_description", FIXTURE.web.ref, "this one");
    expect((await next(h)).map((e) => e.ref)).toEqual([FIXTURE.web.ref]);
  });

  it("reports no session changes: sessions make no events (gen_events:false)", async () => {
    const h = await harness();
    await h.call("event.register", ["*"]);
    await secondSession(h);
    await h.call("VM.set_name_description", FIXTURE.db.ref, "after a login");
    expect((await next(h)).map((e) => e.class)).toEqual(["vm"]);
  });

  it("unregister removes a class (any case) and keeps the others", async () => {
    const h = await harness();
    await h.call("event.register", ["vm", "pool"]);
    await h.call("event.unregister", ["VM"]);
    const [pool] = (await h.call("pool.get_all")) as string[];
    await h.call("VM.set_name_description", FIXTURE.db.ref, "unregistered");
    await h.call("pool.set_name_description", pool, "still registered");
    expect((await next(h)).map((e) => [e.class, e.ref])).toEqual([["pool", pool]]);
  });

  it("answers EVENT_SUBSCRIPTION_PARSE_FAILURE for a malformed class", async () => {
    const h = await harness();
    const fault = await h.fault("event.register", ["vm/"]);
    expect([fault.code, ...fault.params]).toEqual(["EVENT_SUBSCRIPTION_PARSE_FAILURE", "vm/"]);
  });
});

describe("errors and the end of a subscription", () => {
  it("answers SESSION_NOT_REGISTERED [trackid=<md5 of the session>] to a session that registered nothing", async () => {
    const h = await harness();
    const fault = await h.fault("event.next");
    expect(fault.code).toBe("SESSION_NOT_REGISTERED");
    expect(fault.params).toEqual([`trackid=${createHash("md5").update(h.session).digest("hex")}`]);
    expect(fault.params[0]).toMatch(/^trackid=[0-9a-f]{32}$/);
  });

  it("ends a waiting next with SESSION_INVALID when its session logs out; a new session is not registered", async () => {
    const h = await harness();
    const other = await secondSession(h);
    await other.call("event.register", ["vm"]);
    const pending = other.call("event.next");
    await delay(300);
    await other.call("session.logout");
    const fault = await faultOf(pending);
    expect([fault.code, ...fault.params]).toEqual(["SESSION_INVALID", other.ref]);
    const fresh = await secondSession(h);
    const notRegistered = await faultOf(fresh.call("event.next"));
    expect(notRegistered.code).toBe("SESSION_NOT_REGISTERED");
  });

  it("answers EVENTS_LOST once the queue dropped events the session had not read, then goes on", async () => {
    const h = await harness();
    await h.call("event.register", ["vm"]);
    // Ten events of a little over 1 MB each pass the queue's 10,000,000 bytes: the oldest is dropped.
    const big = "x".repeat(1_000_000);
    for (let i = 0; i < 10; i++) await h.call("VM.set_name_description", FIXTURE.db.ref, `${big}${i}`);
    const fault = await h.fault("event.next");
    expect([fault.code, ...fault.params]).toEqual(["EVENTS_LOST"]);
    await h.call("VM.set_name_description", FIXTURE.db.ref, "small");
    expect((await next(h)).map((e) => [e.id, e.snapshot?.name_description])).toEqual([["10", "small"]]);
  });

  it("ends a waiting next with INTERNAL_ERROR when the model closes", async () => {
    const h = await harness();
    await h.call("event.register", ["vm"]);
    const pending = next(h);
    setTimeout(() => h.model.close(), 30);
    const fault = await faultOf(pending);
    expect(fault.code).toBe("INTERNAL_ERROR");
  });
});
