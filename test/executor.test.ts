/**
 * The executor against xapi-sim, for every (from, to) pair and policy, with and without a boot change:
 * it converges, runs exactly the plan's calls, and the simulator's call counters show exactly the plan's
 * lifecycle calls plus the reads documented in provider/executor.ts. And one login for 100 operations.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeAllConnections, getConnection, type XapiConnection } from "../provider/client";
import { converge, readVm } from "../provider/executor";
import type { Policy } from "../provider/model/plan";
import {
  DECLARABLE_POWER_STATES,
  type DeclarablePowerState,
  LifecycleCall,
  type PowerState,
} from "../provider/model/vocabulary";
import type { RunningSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model/fixture";
import { control, counters, ROOT, type SimCounters, startSim } from "./client-sim";
import { gentlestPlans } from "./planner-oracle";

let sim: RunningSimulator;
let conn: XapiConnection;

beforeAll(async () => {
  sim = await startSim({ defaultOperationMs: 2, crashedCompat: false });
  conn = getConnection({ url: sim.url, ...ROOT, taskPoll: { initialMs: 2, maxMs: 20, factor: 2 } });
});

afterAll(async () => {
  await closeAllConnections();
  await sim.close();
});

const POLICIES: Record<string, Policy> = {
  clean: { shutdown: "clean", allowDiscardSuspendedState: false, bootChanges: "restart" },
  "clean-then-hard": {
    shutdown: "clean-then-hard",
    allowDiscardSuspendedState: false,
    bootChanges: "restart",
  },
  hard: { shutdown: "hard", allowDiscardSuspendedState: false, bootChanges: "restart" },
  "hard+discard": { shutdown: "hard", allowDiscardSuspendedState: true, bootChanges: "restart" },
  // The flag alone grants nothing: clean modes never discard, so the executor still re-checks.
  "clean-then-hard+discard": {
    shutdown: "clean-then-hard",
    allowDiscardSuspendedState: true,
    bootChanges: "restart",
  },
  "next-boot": { shutdown: "clean", allowDiscardSuspendedState: false, bootChanges: "next-boot" },
};

/** web-01: HVM with PV drivers, so clean calls work. Its fixture boot order is "c". */
const VM = FIXTURE.web;
const BOOT_CHANGE = { HVM_boot_params: { order: "dc", firmware: "bios" } };

/** The simulator's per-method counters that grew between two snapshots. */
function callsBetween(before: SimCounters, after: SimCounters): Record<string, number> {
  const grown: Record<string, number> = {};
  for (const [method, n] of Object.entries(after.calls)) {
    const delta = n - (before.calls[method] ?? 0);
    if (delta > 0) grown[method] = delta;
  }
  return grown;
}

/**
 * The documented calls of a run (provider/executor/index.ts, "Reads"), with wire names, for the given
 * lifecycle calls and setters, except event.from (≥ 1 per task of a run alone, timing-dependent), which is
 * checked separately.
 */
function documentedCalls(
  lifecycle: readonly string[],
  setters: readonly string[],
  policy: Policy,
): Record<string, number> {
  const expected: Record<string, number> = { "VM.get_by_uuid": 1, "VM.get_record": 1 };
  const add = (method: string) => {
    expected[method] = (expected[method] ?? 0) + 1;
  };
  for (const setter of setters) add(setter);
  for (const call of lifecycle) {
    // pause and unpause are plain calls (no task); every other lifecycle call is an Async.* task.
    if (call === LifecycleCall.pause || call === LifecycleCall.unpause) {
      add(call);
      continue;
    }
    add(`Async.${call}`);
    add("task.destroy");
    // The extra read before a hard_shutdown is skipped only where discarding an image is allowed.
    const mayDiscard = policy.shutdown === "hard" && policy.allowDiscardSuspendedState;
    if (call === LifecycleCall.hardShutdown && !mayDiscard) add("VM.get_power_state");
  }
  return expected;
}

/** Lifecycle calls sent as tasks (each waits for at least one event.from answer). */
function tasksIn(lifecycle: readonly string[]): number {
  return lifecycle.filter((c) => c !== LifecycleCall.pause && c !== LifecycleCall.unpause).length;
}

