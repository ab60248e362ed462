/**
 * `npm run bench -- --pulumi`: what `pulumi up` and `pulumi preview` of N `xapi.Vm`s cost, against the
 * same commands on N dynamic resources whose provider does nothing, with the real Pulumi CLI, and how big
 * their state is.
 *
 * - Program A (bench/preview-programs/xapi): N `xapi.Vm` on one xapi-sim (in a child process).
 * - Program B (bench/preview-programs/noop): N `pulumi.dynamic.Resource`s with a provider that only has a
 *   `create`; its commands cost the engine, the language host and the dynamic-provider host alone.
 *
 * Each program runs in its own isolated project (scratch directory under `.tmp/`: `PULUMI_HOME`, a file
 * backend, a passphrase secrets provider; like test/e2e/harness.ts). For each N (`--pulumi-n`):
 *
 * 1. `up` rounds (`--up-runs`, per N): a fresh simulator (the run's operation times and latency) and a
 *    fresh stack for each program, then `pulumi up --yes --skip-preview --parallel P` of N new resources
 *    (its plain output, as a user runs it), A first in even rounds and B first in odd ones. Each up must
 *    create N + 1 resources (the stack too: the engine's summary, nothing the provider outputs).
 * 2. State: the stacks' checkpoint files (file backend) after the last round: bytes / N, and the compact
 *    JSON of one resource's state entry (`inputs` + `outputs`) with the part of it that is the
 *    serialized dynamic provider (`__provider`).
 * 3. `preview` rounds (`--preview-runs`) on the last round's stacks (up to date): one warm-up preview of
 *    each, then alternating rounds; each preview must report N + 1 unchanged resources, and A's must
 *    have read the pool.
 *
 * Per command: wall time; peak RSS and CPU time of the CLI's processes, in all and per role (the
 * `pulumi` engine, the language host, the program, the dynamic-provider host; bench/proc.ts); for A the
 * XAPI calls from the simulator's counters. Reported: medians, the ratios A / B (of the medians; and the
 * median of each round's ratio, the least affected by other work on the machine), and the acceptance
 * checks of issue #14 (`pass` with its threshold; a failed check never fails the run).
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import {
  type Measured,
  medianOf,
  ROLES,
  type Role,
  round,
  runMeasured,
  totalCpuMs,
  type Usage,
  zeroByRole,
} from "./proc";
import { type Counters, control, type Sim, startSim, stopSim } from "./sim";

/** The repository root (this file runs from dist/bench/). */
const REPO_ROOT = path.join(__dirname, "..", "..");
const PASSPHRASE = "bench-passphrase";
const SIM_USER = { username: "root", password: "xapi-sim" };
const STACK = "bench";

/** Issue #14's acceptance thresholds (at N = 1,000). */
export const THRESHOLDS = {
  /** Preview of N up-to-date Vms: wall time ≤ 1.25 × the no-op's. */
  previewWallRatio: 1.25,
  /** `up` of N new Vms: wall time ≤ 1.5 × the no-op's. */
  upWallRatio: 1.5,
  /** State bytes per Vm ≤ 3 KB. */
  stateBytesPerVm: 3 * 1024,
};

export interface PulumiBenchConfig {
  /** Resources per program, one benchmark per size. */
  sizes: number[];
  /** `up` rounds per size (parallel to `sizes`; the last value repeats). */
  upRuns: number[];
  /** Measured preview rounds per size (each: one preview of A and one of B). */
  previewRuns: number;
  /** `pulumi up --parallel`. */
  parallel: number;
  /** Injected latency per XAPI call, in every command. */
  latencyMs: number;
  /** The simulator's per-operation times (ms), in every command. */
  operationMs: Record<string, number>;
}

/** One measured command. */
export interface Sample extends Usage {
  wallMs: number;
  /** A only: XAPI calls by method. */
  xapiCalls?: Record<string, number>;
}

/** The medians of one side. */
export interface Summary {
  wallMs: number;
  /** CPU time of all the CLI's processes (ms; see {@link Usage.cpuMsByRole}). */
  cpuMs: number;
  peakRssMiB: number;
  peakRssMiBByRole: Record<Role, number>;
  cpuMsByRole: Record<Role, number>;
}

