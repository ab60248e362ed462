/**
 * The real Pulumi CLI once against each xapi-sim profile (`current`: XCP-ng 8.3, API 2.21; `xenserver-7`:
 * XenServer 7.2, API 2.7, no `domain_type`; `xenapi-1.0`: API 1.0, no `domain_type`): one stack of one VM
 * created from a template of the profile's fixture, then a boot change, then Running → Halted, then
 * `pulumi destroy`.
 *
 * For every step but the destroy, `pulumi preview --json` names the calls (`__xapiPlan`, planned from the
 * pool) and the state-changing calls xapi-sim logs during `pulumi up` must be exactly those, in order, with
 * their key arguments ({@link expectUpAsPreviewed}); each list is also written by hand. A resource removed
 * by `pulumi destroy` has no preview of its own calls (the engine deletes it without `check` or `diff`,
 * provider/resource/preview.ts), so the destroy's calls are only compared with the hand-written list. On
 * the profiles older than API 2.10 no call of the whole run is `VM.set_domain_type`.
 *
 * Without a Pulumi CLI these tests fail (run `bash scripts/pulumi-cli.sh` once per machine).
 */

import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ProfileName, type RunningSimulator, startSimulator } from "../../simulator";
import type { SimSnapshot } from "../../simulator/model/snapshot";
import { callKey } from "./call-key";
import { locatePulumiCli, PulumiProject } from "./harness";

const PASSWORD = "profiles-Pw-2c9e41";
/** The program that declares the VMs of the stack config `e2e:vms` ({name: VmArgs}). */
const PROGRAM = path.join(__dirname, "program-matrix", "index.ts");
/** The fixture's templates (simulator/model/fixture.ts), present under every profile. */
const HVM_TEMPLATE = "Other install media";
const PV_TEMPLATE = "Generic PV (pygrub)";
/** A profile's run is six CLI commands of a few seconds each, plus the stack's setup. */
const TIMEOUT = { timeout: 180_000 };

/** A call log entry (control op `callLog`). */
interface CallLogEntry {
  seq: number;
  method: string;
  params: unknown[];
  ok: boolean;
}

/** One step of `__xapiPlan`. */
interface PlannedStep {
  call: string;
  args: Record<string, unknown>;
}

/** `__xapiPlan`. */
interface PlanData {
  source: "pool" | "recorded-inputs" | "deferred";
  steps: PlannedStep[];
}

type VmDecl = Readonly<Record<string, unknown>>;

/** One profile's run: the declarations of the VM, step by step, and the calls each step makes (by hand). */
interface ProfileRun {
  profile: ProfileName;
  /** `host.API_version_major.minor` the profile serves. */
  api: string;
  created: VmDecl;
  booted: VmDecl;
  halted: VmDecl;
  calls: { create: string[]; boot: string[]; halt: string[]; destroy: string[] };
}

/**
 * A VM is born with a name unique to its resource (`pulumi-xapi:creating:` and 16 hex digits of a hash of
 * its URN, provider/resource/birth.ts `birthName`), tagged, then renamed (logged lines show the hash
 * as {@link BIRTH}).
 */
const CREATE_CALLS = (name: string) => [
  `VM.clone(new_name: "${BIRTH}")`,
  'VM.add_to_other_config(key: "pulumi-xapi:urn")',
  "VM.provision",
  "VM.set_is_a_template(value: false)",
  "VM.start(start_paused: false, force: false)",
  // Renamed last: a create stopped before its end is found again by its birth name.
  `VM.set_name_label(value: "${name}")`,
];
/** The pending-boot note around a live boot change: written before the setters, removed after the reboot. */
const NOTE = 'VM.add_to_other_config(key: "pulumi-xapi:pending-boot")';
const UNNOTE = 'VM.remove_from_other_config(key: "pulumi-xapi:pending-boot")';
const BIRTH = "pulumi-xapi:creating:<hash>";

/** A PV VM (the PV template, pygrub) made HVM, as a user would move a guest to HVM on a pre-2.10 pool. */
function pvToHvm(profile: ProfileName, api: string): ProfileRun {
  const name = `prof-${profile}`;
  const hvm = { template: PV_TEMPLATE, nameLabel: name, hvm: { bootParams: { order: "dc" } } };
  return {
    profile,
    api,
    created: { template: PV_TEMPLATE, nameLabel: name, powerState: "Running", pv: { bootloader: "pygrub" } },
    booted: { ...hvm, powerState: "Running" },
    halted: { ...hvm, powerState: "Halted" },
    calls: {
      create: CREATE_CALLS(name),
      // No VM.set_domain_type: before API 2.10 the policy alone makes the VM HVM.
      boot: [
        NOTE,
        'VM.set_HVM_boot_policy(value: "BIOS order")',
        'VM.set_HVM_boot_params(value: {"order":"dc"})',
        "VM.clean_reboot",
        UNNOTE,
      ],
      halt: ["VM.clean_shutdown"],
      destroy: ["VM.destroy", 'VDI.destroy(userdevice: "0")'],
    },
  };
}

