/**
 * Acceptance matrix of the truthful preview: for each scenario, `pulumi preview --json` names the
 * state-changing XAPI calls (`__xapiPlan`), then `pulumi up --yes` runs, and the calls xapi-sim logged
 * since the preview must be exactly those, in order, with their key arguments; the `lastCalls` output
 * (minus skipped entries) must agree too. The expected calls come from the preview alone; a few
 * scenarios also state by hand the exact calls XAPI needs (e.g. Running → Paused is one `VM.pause`).
 *
 * To keep the file to a few minutes, the scenarios share one stack of VMs walked through rounds: each
 * round sets the declarations of every VM (`e2e:vms`, test/e2e/program-matrix), previews, applies, and
 * attributes each logged call to its VM (by the VM it names; a clone by its new name; a VBD or VDI by
 * the VM it belongs to, read from the simulator's state). A round is run once, by the first test that
 * needs it, and rounds run in order. Each VM's calls are compared in the log's order; across VMs the
 * engine runs resources in parallel, so calls of different VMs interleave. Every round also checks that every
 * state-changing call is attributed to a VM, and that a VM with nothing planned got no call.
 *
 * The twelve ordered pairs of Halted, Running, Paused and Suspended: four VMs created in the four
 * states, each moved by one, two, then three places along Halted → Running → Paused → Suspended → Halted
 * (the four starts are distinct, so the three rounds cover each pair exactly once).
 *
 * Without a Pulumi CLI these tests fail (run `bash scripts/pulumi-cli.sh` once per machine).
 */

import { createHash } from "node:crypto";
import { createServer } from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningSimulator } from "../../simulator";
import type { SimSnapshot } from "../../simulator/model/snapshot";
import { callKey, json } from "./call-key";
import { PulumiProject, type PulumiResult } from "./harness";
import { startRig } from "./rig";
import { type CallLogEntry, lastSeq, simControl, stateChangingSince, syncName } from "./sim-log";

const PASSWORD = "matrix-Pw-8b41e7d3";
const PROGRAM = path.join(__dirname, "program-matrix", "index.ts");
const HVM_TEMPLATE = "Other install media";
/** The fixture's PV template (simulator/model/fixture.ts): PV_bootloader "pygrub", PV_args "console=hvc0". */
const PV_TEMPLATE = "Generic PV (pygrub)";
const PV_TEMPLATE_ARGS = "console=hvc0";
/** Fixture VM db-01: Halted, HVM. */
const DB01 = "5a1f0000-0000-4000-8000-0000000000e2";
/** A round runs three CLI commands of a few seconds each; a test may run several rounds. */
const TIMEOUT = { timeout: 300_000 };

//////////////////////////////
////   shapes             ////
//////////////////////////////

/** One step of `__xapiPlan`. */
interface PlannedStep {
  vm: "existing" | "new" | "replaced";
  call: string;
  args: Record<string, unknown>;
  from?: string;
  to?: string;
  reason?: string;
  hard: boolean;
  destructive: boolean;
  passesThroughRunning: boolean;
}

/** `__xapiPlan`. */
interface PlanData {
  source: "pool" | "recorded-inputs" | "deferred";
  pool?: string;
  reason?: string;
  steps: PlannedStep[];
}

/** One `lastCalls` entry. */
interface CallRecord {
  call: string;
  args?: Record<string, unknown>;
  from?: string;
  to?: string;
  reason?: string;
  skipped?: string;
  escalatedFrom?: string;
}

/** The outputs program-matrix exports per VM. */
interface VmOutputs {
  uuid: string;
  observedPowerState: string;
  effectiveBoot: { domainType: string; pv?: Record<string, string>; hvm?: unknown; bootableDisks?: string[] };
  pendingBootChanges: string[];
  lastCalls: CallRecord[];
}

/** A Vm declaration as JSON (the program passes it to `new xapi.Vm` unchanged). */
type VmDecl = Readonly<Record<string, unknown>>;

type PowerState = "Halted" | "Running" | "Paused" | "Suspended";

//////////////////////////////
////   simulator + CLI    ////
//////////////////////////////

