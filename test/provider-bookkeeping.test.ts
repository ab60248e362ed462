/**
 * Kill-safe and honest bookkeeping, through the engine's own dynamic-provider host (gRPC) against
 * xapi-sim: a create finishes what a stopped create left instead of cloning again; one owner per VM;
 * a pending boot change is recorded on the VM and survives a failed restart; a boot change applied on the
 * way to Paused is not pending; a VM Suspended at the start of a run is never hard-stopped under
 * clean-then-hard.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { unpack } from "../provider/resource/stored";
import { type RunningSimulator, startSimulator } from "../simulator";
import {
  type Bag,
  buildProviderPackage,
  disposeProviderPackage,
  ProviderCallError,
  ProviderHost,
  type ProviderPackage,
  serializeProvider,
} from "./fixtures/provider-harness";

const PASSWORD = "book-Pw-41c2";
const HVM_TEMPLATE = "Other install media";
const URN_KEY = "pulumi-xapi:urn";
const PENDING_KEY = "pulumi-xapi:pending-boot";
/** fixture: db-01, Halted HVM with PV drivers; stubborn-01, a PV guest that ignores clean shutdown. */
const DB01 = "5a1f0000-0000-4000-8000-0000000000e2";
const STUBBORN = "5a1f0000-0000-4000-8000-0000000000e7";

let pkg: ProviderPackage;
let sim: RunningSimulator;
let host: ProviderHost;

beforeAll(async () => {
  pkg = await buildProviderPackage();
  const text = (await serializeProvider(pkg)).text;
  sim = await startSimulator({ port: 0, member: false, users: { root: PASSWORD } });
  host = await ProviderHost.start(text, pkg.programDir);
  await host.configure({ "xapi:url": sim.url, "xapi:username": "root", "xapi:password": PASSWORD });
}, 120_000);

afterAll(async () => {
  await host?.close();
  await sim?.close();
  await disposeProviderPackage(pkg);
});

beforeEach(async () => {
  await control("reset");
});

async function control<T>(op: string, body: Record<string, unknown> = {}): Promise<T> {
  const fn = sim.model.control[op];
  if (fn === undefined) throw new Error(`xapi-sim has no control op ${op}`);
  return (await fn(body)) as T;
}

interface StateVm {
  ref: string;
  record: {
    uuid: string;
    name_label: string;
    power_state: string;
    is_a_template: boolean;
    is_a_snapshot: boolean;
    other_config: Record<string, string>;
  };
}

async function vms(): Promise<StateVm[]> {
  return (await control<{ vms: StateVm[] }>("state")).vms;
}

async function vm(uuid: string): Promise<StateVm["record"]> {
  const found = (await vms()).find((v) => v.record.uuid === uuid);
  if (found === undefined) throw new Error(`no VM ${uuid}`);
  return found.record;
}

async function lastSeq(): Promise<number> {
  return (await control<{ seq: number }[]>("callLog")).at(-1)?.seq ?? 0;
}

/** The state-changing calls after `since`, `Async.` stripped. */
async function writesSince(since: number): Promise<string[]> {
  const log = await control<{ seq: number; method: string; ok: boolean }[]>("callLog", { since });
  return log
    .filter((c) => c.ok)
    .map((c) => c.method.replace(/^Async\./, ""))
    .filter((m) => /^(VM|VBD|VDI)\./.test(m) && !/\.(get|assert|query)/.test(m));
}

const urnOf = (name: string) => `urn:pulumi:book::test::pulumi-nodejs:dynamic/xapi:Vm::${name}`;

/** Check outside a preview; `props` as a `Vm` sends them (stored form: the URN in `__xapi`). */
async function checked(props: Bag, olds: Bag = {}): Promise<Bag> {
  const result = await host.check(olds, props);
  expect(result.failures).toEqual([]);
  return result.inputs;
}

/** `props` as a `Vm` sends them in a preview: `__xapi.preview`. */
function inPreview(props: Bag): Bag {
  return { ...props, __xapi: { ...(props.__xapi as Bag | undefined), preview: true } };
}

/** The provider's outputs (stored form) as the operations read them: `lastCalls`, `pendingBootChanges`, … */
function flat(outs: Bag): Bag {
  return unpack(outs);
}

async function errorOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    return error instanceof ProviderCallError ? error.message : String(error);
  }
  throw new Error("expected the call to fail");
}

