/**
 * `npm run bench`: the executor against xapi-sim with injected latency, N VMs with a mix of power
 * transitions and boot changes, next to the same workload driven the naive way (bench/naive.ts).
 *
 * Reports, per N: XAPI calls made vs the plan minimum, logins, guest restarts, wall time vs the
 * critical-path bound at the per-pool concurrency limit, and the client's CPU time per call; then the
 * naive/provider ratios. Table to stdout, JSON to bench/results/<date>.json.
 *
 * Flags: --n 100,1000  --concurrency 16  --latency-ms 1  --op-ms 20  --seed 42  --out <file>
 *        --preview (also the preview benchmark, bench/preview.ts)  --preview-only  --preview-n 1000
 *        --preview-runs 5
 * The simulator runs in a child process (bench/sim-child.ts), so CPU time measured here is the client's.
 *
 * Definitions:
 * - plan minimum: the state-changing calls (lifecycle + setters) of the plans the planner makes for
 *   the workload under the default policy; no client can do the job with fewer.
 * - critical-path bound: max(longest single-VM chain, Σ chains / concurrency), where a VM's chain is
 *   plan calls × the measured round trip of one call + plan lifecycle calls × the operation time.
 *   A lower bound for any client that makes only the plan's calls at that concurrency; the provider
 *   also makes the documented reads, task polls and task.destroy calls (provider/executor.ts).
 * - provider overhead per call: the benchmark process's CPU time (client only) / XAPI calls made.
 * Latency is scaled down (real XAPI operations take seconds) so that the naive baseline at N = 1000
 * finishes in about a minute; call counts and logins do not depend on it, wall times do.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { closeAllConnections, getConnection } from "../provider/client";
import { createJsonRpcTransport, type Transport } from "../provider/client/jsonrpc";
import { converge } from "../provider/executor";
import { DEFAULT_POLICY } from "../provider/model/plan";
import { planTransition } from "../provider/planner";
import { runNaive } from "./naive";
import { type PreviewBenchResult, ROLES, runPreviewBench } from "./preview";
import { type Counters, control, processCpuMs, type Sim, startSim, stopSim } from "./sim";
import { INITIAL_BOOT_PARAMS, type Job, makeWorkload } from "./workload";

interface Config {
  sizes: number[];
  concurrency: number;
  latencyMs: number;
  opMs: number;
  seed: number;
  out: string;
  /** Run the preview benchmark (bench/preview.ts) too, with these settings; `undefined` = not. */
  preview: { n: number; runs: number } | undefined;
}

/** One side of the comparison. */
interface RunMetrics {
  wallMs: number;
  calls: number;
  /** Lifecycle + setter calls (what a plan consists of). */
  stateChangingCalls: number;
  lifecycleCalls: number;
  setterCalls: number;
  /** start / clean_reboot / hard_reboot: guests rebooted or booted. */
  domainBuilds: number;
  /** Suspended or Paused VMs whose state was discarded by a hard shutdown. */
  hardShutdowns: number;
  reads: number;
  taskPolls: number;
  logins: number;
  converged: number;
  cpuMs: number;
  /** CPU time of the simulator process during the run (Linux /proc; NaN elsewhere). */
  simCpuMs: number;
  /** Tasks still alive on the simulator right after the run (should be 0: every task is destroyed). */
  tasksLeft: number;
}

interface SizeResult {
  n: number;
  planMinimum: { calls: number; lifecycleCalls: number };
  criticalPathBoundMs: number;
  /** Measured round trip of one cheap call, injected latency included. */
  roundTripMs: number;
  provider: RunMetrics;
  naive: RunMetrics;
  ratios: Record<string, number>;
  derived: Record<string, number>;
}

const USER = { username: "root", password: "xapi-sim" };
const SIM_USERS = { root: "xapi-sim" };
const CREDS = { ...USER };
/** The fixture's "db-01": a Halted HVM guest with PV drivers, cloned N times. */
const TEMPLATE_VM_UUID = "5a1f0000-0000-4000-8000-0000000000e2";

