/**
 * The executor running vCPU and memory plans against xapi-sim through the real client: the setters are
 * plain calls with XAPI's positional arguments as JSON numbers (int64), in the state the plan puts them
 * in; what the simulated domain ends with; a refused live vCPU change is told with the way out. Expected
 * calls are written by hand from docs/xapi-vcpus-memory.md, not taken from the planner.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeAllConnections, getConnection, type XapiConnection } from "../provider/client";
import { XapiError } from "../provider/client/errors";
import { converge, ExecutionError, onFailure, type RunEvent } from "../provider/executor";
import { sizingArgs, sizingFailure } from "../provider/executor/sizing";
import type { Policy } from "../provider/model/plan";
import type { DeclarablePowerState } from "../provider/model/vocabulary";
import type { RunningSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model/fixture";
import { callLog, control, ROOT, startSim } from "./client-sim";

const GiB = 1024 ** 3;
const CLEAN: Policy = { shutdown: "clean", allowDiscardSuspendedState: false, bootChanges: "restart" };
const SIZES = {
  VCPUs_max: 4,
  VCPUs_at_startup: 2,
  memory_static_min: GiB,
  memory_static_max: 4 * GiB,
  memory_dynamic_min: 2 * GiB,
  memory_dynamic_max: 4 * GiB,
};
const LICENSED = { liveVcpusLicensed: true };

interface Domain {
  power_state: string;
  domain: null | {
    vcpus: number;
    vcpusMax: number;
    memory: { staticMax: number; dynamicMin: number; dynamicMax: number };
  };
  record: typeof SIZES & { memory_target: number };
}

let sim: RunningSimulator;
let conn: XapiConnection;

beforeAll(async () => {
  sim = await startSim({ defaultOperationMs: 2 });
  conn = getConnection({ url: sim.url, ...ROOT });
});

afterAll(async () => {
  await closeAllConnections();
  await sim.close();
});

/** A fresh clone of db-01 (HVM with PV drivers, so hotplug and clean calls work) with SIZES, in `power`. */
async function vmIn(power: DeclarablePowerState, name: string): Promise<string> {
  const ref = await conn.call<string>("VM.clone", FIXTURE.db.ref, name);
  const uuid = await conn.call<string>("VM.get_uuid", ref);
  await control(sim, "setGuest", { uuid, pvDrivers: true });
  await control(sim, "setFields", { uuid, fields: SIZES });
  await control(sim, "setPowerState", { uuid, powerState: power });
  return uuid;
}

const domainOf = (uuid: string) => control<Domain>(sim, "domain", { uuid });

/** The sizing calls the simulator logged since `seq`, with their parameters after the VM ref (the log drops the session). */
async function sizingCalls(since: number): Promise<[string, unknown[]][]> {
  return (await callLog(sim, since))
    .filter((e) => /^(Async\.)?VM\.set_(VCPUs|memory)/.test(e.method))
    .map((e) => [e.method, e.params.slice(1)]);
}

const lastSeq = async () => (await callLog(sim)).at(-1)?.seq ?? 0;