let binDir: string | undefined;
let cliMissing: unknown;
let sim: RunningSimulator;

beforeAll(async () => {
  ({ binDir, cliMissing, sim } = await startRig(PASSWORD));
});

afterAll(async () => {
  await sim?.close();
});

async function control<T>(op: string, body: Record<string, unknown> = {}): Promise<T> {
  return simControl<T>(sim, op, body);
}

async function newStack(name: string): Promise<PulumiProject> {
  if (binDir === undefined) throw cliMissing;
  const project = await PulumiProject.create({ program: PROGRAM, binDir, name });
  await project.initStack();
  await project.setConfig("xapi:url", sim.url);
  await project.setConfig("xapi:username", "root");
  await project.setConfig("xapi:password", PASSWORD, { secret: true });
  return project;
}

/** `pulumi-xapi:creating:` and the first 16 hex digits of the URN's SHA-256. */
function birthNameOf(urn: string): string {
  return `pulumi-xapi:creating:${createHash("sha256").update(urn).digest("hex").slice(0, 16)}`;
}

/** A localhost port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

//////////////////////////////
////   preview and log    ////
//////////////////////////////

/** What the preview says of one VM resource. */
interface PreviewOfVm {
  plan: PlanData | undefined;
  lines: string[];
}

/** The `__xapiPlan` and `plannedCalls` of each Vm resource of `pulumi preview --json`, by resource name. */
function previewOf(json: string): Map<string, PreviewOfVm> {
  const preview = JSON.parse(json) as {
    steps?: { urn: string; newState?: { inputs?: { __xapiPlan?: PlanData; plannedCalls?: string[] } } }[];
  };
  const byName = new Map<string, PreviewOfVm>();
  for (const step of preview.steps ?? []) {
    if (!step.urn.includes("::pulumi-nodejs:dynamic/xapi:Vm::")) continue;
    const name = step.urn.split("::").at(-1) ?? "";
    const inputs = step.newState?.inputs;
    // A replacement has several steps for one URN; the plan rides on those with the new inputs.
    if (byName.get(name)?.plan !== undefined) continue;
    byName.set(name, { plan: inputs?.__xapiPlan, lines: inputs?.plannedCalls ?? [] });
  }
  return byName;
}

/** What the simulator's state tells about refs: VBD and VDI refs → their VM's uuid and userdevice. */
interface RefMaps {
  vbd: Map<string, { vm: string; userdevice: string }>;
  vdi: Map<string, { vm: string; userdevice: string }>;
}

function addRefs(maps: RefMaps, state: SimSnapshot): void {
  const vmUuid = new Map(state.vms.map((v) => [v.ref, v.record.uuid]));
  for (const { ref, record } of state.vbds) {
    const owner = { vm: vmUuid.get(record.VM) ?? "", userdevice: record.userdevice };
    maps.vbd.set(ref, owner);
    if (record.VDI.startsWith("OpaqueRef:") && !record.VDI.endsWith("NULL")) maps.vdi.set(record.VDI, owner);
  }
}

/** A logged call as (owner uuid, call, key arguments). */
function loggedCall(
  entry: CallLogEntry,
  maps: RefMaps,
): { uuid: string | undefined; call: string; args: Record<string, unknown> } {
  const call = syncName(entry.method);
  const p = entry.params;
  if (call === "VM.clone") return { uuid: undefined, call, args: { new_name: p[1] } };
  if (call === "VBD.set_bootable") {
    const vbd = maps.vbd.get(String(p[0]));
    return { uuid: vbd?.vm, call, args: { userdevice: vbd?.userdevice, value: p[1] } };
  }
  if (call.startsWith("VDI.")) {
    const vdi = maps.vdi.get(String(p[0]));
    return { uuid: vdi?.vm, call, args: { userdevice: vdi?.userdevice } };
  }
  if (call === "VM.add_to_other_config" || call === "VM.remove_from_other_config")
    return { uuid: entry.vm, call, args: { key: p[1] } };
  if (call === "VM.start" || call === "VM.resume")
    return { uuid: entry.vm, call, args: { start_paused: p[1], force: p[2] } };
  if (call.startsWith("VM.set_")) return { uuid: entry.vm, call, args: { value: p[1] } };
  return { uuid: entry.vm, call, args: {} };
}

