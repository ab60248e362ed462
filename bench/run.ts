/**
 * `npm run bench`: pulumi-xapi measured against baselines, every comparison a ratio of two runs made
 * side by side in the same process on the same machine (never a timed test). Parts:
 *
 * 1. Executor (always): the executor (provider/executor.ts) against xapi-sim, N VMs with a mix of power
 *    transitions and boot changes (bench/workload.ts), next to the same workload driven the naive way
 *    (bench/naive.ts). Reports XAPI calls per planned call (the simulator's call counters / the
 *    lifecycle + setter calls of the plans), logins, guest restarts, wall time vs the critical-path
 *    bound, the client's CPU time per call; then the naive/provider ratios.
 * 2. Ansible (default at N = 100; `--ansible-n 0` skips it): the peer baseline, Ansible's
 *    `community.general.xenserver_guest_powerstate` unmodified (bench/ansible.ts), on the workload's
 *    transitions it can express, next to the executor on the same transitions, same simulator settings.
 * 3. Pulumi (opt-in, `--pulumi`; bench/pulumi.ts): `pulumi up` of N new and `pulumi preview` of N
 *    up-to-date `xapi.Vm`s against the same commands on N no-op dynamic resources, alternating rounds,
 *    with the state bytes per resource, and issue #14's acceptance checks (reported, never fatal).
 *
 * Table to stdout, a summary at the end, JSON to bench/results/<date>.json.
 *
 * Flags:
 *   --n 100,1000         executor sizes (N VMs)               --concurrency 16   VMs in flight (Ansible: --forks)
 *   --latency-ms 1       injected latency per XAPI call       --seed 42          workload seed
 *   --max-ops 4          the provider's tasks at once per pool (maxConcurrentOperations; its default)
 *   --time-scale 100     realistic operation times ÷ this (bench/optimes.ts: VM.start 8 s → 80 ms, …)
 *   --op-ms <ms>         instead: every operation takes <ms> (the pre-#14 uniform model)
 *   --ansible-n 100      Ansible comparison sizes (0: skip)   --out <file>
 *   --no-naive           skip the naive baseline (it is sequential: minutes at N = 1,000)
 *   --pulumi             also the Pulumi part                 --pulumi-only      only the Pulumi part
 *   --pulumi-n 100,1000  its sizes    --up-runs 1   up rounds per size (a list: one per size, last repeats)
 *   --preview-runs 3     preview rounds per size              --parallel 64      `pulumi up --parallel`
 *   --sizing             only the vCPU/memory comparison (bench/sizing.ts: its flags there)
 *   --preview / --preview-only / --preview-n: the former preview-only flags, now aliases of --pulumi /
 *   --pulumi-only / --pulumi-n.
 * The simulator runs in a child process (bench/sim-child.ts), so CPU time measured here is the client's.
 *
 * Definitions:
 * - planned calls (plan minimum): the state-changing calls (lifecycle + setters) of the plans the
 *   planner makes for the workload under the default policy; no client can do the job with fewer.
 *   XAPI calls per planned call = all calls the simulator counted during the run (reads, task waits,
 *   logins included) / planned calls.
 * - operation times: each XAPI operation's representative real time ÷ `--time-scale` (bench/optimes.ts),
 *   e.g. VM.start 8 s, clean_shutdown 15 s, suspend/resume 12 s, pause/unpause 0.1 s; setters 30 ms (the
 *   simulator gives setters no time of their own: they cost a round trip).
 * - critical-path bound = max(max_i chain_i, Σ_i chain_i / concurrency), where chain_i = Σ over VM i's
 *   planned calls of (measured round trip + the call's scaled operation time; a setter counts
 *   max(round trip, 30 ms ÷ scale)). A lower bound for any client that makes only the plan's calls at
 *   that concurrency. The provider also runs at most `--max-ops` tasks at once per pool
 *   (provider/client/limit.ts), hence a second bound: max(the bound above, Σ over every lifecycle call of
 *   (round trip + its operation time) / min(max-ops, concurrency)).
 * - client overhead per call: the benchmark process's CPU time (client only) / XAPI calls made.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { closeAllConnections, getConnection } from "../provider/client";
import { createJsonRpcTransport, type Transport } from "../provider/client/jsonrpc";
import { DEFAULT_MAX_CONCURRENT_OPERATIONS } from "../provider/client/limit";
import { converge, type VmRecord } from "../provider/executor";
import { DEFAULT_POLICY, type Plan } from "../provider/model/plan";
import { planTransition } from "../provider/planner";
import { type AnsibleRun, ansibleStates, ansibleVersion, runAnsible } from "./ansible";
import { runNaive } from "./naive";
import {
  chainMs,
  criticalPathBound,
  criticalPathBoundAtLimit,
  operationsMs,
  REAL_OPERATION_MS,
  REAL_SETTER_MS,
  scaledOperationMs,
} from "./optimes";
import { type PulumiBenchResult, type PulumiSizeResult, runPulumiBench } from "./pulumi";
import { type Counters, control, LIFECYCLE_METHOD, processCpuMs, type Sim, startSim, stopSim } from "./sim";
import { runSizingBench } from "./sizing";
import { INITIAL_BOOT_PARAMS, type Job, makeWorkload } from "./workload";

interface Config {
  sizes: number[];
  concurrency: number;
  /** The provider connection's tasks at once per pool (`maxConcurrentOperations`; provider/client/limit.ts). */
  maxOps: number;
  latencyMs: number;
  /** Realistic operation times ÷ this; ignored when `opMs` is set. */
  timeScale: number;
  /** Every operation takes this long (the uniform model), or undefined for the realistic times. */
  opMs: number | undefined;
  seed: number;
  out: string;
  naive: boolean;
  ansibleSizes: number[];
  /** The Pulumi part's settings; `undefined` = not run. */
  pulumi: { sizes: number[]; upRuns: number[]; previewRuns: number; parallel: number } | undefined;
}

