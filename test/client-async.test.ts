/** Async calls: task polling, result decoding, failures, timeout + cancel, and task.destroy always. */
import { afterEach, describe, expect, it } from "vitest";
import { closeAllConnections, getConnection, type XapiError, XapiTimeoutError } from "../provider/client";
import type { RunningSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model/fixture";
import { callLog, control, counters, ROOT, startSim } from "./client-sim";

let sim: RunningSimulator | undefined;

afterEach(async () => {
  await closeAllConnections();
  await sim?.close();
  sim = undefined;
});

describe("callAsync", () => {
  it("resolves with the decoded void result and leaves no task", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, ...ROOT });
    const result = await conn.callAsync("VM.start", [FIXTURE.db.ref, false, false]);
    const state = await conn.call("VM.get_power_state", FIXTURE.db.ref);
    expect([result, state, (await counters(sim)).liveTasks]).toEqual(["", "Running", 0]);
  });

  it("rejects with the task's error_info as XapiError and destroys the task", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, ...ROOT });
    const error = (await conn
      .callAsync("VM.unpause", [FIXTURE.web.ref])
      .catch((e: unknown) => e)) as XapiError;
    expect([error.code, error.call, error.params.slice(1), (await counters(sim)).liveTasks]).toEqual([
      "VM_BAD_POWER_STATE",
      "VM.unpause",
      ["paused", "running"],
      0,
    ]);
  });

  it("cancels the task after the timeout, throws XapiTimeoutError and leaves no task", async () => {
    sim = await startSim({ operationMs: { start: 2000 } });
    const conn = getConnection({ url: sim.url, ...ROOT });
    const error = await conn
      .callAsync("VM.start", [FIXTURE.db.ref, false, false], { timeoutMs: 100 })
      .catch((e: unknown) => e);
    const methods = (await callLog(sim)).map((entry) => entry.method);
    expect([
      error instanceof XapiTimeoutError,
      methods.includes("task.cancel"),
      (await counters(sim)).liveTasks,
    ]).toEqual([true, true, 0]);
  });

  it("keeps polling the task across a re-login", async () => {
    sim = await startSim({ operationMs: { start: 300 } });
    const conn = getConnection({ url: sim.url, ...ROOT });
    const pending = conn.callAsync("VM.start", [FIXTURE.db.ref, false, false]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await control(sim, "invalidateSessions");
    await expect(pending).resolves.toBe("");
    expect((await counters(sim)).logins).toBe(2);
  });
});
