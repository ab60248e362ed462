/**
 * The preview's model of XAPI's vCPU and memory setters (`provider/resource/dry-run-sizing.ts`) against
 * xapi-sim, our stand-in for XAPI: each call of each case runs on a copy of the VM's record through the
 * model and on the VM through a real connection; both must agree on the outcome (success, or the same XAPI
 * error code) and on the sizing fields after it. The simulator is the reference; no expected value is
 * computed by the model.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { closeAllConnections, getConnection, isXapiError, type XapiConnection } from "../provider/client";
import { sizingWrite } from "../provider/resource/dry-run-sizing";
import type { RunningSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model/fixture";
import { control, ROOT, startSim } from "./client-sim";

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const FIELDS = [
  "VCPUs_max",
  "VCPUs_at_startup",
  "memory_static_min",
  "memory_static_max",
  "memory_dynamic_min",
  "memory_dynamic_max",
  "memory_target",
] as const;

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

beforeEach(async () => {
  await control(sim, "reset");
});

/** One call: the setter's name after `VM.` and its arguments after the VM ref. */
type Call = readonly [string, ...unknown[]];

/** The outcome of each call and the sizing fields after it. */
type Trace = { result: string; fields: Record<string, unknown> }[];

function sizingFields(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(FIELDS.map((f) => [f, Number(record[f])]));
}

async function throughModel(ref: string, calls: readonly Call[]): Promise<Trace> {
  const record = await conn.call<Record<string, unknown>>("VM.get_record", ref);
  return calls.map(([name, ...args]) => {
    let result = "ok";
    try {
      sizingWrite(record, name, ref, args)();
    } catch (error) {
      result = isXapiError(error) ? error.code : String(error);
    }
    return { result, fields: sizingFields(record) };
  });
}

async function throughSim(ref: string, calls: readonly Call[]): Promise<Trace> {
  const trace: Trace = [];
  for (const [name, ...args] of calls) {
    let result = "ok";
    try {
      await conn.call(`VM.${name}`, ref, ...args);
    } catch (error) {
      result = isXapiError(error) ? error.code : String(error);
    }
    trace.push({ result, fields: sizingFields(await conn.call("VM.get_record", ref)) });
  }
  return trace;
}

/** Runs `calls` through the model, then (from the same state) through the simulator; returns both. */
async function both(ref: string, calls: readonly Call[]): Promise<{ model: Trace; sim: Trace }> {
  const model = await throughModel(ref, calls);
  return { model, sim: await throughSim(ref, calls) };
}

const CASES: readonly (readonly [string, string, readonly Call[]])[] = [
  [
    "Halted: vCPUs raised (max first), then lowered (at_startup first), and out of range",
    FIXTURE.db.ref,
    [
      ["set_VCPUs_max", 4],
      ["set_VCPUs_at_startup", 4],
      ["set_VCPUs_max", 3],
      ["set_VCPUs_at_startup", 1],
      ["set_VCPUs_max", 1],
      ["set_VCPUs_at_startup", 2],
      ["set_VCPUs_max", 0],
    ],
  ],
  [
    "Halted: memory limits in and out of order, and a dynamic range",
    FIXTURE.db.ref,
    [
      ["set_memory_limits", GiB / 2, 4 * GiB, GiB, 3 * GiB],
      ["set_memory_limits", GiB / 2, 2 * GiB, GiB, 3 * GiB],
      ["set_memory_dynamic_range", 512 * MiB, 1536 * MiB],
      ["set_memory_dynamic_range", 2 * GiB, GiB],
    ],
  ],
  [
    "Running: live vCPUs, at_startup for the next build, VCPUs_max and limits refused, a live range",
    FIXTURE.web.ref,
    [
      ["set_VCPUs_number_live", 1],
      ["set_VCPUs_number_live", 3],
      ["set_VCPUs_at_startup", 2],
      ["set_VCPUs_max", 4],
      ["set_memory_limits", GiB / 2, 4 * GiB, GiB, 2 * GiB],
      ["set_memory_dynamic_range", GiB, 1536 * MiB],
      ["set_memory_dynamic_range", GiB, 4 * GiB],
    ],
  ],
  [
    "Suspended: only set_VCPUs_at_startup passes",
    FIXTURE.batch.ref,
    [
      ["set_VCPUs_at_startup", 1],
      ["set_VCPUs_number_live", 2],
      ["set_memory_dynamic_range", GiB, GiB],
      ["set_VCPUs_max", 4],
    ],
  ],
  [
    "Paused: only set_VCPUs_at_startup passes",
    FIXTURE.pv.ref,
    [
      ["set_VCPUs_at_startup", 1],
      ["set_memory_dynamic_range", GiB, GiB],
      ["set_memory_limits", GiB / 2, 2 * GiB, GiB, GiB],
    ],
  ],
];

describe("the dry run's sizing setters agree with xapi-sim", () => {
  for (const [name, ref, calls] of CASES) {
    it(name, async () => {
      const { model, sim: real } = await both(ref, calls);
      expect(model).toEqual(real);
    });
  }

  it("the cases exercise refusals and successes alike", async () => {
    const results = new Set<string>();
    for (const [, ref, calls] of CASES) {
      await control(sim, "reset");
      for (const step of await throughSim(ref, calls)) results.add(step.result);
    }
    expect([...results].sort()).toEqual(
      ["INVALID_VALUE", "MEMORY_CONSTRAINT_VIOLATION_ORDER", "VM_BAD_POWER_STATE", "ok"].sort(),
    );
  });
});
