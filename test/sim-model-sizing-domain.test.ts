/**
 * xapi-sim's simulated domain (docs/simulator-behaviour.md#sizing): what a build, a resume and the live
 * setters do to a VM's vCPUs and memory, what VM_metrics shows, the host-memory reservation of a live
 * dynamic-range change, and the start-time vCPU/memory/pCPU checks.
 */
import { describe, expect, it } from "vitest";
import { FIXTURE, type Harness, harness } from "./sim-model-helpers";

const GiB = 1024 ** 3;
const web = FIXTURE.web.ref; // Running HVM guest with PV drivers on the master, 2 vCPUs, 2 GiB pinned
const db = FIXTURE.db.ref; // Halted HVM guest, same sizing

interface DomainView {
  domain: {
    vcpus: number;
    vcpusMax: number;
    vcpusAtBuild: number;
    memory: { staticMax: number; dynamicMin: number; dynamicMax: number; target: number; actual: number };
  } | null;
  pendingSizingChange: boolean | null;
}

const domainOf = async (h: Harness, uuid: string) => (await h.control("domain", { uuid })) as DomainView;

async function memoryActual(h: Harness, vm: string): Promise<number> {
  return (await h.call("VM_metrics.get_memory_actual", await h.call("VM.get_metrics", vm))) as number;
}

describe("a domain build", () => {
  it("starts with VCPUs_at_startup vCPUs and VCPUs_max as its maximum", async () => {
    const h = await harness();
    await h.call("VM.set_VCPUs_max", db, 4);
    await h.call("VM.set_VCPUs_at_startup", db, 3);
    await h.call("VM.start", db, false, false);
    expect((await domainOf(h, FIXTURE.db.uuid)).domain).toMatchObject({
      vcpus: 3,
      vcpusMax: 4,
      vcpusAtBuild: 3,
    });
  });

  it("gets dynamic_max of memory when the host has room", async () => {
    const h = await harness();
    await h.call("VM.set_memory_limits", db, GiB, 4 * GiB, GiB, 3 * GiB);
    await h.call("VM.start", db, false, false);
    expect(await memoryActual(h, db)).toBe(3 * GiB);
  });

  it("gets only what the host has left, never below dynamic_min", async () => {
    const h = await harness();
    await h.call("VM.set_memory_limits", db, GiB, 4 * GiB, GiB, 4 * GiB);
    // The master holds dom0 (4 GiB), web-01 (2 GiB) and stubborn-01 (2 GiB): 8 GiB; 3 GiB are left of 11.
    await h.control("hostResources", { host: "master", memory_total: 11 * GiB });
    await h.call("VM.start", db, false, false);
    expect(await memoryActual(h, db)).toBe(3 * GiB);
  });

  it("is dropped when the VM halts", async () => {
    const h = await harness();
    await h.call("VM.hard_shutdown", web);
    expect(await domainOf(h, FIXTURE.web.uuid)).toMatchObject({ domain: null, pendingSizingChange: null });
  });

  it("takes a pending VCPUs_at_startup at a reboot", async () => {
    const h = await harness();
    await h.call("VM.set_VCPUs_at_startup", web, 1);
    await h.call("VM.hard_reboot", web);
    expect(await domainOf(h, FIXTURE.web.uuid)).toMatchObject({
      domain: { vcpus: 1 },
      pendingSizingChange: false,
    });
  });

  it("is restored by resume as it was suspended, a change made meanwhile staying pending", async () => {
    const h = await harness();
    await h.call("VM.suspend", web);
    await h.call("VM.set_VCPUs_at_startup", web, 1);
    await h.call("VM.resume", web, false, false);
    expect(await domainOf(h, FIXTURE.web.uuid)).toMatchObject({
      domain: { vcpus: 2 },
      pendingSizingChange: true,
    });
  });

  it("survives a restart of the simulator from its exported state", async () => {
    const h = await harness();
    await h.call("VM.set_VCPUs_number_live", web, 1);
    await h.call("VM.set_VCPUs_at_startup", web, 2);
    const state = JSON.parse(JSON.stringify(h.model.exportState()));
    h.model.close();
    const h2 = await harness({ state });
    expect(await domainOf(h2, FIXTURE.web.uuid)).toMatchObject({
      domain: { vcpus: 1, vcpusAtBuild: 2 },
      pendingSizingChange: true,
    });
  });
  it("keeps the guest's cooperation flags across a restart", async () => {
    const h = await harness();
    await h.control("setGuest", { uuid: FIXTURE.web.uuid, balloon: false, vcpuHotplug: false });
    const state = JSON.parse(JSON.stringify(h.model.exportState()));
    h.model.close();
    const h2 = await harness({ state });
    expect(await h2.control("domain", { uuid: FIXTURE.web.uuid })).toMatchObject({
      guest: { pvDrivers: true, balloon: false, vcpuHotplug: false },
    });
  });
});

