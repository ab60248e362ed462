/**
 * The `Vm` provider through the engine's own dynamic-provider host (gRPC), against xapi-sim.
 *
 * The provider is compiled into a scratch `pulumi-xapi` package, serialized in a child process as
 * `pulumi.dynamic.Resource` does, and loaded by `@pulumi/pulumi/cmd/dynamic-provider` from a
 * program directory, as `pulumi up` would. The lifecycle tests share one VM and run in order.
 *
 * Property bags go in and come out in the stored form the engine carries (`provider/resource/stored.ts`):
 * declared inputs at the top level, internal keys in `__xapi` and observations in `observed`, each one JSON
 * text. Tests about that contract assert it as is; tests about behaviour read the outputs through {@link flat}.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callsOfStored, unpack } from "../provider/resource/stored";
import { type RunningSimulator, startSimulator } from "../simulator";
import {
  type Bag,
  buildProviderPackage,
  disposeProviderPackage,
  type ProviderHost as Host,
  ProviderCallError,
  ProviderHost,
  type ProviderPackage,
  serializeProvider,
} from "./fixtures/provider-harness";

/** A password that no fixture or path contains: finding it anywhere is a leak. */
const PASSWORD = "grpc-Pw-7c41e9a2";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const HVM_TEMPLATE = "Other install media";

let pkg: ProviderPackage;
let providerText: string;
let sim: RunningSimulator;
let host: Host;
/** Every property bag and error text the provider returned, for the leak test at the end. */
const returned: unknown[] = [];

beforeAll(async () => {
  pkg = await buildProviderPackage();
  providerText = (await serializeProvider(pkg)).text;
  sim = await startSimulator({ port: 0, member: false, users: { root: PASSWORD } });
  host = await ProviderHost.start(providerText, pkg.programDir);
  await host.configure({ "xapi:url": sim.url, "xapi:username": "root", "xapi:password": PASSWORD });
}, 120_000);

afterAll(async () => {
  await host?.close();
  await sim?.close();
  await disposeProviderPackage(pkg);
});

async function control<T>(op: string, body: Record<string, unknown> = {}): Promise<T> {
  const fn = sim.model.control[op];
  if (fn === undefined) throw new Error(`xapi-sim has no control op ${op}`);
  return (await fn(body)) as T;
}

interface SimVm {
  uuid: string;
  name_label: string;
  power_state: string;
  is_a_template: boolean;
}

async function simVm(uuid: string): Promise<SimVm | undefined> {
  return (await control<SimVm[]>("vms")).find((v) => v.uuid === uuid);
}

/** The VM's `other_config`, from the simulator's state. */
async function otherConfigOf(uuid: string): Promise<Record<string, string>> {
  const state = await control<{ vms: { record: { uuid: string; other_config: Record<string, string> } }[] }>(
    "state",
  );
  return state.vms.find((v) => v.record.uuid === uuid)?.record.other_config ?? {};
}

async function lastSeq(): Promise<number> {
  return (await control<{ seq: number }[]>("callLog")).at(-1)?.seq ?? 0;
}

/** The VM-changing calls (no getters) after `since`, `Async.` stripped. */
async function mutationsSince(since: number): Promise<string[]> {
  const log = await control<{ seq: number; method: string; ok: boolean }[]>("callLog", { since });
  return log
    .filter((c) => c.ok)
    .map((c) => c.method.replace(/^Async\./, ""))
    .filter((m) => /^(VM|VDI)\./.test(m) && !/^VM\.(get|assert|query)/.test(m));
}

/**
 * What a `Vm` sends `check` for `declared` (stored form): `__xapi` holds the URN it was given and, only in a
 * preview, `preview: true`.
 */
function sent(declared: Bag, preview: boolean): Bag {
  const internal = { ...(declared.__xapi as Bag | undefined), ...(preview ? { preview: true } : {}) };
  return Object.keys(internal).length === 0 ? declared : { ...declared, __xapi: internal };
}

/** The engine's order for a change: Check (olds = previous inputs), then Diff (olds = outputs). */
async function checkAndDiff(id: string, oldInputs: Bag, outs: Bag, declared: Bag, preview: boolean) {
  const checked = await host.check(oldInputs, sent(declared, preview));
  const diff = await host.diff(id, outs, checked.inputs);
  returned.push(checked, diff);
  return { checked, diff };
}

