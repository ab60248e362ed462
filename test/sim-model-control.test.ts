/** xapi-sim control operations: fault injection, counters, call log, out-of-band changes, reset. */
import { describe, expect, it } from "vitest";
import { DropConnection } from "../simulator/api";
import { FIXTURE, harness } from "./sim-model-helpers";

describe("fault injection", () => {
  it("fails the next call of a method with the given XAPI error", async () => {
    const h = await harness();
    await h.control("faults", {
      method: "VM.start",
      code: "HOST_NOT_ENOUGH_FREE_MEMORY",
      params: ["1", "0"],
    });
    const fault = await h.fault("VM.start", FIXTURE.db.ref, false, false);
    expect([fault.code, ...fault.params]).toEqual(["HOST_NOT_ENOUGH_FREE_MEMORY", "1", "0"]);
    expect(await h.powerState(FIXTURE.db.ref)).toBe("Halted");
    await h.call("VM.start", FIXTURE.db.ref, false, false);
    expect(await h.powerState(FIXTURE.db.ref)).toBe("Running");
  });

  it("fails exactly count calls", async () => {
    const h = await harness();
    await h.control("faults", { method: "VM.get_power_state", code: "INTERNAL_ERROR", count: 2 });
    expect((await h.fault("VM.get_power_state", FIXTURE.web.ref)).code).toBe("INTERNAL_ERROR");
    expect((await h.fault("VM.get_power_state", FIXTURE.web.ref)).code).toBe("INTERNAL_ERROR");
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Running");
  });

  it("delivers an injected lifecycle error of an Async call through its task", async () => {
    const h = await harness();
    await h.control("faults", {
      method: "VM.clean_shutdown",
      code: "VM_SHUTDOWN_TIMEOUT",
      params: ["x", "1200."],
    });
    const task = (await h.call("Async.VM.clean_shutdown", FIXTURE.web.ref)) as string;
    const record = await h.settle(task);
    expect(record).toMatchObject({ status: "failure", error_info: ["VM_SHUTDOWN_TIMEOUT", "x", "1200."] });
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Running");
  });

  it("returns an injected SESSION_INVALID of an Async call directly", async () => {
    const h = await harness();
    await h.control("faults", { method: "VM.pause", code: "SESSION_INVALID", params: [h.session] });
    expect((await h.fault("Async.VM.pause", FIXTURE.web.ref)).code).toBe("SESSION_INVALID");
  });

  it("matches only the async form when the fault names Async.", async () => {
    const h = await harness();
    await h.control("faults", { method: "Async.VM.pause", code: "INTERNAL_ERROR" });
    await h.call("VM.pause", FIXTURE.web.ref);
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Paused");
  });

  it("drops the connection when asked", async () => {
    const h = await harness();
    await h.control("faults", { method: "VM.get_record", drop: true });
    await expect(h.call("VM.get_record", FIXTURE.web.ref)).rejects.toBeInstanceOf(DropConnection);
    expect(await h.call("VM.get_record", FIXTURE.web.ref)).toMatchObject({ name_label: "web-01" });
  });

  it("adds latency to every call", async () => {
    const h = await harness();
    await h.control("faults", { latencyMs: 60 });
    const started = Date.now();
    await h.call("VM.get_all");
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });

  it("clears faults and latency", async () => {
    const h = await harness();
    await h.control("faults", { method: "VM.get_all", code: "INTERNAL_ERROR" });
    await h.control("faults", { latencyMs: 500 });
    expect(await h.control("clearFaults")).toEqual({ faults: [], latencyMs: 0 });
    expect(await h.call("VM.get_all")).toBeInstanceOf(Array);
  });

  it("rejects a malformed fault with a message naming what is expected", async () => {
    const h = await harness();
    await expect(h.control("faults", { method: "VM.start" })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[Error: expected "code" (a XAPI error code) or "drop": true]`,
    );
  });
});

describe("hold (stop answering after the k-th call)", () => {
  interface HoldStatus {
    armed: boolean;
    tripped?: boolean;
    trippedBy?: { seq: number; method: string; vm?: string };
    answered?: number;
    held?: string[];
    released?: number;
  }
  const status = async (h: Awaited<ReturnType<typeof harness>>): Promise<HoldStatus> =>
    (await h.control("hold")) as HoldStatus;
  const until = async (h: Awaited<ReturnType<typeof harness>>, held: number): Promise<HoldStatus> => {
    for (let i = 0; i < 500; i++) {
      const s = await status(h);
      if ((s.held?.length ?? 0) >= held) return s;
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`fewer than ${held} calls held`);
  };

  it("answers the k-th matching call, holds every later call, and release drops them unrun", async () => {
    const h = await harness();
    await h.control("hold", { after: 2, match: "^VM\\.(pause|unpause)$" });
    await h.call("VM.get_all");
    await h.call("VM.pause", FIXTURE.web.ref);
    await h.call("VM.unpause", FIXTURE.web.ref);
    const pause = h.call("VM.pause", FIXTURE.web.ref);
    const read = h.call("VM.get_all");
    const before = await until(h, 2);
    expect(before).toMatchObject({
      armed: true,
      tripped: true,
      answered: 2,
      trippedBy: { method: "VM.unpause", vm: FIXTURE.web.uuid },
      held: ["VM.pause", "VM.get_all"],
    });
    expect(await h.control("hold", { release: true })).toEqual({ armed: false, released: 2 });
    await expect(pause).rejects.toBeInstanceOf(DropConnection);
    await expect(read).rejects.toBeInstanceOf(DropConnection);
    // The held calls never ran: the VM is Running, the log ends with the k-th call.
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Running");
    const log = (await h.control("callLog", { since: before.trippedBy?.seq ?? 0 })) as { method: string }[];
    expect(log.map((e) => e.method)).toEqual(["VM.get_power_state"]);
  });

  it("holds the answer of a call still running when it trips (the call itself completes)", async () => {
    const h = await harness({ operationMs: { start: 80 } });
    await h.control("hold", { after: 1, match: "^VM\\.get_all$" });
    const start = h.call("VM.start", FIXTURE.db.ref, false, false);
    await h.call("VM.get_all");
    expect(await until(h, 1)).toMatchObject({ tripped: true, held: ["VM.start"] });
    expect(await h.model.control.vms?.({})).toContainEqual(
      expect.objectContaining({ uuid: FIXTURE.db.uuid, power_state: "Running" }),
    );
    await h.control("hold", { release: true });
    await expect(start).rejects.toBeInstanceOf(DropConnection);
  });

  it("with holdAnswer the k-th call runs but its answer is held too", async () => {
    const h = await harness();
    await h.control("hold", { after: 1, match: "^VM\\.pause$", holdAnswer: true });
    const pause = h.call("VM.pause", FIXTURE.web.ref);
    expect(await until(h, 1)).toMatchObject({
      tripped: true,
      trippedBy: { method: "VM.pause" },
      held: ["VM.pause"],
    });
    expect(await h.model.control.vms?.({})).toContainEqual(
      expect.objectContaining({ uuid: FIXTURE.web.uuid, power_state: "Paused" }),
    );
    await h.control("hold", { release: true });
    await expect(pause).rejects.toBeInstanceOf(DropConnection);
  });

  it("counts every call without match; reset releases; a bad body says what is expected", async () => {
    const h = await harness();
    expect(await h.control("hold")).toEqual({ armed: false });
    await h.control("hold", { after: 1 });
    await h.call("VM.get_all");
    const held = h.call("VM.get_all");
    await until(h, 1);
    await h.control("reset");
    await expect(held).rejects.toBeInstanceOf(DropConnection);
    expect([await status(h), await h.call("VM.get_all")]).toEqual([{ armed: false }, expect.any(Array)]);
    await expect(h.control("hold", { after: 0 })).rejects.toThrow('"after" must be a positive integer');
    await expect(h.control("hold", { after: 1, match: "(" })).rejects.toThrow(/"match" is not a regular/);
    await expect(h.control("hold", { k: 1 })).rejects.toThrow(
      /expected \{after, match\?, holdAnswer\?\} to arm/,
    );
  });
});

describe("counters and call log", () => {
  it("counts calls per wire method and live tasks", async () => {
    const h = await harness({ operationMs: { start: 100 } });
    await h.call("VM.get_all");
    await h.call("VM.get_all");
    await h.call("Async.VM.start", FIXTURE.db.ref, false, false);
    expect(await h.control("counters")).toMatchObject({
      calls: { "session.login_with_password": 1, "VM.get_all": 2, "Async.VM.start": 1 },
      liveTasks: 1,
    });
  });

  it("logs calls with the VM uuid, params without the session, and the error code", async () => {
    const h = await harness();
    await h.fault("VM.pause", FIXTURE.db.ref);
    const log = (await h.control("callLog")) as Record<string, unknown>[];
    expect(log.at(-1)).toMatchObject({
      method: "VM.pause",
      vm: FIXTURE.db.uuid,
      params: [FIXTURE.db.ref],
      ok: false,
      error: "VM_BAD_POWER_STATE",
    });
  });

  it("masks login passwords in the log", async () => {
    const h = await harness();
    const log = (await h.control("callLog")) as Record<string, unknown>[];
    expect(log[0]).toMatchObject({
      method: "session.login_with_password",
      params: ["root", "******"],
      ok: true,
    });
  });

  it("returns only entries after `since`", async () => {
    const h = await harness();
    const [first] = (await h.control("callLog")) as { seq: number }[];
    await h.call("VM.get_all");
    const later = (await h.control("callLog", { since: first?.seq ?? 0 })) as { method: string }[];
    expect(later.map((e) => e.method)).toEqual(["VM.get_all"]);
  });
});

describe("out-of-band changes", () => {
  it("setPowerState moves a VM and its runtime fields as if by xe", async () => {
    const h = await harness();
    await h.control("setPowerState", { uuid: FIXTURE.db.uuid, powerState: "Running" });
    expect(await h.powerState(FIXTURE.db.ref)).toBe("Running");
    expect(await h.call("VM.get_domid", FIXTURE.db.ref)).toBeGreaterThan(0);
    await h.control("setPowerState", { uuid: FIXTURE.db.uuid, powerState: "Suspended" });
    expect(await h.call("VM.get_suspend_VDI", FIXTURE.db.ref)).not.toBe("OpaqueRef:NULL");
  });

  it("setPowerState refuses Crashed outside XenAPI 1.0 mode, where no call could leave it", async () => {
    const h = await harness();
    await expect(
      h.control("setPowerState", { uuid: FIXTURE.web.uuid, powerState: "Crashed" }),
    ).rejects.toThrowErrorMatchingInlineSnapshot(
      `[Error: "powerState" Crashed exists only with crashedCompat (POST /_sim/config {"crashedCompat": true})]`,
    );
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Running");
  });

  it("setFields writes record fields raw", async () => {
    const h = await harness();
    await h.control("setFields", {
      uuid: FIXTURE.db.uuid,
      fields: { PV_args: "oob", HVM_boot_params: { order: "d" } },
    });
    expect(await h.call("VM.get_record", FIXTURE.db.ref)).toMatchObject({
      PV_args: "oob",
      HVM_boot_params: { order: "d" },
    });
  });

  it("setFields refuses unknown fields and wrong types", async () => {
    const h = await harness();
    await expect(h.control("setFields", { uuid: FIXTURE.db.uuid, fields: { nope: 1 } })).rejects.toThrow(
      'unknown VM field "nope"',
    );
    await expect(h.control("setFields", { uuid: FIXTURE.db.uuid, fields: { PV_args: 3 } })).rejects.toThrow(
      'field "PV_args" has the wrong type',
    );
  });

  it("names an unknown VM uuid", async () => {
    const h = await harness();
    await expect(h.control("setGuest", { uuid: "nope" })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[Error: no VM with uuid nope; see GET /_sim/vms]`,
    );
  });

  it("lists VMs with their power states and guest settings", async () => {
    const h = await harness();
    const vms = (await h.control("vms")) as Record<string, unknown>[];
    expect(vms).toContainEqual(
      expect.objectContaining({
        uuid: FIXTURE.stubborn.uuid,
        power_state: "Running",
        guest: { pvDrivers: true, ignoresCleanShutdown: true },
      }),
    );
  });
});

