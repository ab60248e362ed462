/**
 * Kill safety through the real Pulumi CLI (README "What happens if a run is killed"): a stack of five VMs
 * (HVM from "Other install media", PV from "Generic PV (pygrub)", declared Running, Halted, Paused and
 * Suspended) is created, or updated, by `pulumi up --yes`, and the CLI's whole process tree (the CLI,
 * the language host and the program, the dynamic-provider plugin: the CLI starts the language host and
 * the plugin in process groups of their own) is SIGKILLed right after xapi-sim has answered a chosen
 * call. The run is then recovered as the CLI says (`pulumi cancel` if the stack is locked,
 * `pulumi refresh --clear-pending-creates`, `pulumi up`), and the result must be:
 *
 * - converged: every VM in its declared power state, as the stack's outputs and the simulator agree, its
 *   domain built from its declared boot configuration (nothing pending under the `restart` policy);
 * - no orphan: no VM the stack does not record, whether it bears a birth name
 *   (`pulumi-xapi:creating:…`), this stack's URN tag, or is a left-over template clone;
 * - no duplicate: one VM per resource (by name and by URN tag);
 * - no forbidden call: no `hard_shutdown`/`hard_reboot` under the `clean` policy, in the killed run
 *   or the recovery;
 * - no session left by the recovery commands (the killed provider's own sessions stay behind: nothing
 *   can log them out, as on a real host until they expire).
 *
 * The kill point is exact: xapi-sim's control op `hold` answers the chosen call, then holds every later
 * call and answer; the test waits until a later call arrives (the answer is out and the run moved on),
 * kills, then releases (the held calls are dropped unrun). A kill point is named by a landmark ("after the
 * 2nd VM.provision"); the killed `up` runs with `--parallel 1` (one resource operation at a time; which
 * VM comes first is the engine's choice), so at the kill every VM is either untouched, done, or at that
 * landmark. Each trial's k (how many state-changing calls the killed run had answered) is printed at the
 * end and given in a failure with the calls of the killed run and of the recovery and the simulator's VMs.
 * One trial kills with `--parallel 8` (several creates in flight), and one kills the simulator itself (a
 * child process, restarted from its `--state` file on the same port) while the CLI runs on.
 *
 * The update trials share one stack and run in order (each starts where the previous one converged;
 * after a failure the next first runs a plain `up` to its starting declaration).
 *
 * Without a Pulumi CLI these tests fail (run `bash scripts/pulumi-cli.sh` once per machine); the
 * simulator child needs `npm run build` (dist/simulator/cli.js).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningSimulator } from "../../simulator";
import type { SimSnapshot } from "../../simulator/model/snapshot";
import { PulumiProject, type PulumiResult, REPO_ROOT } from "./harness";
import { startRig } from "./rig";
import { type CallLogEntry, simControl } from "./sim-log";

const PASSWORD = "kill-Pw-3e9a61c4";
const PROGRAM = path.join(__dirname, "program-vms", "index.ts");
const SIM_CLI = path.join(REPO_ROOT, "dist", "simulator", "cli.js");
const HVM = "Other install media";
const PV = "Generic PV (pygrub)";
const VM_TYPE = "pulumi-nodejs:dynamic/xapi:Vm";
const URN_KEY = "pulumi-xapi:urn";
const BIRTH_PREFIX = "pulumi-xapi:creating:";
/** What `hold` counts: every call that changes something (no reads, no session/task/event traffic). */
const STATE_CHANGING = "^(?!(session|task|event|system)\\.)[A-Za-z_]+\\.(?!get_|assert_|query_|retrieve_)";
/** A trial: a few CLI commands of a few seconds each. */
const TIMEOUT = 150_000;

type PowerState = "Halted" | "Running" | "Paused" | "Suspended";
type VmDecl = Readonly<Record<string, unknown>> & { readonly powerState: PowerState };

