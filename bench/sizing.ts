/**
 * `npm run bench -- --sizing`: vCPU and memory changes on a fleet of Running VMs, the provider's way (the
 * executor with its planner: live where XAPI can, one power cycle for what needs a Halted VM, shared with
 * a boot change) against two baselines: the naive way (for every changed property: shut down, set, start;
 * one VM at a time, as bench/naive.ts) and the Xen Orchestra Terraform provider's rule (one shutdown/start
 * around all of a VM's changes when its memory changes or its vCPUs go above the maximum, `xoSteps`; one
 * session, as many VMs at once as the provider has tasks). Against xapi-sim with the
 * realistic operation times of bench/optimes.ts. Reports guest restarts (domain builds) and wall time as
 * ratios, and checks that both runs converge every VM.
 *
 * The fleet (a seeded mix, `makeSizingWorkload`; each kind's declaration and naive setters: bench/sizing-jobs.ts):
 * - live vCPU increase (1 → 2 of at most 2): provider `VM.set_VCPUs_number_live`; naive one cycle;
 * - dynamic memory change (2 GiB → 1.5 GiB within static 0.5–2 GiB): provider `VM.set_memory_dynamic_range`
 *   live; naive one cycle;
 * - static max 2 → 4 GiB under `powerCycle: "allow"`: one cycle both ways;
 * - `vcpus.max` 2 → 4 and the HVM boot order "c" → "dc": provider one cycle; naive two (one per change).
 *
 * Flags (after `--sizing`): --n 100 (a list: 100,1000), --concurrency 16, --max-ops 4, --latency-ms 1,
 * --time-scale 100, --seed 42, --out <file> (default bench/results/<date>-sizing.json).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { closeAllConnections, getConnection } from "../provider/client";
import { createJsonRpcTransport } from "../provider/client/jsonrpc";
import { DEFAULT_MAX_CONCURRENT_OPERATIONS } from "../provider/client/limit";
import type { VmRecord } from "../provider/executor";
import { REAL_SETTER_MS, scaledOperationMs } from "./optimes";
import { type Counters, control, LIFECYCLE_METHOD, type Sim, startSim, stopSim } from "./sim";
import {
  type BaselineStep,
  convergeSizing,
  INITIAL,
  perChangeSteps,
  type SizingJob,
  SizingKind,
  wantedOf,
  xoSteps,
} from "./sizing-jobs";
import { prng } from "./workload";

const USER = { username: "root", password: "xapi-sim" };
/** The fixture's "db-01": a Halted HVM guest with PV drivers, cloned N times. */
const TEMPLATE_VM_UUID = "5a1f0000-0000-4000-8000-0000000000e2";

/** The share of each kind in the fleet. */
const MIX: readonly [SizingKind, number][] = [
  [SizingKind.liveVcpus, 30],
  [SizingKind.dynamicMemory, 30],
  [SizingKind.staticMax, 20],
  [SizingKind.maxAndBoot, 20],
];

interface SizingConfig {
  sizes: number[];
  concurrency: number;
  maxOps: number;
  latencyMs: number;
  timeScale: number;
  seed: number;
  out: string;
}

/** One side's measures. */
interface SideMetrics {
  wallMs: number;
  calls: number;
  lifecycleCalls: number;
  /** VM.start, VM.clean_reboot, VM.hard_reboot: guests booted. */
  domainBuilds: number;
  logins: number;
  /** VMs whose record and domain have the declared sizing and boot order, Running. */
  converged: number;
  callsByMethod: Record<string, number>;
}

interface SizingSizeResult {
  n: number;
  jobs: Record<SizingKind, number>;
  /** Domain builds the job list needs at least (one per job that needs a Halted VM). */
  minimumDomainBuilds: number;
  provider: SideMetrics;
  /** Per changed property a shutdown/set/start cycle, one VM at a time (as bench/naive.ts). */
  naive: SideMetrics;
  /** Xen Orchestra's Terraform provider's rule (`xoSteps`), one session, `--max-ops` VMs at a time. */
  xo: SideMetrics;
  ratios: Record<string, number>;
}