/** A / B. */
export interface Ratios {
  /** Of the medians. */
  wallTime: number;
  /** The median of each round's ratio (the two commands of a round run back to back). */
  wallTimeByRound: number;
  cpuTime: number;
  peakRss: number;
}

export interface CommandResult {
  runs: number;
  xapi: Sample[];
  noop: Sample[];
  median: { xapi: Summary; noop: Summary };
  ratios: Ratios;
  /** Total XAPI calls of each of A's commands. */
  xapiCallsPerRun: number[];
}

export interface StateResult {
  /** The checkpoint file of each stack (file backend), bytes. */
  checkpointBytes: { xapi: number; noop: number };
  /** checkpointBytes / N. */
  checkpointBytesPerResource: { xapi: number; noop: number };
  /** Compact JSON of one resource's `{inputs, outputs}`, bytes. */
  entryBytes: { xapi: number; noop: number };
  /** Of which the serialized dynamic provider (`__provider`, in inputs and outputs), bytes. */
  entryProviderBytes: { xapi: number; noop: number };
  ratios: { checkpointBytesPerResource: number; entryBytes: number };
}

export interface Check {
  value: number;
  threshold: number;
  pass: boolean;
  measure: string;
}

export interface PulumiSizeResult {
  n: number;
  up: CommandResult;
  preview: CommandResult;
  state: StateResult;
  /** Issue #14's acceptance checks (stated at N = 1,000). */
  acceptance: {
    previewWallRatio: Check;
    upWallRatio: Check;
    stateBytesPerVm: Check;
    stateEntryBytesPerVm: Check;
  };
}

export interface PulumiBenchResult {
  latencyMs: number;
  parallel: number;
  operationMs: Record<string, number>;
  sizes: PulumiSizeResult[];
}

type Program = "xapi" | "noop";

/** An isolated project + stack driven through the real CLI (cf. test/e2e/harness.ts). */
class BenchProject {
  private constructor(
    readonly root: string,
    readonly dir: string,
    private readonly backend: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(
    program: Program,
    binDir: string,
    extraEnv: Record<string, string>,
  ): Promise<BenchProject> {
    const scratch = path.join(REPO_ROOT, ".tmp");
    await mkdir(scratch, { recursive: true });
    const root = await mkdtemp(path.join(scratch, `bench-pulumi-${program}-`));
    const dir = path.join(root, "project");
    const home = path.join(root, "pulumi-home");
    const backend = path.join(root, "backend");
    await Promise.all([mkdir(dir), mkdir(home), mkdir(backend)]);
    // The compiled program (dist/bench/preview-programs/<program>/index.js): no ts-node in the
    // measurement. Its file, not its directory: for a directory the language host would find the
    // repository's package.json and run its `main` instead.
    const main = path.join(__dirname, "preview-programs", program, "index.js");
    await writeFile(
      path.join(dir, "Pulumi.yaml"),
      [
        `name: bench-${program}`,
        "runtime:",
        "  name: nodejs",
        "  options:",
        "    typescript: false",
        `main: ${JSON.stringify(main)}`,
        "",
      ].join("\n"),
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...extraEnv,
      PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ""}`,
      PULUMI_HOME: home,
      PULUMI_BACKEND_URL: `file://${backend}`,
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      NO_COLOR: "1",
      FORCE_COLOR: "0",
    };
    delete env.PULUMI_ACCESS_TOKEN;
    delete env.PULUMI_STACK;
    const project = new BenchProject(root, dir, backend, env);
    await project.run(["stack", "init", STACK, "--secrets-provider", "passphrase"]);
    return project;
  }

  /** Runs `pulumi <args>`; rejects unless it exits 0. */
  async run(args: readonly string[]): Promise<Measured> {
    const fullArgs = [...args, "--non-interactive", "--color", "never"];
    const result = await runMeasured("pulumi", fullArgs, { cwd: this.dir, env: this.env });
    if (result.code !== 0) {
      throw new Error(
        `pulumi ${fullArgs.join(" ")} exited ${result.code}\n${result.stdout}\n${result.stderr}`,
      );
    }
    return result;
  }