/** The stack as created: the four power states, HVM and PV, with and without a declared boot block. */
const CREATE: Readonly<Record<string, VmDecl>> = {
  "hvm-run": { template: HVM, powerState: "Running", hvm: { bootParams: { order: "cd" } } },
  "hvm-halt": { template: HVM, powerState: "Halted" },
  "pv-run": { template: PV, powerState: "Running", pv: { bootloader: "pygrub", args: "console=hvc0" } },
  "pv-paused": { template: PV, powerState: "Paused" },
  "hvm-susp": { template: HVM, powerState: "Suspended" },
};

/** The update: a boot change on a Running VM (setter + clean reboot), and a move from every state. */
const UPDATE: Readonly<Record<string, VmDecl>> = {
  "hvm-run": { template: HVM, powerState: "Running", hvm: { bootParams: { order: "dc" } } },
  "hvm-halt": { template: HVM, powerState: "Running" },
  "pv-run": { template: PV, powerState: "Halted", pv: { bootloader: "pygrub", args: "console=hvc0 quiet" } },
  "pv-paused": { template: PV, powerState: "Running" },
  "hvm-susp": { template: HVM, powerState: "Running" },
};

//////////////////////////////
////   shapes             ////
//////////////////////////////

interface HoldStatus {
  armed: boolean;
  tripped?: boolean;
  trippedBy?: { seq: number; method: string; vm?: string };
  answered?: number;
  held?: string[];
}

interface BootRecord {
  power_state: string;
  pendingBootChange: boolean | null;
}

interface StackResource {
  urn: string;
  type: string;
  id?: string;
  /** The stored form: what the provider observed is one JSON text, `observed`. */
  outputs?: { observed?: string };
}

interface StackExport {
  deployment: { resources?: StackResource[]; pending_operations?: unknown[] };
}

/** The simulator a trial runs against: in this process, or a child reached over HTTP. */
interface Sim {
  readonly url: string;
  control<T>(op: string, body?: Record<string, unknown>): Promise<T>;
}

//////////////////////////////
////   simulator + CLI    ////
//////////////////////////////

let binDir: string | undefined;
let cliMissing: unknown;
let inProcess: RunningSimulator;
let sim: Sim;
const projects: PulumiProject[] = [];
/** One line per trial, printed at the end: where the kill landed. */
const summary: string[] = [];

beforeAll(async () => {
  ({ binDir, cliMissing, sim: inProcess } = await startRig(PASSWORD));
  sim = {
    url: inProcess.url,
    control: <T>(op: string, body: Record<string, unknown> = {}) => simControl<T>(inProcess, op, body),
  };
  fixtureUuids = new Set((await sim.control<SimSnapshot>("state")).vms.map((v) => v.record.uuid));
});

afterAll(async () => {
  if (summary.length > 0) console.log(`kill points:\n${summary.join("\n")}`);
  await Promise.all(projects.map((p) => p.dispose()));
  await inProcess?.close();
});

/** A simulator child process (`node dist/simulator/cli.js`), persisting to `stateFile`. */
class SimChild implements Sim {
  private constructor(
    readonly url: string,
    readonly port: number,
    private child: ChildProcess,
    private readonly stateFile: string,
  ) {}

  static async start(stateFile: string, port = 0): Promise<SimChild> {
    const child = await SimChild.spawn(stateFile, port);
    const url = await SimChild.ready(child);
    return new SimChild(url, Number(new URL(url).port), child, stateFile);
  }

