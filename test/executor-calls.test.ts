/**
 * XAPI calls per planned call, on a mixed set of transitions run the way the provider runs them (the caller
 * has read the VM and passes its ref and record): every count below is written by hand from the rule of
 * provider/executor.ts ("Reads"), not computed by the code under test.
 *
 * Rule: a lifecycle step costs `Async.VM.<call>` + `task.destroy` + its share of the session's `event.from`
 * answers, except `VM.pause` and `VM.unpause`, plain calls that cost themselves; a setter costs itself; `VM.hard_shutdown` (policy without allowDiscardSuspendedState) costs one
 * `VM.get_power_state` before it; nothing else (no power-state read after a task, no task.get_record).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeAllConnections, getConnection, type XapiConnection } from "../provider/client";
import { converge, readVm } from "../provider/executor";
import type { Policy } from "../provider/model/plan";
import type { DeclarablePowerState } from "../provider/model/vocabulary";
import type { RunningSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model/fixture";
import { control, counters, ROOT, type SimCounters, startSim } from "./client-sim";

const CLEAN: Policy = { shutdown: "clean", allowDiscardSuspendedState: false, bootChanges: "restart" };
const HARD: Policy = { ...CLEAN, shutdown: "hard" };
const INITIAL_BOOT = { order: "c", firmware: "bios" };
const BOOT_CHANGE = { HVM_boot_params: { order: "dc", firmware: "bios" } };

interface Job {
  from: DeclarablePowerState;
  to: DeclarablePowerState;
  boot: boolean;
  policy: Policy;
  /** The plan, by hand. */
  steps: string[];
}

const JOBS: Job[] = [
  { from: "Halted", to: "Running", boot: false, policy: CLEAN, steps: ["VM.start"] },
  { from: "Running", to: "Halted", boot: false, policy: CLEAN, steps: ["VM.clean_shutdown"] },
  { from: "Running", to: "Suspended", boot: false, policy: CLEAN, steps: ["VM.suspend"] },
  { from: "Suspended", to: "Running", boot: false, policy: CLEAN, steps: ["VM.resume"] },
  { from: "Paused", to: "Running", boot: false, policy: CLEAN, steps: ["VM.unpause"] },
  { from: "Running", to: "Paused", boot: false, policy: CLEAN, steps: ["VM.pause"] },
  { from: "Halted", to: "Running", boot: true, policy: CLEAN, steps: ["VM.set_HVM_boot_params", "VM.start"] },
  {
    from: "Running",
    to: "Running",
    boot: true,
    policy: CLEAN,
    steps: ["VM.set_HVM_boot_params", "VM.clean_reboot"],
  },
  { from: "Halted", to: "Halted", boot: true, policy: CLEAN, steps: ["VM.set_HVM_boot_params"] },
  { from: "Running", to: "Halted", boot: false, policy: HARD, steps: ["VM.hard_shutdown"] },
  { from: "Suspended", to: "Halted", boot: false, policy: CLEAN, steps: ["VM.resume", "VM.clean_shutdown"] },
  { from: "Paused", to: "Halted", boot: false, policy: CLEAN, steps: ["VM.unpause", "VM.clean_shutdown"] },
  {
    from: "Paused",
    to: "Suspended",
    boot: true,
    policy: CLEAN,
    steps: ["VM.set_HVM_boot_params", "VM.unpause", "VM.suspend"],
  },
];

/** 19 planned calls: 15 lifecycle calls (11 of them tasks; 3 unpause and 1 pause are plain calls) and 4 setters. */
const PLANNED = 19;
const TASKS = 11;
/** Every call but event.from, by hand from the rule. */
const EXPECTED: Record<string, number> = {
  "Async.VM.start": 2,
  "Async.VM.clean_shutdown": 3,
  "Async.VM.suspend": 2,
  "Async.VM.resume": 2,
  "VM.unpause": 3,
  "VM.pause": 1,
  "Async.VM.clean_reboot": 1,
  "Async.VM.hard_shutdown": 1,
  "task.destroy": 11,
  "VM.set_HVM_boot_params": 4,
  "VM.get_power_state": 1,
};