  /** The stack's checkpoint file in the file backend (`.pulumi/stacks/<project>/<stack>.json`). */
  checkpointPath(): string {
    const find = (dir: string): string | undefined => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          const found = find(full);
          if (found !== undefined) return found;
        } else if (entry.name === `${STACK}.json`) return full;
      }
      return undefined;
    };
    const found = find(path.join(this.backend, ".pulumi", "stacks"));
    if (found === undefined) throw new Error(`no checkpoint for stack ${STACK} under ${this.backend}`);
    return found;
  }

  async dispose(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

/** The directory of the Pulumi CLI built by scripts/pulumi-cli.sh (or PULUMI_XAPI_CLI_BIN). */
function pulumiBinDir(): Promise<string> {
  const override = process.env.PULUMI_XAPI_CLI_BIN;
  if (override !== undefined && override !== "") return Promise.resolve(override);
  const script = path.join(REPO_ROOT, "scripts", "pulumi-cli.sh");
  return new Promise((resolve, reject) => {
    execFile(
      "bash",
      [script, "--print-bin-dir", "--no-build"],
      { cwd: REPO_ROOT },
      (error, stdout, stderr) => {
        if (error === null) resolve(stdout.trim());
        else
          reject(
            new Error(
              `The Pulumi CLI is not available: run \`bash scripts/pulumi-cli.sh\` first.\n${stderr}`,
            ),
          );
      },
    );
  });
}

/**
 * The engine's change counts (`{same: 1001}`, `{create: 1001}`), independent of what the resources
 * output: from `pulumi preview --json`'s document (`changeSummary`), from a `--json` event stream's
 * `summaryEvent`, or from the human summary (`+ 1001 created`, `1001 unchanged`).
 */
function changeSummary(stdout: string): Record<string, number> {
  try {
    const parsed = JSON.parse(stdout) as { changeSummary?: Record<string, number> };
    if (parsed.changeSummary !== undefined) return parsed.changeSummary;
  } catch {
    // Not one JSON document: an event stream or the human output.
  }
  for (const line of stdout.split("\n").reverse()) {
    if (!line.includes('"summaryEvent"')) continue;
    try {
      const event = JSON.parse(line) as { summaryEvent?: { resourceChanges?: Record<string, number> } };
      if (event.summaryEvent?.resourceChanges !== undefined) return event.summaryEvent.resourceChanges;
    } catch {
      // Not an event line.
    }
  }
  const summary: Record<string, number> = {};
  for (const [, count, word] of stdout.matchAll(/(\d+) (unchanged|created|to create)\b/g)) {
    summary[word === "unchanged" ? "same" : "create"] = Number(count);
  }
  return summary;
}

function summarize(samples: readonly Sample[]): Summary {
  const of = (pick: (s: Sample) => number) => round(medianOf(samples.map(pick)), 1);
  const byRole = (pick: (s: Sample) => Record<Role, number>) => {
    const out = zeroByRole();
    for (const role of ROLES) out[role] = of((s) => pick(s)[role]);
    return out;
  };
  return {
    wallMs: of((s) => s.wallMs),
    cpuMs: of((s) => totalCpuMs(s)),
    peakRssMiB: of((s) => s.peakRssMiB),
    peakRssMiBByRole: byRole((s) => s.peakRssMiBByRole),
    cpuMsByRole: byRole((s) => s.cpuMsByRole),
  };
}

function commandResult(samples: { xapi: Sample[]; noop: Sample[] }): CommandResult {
  const median = { xapi: summarize(samples.xapi), noop: summarize(samples.noop) };
  return {
    runs: samples.xapi.length,
    xapi: samples.xapi,
    noop: samples.noop,
    median,
    ratios: {
      wallTime: round(median.xapi.wallMs / median.noop.wallMs, 2),
      wallTimeByRound: round(
        medianOf(samples.xapi.map((a, i) => a.wallMs / (samples.noop[i]?.wallMs ?? Number.NaN))),
        2,
      ),
      cpuTime: round(median.xapi.cpuMs / median.noop.cpuMs, 2),
      peakRss: round(median.xapi.peakRssMiB / median.noop.peakRssMiB, 2),
    },
    xapiCallsPerRun: samples.xapi.map((s) => Object.values(s.xapiCalls ?? {}).reduce((sum, n) => sum + n, 0)),
  };
}

function callDelta(before: Counters, after: Counters): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const [method, count] of Object.entries(after.calls)) {
    const delta = count - (before.calls[method] ?? 0);
    if (delta > 0) calls[method] = delta;
  }
  return calls;
}