describe("a create finishes what a stopped create left behind", () => {
  it("a clone left with its birth name (killed before the tag): no second clone, finished and named", async () => {
    const props = {
      template: HVM_TEMPLATE,
      nameLabel: "kill-1",
      powerState: "Halted",
      __xapi: { urn: urnOf("kill-1") },
    };
    // First create: learn the birth name from its own clone call, then throw that VM's work away as a kill would.
    const first = await host.create(await checked(props));
    const born = (flat(first.outs).lastCalls as { call: string; args?: { new_name?: string } }[]).find(
      (c) => c.call === "VM.clone",
    )?.args?.new_name;
    await host.delete(first.id, first.outs);
    // What a create killed right after VM.clone leaves: a template clone bearing the birth name, untagged.
    const left = await sim.model.dispatch("session.login_with_password", ["root", PASSWORD], {
      host: "master",
      transport: "jsonrpc",
    });
    const template = (await vms()).find((v) => v.record.name_label === HVM_TEMPLATE)?.ref;
    const cloneRef = (await sim.model.dispatch("VM.clone", [left, template, born], {
      host: "master",
      transport: "jsonrpc",
    })) as string;
    const leftUuid = (await vms()).find((v) => v.ref === cloneRef)?.record.uuid;

    const since = await lastSeq();
    const again = await host.create(await checked(props));
    const mine = (await vms()).filter((v) => v.record.other_config[URN_KEY] === urnOf("kill-1"));
    expect({
      id: again.id,
      writes: await writesSince(since),
      owned: mine.map((v) => [v.record.uuid, v.record.name_label, v.record.is_a_template]),
    }).toEqual({
      id: leftUuid,
      writes: ["VM.add_to_other_config", "VM.provision", "VM.set_is_a_template", "VM.set_name_label"],
      owned: [[leftUuid, "kill-1", false]],
    });
    await host.delete(again.id, again.outs);
  });

  it("a create that failed mid-way (provisioned, never started) and was not recorded is finished, not cloned again", async () => {
    const props = {
      template: HVM_TEMPLATE,
      nameLabel: "kill-2",
      powerState: "Running",
      __xapi: { urn: urnOf("kill-2") },
    };
    // A create whose start failed: the engine would record it, a killed run would not have; forget the
    // record and create again.
    await control("faults", { method: "VM.start", code: "INTERNAL_ERROR", params: ["injected"], count: 1 });
    const failed = await errorOf(async () => host.create(await checked(props)));
    const left = (await vms()).filter((v) => v.record.other_config[URN_KEY] === urnOf("kill-2"));
    const since = await lastSeq();
    const again = await host.create(await checked(props));
    expect({
      failed: failed.includes("INTERNAL_ERROR"),
      // The failed create gave the VM its declared name, as a finished one would have.
      left: left.map((v) => [v.record.power_state, v.record.is_a_template, v.record.name_label]),
      id: again.id === left[0]?.record.uuid,
      writes: await writesSince(since),
      owned: (await vms()).filter((v) => v.record.other_config[URN_KEY] === urnOf("kill-2")).length,
    }).toEqual({
      failed: true,
      left: [["Halted", false, "kill-2"]],
      id: true,
      writes: ["VM.start"],
      owned: 1,
    });
    await host.delete(again.id, again.outs);
  });

  it("a replacement never takes the VM it replaces for a left-behind one (same URN, finished)", async () => {
    const props = {
      template: HVM_TEMPLATE,
      nameLabel: "repl",
      powerState: "Halted",
      __xapi: { urn: urnOf("repl") },
    };
    const firstInputs = await checked(props);
    const first = await host.create(firstInputs);
    // The engine's order for a replacement: check with the previous inputs, then (having decided to replace)
    // check again without them, and create with the second answer (step_generator.go, Pulumi v3.248.0).
    const next = { ...props, template: "Generic PV (pygrub)" };
    await checked(next, firstInputs);
    const second = await host.create(await checked(next));
    expect(second.id).not.toBe(first.id);
    await host.delete(second.id, second.outs);
    await host.delete(first.id, first.outs);
  });
});

describe("one owner per VM", () => {
  const adopt = (name: string, extra: Bag = {}) => ({
    uuid: DB01,
    powerState: "Halted",
    __xapi: { urn: urnOf(name) },
    ...extra,
  });

  it("adopting tags the VM with the resource; releasing it removes only that tag", async () => {
    const a = await host.create(await checked(adopt("a")));
    const tagged = (await vm(DB01)).other_config[URN_KEY];
    await host.delete(a.id, a.outs);
    expect([tagged, (await vm(DB01)).other_config[URN_KEY]]).toEqual([urnOf("a"), undefined]);
  });

  it("a second stack adopting an owned VM fails its preview and its create, naming the owner, and writes nothing", async () => {
    await host.create(await checked(adopt("a")));
    const preview = await host.check({}, inPreview(adopt("b")));
    const since = await lastSeq();
    const create = await errorOf(async () => host.create(await checked(adopt("b"))));
    const sentence = `VM ${DB01} is managed by another Pulumi resource: expected a VM no other resource owns, received one whose other_config["${URN_KEY}"] is "${urnOf("a")}".`;
    expect({
      preview: preview.failures.map((f) => [f.property, f.reason.startsWith(sentence)]),
      create: create.includes(sentence),
      writes: await writesSince(since),
      owner: (await vm(DB01)).other_config[URN_KEY],
    }).toEqual({ preview: [["uuid", true]], create: true, writes: [], owner: urnOf("a") });
  });

  it("with takeOver the second stack proceeds; the first one's next update and diff say it lost the VM", async () => {
    const a = await host.create(await checked(adopt("a")));
    const aInputs = await checked(adopt("a"));
    await host.create(await checked(adopt("b", { takeOver: true })));
    const lost = `VM ${DB01} is no longer this resource's: expected its other_config["${URN_KEY}"] to name "${urnOf("a")}", received "${urnOf("b")}"`;
    const update = await errorOf(() => host.update(a.id, a.outs, { ...aInputs, powerState: "Running" }));
    // The preview: check plans from the pool (a change declared), diff reads it (nothing declared).
    const preview = await host.check(aInputs, inPreview({ ...adopt("a"), powerState: "Running" }));
    const diff = await errorOf(() => host.diff(a.id, a.outs, aInputs));
    expect({
      update: update.includes(lost),
      preview: preview.failures.map((f) => [f.property, f.reason.startsWith(lost)]),
      diff: diff.includes(lost),
      owner: (await vm(DB01)).other_config[URN_KEY],
    }).toEqual({ update: true, preview: [["uuid", true]], diff: true, owner: urnOf("b") });
  });
});

