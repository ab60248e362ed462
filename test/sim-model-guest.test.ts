/**
 * The simulated guest: PV drivers and VM_LACKS_FEATURE (xapi-semantics §4.3), a guest that ignores
 * clean shutdown (VM_SHUTDOWN_TIMEOUT, §5.2), crashes per actions_after_crash (§2.2) and the
 * XenAPI 1.0 "Crashed" compatibility switch.
 */
import { describe, expect, it } from "vitest";
import { ocamlFloat } from "../simulator/model/engine";
import { FIXTURE, harness } from "./sim-model-helpers";

const LEGACY = FIXTURE.legacy;

describe("PV drivers (§4.3)", () => {
  it("refuses clean_shutdown of an HVM guest without PV drivers with VM_LACKS_FEATURE [vm]", async () => {
    const h = await harness();
    await h.call("VM.start", LEGACY.ref, false, false);
    const fault = await h.fault("VM.clean_shutdown", LEGACY.ref);
    expect([fault.code, ...fault.params]).toEqual(["VM_LACKS_FEATURE", LEGACY.ref]);
  });

  it("refuses clean_reboot and suspend of that guest the same way", async () => {
    const h = await harness();
    await h.call("VM.start", LEGACY.ref, false, false);
    expect((await h.fault("VM.clean_reboot", LEGACY.ref)).code).toBe("VM_LACKS_FEATURE");
    expect((await h.fault("VM.suspend", LEGACY.ref)).code).toBe("VM_LACKS_FEATURE");
  });

  it("leaves clean ops out of allowed_operations for that guest", async () => {
    const h = await harness();
    await h.call("VM.start", LEGACY.ref, false, false);
    const allowed = (await h.call("VM.get_allowed_operations", LEGACY.ref)) as string[];
    expect(allowed).toEqual(expect.arrayContaining(["hard_shutdown", "hard_reboot", "pause"]));
    expect(allowed).not.toContain("clean_shutdown");
    expect(allowed).not.toContain("suspend");
  });

  it("has no feature check on hard_shutdown or VM.shutdown", async () => {
    const h = await harness();
    await h.call("VM.start", LEGACY.ref, false, false);
    await h.call("VM.shutdown", LEGACY.ref);
    expect(await h.powerState(LEGACY.ref)).toBe("Halted");
    await h.call("VM.start", LEGACY.ref, false, false);
    await h.call("VM.hard_shutdown", LEGACY.ref);
    expect(await h.powerState(LEGACY.ref)).toBe("Halted");
  });

  it("treats a PV-booted guest as implicitly supporting clean ops", async () => {
    const h = await harness();
    await h.control("setGuest", { uuid: FIXTURE.pvDirect.uuid, pvDrivers: false });
    await h.call("VM.start", FIXTURE.pvDirect.ref, false, false);
    await h.call("VM.clean_shutdown", FIXTURE.pvDirect.ref);
    expect(await h.powerState(FIXTURE.pvDirect.ref)).toBe("Halted");
  });

  it("lets setGuest install PV drivers", async () => {
    const h = await harness();
    await h.call("VM.start", LEGACY.ref, false, false);
    await h.control("setGuest", { uuid: LEGACY.uuid, pvDrivers: true });
    await h.call("VM.clean_shutdown", LEGACY.ref);
    expect(await h.powerState(LEGACY.ref)).toBe("Halted");
  });
});

describe("a guest that ignores clean shutdown (§5.2)", () => {
  it("fails clean_shutdown with VM_SHUTDOWN_TIMEOUT [vm, timeout] after cleanShutdownTimeoutMs", async () => {
    const h = await harness({ cleanShutdownTimeoutMs: 60 });
    const started = Date.now();
    const fault = await h.fault("VM.clean_shutdown", FIXTURE.stubborn.ref);
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect([fault.code, ...fault.params]).toEqual(["VM_SHUTDOWN_TIMEOUT", FIXTURE.stubborn.ref, "0.06"]);
    expect(await h.powerState(FIXTURE.stubborn.ref)).toBe("Running");
  });

  it("fails clean_reboot the same way and keeps the domain", async () => {
    const h = await harness();
    const domid = await h.call("VM.get_domid", FIXTURE.stubborn.ref);
    expect((await h.fault("VM.clean_reboot", FIXTURE.stubborn.ref)).code).toBe("VM_SHUTDOWN_TIMEOUT");
    expect(await h.call("VM.get_domid", FIXTURE.stubborn.ref)).toBe(domid);
  });

  it("is still halted by VM.shutdown, which falls back to a hard shutdown", async () => {
    const h = await harness();
    await h.call("VM.shutdown", FIXTURE.stubborn.ref);
    expect(await h.powerState(FIXTURE.stubborn.ref)).toBe("Halted");
  });

  it("prints the timeout as OCaml's string_of_float does", () => {
    expect([ocamlFloat(1200), ocamlFloat(1.5), ocamlFloat(0.04)]).toEqual(["1200.", "1.5", "0.04"]);
  });
});