/**
 * The independent oracle's gentlest plans (test/planner-oracle.ts, no code shared with the planner) for a
 * VM in `from` declared `to`: lifecycle calls only (the oracle does not place setters).
 */
function oraclePlans(
  from: PowerState,
  to: DeclarablePowerState,
  policy: Policy,
  bootChange: boolean,
): string[][] {
  return gentlestPlans({ from, to, policy, stale: bootChange, forceRestart: false }).map((plan) =>
    plan.map((move) => move.call),
  );
}

async function putInState(state: PowerState): Promise<void> {
  await control(sim, "setPowerState", { uuid: VM.uuid, powerState: state });
  await control(sim, "setFields", {
    uuid: VM.uuid,
    fields: { HVM_boot_params: { order: "c", firmware: "bios" } },
  });
}

const cases = Object.keys(POLICIES).flatMap((policy) =>
  DECLARABLE_POWER_STATES.flatMap((from) =>
    DECLARABLE_POWER_STATES.flatMap((to) =>
      [false, true].map((bootChange) => ({ policy, from, to, bootChange })),
    ),
  ),
);

describe("converge: every (from, to) × policy × boot change", () => {
  it.each(cases)(
    "$from → $to, policy $policy, boot change $bootChange",
    async ({ policy: name, from, to, bootChange }) => {
      const policy = POLICIES[name] as Policy;
      await putInState(from);
      // Logged in before counting: the first case's login is not the run's.
      await conn.call("VM.get_power_state", VM.ref);
      const expectedPlans = oraclePlans(from, to, policy, bootChange);
      if (expectedPlans.length === 0) throw new Error(`the oracle finds no plan for ${from} → ${to}`);
      const before = await counters(sim);

      const result = await converge(
        conn,
        { uuid: VM.uuid },
        { powerState: to, ...(bootChange ? { boot: BOOT_CHANGE } : {}) },
        policy,
      );

      const { "event.from": answers = 0, ...calls } = callsBetween(before, await counters(sim));
      const made = result.steps.map((s) => s.call);
      const lifecycle = made.filter((c) => !c.startsWith("VM.set_"));
      const setters = made.filter((c) => c.startsWith("VM.set_"));
      expect({
        final: result.finalPowerState,
        live: await conn.call("VM.get_power_state", VM.ref),
        oraclePlan: expectedPlans.some((plan) => plan.join(" ") === lifecycle.join(" ")),
        setters,
        replans: result.replans,
        calls,
        enoughAnswers: answers >= tasksIn(lifecycle),
      }).toEqual({
        final: to,
        live: to,
        oraclePlan: true,
        setters: bootChange ? ["VM.set_HVM_boot_params"] : [],
        replans: 0,
        calls: documentedCalls(lifecycle, setters, policy),
        enoughAnswers: true,
      });
    },
  );
});

describe("a record the caller has just read", () => {
  it("is planned from without reading the VM again", async () => {
    await putInState("Halted");
    const { ref, record } = await readVm(conn, VM.uuid);
    const before = await counters(sim);
    const result = await converge(
      conn,
      { ref, uuid: VM.uuid },
      { powerState: "Running" },
      POLICIES.clean as Policy,
      {
        record,
      },
    );
    const { "event.from": _answers, ...calls } = callsBetween(before, await counters(sim));
    expect([result.finalPowerState, calls]).toEqual(["Running", { "Async.VM.start": 1, "task.destroy": 1 }]);
  });

  it("is used for the first plan only: a re-plan reads the record", async () => {
    await putInState("Halted");
    const { ref, record } = await readVm(conn, VM.uuid);
    // Someone starts the VM after the caller's read: XAPI refuses VM.start and the run re-plans.
    await control(sim, "setPowerState", { uuid: VM.uuid, powerState: "Running" });
    const before = await counters(sim);
    const result = await converge(
      conn,
      { ref, uuid: VM.uuid },
      { powerState: "Paused" },
      POLICIES.clean as Policy,
      {
        record,
      },
    );
    const after = await counters(sim);
    expect([
      result.finalPowerState,
      result.replans,
      result.steps.map((s) => s.call),
      callsBetween(before, after)["VM.get_record"],
    ]).toEqual(["Paused", 1, ["VM.pause"], 1]);
  });
});

