/**
 * The independent model of vCPU and memory changes, for checking the planner (the sizing part of
 * test/planner-oracle.ts, whose lifecycle moves and policy rules it uses). Its tables are written from
 * docs/xapi-vcpus-memory.md and the planner's documented semantics; it shares no code with
 * provider/planner/ or provider/model/sizing*.ts:
 * - {@link SETTER_STATES}: the power states XAPI accepts each setter in (§1, §6 of the doc);
 * - {@link runOnMachine}: a tiny XAPI that runs a plan (record, domain, the setters' checks and effects);
 * - {@link bestPlans}: brute force over lifecycle moves with the sizing goals as flags;
 * - {@link expectedSetters}: which setter calls a plan along a given path must make.
 */
import {
  BUILDS,
  isDestructive,
  isHard,
  MOVES,
  type Move,
  type OraclePolicy,
  permitted,
  type State,
  type Target,
} from "./planner-oracle";

/** vCPUs and memory (bytes) as the oracle names them. */
export interface Sizes {
  readonly vcpusMax: number;
  readonly vcpusAtStartup: number;
  readonly staticMin: number;
  readonly staticMax: number;
  readonly dynamicMin: number;
  readonly dynamicMax: number;
}

export interface Guest {
  /** The guest acts on vCPU hotplug. */
  readonly hotplug: boolean;
  /** The pool licence has live vCPU changes. */
  readonly licensed: boolean;
}

export interface SizingPolicy extends OraclePolicy {
  readonly powerCycle: "refuse" | "allow";
}

export interface SizingSituation {
  readonly from: State;
  readonly to: Target;
  readonly policy: SizingPolicy;
  /** A boot-config change is declared (the domain must be rebuilt under bootChanges restart). */
  readonly bootChange: boolean;
  readonly observed: Sizes;
  /** The sizes the VM must end with (the declaration, every field given). */
  readonly target: Sizes;
  readonly guest: Guest;
  /** The live domain runs another vCPU count than the record (an earlier next-boot change). */
  readonly vcpuDomainStale: boolean;
}

/**
 * The power states XAPI accepts each setter in: VCPUs_max and the memory limits only Halted; the dynamic
 * range Halted or Running; the live vCPU count Running; VCPUs_at_startup checks no power state at all.
 */
export const SETTER_STATES: Readonly<Record<string, readonly Target[]>> = {
  "VM.set_VCPUs_max": ["Halted"],
  "VM.set_VCPUs_at_startup": ["Halted", "Paused", "Running", "Suspended"],
  "VM.set_VCPUs_number_live": ["Running"],
  "VM.set_memory_dynamic_range": ["Halted", "Running"],
  "VM.set_memory_limits": ["Halted"],
};

//////////////////////////////
////   the tiny XAPI      ////
//////////////////////////////

interface Domain {
  vcpus: number;
  vcpusMax: number;
  staticMax: number;
  dynamicMin: number;
  dynamicMax: number;
}

export interface Machine {
  power: State;
  record: Sizes;
  /** The running (or paused, or saved) domain; null when Halted. */
  domain: Domain | null;
}

const build = (r: Sizes): Domain => ({
  vcpus: r.vcpusAtStartup,
  vcpusMax: r.vcpusMax,
  staticMax: r.staticMax,
  dynamicMin: r.dynamicMin,
  dynamicMax: r.dynamicMax,
});

export function startMachine(s: SizingSituation): Machine {
  if (s.from === "Halted") return { power: s.from, record: s.observed, domain: null };
  const domain = build(s.observed);
  // A stale domain runs another count than any declaration could ask for (0: which one is unknown).
  if (s.vcpuDomainStale) domain.vcpus = 0;
  return { power: s.from, record: s.observed, domain };
}

