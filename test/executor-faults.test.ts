/**
 * The executor with one fault injected at a time: it converges or stops with a clear error as the
 * policy dictates, never makes a call the policy forbids (checked in the simulator's call log), and
 * leaves no session or task behind.
 */
import { afterEach, describe, expect, it } from "vitest";
import { closeAllConnections, getConnection, type XapiConnection } from "../provider/client";
import { converge, ExecutionError, type RunEvent } from "../provider/executor";
import type { Policy } from "../provider/model/plan";
import { DECLARABLE_POWER_STATES } from "../provider/model/vocabulary";
import type { RunningSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model/fixture";
import { callLog, control, counters, ROOT, startSim } from "./client-sim";
import { gentlestPlans } from "./planner-oracle";

const CLEAN: Policy = { shutdown: "clean", allowDiscardSuspendedState: false, bootChanges: "restart" };
const CLEAN_THEN_HARD: Policy = { ...CLEAN, shutdown: "clean-then-hard" };
const HARD: Policy = { ...CLEAN, shutdown: "hard" };
const FAST_RETRY = { retryBackoff: { initialMs: 5, maxMs: 20, factor: 2 } };

let sim: RunningSimulator | undefined;

async function setup(
  options: Parameters<typeof startSim>[0] = {},
): Promise<{ sim: RunningSimulator; conn: XapiConnection }> {
  sim = await startSim({ defaultOperationMs: 5, cleanShutdownTimeoutMs: 100, ...options });
  const conn = getConnection({ url: sim.url, ...ROOT, taskPoll: { initialMs: 2, maxMs: 20, factor: 2 } });
  return { sim, conn };
}

/** The lifecycle calls in the simulator's log, in order (Async prefix dropped). */
async function lifecycleCalls(s: RunningSimulator): Promise<string[]> {
  return (await callLog(s))
    .map((entry) => entry.method.replace(/^Async\./, ""))
    .filter((method) => /^VM\.(start|pause|unpause|suspend|resume|clean_|hard_|shutdown)/.test(method));
}

afterEach(async () => {
  const s = sim;
  sim = undefined;
  if (s === undefined) return;
  // Every test must leave nothing behind once the process closes its connections.
  await closeAllConnections();
  const c = await counters(s);
  await s.close();
  expect([c.liveSessions, c.liveTasks]).toEqual([0, 0]);
});

/**
 * Each fault, injected once on the first lifecycle call of a plan: armed in the simulator, or (for
 * SESSION_INVALID, which must really invalidate the session) done when the executor starts step 1.
 */
const FAULTS: Record<string, { arm?: (call: string) => Record<string, unknown>; atStep1?: string }> = {
  "network drop": { arm: (call) => ({ method: wireName(call), drop: true }) },
  OTHER_OPERATION_IN_PROGRESS: {
    arm: (call) => ({
      method: wireName(call),
      code: "OTHER_OPERATION_IN_PROGRESS",
      params: ["VM", FIXTURE.web.ref, "other", "OpaqueRef:other"],
    }),
  },
  SESSION_INVALID: { atStep1: "invalidateSessions" },
  HOST_IS_SLAVE: {
    arm: (call) => ({ method: wireName(call), code: "HOST_IS_SLAVE", params: ["127.0.0.1"] }),
  },
};

/** How the executor sends a lifecycle call: pause and unpause as plain calls, the others as tasks. */
function wireName(call: string): string {
  return call === "VM.pause" || call === "VM.unpause" ? call : `Async.${call}`;
}

const pairs = DECLARABLE_POWER_STATES.flatMap((from) =>
  DECLARABLE_POWER_STATES.filter((to) => to !== from).flatMap((to) =>
    Object.keys(FAULTS).map((fault) => ({ from, to, fault })),
  ),
);

describe("every (from, to) pair with each fault injected once", () => {
  it.each(pairs)(
    "$from → $to, $fault: converges with the plan's calls, no hard call",
    async ({ from, to, fault }) => {
      const { sim, conn } = await setup();
      await control(sim, "setPowerState", { uuid: FIXTURE.web.uuid, powerState: from });
      // The expected calls from the independent oracle (test/planner-oracle.ts), not from the planner.
      const plans = gentlestPlans({ from, to, policy: CLEAN, stale: false, forceRestart: false }).map(
        (plan) => plan.map((move) => move.call),
      );
      const firsts = new Set(plans.map((plan) => plan[0]));
      if (plans.length === 0 || firsts.size !== 1)
        throw new Error(`no single first call for ${from} → ${to}`);
      const first = plans[0]?.[0] ?? "";
      const { arm, atStep1 } = FAULTS[fault] ?? {};
      if (arm !== undefined) await control(sim, "faults", arm(first));
      const onEvent = async (event: RunEvent) => {
        if (atStep1 !== undefined && event.kind === "step" && event.number === 1) await control(sim, atStep1);
      };
      const before = (await callLog(sim)).length;
      const result = await converge(conn, { uuid: FIXTURE.web.uuid }, { powerState: to }, CLEAN, {
        ...FAST_RETRY,
        onEvent,
      });
      const made = (await callLog(sim))
        .slice(before)
        .map((entry) => entry.method.replace(/^Async\./, ""))
        .filter((method) => /^VM\.(start|pause|unpause|suspend|resume|clean_|hard_|shutdown)/.test(method));
      // The faulted call appears twice (refused or lost, then re-sent); nothing else is added.
      const asPlanned = plans.some((plan) => [first, ...plan].join(" ") === made.join(" "));
      expect([result.finalPowerState, asPlanned, made[0]]).toEqual([to, true, first]);
    },
  );
});

describe("transient network error", () => {
  it("re-sends a dropped lifecycle call after checking the VM did not move, and converges", async () => {
    const { sim, conn } = await setup();
    await control(sim, "faults", { method: "Async.VM.start", drop: true, count: 1 });
    const result = await converge(
      conn,
      { uuid: FIXTURE.db.uuid },
      { powerState: "Running" },
      CLEAN,
      FAST_RETRY,
    );
    expect([result.finalPowerState, await lifecycleCalls(sim)]).toEqual([
      "Running",
      ["VM.start", "VM.start"],
    ]);
  });
});

describe("OTHER_OPERATION_IN_PROGRESS", () => {
  it("is retried with backoff and the run converges", async () => {
    const { sim, conn } = await setup();
    await control(sim, "faults", {
      method: "Async.VM.start",
      code: "OTHER_OPERATION_IN_PROGRESS",
      params: ["VM", FIXTURE.db.ref, "start", "OpaqueRef:other"],
      count: 2,
    });
    const result = await converge(
      conn,
      { uuid: FIXTURE.db.uuid },
      { powerState: "Running" },
      CLEAN,
      FAST_RETRY,
    );
    expect([result.finalPowerState, (await lifecycleCalls(sim)).length]).toEqual(["Running", 3]);
  });

  it("stops after the bounded number of retries", async () => {
    const { sim, conn } = await setup();
    await control(sim, "faults", {
      method: "Async.VM.start",
      code: "OTHER_OPERATION_IN_PROGRESS",
      count: 10,
    });
    const error = await converge(conn, { uuid: FIXTURE.db.uuid }, { powerState: "Running" }, CLEAN, {
      ...FAST_RETRY,
      retries: 2,
    }).catch((e: unknown) => e);
    expect([(error as ExecutionError).code, (await lifecycleCalls(sim)).length]).toEqual([
      "OTHER_OPERATION_IN_PROGRESS",
      3,
    ]);
  });
});

describe("SESSION_INVALID", () => {
  it("logs in again once mid-run and converges", async () => {
    const { sim, conn } = await setup();
    await conn.call("pool.get_all");
    await control(sim, "invalidateSessions");
    const result = await converge(conn, { uuid: FIXTURE.db.uuid }, { powerState: "Suspended" }, CLEAN);
    expect([result.finalPowerState, (await counters(sim)).logins]).toEqual(["Suspended", 2]);
  });
});

describe("HOST_IS_SLAVE", () => {
  it("follows a pool member to the master and converges there", async () => {
    const { sim } = await setup({ member: true });
    const viaMember = getConnection({ url: sim.memberUrl ?? "", ...ROOT });
    const result = await converge(viaMember, { uuid: FIXTURE.db.uuid }, { powerState: "Running" }, CLEAN);
    expect([result.finalPowerState, viaMember.url]).toEqual(["Running", sim.url]);
  });
});

describe("HOST_IS_SLAVE on a session call", () => {
  it("logs in again at the named coordinator and re-sends the call", async () => {
    const { sim, conn } = await setup();
    await conn.call("pool.get_all");
    await control(sim, "faults", {
      method: "Async.VM.start",
      code: "HOST_IS_SLAVE",
      params: ["127.0.0.1"],
      count: 1,
    });
    const result = await converge(conn, { uuid: FIXTURE.db.uuid }, { powerState: "Running" }, CLEAN);
    expect([result.finalPowerState, (await counters(sim)).logins, await lifecycleCalls(sim)]).toEqual([
      "Running",
      2,
      ["VM.start", "VM.start"],
    ]);
  });
});

describe("out-of-band state change before a step", () => {
  it("re-plans when the VM was halted by someone else between start and suspend", async () => {
    const { sim, conn } = await setup();
    const onEvent = async (event: RunEvent) => {
      if (event.kind === "step" && event.number === 2)
        await control(sim, "setPowerState", { uuid: FIXTURE.db.uuid, powerState: "Halted" });
    };
    const result = await converge(conn, { uuid: FIXTURE.db.uuid }, { powerState: "Suspended" }, CLEAN, {
      onEvent,
    });
    expect([result.finalPowerState, result.replans, await lifecycleCalls(sim)]).toEqual([
      "Suspended",
      1,
      ["VM.start", "VM.suspend", "VM.start", "VM.suspend"],
    ]);
  });

  it("never hard-shuts-down a VM that became Suspended when the policy forbids discarding it", async () => {
    const { sim, conn } = await setup();
    const onEvent = async (event: RunEvent) => {
      if (event.kind === "step" && event.number === 1 && event.step.call === "VM.hard_shutdown") {
        await control(sim, "setPowerState", { uuid: FIXTURE.web.uuid, powerState: "Suspended" });
      }
    };
    const result = await converge(conn, { uuid: FIXTURE.web.uuid }, { powerState: "Halted" }, HARD, {
      onEvent,
    });
    // The log shows no hard_shutdown before the resume: the Suspended image was never discarded.
    expect([result.finalPowerState, result.replans, await lifecycleCalls(sim)]).toEqual([
      "Halted",
      1,
      ["VM.resume", "VM.hard_shutdown"],
    ]);
  });

  it("re-checks before re-sending a hard_shutdown refused with OTHER_OPERATION_IN_PROGRESS (the other operation was a suspend)", async () => {
    const { sim, conn } = await setup();
    await control(sim, "faults", {
      method: "Async.VM.hard_shutdown",
      code: "OTHER_OPERATION_IN_PROGRESS",
      params: ["VM", FIXTURE.web.ref, "suspend", "OpaqueRef:other"],
      count: 1,
    });
    const onEvent = async (event: RunEvent) => {
      // The operation that held the VM completes during the backoff: the VM is now Suspended.
      if (event.kind === "retry" && event.call === "VM.hard_shutdown")
        await control(sim, "setPowerState", { uuid: FIXTURE.web.uuid, powerState: "Suspended" });
    };
    const result = await converge(conn, { uuid: FIXTURE.web.uuid }, { powerState: "Halted" }, HARD, {
      ...FAST_RETRY,
      onEvent,
    });
    // Refused, then resume before the next hard_shutdown: the suspend image was never discarded.
    expect([result.finalPowerState, result.replans, await lifecycleCalls(sim)]).toEqual([
      "Halted",
      1,
      ["VM.hard_shutdown", "VM.resume", "VM.hard_shutdown"],
    ]);
  });

  it("re-checks after the backoff before re-sending a hard_shutdown lost to a network failure", async () => {
    const { sim, conn } = await setup();
    await control(sim, "faults", { method: "Async.VM.hard_shutdown", drop: true, count: 1 });
    const onEvent = async (event: RunEvent) => {
      if (event.kind === "retry" && event.call === "VM.hard_shutdown")
        await control(sim, "setPowerState", { uuid: FIXTURE.web.uuid, powerState: "Suspended" });
    };
    const result = await converge(conn, { uuid: FIXTURE.web.uuid }, { powerState: "Halted" }, HARD, {
      ...FAST_RETRY,
      onEvent,
    });
    expect([result.finalPowerState, result.replans, await lifecycleCalls(sim)]).toEqual([
      "Halted",
      1,
      ["VM.hard_shutdown", "VM.resume", "VM.hard_shutdown"],
    ]);
  });

  it("gives up after the re-plan cap when the VM keeps moving (no loop)", async () => {
    const { sim, conn } = await setup();
    // Every time the executor is about to suspend, someone halts the VM again.
    const onEvent = async (event: RunEvent) => {
      if (event.kind === "step" && event.step.call === "VM.suspend")
        await control(sim, "setPowerState", { uuid: FIXTURE.db.uuid, powerState: "Halted" });
    };
    const error = (await converge(conn, { uuid: FIXTURE.db.uuid }, { powerState: "Suspended" }, CLEAN, {
      onEvent,
      maxReplans: 2,
    }).catch((e: unknown) => e)) as ExecutionError;
    expect([error.code, (await lifecycleCalls(sim)).filter((c) => c === "VM.start").length]).toEqual([
      "REPLAN_LIMIT",
      3,
    ]);
  });
});

describe("guest ignoring clean shutdown", () => {
  it("stops with a clear error under policy clean and never calls a hard shutdown", async () => {
    const { sim, conn } = await setup();
    const error = (await converge(
      conn,
      { uuid: FIXTURE.stubborn.uuid },
      { powerState: "Halted" },
      CLEAN,
    ).catch((e: unknown) => e)) as ExecutionError;
    expect(error).toBeInstanceOf(ExecutionError);
    expect([error.code, error.step?.call, await lifecycleCalls(sim)]).toEqual([
      "VM_SHUTDOWN_TIMEOUT",
      "VM.clean_shutdown",
      ["VM.clean_shutdown"],
    ]);
    expect(error.message.replace(/OpaqueRef:[0-9a-f-]+/g, "<ref>")).toMatchInlineSnapshot(
      `"VM 5a1f0000-0000-4000-8000-0000000000e7: VM.clean_shutdown (Running → Halted) failed: VM_SHUTDOWN_TIMEOUT(<ref>, 0.1) in VM.clean_shutdown. Nothing was done before. Try policy.shutdown "clean-then-hard" to allow VM.hard_shutdown when the guest did not comply in time, or fix the guest."`,
    );
  });

  it("escalates to hard_shutdown under clean-then-hard", async () => {
    const { sim, conn } = await setup();
    const result = await converge(
      conn,
      { uuid: FIXTURE.stubborn.uuid },
      { powerState: "Halted" },
      CLEAN_THEN_HARD,
    );
    expect([
      result.finalPowerState,
      result.steps.map((s) => [s.call, s.escalatedFrom]),
      await lifecycleCalls(sim),
    ]).toEqual([
      "Halted",
      [["VM.hard_shutdown", "VM.clean_shutdown"]],
      ["VM.clean_shutdown", "VM.hard_shutdown"],
    ]);
  });

  it("escalates after the per-operation timeout when XAPI's own timeout is longer", async () => {
    const { sim, conn } = await setup({ cleanShutdownTimeoutMs: 5000 });
    const result = await converge(
      conn,
      { uuid: FIXTURE.stubborn.uuid },
      { powerState: "Halted" },
      CLEAN_THEN_HARD,
      {
        operationTimeoutMs: 150,
      },
    );
    const methods = (await callLog(sim)).map((entry) => entry.method);
    expect([result.steps[0]?.escalatedFrom, methods.includes("task.cancel")]).toEqual([
      "VM.clean_shutdown",
      true,
    ]);
  });

  it("escalates a guest without PV drivers (VM_LACKS_FEATURE) under clean-then-hard only", async () => {
    const { sim, conn } = await setup();
    await control(sim, "setPowerState", { uuid: FIXTURE.legacy.uuid, powerState: "Running" });
    const strict = (await converge(
      conn,
      { uuid: FIXTURE.legacy.uuid },
      { powerState: "Halted" },
      CLEAN,
    ).catch((e: unknown) => e)) as ExecutionError;
    const lenient = await converge(
      conn,
      { uuid: FIXTURE.legacy.uuid },
      { powerState: "Halted" },
      CLEAN_THEN_HARD,
    );
    expect([strict.code, lenient.finalPowerState, await lifecycleCalls(sim)]).toEqual([
      "VM_LACKS_FEATURE",
      "Halted",
      ["VM.clean_shutdown", "VM.clean_shutdown", "VM.hard_shutdown"],
    ]);
  });
});

describe("other failures", () => {
  it("stop the run with the VM, step, XAPI code and what was done", async () => {
    const { sim, conn } = await setup();
    await control(sim, "faults", {
      method: "Async.VM.suspend",
      code: "VM_NO_SUSPEND_SR",
      params: [FIXTURE.db.ref],
      count: 1,
    });
    const error = (await converge(conn, { uuid: FIXTURE.db.uuid }, { powerState: "Suspended" }, CLEAN).catch(
      (e: unknown) => e,
    )) as ExecutionError;
    expect([error.code, error.done.map((s) => s.call)]).toEqual(["VM_NO_SUSPEND_SR", ["VM.start"]]);
    expect(error.message).toMatchInlineSnapshot(
      `"VM 5a1f0000-0000-4000-8000-0000000000e2: VM.suspend (Running → Suspended) failed: VM_NO_SUSPEND_SR(OpaqueRef:5a1f0000-0000-4000-8000-000000000042) in VM.suspend. Done before: 1. VM.start (Halted → Running)."`,
    );
  });

  it("a failed first read keeps XAPI's code (callers branch on it) and says what failed", async () => {
    const { conn } = await setup();
    const uuid = "00000000-0000-4000-8000-00000000dead";
    const error = (await converge(conn, { uuid }, { powerState: "Running" }, CLEAN).catch(
      (e: unknown) => e,
    )) as ExecutionError;
    expect([error.code, error.message]).toEqual([
      "UUID_INVALID",
      `VM ${uuid}: UUID_INVALID(VM, ${uuid}) in VM.get_by_uuid. Nothing was done before. Reading the VM failed.`,
    ]);
  });

  it("respect the hard cap on steps", async () => {
    const { conn } = await setup();
    const error = (await converge(conn, { uuid: FIXTURE.db.uuid }, { powerState: "Suspended" }, CLEAN, {
      maxSteps: 1,
    }).catch((e: unknown) => e)) as ExecutionError;
    expect([error.code, error.done.length]).toEqual(["STEP_LIMIT", 1]);
  });
});