describe("a Crashed VM (XenAPI 1.0 compatibility mode)", () => {
  it.each(DECLARABLE_POWER_STATES)(
    "is left with VM.hard_shutdown and brought to %s, even under policy clean",
    async (to) => {
      await putInState("Running");
      await control(sim, "config", { crashedCompat: true });
      try {
        await control(sim, "crashGuest", { uuid: VM.uuid });
        const observed = await conn.call("VM.get_power_state", VM.ref);
        const result = await converge(conn, { uuid: VM.uuid }, { powerState: to }, POLICIES.clean as Policy);
        expect([observed, result.steps[0]?.call, result.finalPowerState]).toEqual([
          "Crashed",
          "VM.hard_shutdown",
          to,
        ]);
      } finally {
        await control(sim, "config", { crashedCompat: false });
      }
    },
  );
});

describe("boot changes", () => {
  it("reports a next-boot change on a running VM as pending", async () => {
    await putInState("Running");
    const result = await converge(
      conn,
      { uuid: VM.uuid },
      { powerState: "Running", boot: BOOT_CHANGE },
      POLICIES["next-boot"] as Policy,
    );
    expect([result.bootChangePending, result.observedBoot.HVM_boot_params]).toEqual([
      true,
      BOOT_CHANGE.HVM_boot_params,
    ]);
  });

  it("applies a restart-mode change with one reboot and reports nothing pending", async () => {
    await putInState("Running");
    const result = await converge(
      conn,
      { uuid: VM.uuid },
      { powerState: "Running", boot: BOOT_CHANGE },
      POLICIES.clean as Policy,
    );
    const boot = await control<{ lastBoot: { order: string; via: string }; pendingBootChange: boolean }>(
      sim,
      "bootRecord",
      { uuid: VM.uuid },
    );
    expect([
      result.steps.map((s) => s.call),
      result.bootChangePending,
      boot.lastBoot,
      boot.pendingBootChange,
    ]).toEqual([
      ["VM.set_HVM_boot_params", "VM.clean_reboot"],
      false,
      expect.objectContaining({ order: "dc", via: "clean_reboot" }),
      false,
    ]);
  });

  it("skips a setter whose value XAPI's domain_type coupling already wrote", async () => {
    await putInState("Halted");
    await control(sim, "setFields", { uuid: VM.uuid, fields: { domain_type: "pv", HVM_boot_policy: "" } });
    const result = await converge(
      conn,
      { uuid: VM.uuid },
      { powerState: "Halted", boot: { domain_type: "hvm", HVM_boot_policy: "BIOS order" } },
      POLICIES.clean as Policy,
    );
    const written = result.steps.filter((s) => s.skipped === undefined).map((s) => s.call);
    const live = await conn.call<string>("VM.get_domain_type", VM.ref);
    expect([written.length, live]).toEqual([1, "hvm"]);
  });
});

describe("sessions", () => {
  it("logs in once for 100 operations", async () => {
    await closeAllConnections();
    await control(sim, "reset");
    const shared = getConnection({ url: sim.url, ...ROOT, taskPoll: { initialMs: 2, maxMs: 20, factor: 2 } });
    const targets: DeclarablePowerState[] = [
      "Halted",
      "Running",
      "Paused",
      "Running",
      "Suspended",
      "Running",
    ];
    const vms = [FIXTURE.web, FIXTURE.db, FIXTURE.batch, FIXTURE.pv];
    let operations = 0;
    for (let round = 0; operations < 100; round++) {
      const target = targets[round % targets.length] as DeclarablePowerState;
      await Promise.all(
        vms.map((vm) =>
          converge(shared, { uuid: vm.uuid }, { powerState: target }, POLICIES.clean as Policy),
        ),
      );
      operations += vms.length;
    }
    expect([(await counters(sim)).logins, shared.stats.logins]).toEqual([1, 1]);
    conn = shared;
  });
});