describe("guest crash (§2.2)", () => {
  const crash = async (action: string, secondsSinceStart?: number) => {
    const h = await harness();
    await h.call("VM.set_actions_after_crash", FIXTURE.web.ref, action);
    const domid = await h.call("VM.get_domid", FIXTURE.web.ref);
    const body =
      secondsSinceStart === undefined
        ? { uuid: FIXTURE.web.uuid }
        : { uuid: FIXTURE.web.uuid, secondsSinceStart };
    await h.control("crashGuest", body);
    return { h, domid, state: await h.powerState(FIXTURE.web.ref) };
  };

  it("halts the VM with actions_after_crash = destroy", async () => {
    expect((await crash("destroy", 600)).state).toBe("Halted");
  });

  it("restarts the VM in a new domain with restart, after 120 s of uptime", async () => {
    const { h, domid, state } = await crash("restart", 600);
    expect(state).toBe("Running");
    expect(await h.call("VM.get_domid", FIXTURE.web.ref)).not.toBe(domid);
  });

  it("halts instead of restarting a guest that crashes within 120 s of start", async () => {
    expect((await crash("restart", 30)).state).toBe("Halted");
  });

  it("measures uptime from the last start when no uptime is given", async () => {
    const h = await harness();
    await h.call("VM.start", FIXTURE.db.ref, false, false);
    await h.control("crashGuest", { uuid: FIXTURE.db.uuid });
    expect(await h.powerState(FIXTURE.db.ref)).toBe("Halted");
  });

  it("leaves the VM Paused with preserve", async () => {
    expect((await crash("preserve", 600)).state).toBe("Paused");
  });

  it("rejects a crash of a guest that is not running", async () => {
    const h = await harness();
    await expect(
      h.control("crashGuest", { uuid: FIXTURE.db.uuid }),
    ).rejects.toThrowErrorMatchingInlineSnapshot(
      `[Error: crashGuest: VM 5a1f0000-0000-4000-8000-0000000000e2 is Halted; only a Running guest can crash]`,
    );
  });
});

describe("XenAPI 1.0 compatibility: Crashed", () => {
  it("shows a crashed guest as Crashed", async () => {
    const h = await harness({ crashedCompat: true });
    await h.control("crashGuest", { uuid: FIXTURE.web.uuid });
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Crashed");
  });

  it("leaves Crashed only by hard_shutdown", async () => {
    const h = await harness({ crashedCompat: true });
    await h.control("crashGuest", { uuid: FIXTURE.web.uuid });
    const start = await h.fault("VM.start", FIXTURE.web.ref, false, false);
    expect([start.code, ...start.params]).toEqual([
      "VM_BAD_POWER_STATE",
      FIXTURE.web.ref,
      "halted",
      "crashed",
    ]);
    const clean = await h.fault("VM.clean_shutdown", FIXTURE.web.ref);
    expect(clean.params).toEqual([FIXTURE.web.ref, "running", "crashed"]);
    await h.call("VM.hard_shutdown", FIXTURE.web.ref);
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Halted");
  });

  it("lists crashed among hard_shutdown's expected states", async () => {
    const h = await harness({ crashedCompat: true });
    const fault = await h.fault("VM.hard_shutdown", FIXTURE.db.ref);
    expect(fault.params).toEqual([FIXTURE.db.ref, "paused, suspended, running, crashed", "halted"]);
  });

  it("can be switched on at run time with the config control op", async () => {
    const h = await harness();
    expect(await h.control("config", { crashedCompat: true })).toMatchObject({ crashedCompat: true });
    await h.control("crashGuest", { uuid: FIXTURE.web.uuid });
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Crashed");
  });
});

describe("guest-initiated actions (§2.2)", () => {
  it("reboots into a new domain per actions_after_reboot = restart", async () => {
    const h = await harness();
    const domid = await h.call("VM.get_domid", FIXTURE.web.ref);
    await h.control("guestAction", { uuid: FIXTURE.web.uuid, action: "reboot" });
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Running");
    expect(await h.call("VM.get_domid", FIXTURE.web.ref)).not.toBe(domid);
  });

  it("halts per actions_after_shutdown = destroy", async () => {
    const h = await harness();
    await h.control("guestAction", { uuid: FIXTURE.web.uuid, action: "shutdown" });
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Halted");
  });
});