/** The simulator's operation times and the bound's setter time, from the config. */
interface OperationTimes {
  operationMs: Record<string, number>;
  setterMs: number;
  /** How they were made, for the results. */
  model: string;
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
  /** Every XAPI call of the run, by method. */
  callsByMethod: Record<string, number>;
}

interface SizeResult {
  n: number;
  planMinimum: { calls: number; lifecycleCalls: number };
  criticalPathBoundMs: number;
  /** The bound for a client running at most `--max-ops` tasks at once (the provider's per-pool limit). */
  criticalPathBoundAtOperationLimitMs: number;
  /** Measured round trip of one cheap call, injected latency included. */
  roundTripMs: number;
  provider: RunMetrics;
  naive: RunMetrics | undefined;
  ratios: Record<string, number>;
  derived: Record<string, number>;
}

interface AnsibleSizeResult {
  /** The workload's size; `jobs` of its jobs are the ones Ansible can express. */
  n: number;
  jobs: number;
  skipped: { reason: string; jobs: number }[];
  planMinimum: { calls: number; lifecycleCalls: number };
  criticalPathBoundMs: number;
  /** The bound for a client running at most `--max-ops` tasks at once (the provider's per-pool limit). */
  criticalPathBoundAtOperationLimitMs: number;
  roundTripMs: number;
  provider: RunMetrics;
  /** Ansible's run; `cpuMs` is ansible-playbook's and all its processes'. */
  ansible: RunMetrics & Omit<AnsibleRun, "wallMs" | "cpuMs">;
  ratios: Record<string, number>;
  derived: Record<string, number>;
}

type AnsibleSection = { version: string; forks: number; sizes: AnsibleSizeResult[] } | { skipped: string };

const USER = { username: "root", password: "xapi-sim" };
const SIM_USERS = { root: "xapi-sim" };
const CREDS = { ...USER };
/** The fixture's "db-01": a Halted HVM guest with PV drivers, cloned N times. */
const TEMPLATE_VM_UUID = "5a1f0000-0000-4000-8000-0000000000e2";

