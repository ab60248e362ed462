/**
 * xapi-sim's vCPU and memory setters (docs/simulator-behaviour.md#sizing): XAPI's checks in XAPI's order,
 * its error codes with their exact parameters, and what each setter writes. Through the model's dispatch,
 * as a JSON-RPC client on the master calls it.
 */
import { describe, expect, it } from "vitest";
import { FIXTURE, type Harness, harness } from "./sim-model-helpers";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const VCPU_RULE = "VCPU values must satisfy: 0 < VCPUs_at_startup ≤ VCPUs_max";
const LIVE_RULE = "VCPU values must satisfy: 0 < VCPUs ≤ VCPUs_max";

const web = FIXTURE.web.ref; // Running HVM guest with PV drivers, 2 vCPUs, 2 GiB pinned
const db = FIXTURE.db.ref; // Halted HVM guest, same sizing

async function faultOf(
  h: Harness,
  method: string,
  ...args: unknown[]
): Promise<[string, readonly unknown[]]> {
  const f = await h.fault(method, ...args);
  return [f.code, f.params];
}

describe("VM.set_VCPUs_max", () => {
  it("needs a Halted VM: VM_BAD_POWER_STATE [vm, halted, running]", async () => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_VCPUs_max", web, 4)).toEqual([
      "VM_BAD_POWER_STATE",
      [web, "halted", "running"],
    ]);
  });

  it("writes VCPUs_max of a Halted VM", async () => {
    const h = await harness();
    await h.call("VM.set_VCPUs_max", db, 4);
    expect(await h.call("VM.get_VCPUs_max", db)).toBe(4);
  });

  it("refuses a value below VCPUs_at_startup with INVALID_VALUE [rule, value]", async () => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_VCPUs_max", db, 1)).toEqual(["INVALID_VALUE", [VCPU_RULE, "1"]]);
  });

  it("refuses 0 with INVALID_VALUE [rule, 0]", async () => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_VCPUs_max", db, 0)).toEqual(["INVALID_VALUE", [VCPU_RULE, "0"]]);
  });

  it("checks blocked_operations before the power state", async () => {
    const h = await harness();
    await h.call("VM.add_to_blocked_operations", web, "changing_VCPUs", "frozen");
    expect(await faultOf(h, "VM.set_VCPUs_max", web, 4)).toEqual(["OPERATION_BLOCKED", [web, "frozen"]]);
  });

  it("has no Async form", async () => {
    const h = await harness();
    const f = await h.fault("Async.VM.set_VCPUs_max", db, 4);
    expect(f.code).toBe("Fault");
  });
});

describe("VM.set_VCPUs_at_startup", () => {
  it.each([
    ["Running", FIXTURE.web.ref],
    ["Suspended", FIXTURE.batch.ref],
    ["Paused", FIXTURE.pv.ref],
    ["a template", FIXTURE.hvmTemplate.ref],
  ])("has no power-state check: accepted on %s", async (_label, ref) => {
    const h = await harness();
    await h.call("VM.set_VCPUs_at_startup", ref, 1);
    expect(await h.call("VM.get_VCPUs_at_startup", ref)).toBe(1);
  });

  it("refuses a value above VCPUs_max with INVALID_VALUE [rule, value]", async () => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_VCPUs_at_startup", db, 3)).toEqual(["INVALID_VALUE", [VCPU_RULE, "3"]]);
  });

  it("refuses dom0 with OPERATION_NOT_ALLOWED", async () => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_VCPUs_at_startup", FIXTURE.dom0Master.ref, 4)).toEqual([
      "OPERATION_NOT_ALLOWED",
      ["set_VCPUs_at_startup is not allowed on dom0"],
    ]);
  });

  it("is not applied to a running domain", async () => {
    const h = await harness();
    await h.call("VM.set_VCPUs_at_startup", web, 1);
    expect(await h.control("domain", { uuid: FIXTURE.web.uuid })).toMatchObject({
      domain: { vcpus: 2 },
      pendingSizingChange: true,
    });
  });
});