let sim: RunningSimulator;
let conn: XapiConnection;
let vms: { ref: string; uuid: string }[];

beforeAll(async () => {
  sim = await startSim({ defaultOperationMs: 5 });
  conn = getConnection({ url: sim.url, ...ROOT });
  vms = [];
  for (let i = 0; i < JOBS.length; i++) {
    const ref = await conn.call<string>("VM.clone", FIXTURE.db.ref, `calls-${i}`);
    vms.push({ ref, uuid: await conn.call<string>("VM.get_uuid", ref) });
  }
});

afterAll(async () => {
  await closeAllConnections();
  await sim.close();
});

/** Put every VM in its job's starting state, with the initial boot order and PV drivers. */
async function prepare(): Promise<void> {
  for (const [i, job] of JOBS.entries()) {
    const uuid = vms[i]?.uuid as string;
    await control(sim, "setGuest", { uuid, pvDrivers: true });
    await control(sim, "setPowerState", { uuid, powerState: job.from });
    await control(sim, "setFields", { uuid, fields: { HVM_boot_params: INITIAL_BOOT } });
  }
}

/** One job as the provider runs it: the VM read first (outside the count), then converge with it. */
async function readThenRun(): Promise<Array<() => Promise<string[]>>> {
  const runs: Array<() => Promise<string[]>> = [];
  for (const [i, job] of JOBS.entries()) {
    const { ref, record } = await readVm(conn, vms[i]?.uuid as string);
    runs.push(async () => {
      const result = await converge(
        conn,
        { ref, uuid: record.uuid },
        { powerState: job.to, ...(job.boot ? { boot: BOOT_CHANGE } : {}) },
        job.policy,
        { record },
      );
      return result.steps.map((s) => s.call);
    });
  }
  return runs;
}

function grownCalls(before: SimCounters, after: SimCounters): Record<string, number> {
  const grown: Record<string, number> = {};
  for (const [method, n] of Object.entries(after.calls)) {
    const delta = n - (before.calls[method] ?? 0);
    if (delta > 0) grown[method] = delta;
  }
  return grown;
}

describe("calls per planned call, mixed transitions", () => {
  it("run together (as `pulumi up` runs resources): at most 2.5 XAPI calls per planned call", async () => {
    await prepare();
    const runs = await readThenRun();
    const before = await counters(sim);
    const steps = await Promise.all(runs.map((run) => run()));
    const { "event.from": answers = 0, ...calls } = grownCalls(before, await counters(sim));
    const total = Object.values(calls).reduce((a, b) => a + b, 0) + answers;
    console.log(
      `together: ${total} calls for ${PLANNED} planned (${(total / PLANNED).toFixed(2)}), ${answers} event.from`,
    );
    expect({
      steps,
      calls,
      answersShared: answers <= TASKS,
      perPlanned: total / PLANNED <= 2.5,
    }).toEqual({
      steps: JOBS.map((j) => j.steps),
      calls: EXPECTED,
      answersShared: true,
      perPlanned: true,
    });
  });

  it("one at a time: the same calls, and at most two event.from answers per task", async () => {
    await prepare();
    const runs = await readThenRun();
    const before = await counters(sim);
    const steps: string[][] = [];
    for (const run of runs) steps.push(await run());
    const { "event.from": answers = 0, ...calls } = grownCalls(before, await counters(sim));
    const total = Object.values(calls).reduce((a, b) => a + b, 0) + answers;
    console.log(
      `one at a time: ${total} calls for ${PLANNED} planned (${(total / PLANNED).toFixed(2)}), ${answers} event.from`,
    );
    expect({ steps, calls, answers: answers >= TASKS && answers <= 2 * TASKS }).toEqual({
      steps: JOBS.map((j) => j.steps),
      calls: EXPECTED,
      answers: true,
    });
  });
});