  private static spawn(stateFile: string, port: number): ChildProcess {
    if (!existsSync(SIM_CLI)) throw new Error(`${SIM_CLI} is missing: run \`npm run build\` first`);
    const args = ["--port", String(port), "--state", stateFile, "--no-member", "--user", "root"];
    return spawn(process.execPath, [SIM_CLI, ...args, "--password", PASSWORD], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
  }

  private static ready(child: ChildProcess): Promise<string> {
    return new Promise((resolve, reject) => {
      let out = "";
      let err = "";
      child.stdout?.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        const m = /xapi-sim listening on (\S+)/.exec(out);
        if (m?.[1] !== undefined) resolve(m[1]);
      });
      child.stderr?.setEncoding("utf8").on("data", (d: string) => {
        err += d;
      });
      child.on("exit", (code) => reject(new Error(`xapi-sim exited ${code} before it listened: ${err}`)));
    });
  }

  async control<T>(op: string, body: Record<string, unknown> = {}): Promise<T> {
    const response = await fetch(`${this.url}/_sim/${op}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = (await response.json()) as { result?: T; error?: string };
    if (answer.error !== undefined) throw new Error(`xapi-sim /_sim/${op}: ${answer.error}`);
    return answer.result as T;
  }

  /** SIGKILL, then start again on the same port from the state file. */
  async killAndRestart(): Promise<void> {
    await this.kill();
    this.child = SimChild.spawn(this.stateFile, this.port);
    const url = await SimChild.ready(this.child);
    if (url !== this.url) throw new Error(`xapi-sim came back on ${url}, not ${this.url}`);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
}

/** A new project + stack on the kill program, reaching `target` through XAPI_URL (no config secrets). */
async function newStack(
  target: Sim,
  name: string,
  vms: Readonly<Record<string, VmDecl>>,
): Promise<PulumiProject> {
  if (binDir === undefined) throw cliMissing;
  const project = await PulumiProject.create({
    program: PROGRAM,
    binDir,
    name,
    env: { XAPI_URL: target.url, XAPI_USERNAME: "root", XAPI_PASSWORD: PASSWORD },
  });
  projects.push(project);
  await project.initStack();
  await project.setConfig("e2e:vms", JSON.stringify(vms));
  return project;
}

async function lastSeq(target: Sim): Promise<number> {
  return (await target.control<CallLogEntry[]>("callLog")).at(-1)?.seq ?? 0;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Output of a command, for assertion messages. */
function text(r: PulumiResult): string {
  return `\`${r.command}\` exited ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

//////////////////////////////
////   processes          ////
//////////////////////////////

interface Proc {
  pid: number;
  ppid: number;
  pgrp: number;
  state: string;
  comm: string;
}

async function proc(pid: number): Promise<Proc | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const [state = "", ppid = "", pgrp = ""] = stat.slice(close + 2).split(" ");
    return {
      pid,
      ppid: Number(ppid),
      pgrp: Number(pgrp),
      state,
      comm: stat.slice(stat.indexOf("(") + 1, close),
    };
  } catch {
    return undefined; // gone
  }
}

async function allProcs(): Promise<Proc[]> {
  const pids = (await readdir("/proc")).filter((d) => /^\d+$/.test(d)).map(Number);
  return (await Promise.all(pids.map(proc))).filter((p): p is Proc => p !== undefined);
}

/** The `pulumi` CLI running in `dir`, leader of its own process group (the harness spawns it detached). */
async function cliLeader(dir: string): Promise<number> {
  for (const p of await allProcs()) {
    if (p.comm !== "pulumi" || p.pgrp !== p.pid) continue;
    const cwd = await readlink(`/proc/${p.pid}/cwd`).catch(() => "");
    if (cwd === dir) return p.pid;
  }
  throw new Error(`no pulumi process runs in ${dir}`);
}

/** The leader's process group and every descendant (a plugin in a group of its own included). */
async function processTree(leader: number): Promise<Proc[]> {
  const procs = await allProcs();
  const tree = new Map(procs.filter((p) => p.pgrp === leader).map((p) => [p.pid, p]));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.set(p.pid, p);
        grew = true;
      }
    }
  }
  return [...tree.values()];
}

/** The processes of `tree` still alive after `ms` (zombies count as dead). */
async function survivors(tree: readonly Proc[], ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const alive = (await Promise.all(tree.map((p) => proc(p.pid)))).filter(
      (p): p is Proc => p !== undefined && p.state !== "Z",
    );
    if (alive.length === 0 || Date.now() > deadline) return alive.map((p) => `${p.pid} ${p.comm}`);
    await sleep(50);
  }
}

//////////////////////////////
////   the kill           ////
//////////////////////////////

/** Where a trial kills: after the `nth` answered call whose method matches `match`. */
interface KillPoint {
  readonly match: string;
  readonly nth: number;
  /** The chosen call runs but its answer is held too: the client dies not knowing it was made. */
  readonly holdAnswer?: boolean;
}

/** What happened at the kill. */
interface Killed {
  /** How many state-changing calls the killed run had answered. */
  readonly k: number;
  readonly trippedBy: NonNullable<HoldStatus["trippedBy"]>;
  /** The calls held at the kill (the client's next call first). */
  readonly held: string[];
  readonly up: PulumiResult;
  /** The state-changing calls the killed run made, as "method vm-name". */
  readonly sequence: string[];
}

/**
 * Arms `hold` at `point`, starts `pulumi up`, waits until a call after the chosen one is held (the
 * answer is out and the run moved on), then `kill`s; returns once the CLI has exited.
 */
async function upUntil(
  target: Sim,
  project: PulumiProject,
  point: KillPoint,
  parallel: number,
  kill: (status: HoldStatus) => Promise<void>,
): Promise<Killed> {
  const since = await lastSeq(target);
  await target.control("hold", {
    after: point.nth,
    match: point.match,
    holdAnswer: point.holdAnswer === true,
  });
  let finished = false;
  const up = project.pulumi(["up", "--yes", "--skip-preview", "--parallel", String(parallel)], {
    timeoutMs: 120_000,
  });
  void up.finally(() => {
    finished = true;
  });
  let status: HoldStatus = { armed: true };
  let trippedAt: number | undefined;
  for (;;) {
    status = await target.control<HoldStatus>("hold");
    if (status.tripped === true) {
      trippedAt ??= Date.now();
      // The client normally sends its next call within milliseconds; a run that has nothing left to
      // call would end instead.
      if ((status.held ?? []).length > 0 || Date.now() - trippedAt > 3000) break;
    }
    if (finished) {
      const r = await up;
      throw new Error(`the run ended before the kill point (${JSON.stringify(point)}):\n${text(r)}`);
    }
    await sleep(5);
  }
  const log = await target.control<CallLogEntry[]>("callLog", { since });
  await kill(status);
  const result = await up;
  const trippedBy = status.trippedBy;
  if (trippedBy === undefined) throw new Error("unreachable: tripped without trippedBy");
  const sequence = await describeCalls(
    target,
    log.filter((c) => c.seq <= trippedBy.seq),
  );
  return { k: sequence.length, trippedBy, held: status.held ?? [], up: result, sequence };
}

/** The state-changing calls of `log` as "seq method vm-name". */
async function describeCalls(target: Sim, log: readonly CallLogEntry[]): Promise<string[]> {
  const changing = new RegExp(STATE_CHANGING);
  const names = await vmNames(target);
  return log
    .filter((c) => changing.test(c.method.replace(/^Async\./, "")))
    .map((c) =>
      [
        c.seq,
        c.method.replace(/^Async\./, ""),
        c.vm === undefined ? "" : (names.get(c.vm) ?? c.vm),
        c.ok ? "" : c.error,
      ]
        .join(" ")
        .trim(),
    );
}

/** What the simulator holds of each VM other than the fixture's (for failure messages). */
async function digest(target: Sim, decls: Readonly<Record<string, VmDecl>>): Promise<string[]> {
  const { vms } = await target.control<SimSnapshot>("state");
  const lines: string[] = [];
  for (const { record } of vms) {
    if (fixtureUuids.has(record.uuid)) continue;
    const name = record.name_label;
    const boot =
      record.power_state === "Halted"
        ? undefined
        : await target.control<BootRecord & { lastBoot?: { order?: string; PV_args?: string } }>(
            "bootRecord",
            {
              uuid: record.uuid,
            },
          );
    const keys = Object.fromEntries(
      Object.entries(record.other_config).filter(([k]) => k.startsWith("pulumi-xapi:")),
    );
    lines.push(
      `${name} ${record.uuid} ${record.power_state} (declared ${decls[name]?.powerState ?? "-"}) domid ${record.domid}` +
        ` order ${JSON.stringify(record.HVM_boot_params.order ?? "")} PV_args ${JSON.stringify(record.PV_args)}` +
        ` template ${record.is_a_template} other_config ${JSON.stringify(keys)}` +
        (boot === undefined
          ? ""
          : ` | domain built with order ${JSON.stringify(boot.lastBoot?.order ?? "")} PV_args ${JSON.stringify(boot.lastBoot?.PV_args ?? "")}, pendingBootChange ${boot.pendingBootChange}`),
    );
  }
  return lines;
}

/** VM uuid → name_label, with birth names shown as such. */
async function vmNames(target: Sim): Promise<Map<string, string>> {
  const vms = await target.control<{ uuid: string; name_label: string }[]>("vms");
  return new Map(vms.map((v) => [v.uuid, v.name_label]));
}

/**
 * SIGKILLs the CLI's process tree; fails if any of it survives. The CLI's process group is not enough:
 * pulumi v3.248 starts the language host and the provider plugin in process groups of their own, so
 * every descendant is listed before the kill and signalled too.
 */
async function killCli(project: PulumiProject): Promise<string[]> {
  const leader = await cliLeader(project.dir);
  const tree = await processTree(leader);
  process.kill(-leader, "SIGKILL");
  for (const p of tree) {
    if (p.pgrp !== leader) process.kill(p.pid, "SIGKILL");
  }
  expect(await survivors(tree, 5000), "processes of the killed CLI still alive").toEqual([]);
  return tree.map((p) => p.comm);
}

/**
 * Recovers a killed run as the CLI says: `pulumi cancel` when a command reports the stack locked,
 * `pulumi refresh --clear-pending-creates`, then `pulumi up`. Returns the commands run.
 */
async function recover(project: PulumiProject): Promise<string[]> {
  const run: string[] = [];
  const refresh = async () => {
    const r = await project.pulumi(["refresh", "--yes", "--clear-pending-creates"]);
    run.push(r.command);
    return r;
  };
  let r = await refresh();
  if (r.code !== 0 && /locked/.test(r.stdout + r.stderr)) {
    expect(r.stdout + r.stderr, "a locked stack: the CLI names the way out").toMatch(/pulumi cancel/);
    run.push((await project.pulumiOk(["cancel", "--yes"])).command);
    r = await refresh();
  }
  expect(r.code, text(r)).toBe(0);
  const up = await project.pulumi(["up", "--yes"]);
  run.push(up.command);
  expect(up.code, text(up)).toBe(0);
  return run;
}

//////////////////////////////
////   the checks         ////
//////////////////////////////

/** Fixture VMs (templates, guests, control domains): present before every trial. */
let fixtureUuids: ReadonlySet<string>;

/**
 * Converged, no orphan, no duplicate, no forbidden call in `log`, no pending operation; returns the
 * findings as lines (empty when all is well) so a failure shows them all at once.
 */
async function findings(
  target: Sim,
  project: PulumiProject,
  decls: Readonly<Record<string, VmDecl>>,
  log: readonly CallLogEntry[],
): Promise<string[]> {
  const problems: string[] = [];
  const exported = JSON.parse((await project.pulumiOk(["stack", "export"])).stdout) as StackExport;
  const resources = (exported.deployment.resources ?? []).filter((r) => r.type === VM_TYPE);
  const pendingOps = exported.deployment.pending_operations ?? [];
  if (pendingOps.length > 0) problems.push(`pending operations in the state: ${JSON.stringify(pendingOps)}`);
  const state = await target.control<SimSnapshot>("state");
  const records = state.vms.map((v) => v.record);
  const byUuid = new Map(records.map((r) => [r.uuid, r]));
  const stackPrefix = `urn:pulumi:${project.stack}::`;
  const recordedIds = new Set(resources.map((r) => r.id));

  for (const [name, decl] of Object.entries(decls)) {
    const resource = resources.find((r) => r.urn.endsWith(`::${VM_TYPE}::${name}`));
    if (resource?.id === undefined) {
      problems.push(`${name}: not recorded in the stack`);
      continue;
    }
    const vm = byUuid.get(resource.id);
    const outputs = JSON.parse(resource.outputs?.observed ?? "{}") as {
      powerState?: string;
      pendingBootChanges?: string[];
    };
    if (vm === undefined) {
      problems.push(`${name}: the recorded VM ${resource.id} does not exist`);
      continue;
    }
    if (vm.power_state !== decl.powerState || outputs.powerState !== decl.powerState)
      problems.push(
        `${name}: declared ${decl.powerState}, the simulator has ${vm.power_state}, the stack ${outputs.powerState}`,
      );
    if (JSON.stringify(outputs.pendingBootChanges ?? []) !== "[]")
      problems.push(`${name}: pendingBootChanges ${JSON.stringify(outputs.pendingBootChanges)}`);
    if (vm.power_state !== "Halted") {
      const boot = await target.control<BootRecord>("bootRecord", { uuid: vm.uuid });
      if (boot.pendingBootChange === true)
        problems.push(`${name}: its domain runs an older boot configuration than the VM's (restart policy)`);
    }
    const named = records.filter((r) => r.name_label === name);
    if (named.length !== 1)
      problems.push(`${name}: ${named.length} VMs bear its name (${named.map((r) => r.uuid)})`);
    const tagged = records.filter((r) => r.other_config[URN_KEY] === resource.urn);
    if (tagged.length !== 1 || tagged[0]?.uuid !== vm.uuid)
      problems.push(`${name}: VMs tagged with its URN: ${tagged.map((r) => r.uuid).join(", ") || "none"}`);
  }

  for (const r of records) {
    if (fixtureUuids.has(r.uuid) || recordedIds.has(r.uuid)) continue;
    const tag = r.other_config[URN_KEY];
    problems.push(
      `orphan: VM ${r.uuid} "${r.name_label}" (${r.power_state}${r.is_a_template ? ", a template" : ""}` +
        `${tag === undefined ? "" : `, tagged ${tag}`}) is not recorded by the stack`,
    );
  }
  for (const r of records) {
    if (r.name_label.startsWith(BIRTH_PREFIX)) problems.push(`VM ${r.uuid} still bears its birth name`);
    const tag = r.other_config[URN_KEY];
    if (tag?.startsWith(stackPrefix) && !recordedIds.has(r.uuid))
      problems.push(`VM ${r.uuid} is tagged ${tag} but the stack does not record it`);
  }
  const forbidden = log.filter((c) => /\.hard_(shutdown|reboot)$/.test(c.method));
  if (forbidden.length > 0)
    problems.push(
      `forbidden calls: ${forbidden.map((c) => `${c.seq} ${c.method} ${c.vm ?? ""}`).join("; ")}`,
    );
  return problems;
}

