/**
 * xapi-sim's vCPU and memory setters through real clients (docs/simulator-behaviour.md#sizing): the official
 * Python `XenAPI` binding over XML-RPC (int64 values sent as strings, as it must beyond 2^31 − 1) and the
 * npm `xen-api` client over JSON-RPC and XML-RPC (errors with their parameters, `Async.` tasks, live
 * effects seen through its event-fed object cache).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model";
import { control as simControl } from "./client-sim";
import { FAILURE_OF, runPython } from "./python-client";
import { type CreateClient, connectedClient, loadCreateClient } from "./xen-api-client";

const GiB = 1024 ** 3;
const web = FIXTURE.web; // Running HVM guest with PV drivers, 2 vCPUs, 2 GiB pinned
const db = FIXTURE.db; // Halted HVM guest, same sizing

/** The slice of xen-api's `Xapi` class these tests use (the package ships no types). */
interface Xapi {
  readonly objectsFetched: Promise<void>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  call(method: string, ...args: unknown[]): Promise<unknown>;
  callAsync(method: string, ...args: unknown[]): Promise<unknown>;
  getObject(idOrUuidOrRef: string, defaultValue?: unknown): Record<string, unknown> | undefined;
}

let sim: RunningSimulator;
let falcon: RunningSimulator;
let createClient: CreateClient<Xapi>;

beforeAll(async () => {
  createClient = await loadCreateClient<Xapi>();
  sim = await startSimulator({ port: 0, defaultOperationMs: 2 });
  falcon = await startSimulator({ port: 0, defaultOperationMs: 2, profile: "xenserver-7" });
});

afterAll(async () => {
  await sim.close();
  await falcon.close();
});

const control = <T>(name: string, body: Record<string, unknown> = {}, on = sim) =>
  simControl<T>(on, name, body);

const PROLOGUE = `
import json, sys
import XenAPI
url, vm = sys.argv[1:3]
session = XenAPI.Session(url, ignore_ssl=True)
session.xenapi.login_with_password("root", "xapi-sim", "2.21", "xapi-sim-test")
x = session.xenapi
def out(value):
    print(json.dumps(value))
${FAILURE_OF}`;

/** Runs a Python scenario against `on` with the VM ref as `vm`; resolves with its last `out(...)`. */
function python(script: string, vm: string, on = sim): Promise<unknown> {
  return runPython(PROLOGUE + script, [on.url, vm]);
}

describe("Python XenAPI", () => {
  beforeAll(async () => {
    await control("reset");
  });

  it("gets VM_BAD_POWER_STATE [vm, halted, running] from set_VCPUs_max on a Running VM", async () => {
    expect(await python(`out(failure_of(x.VM.set_VCPUs_max, vm, "4"))`, web.ref)).toEqual([
      "VM_BAD_POWER_STATE",
      web.ref,
      "halted",
      "running",
    ]);
  });

  it("sets memory limits beyond 2^31 sent as strings and reads them back as strings", async () => {
    const script = `
x.VM.set_memory_limits(vm, str(1 << 30), str(6 << 30), str(4 << 30), str(5 << 30))
r = x.VM.get_record(vm)
out([r["memory_static_min"], r["memory_static_max"], r["memory_dynamic_min"], r["memory_dynamic_max"], r["memory_target"]])`;
    expect(await python(script, db.ref)).toEqual([
      String(GiB),
      String(6 * GiB),
      String(4 * GiB),
      String(5 * GiB),
      String(4 * GiB),
    ]);
  });

  it("gets MEMORY_CONSTRAINT_VIOLATION_ORDER with no parameters", async () => {
    const script = `out(failure_of(x.VM.set_memory_dynamic_range, vm, str(3 << 30), str(1 << 30)))`;
    expect(await python(script, db.ref)).toEqual(["MEMORY_CONSTRAINT_VIOLATION_ORDER"]);
  });

  it("changes the vCPUs of a Running VM live and reads VM_metrics.VCPUs_number", async () => {
    const script = `
x.VM.set_VCPUs_number_live(vm, "1")
out([x.VM_metrics.get_VCPUs_number(x.VM.get_metrics(vm)), x.VM.get_VCPUs_at_startup(vm)])`;
    expect(await python(script, web.ref)).toEqual(["1", "1"]);
  });

  it("gets LICENCE_RESTRICTION [Live_set_vcpus] from an unlicensed pool", async () => {
    await control("licence", { liveSetVcpus: false });
    try {
      expect(await python(`out(failure_of(x.VM.set_VCPUs_number_live, vm, "2"))`, web.ref)).toEqual([
        "LICENCE_RESTRICTION",
        "Live_set_vcpus",
      ]);
    } finally {
      await control("licence", { reset: true });
    }
  });

  it("runs Async.VM.set_memory_dynamic_range as a task that succeeds", async () => {
    const script = `
import time
task = x.Async.VM.set_memory_dynamic_range(vm, str(1 << 30), str(3 << 29))
while x.task.get_status(task) == "pending":
    time.sleep(0.01)
out([x.task.get_status(task), x.VM_metrics.get_memory_actual(x.VM.get_metrics(vm))])`;
    expect(await python(script, web.ref)).toEqual(["success", String(1.5 * GiB)]);
  });

  it("gets falcon's MEMORY_CONSTRAINT_VIOLATION [constraint] from a xenserver-7 pool, UTF-8 intact", async () => {
    const script = `out(failure_of(x.VM.set_memory_dynamic_range, vm, str(3 << 30), str(1 << 30)))`;
    expect(await python(script, db.ref, falcon)).toEqual([
      "MEMORY_CONSTRAINT_VIOLATION",
      "Memory limits must satisfy: static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max",
    ]);
  });
});

