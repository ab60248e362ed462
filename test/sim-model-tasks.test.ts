/** xapi-sim tasks (xapi-semantics §8.6): records, results, errors, cancel, deferred destroy. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { XFloat } from "../simulator/api";
import { xmlRpcValue } from "../simulator/model/engine";
import { FIXTURE, harness } from "./sim-model-helpers";

const TASK_FIELDS = [
  "uuid",
  "name_label",
  "name_description",
  "allowed_operations",
  "current_operations",
  "created",
  "finished",
  "status",
  "resident_on",
  "progress",
  "type",
  "result",
  "error_info",
  "other_config",
  "subtask_of",
  "subtasks",
  "backtrace",
];

describe("async tasks", () => {
  it("returns a pending task with every §8.6 field, labelled with the wire name", async () => {
    const h = await harness({ operationMs: { start: 100 } });
    const task = (await h.call("Async.VM.start", FIXTURE.db.ref, false, false)) as string;
    const record = (await h.call("task.get_record", task)) as Record<string, unknown>;
    expect(Object.keys(record).sort()).toEqual([...TASK_FIELDS].sort());
    expect(record).toMatchObject({
      name_label: "Async.VM.start",
      status: "pending",
      result: "",
      error_info: [],
    });
    expect(await h.call("task.get_status", task)).toBe("pending");
  });

  it("encodes a void result as the XML-RPC string <value></value>", async () => {
    const h = await harness();
    const task = (await h.call("Async.VM.start", FIXTURE.db.ref, false, false)) as string;
    await h.settle(task);
    expect(await h.call("task.get_status", task)).toBe("success");
    expect(await h.call("task.get_result", task)).toBe("<value></value>");
    expect((await h.call("task.get_progress", task)) as { value: number }).toMatchObject({ value: 1 });
  });

  it("encodes a ref result as <value>OpaqueRef:…</value>", async () => {
    const h = await harness();
    const task = (await h.call("Async.VM.clone", FIXTURE.hvmTemplate.ref, "new-vm")) as string;
    const record = await h.settle(task);
    const [clone] = (await h.call("VM.get_by_name_label", "new-vm")) as string[];
    expect(record.result).toBe(`<value>${clone}</value>`);
  });

  it("puts a failure's [code, ...params] in error_info", async () => {
    const h = await harness();
    const task = (await h.call("Async.VM.unpause", FIXTURE.web.ref)) as string;
    await h.settle(task);
    expect(await h.call("task.get_status", task)).toBe("failure");
    expect(await h.call("task.get_error_info", task)).toEqual([
      "VM_BAD_POWER_STATE",
      FIXTURE.web.ref,
      "paused",
      "running",
    ]);
  });

  it("leaves no task behind for a sync call", async () => {
    const h = await harness();
    await h.call("VM.start", FIXTURE.db.ref, false, false);
    expect(await h.call("task.get_all")).toEqual([]);
  });
});

describe("task.destroy", () => {
  it("deletes a completed task at once", async () => {
    const h = await harness();
    const task = (await h.call("Async.VM.start", FIXTURE.db.ref, false, false)) as string;
    await h.settle(task);
    await h.call("task.destroy", task);
    const fault = await h.fault("task.get_record", task);
    expect([fault.code, ...fault.params]).toEqual(["HANDLE_INVALID", "task", task]);
  });

  it("defers the destroy of a pending task until it completes", async () => {
    const h = await harness({ operationMs: { start: 60 } });
    const task = (await h.call("Async.VM.start", FIXTURE.db.ref, false, false)) as string;
    await h.call("task.destroy", task);
    expect(await h.call("task.get_current_operations", task)).toEqual({ task: "destroy" });
    expect(await h.call("task.get_status", task)).toBe("pending");
    await new Promise((r) => setTimeout(r, 120));
    expect(await h.call("task.get_all")).toEqual([]);
    expect(await h.powerState(FIXTURE.db.ref)).toBe("Running");
  });
});

describe("task.cancel", () => {
  it("ends a pending op cancelled with TASK_CANCELLED [task] and leaves the VM as it was", async () => {
    const h = await harness({ operationMs: { start: 200 } });
    const task = (await h.call("Async.VM.start", FIXTURE.db.ref, false, false)) as string;
    await h.call("task.cancel", task);
    const record = await h.settle(task);
    expect(record.status).toBe("cancelled");
    expect(record.error_info).toEqual(["TASK_CANCELLED", task]);
    expect(await h.powerState(FIXTURE.db.ref)).toBe("Halted");
    expect(await h.call("VM.get_current_operations", FIXTURE.db.ref)).toEqual({});
  });

  it("answers void for a finished task and leaves it as it was (xapi_task.ml has no status check)", async () => {
    const h = await harness();
    const task = (await h.call("Async.VM.start", FIXTURE.db.ref, false, false)) as string;
    const before = await h.settle(task);
    expect(await h.call("task.cancel", task)).toBe("");
    expect(await h.call("task.get_record", task)).toEqual(before);
  });
});

describe("concurrent operations (§4.4)", () => {
  it("blocks a conflicting call until the running op ends, then checks again", async () => {
    const h = await harness({ operationMs: { start: 50 } });
    const first = h.call("VM.start", FIXTURE.db.ref, false, false);
    const second = h.fault("VM.start", FIXTURE.db.ref, false, false);
    await first;
    const fault = await second;
    expect([fault.code, ...fault.params]).toEqual([
      "VM_BAD_POWER_STATE",
      FIXTURE.db.ref,
      "halted",
      "running",
    ]);
  });

  it("never retries on the power state: pause during a start fails at once", async () => {
    const h = await harness({ operationMs: { start: 200 } });
    const start = h.call("VM.start", FIXTURE.db.ref, false, false);
    const started = Date.now();
    const fault = await h.fault("VM.pause", FIXTURE.db.ref);
    expect(Date.now() - started).toBeLessThan(150);
    expect([fault.code, ...fault.params]).toEqual([
      "VM_BAD_POWER_STATE",
      FIXTURE.db.ref,
      "running",
      "halted",
    ]);
    await start;
  });

  it("waits for the running op and then runs a legal follow-up", async () => {
    const h = await harness({ operationMs: { pause: 50 } });
    const pause = h.call("VM.pause", FIXTURE.web.ref);
    const shutdown = h.call("VM.shutdown", FIXTURE.web.ref);
    await Promise.all([pause, shutdown]);
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Halted");
    const log = (await h.control("callLog")) as { method: string; ok: boolean }[];
    expect(
      log.filter((e) => e.method === "VM.pause" || e.method === "VM.shutdown").map((e) => [e.method, e.ok]),
    ).toEqual([
      ["VM.pause", true],
      ["VM.shutdown", true],
    ]);
  });

  it("gives OTHER_OPERATION_IN_PROGRESS [VM, vm, op, task] after operationWaitMs", async () => {
    const h = await harness({ operationMs: { clean_shutdown: 400 }, operationWaitMs: 40 });
    const task = (await h.call("Async.VM.clean_shutdown", FIXTURE.web.ref)) as string;
    const fault = await h.fault("VM.pause", FIXTURE.web.ref);
    expect([fault.code, ...fault.params]).toEqual([
      "OTHER_OPERATION_IN_PROGRESS",
      "VM",
      FIXTURE.web.ref,
      "clean_shutdown",
      task,
    ]);
  });

  it("lets hard_shutdown cancel an in-flight clean_shutdown", async () => {
    const h = await harness({ operationMs: { clean_shutdown: 400 } });
    const clean = (await h.call("Async.VM.clean_shutdown", FIXTURE.web.ref)) as string;
    await h.call("VM.hard_shutdown", FIXTURE.web.ref);
    const record = await h.settle(clean);
    expect(record.status).toBe("cancelled");
    expect(record.error_info).toEqual(["TASK_CANCELLED", clean]);
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Halted");
  });

  it("lets hard_reboot cancel an in-flight clean_reboot", async () => {
    const h = await harness({ operationMs: { clean_reboot: 400 } });
    const clean = (await h.call("Async.VM.clean_reboot", FIXTURE.web.ref)) as string;
    await h.call("VM.hard_reboot", FIXTURE.web.ref);
    expect((await h.settle(clean)).status).toBe("cancelled");
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Running");
  });
});

describe("task garbage collection", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("deletes completed tasks nobody destroyed once they are an hour old", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const h = await harness();
    const old = (await h.call("Async.VM.start", FIXTURE.db.ref, false, false)) as string;
    await h.settle(old);
    vi.setSystemTime(Date.now() + 2 * 60 * 60 * 1000);
    const fresh = (await h.call("Async.VM.pause", FIXTURE.db.ref)) as string;
    expect(await h.call("task.get_all")).toEqual([fresh]);
  });
});

describe("task result encoding (taskHelper.ml: Xmlrpc.to_string of the return value)", () => {
  it("encodes a void, a ref, a struct and a float the way the XML-RPC wire does", () => {
    expect([
      xmlRpcValue(""),
      xmlRpcValue("OpaqueRef:1"),
      xmlRpcValue({ order: "dc", size: 2 }),
      xmlRpcValue(new XFloat(0.5)),
    ]).toEqual([
      "<value></value>",
      "<value>OpaqueRef:1</value>",
      "<value><struct><member><name>order</name><value>dc</value></member><member><name>size</name><value>2</value></member></struct></value>",
      "<value><double>0.5</double></value>",
    ]);
  });
});