describe("VM.set_VCPUs_number_live", () => {
  it("plugs vCPUs of the domain and records them as VCPUs_number and VCPUs_at_startup", async () => {
    const h = await harness();
    await h.call("VM.set_VCPUs_number_live", web, 1);
    const metrics = (await h.call("VM.get_metrics", web)) as string;
    expect([
      await h.call("VM_metrics.get_VCPUs_number", metrics),
      await h.call("VM.get_VCPUs_at_startup", web),
      ((await h.control("domain", { uuid: FIXTURE.web.uuid })) as { domain: { vcpus: number } }).domain.vcpus,
    ]).toEqual([1, 1, 1]);
  });

  it("refuses more than the domain's VCPUs_max, naming that maximum", async () => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_VCPUs_number_live", web, 3)).toEqual(["INVALID_VALUE", [LIVE_RULE, "2"]]);
  });

  it("refuses 0, naming the domain's maximum", async () => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_VCPUs_number_live", web, 0)).toEqual(["INVALID_VALUE", [LIVE_RULE, "2"]]);
  });

  it("needs a Running VM", async () => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_VCPUs_number_live", FIXTURE.pv.ref, 1)).toEqual([
      "VM_BAD_POWER_STATE",
      [FIXTURE.pv.ref, "running", "paused"],
    ]);
  });

  it("fails LICENCE_RESTRICTION [Live_set_vcpus] when the pool is not licensed, before the range check", async () => {
    const h = await harness();
    await h.control("licence", { liveSetVcpus: false });
    expect(await faultOf(h, "VM.set_VCPUs_number_live", web, 99)).toEqual([
      "LICENCE_RESTRICTION",
      ["Live_set_vcpus"],
    ]);
  });

  it("fails VM_LACKS_FEATURE for an HVM guest without PV drivers or vCPU hotplug, before the licence", async () => {
    const h = await harness();
    await h.control("licence", { liveSetVcpus: false });
    await h.control("setGuest", { uuid: FIXTURE.web.uuid, pvDrivers: false, vcpuHotplug: false });
    expect(await faultOf(h, "VM.set_VCPUs_number_live", web, 1)).toEqual(["VM_LACKS_FEATURE", [web]]);
  });

  it("is allowed for an HVM guest without PV drivers whose agent advertises feature-vcpu-hotplug", async () => {
    const h = await harness();
    await h.control("setGuest", { uuid: FIXTURE.web.uuid, pvDrivers: false, vcpuHotplug: true });
    await h.call("VM.set_VCPUs_number_live", web, 1);
    expect(await h.call("VM.get_VCPUs_at_startup", web)).toBe(1);
  });

  it("is implicitly supported by a domain that booted PV, whatever its flags", async () => {
    const h = await harness();
    const pv = FIXTURE.stubborn.ref;
    await h.control("setGuest", { uuid: FIXTURE.stubborn.uuid, pvDrivers: false, vcpuHotplug: false });
    await h.call("VM.set_VCPUs_number_live", pv, 1);
    expect(await h.call("VM.get_VCPUs_at_startup", pv)).toBe(1);
  });
});

describe("allowed_operations for sizing", () => {
  it("lists changing_VCPUs_live and changing_dynamic_range, not changing_static_range, on a Running VM", async () => {
    const h = await harness();
    const ops = (await h.call("VM.get_allowed_operations", web)) as string[];
    expect([
      ops.includes("changing_VCPUs_live"),
      ops.includes("changing_dynamic_range"),
      ops.includes("changing_static_range"),
    ]).toEqual([true, true, false]);
  });

  it("lists changing_static_range and changing_dynamic_range, not changing_VCPUs_live, on a Halted VM", async () => {
    const h = await harness();
    const ops = (await h.call("VM.get_allowed_operations", db)) as string[];
    expect([
      ops.includes("changing_static_range"),
      ops.includes("changing_dynamic_range"),
      ops.includes("changing_VCPUs_live"),
    ]).toEqual([true, true, false]);
  });

  it("never lists the ignored changing_VCPUs and changing_memory_limits", async () => {
    const h = await harness();
    const ops = [
      ...((await h.call("VM.get_allowed_operations", db)) as string[]),
      ...((await h.call("VM.get_allowed_operations", web)) as string[]),
    ];
    expect(ops.filter((o) => o === "changing_VCPUs" || o === "changing_memory_limits")).toEqual([]);
  });

  it("drops changing_VCPUs_live when the guest loses its hotplug support", async () => {
    const h = await harness();
    await h.control("setGuest", { uuid: FIXTURE.web.uuid, pvDrivers: false, vcpuHotplug: false });
    expect(await h.call("VM.get_allowed_operations", web)).not.toContain("changing_VCPUs_live");
  });

  it("shows the guest's feature-vcpu-hotplug and feature-balloon in VM_guest_metrics.other", async () => {
    const h = await harness();
    await h.control("setGuest", { uuid: FIXTURE.web.uuid, vcpuHotplug: false, balloon: true });
    const gm = (await h.call("VM.get_guest_metrics", web)) as string;
    const other = (await h.call("VM_guest_metrics.get_other", gm)) as Record<string, string>;
    expect([other["feature-vcpu-hotplug"], other["feature-balloon"]]).toEqual([undefined, "1"]);
  });
});