function parseConfig(argv: string[]): Config {
  const { values } = parseArgs({
    args: argv,
    options: {
      n: { type: "string", default: "100,1000" },
      concurrency: { type: "string", default: "16" },
      "latency-ms": { type: "string", default: "1" },
      "op-ms": { type: "string", default: "20" },
      seed: { type: "string", default: "42" },
      out: { type: "string" },
      preview: { type: "boolean", default: false },
      "preview-only": { type: "boolean", default: false },
      "preview-n": { type: "string", default: "1000" },
      "preview-runs": { type: "string", default: "5" },
    },
  });
  const previewOnly = values["preview-only"];
  const date = new Date().toISOString().slice(0, 10);
  return {
    sizes: previewOnly ? [] : values.n.split(",").map(Number),
    concurrency: Number(values.concurrency),
    latencyMs: Number(values["latency-ms"]),
    opMs: Number(values["op-ms"]),
    seed: Number(values.seed),
    out: values.out ?? path.join(__dirname, "..", "..", "bench", "results", `${date}.json`),
    preview:
      values.preview || previewOnly
        ? { n: Number(values["preview-n"]), runs: Number(values["preview-runs"]) }
        : undefined,
  };
}

// ---------------------------------------------------------------- simulator sessions

/** One bench-side session (not the provider's): open, log in, run `fn`, log out, close. */
async function withBenchSession<T>(
  sim: Sim,
  originator: string,
  fn: (transport: Transport, session: unknown) => Promise<T>,
): Promise<T> {
  const transport = createJsonRpcTransport({ url: sim.url });
  const session = await transport("session.login_with_password", [
    USER.username,
    USER.password,
    "2.21",
    originator,
  ]);
  try {
    return await fn(transport, session);
  } finally {
    await transport("session.logout", [session]);
    transport.close();
  }
}

/** Clone the template VM n times and put each clone in its job's starting state. */
async function prepare(sim: Sim, jobs: readonly Job[]): Promise<string[]> {
  return withBenchSession(sim, "bench-setup", async (transport, session) => {
    const template = await transport("VM.get_by_uuid", [session, TEMPLATE_VM_UUID]);
    const uuids: string[] = new Array(jobs.length);
    await pool(jobs, 32, async (job) => {
      const ref = await transport("VM.clone", [session, template, `bench-${job.index}`]);
      uuids[job.index] = (await transport("VM.get_uuid", [session, ref])) as string;
      await transport("VM.set_HVM_boot_params", [session, ref, INITIAL_BOOT_PARAMS]);
    });
    await pool(jobs, 32, async (job) => {
      await control(sim, "setPowerState", { uuid: uuids[job.index], powerState: job.from });
    });
    return uuids;
  });
}

/**
 * The real round trip of one cheap call on this machine (injected latency included), measured
 * sequentially before a run: the critical-path bound uses it instead of the configured latency,
 * because loopback HTTP + JSON on the simulator side costs time of its own.
 */
async function measureRoundTrip(sim: Sim, vm: string): Promise<number> {
  return withBenchSession(sim, "bench-rtt", async (transport, session) => {
    const ref = await transport("VM.get_by_uuid", [session, vm]);
    const samples = 100;
    const t0 = performance.now();
    for (let i = 0; i < samples; i++) await transport("VM.get_power_state", [session, ref]);
    return (performance.now() - t0) / samples;
  });
}

/** Read every VM's power state and boot order after a run (not counted: counters are read before). */
async function verify(sim: Sim, uuids: readonly string[], jobs: readonly Job[]): Promise<number> {
  return withBenchSession(sim, "bench-verify", async (transport, session) => {
    const records = (await transport("VM.get_all_records", [session])) as Record<
      string,
      { uuid: string; power_state: string; HVM_boot_params: Record<string, string> }
    >;
    const byUuid = new Map(Object.values(records).map((r) => [r.uuid, r]));
    return jobs.filter((job) => {
      const record = byUuid.get(uuids[job.index] ?? "");
      const wantOrder = job.boot?.HVM_boot_params?.order ?? INITIAL_BOOT_PARAMS.order;
      return record?.power_state === job.to && record.HVM_boot_params.order === wantOrder;
    }).length;
  });
}