/** The fleet of `n` jobs (module comment). */
export function makeSizingWorkload(n: number, seed: number): SizingJob[] {
  const random = prng(seed);
  const total = MIX.reduce((sum, [, w]) => sum + w, 0);
  return Array.from({ length: n }, (_, index) => {
    let roll = random() * total;
    let kind: SizingKind = SizingKind.maxAndBoot;
    for (const [k, w] of MIX) {
      roll -= w;
      if (roll < 0) {
        kind = k;
        break;
      }
    }
    return { index, kind };
  });
}

function parseSizingConfig(argv: string[]): SizingConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizing: { type: "boolean", default: true },
      n: { type: "string", default: "100" },
      concurrency: { type: "string", default: "16" },
      "max-ops": { type: "string", default: String(DEFAULT_MAX_CONCURRENT_OPERATIONS) },
      "latency-ms": { type: "string", default: "1" },
      "time-scale": { type: "string", default: "100" },
      seed: { type: "string", default: "42" },
      out: { type: "string" },
    },
  });
  const date = new Date().toISOString().slice(0, 10);
  return {
    sizes: values.n
      .split(",")
      .map(Number)
      .filter((v) => v > 0),
    concurrency: Number(values.concurrency),
    maxOps: Number(values["max-ops"]),
    latencyMs: Number(values["latency-ms"]),
    timeScale: Number(values["time-scale"]),
    seed: Number(values.seed),
    out: values.out ?? path.join(__dirname, "..", "..", "bench", "results", `${date}-sizing.json`),
  };
}

/** Clones the template VM once per job, gives each the initial sizing and boot order, and starts it. */
async function prepare(sim: Sim, jobs: readonly SizingJob[]): Promise<string[]> {
  const transport = createJsonRpcTransport({ url: sim.url });
  const session = await transport("session.login_with_password", [
    USER.username,
    USER.password,
    "2.21",
    "bench",
  ]);
  try {
    const template = await transport("VM.get_by_uuid", [session, TEMPLATE_VM_UUID]);
    const uuids: string[] = new Array(jobs.length);
    await pool(jobs, 32, async (job) => {
      const ref = await transport("VM.clone", [session, template, `sizing-${job.index}`]);
      const uuid = (await transport("VM.get_uuid", [session, ref])) as string;
      uuids[job.index] = uuid;
      await control(sim, "setFields", { uuid, fields: { ...INITIAL } });
      await control(sim, "setGuest", { uuid, pvDrivers: true, vcpuHotplug: true, balloon: true });
      await control(sim, "setPowerState", { uuid, powerState: "Running" });
    });
    return uuids;
  } finally {
    await transport("session.logout", [session]);
    transport.close();
  }
}

async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A fresh simulator with the fleet prepared, then the realistic times and latency switched on. */
async function preparedSim(
  jobs: readonly SizingJob[],
  config: SizingConfig,
): Promise<{ sim: Sim; uuids: string[] }> {
  const sim = await startSim({ defaultOperationMs: 0, users: { root: USER.password } });
  const uuids = await prepare(sim, jobs);
  await control(sim, "config", { defaultOperationMs: 0, operationMs: scaledOperationMs(config.timeScale) });
  await control(sim, "faults", { latencyMs: config.latencyMs });
  return { sim, uuids };
}

/** Runs `run` and measures it from the simulator's counters; then checks every VM against its job. */
async function measure(
  sim: Sim,
  uuids: readonly string[],
  jobs: readonly SizingJob[],
  run: () => Promise<void>,
): Promise<SideMetrics> {
  const before = await control<Counters>(sim, "counters");
  const t0 = performance.now();
  await run();
  const wallMs = performance.now() - t0;
  const after = await control<Counters>(sim, "counters");
  const callsByMethod: Record<string, number> = {};
  for (const [method, count] of Object.entries(after.calls)) {
    const d = count - (before.calls[method] ?? 0);
    if (d > 0) callsByMethod[method] = d;
  }
  const sum = (match: (m: string) => boolean) =>
    Object.entries(callsByMethod)
      .filter(([m]) => match(m.replace(/^Async\./, "")))
      .reduce((s, [, n]) => s + n, 0);
  return {
    wallMs: Math.round(wallMs),
    calls: sum(() => true),
    lifecycleCalls: sum((m) => LIFECYCLE_METHOD.test(m)),
    domainBuilds: sum((m) => m === "VM.start" || m === "VM.clean_reboot" || m === "VM.hard_reboot"),
    logins: after.logins - before.logins,
    converged: await convergedCount(sim, uuids, jobs),
    callsByMethod,
  };
}