const RUNS: ProfileRun[] = [
  {
    profile: "current",
    api: "2.21",
    created: {
      template: HVM_TEMPLATE,
      nameLabel: "prof-current",
      powerState: "Running",
      hvm: { bootParams: { order: "cd" } },
    },
    booted: {
      template: HVM_TEMPLATE,
      nameLabel: "prof-current",
      powerState: "Running",
      hvm: { bootParams: { order: "dc" } },
    },
    halted: {
      template: HVM_TEMPLATE,
      nameLabel: "prof-current",
      powerState: "Halted",
      hvm: { bootParams: { order: "dc" } },
    },
    calls: {
      create: CREATE_CALLS("prof-current"),
      boot: [NOTE, 'VM.set_HVM_boot_params(value: {"order":"dc"})', "VM.clean_reboot", UNNOTE],
      halt: ["VM.clean_shutdown"],
      destroy: ["VM.destroy", 'VDI.destroy(userdevice: "0")'],
    },
  },
  pvToHvm("xenserver-7", "2.7"),
  pvToHvm("xenapi-1.0", "1.0"),
];

//////////////////////////////
////   the comparison     ////
//////////////////////////////

/** A birth name with its hash replaced by {@link BIRTH}'s placeholder (any other name unchanged). */
const birthOf = (name: unknown) => String(name).replace(/^pulumi-xapi:creating:[0-9a-f]{16}$/, BIRTH);

const syncName = (method: string) => method.replace(/^Async\./, "");

/** Successful calls that change something: no reads, no session/task/event traffic. */
function stateChanging(log: readonly CallLogEntry[]): CallLogEntry[] {
  return log.filter((c) => {
    if (!c.ok) return false;
    const [cls = "", name = ""] = syncName(c.method).split(".");
    if (["session", "task", "event", "system"].includes(cls)) return false;
    return !/^(get|assert|query|retrieve)/.test(name);
  });
}

/** A logged call as a {@link callKey} line; VBD and VDI refs are told by their userdevice (`state`: before the call). */
function loggedKey(entry: CallLogEntry, state: SimSnapshot): string {
  const call = syncName(entry.method);
  const p = entry.params;
  const userdevice = (pred: (v: SimSnapshot["vbds"][number]) => boolean) =>
    state.vbds.find(pred)?.record.userdevice;
  if (call === "VM.clone") return callKey(call, { new_name: birthOf(p[1]) });
  if (call === "VBD.set_bootable")
    return callKey(call, { userdevice: userdevice((v) => v.ref === p[0]), value: p[1] });
  if (call === "VDI.destroy") return callKey(call, { userdevice: userdevice((v) => v.record.VDI === p[0]) });
  if (call === "VM.add_to_other_config" || call === "VM.remove_from_other_config")
    return callKey(call, { key: p[1] });
  if (call === "VM.start" || call === "VM.resume") return callKey(call, { start_paused: p[1], force: p[2] });
  if (call.startsWith("VM.set_")) return callKey(call, { value: p[1] });
  return call;
}

//////////////////////////////
////   the runs           ////
//////////////////////////////

let binDir: string | undefined;
let cliMissing: unknown;

beforeAll(async () => {
  try {
    binDir = await locatePulumiCli();
  } catch (err) {
    cliMissing = err;
  }
});

