/**
 * Waiting for tasks with `event.from` (client/task.ts): one long-poll per session serves every task in
 * flight, the outcome comes from the event's snapshot (no `task.get_record`), the task is still destroyed,
 * timeouts still cancel, a task destroyed by someone else still fails with HANDLE_INVALID, and a host
 * without `event.from` (profile xenapi-1.0, API 1.0) is polled instead.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  closeAllConnections,
  getConnection,
  type XapiError,
  XapiErrorCode,
  XapiTimeoutError,
} from "../provider/client";
import { XapiSession } from "../provider/client/session";
import { TaskWatcher } from "../provider/client/task";
import type { TaskRef } from "../provider/model/vocabulary";
import type { RunningSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model/fixture";
import { callLog, control, counters, ROOT, type SimCounters, startSim } from "./client-sim";

const FAST = { initialMs: 2, maxMs: 20, factor: 2 };

let sim: RunningSimulator | undefined;
let session: XapiSession | undefined;

afterEach(async () => {
  await session?.logout();
  session = undefined;
  await closeAllConnections();
  await sim?.close();
  sim = undefined;
});

function grown(before: SimCounters, after: SimCounters, method: string): number {
  return (after.calls[method] ?? 0) - (before.calls[method] ?? 0);
}

describe.each(["current", "xenserver-7"] as const)("profile %s (event.from exists)", (profile) => {
  it("waits for a task with event.from, reads no task record, and destroys the task", async () => {
    sim = await startSim({ profile, operationMs: { start: 50 } });
    const conn = getConnection({ url: sim.url, ...ROOT, taskPoll: FAST });
    const before = await counters(sim);
    const result = await conn.callAsync("VM.start", [FIXTURE.db.ref, false, false]);
    const after = await counters(sim);
    expect({
      result,
      state: await conn.call("VM.get_power_state", FIXTURE.db.ref),
      records: grown(before, after, "task.get_record"),
      destroys: grown(before, after, "task.destroy"),
      answers: grown(before, after, "event.from") >= 1,
      liveTasks: after.liveTasks,
    }).toEqual({ result: "", state: "Running", records: 0, destroys: 1, answers: true, liveTasks: 0 });
  });
});

describe("the outcome from the event's snapshot", () => {
  it("a failed task rejects with its error_info, without a task.get_record", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, ...ROOT, taskPoll: FAST });
    const error = (await conn
      .callAsync("VM.unpause", [FIXTURE.web.ref])
      .catch((e: unknown) => e)) as XapiError;
    const c = await counters(sim);
    expect([error.code, error.params.slice(1), c.calls["task.get_record"] ?? 0, c.liveTasks]).toEqual([
      "VM_BAD_POWER_STATE",
      ["paused", "running"],
      0,
      0,
    ]);
  });

  it("a timeout cancels the task (its end is seen by the long-poll) and leaves no task", async () => {
    sim = await startSim({ operationMs: { start: 2000 } });
    const conn = getConnection({ url: sim.url, ...ROOT, taskPoll: FAST });
    const error = await conn
      .callAsync("VM.start", [FIXTURE.db.ref, false, false], { timeoutMs: 100 })
      .catch((e: unknown) => e);
    const methods = (await callLog(sim)).map((entry) => entry.method);
    expect([
      error instanceof XapiTimeoutError,
      methods.includes("task.cancel"),
      methods.includes("task.get_record"),
      (await counters(sim)).liveTasks,
    ]).toEqual([true, true, false, 0]);
  });

  it("a task destroyed by someone else while waited for fails with HANDLE_INVALID, as a poll would report it", async () => {
    sim = await startSim({ operationMs: { start: 400 } });
    const conn = getConnection({ url: sim.url, ...ROOT, taskPoll: FAST });
    const running = conn.callAsync("VM.start", [FIXTURE.db.ref, false, false]).catch((e: unknown) => e);
    let task: string | undefined;
    while (task === undefined) {
      // xapi-sim logs the task an Async call returned (CallLogEntry.task).
      task = (
        (await callLog(sim)).find((e) => e.method === "Async.VM.start") as { task?: string } | undefined
      )?.task;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Someone else (another session) destroys it.
    session = new XapiSession({ url: sim.url, username: ROOT.username }, ROOT.password);
    await session.call("task.destroy", [task]);
    const error = (await running) as XapiError;
    expect(error.code).toBe(XapiErrorCode.HANDLE_INVALID);
  });
});

describe("one long-poll per session", () => {
  it("serves several tasks at once: never two event.from in flight, one answer subscribed to all of them", async () => {
    sim = await startSim({ operationMs: { start: 200 } });
    session = new XapiSession({ url: sim.url, username: ROOT.username }, ROOT.password);
    const s = session;
    let inFlight = 0;
    let mostInFlight = 0;
    const subscriptions: string[][] = [];
    const call = async (method: string, args: readonly unknown[]): Promise<unknown> => {
      if (method !== "event.from") return s.call(method, args);
      subscriptions.push([...(args[0] as string[])]);
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      try {
        return await s.call(method, args);
      } finally {
        inFlight--;
      }
    };
    const watcher = new TaskWatcher(call, FAST);
    const vms = [FIXTURE.db, FIXTURE.legacy, FIXTURE.pvDirect];
    const tasks: string[] = [];
    const results = await Promise.all(
      vms.map((vm) =>
        watcher.run(async () => {
          const task = (await s.call("Async.VM.start", [vm.ref, false, false])) as TaskRef;
          tasks.push(task);
          return task;
        }, "VM.start"),
      ),
    );
    const all = tasks.map((t) => `task/${t}`).sort();
    expect({
      results,
      mostInFlight,
      servedAllAtOnce: subscriptions.some(
        (classes) => JSON.stringify([...classes].sort()) === JSON.stringify(all),
      ),
      // About two answers per task at most (its first look, its end), fewer when they end together.
      answers: subscriptions.length <= 2 * vms.length,
      liveTasks: (await counters(sim)).liveTasks,
    }).toEqual({
      results: ["", "", ""],
      mostInFlight: 1,
      servedAllAtOnce: true,
      answers: true,
      liveTasks: 0,
    });
  });

  it("a task started while a poll is out joins at its answer and is not missed", async () => {
    sim = await startSim({ operationMs: { start: 300, pause: 5 } });
    const conn = getConnection({ url: sim.url, ...ROOT, taskPoll: FAST });
    await control(sim, "setPowerState", { uuid: FIXTURE.legacy.uuid, powerState: "Running" });
    const long = conn.callAsync("VM.start", [FIXTURE.db.ref, false, false]);
    // Wait until the long task's poll is out (its first answer came back), then start a short one.
    while (((await counters(sim)).calls["event.from"] ?? 0) < 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const short = await conn.callAsync("VM.pause", [FIXTURE.legacy.ref]);
    await long;
    expect([short, await conn.call("VM.get_power_state", FIXTURE.legacy.ref)]).toEqual(["", "Paused"]);
  });
});

describe("a host without event.from (XAPI before API 1.9)", () => {
  // Every xapi-sim profile serves event.from (xenapi-1.0 plays falcon's messages): the refusal is injected.
  it("falls back to polling task.get_record, and stops asking for event.from", async () => {
    sim = await startSim();
    await control(sim, "faults", {
      method: "event.from",
      code: "MESSAGE_METHOD_UNKNOWN",
      params: ["event.from"],
      count: 100,
    });
    const conn = getConnection({ url: sim.url, ...ROOT, taskPoll: FAST });
    await conn.callAsync("VM.start", [FIXTURE.db.ref, false, false]);
    const first = await counters(sim);
    await conn.callAsync("VM.hard_shutdown", [FIXTURE.db.ref]);
    const second = await counters(sim);
    const failed = (await callLog(sim)).filter((e) => e.method === "event.from").map((e) => e.error);
    expect({
      failed,
      polledFirst: (first.calls["task.get_record"] ?? 0) >= 1,
      eventsSecond: grown(first, second, "event.from"),
      polledSecond: grown(first, second, "task.get_record") >= 1,
      state: await conn.call("VM.get_power_state", FIXTURE.db.ref),
      liveTasks: second.liveTasks,
    }).toEqual({
      failed: ["MESSAGE_METHOD_UNKNOWN"],
      polledFirst: true,
      eventsSecond: 0,
      polledSecond: true,
      state: "Halted",
      liveTasks: 0,
    });
  });

  it("tasks that join while the refused poll is out are polled too (none is left waiting)", async () => {
    sim = await startSim({ operationMs: { start: 30 } });
    await control(sim, "faults", {
      method: "event.from",
      code: "MESSAGE_METHOD_UNKNOWN",
      params: ["event.from"],
      count: 100,
    });
    const conn = getConnection({ url: sim.url, ...ROOT, taskPoll: FAST, maxConcurrentOperations: 3 });
    const vms = [FIXTURE.db, FIXTURE.legacy, FIXTURE.pvDirect];
    const results = await Promise.all(vms.map((vm) => conn.callAsync("VM.start", [vm.ref, false, false])));
    expect([results, (await counters(sim)).liveTasks]).toEqual([["", "", ""], 0]);
  });

  it("after another failure of the poll, the tasks in flight are polled and the next task uses events again", async () => {
    sim = await startSim();
    await control(sim, "faults", {
      method: "event.from",
      code: "INTERNAL_ERROR",
      params: ["injected"],
      count: 1,
    });
    const conn = getConnection({ url: sim.url, ...ROOT, taskPoll: FAST });
    await conn.callAsync("VM.start", [FIXTURE.db.ref, false, false]);
    const first = await counters(sim);
    await conn.callAsync("VM.hard_shutdown", [FIXTURE.db.ref]);
    const second = await counters(sim);
    expect([
      (first.calls["task.get_record"] ?? 0) >= 1,
      grown(first, second, "event.from") >= 1,
      grown(first, second, "task.get_record"),
    ]).toEqual([true, true, 0]);
  });
});
