/**
 * End to end: the real Pulumi CLI (scripts/pulumi-cli.sh) runs the `Vm` dynamic resource against xapi-sim,
 * on a local file backend with a passphrase secrets provider.
 *
 * Without a CLI these tests FAIL (they never skip): run `bash scripts/pulumi-cli.sh` once per machine
 * (CI does it before `npm test`).
 *
 * The lifecycle tests share one stack and run in order: each starts from the state the previous one left.
 */

import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningSimulator } from "../../simulator";
import { PulumiProject, REPO_ROOT } from "./harness";
import { startRig } from "./rig";
import { lastSeq, simControl, writesSince } from "./sim-log";

/** A password no fixture, path or program text contains, so finding it anywhere means a leak. */
const PASSWORD = "e2e-Pw-5d8c1f0b";
const QUICKSTART = path.join(REPO_ROOT, "examples", "quickstart");
// The file, not the directory: the directory has no package.json, and the repository's "main" is the library.
const PROGRAM = path.join(__dirname, "program", "index.ts");
const PV_PROGRAM = path.join(__dirname, "program-pv", "index.ts");
/** Each test runs a few CLI commands of a few seconds each. */
const TIMEOUT = { timeout: 240_000 };

/** A VM as listed by control op `vms`. */
interface SimVm {
  uuid: string;
  name_label: string;
  power_state: string;
  is_a_template: boolean;
}

let binDir: string | undefined;
let cliMissing: unknown;
let sim: RunningSimulator;

beforeAll(async () => {
  // A missing CLI is reported by the first test; the stacks' setup rethrows it, so nothing below passes without one.
  ({ binDir, cliMissing, sim } = await startRig(PASSWORD));
});

it("finds the Pulumi CLI (if not: run `bash scripts/pulumi-cli.sh`)", () => {
  if (cliMissing !== undefined) throw cliMissing;
  expect(binDir).toMatch(/\S/);
});

afterAll(async () => {
  await sim?.close();
});

async function control<T>(op: string, body: Record<string, unknown> = {}): Promise<T> {
  return simControl<T>(sim, op, body);
}

/** The VM calls that change something (no getters), in order, made after `since`. */
async function vmMutationsSince(since: number): Promise<string[]> {
  return (await writesSince(sim, since)).filter((m) => m.startsWith("VM."));
}

/** Creates a project on `program` with a stack configured for the simulator. */
async function newStack(program: string, name: string): Promise<PulumiProject> {
  if (binDir === undefined) throw cliMissing;
  const project = await PulumiProject.create({ program, binDir, name });
  await project.initStack();
  await project.setConfig("xapi:url", sim.url);
  await project.setConfig("xapi:username", "root");
  await project.setConfig("xapi:password", PASSWORD, { secret: true });
  return project;
}

/** The `plannedCalls` lines of every step of `pulumi preview --json`. */
function plannedCallsOf(previewJson: string): string[] {
  const preview = JSON.parse(previewJson) as {
    steps?: { newState?: { inputs?: { plannedCalls?: string[] } } }[];
  };
  return (preview.steps ?? []).flatMap((s) => s.newState?.inputs?.plannedCalls ?? []);
}

/** XAPI method names of planned lines such as "2. VM.clean_reboot(force: false) (Running → Running): …". */
function plannedMethods(lines: readonly string[]): string[] {
  return lines.flatMap((line) => {
    const m = /^\s*\d+\.\s+([A-Za-z]+\.[A-Za-z_]+)/.exec(line);
    return m?.[1] !== undefined ? [m[1]] : [];
  });
}

async function vmsNamed(name: string): Promise<SimVm[]> {
  const vms = await control<SimVm[]>("vms");
  return vms.filter((v) => !v.is_a_template && v.name_label === name);
}

describe("quickstart (the root program)", TIMEOUT, () => {
  let project: PulumiProject;

  beforeAll(async () => {
    project = await newStack(QUICKSTART, "pulumi-xapi-demo");
  }, 120_000);

  afterAll(async () => {
    await project?.pulumi(["destroy", "--yes"]);
    await project?.dispose();
  });

  it("pulumi preview --diff lists the planned calls in order", async () => {
    const planned = plannedCallsOf((await project.pulumiOk(["preview", "--json"])).stdout);
    const diff = (await project.pulumiOk(["preview", "--diff"])).stdout;
    const positions = planned.map((line) => diff.indexOf(JSON.stringify(line).slice(1, -1)));
    expect(plannedMethods(planned)).toContain("VM.start");
    expect(positions.every((p, i) => p >= 0 && (i === 0 || p > (positions[i - 1] ?? -1)))).toBe(true);
  });
});