//////////////////////////////
////   rounds             ////
//////////////////////////////

/** One round: the declarations of every VM of the stack, and what happens before the preview. */
interface RoundSpec {
  readonly label: string;
  readonly vms: Readonly<Record<string, VmDecl>>;
  /** `--refresh` on both the preview and the up. */
  readonly refresh?: boolean;
  /** Out-of-band changes, made before the preview. */
  readonly before?: (previous: RoundResult) => Promise<void>;
}

/** One VM's part of a round. */
interface VmRound {
  readonly name: string;
  readonly preview: PreviewOfVm;
  /** The planned steps as comparable lines (`replaced: ` before the calls on a replaced VM). */
  readonly planned: string[];
  /** The logged calls attributed to this VM, the same way. */
  readonly logged: string[];
  /** The logged methods alone. */
  readonly methods: string[];
  /** Outputs before the round (undefined for a VM the round creates) and after it. */
  readonly before: VmOutputs | undefined;
  readonly after: VmOutputs;
  /** The VM's record in the simulator after the round. */
  readonly record: SimSnapshot["vms"][number]["record"] | undefined;
}

interface RoundResult {
  readonly spec: RoundSpec;
  readonly vms: Record<string, VmRound>;
  /** State-changing calls no VM of the stack accounts for. */
  readonly unattributed: string[];
  readonly outputs: Record<string, VmOutputs>;
}

/** Runs one round on `project`: config, preview (`--json`), up, then attributes the logged calls. */
async function runRound(
  project: PulumiProject,
  spec: RoundSpec,
  previous: RoundResult | undefined,
): Promise<RoundResult> {
  if (previous !== undefined) await spec.before?.(previous);
  await project.setConfig("e2e:vms", JSON.stringify(spec.vms));
  const refresh = spec.refresh === true ? ["--refresh"] : [];
  const maps: RefMaps = { vbd: new Map(), vdi: new Map() };
  addRefs(maps, await control<SimSnapshot>("state"));
  const preview = previewOf((await project.pulumiOk(["preview", "--json", ...refresh])).stdout);
  const since = await lastSeq(sim);
  await project.pulumiOk(["up", "--yes", ...refresh]);
  const log = await stateChangingSince(sim, since);
  const stateAfter = await control<SimSnapshot>("state");
  addRefs(maps, stateAfter);
  const outputs = (
    JSON.parse((await project.pulumiOk(["stack", "output", "--json"])).stdout) as {
      vms: Record<string, VmOutputs>;
    }
  ).vms;

  const names = Object.keys(spec.vms);
  const owner = new Map<string, string>(); // uuid → resource name
  const byLabel = new Map<string, string>(); // declared name_label → resource name
  for (const name of names) {
    const label = spec.vms[name]?.nameLabel;
    if (typeof label === "string") byLabel.set(label, name);
    // A VM is cloned under its birth name (README "What happens if a run is killed"): the documented
    // format, computed here independently of the provider.
    byLabel.set(birthNameOf(`urn:pulumi:e2e::xapi-matrix::pulumi-nodejs:dynamic/xapi:Vm::${name}`), name);
    for (const uuid of [previous?.outputs[name]?.uuid, outputs[name]?.uuid]) {
      if (uuid !== undefined) owner.set(uuid, name);
    }
  }
  const logged = new Map<string, string[]>(names.map((n) => [n, []]));
  const methods = new Map<string, string[]>(names.map((n) => [n, []]));
  const unattributed: string[] = [];
  for (const entry of log) {
    const call = loggedCall(entry, maps);
    const name = call.uuid === undefined ? byLabel.get(String(call.args.new_name)) : owner.get(call.uuid);
    const key = callKey(call.call, call.args);
    if (name === undefined) {
      unattributed.push(`${entry.seq} ${entry.method} ${json(entry.params)}`);
      continue;
    }
    const old = previous?.outputs[name]?.uuid;
    const replaced = call.uuid !== undefined && call.uuid === old && old !== outputs[name]?.uuid;
    logged.get(name)?.push(`${replaced ? "replaced: " : ""}${key}`);
    methods.get(name)?.push(call.call);
  }

  const vms: Record<string, VmRound> = {};
  for (const name of names) {
    const after = outputs[name];
    if (after === undefined) throw new Error(`round ${spec.label}: no outputs for VM ${name}`);
    const p = preview.get(name) ?? { plan: undefined, lines: [] };
    vms[name] = {
      name,
      preview: p,
      planned: (p.plan?.steps ?? []).map(
        (s) => `${s.vm === "replaced" ? "replaced: " : ""}${callKey(s.call, s.args)}`,
      ),
      logged: logged.get(name) ?? [],
      methods: methods.get(name) ?? [],
      before: previous?.outputs[name],
      after,
      record: stateAfter.vms.find((v) => v.record.uuid === after.uuid)?.record,
    };
  }
  return { spec, vms, unattributed, outputs };
}