async function create(props: Bag): Promise<{ id: string; outs: Bag; inputs: Bag }> {
  const checked = await host.check({}, sent(props, false));
  expect(checked.failures).toEqual([]);
  const created = await host.create(checked.inputs);
  returned.push(checked, created);
  return { ...created, inputs: checked.inputs };
}

/** Outputs (stored form) as the operations read them: `observedPowerState`, `lastCalls`, `adopted`, … */
function flat(outs: Bag): Bag {
  return unpack(outs);
}

function calls(outs: Bag): string[] {
  return (flat(outs).lastCalls as { call: string }[]).map((c) => c.call);
}

describe("serialization", () => {
  it("the serialized provider only requires the implementation: no password, no captured code", () => {
    expect({
      requiresImpl: providerText.includes('require("pulumi-xapi/dist/provider/resource/impl.js")'),
      password: providerText.includes(PASSWORD),
      planner: providerText.includes("planTransition"),
      url: providerText.includes(sim.url),
    }).toEqual({ requiresImpl: true, password: false, planner: false, url: false });
  });

  it("is one require of the installed package, a few hundred bytes; the fallback loads it at call time", async () => {
    const fallback = (await serializeProvider(pkg, "fallback")).text;
    expect({
      requires: providerText.match(/require\("[^"]*"\)/g),
      small: providerText.length < 600,
      fallback: [
        fallback.includes('require("pulumi-xapi/dist/provider/resource/impl")'),
        fallback.includes(PASSWORD),
        fallback.includes("planTransition"),
      ],
    }).toEqual({
      requires: ['require("pulumi-xapi/dist/provider/resource/impl.js")'],
      small: true,
      fallback: [true, false, false],
    });
  });
});

describe("Check", () => {
  it("returns only the declared inputs (no defaults filled in), stored form, no plannedCalls outside a preview", async () => {
    const { inputs, failures } = await host.check(
      {},
      { template: HVM_TEMPLATE, nameLabel: "n", hvm: { bootParams: { order: "cd" } } },
    );
    expect({ inputs, failures }).toEqual({
      failures: [],
      inputs: {
        template: HVM_TEMPLATE,
        nameLabel: "n",
        hvm: { bootParams: { order: "cd" } },
        // The pool was read: a create may take a finished VM this resource left behind (provider/resource/leftovers.ts).
        __xapi: '{"leftovers":"named"}',
      },
    });
  });

  it("names a VM created from a template after its resource (the last segment of __xapi.urn)", async () => {
    const urn = "urn:pulumi:grpc::test::pulumi-nodejs:dynamic/xapi:Vm::web-7";
    const [fromTemplate, named, adopted] = [
      await host.check({}, { template: HVM_TEMPLATE, __xapi: { urn } }),
      await host.check({}, { template: HVM_TEMPLATE, nameLabel: "mine", __xapi: { urn } }),
      await host.check({}, { uuid: UNKNOWN, __xapi: { urn } }),
    ];
    expect([fromTemplate.inputs, named.inputs.nameLabel, adopted.inputs.nameLabel]).toEqual([
      { template: HVM_TEMPLATE, nameLabel: "web-7", __xapi: `{"urn":"${urn}","leftovers":"named"}` },
      "mine",
      undefined,
    ]);
  });

  it("returns one failure per bad property", async () => {
    const { failures } = await host.check(
      {},
      {
        template: HVM_TEMPLATE,
        powerState: "Crashed",
        hvm: { bootParams: { order: "xyz" } },
        policy: { shutdown: "gentle" },
        __xapi: { preview: true },
      },
    );
    expect(failures.map((f) => f.property).sort()).toEqual([
      "hvm.bootParams.order",
      "policy.shutdown",
      "powerState",
    ]);
  });

  it("words a failure as expected vs received, with a hint", async () => {
    const { failures } = await host.check({}, { template: HVM_TEMPLATE, powerState: "Crashed" });
    expect(failures).toMatchInlineSnapshot(`
      [
        {
          "property": "powerState",
          "reason": "Invalid value: expected one of "Halted", "Paused", "Running", "Suspended", received "Crashed". Crashed can be observed but not declared.",
        },
      ]
    `);
  });

  it("rejects inputs without identity", async () => {
    const { failures } = await host.check({}, { powerState: "Running" });
    expect(failures.map((f) => f.property)).toEqual(["template"]);
  });

  it("tolerates unknown values in a preview and defers the plan to the update", async () => {
    const { inputs, failures } = await host.check(
      {},
      {
        template: HVM_TEMPLATE,
        powerState: UNKNOWN,
        hvm: { bootParams: { order: "cd" } },
        __xapi: { preview: true },
      },
    );
    expect({ failures, powerState: inputs.powerState, plannedCalls: inputs.plannedCalls }).toEqual({
      failures: [],
      powerState: UNKNOWN,
      plannedCalls: ["(the calls depend on powerState, known only during the update; they are planned then)"],
    });
  });

  it("plans a create in a preview: clone, provision, un-template, setters, start", async () => {
    // The flat form a 0.1.0 program sent (`__xapiPreview`) is read too.
    const { inputs } = await host.check(
      {},
      { template: HVM_TEMPLATE, nameLabel: "p", hvm: { bootParams: { order: "dc" } }, __xapiPreview: true },
    );
    // Planned from the template's live record: its HVM_boot_policy is already "BIOS order", so only the
    // boot order is set (a preview from the recorded inputs had to list every setter "unless already set").
    expect((inputs.plannedCalls as string[]).map((l) => /^\d+\. (VM\.\w+)/.exec(l)?.[1])).toEqual([
      "VM.clone",
      "VM.provision",
      "VM.set_is_a_template",
      "VM.set_HVM_boot_params",
      "VM.start",
    ]);
  });
});

describe("one VM through its lifecycle", () => {
  const declared: Bag = {
    template: HVM_TEMPLATE,
    nameLabel: "grpc-vm",
    hvm: { bootParams: { order: "cd" } },
    // What the `Vm` class passes: the URN the VM is tagged with, so that a preview finds it.
    __xapi: { urn: "urn:pulumi:grpc::test::pulumi-nodejs:dynamic/xapi:Vm::grpc-vm" },
  };
  let id: string;
  let inputs: Bag;
  let outs: Bag;

  /** Check + Diff + Update as `pulumi up` does; returns the update's outputs. */
  async function up(change: Bag): Promise<{ diff: Awaited<ReturnType<Host["diff"]>>; outs: Bag }> {
    const next = { ...declared, ...change };
    const { checked, diff } = await checkAndDiff(id, inputs, outs, next, false);
    const updated = await host.update(id, outs, checked.inputs);
    returned.push(updated);
    inputs = checked.inputs;
    outs = updated;
    return { diff, outs: updated };
  }

  it("Create clones, provisions and starts the VM; lastCalls are exactly the calls made", async () => {
    const since = await lastSeq();
    ({ id, outs, inputs } = await create(declared));
    const vm = await simVm(id);
    expect({
      vm: { power_state: vm?.power_state, is_a_template: vm?.is_a_template, name_label: vm?.name_label },
      observed: flat(outs).observedPowerState,
      lastCalls: calls(outs),
    }).toEqual({
      vm: { power_state: "Running", is_a_template: false, name_label: "grpc-vm" },
      observed: "Running",
      lastCalls: await mutationsSince(since),
    });
  });

  it("Create's outputs are stored as the engine keeps them: declared keys, one __xapi, one observed, no uuid", async () => {
    const observed = JSON.parse(outs.observed as string) as Bag;
    expect({
      keys: Object.keys(outs).sort(),
      internal: outs.__xapi,
      observed: Object.keys(observed).sort(),
      state: [observed.powerState, observed.adopted, observed.pendingBootChanges],
      // The preview's plan has the reasons; the stored calls do not.
      reasons: (callsOfStored(observed.lastCalls) as Bag[]).filter((c) => "reason" in c),
      inputs: Object.keys(inputs).sort(),
    }).toEqual({
      keys: ["__xapi", "hvm", "nameLabel", "observed", "template"],
      // One JSON text each: one value for the engine to store instead of a tree (provider/resource/stored.ts).
      internal: `{"urn":"${(declared.__xapi as Bag).urn}"}`,
      // adopted (false) and pendingBootChanges (none) are left out.
      observed: ["domid", "effectiveBoot", "lastCalls", "memory", "poolUuid", "powerState", "vcpus"],
      state: ["Running", undefined, undefined],
      reasons: [],
      inputs: ["__xapi", "hvm", "nameLabel", "template"],
    });
  });

  it("a preview-time Diff of a powerState change carries the planned calls", async () => {
    const { checked, diff } = await checkAndDiff(
      id,
      inputs,
      outs,
      { ...declared, powerState: "Suspended" },
      true,
    );
    expect({ planned: checked.inputs.plannedCalls, diff }).toEqual({
      planned: ["1. VM.suspend (Running → Suspended): suspend the VM (declared Suspended)"],
      diff: { changes: "some", replaces: [], deleteBeforeReplace: false },
    });
  });

  it("a preview with nothing to do has no plannedCalls and no diff (no perpetual diff)", async () => {
    const { checked, diff } = await checkAndDiff(id, inputs, outs, declared, true);
    expect({ planned: checked.inputs.plannedCalls, changes: diff.changes }).toEqual({
      planned: undefined,
      changes: "none",
    });
  });

  it("a boot-order change on the running VM: Update sets the field and reboots, as previewed", async () => {
    const preview = await checkAndDiff(
      id,
      inputs,
      outs,
      { ...declared, hvm: { bootParams: { order: "dc" } } },
      true,
    );
    const planned = (preview.checked.inputs.plannedCalls as string[]).map(
      (l) => /^\d+\. (VM\.\w+)/.exec(l)?.[1],
    );
    const since = await lastSeq();
    await up({ hvm: { bootParams: { order: "dc" } } });
    declared.hvm = { bootParams: { order: "dc" } };
    const boot = await control<{ order?: string; HVM_boot_params?: { order?: string } }>("bootRecord", {
      uuid: id,
    });
    expect({
      planned,
      made: calls(outs),
      log: await mutationsSince(since),
      booted: JSON.stringify(boot),
    }).toEqual({
      planned: [
        "VM.add_to_other_config",
        "VM.set_HVM_boot_params",
        "VM.clean_reboot",
        "VM.remove_from_other_config",
      ],
      made: [
        "VM.add_to_other_config",
        "VM.set_HVM_boot_params",
        "VM.clean_reboot",
        "VM.remove_from_other_config",
      ],
      log: [
        "VM.add_to_other_config",
        "VM.set_HVM_boot_params",
        "VM.clean_reboot",
        "VM.remove_from_other_config",
      ],
      booted: expect.stringContaining('"dc"'),
    });
  });

  it("Update to Suspended suspends", async () => {
    await up({ powerState: "Suspended" });
    expect([calls(outs), flat(outs).observedPowerState]).toEqual([["VM.suspend"], "Suspended"]);
  });

  it("Update to Paused resumes paused (no detour through Running)", async () => {
    await up({ powerState: "Paused" });
    expect([flat(outs).lastCalls, flat(outs).observedPowerState]).toEqual([
      [expect.objectContaining({ call: "VM.resume", args: { start_paused: true, force: false } })],
      "Paused",
    ]);
  });

  it("Update to Halted under the clean policy unpauses and shuts down cleanly", async () => {
    await up({ powerState: "Halted" });
    expect([calls(outs), flat(outs).observedPowerState]).toEqual([
      ["VM.unpause", "VM.clean_shutdown"],
      "Halted",
    ]);
  });

  it("a next-boot change on a running VM is written and reported pending", async () => {
    await up({ powerState: "Running" });
    declared.powerState = "Running";
    await up({ hvm: { bootParams: { order: "cd" } }, policy: { bootChanges: "next-boot" } });
    const other = await otherConfigOf(id);
    expect([
      calls(outs),
      flat(outs).pendingBootChanges,
      JSON.parse(other["pulumi-xapi:pending-boot"] ?? "{}").paths,
    ]).toEqual([
      ["VM.add_to_other_config", "VM.set_HVM_boot_params"],
      ["hvm.bootParams.order"],
      ["hvm.bootParams.order"],
    ]);
  });

  it("switching the policy back to restart makes the pending change due: one reboot, nothing pending", async () => {
    const next = { hvm: { bootParams: { order: "cd" } }, policy: { bootChanges: "restart" } };
    const { diff } = await up(next);
    declared.hvm = next.hvm;
    expect([diff.changes, calls(outs), flat(outs).pendingBootChanges]).toEqual([
      "some",
      ["VM.clean_reboot", "VM.remove_from_other_config"],
      [],
    ]);
  });

  it("restartTrigger: a new value restarts the running VM exactly once", async () => {
    await up({ restartTrigger: "v2" });
    declared.restartTrigger = "v2";
    expect(calls(outs)).toEqual(["VM.clean_reboot"]);
  });

  it("a name change is an update that renames the VM", async () => {
    const { diff } = await up({ nameLabel: "grpc-vm-renamed" });
    declared.nameLabel = "grpc-vm-renamed";
    expect([diff, calls(outs), (await simVm(id))?.name_label]).toEqual([
      { changes: "some", replaces: [], deleteBeforeReplace: false },
      ["VM.set_name_label"],
      "grpc-vm-renamed",
    ]);
  });

  it("a template change is a replacement", async () => {
    const { diff } = await checkAndDiff(
      id,
      inputs,
      outs,
      { ...declared, template: "Generic PV (pygrub)" },
      true,
    );
    expect(diff).toEqual({ changes: "some", replaces: ["template"], deleteBeforeReplace: false });
  });

  it("Read with nothing changed returns the same inputs: refresh-then-preview is clean", async () => {
    const read = await host.read(id, outs);
    returned.push(read);
    const { checked, diff } = await checkAndDiff(id, read.inputs ?? {}, read.props, declared, true);
    expect({ inputs: read.inputs, planned: checked.inputs.plannedCalls, changes: diff.changes }).toEqual({
      // Stored form: the declared inputs, and in `__xapi` the VM's uuid and the owner's URN.
      inputs: {
        ...Object.fromEntries(Object.entries(inputs).filter(([k]) => !k.startsWith("__"))),
        __xapi: `{"vm":"${id}","urn":"${(declared.__xapi as Bag).urn}"}`,
      },
      planned: undefined,
      changes: "none",
    });
  });

  it("a Read after an out-of-band change reports it, and the next preview plans the way back", async () => {
    await control("setPowerState", { uuid: id, powerState: "Halted" });
    await control("setFields", { uuid: id, fields: { HVM_boot_params: { order: "n" } } });
    const read = await host.read(id, outs);
    returned.push(read);
    const { checked, diff } = await checkAndDiff(id, read.inputs ?? {}, read.props, declared, true);
    inputs = read.inputs ?? {};
    outs = read.props;
    expect({
      observed: flat(read.props).observedPowerState,
      inputs: [read.inputs?.powerState, read.inputs?.hvm],
      planned: (checked.inputs.plannedCalls as string[]).map((l) => /^\d+\. (VM\.\w+)/.exec(l)?.[1]),
      changes: diff.changes,
    }).toEqual({
      observed: "Halted",
      inputs: ["Halted", { bootParams: { order: "n" } }],
      planned: ["VM.set_HVM_boot_params", "VM.start"],
      changes: "some",
    });
  });

  it("Delete of a Suspended VM under the clean policy resumes and shuts down cleanly, then destroys", async () => {
    await up({ powerState: "Suspended" });
    const since = await lastSeq();
    await host.delete(id, outs);
    expect([await mutationsSince(since), await simVm(id)]).toEqual([
      // The disk VM.provision created from the template goes with the VM (xapi-sim models disks, #7).
      ["VM.resume", "VM.clean_shutdown", "VM.destroy", "VDI.destroy"],
      undefined,
    ]);
  });

  it("Read of a VM that no longer exists returns no id (the engine drops it)", async () => {
    const read = await host.read(id, outs);
    expect(read.id).toBe("");
  });
});

describe("refresh-then-preview", () => {
  it("is clean when bootableDisks are declared in another order than XAPI lists them", async () => {
    // The template's CD drive is at userdevice 3, the provisioned disk at 0.
    const declared = {
      template: HVM_TEMPLATE,
      nameLabel: "grpc-disk-order",
      powerState: "Halted",
      bootableDisks: ["3", "0"],
    };
    const { id, outs, inputs } = await create(declared);
    const read = await host.read(id, outs);
    returned.push(read);
    const { checked, diff } = await checkAndDiff(id, read.inputs ?? {}, read.props, declared, true);
    await host.delete(id, outs);
    expect({
      inputs: read.inputs?.bootableDisks,
      planned: checked.inputs.plannedCalls,
      changes: diff.changes,
    }).toEqual({ inputs: inputs.bootableDisks, planned: undefined, changes: "none" });
  });
});

describe('documented calls (impl.ts, "Calls"): no read is made twice', () => {
  /** Every call after `since`, task polls collapsed into one entry (their number depends on timing). */
  async function callsSince(since: number): Promise<string[]> {
    const log = await control<{ seq: number; method: string }[]>("callLog", { since });
    return log
      .map((c) => c.method)
      .filter((m) => m !== "session.login_with_password") // made once, by whichever test runs first
      .filter((m, i, all) => m !== "event.from" || all[i - 1] !== m);
  }
  const task = ["event.from", "task.destroy"];

  it("Create, a rename, Update to Halted and Delete make exactly these calls", async () => {
    // A first create in this provider process: the template lookup it makes is not repeated below.
    await create({ template: HVM_TEMPLATE, nameLabel: "grpc-calls-first", powerState: "Halted" });
    let since = await lastSeq();
    const { id, outs, inputs } = await create({
      template: HVM_TEMPLATE,
      nameLabel: "grpc-calls",
      hvm: { bootParams: { order: "cd" } },
    });
    const created = await callsSince(since);
    since = await lastSeq();
    const renamed = await host.update(id, outs, { ...inputs, nameLabel: "grpc-calls-2" });
    returned.push(renamed);
    const afterRename = await callsSince(since);
    since = await lastSeq();
    const news = { ...inputs, nameLabel: "grpc-calls-2", powerState: "Halted" };
    const updated = await host.update(id, renamed, news);
    returned.push(updated);
    const afterUpdate = await callsSince(since);
    since = await lastSeq();
    await host.delete(id, updated);
    const deleted = await callsSince(since);
    expect({ created, afterRename, afterUpdate, deleted }).toEqual({
      created: [
        // No template lookup: this provider process's first create looked the template up, once per run.
        "Async.VM.clone",
        ...task,
        "VM.get_uuid",
        "Async.VM.provision",
        ...task,
        "VM.set_is_a_template",
        "VM.get_record", // names and the plan
        "Async.VM.start",
        ...task,
        "VM.get_record", // the outputs (domid, boot fields)
      ],
      // Nothing for the executor to do: the record read before is still the VM's (no second read).
      afterRename: ["VM.get_by_uuid", "VM.get_record", "VM.set_name_label"],
      afterUpdate: ["VM.get_by_uuid", "VM.get_record", "Async.VM.clean_shutdown", ...task, "VM.get_record"],
      deleted: [
        "VM.get_by_uuid",
        "VM.get_record", // the plan (nothing to do: Halted) and the VBDs
        "VBD.get_record", // the template's CD drive and the provisioned disk
        "VBD.get_record",
        "VM.destroy",
        "VDI.destroy", // the provisioned disk only
      ],
    });
  });
});

describe("failures", () => {
  it("a Create whose start fails still returns the VM's id and what was done", async () => {
    await control("faults", {
      method: "VM.start",
      code: "BOOTLOADER_FAILED",
      params: ["x", "no bootable disk"],
    });
    const failure = await create({ template: HVM_TEMPLATE, nameLabel: "grpc-start-fails" }).catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(ProviderCallError);
    const init = (failure as ProviderCallError).initFailed;
    returned.push(failure, init);
    const vm = init === undefined ? undefined : await simVm(init.id);
    expect({
      vm: vm?.power_state,
      observed: init === undefined ? undefined : flat(init.properties).observedPowerState,
      lastCalls: init === undefined ? undefined : calls(init.properties),
      reasons: init?.reasons.length,
    }).toEqual({
      vm: "Halted",
      observed: "Halted",
      lastCalls: ["VM.clone", "VM.provision", "VM.set_is_a_template"],
      reasons: 1,
    });
    if (init !== undefined) await host.delete(init.id, init.properties);
  });

  it("a Create whose provision fails records the template clone, and the next Update finishes and starts it", async () => {
    await control("faults", { method: "VM.provision", code: "INTERNAL_ERROR", params: ["disk"], count: 1 });
    const declared = { template: HVM_TEMPLATE, nameLabel: "grpc-provision-fails" };
    const checked = await host.check({}, sent(declared, false));
    const failure = await host.create(checked.inputs).catch((e: unknown) => e);
    returned.push(failure);
    const init = (failure as ProviderCallError).initFailed;
    if (init === undefined) throw new Error(`expected an init failure with the id, got ${String(failure)}`);
    const recorded = await simVm(init.id);
    // What `pulumi up` does next for a resource recorded with an init error: Check, Diff, Update.
    const next = await checkAndDiff(init.id, checked.inputs, init.properties, declared, false);
    const since = await lastSeq();
    const updated = await host.update(init.id, init.properties, next.checked.inputs);
    returned.push(updated);
    const vm = await simVm(init.id);
    const disks = await control<{ userdevice: string }[]>("disks", { uuid: init.id });
    const made = await mutationsSince(since);
    await host.delete(init.id, updated);
    expect({
      failed: [calls(init.properties), recorded?.is_a_template],
      diff: next.diff.changes,
      updated: [calls(updated), made, flat(updated).observedPowerState],
      vm: [vm?.is_a_template, vm?.power_state, disks.map((d) => d.userdevice).sort()],
    }).toEqual({
      failed: [["VM.clone"], true],
      diff: "some",
      updated: [
        ["VM.provision", "VM.set_is_a_template", "VM.start"],
        ["VM.provision", "VM.set_is_a_template", "VM.start"],
        "Running",
      ],
      vm: [false, "Running", ["0", "3"]],
    });
  });

  it("a Delete whose clean shutdown fails pauses the VM again and keeps it", async () => {
    const created = await create({
      template: HVM_TEMPLATE,
      nameLabel: "grpc-paused-delete",
      powerState: "Paused",
    });
    await control("setGuest", { uuid: created.id, pvDrivers: false });
    const since = await lastSeq();
    const failure = await host.delete(created.id, created.outs).catch((e: unknown) => e);
    returned.push(failure);
    const made = await mutationsSince(since);
    const kept = await simVm(created.id);
    // Clean-up: a hard shutdown is what the declared policy would have to allow.
    await host.delete(created.id, { ...created.outs, policy: { shutdown: "hard" } });
    expect([made, kept?.power_state, (failure as Error).message]).toEqual([
      ["VM.unpause", "VM.clean_shutdown", "VM.pause"],
      "Paused",
      expect.stringContaining("VM_LACKS_FEATURE"),
    ]);
    expect((failure as Error).message).toContain("it was paused again (VM.pause), Paused as before the run.");
  });

  it("an expired customTimeouts deadline stops an update before any lifecycle call, keeping the id", async () => {
    const { id, outs, inputs } = await create({ template: HVM_TEMPLATE, nameLabel: "grpc-deadline" });
    const since = await lastSeq();
    const news = {
      ...inputs,
      powerState: "Halted",
      __xapi: { ...(inputs.__xapi as Bag), customTimeouts: { update: "1ns" } },
    };
    const failure = await host.update(id, outs, news).catch((e: unknown) => e);
    returned.push(failure);
    const init = (failure as ProviderCallError).initFailed;
    expect([init?.id, (failure as Error).message, await mutationsSince(since)]).toEqual([
      id,
      expect.stringContaining("customTimeouts.update (1ns) has passed"),
      [],
    ]);
    await host.delete(id, outs);
  });

  it("customTimeouts.delete reaches delete through the outputs: an expired deadline keeps the VM", async () => {
    const created = await create({
      template: HVM_TEMPLATE,
      nameLabel: "grpc-delete-deadline",
      powerState: "Halted",
      __xapi: { customTimeouts: { delete: "1ns" } },
    });
    const failure = await host.delete(created.id, created.outs).catch((e: unknown) => e);
    returned.push(failure);
    expect([
      (JSON.parse(created.outs.__xapi as string) as Bag).customTimeouts,
      (failure as Error).message,
      (await simVm(created.id))?.power_state,
    ]).toEqual([
      { delete: "1ns" },
      expect.stringContaining("customTimeouts.delete (1ns) has passed"),
      "Halted",
    ]);
    await host.delete(created.id, {
      ...created.outs,
      __xapi: { ...(JSON.parse(created.outs.__xapi as string) as Bag), customTimeouts: {} },
    });
  });

  it("adopting a VM that does not exist fails without an id", async () => {
    const failure = await create({ uuid: "00000000-0000-4000-8000-00000000dead" }).catch((e: unknown) => e);
    returned.push(failure);
    expect([(failure as ProviderCallError).initFailed, (failure as Error).message]).toEqual([
      undefined,
      expect.stringMatching(/^VM 00000000-0000-4000-8000-00000000dead not found: expected an existing VM/),
    ]);
  });

  it("a template that does not exist fails without creating anything", async () => {
    const before = (await control<SimVm[]>("vms")).length;
    const failure = await create({ template: "No such template" }).catch((e: unknown) => e);
    returned.push(failure);
    expect([(failure as Error).message, (await control<SimVm[]>("vms")).length]).toEqual([
      expect.stringContaining('Template "No such template" not found'),
      before,
    ]);
  });
});

describe("adoption", () => {
  it("switching a created VM to adoption of itself updates it, and delete then releases it", async () => {
    const { id, outs, inputs } = await create({ template: HVM_TEMPLATE, nameLabel: "grpc-self-adopt" });
    const declared = { uuid: id, powerState: "Running" };
    const { checked, diff } = await checkAndDiff(id, inputs, outs, declared, false);
    const updated = await host.update(id, outs, checked.inputs);
    returned.push(updated);
    const since = await lastSeq();
    await host.delete(id, updated);
    const made = await mutationsSince(since);
    const kept = await simVm(id);
    await host.delete(id, { ...updated, deleteAdopted: true }); // clean up
    expect([diff.replaces, flat(updated).adopted, updated.uuid, made, kept?.power_state]).toEqual([
      [],
      true,
      // Declared (adoption): the uuid is kept in the outputs.
      id,
      [],
      "Running",
    ]);
  });

  it("adopts an existing VM by uuid, converges it, and releases it on delete", async () => {
    const web = (await control<SimVm[]>("vms")).find((v) => v.name_label === "web-01");
    if (web === undefined) throw new Error("fixture VM web-01 missing");
    const { id, outs } = await create({ uuid: web.uuid, powerState: "Halted" });
    const since = await lastSeq();
    await host.delete(id, outs);
    expect([
      flat(outs).adopted,
      calls(outs),
      await mutationsSince(since),
      (await simVm(web.uuid))?.power_state,
    ]).toEqual([true, ["VM.clean_shutdown"], [], "Halted"]);
  });
});

describe("credentials", () => {
  it("a wrong password fails the create, and no error text or log line contains it", async () => {
    const wrong = "wrong-Pw-3b9d5e1f";
    const other = await ProviderHost.start(providerText, pkg.programDir);
    try {
      await other.configure({ "xapi:url": sim.url, "xapi:password": wrong });
      const checked = await other.check({}, { template: HVM_TEMPLATE, nameLabel: "x" });
      const failure = await other.create(checked.inputs).catch((e: unknown) => e);
      expect([
        (failure as Error).message.includes("SESSION_AUTHENTICATION_FAILED"),
        JSON.stringify(failure).includes(wrong) || String(failure).includes(wrong),
        other.stderr.includes(wrong),
      ]).toEqual([true, false, false]);
    } finally {
      await other.close();
    }
  });

  it("the provider process logs its shared session out when the engine stops it (SIGINT)", async () => {
    const counters = () => control<{ liveSessions: number; logins: number }>("counters");
    const before = await counters();
    await host.close("SIGINT");
    const after = await counters();
    expect([before.liveSessions, after.liveSessions, after.logins]).toEqual([1, 0, before.logins]);
  });

  it("no property bag or error the provider returned contains the password", () => {
    const text = JSON.stringify(returned, (_k, v) => (v instanceof Error ? `${v.message} ${v.stack}` : v));
    expect([returned.length > 20, text.includes(PASSWORD), host.stderr.includes(PASSWORD)]).toEqual([
      true,
      false,
      false,
    ]);
  });
});
