/**
 * `npm run bench -- --preview`: what a `pulumi preview` of N up-to-date `xapi.Vm`s costs, against the
 * same preview of N dynamic resources whose provider does nothing, with the real Pulumi CLI.
 *
 * - Program A (bench/preview-programs/xapi): N `xapi.Vm` on one xapi-sim (in a child process).
 * - Program B (bench/preview-programs/noop): N `pulumi.dynamic.Resource`s with a provider that only has a
 *   `create`; its preview costs the engine, the language host and the dynamic-provider host alone.
 *
 * Each program gets its own isolated project (scratch directory under `.tmp/`: `PULUMI_HOME`, a file
 * backend, a passphrase secrets provider; like test/e2e/harness.ts) and one `pulumi up` to bring its
 * stack up to date. How A's stack is seeded: by that real `pulumi up` (`--parallel 64`) with the
 * simulator at 0 ms per operation and no injected latency: the state and the VMs are exactly what a
 * user's `up` leaves (outputs, owner tags, pending-boot notes), with nothing hand-made to drift from the
 * provider's code. It is the slow part: 5 to 6 minutes for 1,000 VMs on a busy 2-core machine (1 to 2
 * for the no-op program; reported as `seedUpMs`), hence the opt-in flag. A forged state (`pulumi stack import` plus a seeded simulator state) would be faster but
 * would have to copy the provider's output format by hand (test/provider-preview-scale.test.ts does that,
 * from one real create, at the provider level).
 *
 * Then, with `--latency-ms` of injected latency per XAPI call, one warm-up preview of each program, and
 * `--preview-runs` rounds alternating A and B (A first in even rounds, B first in odd ones, so neither
 * always runs on a warmer machine). Per preview: wall time; peak RSS and CPU time of the CLI's processes,
 * in all and per role (the `pulumi` engine, the language host, the program, the dynamic-provider host),
 * sampled every 50 ms from /proc over the CLI's session; and for A the XAPI calls from the simulator's
 * counters (login and logout included: the provider logs out when the engine stops it).
 * Every preview must report N + 1 unchanged resources (the stack too), and A's must have read the pool.
 *
 * Reported: the median of each side and the ratios A / B (of the medians; and of each round, whose
 * median is the least affected by other work on the machine).
 */
