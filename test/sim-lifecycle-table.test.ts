/**
 * Every (lifecycle operation × power state) cell of xapi-semantics §4.1 / §2.1, through
 * `dispatch`, both as a sync call and as its `Async.` variant: legal calls reach the documented
 * state, illegal ones fail with exactly XAPI's VM_BAD_POWER_STATE [vm, expected, actual] (§5.1).
 */
import { describe, expect, it } from "vitest";
import { FIXTURE, harness } from "./sim-model-helpers";

type State = "Halted" | "Paused" | "Running" | "Suspended";
const STATES: readonly State[] = ["Halted", "Paused", "Running", "Suspended"];

/** A cell's expected outcome: a target state, deletion, or an error [code, ...params-after-vm]. */
type Outcome = { to: State } | { deleted: true } | { error: string; params: readonly string[] };

const to = (s: State): Outcome => ({ to: s });
const bad = (expected: string, actual: State): Outcome => ({
  error: "VM_BAD_POWER_STATE",
  params: [expected, actual.toLowerCase()],
});

const VM = FIXTURE.db.ref;
const HOST = FIXTURE.master.ref;

interface Row {
  readonly call: string;
  readonly args: readonly unknown[];
  readonly cells: Readonly<Record<State, Outcome>>;
}

/** Written from xapi-semantics §4.1 (allowed states, in the code's order) and §2.1 (targets). */
const TABLE: readonly Row[] = [
  {
    call: "start",
    args: [false, false],
    cells: {
      Halted: to("Running"),
      Paused: bad("halted", "Paused"),
      Running: bad("halted", "Running"),
      Suspended: bad("halted", "Suspended"),
    },
  },
  {
    call: "start",
    args: [true, false],
    cells: {
      Halted: to("Paused"),
      Paused: bad("halted", "Paused"),
      Running: bad("halted", "Running"),
      Suspended: bad("halted", "Suspended"),
    },
  },
  {
    call: "start_on",
    args: [HOST, false, false],
    cells: {
      Halted: to("Running"),
      Paused: bad("halted", "Paused"),
      Running: bad("halted", "Running"),
      Suspended: bad("halted", "Suspended"),
    },
  },
  {
    call: "start_on",
    args: [HOST, true, false],
    cells: {
      Halted: to("Paused"),
      Paused: bad("halted", "Paused"),
      Running: bad("halted", "Running"),
      Suspended: bad("halted", "Suspended"),
    },
  },
  {
    call: "pause",
    args: [],
    cells: {
      Halted: bad("running", "Halted"),
      Paused: bad("running", "Paused"),
      Running: to("Paused"),
      Suspended: bad("running", "Suspended"),
    },
  },
  {
    call: "unpause",
    args: [],
    cells: {
      Halted: bad("paused", "Halted"),
      Paused: to("Running"),
      Running: bad("paused", "Running"),
      Suspended: bad("paused", "Suspended"),
    },
  },
  {
    call: "suspend",
    args: [],
    cells: {
      Halted: bad("running", "Halted"),
      Paused: bad("running", "Paused"),
      Running: to("Suspended"),
      Suspended: bad("running", "Suspended"),
    },
  },
  {
    call: "resume",
    args: [false, false],
    cells: {
      Halted: bad("suspended", "Halted"),
      Paused: bad("suspended", "Paused"),
      Running: bad("suspended", "Running"),
      Suspended: to("Running"),
    },
  },
  {
    call: "resume",
    args: [true, false],
    cells: {
      Halted: bad("suspended", "Halted"),
      Paused: bad("suspended", "Paused"),
      Running: bad("suspended", "Running"),
      Suspended: to("Paused"),
    },
  },
  {
    call: "resume_on",
    args: [HOST, false, false],
    cells: {
      Halted: bad("suspended", "Halted"),
      Paused: bad("suspended", "Paused"),
      Running: bad("suspended", "Running"),
      Suspended: to("Running"),
    },
  },
  {
    call: "clean_shutdown",
    args: [],
    cells: {
      Halted: bad("running", "Halted"),
      Paused: bad("running", "Paused"),
      Running: to("Halted"),
      Suspended: bad("running", "Suspended"),
    },
  },
  {
    call: "hard_shutdown",
    args: [],
    cells: {
      Halted: bad("paused, suspended, running", "Halted"),
      Paused: to("Halted"),
      Running: to("Halted"),
      Suspended: to("Halted"),
    },
  },
  {
    call: "shutdown",
    args: [],
    cells: {
      Halted: bad("paused, suspended, running", "Halted"),
      Paused: to("Halted"),
      Running: to("Halted"),
      Suspended: to("Halted"),
    },
  },
  {
    call: "clean_reboot",
    args: [],
    cells: {
      Halted: bad("running", "Halted"),
      Paused: bad("running", "Paused"),
      Running: to("Running"),
      Suspended: bad("running", "Suspended"),
    },
  },
  {
    call: "hard_reboot",
    args: [],
    cells: {
      Halted: bad("paused, running", "Halted"),
      Paused: to("Running"),
      Running: to("Running"),
      Suspended: bad("paused, running", "Suspended"),
    },
  },
  {
    call: "destroy",
    args: [],
    cells: {
      Halted: { deleted: true },
      Paused: bad("halted, suspended", "Paused"),
      Running: bad("halted, suspended", "Running"),
      Suspended: { deleted: true },
    },
  },
  {
    call: "power_state_reset",
    args: [],
    cells: {
      Halted: to("Halted"),
      Paused: { error: "DOMAIN_EXISTS", params: [] },
      Running: { error: "DOMAIN_EXISTS", params: [] },
      Suspended: to("Halted"),
    },
  },
];

