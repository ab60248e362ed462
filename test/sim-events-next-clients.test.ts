/**
 * The legacy event API (`event.register`, `event.next`, `event.unregister`; docs/simulator-behaviour.md#events)
 * through real clients, unmodified: the Python `XenAPI` binding over XML-RPC (under `current` and the
 * `xenapi-1.0` profile, whose clients are the ones that use it) and npm `xen-api` over JSON-RPC and XML-RPC.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model/fixture";
import { FAILURE_OF, runPython } from "./python-client";

/** The slice of xen-api's `Xapi` class these tests use (the package ships no types). */
interface Xapi {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  call(method: string, ...args: unknown[]): Promise<unknown>;
}
type CreateClient = (options: Record<string, unknown>) => Xapi;

/** Python prologue: connect with the URL from argv, log in, `out(...)` prints the JSON answer. */
const PROLOGUE = `
import json, sys, threading
import XenAPI
url, vm_uuid = sys.argv[1:3]
def login():
    s = XenAPI.Session(url, ignore_ssl=True)
    s.xenapi.login_with_password("root", "xapi-sim", "1.0", "xapi-sim-test")
    return s
session = login()
def out(value):
    print(json.dumps(value))
${FAILURE_OF}vm = session.xenapi.VM.get_by_uuid(vm_uuid)
`;

function python(script: string, url: string): Promise<unknown> {
  return runPython(PROLOGUE + script, [url, FIXTURE.db.uuid], { timeout: 20_000 });
}

describe.each(["current", "xenapi-1.0"] as const)("Python XenAPI under profile %s", (profile) => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, member: false, profile, defaultOperationMs: 2 });
  });

  afterAll(async () => {
    await sim.close();
  });

  it("registers for vm, and event.next returns a change made after it with XAPI's record", async () => {
    const result = await python(
      `session.xenapi.event.register(["vm"])
session.xenapi.VM.set_name_description(vm, "from python")
events = session.xenapi.event.next()
out([[e["id"], e["class"], e["operation"], e["ref"], sorted(e.keys()), e["snapshot"]["name_description"]]
     for e in events])`,
      sim.url,
    );
    expect(result).toEqual([
      [
        "0",
        "vm",
        "mod",
        FIXTURE.db.ref,
        ["class", "id", "operation", "ref", "snapshot", "timestamp"],
        "from python",
      ],
    ]);
  });

  it("blocks in event.next until another session changes a VM, and unregister ends a class", async () => {
    const result = await python(
      `session.xenapi.event.register(["VM", "pool"])
session.xenapi.event.unregister(["pool"])
other = login()
pool = other.xenapi.pool.get_all()[0]
def change():
    other.xenapi.pool.set_name_description(pool, "not registered any more")
    other.xenapi.VM.set_name_description(vm, "while waiting")
threading.Timer(0.5, change).start()
events = session.xenapi.event.next()
out([[e["class"], e["snapshot"]["name_description"]] for e in events])`,
      sim.url,
    );
    expect(result).toEqual([["vm", "while waiting"]]);
  });

  it("answers SESSION_NOT_REGISTERED to a session that did not register", async () => {
    const result = await python(`out(failure_of(session.xenapi.event.next))`, sim.url);
    expect(result).toEqual(["SESSION_NOT_REGISTERED", expect.stringMatching(/^trackid=[0-9a-f]{32}$/)]);
  });
});

describe.each(["json-rpc", "xml-rpc"] as const)("npm xen-api over %s", (transport) => {
  let sim: RunningSimulator;
  let xapi: Xapi;

  beforeAll(async () => {
    // xen-api is ESM-only; a computed specifier keeps TypeScript from wanting its (absent) types.
    const specifier: string = "xen-api";
    const { createClient } = (await import(specifier)) as { createClient: CreateClient };
    sim = await startSimulator({ port: 0, member: false, defaultOperationMs: 2 });
    xapi = createClient({
      url: sim.url,
      auth: { user: "root", password: "xapi-sim" },
      transport,
      allowUnauthorized: true,
      watchEvents: false,
    });
    await xapi.connect();
  });

  afterAll(async () => {
    await xapi.disconnect().catch(() => undefined);
    await sim.close();
  });

  it("calls event.register and event.next", async () => {
    await xapi.call("event.register", ["vm"]);
    await xapi.call("VM.set_name_description", FIXTURE.web.ref, "from xen-api");
    const events = (await xapi.call("event.next")) as {
      class: string;
      ref: string;
      snapshot: { name_description: string };
    }[];
    expect(events.map((e) => [e.class, e.ref, e.snapshot.name_description])).toEqual([
      ["vm", FIXTURE.web.ref, "from xen-api"],
    ]);
  });
});
