/**
 * The three bookkeeping reproductions of the kill-safety issue, through the real Pulumi CLI against
 * xapi-sim (README "What happens if a run is killed"), each written as the issue tells it:
 *
 * (a) a Running HVM VM declared `Paused` with a new boot order: `up` sends `VM.set_HVM_boot_params`,
 *     `VM.clean_reboot`, `VM.pause`; the reboot applied the change, so `pendingBootChanges` is [] and the
 *     next plain `up` makes no call (its preview shows nothing to do);
 * (b) a boot change whose restart fails (`INTERNAL_ERROR` injected once on `VM.clean_reboot`): `up` fails,
 *     the next preview names `VM.clean_reboot`, the next `up` makes it, and then nothing is pending;
 * (c) two stacks adopting the same VM with different declared states: the second stack's preview and
 *     `up` fail naming the first stack's resource; with `takeOver: true` the second proceeds, and the
 *     first stack's next preview fails saying it lost the VM.
 *
 * Without a Pulumi CLI these tests fail (run `bash scripts/pulumi-cli.sh` once per machine).
 */

import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningSimulator } from "../../simulator";
import type { SimSnapshot } from "../../simulator/model/snapshot";
import { PulumiProject, type PulumiResult } from "./harness";
import { startRig } from "./rig";
import { lastSeq, simControl, writesSince } from "./sim-log";

const PASSWORD = "book-e2e-Pw-7c30d9";
const PROGRAM = path.join(__dirname, "program-vms", "index.ts");
const HVM = "Other install media";
const VM_TYPE = "pulumi-nodejs:dynamic/xapi:Vm";
const URN_KEY = "pulumi-xapi:urn";
const PENDING_KEY = "pulumi-xapi:pending-boot";
/** Fixture VM db-01: Halted, HVM, PV drivers. */
const DB01 = "5a1f0000-0000-4000-8000-0000000000e2";
/** A few CLI commands of a few seconds each. */
const TIMEOUT = { timeout: 180_000 };

/** The outputs program-vms exports per VM. */
interface VmOutputs {
  uuid: string;
  observedPowerState: string;
  pendingBootChanges: string[];
  adopted: boolean;
}

let binDir: string | undefined;
let cliMissing: unknown;
let sim: RunningSimulator;
const projects: PulumiProject[] = [];

beforeAll(async () => {
  ({ binDir, cliMissing, sim } = await startRig(PASSWORD));
});

afterAll(async () => {
  await Promise.all(projects.map((p) => p.dispose()));
  await sim?.close();
});

async function control<T>(op: string, body: Record<string, unknown> = {}): Promise<T> {
  return simControl<T>(sim, op, body);
}

/** The VM's record in the simulator. */
async function recordOf(uuid: string): Promise<SimSnapshot["vms"][number]["record"]> {
  const state = await control<SimSnapshot>("state");
  const vm = state.vms.find((v) => v.record.uuid === uuid);
  if (vm === undefined) throw new Error(`no VM ${uuid} in the simulator`);
  return vm.record;
}

/** A project + stack on program-vms, configured for the simulator, declaring `vms`. */
async function newStack(name: string, vms: Record<string, unknown>): Promise<PulumiProject> {
  if (binDir === undefined) throw cliMissing;
  const project = await PulumiProject.create({ program: PROGRAM, binDir, name });
  projects.push(project);
  await project.initStack();
  await project.setConfig("xapi:url", sim.url);
  await project.setConfig("xapi:username", "root");
  await project.setConfig("xapi:password", PASSWORD, { secret: true });
  await project.setConfig("e2e:vms", JSON.stringify(vms));
  return project;
}

async function outputsOf(project: PulumiProject): Promise<Record<string, VmOutputs>> {
  const out = JSON.parse((await project.pulumiOk(["stack", "output", "--json"])).stdout) as {
    vms: Record<string, VmOutputs>;
  };
  return out.vms;
}