/** Checkpoint bytes and one resource's state entry (the first that is neither the stack nor a provider). */
function measureState(project: BenchProject): { bytes: number; entryBytes: number; providerBytes: number } {
  const file = project.checkpointPath();
  const bytes = statSync(file).size;
  const checkpoint = JSON.parse(readFileSync(file, "utf8")) as {
    checkpoint?: { latest?: { resources?: { type: string; inputs?: unknown; outputs?: unknown }[] } };
  };
  const resources = checkpoint.checkpoint?.latest?.resources ?? [];
  const resource = resources.find((r) => !r.type.startsWith("pulumi:"));
  if (resource === undefined) return { bytes, entryBytes: Number.NaN, providerBytes: Number.NaN };
  const entry = { inputs: resource.inputs ?? {}, outputs: resource.outputs ?? {} };
  const providerOf = (props: unknown) => {
    const p = (props as { __provider?: unknown }).__provider;
    return p === undefined ? 0 : Buffer.byteLength(JSON.stringify(p));
  };
  return {
    bytes,
    entryBytes: Buffer.byteLength(JSON.stringify(entry)),
    providerBytes: providerOf(entry.inputs) + providerOf(entry.outputs),
  };
}

/** A fresh simulator with the run's operation times and latency (setup at no cost: there is none). */
async function freshSim(config: PulumiBenchConfig): Promise<Sim> {
  const sim = await startSim({
    defaultOperationMs: 0,
    operationMs: config.operationMs,
    users: { [SIM_USER.username]: SIM_USER.password },
  });
  await control(sim, "faults", { latencyMs: config.latencyMs });
  return sim;
}