describe("a live dynamic-range change", () => {
  it("moves a ballooning guest's memory to the new dynamic_max", async () => {
    const h = await harness();
    await h.call("VM.set_memory_dynamic_range", web, GiB, 1.5 * GiB);
    expect(await memoryActual(h, web)).toBe(1.5 * GiB);
  });

  it("records the range but leaves the memory of a guest without a balloon driver", async () => {
    const h = await harness();
    await h.control("setGuest", { uuid: FIXTURE.web.uuid, balloon: false });
    await h.call("VM.set_memory_dynamic_range", web, GiB, 1.5 * GiB);
    expect([
      await memoryActual(h, web),
      (await domainOf(h, FIXTURE.web.uuid)).domain?.memory.dynamicMax,
      await h.call("VM.get_memory_dynamic_max", web),
    ]).toEqual([2 * GiB, 1.5 * GiB, 1.5 * GiB]);
  });

  it("moves the memory once a balloon driver appears in the guest", async () => {
    const h = await harness();
    await h.control("setGuest", { uuid: FIXTURE.web.uuid, balloon: false });
    await h.call("VM.set_memory_dynamic_range", web, GiB, 1.5 * GiB);
    await h.control("setGuest", { uuid: FIXTURE.web.uuid, balloon: true });
    expect(await memoryActual(h, web)).toBe(1.5 * GiB);
  });

  it("leaves the domain alone on a Halted VM (the next build uses it)", async () => {
    const h = await harness();
    await h.call("VM.set_memory_dynamic_range", db, GiB, 1.5 * GiB);
    await h.call("VM.start", db, false, false);
    expect(await memoryActual(h, db)).toBe(1.5 * GiB);
  });

  it("fails HOST_NOT_ENOUGH_FREE_MEMORY [needed KiB, available KiB] when raising dynamic_min beyond the host", async () => {
    const h = await harness();
    // With 10 GiB: every domain on the master at its dynamic_min plus overhead is subtracted.
    await h.control("hostResources", { host: "master", memory_total: 10 * GiB });
    const residents = (await h.call("host.get_resident_VMs", FIXTURE.master.ref)) as string[];
    let used = 0;
    for (const vm of residents) {
      const r = (await h.call("VM.get_record", vm)) as Record<string, number>;
      used += (r.memory_dynamic_min ?? 0) + (r.memory_overhead ?? 0);
    }
    const available = 10 * GiB - used;
    // Raising web-01's dynamic_min from 2 GiB to 2 GiB + available + 1 MiB needs 1 MiB more than there is.
    const raise = available + 1024 * 1024;
    await h.call("VM.hard_shutdown", web);
    await h.call("VM.set_memory_limits", web, GiB, 64 * GiB, 2 * GiB, 2 * GiB);
    await h.call("VM.start", web, false, false);
    const f = await h.fault("VM.set_memory_dynamic_range", web, 2 * GiB + raise, 2 * GiB + raise);
    expect([f.code, f.params]).toEqual([
      "HOST_NOT_ENOUGH_FREE_MEMORY",
      [String(Math.trunc(raise / 1024)), String(Math.trunc(available / 1024))],
    ]);
  });

  it("checks the host's memory before the constraints", async () => {
    const h = await harness();
    const f = await h.fault("VM.set_memory_dynamic_range", web, 100 * GiB, 100 * GiB);
    expect(f.code).toBe("HOST_NOT_ENOUGH_FREE_MEMORY");
  });

  it("does not reserve memory when dynamic_min goes down", async () => {
    const h = await harness();
    await h.control("hostResources", { host: "master", memory_total: GiB });
    await h.call("VM.set_memory_dynamic_range", web, GiB, 2 * GiB);
    expect(await h.call("VM.get_memory_dynamic_min", web)).toBe(GiB);
  });

  it("is refused for a VM using nested virtualisation: VM_IS_USING_NESTED_VIRT [vm]", async () => {
    const h = await harness();
    await h.call("VM.add_to_platform", db, "nested-virt", "true");
    await h.call("VM.start", db, false, false);
    const f = await h.fault("VM.set_memory_dynamic_range", db, 2 * GiB, 2 * GiB);
    expect([f.code, f.params]).toEqual(["VM_IS_USING_NESTED_VIRT", [db]]);
  });
});