describe("the executor's vCPU and memory steps", () => {
  it("plugs vCPUs live into a Running guest that can hotplug: one plain set_VCPUs_number_live, nvcpu a number", async () => {
    const uuid = await vmIn("Running", "live-vcpus");
    const since = await lastSeq();
    const result = await converge(
      conn,
      { uuid },
      { powerState: "Running", sizing: { vcpus: { atStartup: 3 } } },
      CLEAN,
      {
        guest: LICENSED,
      },
    );
    const d = await domainOf(uuid);
    expect({
      steps: result.steps.map((s) => s.call),
      calls: await sizingCalls(since),
      pending: result.sizingPending,
      domainVcpus: d.domain?.vcpus,
      record: d.record.VCPUs_at_startup,
    }).toEqual({
      steps: ["VM.set_VCPUs_number_live"],
      calls: [["VM.set_VCPUs_number_live", [3]]],
      pending: false,
      domainVcpus: 3,
      record: 3,
    });
  });

  it("moves a Running VM's dynamic range live with int64 byte counts sent as numbers", async () => {
    const uuid = await vmIn("Running", "live-memory");
    const since = await lastSeq();
    const declared = { memory: { dynamicMin: 3 * GiB, dynamicMax: 3 * GiB } };
    const result = await converge(conn, { uuid }, { powerState: "Running", sizing: declared }, CLEAN);
    const d = await domainOf(uuid);
    expect({
      steps: result.steps.map((s) => s.call),
      calls: await sizingCalls(since),
      domain: [d.domain?.memory.dynamicMin, d.domain?.memory.dynamicMax],
    }).toEqual({
      steps: ["VM.set_memory_dynamic_range"],
      calls: [["VM.set_memory_dynamic_range", [3 * GiB, 3 * GiB]]],
      domain: [3 * GiB, 3 * GiB],
    });
  });

  it("writes a Halted VM's vCPUs (maximum first when raising) and memory limits, then starts it once", async () => {
    const uuid = await vmIn("Halted", "halted-all");
    const since = await lastSeq();
    const declared = {
      vcpus: { atStartup: 6, max: 8 },
      memory: { staticMax: 8 * GiB, dynamicMin: 4 * GiB, dynamicMax: 8 * GiB },
    };
    const result = await converge(conn, { uuid }, { powerState: "Running", sizing: declared }, CLEAN);
    const d = await domainOf(uuid);
    expect({
      steps: result.steps.map((s) => s.call),
      calls: await sizingCalls(since),
      domain: d.domain,
      observed: result.observedSizing,
    }).toEqual({
      steps: ["VM.set_VCPUs_max", "VM.set_VCPUs_at_startup", "VM.set_memory_limits", "VM.start"],
      calls: [
        ["VM.set_VCPUs_max", [8]],
        ["VM.set_VCPUs_at_startup", [6]],
        ["VM.set_memory_limits", [GiB, 8 * GiB, 4 * GiB, 8 * GiB]],
      ],
      domain: expect.objectContaining({
        vcpus: 6,
        vcpusMax: 8,
        memory: expect.objectContaining({ staticMax: 8 * GiB, dynamicMin: 4 * GiB, dynamicMax: 8 * GiB }),
      }),
      observed: {
        ...SIZES,
        VCPUs_max: 8,
        VCPUs_at_startup: 6,
        memory_static_max: 8 * GiB,
        memory_dynamic_min: 4 * GiB,
        memory_dynamic_max: 8 * GiB,
      },
    });
  });

  it("under powerCycle allow, shuts a Running VM down for vcpus.max, writes while Halted and starts it", async () => {
    const uuid = await vmIn("Running", "cycle");
    const declared = { vcpus: { atStartup: 2, max: 2 } };
    const result = await converge(
      conn,
      { uuid },
      { powerState: "Running", sizing: declared },
      { ...CLEAN, powerCycle: "allow" },
    );
    const d = await domainOf(uuid);
    expect({
      steps: result.steps.map((s) => [s.call, s.from]),
      domain: [d.power_state, d.domain?.vcpusMax],
    }).toEqual({
      steps: [
        ["VM.clean_shutdown", "Running"],
        ["VM.set_VCPUs_max", "Halted"],
        ["VM.start", "Halted"],
      ],
      domain: ["Running", 2],
    });
  });

  it("refuses that cycle by default with NEEDS_POWER_CYCLE, before any call", async () => {
    const uuid = await vmIn("Running", "no-cycle");
    const since = await lastSeq();
    const error = await converge(
      conn,
      { uuid },
      { powerState: "Running", sizing: { vcpus: { atStartup: 2, max: 2 } } },
      CLEAN,
    ).catch((e: unknown) => e);
    expect({
      code: error instanceof ExecutionError ? error.code : error,
      names: String((error as Error).message).includes("vcpus.max"),
      calls: await sizingCalls(since),
    }).toEqual({ code: "NEEDS_POWER_CYCLE", names: true, calls: [] });
  });

  it("under next-boot writes VCPUs_at_startup on a Running VM without a live hotplug and reports it pending", async () => {
    const uuid = await vmIn("Running", "next-boot");
    const result = await converge(
      conn,
      { uuid },
      { powerState: "Running", sizing: { vcpus: { atStartup: 3 } } },
      {
        ...CLEAN,
        bootChanges: "next-boot",
      },
    );
    const d = await domainOf(uuid);
    expect({
      steps: result.steps.map((s) => s.call),
      pending: result.sizingPending,
      domainVcpus: d.domain?.vcpus,
      record: d.record.VCPUs_at_startup,
    }).toEqual({ steps: ["VM.set_VCPUs_at_startup"], pending: true, domainVcpus: 2, record: 3 });
  });

  it("hands beforeLiveBootWrite a vCPU count written for the next build of a live VM, before it is written", async () => {
    const uuid = await vmIn("Running", "hook-next-build");
    const seen: [string[], string, number][] = [];
    const hook = async (setters: readonly { call: string }[], power: string) => {
      seen.push([setters.map((s) => s.call), power, (await domainOf(uuid)).record.VCPUs_at_startup]);
    };
    await converge(
      conn,
      { uuid },
      { powerState: "Running", sizing: { vcpus: { atStartup: 3 } } },
      {
        ...CLEAN,
        bootChanges: "next-boot",
      },
      { beforeLiveBootWrite: hook },
    );
    expect(seen).toEqual([[["VM.set_VCPUs_at_startup"], "Running", 2]]);
  });

  it("does not call beforeLiveBootWrite for a live vCPU change", async () => {
    const uuid = await vmIn("Running", "hook-live");
    let calls = 0;
    await converge(conn, { uuid }, { powerState: "Running", sizing: { vcpus: { atStartup: 3 } } }, CLEAN, {
      guest: LICENSED,
      beforeLiveBootWrite: async () => {
        calls++;
      },
    });
    expect(calls).toBe(0);
  });

  it("a live vCPU change the pool's licence refuses stops with LICENCE_RESTRICTION, naming vcpus.atStartup and the way out", async () => {
    const uuid = await vmIn("Running", "unlicensed");
    await control(sim, "licence", { liveSetVcpus: false });
    try {
      const error = await converge(
        conn,
        { uuid },
        { powerState: "Running", sizing: { vcpus: { atStartup: 3 } } },
        CLEAN,
        {
          guest: LICENSED,
        },
      ).catch((e: unknown) => e);
      const message = String((error as Error).message);
      expect({
        code: error instanceof ExecutionError ? error.code : error,
        atStartup: message.includes("could not set vcpus.atStartup 3 live"),
        hint: message.includes(
          "run again, and the next plan writes vcpus.atStartup for the next domain build",
        ),
      }).toEqual({ code: "LICENCE_RESTRICTION", atStartup: true, hint: true });
    } finally {
      await control(sim, "licence", { reset: true });
    }
  });

  it("a guest that cannot hotplug stops with VM_LACKS_FEATURE, naming vcpus.atStartup and the guest's tools", async () => {
    const uuid = await vmIn("Running", "no-hotplug");
    await control(sim, "setGuest", { uuid, pvDrivers: false, vcpuHotplug: false });
    // The caller claims hotplug (e.g. read before the guest lost its tools): XAPI is the judge.
    const error = await converge(
      conn,
      { uuid },
      { powerState: "Running", sizing: { vcpus: { atStartup: 3 } } },
      CLEAN,
      {
        guest: { vcpuHotplug: true, liveVcpusLicensed: true },
      },
    ).catch((e: unknown) => e);
    const message = String((error as Error).message);
    expect({
      code: error instanceof ExecutionError ? error.code : error,
      atStartup: message.includes("vcpus.atStartup"),
      hint: message.includes("check the guest's tools"),
    }).toEqual({ code: "VM_LACKS_FEATURE", atStartup: true, hint: true });
  });

  it("reads hotplug from allowed_operations when the caller does not say: no live call for a guest without it", async () => {
    const uuid = await vmIn("Running", "read-hotplug");
    await control(sim, "setGuest", { uuid, pvDrivers: false, vcpuHotplug: false });
    const result = await converge(
      conn,
      { uuid },
      { powerState: "Running", sizing: { vcpus: { atStartup: 3 } } },
      {
        ...CLEAN,
        shutdown: "hard",
      },
      { guest: { liveVcpusLicensed: true } },
    );
    expect(result.steps.map((s) => s.call)).toEqual(["VM.set_VCPUs_at_startup", "VM.hard_reboot"]);
  });

  it("a start refused for more vCPUs than the host has stops with HOST_NOT_ENOUGH_PCPUS and a hint naming vcpus.max", async () => {
    const uuid = await vmIn("Halted", "too-many");
    // The fixture's hosts have 8 pCPUs.
    const error = await converge(
      conn,
      { uuid },
      { powerState: "Running", sizing: { vcpus: { atStartup: 2, max: 16 } } },
      CLEAN,
    ).catch((e: unknown) => e);
    expect({
      code: error instanceof ExecutionError ? error.code : error,
      step: error instanceof ExecutionError ? error.step?.call : undefined,
      hint: String((error as Error).message).includes("vcpus.max (16) exceeds the host's physical CPUs (8)"),
    }).toEqual({ code: "HOST_NOT_ENOUGH_PCPUS", step: "VM.start", hint: true });
  });

  it("re-plans when the VM is started under the run right before set_VCPUs_max", async () => {
    const uuid = await vmIn("Halted", "moved");
    let moved = false;
    const onEvent = async (event: RunEvent) => {
      if (!moved && event.kind === "step" && event.step.call === "VM.set_VCPUs_max") {
        moved = true;
        await control(sim, "setPowerState", { uuid, powerState: "Running" });
      }
    };
    const result = await converge(
      conn,
      { uuid },
      { powerState: "Halted", sizing: { vcpus: { atStartup: 2, max: 3 } } },
      CLEAN,
      {
        onEvent,
      },
    );
    expect({
      steps: result.steps.map((s) => s.call),
      replans: result.replans,
      max: (await domainOf(uuid)).record.VCPUs_max,
    }).toEqual({ steps: ["VM.clean_shutdown", "VM.set_VCPUs_max"], replans: 1, max: 3 });
  });
});

