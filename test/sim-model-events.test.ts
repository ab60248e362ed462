/** xapi-sim events (xapi-semantics §8.7): tokens, folding, subscriptions, long-poll and timeout. */
import { describe, expect, it } from "vitest";
import { XInt32 } from "../simulator/api";
import { FIXTURE, harness, type SimEvent } from "./sim-model-helpers";

type Ev = SimEvent;
interface From {
  events: Ev[];
  valid_ref_counts: Record<string, XInt32>;
  token: string;
}

const TOKEN = /^\d{20},\d{20}$/;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("event.from", () => {
  it("returns every object as add from the empty token, with a %020d,%020d token", async () => {
    const h = await harness();
    const from = (await h.call("event.from", ["vm"], "", 0)) as unknown as From;
    expect(from.token).toMatch(TOKEN);
    const vmCount = ((await h.call("VM.get_all")) as string[]).length;
    expect(from.events).toHaveLength(vmCount);
    expect(new Set(from.events.map((e) => `${e.class}/${e.operation}`))).toEqual(new Set(["vm/add"]));
    expect(from.valid_ref_counts.vm).toEqual(new XInt32(vmCount));
  });

  it("carries a full record snapshot, the object's ref and lower-case class", async () => {
    const h = await harness();
    const from = (await h.call("event.from", [`VM/${FIXTURE.web.ref}`], "", 0)) as unknown as From;
    expect(from.events).toHaveLength(1);
    const [event] = from.events;
    expect(event).toMatchObject({ class: "vm", operation: "add", ref: FIXTURE.web.ref, timestamp: "0.0" });
    expect(event?.snapshot?.name_label).toBe("web-01");
    expect(event?.id).toMatch(/^\d+$/);
  });

  it("folds several changes of one object into one mod event", async () => {
    const h = await harness();
    const { token } = (await h.call("event.from", ["vm"], "", 0)) as unknown as From;
    await h.call("VM.set_PV_args", FIXTURE.db.ref, "a");
    await h.call("VM.set_PV_args", FIXTURE.db.ref, "b");
    await h.call("VM.set_name_description", FIXTURE.db.ref, "c");
    const from = (await h.call("event.from", ["vm"], token, 1)) as unknown as From;
    expect(from.events.map((e) => [e.operation, e.ref])).toEqual([["mod", FIXTURE.db.ref]]);
    expect(from.events[0]?.snapshot?.PV_args).toBe("b");
  });

  it("numbers an add event with the object's creation, whatever changed it since (xapi_event.ml)", async () => {
    const h = await harness();
    const { token } = (await h.call("event.from", ["vm"], "", 0)) as unknown as From;
    const clone = (await h.call("VM.clone", FIXTURE.db.ref, "fresh")) as string;
    const first = (await h.call("event.from", [`vm/${clone}`], token, 1)) as unknown as From;
    await h.call("VM.set_name_description", clone, "changed since");
    const again = (await h.call("event.from", [`vm/${clone}`], token, 1)) as unknown as From;
    expect(again.events.map((e) => [e.operation, e.id])).toEqual(
      first.events.map((e) => [e.operation, e.id]),
    );
  });

  it("reports del without a snapshot for a destroyed object", async () => {
    const h = await harness();
    const { token } = (await h.call("event.from", ["vm"], "", 0)) as unknown as From;
    await h.call("VM.destroy", FIXTURE.db.ref);
    const from = (await h.call("event.from", ["vm"], token, 1)) as unknown as From;
    expect(from.events).toEqual([expect.objectContaining({ operation: "del", ref: FIXTURE.db.ref })]);
    expect(from.events[0]).not.toHaveProperty("snapshot");
  });

  it("skips objects created and destroyed since the token", async () => {
    const h = await harness();
    const { token } = (await h.call("event.from", ["task"], "", 0)) as unknown as From;
    const task = (await h.call("Async.VM.start", FIXTURE.db.ref, false, false)) as string;
    await h.settle(task);
    await h.call("task.destroy", task);
    await h.call("VM.set_PV_args", FIXTURE.db.ref, "x");
    const from = (await h.call("event.from", ["task", "vm"], token, 0)) as unknown as From;
    expect(from.events.filter((e) => e.class === "task")).toEqual([]);
  });

  it("shows an async task's progress through events up to its result", async () => {
    const h = await harness();
    const { token } = (await h.call("event.from", ["task"], "", 0)) as unknown as From;
    const task = (await h.call("Async.VM.start", FIXTURE.db.ref, false, false)) as string;
    await h.settle(task);
    const from = (await h.call("event.from", ["task"], token, 1)) as unknown as From;
    expect(from.events).toEqual([
      expect.objectContaining({
        operation: "add",
        ref: task,
        snapshot: expect.objectContaining({ status: "success" }),
      }),
    ]);
  });

  it("answers EVENT_FROM_TOKEN_PARSE_FAILURE [token] for a bad token", async () => {
    const h = await harness();
    const fault = await h.fault("event.from", ["vm"], "garbage", 0);
    expect([fault.code, ...fault.params]).toEqual(["EVENT_FROM_TOKEN_PARSE_FAILURE", "garbage"]);
  });

  it("answers EVENT_FROM_TOKEN_PARSE_FAILURE for a token without its second part (Token.of_string)", async () => {
    const h = await harness();
    const fault = await h.fault("event.from", ["vm"], "12", 0);
    expect([fault.code, ...fault.params]).toEqual(["EVENT_FROM_TOKEN_PARSE_FAILURE", "12"]);
  });

  it("answers EVENT_SUBSCRIPTION_PARSE_FAILURE for a malformed subscription", async () => {
    const h = await harness();
    const fault = await h.fault("event.from", ["vm/a/b"], "", 0);
    expect([fault.code, ...fault.params]).toEqual(["EVENT_SUBSCRIPTION_PARSE_FAILURE", "vm/a/b"]);
  });

  it("counts every table in valid_ref_counts, task included", async () => {
    const h = await harness();
    const from = (await h.call("event.from", ["pool"], "", 0)) as unknown as From;
    expect(Object.keys(from.valid_ref_counts).sort()).toEqual([
      "host",
      "host_metrics",
      "message",
      "network",
      "pbd",
      "pif",
      "pif_metrics",
      "pool",
      "session",
      "sr",
      "task",
      "vbd",
      "vdi",
      "vif",
      "vm",
      "vm_guest_metrics",
      "vm_metrics",
    ]);
    expect(from.valid_ref_counts.session).toEqual(new XInt32(1));
  });
});