/** One step on the machine; throws `XAPI refuses …` where XAPI would fail the call. */
export function stepMachine(
  m: Machine,
  call: string,
  args: Readonly<Record<string, unknown>>,
  guest: Guest,
): Machine {
  const move = MOVES.find((x) => x.from === m.power && x.call === call);
  if (move !== undefined) {
    const to =
      call === "VM.start" || call === "VM.resume" ? (args.start_paused ? "Paused" : "Running") : move.to;
    const domain = to === "Halted" ? null : BUILDS.has(call) ? build(m.record) : m.domain;
    return { power: to, record: m.record, domain };
  }
  const states = SETTER_STATES[call];
  if (states === undefined) throw new Error(`not a call the oracle knows: ${call} from ${m.power}`);
  if (!(states as readonly string[]).includes(m.power)) throw new Error(`XAPI refuses ${call} in ${m.power}`);
  const n = (k: string) => args[k] as number;
  const r = { ...m.record };
  const refuse = (why: string) => new Error(`XAPI refuses ${call}(${JSON.stringify(args)}): ${why}`);
  switch (call) {
    case "VM.set_VCPUs_max":
      if (n("value") < 1 || n("value") < r.vcpusAtStartup) throw refuse("INVALID_VALUE");
      return { ...m, record: { ...r, vcpusMax: n("value") } };
    case "VM.set_VCPUs_at_startup":
      if (n("value") < 1 || n("value") > r.vcpusMax) throw refuse("INVALID_VALUE");
      return { ...m, record: { ...r, vcpusAtStartup: n("value") } };
    case "VM.set_VCPUs_number_live": {
      if (!guest.hotplug) throw refuse("VM_LACKS_FEATURE");
      if (!guest.licensed) throw refuse("LICENCE_RESTRICTION");
      const d = m.domain as Domain;
      if (n("nvcpu") < 1 || n("nvcpu") > d.vcpusMax) throw refuse("INVALID_VALUE");
      return { ...m, record: { ...r, vcpusAtStartup: n("nvcpu") }, domain: { ...d, vcpus: n("nvcpu") } };
    }
    case "VM.set_memory_dynamic_range": {
      if (!(r.staticMin <= n("min") && n("min") <= n("max") && n("max") <= r.staticMax))
        throw refuse("ORDER");
      const record = { ...r, dynamicMin: n("min"), dynamicMax: n("max") };
      const live = m.power === "Running" && m.domain !== null;
      return {
        ...m,
        record,
        domain: live ? { ...(m.domain as Domain), dynamicMin: n("min"), dynamicMax: n("max") } : m.domain,
      };
    }
    default: {
      const [a, b, c, d] = [n("static_min"), n("static_max"), n("dynamic_min"), n("dynamic_max")];
      if (!(a <= c && c <= d && d <= b)) throw refuse("ORDER");
      return { ...m, record: { ...r, staticMin: a, staticMax: b, dynamicMin: c, dynamicMax: d } };
    }
  }
}

/** Runs `steps` from the situation's start; throws where XAPI would refuse. */
export function runOnMachine(
  s: SizingSituation,
  steps: readonly { call: string; args: Readonly<Record<string, unknown>> }[],
): Machine {
  return steps.reduce((m, st) => stepMachine(m, st.call, st.args, s.guest), startMachine(s));
}

/** The domain (or saved image) runs other sizes than the record: the change is pending. */
export function machinePending(m: Machine): boolean {
  if (m.domain === null) return false;
  const want = build(m.record);
  return (Object.keys(want) as (keyof Domain)[]).some((k) => want[k] !== m.domain?.[k]);
}

//////////////////////////////
////   brute force        ////
//////////////////////////////