// The three profiles run side by side (each its own xapi-sim and stack); the steps of one run in order.
describe.concurrent.each(RUNS)("profile $profile: the real CLI, one VM from create to destroy", (run) => {
  let sim: RunningSimulator;
  let project: PulumiProject | undefined;

  beforeAll(async () => {
    sim = await startSimulator({
      port: 0,
      member: false,
      users: { root: PASSWORD },
      profile: run.profile,
      defaultOperationMs: 5,
    });
    if (binDir === undefined) throw cliMissing;
    project = await PulumiProject.create({ program: PROGRAM, binDir, name: `xapi-${run.profile}` });
    await project.initStack();
    await project.setConfig("xapi:url", sim.url);
    await project.setConfig("xapi:username", "root");
    await project.setConfig("xapi:password", PASSWORD, { secret: true });
  }, 120_000);

  let destroyed = false;

  afterAll(async () => {
    if (!destroyed) await project?.pulumi(["destroy", "--yes"]);
    await project?.dispose();
    await sim?.close();
  });

  async function control<T>(op: string, body: Record<string, unknown> = {}): Promise<T> {
    const fn = sim.model.control[op];
    if (fn === undefined) throw new Error(`xapi-sim has no control op ${op}`);
    return (await fn(body)) as T;
  }
  const lastSeq = async () => (await control<CallLogEntry[]>("callLog")).at(-1)?.seq ?? 0;
  const stack = () => {
    if (project === undefined) throw cliMissing ?? new Error("no stack");
    return project;
  };

  /** Declares `decl`, previews (`--json`), runs `up`; the planned and the logged calls as lines. */
  async function step(
    decl: VmDecl,
  ): Promise<{ source: string | undefined; planned: string[]; logged: string[] }> {
    const p = stack();
    // `-c` sets the declaration for the preview and saves it for the up (one CLI call less than `config set`).
    const config = ["-c", `e2e:vms=${JSON.stringify({ vm: decl })}`];
    const preview = JSON.parse((await p.pulumiOk(["preview", "--json", ...config])).stdout) as {
      steps?: { urn: string; newState?: { inputs?: { __xapiPlan?: PlanData } } }[];
    };
    const plan = preview.steps?.find((s) => s.urn.endsWith("::vm"))?.newState?.inputs?.__xapiPlan;
    const before = await control<SimSnapshot>("state");
    const since = await lastSeq();
    await p.pulumiOk(["up", "--yes"]);
    const log = stateChanging(await control<CallLogEntry[]>("callLog", { since }));
    return {
      source: plan?.source,
      planned: (plan?.steps ?? []).map((s) =>
        callKey(s.call, s.call === "VM.clone" ? { new_name: birthOf(s.args.new_name) } : s.args),
      ),
      logged: log.map((e) => loggedKey(e, before)),
    };
  }

  /** The preview came from the pool; `up` made exactly its calls; and they are the hand-written ones. */
  function expectUpAsPreviewed(
    result: { source: string | undefined; planned: string[]; logged: string[] },
    expected: string[],
  ): void {
    expect({ source: result.source, logged: result.logged }).toEqual({
      source: "pool",
      logged: result.planned,
    });
    expect(result.logged).toEqual(expected);
  }

  const vmRecord = async () =>
    (await control<SimSnapshot>("state")).vms.find((v) => v.record.name_label === run.created.nameLabel)
      ?.record;

  it.sequential(`serves API ${run.api}`, async () => {
    const config = await control<{ profile: string; apiVersion: string }>("config");
    expect([config.profile, config.apiVersion]).toEqual([run.profile, run.api]);
  });

  it.sequential("create from a template: up makes the previewed calls", TIMEOUT, async () => {
    expectUpAsPreviewed(await step(run.created), run.calls.create);
    expect((await vmRecord())?.power_state).toBe("Running");
  });

  it.sequential("a boot change on the running VM: up makes the previewed calls", TIMEOUT, async () => {
    expectUpAsPreviewed(await step(run.booted), run.calls.boot);
    const record = await vmRecord();
    expect([record?.HVM_boot_policy, record?.HVM_boot_params.order, record?.power_state]).toEqual([
      "BIOS order",
      "dc",
      "Running",
    ]);
  });

  it.sequential("Running → Halted: up makes the previewed calls", TIMEOUT, async () => {
    expectUpAsPreviewed(await step(run.halted), run.calls.halt);
    expect((await vmRecord())?.power_state).toBe("Halted");
  });

  it.sequential("pulumi destroy: the VM and its disk go", TIMEOUT, async () => {
    const before = await control<SimSnapshot>("state");
    const since = await lastSeq();
    await stack().pulumiOk(["destroy", "--yes"]);
    destroyed = true;
    const log = stateChanging(await control<CallLogEntry[]>("callLog", { since }));
    expect(log.map((e) => loggedKey(e, before))).toEqual(run.calls.destroy);
    expect(await vmRecord()).toBeUndefined();
  });

  // Required on xenserver-7 and xenapi-1.0 (their XAPI has no such message); true of this current run too.
  it.sequential("no call of the run was VM.set_domain_type", async () => {
    const all = await control<CallLogEntry[]>("callLog");
    expect(all.filter((e) => syncName(e.method) === "VM.set_domain_type")).toEqual([]);
    expect(all.length).toBeGreaterThan(0);
  });
});