/** Waits (the provider's shutdown grace) until at most `expected` sessions are live; returns the count. */
async function sessionsSettle(target: Sim, expected: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { liveSessions } = await target.control<{ liveSessions: number }>("counters");
    if (liveSessions <= expected || Date.now() > deadline) return liveSessions;
    await sleep(100);
  }
}

//////////////////////////////
////   the trials         ////
//////////////////////////////

interface Trial {
  readonly label: string;
  readonly at: KillPoint;
  /** The method the kill lands after. */
  readonly lands: RegExp;
  /** `--parallel` of the killed run. @default 1 */
  readonly parallel?: number;
}

/** An update trial: the stack goes from `from` to `to` (the two declarations alternate). */
interface UpdateTrial extends Trial {
  readonly from: Readonly<Record<string, VmDecl>>;
  readonly to: Readonly<Record<string, VmDecl>>;
}

/** The regular expression of one method name. */
const only = (method: string) => `^${method.replace(/\./g, "\\.")}$`;

/** Creates, each on a new stack. */
const CREATE_TRIALS: readonly Trial[] = [
  {
    label: "after the 1st VM.clone (a template clone with its birth name, untagged)",
    at: { match: only("VM.clone"), nth: 1 },
    lands: /VM\.clone$/,
  },
  {
    label: "after the 2nd VM.provision (tagged, disks made, still a template)",
    at: { match: only("VM.provision"), nth: 2 },
    lands: /VM\.provision$/,
  },
  {
    label: "after the 1st VM.set_name_label (a create's last call: the VM done and named, not recorded)",
    at: { match: only("VM.set_name_label"), nth: 1 },
    lands: /VM\.set_name_label$/,
  },
  {
    label:
      "when the 1st VM.set_name_label has run but its answer is lost (the window between a create's end and the engine's checkpoint)",
    at: { match: only("VM.set_name_label"), nth: 1, holdAnswer: true },
    lands: /VM\.set_name_label$/,
  },
  {
    label: "mid-lifecycle: after Async.VM.suspend was accepted (the client dies polling its task)",
    at: { match: only("VM.suspend"), nth: 1 },
    lands: /VM\.suspend$/,
  },
  {
    label: "with --parallel 8, after the 3rd URN tag (several creates in flight, their answers held)",
    at: { match: only("VM.add_to_other_config"), nth: 3 },
    lands: /VM\.add_to_other_config$/,
    parallel: 8,
  },
];