/** What a change needs: XAPI writes VCPUs_max and the static range only Halted, the dynamic range Halted or Running. */
export function needs(s: SizingSituation) {
  const o = s.observed;
  const t = s.target;
  const halt = o.vcpusMax !== t.vcpusMax || o.staticMax !== t.staticMax || o.staticMin !== t.staticMin;
  const dynamic = o.dynamicMin !== t.dynamicMin || o.dynamicMax !== t.dynamicMax;
  const vcpus = o.vcpusAtStartup !== t.vcpusAtStartup;
  // Live vCPUs are bounded by the running domain's maximum, which only a new domain changes.
  const liveVcpus = s.guest.hotplug && s.guest.licensed && o.vcpusMax === t.vcpusMax;
  return { halt, dynamic: dynamic && !halt, vcpus, liveVcpus };
}

interface Flags {
  power: State;
  bootFresh: boolean;
  builds: number;
  needHalt: boolean;
  needRunOrHalt: boolean;
  vcpuStale: boolean;
}

function arrive(f: Flags, liveVcpus: boolean): Flags {
  if (f.power === "Halted") return { ...f, needHalt: false, needRunOrHalt: false, vcpuStale: false };
  if (f.power === "Running") return { ...f, needRunOrHalt: false, vcpuStale: f.vcpuStale && !liveVcpus };
  return f;
}

export interface Cost {
  readonly calls: number;
  readonly builds: number;
  readonly destructive: number;
  readonly hard: number;
}

/**
 * Brute force, every sequence of permitted moves, shortest first: the cheapest cost (calls, then builds,
 * then destructive, then hard calls) and every plan of that cost. `cycle` false drops the changes that
 * need Halted or Running (the plan the VM would get anyway). `undefined` when none within 6 calls.
 */
export function bestPlans(s: SizingSituation, cycle = true): { cost: Cost; plans: Move[][] } | undefined {
  const n = needs(s);
  // Situations that differ only in values the search does not see share their answer.
  const key = JSON.stringify([s.from, s.to, s.policy, s.bootChange, s.vcpuDomainStale, cycle, n]);
  if (!BEST.has(key)) BEST.set(key, search(s, cycle, n));
  return BEST.get(key);
}

const BEST = new Map<string, { cost: Cost; plans: Move[][] } | undefined>();

function search(
  s: SizingSituation,
  cycle: boolean,
  n: ReturnType<typeof needs>,
): { cost: Cost; plans: Move[][] } | undefined {
  const live = s.to === "Running" || s.to === "Paused";
  const start = arrive(
    {
      power: s.from,
      bootFresh: s.from === "Halted" || !s.bootChange,
      builds: 0,
      needHalt: cycle && n.halt,
      needRunOrHalt: cycle && n.dynamic,
      vcpuStale: s.from !== "Halted" && (n.vcpus || s.vcpuDomainStale),
    },
    n.liveVcpus,
  );
  const done = (f: Flags) =>
    f.power === s.to &&
    !f.needHalt &&
    !f.needRunOrHalt &&
    (!live || s.policy.bootChanges !== "restart" || (f.bootFresh && !f.vcpuStale));
  for (let depth = 0; depth <= 6; depth++) {
    const found: Move[][] = [];
    const dfs = (f: Flags, path: Move[]): void => {
      if (path.length === depth) {
        if (done(f)) found.push(path);
        return;
      }
      for (const m of MOVES) {
        if (m.from !== f.power || !permitted(m, s.policy)) continue;
        const built = BUILDS.has(m.call);
        const next = {
          ...f,
          power: m.to,
          builds: f.builds + (built ? 1 : 0),
          bootFresh: f.bootFresh || built || m.to === "Halted",
          vcpuStale: f.vcpuStale && !built,
        };
        dfs(arrive(next, n.liveVcpus), [...path, m]);
      }
    };
    dfs(start, []);
    if (found.length === 0) continue;
    const costOf = (p: Move[]): Cost => ({
      calls: p.length,
      builds: p.filter((m) => BUILDS.has(m.call)).length,
      destructive: p.filter(isDestructive).length,
      hard: p.filter(isHard).length,
    });
    const key = (c: Cost) => [c.builds, c.destructive, c.hard];
    const cheaper = (a: Cost, b: Cost) => {
      const [x, y] = [key(a), key(b)];
      const i = x.findIndex((v, j) => v !== y[j]);
      return i >= 0 && (x[i] ?? 0) < (y[i] ?? 0);
    };
    const cost = found.map(costOf).reduce((a, b) => (cheaper(b, a) ? b : a));
    return { cost, plans: found.filter((p) => !cheaper(cost, costOf(p))) };
  }
  return undefined;
}