describe("pending boot changes are kept on the VM and never lie", () => {
  const hvm = (order: string, extra: Bag = {}) => ({
    template: HVM_TEMPLATE,
    nameLabel: "pend",
    powerState: "Running",
    hvm: { bootParams: { order } },
    __xapi: { urn: urnOf("pend") },
    ...extra,
  });

  it("a boot change applied on the way to Paused (reboot, then pause) is not pending: the next run does nothing", async () => {
    const created = await host.create(await checked(hvm("cd")));
    const inputs = await checked(hvm("dc", { powerState: "Paused" }), await checked(hvm("cd")));
    const outs = await host.update(created.id, created.outs, inputs);
    const since = await lastSeq();
    const again = await host.update(created.id, outs, inputs);
    expect({
      calls: (flat(outs).lastCalls as { call: string }[]).map((c) => c.call),
      pending: flat(outs).pendingBootChanges,
      marker: (await vm(created.id)).other_config[PENDING_KEY],
      next: await writesSince(since),
      nextPending: flat(again).pendingBootChanges,
    }).toEqual({
      calls: [
        "VM.add_to_other_config",
        "VM.set_HVM_boot_params",
        "VM.clean_reboot",
        "VM.pause",
        "VM.remove_from_other_config",
      ],
      pending: [],
      marker: undefined,
      next: [],
      nextPending: [],
    });
    await host.delete(created.id, again);
  });

  it("a restart that fails leaves the change pending on the VM; the next run restarts", async () => {
    const created = await host.create(await checked(hvm("cd")));
    const inputs = await checked(hvm("dc"), await checked(hvm("cd")));
    await control("faults", {
      method: "VM.clean_reboot",
      code: "INTERNAL_ERROR",
      params: ["injected"],
      count: 1,
    });
    const failed = await errorOf(() => host.update(created.id, created.outs, inputs));
    const marker = JSON.parse((await vm(created.id)).other_config[PENDING_KEY] ?? "{}") as {
      paths?: string[];
    };
    // The preview of the next run (check from the recorded inputs) names the restart.
    const preview = await host.check(inputs, inPreview(hvm("dc")));
    const since = await lastSeq();
    const retried = await host.update(created.id, created.outs, inputs);
    expect({
      failed: failed.includes("INTERNAL_ERROR"),
      pendingOnVm: marker.paths,
      preview: ((preview.inputs.plannedCalls as string[]) ?? []).map((l) => /^\d+\. ([\w.]+)/.exec(l)?.[1]),
      retried: await writesSince(since),
      after: [flat(retried).pendingBootChanges, (await vm(created.id)).other_config[PENDING_KEY]],
    }).toEqual({
      failed: true,
      pendingOnVm: ["hvm.bootParams.order"],
      preview: ["VM.clean_reboot", "VM.remove_from_other_config"],
      retried: ["VM.clean_reboot", "VM.remove_from_other_config"],
      after: [[], undefined],
    });
    await host.delete(created.id, retried);
  });
});

describe("Suspended means suspended", () => {
  it("clean-then-hard never hard-stops a VM that was Suspended when the run began: it is suspended again", async () => {
    await control("setPowerState", { uuid: STUBBORN, powerState: "Suspended" });
    const props = {
      uuid: STUBBORN,
      powerState: "Halted",
      policy: { shutdown: "clean-then-hard" },
      timeouts: { operationSeconds: 1 },
      __xapi: { urn: urnOf("stubborn") },
    };
    const since = await lastSeq();
    const failed = await errorOf(async () => host.create(await checked(props)));
    expect({
      writes: (await writesSince(since)).filter((m) => !m.includes("other_config")),
      state: (await vm(STUBBORN)).power_state,
      said: failed.includes("was Suspended when this run began"),
      // The clean shutdown is tried (the guest ignores it); no hard_shutdown follows: the VM is suspended again.
    }).toEqual({ writes: ["VM.resume", "VM.clean_shutdown", "VM.suspend"], state: "Suspended", said: true });
  }, 60_000);
});
