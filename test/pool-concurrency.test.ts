/**
 * The per-pool bound on tasks run at once (client/limit.ts): with a limit of K and 3K operations started
 * together, xapi-sim never holds more than K of this process's tasks between their `Async.*` call and their
 * `task.destroy` (counted in its call log, so no clock is read); the wait for a slot is not part of an
 * operation's timeout; and the setting `xapi:maxConcurrentOperations` / `XAPI_MAX_CONCURRENT_OPERATIONS`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { closeAllConnections, DEFAULT_MAX_CONCURRENT_OPERATIONS, getConnection } from "../provider/client";
import { converge } from "../provider/executor";
import type { Policy } from "../provider/model/plan";
import { readConnectionSettings } from "../provider/resource/config";
import { ProviderError } from "../provider/resource/errors";
import type { RunningSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model/fixture";
import { type CallLogEntry, callLog, control, ROOT, startSim } from "./client-sim";

const CLEAN: Policy = { shutdown: "clean", allowDiscardSuspendedState: false, bootChanges: "restart" };
const FAST = { initialMs: 2, maxMs: 20, factor: 2 };

let sim: RunningSimulator | undefined;

afterEach(async () => {
  await closeAllConnections();
  await sim?.close();
  sim = undefined;
});

/** `n` Halted copies of db-01 (HVM with PV drivers), cloned with synchronous calls (no slot, no Async). */
async function haltedVms(s: RunningSimulator, n: number): Promise<{ ref: string; uuid: string }[]> {
  const setup = getConnection({ url: s.url, ...ROOT });
  const vms: { ref: string; uuid: string }[] = [];
  for (let i = 0; i < n; i++) {
    const ref = await setup.call<string>("VM.clone", FIXTURE.db.ref, `limit-${i}`);
    const uuid = await setup.call<string>("VM.get_uuid", ref);
    await control(s, "setGuest", { uuid, pvDrivers: true });
    vms.push({ ref, uuid });
  }
  return vms;
}

/**
 * The most tasks held at once, read from the call log in order: +1 at each `Async.*` call that returned a
 * task, −1 at each `task.destroy`. The client holds a slot from before the one to after the other, so this
 * count bounds the tasks pending in the simulator too.
 */
function mostHeldAtOnce(log: readonly CallLogEntry[]): number {
  let held = 0;
  let most = 0;
  for (const entry of log) {
    if (entry.method.startsWith("Async.") && entry.ok) held++;
    else if (entry.method === "task.destroy") held--;
    most = Math.max(most, held);
  }
  return most;
}

