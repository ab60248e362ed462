/**
 * Conformance: the official Python `XenAPI` binding (PyPI `XenAPI`, test/requirements.txt) against
 * xapi-sim over XML-RPC, run unmodified in a python3 child process (xapi-clients.md §3).
 *
 * The binding sends pretty-printed, `<string>`-tagged XML and posts to `/RPC2` when the URL has no
 * path and to `/` when it ends with a slash; both are exercised. Each scenario is a short Python
 * script that prints one JSON document for the assertions.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../simulator";
import { haltedVm as sharedHaltedVm, control as simControl, type VmSummary } from "./client-sim";
import { FAILURE_OF, runPython } from "./python-client";

/** Shared prologue: connect with the URL from argv and log in like the binding's docs do. */
const PROLOGUE = `
import json, sys, time
import XenAPI
url, user, password, uuid = sys.argv[1:5]
session = XenAPI.Session(url, ignore_ssl=True)
def out(value):
    print(json.dumps(value))
${FAILURE_OF}`;

const LOGIN = `session.xenapi.login_with_password(user, password, "2.21", "xapi-sim-test")\n`;

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, defaultOperationMs: 2 });
});

afterAll(async () => {
  await sim.close();
});

/** Run a scenario; resolves with the JSON its last `out(...)` printed. */
function python(script: string, url: string, uuid = ""): Promise<unknown> {
  return runPython(PROLOGUE + script, [url, "root", "xapi-sim", uuid], { timeout: 20_000 });
}

function control<T>(name: string, body: Record<string, unknown> = {}): Promise<T> {
  return simControl<T>(sim, name, body);
}

async function haltedVm(): Promise<VmSummary> {
  await control("reset");
  return sharedHaltedVm(sim);
}

describe.each([
  ["no path (posts to /RPC2)", ""],
  ["a trailing slash (posts to /)", "/"],
])("XenAPI.py with a URL with %s", (_label, suffix) => {
  let url: string;
  let vm: VmSummary;

  beforeAll(async () => {
    url = sim.url + suffix;
    vm = await haltedVm();
  });

  it("logs in and finds a VM by uuid", async () => {
    const result = await python(
      `${LOGIN}ref = session.xenapi.VM.get_by_uuid(uuid)
out({"ref": ref, "name": session.xenapi.VM.get_record(ref)["name_label"]})`,
      url,
      vm.uuid,
    );
    expect(result).toEqual({ ref: vm.ref, name: vm.name_label });
  });

  it("reads int64 fields as strings and booleans as bools, as from real XAPI", async () => {
    const result = await python(
      `${LOGIN}rec = session.xenapi.VM.get_record(session.xenapi.VM.get_by_uuid(uuid))
out([type(rec["memory_static_max"]).__name__, type(rec["is_a_template"]).__name__])`,
      url,
      vm.uuid,
    );
    expect(result).toEqual(["str", "bool"]);
  });

  it("drives a VM through its lifecycle", async () => {
    const result = await python(
      `${LOGIN}vm = session.xenapi.VM.get_by_uuid(uuid)
states = []
for call, args in [("start", (False, False)), ("pause", ()), ("unpause", ()), ("suspend", ()),
                   ("resume", (False, False)), ("clean_reboot", ()), ("hard_reboot", ()),
                   ("clean_shutdown", ()), ("start", (True, False)), ("hard_shutdown", ())]:
    getattr(session.xenapi.VM, call)(vm, *args)
    states.append(session.xenapi.VM.get_power_state(vm))
out(states)`,
      url,
      vm.uuid,
    );
    expect(result).toEqual([
      "Running",
      "Paused",
      "Running",
      "Suspended",
      "Running",
      "Running",
      "Running",
      "Halted",
      "Paused",
      "Halted",
    ]);
  });

  it("runs an Async call and polls its task to success", async () => {
    const result = await python(
      `${LOGIN}vm = session.xenapi.VM.get_by_uuid(uuid)
task = session.xenapi.Async.VM.start(vm, False, False)
while session.xenapi.task.get_status(task) == "pending":
    time.sleep(0.01)
answer = [session.xenapi.task.get_status(task), session.xenapi.task.get_result(task),
          session.xenapi.task.get_error_info(task), session.xenapi.VM.get_power_state(vm)]
session.xenapi.task.destroy(task)
session.xenapi.VM.hard_shutdown(vm)
out(answer)`,
      url,
      vm.uuid,
    );
    expect(result).toEqual(["success", "<value></value>", [], "Running"]);
  });

  it("runs a failing Async call and reads error_info from its task", async () => {
    const result = await python(
      `${LOGIN}vm = session.xenapi.VM.get_by_uuid(uuid)
task = session.xenapi.Async.VM.unpause(vm)
while session.xenapi.task.get_status(task) == "pending":
    time.sleep(0.01)
answer = [session.xenapi.task.get_status(task), session.xenapi.task.get_error_info(task)]
session.xenapi.task.destroy(task)
out(answer)`,
      url,
      vm.uuid,
    );
    expect(result).toEqual(["failure", ["VM_BAD_POWER_STATE", vm.ref, "paused", "halted"]]);
  });

  it("raises XenAPI.Failure with VM_BAD_POWER_STATE details", async () => {
    const result = await python(
      `${LOGIN}out(failure_of(session.xenapi.VM.hard_reboot, session.xenapi.VM.get_by_uuid(uuid)))`,
      url,
      vm.uuid,
    );
    expect(result).toEqual(["VM_BAD_POWER_STATE", vm.ref, "paused, running", "halted"]);
  });

  it("raises SESSION_AUTHENTICATION_FAILED [user, message] for a wrong password", async () => {
    const result = await python(`out(failure_of(session.xenapi.login_with_password, user, "wrong"))`, url);
    expect(result).toEqual(["SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"]);
  });

  it("raises UUID_INVALID for an unknown uuid", async () => {
    const result = await python(
      `${LOGIN}out(failure_of(session.xenapi.VM.get_by_uuid, "00000000-0000-0000-0000-000000000000"))`,
      url,
    );
    expect(result).toEqual(["UUID_INVALID", "VM", "00000000-0000-0000-0000-000000000000"]);
  });

  it("logs out", async () => {
    const before = await control<{ logouts: number; liveSessions: number }>("counters");
    await python(`${LOGIN}session.xenapi.session.logout()\nout(True)`, url);
    const after = await control<{ logouts: number; liveSessions: number }>("counters");
    expect([after.logouts - before.logouts, after.liveSessions]).toEqual([1, before.liveSessions]);
  });
});