const CASES = TABLE.flatMap((row) =>
  STATES.map((from) => ({
    ...row,
    from,
    outcome: row.cells[from],
    label: `${row.call}(${row.args.join(", ")})`,
  })),
);

/** A fresh pool with db-01 put into `from` out of band. */
async function setup(from: State) {
  const h = await harness();
  if (from !== "Halted") await h.control("setPowerState", { uuid: FIXTURE.db.uuid, powerState: from });
  expect(await h.powerState(VM)).toBe(from);
  return h;
}

async function expectOutcome(h: Awaited<ReturnType<typeof harness>>, outcome: Outcome): Promise<void> {
  if ("deleted" in outcome) {
    expect((await h.fault("VM.get_record", VM)).params).toEqual(["VM", VM]);
  } else if ("to" in outcome) {
    expect(await h.powerState(VM)).toBe(outcome.to);
  }
  if ("to" in outcome && outcome.to !== "Halted" && outcome.to !== "Suspended") {
    expect(await h.call("VM.get_domid", VM)).toBeGreaterThan(0);
  }
}

describe("xapi-semantics §4.1 lifecycle table, sync calls", () => {
  it.each(CASES)("$label from $from", async ({ call, args, from, outcome }) => {
    const h = await setup(from);
    if ("error" in outcome) {
      const fault = await h.fault(`VM.${call}`, VM, ...args);
      expect([fault.code, ...fault.params]).toEqual([outcome.error, VM, ...outcome.params]);
      expect(await h.powerState(VM)).toBe(from);
    } else {
      expect(await h.call(`VM.${call}`, VM, ...args)).toBe("");
      await expectOutcome(h, outcome);
    }
    h.model.close();
  });
});

describe("xapi-semantics §4.1 lifecycle table, Async. calls through tasks", () => {
  it.each(CASES)("Async.$label from $from", async ({ call, args, from, outcome }) => {
    const h = await setup(from);
    const task = (await h.call(`Async.VM.${call}`, VM, ...args)) as string;
    expect(task).toMatch(/^OpaqueRef:/);
    const record = await h.settle(task);
    if ("error" in outcome) {
      expect(record.status).toBe("failure");
      expect(record.error_info).toEqual([outcome.error, VM, ...outcome.params]);
      expect(await h.powerState(VM)).toBe(from);
    } else {
      expect(record.status).toBe("success");
      expect(record.result).toBe("<value></value>");
      await expectOutcome(h, outcome);
    }
    h.model.close();
  });
});

describe("runtime fields follow the power state (§1.2)", () => {
  it("reboots change the domid", async () => {
    const h = await setup("Running");
    const before = await h.call("VM.get_domid", VM);
    await h.call("VM.clean_reboot", VM);
    const afterClean = await h.call("VM.get_domid", VM);
    await h.call("VM.hard_reboot", VM);
    const afterHard = await h.call("VM.get_domid", VM);
    expect(new Set([before, afterClean, afterHard]).size).toBe(3);
    h.model.close();
  });

  it("a halted VM has domid -1 and no resident host", async () => {
    const h = await setup("Running");
    expect(await h.call("VM.get_resident_on", VM)).toBe(FIXTURE.master.ref);
    await h.call("VM.hard_shutdown", VM);
    expect(await h.call("VM.get_domid", VM)).toBe(-1);
    expect(await h.call("VM.get_resident_on", VM)).toBe("OpaqueRef:NULL");
    h.model.close();
  });

  it("suspend sets suspend_VDI and resume clears it", async () => {
    const h = await setup("Running");
    await h.call("VM.suspend", VM);
    expect(await h.call("VM.get_suspend_VDI", VM)).toMatch(/^OpaqueRef:[0-9a-f-]{36}$/);
    expect(await h.call("VM.get_domid", VM)).toBe(-1);
    await h.call("VM.resume", VM, false, false);
    expect(await h.call("VM.get_suspend_VDI", VM)).toBe("OpaqueRef:NULL");
    h.model.close();
  });

  it("hard_shutdown from Suspended clears suspend_VDI", async () => {
    const h = await setup("Suspended");
    await h.call("VM.hard_shutdown", VM);
    expect(await h.call("VM.get_suspend_VDI", VM)).toBe("OpaqueRef:NULL");
    h.model.close();
  });

  it("start_on and resume_on place the VM on the named host", async () => {
    const h = await setup("Halted");
    await h.call("VM.start_on", VM, FIXTURE.member.ref, false, false);
    expect(await h.call("VM.get_resident_on", VM)).toBe(FIXTURE.member.ref);
    const residents = (await h.call("host.get_resident_VMs", FIXTURE.member.ref)) as string[];
    expect(residents).toContain(VM);
    h.model.close();
  });

  it("power_state_reset on a VM live on the member fails with HOST_IS_LIVE [host]", async () => {
    const h = await setup("Halted");
    await h.call("VM.start_on", VM, FIXTURE.member.ref, false, false);
    const fault = await h.fault("VM.power_state_reset", VM);
    expect([fault.code, ...fault.params]).toEqual(["HOST_IS_LIVE", FIXTURE.member.ref]);
    h.model.close();
  });
});