const list = (value: string) =>
  value
    .split(",")
    .filter((v) => v.trim() !== "")
    .map(Number)
    .filter((v) => v > 0);

function parseConfig(argv: string[]): Config {
  const { values } = parseArgs({
    args: argv,
    options: {
      n: { type: "string", default: "100,1000" },
      concurrency: { type: "string", default: "16" },
      "max-ops": { type: "string", default: String(DEFAULT_MAX_CONCURRENT_OPERATIONS) },
      "latency-ms": { type: "string", default: "1" },
      "time-scale": { type: "string", default: "100" },
      "op-ms": { type: "string" },
      seed: { type: "string", default: "42" },
      out: { type: "string" },
      "no-naive": { type: "boolean", default: false },
      "ansible-n": { type: "string", default: "100" },
      pulumi: { type: "boolean", default: false },
      "pulumi-only": { type: "boolean", default: false },
      "pulumi-n": { type: "string" },
      "up-runs": { type: "string", default: "1" },
      "preview-runs": { type: "string", default: "3" },
      parallel: { type: "string", default: "64" },
      // The former preview-only flags.
      preview: { type: "boolean", default: false },
      "preview-only": { type: "boolean", default: false },
      "preview-n": { type: "string" },
    },
  });
  const pulumiOnly = values["pulumi-only"] || values["preview-only"];
  const date = new Date().toISOString().slice(0, 10);
  return {
    sizes: pulumiOnly ? [] : list(values.n),
    concurrency: Number(values.concurrency),
    maxOps: Number(values["max-ops"]),
    latencyMs: Number(values["latency-ms"]),
    timeScale: Number(values["time-scale"]),
    opMs: values["op-ms"] === undefined ? undefined : Number(values["op-ms"]),
    seed: Number(values.seed),
    out: values.out ?? path.join(__dirname, "..", "..", "bench", "results", `${date}.json`),
    naive: !values["no-naive"],
    ansibleSizes: pulumiOnly ? [] : list(values["ansible-n"]),
    pulumi:
      values.pulumi || values.preview || pulumiOnly
        ? {
            sizes: list(values["pulumi-n"] ?? values["preview-n"] ?? "100,1000"),
            upRuns: list(values["up-runs"]),
            previewRuns: Number(values["preview-runs"]),
            parallel: Number(values.parallel),
          }
        : undefined,
  };
}

