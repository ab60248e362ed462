/**
 * Several pools in one plain-JavaScript program with the real CLI: one `xapi.Pool` per pool, each VM on its
 * own pool through create, change and destroy; a password named by `passwordEnv` never in the state.
 */
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../../simulator";
import { locatePulumiCli, PulumiProject } from "./harness";

const PASSWORD_A = "pools-A-pw-6d1e";
const PASSWORD_B = "pools-B-pw-93fa";
const POOL_B = "b0b00000-0000-4000-8000-0000000000b0";
const PROGRAM = path.join(__dirname, "program-pools", "index.js");

let simA: RunningSimulator;
let simB: RunningSimulator;
let project: PulumiProject;

beforeAll(async () => {
  simA = await startSimulator({ port: 0, member: false, users: { root: PASSWORD_A } });
  const state = (await control(simA, "state", {})) as { pool: { record: { uuid: string } } };
  const other = structuredClone(state);
  other.pool.record.uuid = POOL_B;
  simB = await startSimulator({ port: 0, member: false, users: { root: PASSWORD_B }, state: other });
  const binDir = await locatePulumiCli();
  project = await PulumiProject.create({
    program: PROGRAM,
    binDir,
    name: "xapi-pools",
    env: { E2E_POOL_B_PASSWORD: PASSWORD_B },
  });
  await project.initStack();
  await project.setConfig("e2e:urlA", simA.url);
  await project.setConfig("e2e:passwordA", PASSWORD_A, { secret: true });
  await project.setConfig("e2e:urlB", simB.url);
}, 120_000);

afterAll(async () => {
  await project?.dispose();
  await simA?.close();
  await simB?.close();
});

async function control(sim: RunningSimulator, op: string, body: Record<string, unknown>): Promise<unknown> {
  const fn = sim.model.control[op];
  if (fn === undefined) throw new Error(`xapi-sim has no control op ${op}`);
  return fn(body);
}

async function vmsIn(sim: RunningSimulator): Promise<string[]> {
  const vms = (await control(sim, "vms", {})) as { uuid: string; is_a_template: boolean }[];
  return vms.filter((v) => !v.is_a_template).map((v) => v.uuid);
}

it("each VM is created on its own pool, and the outputs name the pools", async () => {
  await project.pulumiOk(["up", "--yes"]);
  const out = JSON.parse((await project.pulumiOk(["stack", "output", "--json"])).stdout) as Record<
    string,
    string
  >;
  const poolA = ((await control(simA, "state", {})) as { pool: { record: { uuid: string } } }).pool.record
    .uuid;
  expect({
    onA: (await vmsIn(simA)).includes(out.uuidA ?? ""),
    onB: (await vmsIn(simB)).includes(out.uuidB ?? ""),
    crossed: [(await vmsIn(simA)).includes(out.uuidB ?? ""), (await vmsIn(simB)).includes(out.uuidA ?? "")],
    pools: [out.poolA, out.poolB],
  }).toEqual({ onA: true, onB: true, crossed: [false, false], pools: [poolA, POOL_B] });
}, 240_000);

it("the password named by passwordEnv is nowhere in the state, even with --show-secrets", async () => {
  const exported = await project.pulumiOk(["stack", "export", "--show-secrets"]);
  expect([exported.stdout.includes(PASSWORD_B), exported.stdout.includes("E2E_POOL_B_PASSWORD")]).toEqual([
    false,
    true,
  ]);
}, 60_000);

it("a preview after up is clean on both pools", async () => {
  const preview = await project.pulumiOk(["preview", "--json"]);
  const steps = (JSON.parse(preview.stdout) as { steps?: { op: string }[] }).steps ?? [];
  expect(steps.filter((s) => s.op !== "same").map((s) => s.op)).toEqual([]);
}, 120_000);

it("a change reaches each pool's own VM", async () => {
  await project.setConfig("e2e:powerState", "Running");
  await project.pulumiOk(["up", "--yes"]);
  const state = async (sim: RunningSimulator) =>
    (
      (await control(sim, "vms", {})) as {
        is_a_template: boolean;
        power_state: string;
        name_label: string;
      }[]
    )
      .filter((v) => v.name_label === "vm-a" || v.name_label === "vm-b")
      .map((v) => `${v.name_label}:${v.power_state}`);
  expect([await state(simA), await state(simB)]).toEqual([["vm-a:Running"], ["vm-b:Running"]]);
}, 240_000);

it("destroy removes each VM from its own pool", async () => {
  const out = JSON.parse((await project.pulumiOk(["stack", "output", "--json"])).stdout) as Record<
    string,
    string
  >;
  await project.pulumiOk(["destroy", "--yes"]);
  expect([
    (await vmsIn(simA)).includes(out.uuidA ?? ""),
    (await vmsIn(simB)).includes(out.uuidB ?? ""),
  ]).toEqual([false, false]);
}, 240_000);