/** The simulator's state entry of a VM, as far as the check reads it. */
interface VmState {
  record: { uuid: string; power_state: string; HVM_boot_params: Record<string, string> } & Record<
    string,
    unknown
  >;
  sim: { domain?: { vcpus: number; vcpusMax: number; staticMax: number; dynamicMax: number } | null };
}

/** VMs Running with the declared record fields and a domain that runs them. */
async function convergedCount(
  sim: Sim,
  uuids: readonly string[],
  jobs: readonly SizingJob[],
): Promise<number> {
  const state = await control<{ vms: VmState[] }>(sim, "state");
  const byUuid = new Map(state.vms.map((v) => [v.record.uuid, v]));
  return jobs.filter((job) => {
    const vm = byUuid.get(uuids[job.index] ?? "");
    const want = { ...INITIAL, ...wantedOf(job.kind) };
    const d = vm?.sim.domain;
    return (
      vm !== undefined &&
      d != null &&
      vm.record.power_state === "Running" &&
      vm.record.VCPUs_max === want.VCPUs_max &&
      vm.record.memory_static_max === want.memory_static_max &&
      vm.record.memory_dynamic_max === want.memory_dynamic_max &&
      vm.record.HVM_boot_params.order === want.HVM_boot_params.order &&
      d.vcpus === want.VCPUs_at_startup &&
      d.vcpusMax === want.VCPUs_max &&
      d.staticMax === want.memory_static_max &&
      d.dynamicMax === want.memory_dynamic_max
    );
  }).length;
}

const ratio = (a: number, b: number) => (b === 0 ? Number.NaN : Math.round((a / b) * 100) / 100);

async function runSize(n: number, config: SizingConfig): Promise<SizingSizeResult> {
  const jobs = makeSizingWorkload(n, config.seed);
  const { sim, uuids } = await preparedSim(jobs, config);
  const conn = getConnection({ url: sim.url, ...USER, maxConcurrentOperations: config.maxOps });
  let provider: SideMetrics;
  try {
    provider = await measure(sim, uuids, jobs, async () => {
      const records = await conn.call<Record<string, VmRecord>>("VM.get_all_records");
      const pools = await conn.call<Record<string, Record<string, unknown>>>("pool.get_all_records");
      const byUuid = new Map(Object.entries(records).map(([ref, record]) => [record.uuid, { ref, record }]));
      await pool(jobs, config.concurrency, async (job) => {
        const uuid = uuids[job.index] as string;
        await convergeSizing(conn, uuid, byUuid.get(uuid), Object.values(pools)[0], job);
      });
    });
  } finally {
    await closeAllConnections();
  }
  await stopSim(sim);

  const naive = await naiveRun(jobs, config, { stepsOf: perChangeSteps, inFlight: 1, sessionPerCall: true });
  // Xen Orchestra's rule with one session and as many VMs in flight as the provider has tasks (a Terraform
  // run, bounded the way the provider bounds itself): its restarts, without the naive script's other costs.
  const xo = await naiveRun(jobs, config, {
    stepsOf: xoSteps,
    inFlight: config.maxOps,
    sessionPerCall: false,
  });
  const counts = Object.fromEntries(MIX.map(([k]) => [k, jobs.filter((j) => j.kind === k).length])) as Record<
    SizingKind,
    number
  >;
  return {
    n,
    jobs: counts,
    minimumDomainBuilds: counts[SizingKind.staticMax] + counts[SizingKind.maxAndBoot],
    provider,
    naive,
    xo,
    ratios: {
      "guest restarts naive/provider": ratio(naive.domainBuilds, provider.domainBuilds),
      "wall time naive/provider": ratio(naive.wallMs, provider.wallMs),
      "lifecycle calls naive/provider": ratio(naive.lifecycleCalls, provider.lifecycleCalls),
      "XAPI calls naive/provider": ratio(naive.calls, provider.calls),
      "guest restarts xo/provider": ratio(xo.domainBuilds, provider.domainBuilds),
      "wall time xo/provider": ratio(xo.wallMs, provider.wallMs),
    },
  };
}