describe("long-poll", () => {
  it("holds an empty batch back until the timeout, then returns no events", async () => {
    const h = await harness();
    const { token } = (await h.call("event.from", ["vm"], "", 0)) as unknown as From;
    const started = Date.now();
    const from = (await h.call("event.from", ["vm"], token, 0.15)) as unknown as From;
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(from.events).toEqual([]);
    expect(from.token).toMatch(TOKEN);
  });

  it("returns as soon as a subscribed object changes", async () => {
    const h = await harness();
    const { token } = (await h.call("event.from", ["vm"], "", 0)) as unknown as From;
    const started = Date.now();
    setTimeout(() => void h.call("VM.set_PV_args", FIXTURE.db.ref, "now"), 30);
    const from = (await h.call("event.from", ["vm"], token, 10)) as unknown as From;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(from.events.map((e) => e.ref)).toEqual([FIXTURE.db.ref]);
  });

  it("ignores changes to classes it is not subscribed to", async () => {
    const h = await harness();
    const { token } = (await h.call("event.from", ["pool"], "", 0)) as unknown as From;
    setTimeout(() => void h.call("VM.set_PV_args", FIXTURE.db.ref, "now"), 10);
    const from = (await h.call("event.from", ["pool"], token, 0.1)) as unknown as From;
    expect(from.events).toEqual([]);
  });

  it.each([
    ["infinite", Number.POSITIVE_INFINITY],
    ["negative", -1],
  ])("treats a %s timeout as a long wait, not an immediate return (XAPI: 24 h)", async (_kind, timeout) => {
    const h = await harness();
    const { token } = (await h.call("event.from", ["vm"], "", 0)) as unknown as From;
    const pending = h.call("event.from", ["vm"], token, timeout);
    const early = await Promise.race([pending.then(() => "returned"), delay(80).then(() => "waiting")]);
    await h.call("VM.set_PV_args", FIXTURE.db.ref, "wake");
    const from = (await pending) as unknown as From;
    expect([early, from.events.map((e) => e.ref)]).toEqual(["waiting", [FIXTURE.db.ref]]);
  });

  it("waits out a timeout beyond setTimeout's range without overflowing Node's timer", async () => {
    const h = await harness();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    const { token } = (await h.call("event.from", ["vm"], "", 0)) as unknown as From;
    const pending = h.call("event.from", ["vm"], token, 1e7);
    await delay(50);
    await h.call("VM.set_PV_args", FIXTURE.db.ref, "wake");
    await pending;
    await delay(10);
    process.off("warning", onWarning);
    expect(warnings.filter((name) => name === "TimeoutOverflowWarning")).toEqual([]);
  });

  it("ends when the model closes", async () => {
    const h = await harness();
    const { token } = (await h.call("event.from", ["vm"], "", 0)) as unknown as From;
    const started = Date.now();
    setTimeout(() => h.model.close(), 30);
    const from = (await h.call("event.from", ["vm"], token, 30)) as unknown as From;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(from.events).toEqual([]);
  });
});

describe("event.inject", () => {
  it("returns a token from which event.from reports the injected object at once", async () => {
    const h = await harness();
    const [pool] = (await h.call("pool.get_all")) as string[];
    await h.call("event.from", ["pool"], "", 0);
    const token = (await h.call("event.inject", "pool", pool)) as string;
    expect(token).toMatch(TOKEN);
    const from = (await h.call("event.from", ["pool"], token, 5)) as unknown as From;
    expect(from.events.map((e) => [e.class, e.operation, e.ref])).toEqual([["pool", "mod", pool]]);
  });

  it("answers HANDLE_INVALID for an unknown object", async () => {
    const h = await harness();
    const fault = await h.fault("event.inject", "pool", "OpaqueRef:nope");
    expect([fault.code, ...fault.params]).toEqual(["HANDLE_INVALID", "pool", "OpaqueRef:nope"]);
  });

  it("matches the class against the table name exactly, as xapi_event.ml does (VM, not vm)", async () => {
    const h = await harness();
    const fault = await h.fault("event.inject", "vm", FIXTURE.web.ref);
    expect([fault.code, ...fault.params]).toEqual(["HANDLE_INVALID", "vm", FIXTURE.web.ref]);
    expect(await h.call("event.inject", "VM", FIXTURE.web.ref)).toMatch(TOKEN);
  });
});