// ---------------------------------------------------------------- runs

async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function measure(
  sim: Sim,
  uuids: readonly string[],
  jobs: readonly Job[],
  run: () => Promise<void>,
): Promise<RunMetrics> {
  const before = await control<Counters>(sim, "counters");
  const simCpu0 = processCpuMs(sim.child.pid);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const simCpuMs = processCpuMs(sim.child.pid) - simCpu0;
  const after = await control<Counters>(sim, "counters");
  const delta = (match: (method: string) => boolean) =>
    Object.entries(after.calls)
      .filter(([method]) => match(method.replace(/^Async\./, "")))
      .reduce((sum, [method, n]) => sum + n - (before.calls[method] ?? 0), 0);
  const lifecycle = (m: string) => /^VM\.(start|pause|unpause|suspend|resume|clean_|hard_|shutdown)/.test(m);
  return {
    wallMs: round(wallMs, 1),
    calls: delta(() => true),
    stateChangingCalls: delta((m) => lifecycle(m) || m.startsWith("VM.set_")),
    lifecycleCalls: delta(lifecycle),
    setterCalls: delta((m) => m.startsWith("VM.set_")),
    domainBuilds: delta((m) => m === "VM.start" || m === "VM.clean_reboot" || m === "VM.hard_reboot"),
    hardShutdowns: delta((m) => m === "VM.hard_shutdown"),
    reads: delta((m) => m.startsWith("VM.get_")),
    taskPolls: delta((m) => m === "task.get_record" || m === "task.get_status"),
    logins: after.logins - before.logins,
    converged: await verify(sim, uuids, jobs),
    cpuMs: round((cpu.user + cpu.system) / 1000, 1),
    simCpuMs: round(simCpuMs, 1),
    tasksLeft: after.liveTasks,
  };
}