/** Updates of one stack, in order: each starts where the previous one converged. */
const UPDATE_TRIALS: readonly UpdateTrial[] = [
  {
    label: "after VM.set_HVM_boot_params (the boot setter on a Running VM, before its clean reboot)",
    from: CREATE,
    to: UPDATE,
    at: { match: only("VM.set_HVM_boot_params"), nth: 1 },
    lands: /VM\.set_HVM_boot_params$/,
  },
  {
    label: "back: after VM.clean_reboot (the domain rebuilt, the run's outputs not recorded)",
    from: UPDATE,
    to: CREATE,
    at: { match: only("VM.clean_reboot"), nth: 1 },
    lands: /VM\.clean_reboot$/,
  },
  {
    label: "after the 5th state-changing call",
    from: CREATE,
    to: UPDATE,
    at: { match: STATE_CHANGING, nth: 5 },
    lands: /./,
  },
];

/**
 * Runs `pulumi up` on `project` until `trial`'s kill point, SIGKILLs the CLI's process tree, releases
 * the held calls, recovers, and returns the findings (empty when all is well).
 */
async function killAndRecover(
  project: PulumiProject,
  trial: Trial,
  phase: string,
  final: Readonly<Record<string, VmDecl>>,
): Promise<{ killed: Killed; problems: string[]; details: string }> {
  const since = await lastSeq(sim);
  let sessionsAtKill = 0;
  const killed = await upUntil(sim, project, trial.at, trial.parallel ?? 1, async () => {
    await killCli(project);
    sessionsAtKill = (await sim.control<{ liveSessions: number }>("counters")).liveSessions;
    await sim.control("hold", { release: true });
  });
  summary.push(
    `k=${killed.k} ${phase}: ${killed.trippedBy.method} (${trial.label}); next: ${killed.held[0] ?? "none"}`,
  );
  expect(killed.up.code, "the CLI was killed by the signal").toBeNull();
  expect(killed.trippedBy.method).toMatch(trial.lands);
  await recover(project);
  const log = await sim.control<CallLogEntry[]>("callLog", { since });
  const problems = await findings(sim, project, final, log);
  const sessions = await sessionsSettle(sim, sessionsAtKill);
  if (sessions !== sessionsAtKill)
    problems.push(`sessions: ${sessions} live after the recovery, ${sessionsAtKill} at the kill`);
  const seq = killed.trippedBy.seq;
  const recovery = await describeCalls(
    sim,
    log.filter((c) => c.seq > seq),
  );
  return {
    killed,
    problems,
    details: problems.length === 0 ? "" : context(killed, recovery, await digest(sim, final)),
  };
}