/** What `pulumi preview --json` says: each step's op, and the planned calls of every step, in order. */
interface Preview {
  ops: string[];
  planned: string[];
}

async function previewOf(project: PulumiProject): Promise<Preview> {
  const json = JSON.parse((await project.pulumiOk(["preview", "--json"])).stdout) as {
    steps?: { op: string; newState?: { inputs?: { plannedCalls?: string[] } } }[];
  };
  const steps = json.steps ?? [];
  return {
    ops: steps.map((s) => s.op),
    // "2. VM.clean_reboot (Running → Running): …" → "VM.clean_reboot"
    planned: steps.flatMap((s) =>
      (s.newState?.inputs?.plannedCalls ?? []).map(
        (line) => /^\s*\d+\.\s+([A-Za-z]+\.\w+)/.exec(line)?.[1] ?? line,
      ),
    ),
  };
}

/** The resource URN of VM `name` in `project`'s stack. */
function urnOf(project: PulumiProject, name: string, projectName: string): string {
  return `urn:pulumi:${project.stack}::${projectName}::${VM_TYPE}::${name}`;
}

function output(r: PulumiResult): string {
  return r.stdout + r.stderr;
}

describe("(a) a boot change applied by the reboot on the way to Paused is not pending", TIMEOUT, () => {
  let project: PulumiProject;
  const vm = (order: string, powerState: string) => ({
    hvm: { template: HVM, powerState, hvm: { bootParams: { order } } },
  });

  beforeAll(async () => {
    await control("reset");
    project = await newStack("book-paused", vm("cd", "Running"));
    await project.pulumiOk(["up", "--yes"]);
  }, 120_000);

  it("up notes the change, sends VM.set_HVM_boot_params, VM.clean_reboot, VM.pause, removes the note; pendingBootChanges is []", async () => {
    await project.setConfig("e2e:vms", JSON.stringify(vm("dc", "Paused")));
    const since = await lastSeq(sim);
    await project.pulumiOk(["up", "--yes"]);
    const { hvm } = await outputsOf(project);
    expect({
      writes: await writesSince(sim, since),
      observed: hvm?.observedPowerState,
      pending: hvm?.pendingBootChanges,
      marker: (await recordOf(hvm?.uuid ?? "")).other_config[PENDING_KEY],
    }).toEqual({
      writes: [
        "VM.add_to_other_config",
        "VM.set_HVM_boot_params",
        "VM.clean_reboot",
        "VM.pause",
        "VM.remove_from_other_config",
      ],
      observed: "Paused",
      pending: [],
      marker: undefined,
    });
  });

  it("the next preview shows nothing to do, and the next plain up makes no call", async () => {
    const preview = await previewOf(project);
    const since = await lastSeq(sim);
    await project.pulumiOk(["up", "--yes"]);
    expect({
      ops: [...new Set(preview.ops)],
      planned: preview.planned,
      writes: await writesSince(sim, since),
      pending: (await outputsOf(project)).hvm?.pendingBootChanges,
    }).toEqual({ ops: ["same"], planned: [], writes: [], pending: [] });
  });
});