describe("maxConcurrentOperations", () => {
  it.each([1, 2, 3])("K = %i: 3K operations started together never hold more than K tasks", async (k) => {
    sim = await startSim({ defaultOperationMs: 30 });
    const vms = await haltedVms(sim, 3 * k);
    const since = (await callLog(sim)).at(-1)?.seq ?? 0;
    const conn = getConnection({ url: sim.url, ...ROOT, taskPoll: FAST, maxConcurrentOperations: k });
    // Two lifecycle calls per VM (start, then clean_shutdown), all VMs at once: 6K tasks in all.
    const results = await Promise.all(
      vms.map(async (vm) => {
        await converge(conn, vm, { powerState: "Running" }, CLEAN);
        return (await converge(conn, vm, { powerState: "Halted" }, CLEAN)).finalPowerState;
      }),
    );
    const log = await callLog(sim, since);
    expect({
      final: new Set(results),
      tasks: log.filter((e) => e.method.startsWith("Async.")).length,
      most: mostHeldAtOnce(log),
    }).toEqual({ final: new Set(["Halted"]), tasks: 6 * k, most: k });
  });

  it("binds: the same 3K operations under a limit of 3K hold more than K tasks at once", async () => {
    const k = 2;
    sim = await startSim({ defaultOperationMs: 30 });
    const vms = await haltedVms(sim, 3 * k);
    const since = (await callLog(sim)).at(-1)?.seq ?? 0;
    const conn = getConnection({ url: sim.url, ...ROOT, taskPoll: FAST, maxConcurrentOperations: 3 * k });
    await Promise.all(vms.map((vm) => converge(conn, vm, { powerState: "Running" }, CLEAN)));
    expect(mostHeldAtOnce(await callLog(sim, since))).toBeGreaterThan(k);
  });

  it("is shared by every connection to the same pool URL (another username included)", async () => {
    sim = await startSim({ defaultOperationMs: 30, users: { root: ROOT.password, ops: "ops-password" } });
    const vms = await haltedVms(sim, 4);
    const since = (await callLog(sim)).at(-1)?.seq ?? 0;
    const a = getConnection({ url: sim.url, ...ROOT, taskPoll: FAST, maxConcurrentOperations: 1 });
    const b = getConnection({
      url: `${sim.url}/`,
      username: "ops",
      password: "ops-password",
      taskPoll: FAST,
    });
    await Promise.all(
      vms.map((vm, i) => (i % 2 === 0 ? a : b).callAsync("VM.start", [vm.ref, false, false])),
    );
    const log = await callLog(sim, since);
    expect([a === b, log.filter((e) => e.method === "Async.VM.start").length, mostHeldAtOnce(log)]).toEqual([
      false,
      4,
      1,
    ]);
  });

  it("does not count the wait for a slot against an operation's timeout", async () => {
    sim = await startSim({ defaultOperationMs: 100 });
    const vms = await haltedVms(sim, 6);
    const conn = getConnection({ url: sim.url, ...ROOT, taskPoll: FAST, maxConcurrentOperations: 1 });
    // One at a time, the last one waits for five others (≥ 500 ms) yet its own task takes ~100 ms.
    const outcomes = await Promise.all(
      vms.map((vm) =>
        conn.callAsync("VM.start", [vm.ref, false, false], { timeoutMs: 400 }).then(
          () => "done",
          (e: { code?: string }) => e.code,
        ),
      ),
    );
    expect(outcomes).toEqual(vms.map(() => "done"));
  });

  it("defaults to 4 (xenopsd's worker pool per host)", () => {
    expect(DEFAULT_MAX_CONCURRENT_OPERATIONS).toBe(4);
  });
});

describe("the setting", () => {
  const base = { "xapi:url": "https://pool", "xapi:password": "p" };
  const read = (config: Record<string, string>, env: Record<string, string> = {}) =>
    readConnectionSettings((key) => config[key], env);

  it("is read from stack config, then from the environment, and absent when unset", () => {
    const fromConfig = read(
      { ...base, "xapi:maxConcurrentOperations": "8" },
      { XAPI_MAX_CONCURRENT_OPERATIONS: "2" },
    );
    const fromEnv = read(base, { XAPI_MAX_CONCURRENT_OPERATIONS: " 12 " });
    const unset = read(base);
    expect(
      [fromConfig, fromEnv, unset].map(
        (s) => (s as { maxConcurrentOperations?: number }).maxConcurrentOperations,
      ),
    ).toEqual([8, 12, undefined]);
    expect(Object.keys(unset)).not.toContain("maxConcurrentOperations");
  });

  it.each(["0", "-1", "2.5", "four", "65"])("rejects %j with an error naming the setting", (text) => {
    const result = read({ ...base, "xapi:maxConcurrentOperations": text });
    expect(result).toBeInstanceOf(ProviderError);
    expect([(result as ProviderError).code, (result as ProviderError).message]).toEqual([
      "INVALID_CONFIG",
      `Invalid xapi:maxConcurrentOperations (or XAPI_MAX_CONCURRENT_OPERATIONS): expected a whole number from 1 to 64, received ${JSON.stringify(text)}. Try \`pulumi config set xapi:maxConcurrentOperations 4\` (the default; about 4 per host of the pool).`,
    ]);
  });
});