/** What a failed expectation shows: k, the calls of the killed run and of the recovery, the VMs. */
function context(killed: Killed, recovery: readonly string[], vms: readonly string[]): string {
  return [
    `k=${killed.k}; the killed run's state-changing calls:`,
    ...killed.sequence,
    `--- held at the kill: ${killed.held.join(", ")}; the recovery's state-changing calls:`,
    ...recovery,
    "--- the simulator's VMs (other than the fixture's):",
    ...vms,
  ].join("\n");
}

describe("pulumi up killed during the creates, then recovered as the CLI says", () => {
  for (const [i, trial] of CREATE_TRIALS.entries()) {
    it(trial.label, { timeout: TIMEOUT }, async () => {
      await sim.control("reset");
      const project = await newStack(sim, `kill-create-${i}`, CREATE);
      const { problems, details } = await killAndRecover(project, trial, "create", CREATE);
      expect(problems, details).toEqual([]);
    });
  }
});

describe("pulumi up killed during the updates of one stack, then recovered as the CLI says", () => {
  let project: PulumiProject;
  /** The declarations the stack has converged to (undefined: unknown, after a failed trial). */
  let converged: Readonly<Record<string, VmDecl>> | undefined;

  beforeAll(async () => {
    await sim.control("reset");
    project = await newStack(sim, "kill-update", CREATE);
    await project.pulumiOk(["up", "--yes", "--skip-preview"]);
    converged = CREATE;
  }, TIMEOUT);

  for (const trial of UPDATE_TRIALS) {
    it(trial.label, { timeout: TIMEOUT }, async () => {
      if (converged !== trial.from) {
        // The previous trial failed (or was filtered out): start from the declared state anyway.
        await project.setConfig("e2e:vms", JSON.stringify(trial.from));
        await project.pulumiOk(["up", "--yes", "--skip-preview"]);
      }
      converged = undefined;
      await project.setConfig("e2e:vms", JSON.stringify(trial.to));
      const { problems, details } = await killAndRecover(project, trial, "update", trial.to);
      expect(problems, details).toEqual([]);
      converged = trial.to;
    });
  }
});

