/**
 * xapi-sim's `event.from` batches changes as XAPI does (docs/simulator-behaviour.md#events): a pause before
 * the first look (50 ms, none when only tasks are subscribed), so changes made close together come back in one
 * answer; after a wait, the change that ended it comes back at once (no pause on the loop's first recursion). Through a real client
 * (the provider's session over HTTP); the changes are made in-process (control op `setFields`, or a second
 * session's calls) once the simulator has counted the `event.from`, i.e. while it is inside the call.
 */
import { afterEach, describe, expect, it } from "vitest";
import { XapiSession } from "../provider/client/session";
import type { RunningSimulator } from "../simulator";
import type { CallMeta } from "../simulator/api";
import { FIXTURE } from "../simulator/model/fixture";
import { control, counters, ROOT, startSim } from "./client-sim";

interface Ev {
  class: string;
  operation: string;
  ref: string;
  snapshot?: Record<string, unknown>;
}
interface From {
  events: Ev[];
  token: string;
}

const MASTER: CallMeta = { host: "master", transport: "jsonrpc" };

let sim: RunningSimulator | undefined;
let session: XapiSession | undefined;

afterEach(async () => {
  await session?.logout();
  session = undefined;
  await sim?.close();
  sim = undefined;
});

/** The next turn of the event loop (after the timers due now, before any later one). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function setUp(options: Parameters<typeof startSim>[0] = {}): Promise<XapiSession> {
  sim = await startSim(options);
  session = new XapiSession({ url: sim.url, username: ROOT.username }, ROOT.password);
  return session;
}

/** Sends `event.from` and resolves once the simulator has received it (its counter moved). */
async function eventFromInFlight(
  s: XapiSession,
  classes: string[],
  token: string,
): Promise<{ answer: Promise<From> }> {
  const running = sim;
  if (running === undefined) throw new Error("no simulator");
  const before = (await counters(running)).calls["event.from"] ?? 0;
  const answer = s.call("event.from", [classes, token, 5]) as Promise<From>;
  while (((await counters(running)).calls["event.from"] ?? 0) === before) await nextTurn();
  return { answer };
}

/** A change of the VM's `name_description`, made in-process. */
function describeVm(uuid: string, text: string): Promise<unknown> {
  if (sim === undefined) throw new Error("no simulator");
  return control(sim, "setFields", { uuid, fields: { name_description: text } });
}

/** A second session, in-process, for changes the control ops cannot make (tasks). */
async function inProcessCall(): Promise<(method: string, ...args: unknown[]) => Promise<unknown>> {
  const model = sim?.model;
  if (model === undefined) throw new Error("no simulator");
  const ref = await model.dispatch("session.login_with_password", [ROOT.username, ROOT.password], MASTER);
  return (method, ...args) => model.dispatch(method, [ref, ...args], MASTER);
}

describe("event.from batching", () => {
  it("a VM subscription waits before its first look: two changes made just after the call arrived come back in one answer", async () => {
    const s = await setUp();
    const { token } = (await s.call("event.from", [["vm"], "", 0])) as From;
    const { answer } = await eventFromInFlight(s, ["vm"], token);
    await describeVm(FIXTURE.db.uuid, "first");
    await nextTurn();
    await describeVm(FIXTURE.web.uuid, "second");
    const from = await answer;
    expect(from.events.map((e) => e.ref).sort()).toEqual([FIXTURE.db.ref, FIXTURE.web.ref].sort());
  });

  it("after waiting, the change that wakes the call comes back at once: one made right after it is in the next answer", async () => {
    const s = await setUp({ operationMs: { start: 60_000 } });
    const call = await inProcessCall();
    const { token } = (await s.call("event.from", [["task"], "", 0])) as From;
    // Task-only: no pause before the first look, so once counted the call has looked and waits.
    const { answer } = await eventFromInFlight(s, ["task"], token);
    const first = (await call("Async.VM.start", FIXTURE.db.ref, false, false)) as string;
    await nextTurn();
    const second = (await call("Async.VM.start", FIXTURE.web.ref, false, false)) as string;
    const from = await answer;
    const next = (await s.call("event.from", [["task"], from.token, 5])) as From;
    expect([from.events.map((e) => e.ref), next.events.map((e) => e.ref)]).toEqual([[first], [second]]);
  });

  it("a task-only subscription looks at once: a task created after the call arrived waits for the next answer", async () => {
    const s = await setUp({ operationMs: { start: 60_000 } });
    const call = await inProcessCall();
    const { token } = (await s.call("event.from", [["task"], "", 0])) as From;
    const first = (await call("Async.VM.start", FIXTURE.db.ref, false, false)) as string;
    const { answer } = await eventFromInFlight(s, ["task"], token);
    const second = (await call("Async.VM.start", FIXTURE.web.ref, false, false)) as string;
    const from = await answer;
    const next = (await s.call("event.from", [["task"], from.token, 5])) as From;
    expect([from.events.map((e) => e.ref), next.events.map((e) => e.ref)]).toEqual([[first], [second]]);
  });

  it("a change to an object the call does not subscribe to does not end its wait", async () => {
    const s = await setUp();
    const { token } = (await s.call("event.from", [[`vm/${FIXTURE.db.ref}`], "", 0])) as From;
    const { answer } = await eventFromInFlight(s, [`vm/${FIXTURE.db.ref}`], token);
    await describeVm(FIXTURE.web.uuid, "not subscribed");
    await new Promise((resolve) => setTimeout(resolve, 120));
    await describeVm(FIXTURE.db.uuid, "subscribed");
    const from = await answer;
    expect(from.events.map((e) => [e.ref, e.snapshot?.name_description])).toEqual([
      [FIXTURE.db.ref, "subscribed"],
    ]);
  });
});
