/**
 * vCPUs and memory through the provider's methods (`provider/resource/impl.ts`) against xapi-sim: what
 * `update` sends for a declaration, what it reports (`observed.vcpus`, `observed.memory`, pending
 * `vcpus.atStartup`), what `read` (refresh) puts back, and what a preview's `check` refuses. The fixture's
 * web-01 is a Running HVM guest with PV drivers: 2 of 2 vCPUs, memory static 0.5–2 GiB, dynamic 2–2 GiB.
 * Expected calls are written from XAPI's rules (docs/xapi-vcpus-memory.md), never taken from the provider.
 */
import { describe, expect, it } from "vitest";
import { closeAllConnections } from "../provider/client";
import * as impl from "../provider/resource/impl";
import { unpack } from "../provider/resource/stored";
import { FIXTURE } from "../simulator/model/fixture";
import { useProviderSim } from "./provider-sim";

type Bag = Record<string, unknown>;

const GiB = 2 ** 30;
const WEB = FIXTURE.web.uuid;
const URN = "urn:pulumi:s::p::pulumi-nodejs:dynamic/xapi:Vm::web";

const { control } = useProviderSim();

/** web-01 adopted as it is (Running, nothing else declared): the recorded outputs an update starts from. */
function adopted(extra: Bag = {}): Bag {
  return { uuid: WEB, powerState: "Running", adopted: true, __xapi: { urn: URN }, ...extra };
}

/** `update` of web-01 from `olds` to `news`: the flat outputs. */
async function update(olds: Bag, news: Bag): Promise<Bag> {
  return unpack((await impl.update(WEB, olds, { ...news, __xapi: { urn: URN } })).outs ?? {}, WEB);
}

/** The calls an operation made, without the owner tag's. */
function callsOf(outs: Bag): string[] {
  return (outs.lastCalls as { call: string }[])
    .map((c) => c.call)
    .filter((c) => !c.endsWith("_other_config"));
}

/** web-01's domain as the simulator runs it (control op `domain`). */
async function domain(): Promise<{
  vcpus: number;
  memory: { staticMax: number; dynamicMax: number };
} | null> {
  return (await control<{ domain: never }>("domain", { uuid: WEB })).domain;
}

describe("update", () => {
  it("reports observed.vcpus and observed.memory from the VM's record", async () => {
    const outs = await update(adopted(), adopted({ vcpus: { atStartup: 1 } }));
    expect([outs.observedVcpus, outs.observedMemory]).toEqual([
      { atStartup: 1, max: 2 },
      { staticMin: GiB / 2, staticMax: 2 * GiB, dynamicMin: 2 * GiB, dynamicMax: 2 * GiB },
    ]);
  });

  it("a guest that cannot plug vCPUs gets the count for the next build, reported pending under next-boot", async () => {
    await control("setGuest", { uuid: WEB, pvDrivers: false, vcpuHotplug: false });
    const outs = await update(
      adopted(),
      adopted({ vcpus: { atStartup: 1 }, policy: { bootChanges: "next-boot" } }),
    );
    expect({
      calls: callsOf(outs),
      pending: outs.pendingBootChanges,
      running: (await domain())?.vcpus,
    }).toEqual({ calls: ["VM.set_VCPUs_at_startup"], pending: ["vcpus.atStartup"], running: 2 });
  });

  it("the pending vCPU count is applied by the next update under restart: one reboot, nothing pending", async () => {
    await control("setGuest", { uuid: WEB, pvDrivers: false, vcpuHotplug: false });
    const nextBoot = adopted({ vcpus: { atStartup: 1 }, policy: { bootChanges: "next-boot" } });
    const first = await update(adopted(), nextBoot);
    // Without PV drivers XAPI refuses a clean reboot (VM_LACKS_FEATURE): the hard one applies it.
    const outs = await update(first, adopted({ vcpus: { atStartup: 1 }, policy: { shutdown: "hard" } }));
    expect({
      calls: callsOf(outs),
      pending: outs.pendingBootChanges,
      running: (await domain())?.vcpus,
    }).toEqual({
      calls: ["VM.hard_reboot"],
      pending: [],
      running: 1,
    });
  });

  it("a pool without the Live_set_vcpus licence restarts the VM for a vCPU change instead", async () => {
    await control("licence", { liveSetVcpus: false });
    // The pool is read once per connection (a provider process serves one command): a new one reads the licence.
    await closeAllConnections();
    const outs = await update(adopted(), adopted({ vcpus: { atStartup: 1 } }));
    expect(callsOf(outs)).toEqual(["VM.set_VCPUs_at_startup", "VM.clean_reboot"]);
  });

  it("memory.staticMax with powerCycle allow: one shutdown/start cycle, the domain built with the new ceiling", async () => {
    const outs = await update(
      adopted(),
      adopted({ memory: { staticMax: "4GiB", dynamicMax: "2GiB" }, policy: { powerCycle: "allow" } }),
    );
    expect({ calls: callsOf(outs), staticMax: (await domain())?.memory.staticMax }).toEqual({
      calls: ["VM.clean_shutdown", "VM.set_memory_limits", "VM.start"],
      staticMax: 4 * GiB,
    });
  });
});

describe("check in a preview", () => {
  it("refuses memory.staticMax on a Running VM under the default policy, on that property", async () => {
    const news = adopted({
      memory: { staticMax: "4GiB", dynamicMax: "2GiB" },
      __xapi: { urn: URN, preview: true },
    });
    const result = await impl.check(adopted(), news);
    expect(result.failures?.map((f) => f.property)).toEqual(["memory.staticMax"]);
  });

  it("the refusal says what XAPI needs and the way out", async () => {
    const news = adopted({ vcpus: { atStartup: 2, max: 4 }, __xapi: { urn: URN, preview: true } });
    const reason = (await impl.check(adopted(), news)).failures?.[0]?.reason ?? "";
    expect([reason.includes("vcpus.max"), reason.includes("Halted"), reason.includes("powerCycle")]).toEqual([
      true,
      true,
      true,
    ]);
  });
});

describe("read (refresh)", () => {
  it("puts back the declared sizing as the VM has it, in the declared shape", async () => {
    await control("setFields", { uuid: WEB, fields: { memory_dynamic_min: GiB } });
    const state = await impl.read(WEB, adopted({ memory: { dynamicMin: "2GiB", dynamicMax: "2048MiB" } }));
    expect(unpack(state.inputs ?? {}).memory).toEqual({ dynamicMin: "1GiB", dynamicMax: "2048MiB" });
  });
});