/** How a baseline runs: its steps per kind, VMs in flight, and whether it logs in for every call. */
interface Baseline {
  readonly stepsOf: (kind: SizingKind) => BaselineStep[];
  readonly inFlight: number;
  readonly sessionPerCall: boolean;
}

/** A baseline on a fresh simulator with the same starting fleet. */
async function naiveRun(
  jobs: readonly SizingJob[],
  config: SizingConfig,
  baseline: Baseline,
): Promise<SideMetrics> {
  const { sim, uuids } = await preparedSim(jobs, config);
  const metrics = await measure(sim, uuids, jobs, () =>
    withCalls(sim.url, baseline.sessionPerCall, (call) =>
      pool(jobs, baseline.inFlight, (job) =>
        runBaseline(call, uuids[job.index] as string, baseline.stepsOf(job.kind)),
      ),
    ),
  );
  await stopSim(sim);
  return metrics;
}

/** Sends one XAPI call (method, then its arguments after the session). */
type Call = (method: string, ...args: unknown[]) => Promise<unknown>;

/**
 * A baseline for one VM: each step's setters, inside a clean shutdown and a start when the step cycles;
 * synchronous calls through `call`.
 */
async function runBaseline(call: Call, uuid: string, steps: readonly BaselineStep[]): Promise<void> {
  const ref = await call("VM.get_by_uuid", uuid);
  for (const step of steps) {
    if (step.cycle) await call("VM.clean_shutdown", ref);
    for (const [method, ...args] of step.setters) await call(method, ref, ...args);
    if (step.cycle) await call("VM.start", ref, false, false);
  }
}

/**
 * Calls over one transport: a login and logout around every call (the naive script of bench/naive.ts), or
 * one session for all (a client that keeps its connection, as Xen Orchestra does).
 */
async function withCalls<T>(
  url: string,
  sessionPerCall: boolean,
  body: (call: Call) => Promise<T>,
): Promise<T> {
  const transport = createJsonRpcTransport({ url });
  const login = () =>
    transport("session.login_with_password", [USER.username, USER.password, "1.0", "baseline"]);
  try {
    if (sessionPerCall) {
      return await body(async (method, ...args) => {
        const session = await login();
        try {
          return await transport(method, [session, ...args]);
        } finally {
          await transport("session.logout", [session]);
        }
      });
    }
    const session = await login();
    try {
      return await body((method, ...args) => transport(method, [session, ...args]));
    } finally {
      await transport("session.logout", [session]);
    }
  } finally {
    transport.close();
  }
}

/** Runs the sizing benchmark (`--sizing` and its flags) and writes its results. */
export async function runSizingBench(argv: string[], out: (line: string) => void): Promise<void> {
  const config = parseSizingConfig(argv);
  const machine = {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    node: process.version,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
  out(`machine: ${JSON.stringify(machine)}`);
  const results: SizingSizeResult[] = [];
  for (const n of config.sizes) {
    const result = await runSize(n, config);
    out(`\nsizing, N = ${n} Running VMs (${JSON.stringify(result.jobs)}):`);
    out(
      `  guest restarts: provider ${result.provider.domainBuilds} (least possible ${result.minimumDomainBuilds}), naive ${result.naive.domainBuilds}, xo rule ${result.xo.domainBuilds}`,
    );
    out(
      `  wall time (ms): provider ${result.provider.wallMs}, naive ${result.naive.wallMs}, xo rule ${result.xo.wallMs}`,
    );
    out(
      `  converged: provider ${result.provider.converged}/${n}, naive ${result.naive.converged}/${n}, xo rule ${result.xo.converged}/${n}`,
    );
    out(`  ratios: ${JSON.stringify(result.ratios)}`);
    results.push(result);
  }
  mkdirSync(path.dirname(config.out), { recursive: true });
  const { out: _out, ...settings } = config;
  const operationTimes = {
    operationMs: scaledOperationMs(config.timeScale),
    setterMs: REAL_SETTER_MS / config.timeScale,
  };
  writeFileSync(
    config.out,
    `${JSON.stringify({ date: new Date().toISOString(), machine, settings: { ...settings, operationTimes }, results }, null, 2)}\n`,
  );
  out(`\nresults written to ${path.relative(process.cwd(), config.out)}`);
}