describe("VM.set_memory_dynamic_range", () => {
  it("writes min, max and memory_target = min on a Halted VM", async () => {
    const h = await harness();
    await h.call("VM.set_memory_dynamic_range", db, GiB, 2 * GiB);
    expect([
      await h.call("VM.get_memory_dynamic_min", db),
      await h.call("VM.get_memory_dynamic_max", db),
      await h.call("VM.get_memory_target", db),
    ]).toEqual([GiB, 2 * GiB, GiB]);
  });

  it.each([
    ["min above max", 2 * GiB, GiB],
    ["max above static_max", GiB, 3 * GiB],
    ["min below static_min", 256 * MiB, GiB],
  ])("refuses %s with MEMORY_CONSTRAINT_VIOLATION_ORDER []", async (_label, min, max) => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_memory_dynamic_range", db, min, max)).toEqual([
      "MEMORY_CONSTRAINT_VIOLATION_ORDER",
      [],
    ]);
  });

  it.each([
    ["Suspended", FIXTURE.batch.ref, "suspended"],
    ["Paused", FIXTURE.pv.ref, "paused"],
  ])("refuses a %s VM: VM_BAD_POWER_STATE [vm, halted, running, …]", async (_label, ref, state) => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_memory_dynamic_range", ref, GiB, 2 * GiB)).toEqual([
      "VM_BAD_POWER_STATE",
      [ref, "halted, running", state],
    ]);
  });

  it("with DMC unlicensed, only a range pinned at static_max: MAXPIN [DMC disabled]", async () => {
    const h = await harness();
    await h.control("licence", { dmc: false });
    expect(await faultOf(h, "VM.set_memory_dynamic_range", db, GiB, 2 * GiB)).toEqual([
      "MEMORY_CONSTRAINT_VIOLATION_MAXPIN",
      ["DMC disabled"],
    ]);
  });

  it("with DMC unlicensed, accepts the range pinned at static_max", async () => {
    const h = await harness();
    await h.control("licence", { dmc: false });
    await h.call("VM.set_memory_dynamic_range", db, 2 * GiB, 2 * GiB);
    expect(await h.call("VM.get_memory_dynamic_min", db)).toBe(2 * GiB);
  });

  it("set_memory_dynamic_max keeps the record's dynamic_min", async () => {
    const h = await harness();
    await h.call("VM.set_memory_dynamic_range", db, GiB, GiB);
    await h.call("VM.set_memory_dynamic_max", db, 2 * GiB);
    expect([
      await h.call("VM.get_memory_dynamic_min", db),
      await h.call("VM.get_memory_dynamic_max", db),
    ]).toEqual([GiB, 2 * GiB]);
  });

  it("set_memory_dynamic_min keeps the record's dynamic_max", async () => {
    const h = await harness();
    await h.call("VM.set_memory_dynamic_min", db, GiB);
    expect([
      await h.call("VM.get_memory_dynamic_min", db),
      await h.call("VM.get_memory_dynamic_max", db),
    ]).toEqual([GiB, 2 * GiB]);
  });

  it("accepts int64 values as decimal strings", async () => {
    const h = await harness();
    await h.call("VM.set_memory_dynamic_range", db, String(GiB), String(2 * GiB));
    expect(await h.call("VM.get_memory_dynamic_min", db)).toBe(GiB);
  });

  it.each([
    ["a fraction", "1.5"],
    ["an exponent", "1e9"],
  ])("refuses a string that is %s with FIELD_TYPE_ERROR [param]", async (_label, min) => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_memory_dynamic_range", db, min, String(2 * GiB))).toEqual([
      "FIELD_TYPE_ERROR",
      ["min"],
    ]);
  });

  it("runs as a task for Async.VM.set_memory_dynamic_range", async () => {
    const h = await harness();
    const task = (await h.call("Async.VM.set_memory_dynamic_range", db, GiB, 2 * GiB)) as string;
    expect((await h.settle(task)).status).toBe("success");
  });
});