async function runSize(n: number, config: Config): Promise<SizeResult> {
  const jobs = makeWorkload(n, config.seed);

  // Provider run first: start the simulator, measure the real round trip for the bound.
  let sim = await startSim({ defaultOperationMs: config.opMs, users: SIM_USERS });
  let uuids = await prepare(sim, jobs);
  await control(sim, "faults", { latencyMs: config.latencyMs });
  const roundTripMs = await measureRoundTrip(sim, uuids[0] as string);

  // The plan minimum and the critical-path bound, from the same planner the provider uses.
  let planCalls = 0;
  let planLifecycle = 0;
  const chains = jobs.map((job) => {
    const planned = planTransition({
      observedPowerState: job.from,
      observedBoot: {
        domain_type: "hvm",
        HVM_boot_policy: "BIOS order",
        HVM_boot_params: INITIAL_BOOT_PARAMS,
        PV_bootloader: "",
        PV_kernel: "",
        PV_ramdisk: "",
        PV_args: "",
        PV_bootloader_args: "",
      },
      declaredPowerState: job.to,
      declaredBoot: job.boot,
      policy: DEFAULT_POLICY,
    });
    if (!planned.ok) throw new Error(planned.failure.reason);
    planCalls += planned.plan.steps.length;
    planLifecycle += planned.plan.lifecycleCalls;
    return planned.plan.steps.length * roundTripMs + planned.plan.lifecycleCalls * config.opMs;
  });
  const total = chains.reduce((a, b) => a + b, 0);
  const criticalPathBoundMs = Math.max(Math.max(...chains), total / config.concurrency);

  const conn = getConnection({ url: sim.url, ...CREDS });
  const provider = await measure(sim, uuids, jobs, () =>
    pool(jobs, config.concurrency, async (job) => {
      const target = job.boot === undefined ? { powerState: job.to } : { powerState: job.to, boot: job.boot };
      await converge(conn, { uuid: uuids[job.index] as string }, target, DEFAULT_POLICY);
    }),
  );
  await closeAllConnections();
  await stopSim(sim);

  // Naive baseline, on a fresh simulator with the same starting states.
  sim = await startSim({ defaultOperationMs: config.opMs, users: SIM_USERS });
  uuids = await prepare(sim, jobs);
  await control(sim, "faults", { latencyMs: config.latencyMs });
  const simUrl = sim.url;
  const naive = await measure(sim, uuids, jobs, async () => {
    for (const job of jobs) await runNaive({ url: simUrl, ...CREDS }, uuids[job.index] as string, job);
  });
  await stopSim(sim);

  const ratio = (a: number, b: number) => (b === 0 ? Number.NaN : round(a / b, 2));
  return {
    n,
    planMinimum: { calls: planCalls, lifecycleCalls: planLifecycle },
    criticalPathBoundMs: round(criticalPathBoundMs, 1),
    roundTripMs: round(roundTripMs, 2),
    provider,
    naive,
    ratios: {
      "wall time naive/provider": ratio(naive.wallMs, provider.wallMs),
      "XAPI calls naive/provider": ratio(naive.calls, provider.calls),
      "state-changing calls naive/provider": ratio(naive.stateChangingCalls, provider.stateChangingCalls),
      "guest boots naive/provider": ratio(naive.domainBuilds, provider.domainBuilds),
      "logins naive/provider": ratio(naive.logins, provider.logins),
    },
    derived: {
      "provider state-changing calls / plan minimum": ratio(provider.stateChangingCalls, planCalls),
      "provider XAPI calls / plan minimum": ratio(provider.calls, planCalls),
      "provider wall / critical-path bound": ratio(provider.wallMs, criticalPathBoundMs),
      "provider task polls per lifecycle call": ratio(provider.taskPolls, provider.lifecycleCalls),
      "provider client CPU per call (µs)": round((provider.cpuMs * 1000) / provider.calls, 1),
      "naive client CPU per call (µs)": round((naive.cpuMs * 1000) / naive.calls, 1),
    },
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// ---------------------------------------------------------------- output

function printTable(result: SizeResult, config: Config): void {
  const rows: [string, string | number, string | number][] = [
    ["wall time (ms)", round(result.provider.wallMs, 0), round(result.naive.wallMs, 0)],
    ["XAPI calls", result.provider.calls, result.naive.calls],
    [
      `state-changing calls (plan minimum ${result.planMinimum.calls})`,
      result.provider.stateChangingCalls,
      result.naive.stateChangingCalls,
    ],
    [
      `lifecycle calls (plan minimum ${result.planMinimum.lifecycleCalls})`,
      result.provider.lifecycleCalls,
      result.naive.lifecycleCalls,
    ],
    ["guest boots (start/reboot)", result.provider.domainBuilds, result.naive.domainBuilds],
    ["hard shutdowns", result.provider.hardShutdowns, result.naive.hardShutdowns],
    ["reads (VM.get_*)", result.provider.reads, result.naive.reads],
    ["task polls", result.provider.taskPolls, result.naive.taskPolls],
    ["logins", result.provider.logins, result.naive.logins],
    ["tasks left behind", result.provider.tasksLeft, result.naive.tasksLeft],
    ["VMs converged", `${result.provider.converged}/${result.n}`, `${result.naive.converged}/${result.n}`],
    ["client CPU (ms)", round(result.provider.cpuMs, 0), round(result.naive.cpuMs, 0)],
    ["simulator CPU (ms)", round(result.provider.simCpuMs, 0), round(result.naive.simCpuMs, 0)],
  ];
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  const line = (a: string, b: string, c: string) => `${a.padEnd(width)}${b.padStart(14)}${c.padStart(14)}`;
  process.stdout.write(
    `\nN = ${result.n} VMs, concurrency ${config.concurrency}, latency ${config.latencyMs} ms/call, ${config.opMs} ms/operation; measured round trip ${result.roundTripMs} ms; critical-path bound ${result.criticalPathBoundMs} ms\n`,
  );
  process.stdout.write(`${line("", "pulumi-xapi", "naive")}\n`);
  for (const [name, a, b] of rows) process.stdout.write(`${line(name, String(a), String(b))}\n`);
  for (const [name, value] of Object.entries({ ...result.ratios, ...result.derived })) {
    process.stdout.write(`${line(name, String(value), "")}\n`);
  }
}

function printPreview(p: PreviewBenchResult): void {
  const { xapi: a, noop: b } = p.median;
  const rows: [string, string | number, string | number][] = [
    ["preview wall time (ms)", a.wallMs, b.wallMs],
    ["CPU time, all processes (ms)", a.cpuMs, b.cpuMs],
    ["peak RSS, all processes (MiB)", a.peakRssMiB, b.peakRssMiB],
    ...ROLES.filter((r) => r !== "other").map((r): [string, number, number] => [
      `  peak RSS, ${r} (MiB)`,
      a.peakRssMiBByRole[r],
      b.peakRssMiBByRole[r],
    ]),
    ...ROLES.filter((r) => r !== "other").map((r): [string, number, number] => [
      `CPU time, ${r} (ms)`,
      a.cpuMsByRole[r],
      b.cpuMsByRole[r],
    ]),
    ["XAPI calls per preview", p.xapiCallsPerPreview.join(", "), "-"],
    ["seeding `pulumi up` (ms, not a median)", p.seedUpMs.xapi, p.seedUpMs.noop],
    ["state size (KiB)", Math.round(p.stateBytes.xapi / 1024), Math.round(p.stateBytes.noop / 1024)],
  ];
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  const line = (x: string, y: string, z: string) => `${x.padEnd(width)}${y.padStart(14)}${z.padStart(14)}`;
  process.stdout.write(
    `\npulumi preview of ${p.n} up-to-date resources: medians of ${p.runs} rounds alternating A/B, ${p.latencyMs} ms latency per XAPI call\n`,
  );
  process.stdout.write(`${line("", "xapi.Vm (A)", "no-op (B)")}\n`);
  for (const [name, x, y] of rows) process.stdout.write(`${line(name, String(x), String(y))}\n`);
  const ratios: [string, number][] = [
    ["wall time A / B (of the medians)", p.ratios.wallTime],
    ["wall time A / B (median of the rounds)", p.ratios.wallTimeByRound],
    ["CPU time A / B", p.ratios.cpuTime],
    ["peak RSS A / B", p.ratios.peakRss],
  ];
  for (const [name, value] of ratios) process.stdout.write(`${line(name, String(value), "")}\n`);
  const calls = p.xapi[0]?.xapiCalls;
  if (calls !== undefined) process.stdout.write(`XAPI calls of A's preview: ${JSON.stringify(calls)}\n`);
}

async function main(): Promise<void> {
  const config = parseConfig(process.argv.slice(2));
  const machine = {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    totalMemoryGiB: round(os.totalmem() / 2 ** 30, 1),
    // Other work on the machine skews wall times (not call counts); recorded so readers can judge.
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
  };
  process.stdout.write(`machine: ${JSON.stringify(machine)}\n`);
  const results: SizeResult[] = [];
  for (const n of config.sizes) {
    const result = await runSize(n, config);
    printTable(result, config);
    results.push(result);
  }
  let preview: PreviewBenchResult | undefined;
  if (config.preview !== undefined) {
    preview = await runPreviewBench({ ...config.preview, latencyMs: config.latencyMs }, (line) =>
      process.stdout.write(`${line}\n`),
    );
    printPreview(preview);
  }
  mkdirSync(path.dirname(config.out), { recursive: true });
  const { out: _out, ...settings } = config;
  writeFileSync(
    config.out,
    `${JSON.stringify({ date: new Date().toISOString(), machine, settings, results, ...(preview === undefined ? {} : { preview }) }, null, 2)}\n`,
  );
  process.stdout.write(`\nresults written to ${path.relative(process.cwd(), config.out)}\n`);
}

void main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