describe("one VM through its lifecycle", TIMEOUT, () => {
  let project: PulumiProject;
  let uuid: string;

  beforeAll(async () => {
    project = await newStack(PROGRAM, "xapi-e2e");
  }, 120_000);

  afterAll(async () => {
    await project?.dispose();
  });

  it("pulumi up creates the VM, Running", async () => {
    await project.pulumiOk(["up", "--yes"]);
    const outputs = JSON.parse((await project.pulumiOk(["stack", "output", "--json"])).stdout) as {
      uuid: string;
    };
    uuid = outputs.uuid;
    expect(await vmsNamed("e2e-vm")).toEqual([expect.objectContaining({ uuid, power_state: "Running" })]);
  });

  it("a new HVM boot order on the running VM: preview shows the reboot, up makes exactly the planned calls", async () => {
    await project.setConfig("e2e:bootOrder", "dc");
    const planned = plannedMethods(plannedCallsOf((await project.pulumiOk(["preview", "--json"])).stdout));
    expect(planned.some((m) => /^VM\.(clean|hard)_reboot$/.test(m))).toBe(true);
    const since = await lastSeq(sim);
    await project.pulumiOk(["up", "--yes"]);
    expect(await vmMutationsSince(since)).toEqual(planned);
  });

  it("a new powerState: preview plans the transition, up makes exactly the planned calls", async () => {
    await project.setConfig("e2e:powerState", "Halted");
    const planned = plannedMethods(plannedCallsOf((await project.pulumiOk(["preview", "--json"])).stdout));
    const since = await lastSeq(sim);
    await project.pulumiOk(["up", "--yes"]);
    expect([planned.length > 0, await vmMutationsSince(since)]).toEqual([true, planned]);
    expect((await vmsNamed("e2e-vm")).map((v) => v.power_state)).toEqual(["Halted"]);
  });

  it("an out-of-band change: pulumi refresh shows it, the next preview plans the way back", async () => {
    await control("setPowerState", { uuid, powerState: "Running" });
    const refresh = await project.pulumiOk(["refresh", "--yes", "--diff"]);
    // The observed power state changes inside `observed`, one JSON text the CLI diffs field by field.
    expect(refresh.stdout).toMatch(/~ observed\s*: \(json\) \{/);
    expect(refresh.stdout).toMatch(/~ powerState[^\n]*"Halted"[^\n]*=>[^\n]*"Running"/);
    const planned = plannedMethods(plannedCallsOf((await project.pulumiOk(["preview", "--json"])).stdout));
    expect(planned.some((m) => /^VM\.(clean|hard)_shutdown$/.test(m))).toBe(true);
  });

  it("a bad input: pulumi preview fails and names the property", async () => {
    await project.setConfig("e2e:powerState", "Sleeping");
    const preview = await project.pulumi(["preview"]);
    await project.setConfig("e2e:powerState", "Halted");
    expect(preview.code).not.toBe(0);
    expect(preview.stdout + preview.stderr).toMatch(/powerState/);
  });

  it("pulumi stack export holds no password", async () => {
    await project.pulumiOk(["up", "--yes"]);
    const exported = await project.pulumiOk(["stack", "export"]);
    expect(exported.stdout).toContain(uuid);
    expect(exported.stdout).not.toContain(PASSWORD);
  });

  it("with --show-secrets, only the engine's copy of the stack config holds the password, no Vm property", async () => {
    const exported = await project.pulumiOk(["stack", "export", "--show-secrets"]);
    const { deployment } = JSON.parse(exported.stdout) as {
      deployment: { resources: { type: string }[] };
    };
    const holders = deployment.resources
      .filter((r) => JSON.stringify(r).includes(PASSWORD))
      .map((r) => r.type);
    // The engine records the whole stack config as the default dynamic provider's inputs (as a secret).
    expect(holders).toEqual(["pulumi:providers:pulumi-nodejs"]);
  });

  it("pulumi destroy leaves no VM of the stack and no open session", async () => {
    await project.pulumiOk(["destroy", "--yes"]);
    const counters = await control<{ liveSessions: number }>("counters");
    expect([await vmsNamed("e2e-vm"), counters.liveSessions]).toEqual([[], 0]);
  });
});

describe("a PV VM with a bootloader and no bootable disk", TIMEOUT, () => {
  let project: PulumiProject;

  beforeAll(async () => {
    project = await newStack(PV_PROGRAM, "xapi-e2e-pv");
    await project.setConfig("e2e:nameLabel", "e2e-diskless");
    await project.setConfig("e2e:bootableDisks", "[]");
  }, 120_000);

  afterAll(async () => {
    await project?.pulumi(["destroy", "--yes"]);
    await project?.dispose();
  });

  it("pulumi up fails naming the VM and saying no disk is bootable", async () => {
    const up = await project.pulumi(["up", "--yes"]);
    const text = up.stdout + up.stderr;
    expect(up.code).not.toBe(0);
    expect(text).toMatch(
      /VM "e2e-diskless" \([0-9a-f-]{36}\) was created but could not be brought to its declared state/,
    );
    expect(text).toContain("there is no bootable device");
    expect(text).toContain("No disk of this VM is bootable");
  });

  it("the state records the VM as it is (Halted, not lost)", async () => {
    const exported = JSON.parse((await project.pulumiOk(["stack", "export"])).stdout) as {
      deployment: {
        resources: { type: string; id?: string; outputs?: { observed?: string } }[];
      };
    };
    const recorded = exported.deployment.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/xapi:Vm");
    const [live] = await vmsNamed("e2e-diskless");
    const observed = (text = "{}") => JSON.parse(text) as { powerState?: string };
    expect([
      recorded.map((r) => [r.id, observed(r.outputs?.observed).powerState]),
      live?.power_state,
    ]).toEqual([[[live?.uuid, "Halted"]], "Halted"]);
  });

  it("declaring a bootable disk lets the next pulumi up boot the recorded VM", async () => {
    const [before] = await vmsNamed("e2e-diskless");
    await project.setConfig("e2e:bootableDisks", '["0"]');
    await project.pulumiOk(["up", "--yes"]);
    expect(await vmsNamed("e2e-diskless")).toEqual([
      expect.objectContaining({ uuid: before?.uuid, power_state: "Running" }),
    ]);
  });
});