describe("static range, limits and set_memory", () => {
  it("set_memory_static_range needs a Halted VM", async () => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_memory_static_range", web, GiB, 4 * GiB)).toEqual([
      "VM_BAD_POWER_STATE",
      [web, "halted", "running"],
    ]);
  });

  it("set_memory_static_range writes both static bounds", async () => {
    const h = await harness();
    await h.call("VM.set_memory_static_range", db, GiB, 4 * GiB);
    expect([
      await h.call("VM.get_memory_static_min", db),
      await h.call("VM.get_memory_static_max", db),
    ]).toEqual([GiB, 4 * GiB]);
  });

  it("set_memory_static_max below the current dynamic_max fails _ORDER", async () => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_memory_static_max", db, GiB)).toEqual([
      "MEMORY_CONSTRAINT_VIOLATION_ORDER",
      [],
    ]);
  });

  it("set_memory_limits writes all five fields, memory_target = dynamic_min", async () => {
    const h = await harness();
    await h.call("VM.set_memory_limits", db, 256 * MiB, 4 * GiB, GiB, 3 * GiB);
    const vm = (await h.call("VM.get_record", db)) as Record<string, unknown>;
    expect([
      vm.memory_static_min,
      vm.memory_static_max,
      vm.memory_dynamic_min,
      vm.memory_dynamic_max,
      vm.memory_target,
    ]).toEqual([256 * MiB, 4 * GiB, GiB, 3 * GiB, GiB]);
  });

  it("set_memory_limits needs a Halted VM", async () => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_memory_limits", web, 256 * MiB, 4 * GiB, GiB, 3 * GiB)).toEqual([
      "VM_BAD_POWER_STATE",
      [web, "halted", "running"],
    ]);
  });

  it("set_memory pins static_max and the dynamic range at the value, static_min kept", async () => {
    const h = await harness();
    await h.call("VM.set_memory", db, 3 * GiB);
    const vm = (await h.call("VM.get_record", db)) as Record<string, unknown>;
    expect([
      vm.memory_static_min,
      vm.memory_static_max,
      vm.memory_dynamic_min,
      vm.memory_dynamic_max,
    ]).toEqual([512 * MiB, 3 * GiB, 3 * GiB, 3 * GiB]);
  });

  it("set_memory below static_min fails _ORDER", async () => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_memory", db, 256 * MiB)).toEqual([
      "MEMORY_CONSTRAINT_VIOLATION_ORDER",
      [],
    ]);
  });
});

describe("deprecated live memory calls", () => {
  it("set_memory_target_live needs a Running VM", async () => {
    const h = await harness();
    expect(await faultOf(h, "VM.set_memory_target_live", db, GiB)).toEqual([
      "VM_BAD_POWER_STATE",
      [db, "running", "halted"],
    ]);
  });

  it("set_memory_target_live changes nothing on a Running VM", async () => {
    const h = await harness();
    await h.call("VM.set_memory_target_live", web, GiB);
    expect([
      await h.call("VM.get_memory_target", web),
      await h.call("VM.get_memory_dynamic_min", web),
    ]).toEqual([0, 2 * GiB]);
  });

  it("wait_memory_target_live returns once the domain holds its target", async () => {
    const h = await harness();
    expect(await h.call("VM.wait_memory_target_live", web)).toBe("");
  });
});

describe.each(["xenserver-7", "xenapi-1.0"] as const)("profile %s (falcon's memory errors)", (profile) => {
  it("raises MEMORY_CONSTRAINT_VIOLATION with the order constraint", async () => {
    const h = await harness({ profile });
    expect(await faultOf(h, "VM.set_memory_dynamic_range", db, 2 * GiB, GiB)).toEqual([
      "MEMORY_CONSTRAINT_VIOLATION",
      ["Memory limits must satisfy: static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max"],
    ]);
  });

  it("raises MEMORY_CONSTRAINT_VIOLATION with the pinned constraint when DMC is unlicensed", async () => {
    const h = await harness({ profile });
    await h.control("licence", { dmc: false });
    expect(await faultOf(h, "VM.set_memory_dynamic_range", db, GiB, 2 * GiB)).toEqual([
      "MEMORY_CONSTRAINT_VIOLATION",
      ["Memory limits must satisfy: static_min ≤ dynamic_min = dynamic_max = static_max"],
    ]);
  });

  it("serves every sizing setter, set_memory (ely) included", async () => {
    const h = await harness({ profile });
    const methods = (await h.model.dispatch("system.listMethods", [], {
      host: "master",
      transport: "jsonrpc",
    })) as string[];
    expect(
      ["VM.set_VCPUs_max", "VM.set_VCPUs_number_live", "VM.set_memory_limits", "VM.set_memory"].filter(
        (m) => !methods.includes(m),
      ),
    ).toEqual([]);
  });
});