/** Rounds run once each, in order, by the first test that needs them. */
class Rounds {
  readonly #results: Promise<RoundResult>[] = [];

  constructor(
    private readonly project: () => PulumiProject,
    private readonly specs: readonly RoundSpec[],
  ) {}

  get(label: string): Promise<RoundResult> {
    const index = this.specs.findIndex((s) => s.label === label);
    if (index < 0) throw new Error(`no round ${label}`);
    while (this.#results.length <= index) {
      const spec = this.specs[this.#results.length];
      const previous = this.#results.at(-1);
      if (spec === undefined) throw new Error("unreachable");
      this.#results.push(
        (previous ?? Promise.resolve(undefined)).then((prev) => runRound(this.project(), spec, prev)),
      );
    }
    const result = this.#results[index];
    if (result === undefined) throw new Error("unreachable");
    return result;
  }
}

/**
 * THE comparison: the VM's preview came from the pool and is complete; the calls logged during `up`
 * are the planned steps in order with their key arguments; `lastCalls` minus skipped entries is the
 * same list (when the VM was updated at all); and the round made no call no VM accounts for.
 */
function expectUpMatchesPreview(round: RoundResult, name: string): VmRound {
  const vm = round.vms[name];
  if (vm === undefined) throw new Error(`round ${round.spec.label} has no VM ${name}`);
  const where = `round "${round.spec.label}", VM ${name}`;
  const { plan, lines } = vm.preview;
  if (plan !== undefined) {
    expect(plan.source, `${where}: plan source`).toBe("pool");
    expect(lines.length, `${where}: one plannedCalls line per step, no note`).toBe(plan.steps.length);
    for (const line of lines) expect(line, where).toMatch(/^\d+\. (replaced VM [0-9a-f-]{36}: )?[A-Z]+\.\w+/);
    expect(json(plan), `${where}: a placeholder in the plan`).not.toMatch(/the new VM's uuid|planned then/);
  } else expect(lines, `${where}: plannedCalls without __xapiPlan`).toEqual([]);
  expect(vm.logged, `${where}: calls logged during up vs the preview's steps`).toEqual(vm.planned);
  expect(round.unattributed, `round "${round.spec.label}": calls of no VM`).toEqual([]);

  const own = (plan?.steps ?? []).filter((s) => s.vm !== "replaced");
  const recorded = vm.after.lastCalls.filter((c) => c.skipped === undefined);
  if (own.length > 0) {
    const shape = (c: { call: string; args?: Record<string, unknown>; from?: string; to?: string }) =>
      `${callKey(c.call, c.args ?? {})} ${c.from ?? ""} → ${c.to ?? ""}`;
    expect(recorded.map(shape), `${where}: lastCalls vs the preview's steps`).toEqual(own.map(shape));
  } else {
    // Nothing planned: no update ran, the recorded calls are the previous ones.
    expect(vm.after.lastCalls, `${where}: lastCalls changed without a plan`).toEqual(vm.before?.lastCalls);
  }
  return vm;
}

//////////////////////////////
////   the matrix         ////
//////////////////////////////

const STATES: readonly PowerState[] = ["Halted", "Running", "Paused", "Suspended"];
const TRANSITION_VMS = ["t0", "t1", "t2", "t3"] as const;

/** Where transition VM `i` is after `moves` rounds of the rotation (module comment). */
function transitionState(i: number, moves: readonly number[]): PowerState {
  const at = (i + moves.reduce((a, b) => a + b, 0)) % STATES.length;
  const state = STATES[at];
  if (state === undefined) throw new Error("unreachable");
  return state;
}

/** The exact calls XAPI needs for each pair under the default policy (clean calls only, no discard). */
const TRANSITION_CALLS: Readonly<Record<string, readonly string[]>> = {
  "Halted → Running": ["VM.start(start_paused: false, force: false)"],
  "Halted → Paused": ["VM.start(start_paused: true, force: false)"],
  "Halted → Suspended": ["VM.start(start_paused: false, force: false)", "VM.suspend"],
  "Running → Halted": ["VM.clean_shutdown"],
  "Running → Paused": ["VM.pause"],
  "Running → Suspended": ["VM.suspend"],
  // XAPI suspends and cleanly shuts down only a Running VM.
  "Paused → Halted": ["VM.unpause", "VM.clean_shutdown"],
  "Paused → Running": ["VM.unpause"],
  "Paused → Suspended": ["VM.unpause", "VM.suspend"],
  // Without allowDiscardSuspendedState, hard_shutdown (which drops the image) is not allowed.
  "Suspended → Halted": ["VM.resume(start_paused: false, force: false)", "VM.clean_shutdown"],
  "Suspended → Running": ["VM.resume(start_paused: false, force: false)"],
  "Suspended → Paused": ["VM.resume(start_paused: true, force: false)"],
};

const hvm = (order: string) => ({ bootParams: { order } });

/** The VMs of every round before the transitions' moves and the per-scenario changes. */
function baseVms(moves: readonly number[]): Record<string, VmDecl> {
  const vms: Record<string, VmDecl> = {
    hvm: {
      template: HVM_TEMPLATE,
      nameLabel: "pa-hvm",
      powerState: "Running",
      hvm: hvm("cd"),
      bootableDisks: ["0"],
    },
    pv: {
      template: PV_TEMPLATE,
      nameLabel: "pa-pv",
      powerState: "Running",
      pv: { bootloader: "pygrub" },
    },
    boot: {
      template: HVM_TEMPLATE,
      nameLabel: "pa-boot",
      powerState: "Running",
      hvm: hvm("cd"),
      policy: { bootChanges: "restart" },
    },
    adopt: { uuid: DB01, powerState: "Running" },
  };
  TRANSITION_VMS.forEach((name, i) => {
    vms[name] = {
      template: HVM_TEMPLATE,
      nameLabel: `pa-${name}`,
      powerState: transitionState(i, moves),
      hvm: hvm("cd"),
    };
  });
  return vms;
}

function withChanges(
  vms: Record<string, VmDecl>,
  changes: Readonly<Record<string, VmDecl>>,
): Record<string, VmDecl> {
  const out = { ...vms };
  for (const [name, change] of Object.entries(changes)) {
    const merged: Record<string, unknown> = { ...out[name], ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete merged[k];
    out[name] = merged;
  }
  return out;
}

const PV_AS_HVM = { pv: undefined, hvm: hvm("c") };
const R1 = { hvm: { restartTrigger: "r1" }, pv: PV_AS_HVM, boot: { hvm: hvm("dc") } };
const R2 = {
  hvm: { restartTrigger: "r1", bootableDisks: ["3"] },
  pv: { ...PV_AS_HVM, template: HVM_TEMPLATE },
  boot: { hvm: hvm("cdn"), policy: { bootChanges: "next-boot" } },
};
const R3 = { ...R2, boot: { hvm: hvm("cdn"), policy: { bootChanges: "restart" } } };

/** Suspends the `hvm` VM behind Pulumi's back. */
async function suspendOutOfBand(previous: RoundResult): Promise<void> {
  const uuid = previous.outputs.hvm?.uuid;
  if (uuid === undefined) throw new Error("no hvm VM");
  await control("setPowerState", { uuid, powerState: "Suspended" });
}

const ROUNDS: readonly RoundSpec[] = [
  { label: "create", vms: baseVms([0]) },
  { label: "step 1", vms: withChanges(baseVms([0, 1]), R1) },
  { label: "step 2", vms: withChanges(baseVms([0, 1, 2]), R2) },
  { label: "step 3", vms: withChanges(baseVms([0, 1, 2, 3]), R3) },
  { label: "drift", vms: withChanges(baseVms([0, 1, 2, 3]), R3), before: suspendOutOfBand },
  {
    label: "drift, --refresh",
    vms: withChanges(baseVms([0, 1, 2, 3]), R3),
    before: suspendOutOfBand,
    refresh: true,
  },
];

describe("preview vs up: one stack of VMs walked through rounds", TIMEOUT, () => {
  let project: PulumiProject | undefined;
  const rounds = new Rounds(() => {
    if (project === undefined) throw cliMissing ?? new Error("no stack");
    return project;
  }, ROUNDS);

  beforeAll(async () => {
    project = await newStack("xapi-matrix");
  }, 120_000);

  afterAll(async () => {
    await project?.dispose();
  });

  it("1a. create from the HVM template", async () => {
    const vm = expectUpMatchesPreview(await rounds.get("create"), "hvm");
    expect(vm.methods).toEqual([
      "VM.clone",
      "VM.add_to_other_config",
      "VM.provision",
      "VM.set_is_a_template",
      "VM.start",
      "VM.set_name_label",
    ]);
    expect([vm.record?.power_state, vm.record?.is_a_template]).toEqual(["Running", false]);
  });

  it("1b. create from the PV template with a pv block of a bootloader only: PV_args is not overwritten", async () => {
    const vm = expectUpMatchesPreview(await rounds.get("create"), "pv");
    expect(vm.methods).toEqual([
      "VM.clone",
      "VM.add_to_other_config",
      "VM.provision",
      "VM.set_is_a_template",
      "VM.start",
      "VM.set_name_label",
    ]);
    expect(vm.logged).toContain('VM.set_name_label(value: "pa-pv")');
    expect(vm.logged).toContain('VM.add_to_other_config(key: "pulumi-xapi:urn")');
    expect([vm.record?.PV_bootloader, vm.record?.PV_args, vm.record?.power_state]).toEqual([
      "pygrub",
      PV_TEMPLATE_ARGS,
      "Running",
    ]);
    expect(vm.after.effectiveBoot.pv?.args).toBe(PV_TEMPLATE_ARGS);
  });

  it("2. every power transition between Halted, Running, Paused and Suspended", async () => {
    const created = await rounds.get("create");
    TRANSITION_VMS.forEach((name, i) => {
      const vm = expectUpMatchesPreview(created, name);
      expect(vm.record?.power_state, name).toBe(STATES[i]);
    });
    const covered: string[] = [];
    for (const [label, moves] of [
      ["step 1", [0, 1]],
      ["step 2", [0, 1, 2]],
      ["step 3", [0, 1, 2, 3]],
    ] as const) {
      const round = await rounds.get(label);
      TRANSITION_VMS.forEach((name, i) => {
        const pair = `${transitionState(i, moves.slice(0, -1))} → ${transitionState(i, moves)}`;
        const vm = expectUpMatchesPreview(round, name);
        expect(vm.logged, `${label}, ${name}: ${pair}`).toEqual(TRANSITION_CALLS[pair]);
        expect(vm.record?.power_state, `${label}, ${name}`).toBe(transitionState(i, moves));
        covered.push(pair);
      });
    }
    expect(covered.sort()).toEqual(Object.keys(TRANSITION_CALLS).sort());
  });

  it("3. a boot change under restart; then under next-boot (setters and the note); then restart again (the reboot)", async () => {
    const restart = expectUpMatchesPreview(await rounds.get("step 1"), "boot");
    // The change is noted on the VM as pending before it is written, the note removed once the reboot applied it.
    expect(restart.logged).toEqual([
      'VM.add_to_other_config(key: "pulumi-xapi:pending-boot")',
      'VM.set_HVM_boot_params(value: {"order":"dc"})',
      "VM.clean_reboot",
      'VM.remove_from_other_config(key: "pulumi-xapi:pending-boot")',
    ]);
    const nextBoot = expectUpMatchesPreview(await rounds.get("step 2"), "boot");
    expect(nextBoot.logged).toEqual([
      'VM.add_to_other_config(key: "pulumi-xapi:pending-boot")',
      'VM.set_HVM_boot_params(value: {"order":"cdn"})',
    ]);
    expect(nextBoot.after.pendingBootChanges).toEqual(["hvm.bootParams.order"]);
    const due = expectUpMatchesPreview(await rounds.get("step 3"), "boot");
    expect(due.logged).toEqual([
      "VM.clean_reboot",
      'VM.remove_from_other_config(key: "pulumi-xapi:pending-boot")',
    ]);
    expect(due.after.pendingBootChanges).toEqual([]);
  });

  it("4. adoption of a Halted VM declared Running: the owner tag, then VM.start", async () => {
    const vm = expectUpMatchesPreview(await rounds.get("create"), "adopt");
    expect(vm.logged).toEqual([
      'VM.add_to_other_config(key: "pulumi-xapi:urn")',
      "VM.start(start_paused: false, force: false)",
    ]);
    expect(vm.record?.power_state).toBe("Running");
  });

  it("5. out-of-band suspend while Running is declared: the resume, without and with --refresh", async () => {
    for (const label of ["drift", "drift, --refresh"]) {
      const round = await rounds.get(label);
      const vm = expectUpMatchesPreview(round, "hvm");
      expect(vm.logged, label).toEqual(["VM.resume(start_paused: false, force: false)"]);
      expect(vm.record?.power_state, label).toBe("Running");
      for (const other of Object.keys(round.vms).filter((n) => n !== "hvm")) {
        expect(expectUpMatchesPreview(round, other).logged, `${label}: ${other}`).toEqual([]);
      }
    }
  });

  it("6. PV → HVM on a running VM", async () => {
    const vm = expectUpMatchesPreview(await rounds.get("step 1"), "pv");
    expect(vm.methods.filter((m) => /reboot|shutdown|start/.test(m))).toEqual(["VM.clean_reboot"]);
    expect(vm.methods.slice(-2)).toEqual(["VM.clean_reboot", "VM.remove_from_other_config"]);
    expect(vm.logged).toContain('VM.set_HVM_boot_policy(value: "BIOS order")');
    expect([vm.record?.domain_type, vm.record?.HVM_boot_policy, vm.record?.power_state]).toEqual([
      "hvm",
      "BIOS order",
      "Running",
    ]);
  });

  it("7. a restartTrigger change: exactly one reboot", async () => {
    const vm = expectUpMatchesPreview(await rounds.get("step 1"), "hvm");
    expect(vm.logged).toEqual(["VM.clean_reboot"]);
  });

  it("8. a bootableDisks change on a running VM", async () => {
    const vm = expectUpMatchesPreview(await rounds.get("step 2"), "hvm");
    expect(vm.logged).toEqual([
      'VM.add_to_other_config(key: "pulumi-xapi:pending-boot")',
      'VBD.set_bootable(userdevice: "0", value: false)',
      'VBD.set_bootable(userdevice: "3", value: true)',
      "VM.clean_reboot",
      'VM.remove_from_other_config(key: "pulumi-xapi:pending-boot")',
    ]);
  });

  it("9. a replacement (template changed): the new VM's calls, then the replaced VM's", async () => {
    const round = await rounds.get("step 2");
    const vm = expectUpMatchesPreview(round, "pv");
    const old = vm.before?.uuid;
    expect(old).toBeDefined();
    expect(vm.after.uuid).not.toBe(old);
    const firstReplaced = vm.planned.findIndex((l) => l.startsWith("replaced: "));
    expect(vm.planned.slice(0, firstReplaced).every((l) => !l.startsWith("replaced: "))).toBe(true);
    expect(vm.planned.slice(firstReplaced)).toEqual([
      "replaced: VM.clean_shutdown",
      "replaced: VM.destroy",
      'replaced: VDI.destroy(userdevice: "0")',
    ]);
    expect(vm.logged[0]).toMatch(/^VM\.clone\(new_name: "pulumi-xapi:creating:[0-9a-f]{16}"\)$/);
    const replacedLines = vm.preview.lines.filter((l) => l.includes(`replaced VM ${old}: `));
    expect(replacedLines).toHaveLength(3);
    const vms = await control<{ uuid: string }[]>("vms");
    expect(vms.map((v) => v.uuid)).not.toContain(old);
  });

  it("every round: each VM's logged calls are its preview's (including the VMs with nothing to do)", async () => {
    for (const spec of ROUNDS) {
      const round = await rounds.get(spec.label);
      for (const name of Object.keys(round.vms)) expectUpMatchesPreview(round, name);
    }
  });
});

describe("previews that cannot plan from the pool, or must fail", TIMEOUT, () => {
  let project: PulumiProject;
  const good = { vm: { template: HVM_TEMPLATE, nameLabel: "pa-offline", powerState: "Running" } };

  beforeAll(async () => {
    project = await newStack("xapi-matrix-errors");
  }, 120_000);

  afterAll(async () => {
    await project?.dispose();
  });

  /** `pulumi preview` and `pulumi up --yes` both fail, both saying `sentence`; nothing was changed. */
  async function expectBothFail(sentence: string): Promise<void> {
    const since = await lastSeq(sim);
    const preview: PulumiResult = await project.pulumi(["preview"]);
    const up: PulumiResult = await project.pulumi(["up", "--yes"]);
    for (const run of [preview, up]) {
      expect(run.code, run.command).not.toBe(0);
      expect(run.stdout + run.stderr, run.command).toContain(sentence);
    }
    expect(await stateChangingSince(sim, since)).toEqual([]);
  }

  it("10. the pool unreachable: the preview completes, planned from the recorded inputs", async () => {
    await project.setConfig("xapi:url", `http://127.0.0.1:${await closedPort()}`);
    await project.setConfig("e2e:vms", JSON.stringify(good));
    try {
      const preview = await project.pulumiOk(["preview", "--json"]);
      const vm = previewOf(preview.stdout).get("vm");
      expect(vm?.lines[0]).toMatch(/^\(planned from the recorded inputs, not from the pool: /);
      expect(vm?.plan?.source).toBe("recorded-inputs");
    } finally {
      await project.setConfig("xapi:url", sim.url);
    }
  });

  it("11a. an unknown template: preview and up fail with the same message", async () => {
    await project.setConfig(
      "e2e:vms",
      JSON.stringify({ vm: { ...good.vm, template: "pa-no-such-template" } }),
    );
    await expectBothFail(
      'Template "pa-no-such-template" not found: expected a VM template with this name_label, found none.',
    );
  });

  it("11b. a uuid that does not exist: preview and up fail with the same message", async () => {
    const uuid = "5a1f0000-0000-4000-8000-00000000dead";
    await project.setConfig("e2e:vms", JSON.stringify({ vm: { uuid, powerState: "Running" } }));
    await expectBothFail(`VM ${uuid} not found: expected an existing VM, XAPI answered UUID_INVALID.`);
  });

  it("11c. a wrong password: preview and up fail with the same message", async () => {
    await project.setConfig("e2e:vms", JSON.stringify(good));
    await project.setConfig("xapi:password", "pa-wrong-password", { secret: true });
    try {
      await expectBothFail(
        `Logging in to ${sim.url} as "root" failed: expected XAPI to accept the password, received SESSION_AUTHENTICATION_FAILED.`,
      );
    } finally {
      await project.setConfig("xapi:password", PASSWORD, { secret: true });
    }
  });
});