describe("the simulator killed mid-run and restarted from its state file", () => {
  let dir: string;
  let child: SimChild | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(REPO_ROOT, ".tmp", "kill-sim-"));
  });

  afterAll(async () => {
    await child?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it("update: the simulator dies after VM.set_HVM_boot_params; the run goes on or fails, the recovery converges", {
    timeout: TIMEOUT,
  }, async () => {
    child = await SimChild.start(path.join(dir, "state.json"));
    const target = child;
    const project = await newStack(target, "kill-sim", CREATE);
    await project.pulumiOk(["up", "--yes", "--skip-preview"]);
    await project.setConfig("e2e:vms", JSON.stringify(UPDATE));
    const at: KillPoint = { match: only("VM.set_HVM_boot_params"), nth: 1 };
    let before: CallLogEntry[] = [];
    const killed = await upUntil(target, project, at, 1, async () => {
      // Let running tasks finish and the state file catch up, as a host's database would.
      for (let i = 0; i < 100; i++) {
        const tasks = await target.control<{ status: string }[]>("tasks");
        if (tasks.every((t) => t.status !== "pending")) break;
        await sleep(20);
      }
      await sleep(100);
      before = await target.control<CallLogEntry[]>("callLog");
      await target.killAndRestart();
    });
    summary.push(
      `k=${killed.k} update, simulator killed: ${killed.trippedBy.method}; the run exited ${killed.up.code}`,
    );
    expect(killed.trippedBy.method).toMatch(/VM\.set_HVM_boot_params$/);
    await recover(project);
    const after = await target.control<CallLogEntry[]>("callLog");
    const problems = await findings(target, project, UPDATE, [...before, ...after]);
    const sessions = await sessionsSettle(target, 0);
    if (sessions !== 0) problems.push(`sessions: ${sessions} live after the recovery`);
    const details =
      problems.length === 0
        ? ""
        : `${context(killed, await describeCalls(target, after), await digest(target, UPDATE))}\n${text(killed.up)}`;
    expect(problems, details).toEqual([]);
  });
});
