/**
 * A stopped run puts back the state the VM only passed through (provider/executor.ts, "Restore"): a
 * Paused or Suspended VM that the run unpaused or resumed on its way to Halted or Suspended is paused or
 * suspended again when a later step fails, with a call the policy allows and never a hard one; a run
 * whose target is live restores nothing, and clean-then-hard still escalates instead.
 */
import { afterEach, describe, expect, it } from "vitest";
import { closeAllConnections, getConnection, type XapiConnection } from "../provider/client";
import { converge, ExecutionError } from "../provider/executor";
import type { Policy } from "../provider/model/plan";
import type { DeclarablePowerState, PowerState } from "../provider/model/vocabulary";
import type { RunningSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model/fixture";
import { callLog, control, counters, ROOT, startSim } from "./client-sim";

const CLEAN: Policy = { shutdown: "clean", allowDiscardSuspendedState: false, bootChanges: "restart" };
const CLEAN_THEN_HARD: Policy = { ...CLEAN, shutdown: "clean-then-hard" };
/** web-01: an HVM guest; each test takes its PV drivers away, so clean calls fail with VM_LACKS_FEATURE. */
const VM = FIXTURE.web;

let sim: RunningSimulator | undefined;

afterEach(async () => {
  const s = sim;
  sim = undefined;
  if (s === undefined) return;
  await closeAllConnections();
  const c = await counters(s);
  await s.close();
  expect([c.liveSessions, c.liveTasks]).toEqual([0, 0]);
});

/** A fresh simulator with web-01 in `state` and without PV drivers. */
async function setup(state: PowerState): Promise<{ sim: RunningSimulator; conn: XapiConnection }> {
  sim = await startSim({ defaultOperationMs: 5 });
  const conn = getConnection({ url: sim.url, ...ROOT, taskPoll: { initialMs: 2, maxMs: 20, factor: 2 } });
  await control(sim, "setPowerState", { uuid: VM.uuid, powerState: state });
  await control(sim, "setGuest", { uuid: VM.uuid, pvDrivers: false });
  return { sim, conn };
}

/** The lifecycle calls in the simulator's call log, in order (Async prefix dropped). */
async function lifecycleCalls(s: RunningSimulator): Promise<string[]> {
  return (await callLog(s))
    .map((e) => e.method.replace(/^Async\./, ""))
    .filter((m) => /^VM\.(start|pause|unpause|suspend|resume|clean_|hard_|shutdown)/.test(m));
}

async function failedRun(
  conn: XapiConnection,
  to: DeclarablePowerState,
  policy: Policy,
  boot?: Record<string, unknown>,
): Promise<ExecutionError> {
  const error = await converge(
    conn,
    { uuid: VM.uuid },
    { powerState: to, ...(boot === undefined ? {} : { boot }) },
    policy,
  ).catch((e: unknown) => e);
  if (!(error instanceof ExecutionError)) throw new Error(`expected an ExecutionError, got ${String(error)}`);
  return error;
}

/** The message with refs (which vary between runs) masked. */
function text(error: Error): string {
  return error.message.replace(/OpaqueRef:[0-9a-f-]+/g, "<ref>");
}

describe("Paused → Halted under clean, the guest has no PV drivers", () => {
  it("stops with VM_LACKS_FEATURE and pauses the VM again", async () => {
    const { sim, conn } = await setup("Paused");
    const error = await failedRun(conn, "Halted", CLEAN);
    expect({
      code: error.code,
      live: await conn.call("VM.get_power_state", VM.ref),
      calls: await lifecycleCalls(sim),
      restore: error.restore,
    }).toEqual({
      code: "VM_LACKS_FEATURE",
      live: "Paused",
      calls: ["VM.unpause", "VM.clean_shutdown", "VM.pause"],
      restore: { state: "Paused", call: "VM.pause", restored: true },
    });
  });

  it("says in the error what failed, what was done and that the VM was paused again", async () => {
    const { conn } = await setup("Paused");
    const error = await failedRun(conn, "Halted", CLEAN);
    expect(text(error)).toMatchInlineSnapshot(
      `"VM 5a1f0000-0000-4000-8000-0000000000e1: VM.clean_shutdown (Running → Halted) failed: VM_LACKS_FEATURE(<ref>) in VM.clean_shutdown. Done before: 1. VM.unpause (Paused → Running). Try policy.shutdown "clean-then-hard" to allow VM.hard_shutdown when the guest has no PV drivers / shutdown support, or fix the guest. This run had unpaused the VM only on its way to the declared state: it was paused again (VM.pause), Paused as before the run."`,
    );
  });

  it("records the restore step in done, after the steps before the failure", async () => {
    const { conn } = await setup("Paused");
    const error = await failedRun(conn, "Halted", CLEAN);
    expect(error.done.map((s) => [s.call, s.from, s.to, s.reason.split(":")[0]])).toEqual([
      ["VM.unpause", "Paused", "Running", expect.any(String)],
      ["VM.pause", "Running", "Paused", "restore Paused"],
    ]);
  });

  it("makes exactly the documented extra calls: one power-state read, then the restore step", async () => {
    const { sim, conn } = await setup("Paused");
    const before = await counters(sim);
    await failedRun(conn, "Halted", CLEAN);
    const after = await counters(sim);
    const grown = (m: string) => (after.calls[m] ?? 0) - (before.calls[m] ?? 0);
    // The restore's check only (a task that succeeded is not read back: executor "Post-state"); the
    // unpause and the restoring pause are plain calls; one task.destroy for the failed clean_shutdown's task.
    expect(
      ["VM.get_power_state", "VM.unpause", "VM.pause", "task.destroy", "VM.get_record"].map((m) => [
        m,
        grown(m),
      ]),
    ).toEqual([
      ["VM.get_power_state", 1],
      ["VM.unpause", 1],
      ["VM.pause", 1],
      ["task.destroy", 1],
      ["VM.get_record", 1],
    ]);
  });
});

describe("Paused → Halted under clean-then-hard, the guest has no PV drivers", () => {
  it("escalates to hard_shutdown and converges: nothing to restore", async () => {
    const { sim, conn } = await setup("Paused");
    const result = await converge(conn, { uuid: VM.uuid }, { powerState: "Halted" }, CLEAN_THEN_HARD);
    expect([result.finalPowerState, await lifecycleCalls(sim)]).toEqual([
      "Halted",
      ["VM.unpause", "VM.clean_shutdown", "VM.hard_shutdown"],
    ]);
  });
});

describe("Paused → Suspended under clean, the guest has no PV drivers", () => {
  it("stops with VM_LACKS_FEATURE on the suspend and pauses the VM again", async () => {
    const { sim, conn } = await setup("Paused");
    const error = await failedRun(conn, "Suspended", CLEAN);
    expect([error.code, await conn.call("VM.get_power_state", VM.ref), await lifecycleCalls(sim)]).toEqual([
      "VM_LACKS_FEATURE",
      "Paused",
      ["VM.unpause", "VM.suspend", "VM.pause"],
    ]);
  });
});

describe("Suspended → Halted under clean", () => {
  it("a clean_shutdown refused with VM_LACKS_FEATURE: the VM is suspended again", async () => {
    const { sim, conn } = await setup("Suspended");
    // The guest had PV drivers when it was suspended: only the shutdown request is refused.
    await control(sim, "setGuest", { uuid: VM.uuid, pvDrivers: true });
    await control(sim, "faults", {
      method: "Async.VM.clean_shutdown",
      code: "VM_LACKS_FEATURE",
      params: [VM.ref],
      count: 1,
    });
    const error = await failedRun(conn, "Halted", CLEAN);
    expect({
      code: error.code,
      live: await conn.call("VM.get_power_state", VM.ref),
      calls: await lifecycleCalls(sim),
      restore: error.restore,
      said: error.message.endsWith("it was suspended again (VM.suspend), Suspended as before the run."),
    }).toEqual({
      code: "VM_LACKS_FEATURE",
      live: "Suspended",
      calls: ["VM.resume", "VM.clean_shutdown", "VM.suspend"],
      restore: { state: "Suspended", call: "VM.suspend", restored: true },
      said: true,
    });
  });

  it("without PV drivers the suspend is refused too: the error says why, and no hard call is made", async () => {
    const { sim, conn } = await setup("Suspended");
    const error = await failedRun(conn, "Halted", CLEAN);
    expect({
      code: error.code,
      live: await conn.call("VM.get_power_state", VM.ref),
      calls: await lifecycleCalls(sim),
      restored: error.restore?.restored,
      done: error.done.map((s) => s.call),
    }).toEqual({
      code: "VM_LACKS_FEATURE",
      live: "Running",
      calls: ["VM.resume", "VM.clean_shutdown", "VM.suspend"],
      restored: false,
      done: ["VM.resume"],
    });
    expect(text(error)).toMatchInlineSnapshot(
      `"VM 5a1f0000-0000-4000-8000-0000000000e1: VM.clean_shutdown (Running → Halted) failed: VM_LACKS_FEATURE(<ref>) in VM.clean_shutdown. Done before: 1. VM.resume (Suspended → Running). Try policy.shutdown "clean-then-hard" to allow VM.hard_shutdown when the guest has no PV drivers / shutdown support, or fix the guest. This run had resumed the VM only on its way to the declared state; it was not suspended again (VM.suspend): VM_LACKS_FEATURE(<ref>) in VM.suspend."`,
    );
  });
});

describe("a live target", () => {
  it("restores nothing: Paused → Running with a boot change whose clean_reboot fails stays Running", async () => {
    const { sim, conn } = await setup("Paused");
    const error = await failedRun(conn, "Running", CLEAN, {
      HVM_boot_params: { order: "dc", firmware: "bios" },
    });
    expect([error.code, error.restore, await lifecycleCalls(sim)]).toEqual([
      "VM_LACKS_FEATURE",
      undefined,
      ["VM.unpause", "VM.clean_reboot"],
    ]);
  });
});
