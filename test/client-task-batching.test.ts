/**
 * How the task long-poll spends its answers (client/task.ts, "first looks are batched"): a poll naming a
 * task not seen yet answers at once, so first looks are batched, and after them the next poll waits on the
 * host at once; a slot is handed on as soon as its task has ended, before the task is destroyed.
 */
import { afterEach, describe, expect, it } from "vitest";
import { OperationSlots } from "../provider/client/limit";
import { XapiSession } from "../provider/client/session";
import { TaskWatcher } from "../provider/client/task";
import type { TaskRef } from "../provider/model/vocabulary";
import type { RunningSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model/fixture";
import { ROOT, startSim } from "./client-sim";

/** The provider's default first-look delay and polling schedule. */
const DEFAULT_POLL = { initialMs: 20, maxMs: 2000, factor: 2 };

let sim: RunningSimulator | undefined;
let session: XapiSession | undefined;

afterEach(async () => {
  await session?.logout();
  session = undefined;
  await sim?.close();
  sim = undefined;
});

interface Answer {
  events: { ref: string; snapshot?: { status?: string } }[];
}

async function setUp(operationMs: Record<string, number>): Promise<XapiSession> {
  sim = await startSim({ operationMs });
  session = new XapiSession({ url: sim.url, username: ROOT.username }, ROOT.password);
  return session;
}

function starter(s: XapiSession, vm: { ref: string }): () => Promise<TaskRef> {
  return () => s.call("Async.VM.start", [vm.ref, false, false]) as Promise<TaskRef>;
}

describe("first looks", () => {
  it("after an answer of first looks the next poll waits for an end: a task started meanwhile is looked at with that answer", async () => {
    const s = await setUp({ start: 400 });
    const answers: Answer[] = [];
    let joined: Promise<unknown> | undefined;
    const watcher = new TaskWatcher(async (method, args) => {
      const result = await s.call(method, args);
      if (method === "event.from") {
        answers.push(result as Answer);
        // Started as the first answer (the first looks) comes back: its Async call is out meanwhile.
        if (answers.length === 1) joined = watcher.run(starter(s, FIXTURE.pvDirect), "VM.start");
      }
      return result;
    }, DEFAULT_POLL);
    await Promise.all([
      watcher.run(starter(s, FIXTURE.db), "VM.start"),
      watcher.run(starter(s, FIXTURE.legacy), "VM.start"),
    ]);
    await joined;
    const ended = (answer: Answer | undefined) =>
      (answer?.events ?? []).some((e) => e.snapshot?.status === "success");
    expect([ended(answers[0]), ended(answers[1])]).toEqual([false, true]);
  });
});

describe("operation slots", () => {
  it("a slot is handed on once its task has ended: the next operation runs while the task is destroyed", async () => {
    const s = await setUp({ start: 30 });
    const slots = new OperationSlots(1);
    let releaseDestroy: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      releaseDestroy = resolve;
    });
    let destroys = 0;
    const watcher = new TaskWatcher(async (method, args) => {
      // The first task's destroy is held until the second operation has finished (or 3 s, a guard).
      if (method === "task.destroy" && destroys++ === 0) await held;
      return s.call(method, args);
    }, DEFAULT_POLL);
    const guard = setTimeout(releaseDestroy, 3000);
    const operation = (vm: { ref: string }) =>
      slots.run((release) => watcher.run(starter(s, vm), "VM.start", { onEnded: release }));
    const first = operation(FIXTURE.db).then(() => "first");
    const second = operation(FIXTURE.legacy).then(() => "second");
    const winner = await Promise.race([first, second]);
    releaseDestroy();
    clearTimeout(guard);
    await Promise.all([first, second]);
    expect(winner).toBe("second");
  });
});