async function runSize(
  n: number,
  upRuns: number,
  config: PulumiBenchConfig,
  binDir: string,
  log: (line: string) => void,
): Promise<PulumiSizeResult> {
  const count = { BENCH_PREVIEW_COUNT: String(n) };
  const up = { xapi: [] as Sample[], noop: [] as Sample[] };
  let sim: Sim | undefined;
  let projects: Record<Program, BenchProject> | undefined;
  const dispose = async () => {
    if (projects !== undefined) await Promise.all([projects.xapi.dispose(), projects.noop.dispose()]);
    if (sim !== undefined) await stopSim(sim);
    projects = undefined;
    sim = undefined;
  };
  try {
    // 1. up rounds, each on a fresh simulator and fresh stacks.
    for (let r = 0; r < upRuns; r++) {
      await dispose();
      const s = await freshSim(config);
      sim = s;
      const xapi = await BenchProject.create("xapi", binDir, {
        ...count,
        XAPI_URL: s.url,
        XAPI_USERNAME: SIM_USER.username,
        XAPI_PASSWORD: SIM_USER.password,
      });
      const noop = await BenchProject.create("noop", binDir, count);
      projects = { xapi, noop };
      const order: Program[] = r % 2 === 0 ? ["xapi", "noop"] : ["noop", "xapi"];
      for (const name of order) {
        log(`pulumi bench N=${n}: up round ${r + 1}/${upRuns}, ${name}…`);
        const before = await control<Counters>(s, "counters");
        const result = await projects[name].run([
          "up",
          "--yes",
          "--skip-preview",
          "--parallel",
          String(config.parallel),
        ]);
        const after = await control<Counters>(s, "counters");
        const created = changeSummary(result.stdout).create ?? Number.NaN;
        if (created !== n + 1)
          throw new Error(`the ${name} up created ${created}, not ${n + 1}\n${result.stdout.slice(-2000)}`);
        const sample: Sample = { wallMs: round(result.wallMs, 0), ...result.usage };
        up[name].push(name === "xapi" ? { ...sample, xapiCalls: callDelta(before, after) } : sample);
      }
      log(
        `pulumi bench N=${n}: up round ${r + 1}: xapi ${up.xapi.at(-1)?.wallMs} ms, noop ${up.noop.at(-1)?.wallMs} ms`,
      );
    }
    if (sim === undefined || projects === undefined) throw new Error("--up-runs must be at least 1");
    const liveSim = sim;
    const live = projects;

    // 2. State, from the last round's checkpoints.
    const a = measureState(live.xapi);
    const b = measureState(live.noop);
    const ratio = (x: number, y: number) => round(x / y, 2);
    const state: StateResult = {
      checkpointBytes: { xapi: a.bytes, noop: b.bytes },
      checkpointBytesPerResource: { xapi: round(a.bytes / n, 0), noop: round(b.bytes / n, 0) },
      entryBytes: { xapi: a.entryBytes, noop: b.entryBytes },
      entryProviderBytes: { xapi: a.providerBytes, noop: b.providerBytes },
      ratios: {
        checkpointBytesPerResource: ratio(a.bytes, b.bytes),
        entryBytes: ratio(a.entryBytes, b.entryBytes),
      },
    };

    // 3. preview rounds on the up-to-date stacks.
    const preview = { xapi: [] as Sample[], noop: [] as Sample[] };
    const previewOnce = async (name: Program): Promise<Sample> => {
      const before = await control<Counters>(liveSim, "counters");
      const result = await live[name].run(["preview", "--json"]);
      const after = await control<Counters>(liveSim, "counters");
      const same = changeSummary(result.stdout).same ?? Number.NaN;
      if (same !== n + 1) {
        throw new Error(
          `the ${name} preview is not up to date: ${same} unchanged, not ${n + 1}\n${result.stdout.slice(-2000)}`,
        );
      }
      const sample: Sample = { wallMs: round(result.wallMs, 0), ...result.usage };
      if (name === "noop") return sample;
      const xapiCalls = callDelta(before, after);
      if ((xapiCalls["VM.get_all_records"] ?? 0) === 0 && (xapiCalls["event.from"] ?? 0) === 0) {
        throw new Error(`the xapi preview did not read the pool: ${JSON.stringify(xapiCalls)}`);
      }
      return { ...sample, xapiCalls };
    };
    log(`pulumi bench N=${n}: warm-up previews…`);
    await previewOnce("xapi");
    await previewOnce("noop");
    for (let r = 0; r < config.previewRuns; r++) {
      const order: Program[] = r % 2 === 0 ? ["xapi", "noop"] : ["noop", "xapi"];
      for (const name of order) preview[name].push(await previewOnce(name));
      log(
        `pulumi bench N=${n}: preview round ${r + 1}/${config.previewRuns}: xapi ${preview.xapi.at(-1)?.wallMs} ms, noop ${preview.noop.at(-1)?.wallMs} ms`,
      );
    }

    const upResult = commandResult(up);
    const previewResult = commandResult(preview);
    const check = (value: number, threshold: number, measure: string): Check => ({
      value,
      threshold,
      pass: value <= threshold,
      measure,
    });
    return {
      n,
      up: upResult,
      preview: previewResult,
      state,
      acceptance: {
        previewWallRatio: check(
          previewResult.ratios.wallTimeByRound,
          THRESHOLDS.previewWallRatio,
          "preview wall time A / B, median of the rounds' ratios",
        ),
        upWallRatio: check(
          upResult.ratios.wallTimeByRound,
          THRESHOLDS.upWallRatio,
          "up wall time A / B, median of the rounds' ratios",
        ),
        stateBytesPerVm: check(
          state.checkpointBytesPerResource.xapi,
          THRESHOLDS.stateBytesPerVm,
          "A's checkpoint file bytes / N (stack and provider entries included)",
        ),
        stateEntryBytesPerVm: check(
          state.entryBytes.xapi,
          THRESHOLDS.stateBytesPerVm,
          "one Vm's state entry, compact JSON of inputs + outputs (__provider included)",
        ),
      },
    };
  } finally {
    await dispose();
  }
}

/** Runs the Pulumi-level benchmark for every size; `log` receives progress lines. */
export async function runPulumiBench(
  config: PulumiBenchConfig,
  log: (line: string) => void,
): Promise<PulumiBenchResult> {
  const binDir = await pulumiBinDir();
  const sizes: PulumiSizeResult[] = [];
  for (const [i, n] of config.sizes.entries()) {
    const upRuns = config.upRuns[Math.min(i, config.upRuns.length - 1)] ?? 1;
    sizes.push(await runSize(n, upRuns, config, binDir, log));
  }
  return { latencyMs: config.latencyMs, parallel: config.parallel, operationMs: config.operationMs, sizes };
}