function operationTimes(config: Config): OperationTimes {
  if (config.opMs !== undefined) {
    const ms = config.opMs;
    return {
      operationMs: Object.fromEntries(Object.keys(REAL_OPERATION_MS).map((op) => [op, ms])),
      setterMs: 0,
      model: `uniform: every operation ${ms} ms (--op-ms)`,
    };
  }
  return {
    operationMs: scaledOperationMs(config.timeScale),
    setterMs: REAL_SETTER_MS / config.timeScale,
    model: `realistic ÷ ${config.timeScale} (bench/optimes.ts; --time-scale)`,
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

/** A fresh simulator, `jobs`' VMs prepared (at no operation cost), then the run's times and latency set. */
async function preparedSim(
  jobs: readonly Job[],
  times: OperationTimes,
  config: Config,
): Promise<{ sim: Sim; uuids: string[] }> {
  const sim = await startSim({ defaultOperationMs: 0, users: SIM_USERS });
  const uuids = await prepare(sim, jobs);
  await control(sim, "config", { defaultOperationMs: 0, operationMs: times.operationMs });
  await control(sim, "faults", { latencyMs: config.latencyMs });
  return { sim, uuids };
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
  const callsByMethod: Record<string, number> = {};
  for (const [method, count] of Object.entries(after.calls)) {
    const d = count - (before.calls[method] ?? 0);
    if (d > 0) callsByMethod[method] = d;
  }
  const delta = (match: (method: string) => boolean) =>
    Object.entries(callsByMethod)
      .filter(([method]) => match(method.replace(/^Async\./, "")))
      .reduce((sum, [, n]) => sum + n, 0);
  const lifecycle = (m: string) => LIFECYCLE_METHOD.test(m);
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
    callsByMethod,
  };
}

/** The planner's plan for each job (the default policy), from the VMs' prepared starting state. */
function plansOf(jobs: readonly Job[]): Plan[] {
  return jobs.map((job) => {
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
    return planned.plan;
  });
}

/** The plans' call counts and the critical-path bounds (see the header). */
function bound(plans: readonly Plan[], roundTripMs: number, times: OperationTimes, config: Config) {
  const chains = plans.map((plan) => chainMs(plan.steps, roundTripMs, times.operationMs, times.setterMs));
  const operationTotal = plans.reduce(
    (sum, p) => sum + operationsMs(p.steps, roundTripMs, times.operationMs),
    0,
  );
  return {
    planMinimum: {
      calls: plans.reduce((sum, p) => sum + p.steps.length, 0),
      lifecycleCalls: plans.reduce((sum, p) => sum + p.lifecycleCalls, 0),
    },
    criticalPathBoundMs: round(criticalPathBound(chains, config.concurrency), 1),
    criticalPathBoundAtOperationLimitMs: round(
      criticalPathBoundAtLimit(chains, operationTotal, config.concurrency, config.maxOps),
      1,
    ),
  };
}

/** The executor converging every job, `concurrency` VMs at a time, over one connection. */
async function runProvider(
  sim: Sim,
  uuids: readonly string[],
  jobs: readonly Job[],
  config: Config,
): Promise<RunMetrics> {
  const concurrency = config.concurrency;
  const conn = getConnection({ url: sim.url, ...CREDS, maxConcurrentOperations: config.maxOps });
  try {
    return await measure(sim, uuids, jobs, async () => {
      // As the provider plans a run: every VM's ref and record from one batched read (its pool snapshot).
      const records = await conn.call<Record<string, VmRecord>>("VM.get_all_records");
      const byUuid = new Map(Object.entries(records).map(([ref, record]) => [record.uuid, { ref, record }]));
      await pool(jobs, concurrency, async (job) => {
        const uuid = uuids[job.index] as string;
        const known = byUuid.get(uuid);
        const target =
          job.boot === undefined ? { powerState: job.to } : { powerState: job.to, boot: job.boot };
        await converge(conn, { uuid, ref: known?.ref }, target, DEFAULT_POLICY, { record: known?.record });
      });
    });
  } finally {
    await closeAllConnections();
  }
}

const ratio = (a: number, b: number) => (b === 0 ? Number.NaN : round(a / b, 2));

async function runSize(n: number, config: Config, times: OperationTimes): Promise<SizeResult> {
  const jobs = makeWorkload(n, config.seed);

  // Provider run first: start the simulator, measure the real round trip for the bound.
  let { sim, uuids } = await preparedSim(jobs, times, config);
  const roundTripMs = await measureRoundTrip(sim, uuids[0] as string);
  const { planMinimum, criticalPathBoundMs, criticalPathBoundAtOperationLimitMs } = bound(
    plansOf(jobs),
    roundTripMs,
    times,
    config,
  );
  const provider = await runProvider(sim, uuids, jobs, config);
  await stopSim(sim);

  // Naive baseline, on a fresh simulator with the same starting states.
  let naive: RunMetrics | undefined;
  if (config.naive) {
    ({ sim, uuids } = await preparedSim(jobs, times, config));
    const simUrl = sim.url;
    const naiveUuids = uuids;
    naive = await measure(sim, uuids, jobs, async () => {
      for (const job of jobs) await runNaive({ url: simUrl, ...CREDS }, naiveUuids[job.index] as string, job);
    });
    await stopSim(sim);
  }

  const ratios: Record<string, number> =
    naive === undefined
      ? {}
      : {
          "wall time naive/provider": ratio(naive.wallMs, provider.wallMs),
          "XAPI calls naive/provider": ratio(naive.calls, provider.calls),
          "state-changing calls naive/provider": ratio(naive.stateChangingCalls, provider.stateChangingCalls),
          "guest boots naive/provider": ratio(naive.domainBuilds, provider.domainBuilds),
          "logins naive/provider": ratio(naive.logins, provider.logins),
        };
  return {
    n,
    planMinimum,
    criticalPathBoundMs,
    criticalPathBoundAtOperationLimitMs,
    roundTripMs: round(roundTripMs, 2),
    provider,
    naive,
    ratios,
    derived: {
      "provider XAPI calls per planned call": ratio(provider.calls, planMinimum.calls),
      "provider state-changing calls / plan minimum": ratio(provider.stateChangingCalls, planMinimum.calls),
      "provider XAPI calls / plan minimum": ratio(provider.calls, planMinimum.calls),
      "provider wall / critical-path bound": ratio(provider.wallMs, criticalPathBoundMs),
      "provider wall / bound at its operation limit": ratio(
        provider.wallMs,
        criticalPathBoundAtOperationLimitMs,
      ),
      "provider task polls per lifecycle call": ratio(provider.taskPolls, provider.lifecycleCalls),
      "provider client CPU per call (µs)": round((provider.cpuMs * 1000) / provider.calls, 1),
      ...(naive === undefined
        ? {}
        : {
            "naive XAPI calls per planned call": ratio(naive.calls, planMinimum.calls),
            "naive wall / critical-path bound": ratio(naive.wallMs, criticalPathBoundMs),
            "naive client CPU per call (µs)": round((naive.cpuMs * 1000) / naive.calls, 1),
          }),
    },
  };
}

/** The executor and Ansible on the jobs of an N-job workload that Ansible can express. */
async function runAnsibleSize(n: number, config: Config, times: OperationTimes): Promise<AnsibleSizeResult> {
  const all = makeWorkload(n, config.seed);
  const allPlans = plansOf(all);
  const kept: { job: Job; states: string[] }[] = [];
  const skipped = new Map<string, number>();
  all.forEach((job, i) => {
    const expressed = ansibleStates(job, allPlans[i]?.steps ?? []);
    if ("skipped" in expressed) skipped.set(expressed.skipped, (skipped.get(expressed.skipped) ?? 0) + 1);
    else kept.push({ job: { ...job, index: kept.length }, states: expressed.states });
  });
  const jobs = kept.map((k) => k.job);
  if (jobs.length === 0) throw new Error(`no job of the ${n}-job workload can be expressed in Ansible`);

  let { sim, uuids } = await preparedSim(jobs, times, config);
  const roundTripMs = await measureRoundTrip(sim, uuids[0] as string);
  const { planMinimum, criticalPathBoundMs, criticalPathBoundAtOperationLimitMs } = bound(
    plansOf(jobs),
    roundTripMs,
    times,
    config,
  );
  const provider = await runProvider(sim, uuids, jobs, config);
  await stopSim(sim);

  ({ sim, uuids } = await preparedSim(jobs, times, config));
  const ansibleUuids = uuids;
  let run: AnsibleRun | undefined;
  const metrics = await measure(sim, uuids, jobs, async () => {
    run = await runAnsible(
      sim.url,
      USER,
      kept.map((k) => ({ uuid: ansibleUuids[k.job.index] as string, states: k.states })),
      config.concurrency,
    );
  });
  await stopSim(sim);
  if (run === undefined) throw new Error("the Ansible run did not finish");
  const { wallMs: _wall, cpuMs: ansibleCpuMs, ...counts } = run;
  const ansible = { ...metrics, cpuMs: ansibleCpuMs, ...counts };

  return {
    n,
    jobs: jobs.length,
    skipped: [...skipped].map(([reason, count]) => ({ reason, jobs: count })),
    planMinimum,
    criticalPathBoundMs,
    criticalPathBoundAtOperationLimitMs,
    roundTripMs: round(roundTripMs, 2),
    provider,
    ansible,
    ratios: {
      "wall time ansible/provider": ratio(ansible.wallMs, provider.wallMs),
      "XAPI calls ansible/provider": ratio(ansible.calls, provider.calls),
      "state-changing calls ansible/provider": ratio(ansible.stateChangingCalls, provider.stateChangingCalls),
      "logins ansible/provider": ratio(ansible.logins, provider.logins),
      "client CPU ansible/provider": ratio(ansible.cpuMs, provider.cpuMs),
    },
    derived: {
      "provider XAPI calls per planned call": ratio(provider.calls, planMinimum.calls),
      "ansible XAPI calls per planned call": ratio(ansible.calls, planMinimum.calls),
      "provider XAPI calls per job": ratio(provider.calls, jobs.length),
      "ansible XAPI calls per job": ratio(ansible.calls, jobs.length),
      "ansible XAPI calls per module run": ratio(ansible.calls, ansible.moduleRuns),
      "provider wall / critical-path bound": ratio(provider.wallMs, criticalPathBoundMs),
      "provider wall / bound at its operation limit": ratio(
        provider.wallMs,
        criticalPathBoundAtOperationLimitMs,
      ),
      "ansible wall / critical-path bound": ratio(ansible.wallMs, criticalPathBoundMs),
    },
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// ---------------------------------------------------------------- output

const out = (text: string) => process.stdout.write(`${text}\n`);

function printRows(
  title: string,
  heads: [string, string],
  rows: [string, string | number, string | number][],
  extra: Record<string, number>,
): void {
  const width = Math.max(...rows.map((r) => r[0].length), ...Object.keys(extra).map((k) => k.length)) + 2;
  const line = (a: string, b: string, c: string) => `${a.padEnd(width)}${b.padStart(14)}${c.padStart(14)}`;
  out(`\n${title}`);
  out(line("", heads[0], heads[1]));
  for (const [name, a, b] of rows) out(line(name, String(a), String(b)));
  for (const [name, value] of Object.entries(extra)) out(line(name, String(value), ""));
}

function metricRows(a: RunMetrics, b: RunMetrics | undefined, n: number, plan: SizeResult["planMinimum"]) {
  const rows: [string, (m: RunMetrics) => string | number][] = [
    ["wall time (ms)", (m) => round(m.wallMs, 0)],
    ["XAPI calls", (m) => m.calls],
    [`state-changing calls (planned ${plan.calls})`, (m) => m.stateChangingCalls],
    [`lifecycle calls (planned ${plan.lifecycleCalls})`, (m) => m.lifecycleCalls],
    ["guest boots (start/reboot)", (m) => m.domainBuilds],
    ["hard shutdowns", (m) => m.hardShutdowns],
    ["reads (VM.get_*)", (m) => m.reads],
    ["task polls", (m) => m.taskPolls],
    ["event.from", (m) => m.callsByMethod["event.from"] ?? 0],
    ["logins", (m) => m.logins],
    ["tasks left behind", (m) => m.tasksLeft],
    ["VMs converged", (m) => `${m.converged}/${n}`],
    ["client CPU (ms)", (m) => round(m.cpuMs, 0)],
    ["simulator CPU (ms)", (m) => round(m.simCpuMs, 0)],
  ];
  return rows.map(([name, f]): [string, string | number, string | number] => [
    name,
    f(a),
    b === undefined ? "-" : f(b),
  ]);
}

function printTable(result: SizeResult, config: Config): void {
  printRows(
    `N = ${result.n} VMs, concurrency ${config.concurrency}, latency ${config.latencyMs} ms/call; measured round trip ${result.roundTripMs} ms; critical-path bound ${result.criticalPathBoundMs} ms (${result.criticalPathBoundAtOperationLimitMs} ms at ${config.maxOps} tasks at once, the provider's per-pool limit)`,
    ["pulumi-xapi", "naive"],
    metricRows(result.provider, result.naive, result.n, result.planMinimum),
    { ...result.ratios, ...result.derived },
  );
}

function printAnsible(result: AnsibleSizeResult, config: Config): void {
  const rows = metricRows(result.provider, result.ansible, result.jobs, result.planMinimum);
  rows.push([
    "module runs (failed hosts)",
    "-",
    `${result.ansible.moduleRuns} (${result.ansible.failedHosts})`,
  ]);
  printRows(
    `Ansible xenserver_guest_powerstate vs pulumi-xapi: ${result.jobs} of ${result.n} jobs (the rest skipped), concurrency/forks ${config.concurrency} (ours: at most ${config.maxOps} tasks at once); critical-path bound ${result.criticalPathBoundMs} ms (${result.criticalPathBoundAtOperationLimitMs} ms at ${config.maxOps} tasks at once, the provider's per-pool limit)`,
    ["pulumi-xapi", "ansible"],
    rows,
    { ...result.ratios, ...result.derived },
  );
  for (const s of result.skipped) out(`  skipped ${s.jobs} jobs: ${s.reason}`);
  if (result.ansible.firstFailure !== undefined)
    out(`  first Ansible failure: ${result.ansible.firstFailure}`);
}

function printPulumi(p: PulumiSizeResult, latencyMs: number): void {
  for (const [command, r] of [
    ["up of N new", p.up],
    ["preview of N up-to-date", p.preview],
  ] as const) {
    const { xapi: a, noop: b } = r.median;
    printRows(
      `pulumi ${command} resources, N = ${p.n}: medians of ${r.runs} rounds alternating A/B, ${latencyMs} ms latency per XAPI call`,
      ["xapi.Vm (A)", "no-op (B)"],
      [
        ["wall time (ms)", a.wallMs, b.wallMs],
        ["CPU time, all processes (ms)", a.cpuMs, b.cpuMs],
        ["peak RSS, all processes (MiB)", a.peakRssMiB, b.peakRssMiB],
        ["  of which the program (MiB)", a.peakRssMiBByRole.program, b.peakRssMiBByRole.program],
        ["  of which the provider host (MiB)", a.peakRssMiBByRole.provider, b.peakRssMiBByRole.provider],
        ["XAPI calls per command", r.xapiCallsPerRun.join(", "), "-"],
      ],
      {
        "wall time A / B (of the medians)": r.ratios.wallTime,
        "wall time A / B (median of the rounds)": r.ratios.wallTimeByRound,
        "CPU time A / B": r.ratios.cpuTime,
        "peak RSS A / B": r.ratios.peakRss,
      },
    );
  }
  const s = p.state;
  printRows(
    `state after the up, N = ${p.n}`,
    ["xapi.Vm (A)", "no-op (B)"],
    [
      ["checkpoint file (bytes)", s.checkpointBytes.xapi, s.checkpointBytes.noop],
      ["checkpoint bytes / N", s.checkpointBytesPerResource.xapi, s.checkpointBytesPerResource.noop],
      ["one entry, inputs+outputs (bytes)", s.entryBytes.xapi, s.entryBytes.noop],
      ["  of which __provider (bytes)", s.entryProviderBytes.xapi, s.entryProviderBytes.noop],
    ],
    {
      "checkpoint bytes / N, A / B": s.ratios.checkpointBytesPerResource,
      "entry bytes A / B": s.ratios.entryBytes,
    },
  );
}

/** The short human summary at the end. */
function summary(
  config: Config,
  results: SizeResult[],
  ansible: AnsibleSection | undefined,
  pulumi: PulumiBenchResult | undefined,
): string[] {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(
      `executor N=${r.n}: ${r.derived["provider XAPI calls per planned call"]} XAPI calls per planned call, wall ${r.derived["provider wall / critical-path bound"]}× the critical-path bound (${r.derived["provider wall / bound at its operation limit"]}× the bound at its ${config.maxOps} tasks at once)` +
        (r.naive === undefined
          ? ""
          : `; naive: ${r.derived["naive XAPI calls per planned call"]} calls per planned call, wall ${r.ratios["wall time naive/provider"]}× ours`),
    );
  }
  if (ansible !== undefined && "skipped" in ansible) lines.push(`ansible: skipped (${ansible.skipped})`);
  else if (ansible !== undefined) {
    for (const r of ansible.sizes) {
      lines.push(
        `ansible, ${r.jobs} of ${r.n} jobs: ${r.derived["ansible XAPI calls per planned call"]} XAPI calls per planned call (ours ${r.derived["provider XAPI calls per planned call"]}); wall ${r.ratios["wall time ansible/provider"]}× ours, CPU ${r.ratios["client CPU ansible/provider"]}× ours; converged ${r.ansible.converged}/${r.jobs} (ours ${r.provider.converged}/${r.jobs})`,
      );
    }
  }
  for (const p of pulumi?.sizes ?? []) {
    const a = p.acceptance;
    const verdict = (c: { value: number; threshold: number; pass: boolean }) =>
      `${c.value} (≤ ${c.threshold}: ${c.pass ? "pass" : "FAIL"})`;
    lines.push(
      `pulumi N=${p.n}: preview wall A/B ${verdict(a.previewWallRatio)}, CPU A/B ${p.preview.ratios.cpuTime}, RSS A/B ${p.preview.ratios.peakRss}; up wall A/B ${verdict(a.upWallRatio)}, CPU A/B ${p.up.ratios.cpuTime}; state bytes per Vm: checkpoint / N ${verdict(a.stateBytesPerVm)} (no-op ${p.state.checkpointBytesPerResource.noop}), one entry ${verdict(a.stateEntryBytesPerVm)} (no-op ${p.state.entryBytes.noop})`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  // `--sizing`: only the vCPU/memory comparison, with its own flags (bench/sizing.ts).
  if (process.argv.includes("--sizing")) return runSizingBench(process.argv.slice(2), out);
  const config = parseConfig(process.argv.slice(2));
  const times = operationTimes(config);
  const machine = {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    totalMemoryGiB: round(os.totalmem() / 2 ** 30, 1),
    // Other work on the machine skews wall times (not call counts); recorded so readers can judge.
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
  };
  out(`machine: ${JSON.stringify(machine)}`);
  out(`operation times: ${times.model}: ${JSON.stringify(times.operationMs)}`);
  const results: SizeResult[] = [];
  for (const n of config.sizes) {
    const result = await runSize(n, config, times);
    printTable(result, config);
    results.push(result);
  }
  let ansible: AnsibleSection | undefined;
  if (config.ansibleSizes.length > 0) {
    const version = await ansibleVersion();
    if (version === undefined) {
      ansible = { skipped: "ansible-playbook not found (pip install -r test/requirements.txt)" };
      out(`\nAnsible: ${ansible.skipped}`);
    } else {
      const sizes: AnsibleSizeResult[] = [];
      for (const n of config.ansibleSizes) {
        const result = await runAnsibleSize(n, config, times);
        printAnsible(result, config);
        sizes.push(result);
      }
      ansible = { version, forks: config.concurrency, sizes };
    }
  }
  let pulumi: PulumiBenchResult | undefined;
  if (config.pulumi !== undefined) {
    pulumi = await runPulumiBench(
      { ...config.pulumi, latencyMs: config.latencyMs, operationMs: times.operationMs },
      (line) => out(line),
    );
    for (const p of pulumi.sizes) printPulumi(p, config.latencyMs);
  }
  mkdirSync(path.dirname(config.out), { recursive: true });
  const { out: _out, ...settings } = config;
  const lines = summary(config, results, ansible, pulumi);
  writeFileSync(
    config.out,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        settings: { ...settings, operationTimes: times },
        results,
        ...(ansible === undefined ? {} : { ansible }),
        ...(pulumi === undefined ? {} : { pulumi }),
        summary: lines,
      },
      null,
      2,
    )}\n`,
  );
  out("\nsummary:");
  for (const line of lines) out(`  ${line}`);
  out(`\nresults written to ${path.relative(process.cwd(), config.out)}`);
}

void main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