describe("(b) a boot change whose restart fails stays pending until a run restarts", TIMEOUT, () => {
  let project: PulumiProject;
  let uuid: string;
  const vm = (order: string) => ({
    hvm: { template: HVM, powerState: "Running", hvm: { bootParams: { order } } },
  });

  beforeAll(async () => {
    await control("reset");
    project = await newStack("book-restart", vm("cd"));
    await project.pulumiOk(["up", "--yes"]);
    uuid = (await outputsOf(project)).hvm?.uuid ?? "";
  }, 120_000);

  it("with VM.clean_reboot failing once (INTERNAL_ERROR), up fails after the setter", async () => {
    await project.setConfig("e2e:vms", JSON.stringify(vm("dc")));
    await control("faults", {
      method: "VM.clean_reboot",
      code: "INTERNAL_ERROR",
      params: ["injected"],
      count: 1,
    });
    const since = await lastSeq(sim);
    const up = await project.pulumi(["up", "--yes"]);
    expect({ failed: up.code !== 0, said: output(up).includes("INTERNAL_ERROR") }, output(up)).toEqual({
      failed: true,
      said: true,
    });
    // The change is noted on the VM as pending before it is written: the failed reboot cannot lose it.
    expect((await writesSince(sim, since)).slice(0, 2)).toEqual([
      "VM.add_to_other_config",
      "VM.set_HVM_boot_params",
    ]);
  });

  it("the next preview names VM.clean_reboot, and the next up makes it", async () => {
    const preview = await previewOf(project);
    const since = await lastSeq(sim);
    await project.pulumiOk(["up", "--yes"]);
    const writes = await writesSince(sim, since);
    expect({
      planned: preview.planned.filter((m) => m.startsWith("VM.clean")),
      rebooted: writes.includes("VM.clean_reboot"),
    }).toEqual({
      planned: ["VM.clean_reboot"],
      rebooted: true,
    });
  });

  it("then nothing is pending: the outputs, the VM and its domain agree, and the next up makes no call", async () => {
    const boot = await control<{ pendingBootChange: boolean | null }>("bootRecord", { uuid });
    const since = await lastSeq(sim);
    await project.pulumiOk(["up", "--yes"]);
    expect({
      outputs: (await outputsOf(project)).hvm?.pendingBootChanges,
      marker: (await recordOf(uuid)).other_config[PENDING_KEY],
      domainStale: boot.pendingBootChange,
      writes: await writesSince(sim, since),
    }).toEqual({ outputs: [], marker: undefined, domainStale: false, writes: [] });
  });
});

describe("(c) two stacks adopting the same VM: one owner", TIMEOUT, () => {
  let first: PulumiProject;
  let second: PulumiProject;
  const adopt = (powerState: string, extra: Record<string, unknown> = {}) => ({
    db: { uuid: DB01, powerState, ...extra },
  });

  beforeAll(async () => {
    await control("reset");
    first = await newStack("book-owner-a", adopt("Halted"));
    second = await newStack("book-owner-b", adopt("Running"));
    await first.pulumiOk(["up", "--yes"]);
  }, 120_000);

  it("the second stack's preview and up fail naming the first stack's resource, and change nothing", async () => {
    const owner = urnOf(first, "db", "book-owner-a");
    const since = await lastSeq(sim);
    const preview = await second.pulumi(["preview"]);
    const up = await second.pulumi(["up", "--yes"]);
    const record = await recordOf(DB01);
    expect({
      preview: [preview.code === 0, output(preview).includes(owner)],
      up: [up.code === 0, output(up).includes(owner)],
      writes: await writesSince(sim, since),
      owner: record.other_config[URN_KEY],
      power: record.power_state,
    }).toEqual({
      preview: [false, true],
      up: [false, true],
      writes: [],
      owner,
      power: "Halted",
    });
  });

  it("with takeOver: true the second stack proceeds; the first stack's next preview fails saying it lost the VM", async () => {
    await second.setConfig("e2e:vms", JSON.stringify(adopt("Running", { takeOver: true })));
    await second.pulumiOk(["up", "--yes"]);
    const preview = await first.pulumi(["preview"]);
    const record = await recordOf(DB01);
    expect({
      owner: record.other_config[URN_KEY],
      power: record.power_state,
      firstPreview: preview.code === 0,
      lost: output(preview).includes(`VM ${DB01} is no longer this resource's`),
      namesNewOwner: output(preview).includes(urnOf(second, "db", "book-owner-b")),
    }).toEqual({
      owner: urnOf(second, "db", "book-owner-b"),
      power: "Running",
      firstPreview: false,
      lost: true,
      namesNewOwner: true,
    });
  });
});