describe.each(["json-rpc", "xml-rpc"] as const)("npm xen-api over %s", (transport) => {
  let xapi: Xapi;

  beforeAll(async () => {
    await control("reset");
    xapi = await connectedClient(createClient, sim.url, { transport });
  });

  afterAll(async () => {
    await xapi.disconnect().catch(() => undefined);
  });

  it("gets INVALID_VALUE with XAPI's rule from set_VCPUs_at_startup above VCPUs_max", async () => {
    const error = await xapi.call("VM.set_VCPUs_at_startup", db.ref, 3).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "INVALID_VALUE",
      params: ["VCPU values must satisfy: 0 < VCPUs_at_startup ≤ VCPUs_max", "3"],
    });
  });

  it("sets 4 GiB limits as numbers (beyond 2^31) and reads them back", async () => {
    await xapi.call("VM.set_memory_limits", db.ref, GiB, 4 * GiB, 4 * GiB, 4 * GiB);
    expect(Number(await xapi.call("VM.get_memory_static_max", db.ref))).toBe(4 * GiB);
  });

  it("awaits Async.VM.set_VCPUs_number_live through its task", async () => {
    await xapi.callAsync("VM.set_VCPUs_number_live", web.ref, 1);
    const metrics = (await xapi.call("VM.get_metrics", web.ref)) as string;
    expect(Number(await xapi.call("VM_metrics.get_VCPUs_number", metrics))).toBe(1);
  });

  it("rejects callAsync of set_memory_dynamic_range on a Suspended VM with the task's error", async () => {
    const error = await xapi
      .callAsync("VM.set_memory_dynamic_range", FIXTURE.batch.ref, GiB, 2 * GiB)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "VM_BAD_POWER_STATE",
      params: [FIXTURE.batch.ref, "halted, running", "suspended"],
    });
  });

  it("sees a ballooning guest's new memory_actual in its object cache", async () => {
    const metrics = (await xapi.call("VM.get_metrics", web.ref)) as string;
    await xapi.call("VM.set_memory_dynamic_range", web.ref, GiB, 1.5 * GiB);
    for (let i = 0; i < 500 && Number(xapi.getObject(metrics)?.memory_actual) !== 1.5 * GiB; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(Number(xapi.getObject(metrics)?.memory_actual)).toBe(1.5 * GiB);
  });

  it("sees changing_VCPUs_live leave allowed_operations when the guest loses hotplug", async () => {
    await control("setGuest", { uuid: web.uuid, pvDrivers: false, vcpuHotplug: false });
    const ops = (await xapi.call("VM.get_allowed_operations", web.ref)) as string[];
    expect(ops).not.toContain("changing_VCPUs_live");
  });
});
