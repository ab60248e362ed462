/**
 * A stack written by an earlier release upgrades in place, with the real Pulumi CLI against xapi-sim.
 *
 * Two fixtures, each made by test/e2e/upgrade/make-fixture.js with the code that wrote it: `stack.json` is
 * `pulumi stack export` after two `up`s of five VMs (created Running, Suspended and Halted from templates,
 * one with a pending next-boot change, one adopted), `pool.json` the simulator's state at that moment.
 * - test/fixtures/upgrade-0.1.0, by release 0.1.0: every output at the top level (`observedPowerState`,
 *   `__xapiUrn`, …) and a 4 KB serialized provider in both inputs and outputs.
 * - test/fixtures/upgrade-0.2-objects, by commit ecf8d54 (see its SOURCE.md): 0.2's object form, `__xapi`
 *   and `observed` objects (`observed.lastCalls` a JSON text of its own) and a one-line provider.
 * This release stores `observed` and `__xapi` as one JSON text each.
 *
 * For each fixture, the tests import the old state into a fresh project and pool, then run what a user
 * would after upgrading the package: refresh, preview, up with a change, destroy — or destroy straight
 * away.
 */
import { copyFile, readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../../simulator";
import type { SimSnapshot } from "../../simulator/model/snapshot";
import { locatePulumiCli, PulumiProject } from "./harness";
import fixtureDeclarations from "./upgrade/declared.json";

const FIXTURES_DIR = path.join(__dirname, "..", "fixtures");
const PROGRAM = path.join(__dirname, "upgrade", "program.js");
/** The password make-fixture.js gave the pool. */
const PASSWORD = "upgrade-Pw-41d2";
/** The fixture's adopted VM (the simulator's db-01). */
const ADOPTED = "5a1f0000-0000-4000-8000-0000000000e2";
const URN_KEY = "pulumi-xapi:urn";
/** The declaration of the fixtures' second `up` (what the earlier code applied last). */
const DECLARED = fixtureDeclarations.second;

interface StoredResource {
  urn: string;
  type: string;
  id?: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

/** A fixture of an earlier form, and what it holds before the upgrade (checked on the imported stack). */
interface Fixture {
  /** What wrote it, for the test names. */
  writer: string;
  /** Its directory under test/fixtures. */
  dir: string;
  /** The name of the writer's stored form, for the test name of {@link Fixture.checkBefore}. */
  form: string;
  /** How that form stores a VM, for the same test name. */
  shape: string;
  /** Asserts that the imported stack is in {@link Fixture.form}. */
  checkBefore(old: Map<string, StoredResource>): void;
}

/** Release 0.1.0's stack. */
const RELEASE_0_1: Fixture = {
  writer: "0.1.0",
  dir: "upgrade-0.1.0",
  form: "the 0.1.0 form",
  shape: "flat outputs and the 4 KB provider",
  checkBefore(old) {
    expect(old.size).toBe(5);
    const web = old.get("web");
    expect(web?.outputs.observedPowerState).toBe("Running");
    expect(web?.outputs.observed).toBeUndefined();
    expect(String(web?.outputs.__provider).length).toBeGreaterThan(3000);
  },
};

/** 0.2's object form, as commit ecf8d54 wrote it. */
const OBJECTS_0_2: Fixture = {
  writer: "commit ecf8d54",
  dir: "upgrade-0.2-objects",
  form: "0.2's object form",
  shape: "observed and __xapi objects, lastCalls a text inside, the provider as one require",
  checkBefore(old) {
    expect(old.size).toBe(5);
    const web = old.get("web")?.outputs ?? {};
    expect(web.observedPowerState).toBeUndefined();
    expect(web.observed).toMatchObject({ powerState: "Running", domid: 7 });
    expect(typeof (web.observed as { lastCalls?: unknown }).lastCalls).toBe("string");
    expect(web.__xapi).toEqual({ urn: "urn:pulumi:old::xapi-upgrade::pulumi-nodejs:dynamic/xapi:Vm::web" });
    expect(old.get("later")?.outputs.observed).toMatchObject({
      pendingBootChanges: ["hvm.bootParams.order"],
    });
    expect(String(web.__provider)).toContain('require("pulumi-xapi/dist/provider/resource/impl.js")');
    expect(String(web.__provider).length).toBeLessThan(400);
  },
};

const FIXTURES = [RELEASE_0_1, OBJECTS_0_2];

let binDir: string | undefined;
let cliMissing: unknown;
const sims: RunningSimulator[] = [];
const projects: PulumiProject[] = [];

beforeAll(async () => {
  try {
    binDir = await locatePulumiCli();
  } catch (error) {
    cliMissing = error;
  }
});

afterAll(async () => {
  await Promise.all(projects.map((p) => p.dispose()));
  await Promise.all(sims.map((s) => s.close()));
});

/** A project holding a fixture's stack (`old`, as the URNs say) on a fresh copy of its pool. */
async function upgradedStack(fixture: Fixture): Promise<{ project: PulumiProject; sim: RunningSimulator }> {
  if (binDir === undefined) throw cliMissing;
  const project = await PulumiProject.create({
    program: PROGRAM,
    binDir,
    name: "xapi-upgrade",
    stack: "old",
  });
  projects.push(project);
  const stateFile = path.join(project.root, "pool.json");
  await copyFile(path.join(FIXTURES_DIR, fixture.dir, "pool.json"), stateFile);
  const sim = await startSimulator({ port: 0, member: false, stateFile, users: { root: PASSWORD } });
  sims.push(sim);
  await project.initStack();
  // The state keeps the provider's configuration (refresh and destroy run with it): same pool, new address.
  const exported = await readFile(path.join(FIXTURES_DIR, fixture.dir, "stack.json"), "utf8");
  const imported = path.join(project.root, "stack.json");
  await writeFile(imported, exported.replaceAll(/http:\/\/127\.0\.0\.1:\d+/g, sim.url));
  await project.pulumiOk(["stack", "import", "--file", imported]);
  await project.setConfig("xapi:url", sim.url);
  await project.setConfig("xapi:username", "root");
  await project.setConfig("xapi:password", PASSWORD, { secret: true });
  await project.setConfig("e2e:vms", JSON.stringify(DECLARED));
  return { project, sim };
}

async function vmResources(project: PulumiProject): Promise<Map<string, StoredResource>> {
  const exported = JSON.parse((await project.pulumiOk(["stack", "export"])).stdout) as {
    deployment: { resources: StoredResource[] };
  };
  const vms = exported.deployment.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/xapi:Vm");
  return new Map(vms.map((r) => [r.urn.slice(r.urn.lastIndexOf("::") + 2), r]));
}

async function vmsOf(sim: RunningSimulator): Promise<SimSnapshot["vms"]> {
  const state = sim.model.control.state;
  if (state === undefined) throw new Error("xapi-sim has no control op state");
  return ((await state({})) as SimSnapshot).vms;
}

async function recordOf(sim: RunningSimulator, uuid: string): Promise<SimSnapshot["vms"][number]["record"]> {
  const vm = (await vmsOf(sim)).find((v) => v.record.uuid === uuid);
  if (vm === undefined) throw new Error(`no VM ${uuid} in the simulator`);
  return vm.record;
}

for (const fixture of FIXTURES) {
  describe(`a stack written by ${fixture.writer}`, () => {
    let stack: { project: PulumiProject; sim: RunningSimulator };
    let old: Map<string, StoredResource>;

    beforeAll(async () => {
      stack = await upgradedStack(fixture);
      old = await vmResources(stack.project);
    });

    it(`is ${fixture.form} before the upgrade: ${fixture.shape}`, () => {
      fixture.checkBefore(old);
    });

    it("refreshes into the stored form: observed and __xapi JSON texts, each VM read back", async () => {
      await stack.project.pulumiOk(["refresh", "--yes"]);
      const now = await vmResources(stack.project);
      const expected = {
        web: "Running",
        later: "Running",
        sleepy: "Suspended",
        guest: "Halted",
        adopted: "Running",
      };
      for (const [name, power] of Object.entries(expected)) {
        const outputs = now.get(name)?.outputs ?? {};
        expect(typeof outputs.observed, name).toBe("string");
        expect(parsed(outputs.observed), name).toMatchObject({ powerState: power });
        expect(typeof outputs.__xapi, name).toBe("string");
        expect(parsed(outputs.__xapi), name).toMatchObject({
          urn: `urn:pulumi:old::xapi-upgrade::pulumi-nodejs:dynamic/xapi:Vm::${name}`,
        });
        expect(outputs.observedPowerState, name).toBeUndefined();
        expect(now.get(name)?.id, name).toBe(old.get(name)?.id);
      }
      expect(parsed(now.get("later")?.outputs.observed)).toMatchObject({
        pendingBootChanges: ["hvm.bootParams.order"],
      });
      expect(parsed(now.get("adopted")?.outputs.observed)).toMatchObject({ adopted: true });
      // The calls of web's create, kept from the old state: now tuples inside the one text.
      const webCalls = parsed(now.get("web")?.outputs.observed).lastCalls as unknown[][];
      expect(webCalls.map((tuple) => tuple[0])).toEqual([
        "VM.clone",
        "VM.add_to_other_config",
        "VM.provision",
        "VM.set_is_a_template",
        "VM.start",
        "VM.set_name_label",
      ]);
    });

    it("previews no change when the declaration is the one last applied", async () => {
      const preview = JSON.parse((await stack.project.pulumiOk(["preview", "--json"])).stdout) as {
        steps?: { op: string; urn: string }[];
      };
      const changed = (preview.steps ?? []).filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn}`);
      expect(changed).toEqual([]);
    });

    it("updates in place: a power change and the pending boot change made due", async () => {
      const web = String(old.get("web")?.id);
      const later = String(old.get("later")?.id);
      await stack.project.setConfig(
        "e2e:vms",
        JSON.stringify({
          ...DECLARED,
          web: { ...DECLARED.web, powerState: "Halted" },
          later: { ...DECLARED.later, policy: { bootChanges: "restart" } },
        }),
      );
      await stack.project.pulumiOk(["up", "--yes", "--skip-preview"]);
      expect((await recordOf(stack.sim, web)).power_state).toBe("Halted");
      const rebooted = await recordOf(stack.sim, later);
      expect(rebooted.HVM_boot_params).toMatchObject({ order: "dc" });
      expect(rebooted.other_config["pulumi-xapi:pending-boot"]).toBeUndefined();
      const now = await vmResources(stack.project);
      expect(parsed(now.get("web")?.outputs.observed)).toMatchObject({ powerState: "Halted" });
      // No pending change left: observed leaves the empty list out (Vm.pendingBootChanges reads it as []).
      const laterObserved = parsed(now.get("later")?.outputs.observed);
      expect(laterObserved).toMatchObject({ powerState: "Running" });
      expect(laterObserved).not.toHaveProperty("pendingBootChanges");
      expect(String(now.get("web")?.outputs.__provider).length).toBeLessThan(400);
    });

    it("destroys: the created VMs are gone, the adopted one is released", async () => {
      const created = ["web", "later", "sleepy", "guest"].map((n) => String(old.get(n)?.id));
      await stack.project.pulumiOk(["destroy", "--yes", "--skip-preview"]);
      const left = (await vmsOf(stack.sim)).map((v) => v.record.uuid);
      expect(created.filter((uuid) => left.includes(uuid))).toEqual([]);
      expect((await recordOf(stack.sim, ADOPTED)).other_config[URN_KEY]).toBeUndefined();
    });
  });

  describe(`a stack written by ${fixture.writer}, destroyed without a refresh`, () => {
    it("deletes every VM from the old outputs", async () => {
      const { project, sim } = await upgradedStack(fixture);
      const old = await vmResources(project);
      await project.pulumiOk(["destroy", "--yes", "--skip-preview"]);
      const left = (await vmsOf(sim)).map((v) => v.record.uuid);
      const created = ["web", "later", "sleepy", "guest"].map((n) => String(old.get(n)?.id));
      expect(created).not.toContain("undefined");
      expect(created.filter((uuid) => left.includes(uuid))).toEqual([]);
      expect(left).toContain(ADOPTED);
      expect((await recordOf(sim, ADOPTED)).other_config[URN_KEY]).toBeUndefined();
    });
  });
}

describe("a stack written by this release", () => {
  it("stores at most 2.5 KB of properties per VM, the provider as one require", async () => {
    if (binDir === undefined) throw cliMissing;
    const { project } = await upgradedStack(RELEASE_0_1);
    // A fresh stack on the same pool: its own VMs, created by this release.
    const fresh = await PulumiProject.create({
      program: PROGRAM,
      binDir,
      name: "xapi-upgrade",
      stack: "fresh",
    });
    projects.push(fresh);
    await fresh.initStack();
    const url = JSON.parse((await project.pulumiOk(["config", "get", "xapi:url", "--json"])).stdout) as {
      value: string;
    };
    await fresh.setConfig("xapi:url", url.value);
    await fresh.setConfig("xapi:username", "root");
    await fresh.setConfig("xapi:password", PASSWORD, { secret: true });
    const { adopted: _, ...created } = DECLARED;
    await fresh.setConfig("e2e:vms", JSON.stringify(created));
    await fresh.pulumiOk(["up", "--yes", "--skip-preview"]);
    const stored = await vmResources(fresh);
    expect(stored.size).toBe(4);
    for (const [name, resource] of stored) {
      const sizes = Object.entries({ ...resource.inputs, ...prefixed(resource.outputs) }).map(
        ([key, value]) => `${key}=${JSON.stringify(value).length}`,
      );
      // The properties the provider writes; the engine adds the URN, provider, timestamps and stack trace.
      const properties = JSON.stringify({ inputs: resource.inputs, outputs: resource.outputs }).length;
      expect(properties, `${name}: ${sizes.join(" ")}`).toBeLessThanOrEqual(2560);
      expect(String(resource.inputs.__provider), name).toContain(
        'require("pulumi-xapi/dist/provider/resource/impl.js")',
      );
    }
  });
});

/** Output keys as `out.<key>`, to tell them from the inputs in a size listing. */
function prefixed(outputs: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [`out.${k}`, v]));
}

/** The object of a stored JSON text (`observed`, `__xapi`); fails the test for anything else. */
function parsed(text: unknown): Record<string, unknown> {
  if (typeof text !== "string") throw new Error(`expected a JSON text, got ${JSON.stringify(text)}`);
  return JSON.parse(text) as Record<string, unknown>;
}