describe("the executor's sizing helpers", () => {
  const policy = { ...CLEAN, retries: 5, startedSuspended: false };
  const refused = (call: string) =>
    new XapiError("VM_BAD_POWER_STATE", ["OpaqueRef:x", "halted", "running"], call);

  it("re-plans when XAPI refuses a sizing setter for the power state (the VM moved)", () => {
    expect(onFailure("VM.set_VCPUs_max", refused("VM.set_VCPUs_max"), policy, 0)).toBe("replan-if-moved");
  });

  it("still stops on a boot setter refused for the power state (boot setters take every state)", () => {
    expect(onFailure("VM.set_PV_args", refused("VM.set_PV_args"), policy, 0)).toBe("stop");
  });

  it("sends memory limits in XAPI's parameter order, whatever the order of the plan's args", () => {
    const step = {
      kind: "set" as const,
      call: "VM.set_memory_limits" as const,
      args: { dynamic_max: 4, static_min: 1, dynamic_min: 2, static_max: 8 },
      from: "Halted" as const,
      to: "Halted" as const,
      reason: "",
    };
    expect(sizingArgs(step)).toEqual([1, 8, 2, 4]);
  });

  it("refuses to send a byte count that is not an integer", () => {
    const step = {
      kind: "set" as const,
      call: "VM.set_memory_dynamic_range" as const,
      args: { min: "1073741824", max: 2 * GiB },
      from: "Running" as const,
      to: "Running" as const,
      reason: "",
    };
    expect(() => sizingArgs(step)).toThrow(TypeError);
  });

  it("tells a memory order violation with the bounds sent and the order XAPI wants", () => {
    const step = {
      kind: "set" as const,
      call: "VM.set_memory_limits" as const,
      args: { static_min: GiB, static_max: 2 * GiB, dynamic_min: GiB, dynamic_max: 4 * GiB },
      from: "Halted" as const,
      to: "Halted" as const,
      reason: "",
    };
    const error = new XapiError("MEMORY_CONSTRAINT_VIOLATION_ORDER", [], "VM.set_memory_limits");
    expect(sizingFailure(error, step)).toBe(
      "VM.set_memory_limits refused the memory bounds static_min 1073741824 (1 GiB), static_max 2147483648 (2 GiB), dynamic_min 1073741824 (1 GiB), dynamic_max 4294967296 (4 GiB): expected staticMin ≤ dynamicMin ≤ dynamicMax ≤ staticMax, received MEMORY_CONSTRAINT_VIOLATION_ORDER. Declare the memory bounds in that order.",
    );
  });
});