/** True when `a` costs more than `b`, comparing calls, builds, destructive and hard calls in that order. */
export function costsMore(a: Cost, b: Cost): boolean {
  const x = [a.calls, a.builds, a.destructive, a.hard];
  const y = [b.calls, b.builds, b.destructive, b.hard];
  const i = x.findIndex((v, j) => v !== y[j]);
  return i >= 0 && (x[i] ?? 0) > (y[i] ?? 0);
}

/**
 * The outcome the planner must give: a plan of the cheapest cost, or NEEDS_POWER_CYCLE when the
 * changes that need Halted (or Running) make it cost more than the plan without them and the policy
 * refuses power cycles.
 */
export function expectedOutcome(
  s: SizingSituation,
): { code: "ok"; cost: Cost; plans: Move[][] } | { code: "NEEDS_POWER_CYCLE" } {
  const full = bestPlans(s);
  if (full === undefined) throw new Error("the oracle finds no plan");
  if (s.policy.powerCycle === "refuse") {
    const base = bestPlans(s, false);
    if (base !== undefined && costsMore(full.cost, base.cost)) return { code: "NEEDS_POWER_CYCLE" };
  }
  return { code: "ok", ...full };
}

/**
 * The setter calls a plan along `powers` (the state before each lifecycle call, then the final one)
 * must make, as `call args-json` strings, sorted:
 * - the path reaches Halted: everything is written there (VCPUs_max, VCPUs_at_startup, and all four
 *   memory bounds at once with set_memory_limits);
 * - else the dynamic range with set_memory_dynamic_range; vCPUs with set_VCPUs_at_startup when the path
 *   builds a domain, live with set_VCPUs_number_live when the guest can and the path passes Running,
 *   else set_VCPUs_at_startup (pending); a stale domain with no vCPU change is caught up live the same way.
 */
export function expectedSetters(s: SizingSituation, powers: readonly State[], builds: boolean): string[] {
  const o = s.observed;
  const t = s.target;
  const out: [string, Record<string, number>][] = [];
  const memory =
    o.staticMax !== t.staticMax || o.dynamicMin !== t.dynamicMin || o.dynamicMax !== t.dynamicMax;
  if (powers.includes("Halted")) {
    if (o.vcpusMax !== t.vcpusMax) out.push(["VM.set_VCPUs_max", { value: t.vcpusMax }]);
    if (o.vcpusAtStartup !== t.vcpusAtStartup)
      out.push(["VM.set_VCPUs_at_startup", { value: t.vcpusAtStartup }]);
    if (memory) {
      const limits = {
        static_min: t.staticMin,
        static_max: t.staticMax,
        dynamic_min: t.dynamicMin,
        dynamic_max: t.dynamicMax,
      };
      out.push(["VM.set_memory_limits", limits]);
    }
  } else {
    const n = needs(s);
    if (n.dynamic) out.push(["VM.set_memory_dynamic_range", { min: t.dynamicMin, max: t.dynamicMax }]);
    const live = n.liveVcpus && powers.includes("Running");
    if (n.vcpus && (builds || !live)) out.push(["VM.set_VCPUs_at_startup", { value: t.vcpusAtStartup }]);
    else if ((n.vcpus || s.vcpuDomainStale) && !builds && live) {
      out.push(["VM.set_VCPUs_number_live", { nvcpu: t.vcpusAtStartup }]);
    }
  }
  return out.map(([call, args]) => `${call} ${JSON.stringify(args)}`).sort();
}