import { execFile, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { type Counters, control, type Sim, startSim, stopSim } from "./sim";

/** The repository root (this file runs from dist/bench/). */
const REPO_ROOT = path.join(__dirname, "..", "..");
const PASSPHRASE = "bench-passphrase";
const SIM_USER = { username: "root", password: "xapi-sim" };

export interface PreviewBenchConfig {
  /** Resources per program. */
  n: number;
  /** Measured rounds (each: one preview of A and one of B). */
  runs: number;
  /** Injected latency per XAPI call during the previews (not during the seeding `up`). */
  latencyMs: number;
}

/** The processes of a `pulumi` command, by what they run (cmdline). */
export const ROLES = ["engine", "languageHost", "program", "provider", "other"] as const;
export type Role = (typeof ROLES)[number];

/** One measured preview. */
export interface PreviewSample {
  wallMs: number;
  /** Peak of the summed RSS of the CLI's processes (its session; MiB). */
  peakRssMiB: number;
  /** Peak RSS per role (MiB): the `pulumi` engine, the language host, the program, the provider host. */
  peakRssMiBByRole: Record<Role, number>;
  /**
   * CPU time (user + system) per role, from the last /proc sample of each process (ms): a lower bound,
   * the last < 50 ms of each process are not seen.
   */
  cpuMsByRole: Record<Role, number>;
  /** A only: XAPI calls by method. */
  xapiCalls?: Record<string, number>;
}

export interface PreviewBenchResult {
  n: number;
  runs: number;
  latencyMs: number;
  /** Wall time of the `pulumi up` that created A's VMs (simulator at 0 ms per operation). */
  seedUpMs: { xapi: number; noop: number };
  /** Size of each stack's state after that `up` (`pulumi stack export`, bytes). */
  stateBytes: { xapi: number; noop: number };
  xapi: PreviewSample[];
  noop: PreviewSample[];
  /** Medians of each side's samples. */
  median: { xapi: PreviewSummary; noop: PreviewSummary };
  /**
   * A / B: `wallTime`, `cpuTime` (all processes) and `peakRss` of the medians; `wallTimeByRound`, the
   * median of each round's ratio (the two previews of a round run back to back, so it is the least
   * affected by other work on the machine).
   */
  ratios: { wallTime: number; wallTimeByRound: number; cpuTime: number; peakRss: number };
  /** XAPI calls of every A preview (they must all be equal). */
  xapiCallsPerPreview: number[];
}

/** The medians of one side. */
export interface PreviewSummary {
  wallMs: number;
  /** CPU time of all the CLI's processes (ms; see {@link PreviewSample.cpuMsByRole}). */
  cpuMs: number;
  peakRssMiB: number;
  peakRssMiBByRole: Record<Role, number>;
  cpuMsByRole: Record<Role, number>;
}

/** An isolated project + stack driven through the real CLI (cf. test/e2e/harness.ts). */
class BenchProject {
  private constructor(
    readonly root: string,
    readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(
    program: "xapi" | "noop",
    binDir: string,
    extraEnv: Record<string, string>,
  ): Promise<BenchProject> {
    const scratch = path.join(REPO_ROOT, ".tmp");
    await mkdir(scratch, { recursive: true });
    const root = await mkdtemp(path.join(scratch, `bench-preview-${program}-`));
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
        `name: bench-preview-${program}`,
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
    return new BenchProject(root, dir, env);
  }

  /** Runs `pulumi <args>`; rejects unless it exits 0. Measures wall time and peak RSS of its processes. */
  run(
    args: readonly string[],
  ): Promise<{ stdout: string; wallMs: number; usage: Omit<PreviewSample, "wallMs" | "xapiCalls"> }> {
    const fullArgs = [...args, "--non-interactive", "--color", "never"];
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      // A session of its own (setsid): the language host, the program and the provider plugin are in it too.
      const child = spawn("pulumi", fullArgs, {
        cwd: this.dir,
        env: this.env,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
      });
      let peakTotal = 0;
      const peakByRole = zeroByRole();
      const cpuByPid = new Map<string, { role: Role; cpuMs: number }>();
      const sample = () => {
        if (child.pid === undefined) return;
        const processes = sessionProcesses(child.pid);
        const byRole = zeroByRole();
        let total = 0;
        for (const p of processes) {
          total += p.rssBytes;
          byRole[p.role] += p.rssBytes;
          // An exiting process has an empty cmdline ("other"): keep the role it was first seen with.
          const seen = cpuByPid.get(p.pid);
          const role = seen !== undefined && seen.role !== "other" ? seen.role : p.role;
          cpuByPid.set(p.pid, { role, cpuMs: Math.max(p.cpuMs, seen?.cpuMs ?? 0) });
        }
        peakTotal = Math.max(peakTotal, total);
        for (const role of ROLES) peakByRole[role] = Math.max(peakByRole[role], byRole[role]);
      };
      const sampler = setInterval(sample, 50);
      child.on("error", (error) => {
        clearInterval(sampler);
        reject(error);
      });
      child.on("close", (code) => {
        clearInterval(sampler);
        const wallMs = performance.now() - t0;
        if (code !== 0) {
          reject(new Error(`pulumi ${fullArgs.join(" ")} exited ${code}\n${stdout}\n${stderr}`));
          return;
        }
        const cpuMsByRole = zeroByRole();
        for (const { role, cpuMs } of cpuByPid.values()) cpuMsByRole[role] += cpuMs;
        const peakRssMiBByRole = zeroByRole();
        for (const role of ROLES) peakRssMiBByRole[role] = mib(peakByRole[role]);
        resolve({ stdout, wallMs, usage: { peakRssMiB: mib(peakTotal), peakRssMiBByRole, cpuMsByRole } });
      });
    });
  }

  async dispose(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

const PAGE_BYTES = 4096;
const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

function zeroByRole(): Record<Role, number> {
  return { engine: 0, languageHost: 0, program: 0, provider: 0, other: 0 };
}

function roleOf(cmdline: string): Role {
  if (cmdline.includes("dynamic-provider/index.js")) return "provider";
  if (cmdline.includes("cmd/run/index.js")) return "program";
  if (cmdline.includes("pulumi-language-nodejs")) return "languageHost";
  if (/(^|\/)pulumi$/.test(cmdline.split("\0")[0] ?? "")) return "engine";
  return "other";
}

/**
 * The processes of session `sid` with their resident memory and CPU time, from /proc (none where /proc is
 * unavailable). By session, not process group: the CLI starts each plugin in a process group of its own,
 * in the same session.
 */
function sessionProcesses(sid: number): { pid: string; role: Role; rssBytes: number; cpuMs: number }[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const found: { pid: string; role: Role; rssBytes: number; cpuMs: number }[] = [];
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
      // fields[0] is field 3 of proc(5): session is field 6, utime/stime 14/15, rss (pages) 24.
      if (Number(fields[3]) !== sid) continue;
      found.push({
        pid,
        role: roleOf(readFileSync(`/proc/${pid}/cmdline`, "utf8")),
        rssBytes: Number(fields[21]) * PAGE_BYTES,
        cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND,
      });
    } catch {
      // The process ended between readdir and read.
    }
  }
  return found;
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

function unchangedCount(stdout: string): number {
  return Number(/(\d+) unchanged/.exec(stdout)?.[1] ?? Number.NaN);
}

function summarize(samples: readonly PreviewSample[]): PreviewSummary {
  const of = (pick: (s: PreviewSample) => number) => round(medianOf(samples.map(pick)), 1);
  const byRole = (pick: (s: PreviewSample) => Record<Role, number>) => {
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

function totalCpuMs(sample: PreviewSample): number {
  return ROLES.reduce((sum, role) => sum + sample.cpuMsByRole[role], 0);
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
const mib = (bytes: number) => round(bytes / 2 ** 20, 1);

function callDelta(before: Counters, after: Counters): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const [method, count] of Object.entries(after.calls)) {
    const delta = count - (before.calls[method] ?? 0);
    if (delta > 0) calls[method] = delta;
  }
  return calls;
}

/** Runs the preview benchmark; `log` receives progress lines. */
export async function runPreviewBench(
  config: PreviewBenchConfig,
  log: (line: string) => void,
): Promise<PreviewBenchResult> {
  const binDir = await pulumiBinDir();
  const sim: Sim = await startSim({
    defaultOperationMs: 0,
    users: { [SIM_USER.username]: SIM_USER.password },
  });
  const count = { BENCH_PREVIEW_COUNT: String(config.n) };
  const xapi = await BenchProject.create("xapi", binDir, {
    ...count,
    XAPI_URL: sim.url,
    XAPI_USERNAME: SIM_USER.username,
    XAPI_PASSWORD: SIM_USER.password,
  });
  const noop = await BenchProject.create("noop", binDir, count);
  try {
    const seedUpMs = { xapi: 0, noop: 0 };
    const stateBytes = { xapi: 0, noop: 0 };
    for (const [name, project] of [
      ["xapi", xapi],
      ["noop", noop],
    ] as const) {
      await project.run(["stack", "init", "bench", "--secrets-provider", "passphrase"]);
      log(`preview bench: pulumi up of ${config.n} ${name} resources…`);
      const up = await project.run(["up", "--yes", "--skip-preview", "--parallel", "64"]);
      seedUpMs[name] = round(up.wallMs, 0);
      stateBytes[name] = Buffer.byteLength((await project.run(["stack", "export"])).stdout);
      log(`preview bench: up of ${name} took ${seedUpMs[name]} ms; state ${stateBytes[name]} bytes`);
    }
    await control(sim, "faults", { latencyMs: config.latencyMs });

    const samples = { xapi: [] as PreviewSample[], noop: [] as PreviewSample[] };
    const previewOnce = async (name: "xapi" | "noop"): Promise<PreviewSample> => {
      const project = name === "xapi" ? xapi : noop;
      const before = await control<Counters>(sim, "counters");
      const result = await project.run(["preview"]);
      const after = await control<Counters>(sim, "counters");
      const unchanged = unchangedCount(result.stdout);
      if (unchanged !== config.n + 1) {
        throw new Error(
          `the ${name} preview is not up to date: expected ${config.n + 1} unchanged\n${result.stdout}`,
        );
      }
      const sample: PreviewSample = { wallMs: round(result.wallMs, 0), ...result.usage };
      if (name === "noop") return sample;
      const xapiCalls = callDelta(before, after);
      if ((xapiCalls["VM.get_all_records"] ?? 0) === 0) {
        throw new Error(
          `the xapi preview did not read the pool: ${JSON.stringify(xapiCalls)}\n${result.stdout}`,
        );
      }
      return { ...sample, xapiCalls };
    };
    log("preview bench: warm-up previews…");
    await previewOnce("xapi");
    await previewOnce("noop");
    for (let r = 0; r < config.runs; r++) {
      const order = r % 2 === 0 ? (["xapi", "noop"] as const) : (["noop", "xapi"] as const);
      for (const name of order) samples[name].push(await previewOnce(name));
      const a = samples.xapi.at(-1);
      const b = samples.noop.at(-1);
      log(`preview bench: round ${r + 1}/${config.runs}: xapi ${a?.wallMs} ms, noop ${b?.wallMs} ms`);
    }

    const median = { xapi: summarize(samples.xapi), noop: summarize(samples.noop) };
    return {
      n: config.n,
      runs: config.runs,
      latencyMs: config.latencyMs,
      seedUpMs,
      stateBytes,
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
      xapiCallsPerPreview: samples.xapi.map((s) =>
        Object.values(s.xapiCalls ?? {}).reduce((sum, n) => sum + n, 0),
      ),
    };
  } finally {
    await Promise.all([xapi.dispose(), noop.dispose()]);
    await stopSim(sim);
  }
}