describe("reset", () => {
  it("restores the fixture, clears counters and faults, and keeps sessions", async () => {
    const h = await harness();
    await h.call("VM.start", FIXTURE.db.ref, false, false);
    await h.call("VM.destroy", FIXTURE.legacy.ref);
    await h.control("faults", { method: "VM.get_all", code: "INTERNAL_ERROR" });
    await h.control("config", { crashedCompat: true });
    await h.control("reset");
    expect(await h.powerState(FIXTURE.db.ref)).toBe("Halted");
    expect(await h.powerState(FIXTURE.legacy.ref)).toBe("Halted");
    expect(await h.call("VM.get_all")).toBeInstanceOf(Array);
    expect(await h.control("counters")).toMatchObject({ calls: { "VM.get_all": 1 }, logins: 0 });
    expect(await h.control("config", {})).toMatchObject({ crashedCompat: false });
  });

  it("cancels in-flight operations", async () => {
    const h = await harness({ operationMs: { start: 300 } });
    const start = h.fault("VM.start", FIXTURE.db.ref, false, false);
    await new Promise((r) => setTimeout(r, 20));
    await h.control("reset");
    expect((await start).code).toBe("TASK_CANCELLED");
    expect(await h.powerState(FIXTURE.db.ref)).toBe("Halted");
  });

  it("does not count control operations as XAPI calls", async () => {
    const h = await harness();
    await h.control("vms");
    const counters = (await h.control("counters")) as { calls: Record<string, number> };
    expect(Object.keys(counters.calls)).toEqual(["session.login_with_password"]);
  });
});