describe("start checks", () => {
  it("refuses VCPUs_max above the host's pCPUs: HOST_NOT_ENOUGH_PCPUS [vcpus, pcpus]", async () => {
    const h = await harness();
    await h.control("hostResources", { host: "master", cpu_count: 4 });
    await h.call("VM.set_VCPUs_max", db, 6);
    const f = await h.fault("VM.start", db, false, false);
    expect([f.code, f.params]).toEqual(["HOST_NOT_ENOUGH_PCPUS", ["6", "4"]]);
  });

  it("counts the pCPUs of the host start_on names", async () => {
    const h = await harness();
    await h.control("hostResources", { host: "member", cpu_count: 2 });
    await h.call("VM.set_VCPUs_max", db, 3);
    const f = await h.fault("VM.start_on", db, FIXTURE.member.ref, false, false);
    expect([f.code, f.params]).toEqual(["HOST_NOT_ENOUGH_PCPUS", ["3", "2"]]);
  });

  it("does not count pCPUs under xenserver-7 (falcon predates the check)", async () => {
    const h = await harness({ profile: "xenserver-7" });
    await h.control("hostResources", { host: "master", cpu_count: 4 });
    await h.call("VM.set_VCPUs_max", db, 6);
    await h.call("VM.start", db, false, false);
    expect(await h.powerState(db)).toBe("Running");
  });

  it("lets platform:vcpu-unrestricted start more vCPUs than pCPUs", async () => {
    const h = await harness();
    await h.control("hostResources", { host: "master", cpu_count: 4 });
    await h.call("VM.set_VCPUs_max", db, 6);
    await h.call("VM.add_to_platform", db, "vcpu-unrestricted", "true");
    await h.call("VM.start", db, false, false);
    expect(await h.powerState(db)).toBe("Running");
  });

  it.each([
    ["VCPUs_max 0", { VCPUs_max: 0, VCPUs_at_startup: 1 }, ["INVALID_VALUE", ["VCPUs_max", "0"]]],
    ["VCPUs_at_startup 0", { VCPUs_at_startup: 0 }, ["INVALID_VALUE", ["VCPUs-at-startup", "0"]]],
    [
      "VCPUs_at_startup above VCPUs_max",
      { VCPUs_at_startup: 3 },
      ["VALUE_NOT_SUPPORTED", ["VCPUs-at-startup", "3", "value greater than VCPUs-max"]],
    ],
    [
      "dynamic_max below dynamic_min",
      { memory_dynamic_min: 2 * GiB, memory_dynamic_max: GiB },
      ["MEMORY_CONSTRAINT_VIOLATION", []],
    ],
  ])("refuses %s written out of band", async (_label, fields, expected) => {
    const h = await harness();
    await h.control("setFields", { uuid: FIXTURE.db.uuid, fields });
    const f = await h.fault("VM.start", db, false, false);
    expect([f.code, f.params]).toEqual(expected);
  });

  it("checks vCPUs before actions_after_crash", async () => {
    const h = await harness();
    await h.control("setFields", {
      uuid: FIXTURE.db.uuid,
      fields: { VCPUs_at_startup: 0, actions_after_crash: "rename_restart" },
    });
    const f = await h.fault("VM.start", db, false, false);
    expect(f.code).toBe("INVALID_VALUE");
  });
});
