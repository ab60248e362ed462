/**
 * vCPU and memory writes in a plan, from the rules table (`provider/model/sizing-rules.ts`):
 * - what the search tracks ({@link settleSizing}): after every lifecycle call (and at the start) each
 *   pending change is written as soon as a usable row accepts the power state; a next-build write on a live
 *   VM leaves the domain stale until a build, a Halted VM, or a live row (`VM.set_VCPUs_number_live`
 *   on a Running VM) catches it up;
 * - where the writes go on the path found ({@link placeSizingWrites}): everything at the first Halted VM
 *   of the path (no domain to disturb, and the only state that takes `VCPUs_max` and the static range);
 *   else the dynamic range live at the first Running VM, and `VCPUs_at_startup` at the start when the
 *   path builds a domain (the build reads it), else live at the first Running VM when the guest can
 *   hotplug and the pool is licensed, else at the start (it then waits for a later build: pending);
 * - the typed failures: a declaration the table has no call for on this pool, and a power cycle the
 *   policy refuses ({@link powerCycleFailure}).
 */
import type { PlanFailure, PlanInput, PlanStep } from "../model/plan";
import { formatBytes, type GuestAbilities, SIZING_PROPERTY, type SizingFields } from "../model/sizing";
import {
  CHANGE_FIELDS,
  changesBetween,
  GuestCooperation,
  SIZING_RULES,
  SizingChange,
  SizingEffect,
  type SizingRule,
} from "../model/sizing-rules";
import { PowerState, SizingCall } from "../model/vocabulary";
import { invalid, shown } from "../model/wording";
import { fail } from "./policy";

const KINDS = Object.values(SizingChange);
const bit = (c: SizingChange): number => 1 << KINDS.indexOf(c);

/** The sizing facts one planning needs: observed and target fields, the changes due, the usable rows. */
export interface SizingContext {
  readonly observed: SizingFields;
  readonly target: SizingFields;
  readonly changes: ReadonlySet<SizingChange>;
  /** Rows whose call the pool has and whose guest and licence needs are met. */
  readonly usable: readonly SizingRule[];
  /** Bitmask of the changes to write (a `SearchNode.pending`). */
  readonly pending: number;
  /** The live domain runs another vCPU count than the record (bitmask, a `SearchNode.stale`). */
  readonly stale: number;
  /**
   * Per power state, from the usable rows: the changes some row writes there, and those it writes so
   * that the domain has them (a live row, or no domain at all: Halted). The search reads these.
   */
  readonly writes: Readonly<Record<PowerState, { readonly any: number; readonly current: number }>>;
}

/** Builds the context; a change no usable row can make on this pool is a `NO_LEGAL_PATH` failure. */
export function sizingContext(
  input: PlanInput,
  observed: SizingFields,
  target: SizingFields,
): { ok: true; context: SizingContext } | { ok: false; failure: PlanFailure } {
  const changes = new Set(changesBetween(observed, target));
  const available = input.availableSizingCalls;
  const guest: GuestAbilities = input.guest ?? { vcpuHotplug: false, liveVcpusLicensed: false };
  const usable = SIZING_RULES.filter(
    (r) =>
      (available === undefined || available.has(r.call)) &&
      (r.guest !== GuestCooperation.vcpuHotplug || guest.vcpuHotplug) &&
      (r.licence === "none" || guest.liveVcpusLicensed) &&
      // A live vCPU count is bounded by the running domain's VCPUs_max, which only a build changes.
      (r.effect !== SizingEffect.live ||
        !r.changes.includes(SizingChange.vcpusAtStartup) ||
        !changes.has(SizingChange.vcpusMax)),
  );
  for (const change of changes) {
    // Every change needs a row that can write it on a Halted VM: where a power cycle or a build ends up.
    if (usable.some((r) => r.changes.includes(change) && r.states.includes(PowerState.Halted))) continue;
    const calls = SIZING_RULES.filter(
      (r) => r.changes.includes(change) && r.states.includes(PowerState.Halted),
    );
    return fail(
      "NO_LEGAL_PATH",
      invalid(
        `No call to change ${propertiesOf([change], observed, target)} on this pool`,
        calls.map((r) => `${r.call} (XAPI API ${r.since})`).join(" or "),
        shown("a pool without it"),
        "Upgrade the pool, or leave the field undeclared.",
      ),
    );
  }
  let pending = 0;
  for (const c of changes) pending |= bit(c);
  const stale =
    input.liveDomainSizingStale === true && input.observedPowerState !== PowerState.Halted
      ? bit(SizingChange.vcpusAtStartup)
      : 0;
  return {
    ok: true,
    context: { observed, target, changes, usable, pending, stale, writes: writesByState(usable) },
  };
}

// Few sets of usable rows exist (pool calls × guest abilities): each is worked out once per process.
const WRITES = new Map<string, SizingContext["writes"]>();

function writesByState(usable: readonly SizingRule[]): SizingContext["writes"] {
  const key = usable.map((r) => r.call).join(" ");
  const known = WRITES.get(key);
  if (known !== undefined) return known;
  const byState = (power: PowerState) => {
    let any = 0;
    let current = 0;
    for (const change of KINDS) {
      const rows = usable.filter((r) => r.changes.includes(change) && r.states.some((s) => s === power));
      if (rows.length === 0) continue;
      any |= bit(change);
      if (power === PowerState.Halted || rows.some((r) => r.effect === SizingEffect.live))
        current |= bit(change);
    }
    return { any, current };
  };
  const states = Object.values(PowerState);
  const writes = Object.fromEntries(states.map((p) => [p, byState(p)])) as SizingContext["writes"];
  WRITES.set(key, writes);
  return writes;
}

/**
 * The sizing part of a search node after arriving in `power` (builds and Halted already cleared
 * `stale`): every pending change a usable row accepts in `power` is written; a next-build write on a live
 * VM makes the domain stale; a live row catches a stale change up.
 */
export function settleSizing(
  ctx: SizingContext,
  power: PowerState,
  pending: number,
  stale: number,
): { pending: number; stale: number } {
  const { any, current } = ctx.writes[power];
  const written = pending & any;
  return { pending: pending & ~any, stale: (stale | (written & ~current)) & ~current };
}

/** The change kinds a power cycle can be needed for: they need Halted, or Running/Halted. */
export const CYCLE_CHANGES: readonly SizingChange[] = [
  SizingChange.vcpusMax,
  SizingChange.memoryStatic,
  SizingChange.memoryDynamic,
];

/** `ctx.pending` without the changes that may need a power cycle: the baseline a refused cycle is measured against. */
export function withoutCycleChanges(ctx: SizingContext): SizingContext {
  let pending = ctx.pending;
  for (const c of CYCLE_CHANGES) pending &= ~bit(c);
  return { ...ctx, pending };
}

/**
 * The `NEEDS_POWER_CYCLE` failure: which declared properties need which state, the VM's power state,
 * and the way out.
 */
export function powerCycleFailure(ctx: SizingContext, power: PowerState, target: PowerState): PlanFailure {
  const halted = [SizingChange.vcpusMax, SizingChange.memoryStatic].filter((c) => ctx.changes.has(c));
  const kinds = halted.length > 0 ? halted : [SizingChange.memoryDynamic];
  const rows = ctx.usable.filter((r) => kinds.some((k) => r.changes.includes(k)));
  const states: readonly PowerState[] =
    halted.length > 0 ? [PowerState.Halted] : [PowerState.Running, PowerState.Halted];
  const calls = [...new Set(rows.filter((r) => r.states.some((s) => states.includes(s))).map((r) => r.call))];
  return {
    code: "NEEDS_POWER_CYCLE",
    reason: invalid(
      `Cannot change ${propertiesOf(kinds, ctx.observed, ctx.target)} of a ${power} VM declared ${target} without a power cycle`,
      `a ${states.join(" or ")} VM (XAPI accepts ${calls.join(", ")} only then)`,
      shown(power),
      halted.length > 0
        ? 'Declare powerState "Halted", or set policy.powerCycle "allow" to shut the VM down, write, and start it again in this run.'
        : 'Declare powerState "Running" or "Halted", or set policy.powerCycle "allow" to let the plan pass through Running for the write.',
    ),
  };
}

/**
 * The lifecycle steps of a plan that cycles the VM for sizing, with the reason of the call that brings it
 * to the state the writes need (Halted, or Running for a Paused or Suspended VM's dynamic range) saying so.
 */
export function explainCycle(steps: readonly PlanStep[], ctx: SizingContext, target: PowerState): PlanStep[] {
  const halted = [SizingChange.vcpusMax, SizingChange.memoryStatic].filter((c) => ctx.changes.has(c));
  const kinds = halted.length > 0 ? halted : [SizingChange.memoryDynamic];
  const into: readonly PowerState[] =
    halted.length > 0 ? [PowerState.Halted] : [PowerState.Running, PowerState.Halted];
  const i = steps.findIndex((s) => into.includes(s.to) && s.to !== target);
  const step = steps[i];
  if (step === undefined) return [...steps];
  const why = `XAPI writes ${propertiesOf(kinds, ctx.observed, ctx.target)} only on a ${into.join(" or ")} VM (policy powerCycle "allow")`;
  const reason = step.reason.replace(/, on the way to /, `: ${why}, on the way to `);
  return steps.map((s, j) => (j === i ? { ...s, reason } : s));
}

/**
 * The sizing setter steps of a path, by the index of the node they run at (0 = the observed state,
 * i = after the i-th lifecycle call). `powers[i]` is node i's power state, `buildAfter[i]` whether a
 * lifecycle call after node i builds a domain.
 */
export function placeSizingWrites(
  ctx: SizingContext,
  powers: readonly PowerState[],
  buildAfter: readonly boolean[],
): Map<number, PlanStep[]> {
  const at = new Map<number, PlanStep[]>();
  const put = (i: number, steps: PlanStep[]) => {
    if (steps.length > 0) at.set(i, [...(at.get(i) ?? []), ...steps]);
  };
  const halted = powers.indexOf(PowerState.Halted);
  if (halted >= 0) {
    put(halted, [...vcpuWritesWhenHalted(ctx), ...memoryWritesWhenHalted(ctx)]);
    return at;
  }
  const { observed: o, target: t } = ctx;
  if (ctx.changes.has(SizingChange.memoryDynamic)) {
    const i = powers.indexOf(PowerState.Running);
    if (i >= 0) put(i, [memoryRangeStep(ctx, PowerState.Running)]);
  }
  const vcpus = ctx.changes.has(SizingChange.vcpusAtStartup);
  if (!vcpus && ctx.stale === 0) return at;
  const liveRow = ctx.usable.some((r) => r.call === SizingCall.setVcpusNumberLive);
  const liveAt = powers.indexOf(PowerState.Running);
  if (buildAfter[0] === true) {
    // The path builds a domain: it reads the record, so only a changed count needs writing, before it.
    if (vcpus)
      put(0, [startupStep(o, t, powers[0] ?? PowerState.Halted, "the domain build of this plan uses it")]);
  } else if (liveRow && liveAt >= 0) {
    const reason = vcpus
      ? `VCPUs_at_startup is ${o.VCPUs_at_startup}, declared ${t.VCPUs_at_startup}: plugged live into the running guest`
      : `the running domain has another vCPU count than VCPUs_at_startup ${t.VCPUs_at_startup}: plugged live into the running guest`;
    put(liveAt, [
      setStep(SizingCall.setVcpusNumberLive, { nvcpu: t.VCPUs_at_startup }, PowerState.Running, reason),
    ]);
  } else if (vcpus) {
    const p = powers[0] ?? PowerState.Halted;
    put(0, [startupStep(o, t, p, `the ${p} domain keeps ${o.VCPUs_at_startup} vCPUs until it is rebuilt`)]);
  }
  return at;
}

//////////////////////////////
////   helpers            ////
//////////////////////////////

function setStep(
  call: SizingCall,
  args: Record<string, number>,
  power: PowerState,
  reason: string,
): PlanStep {
  return { kind: "set", call, args, from: power, to: power, reason };
}

function startupStep(o: SizingFields, t: SizingFields, power: PowerState, why: string): PlanStep {
  const reason = `VCPUs_at_startup is ${o.VCPUs_at_startup}, declared ${t.VCPUs_at_startup}; ${why}`;
  return setStep(SizingCall.setVcpusAtStartup, { value: t.VCPUs_at_startup }, power, reason);
}

/** vCPU writes on a Halted VM, ordered so that `1 ≤ VCPUs_at_startup ≤ VCPUs_max` holds after each. */
function vcpuWritesWhenHalted(ctx: SizingContext): PlanStep[] {
  const { observed: o, target: t } = ctx;
  const H = PowerState.Halted;
  const max = ctx.changes.has(SizingChange.vcpusMax)
    ? [
        setStep(
          SizingCall.setVcpusMax,
          { value: t.VCPUs_max },
          H,
          `VCPUs_max is ${o.VCPUs_max}, declared ${t.VCPUs_max}`,
        ),
      ]
    : [];
  const startup = ctx.changes.has(SizingChange.vcpusAtStartup)
    ? [startupStep(o, t, H, "the next start uses it")]
    : [];
  // Raising: the new maximum first; lowering: the start count first.
  return t.VCPUs_max > o.VCPUs_max ? [...max, ...startup] : [...startup, ...max];
}

/** Memory writes on a Halted VM: all four bounds at once with `set_memory_limits` (no order to break). */
function memoryWritesWhenHalted(ctx: SizingContext): PlanStep[] {
  const staticChange = ctx.changes.has(SizingChange.memoryStatic);
  if (!staticChange && !ctx.changes.has(SizingChange.memoryDynamic)) return [];
  const limits = ctx.usable.some((r) => r.call === SizingCall.setMemoryLimits);
  if (!limits) return [memoryRangeStep(ctx, PowerState.Halted)];
  const t = ctx.target;
  return [
    setStep(
      SizingCall.setMemoryLimits,
      {
        static_min: t.memory_static_min,
        static_max: t.memory_static_max,
        dynamic_min: t.memory_dynamic_min,
        dynamic_max: t.memory_dynamic_max,
      },
      PowerState.Halted,
      memoryReason(ctx, [
        ...CHANGE_FIELDS[SizingChange.memoryStatic],
        ...CHANGE_FIELDS[SizingChange.memoryDynamic],
      ]),
    ),
  ];
}

function memoryRangeStep(ctx: SizingContext, power: PowerState): PlanStep {
  const t = ctx.target;
  const live = power === PowerState.Running ? " (live: the guest's balloon driver moves the domain)" : "";
  return setStep(
    SizingCall.setMemoryDynamicRange,
    { min: t.memory_dynamic_min, max: t.memory_dynamic_max },
    power,
    `${memoryReason(ctx, CHANGE_FIELDS[SizingChange.memoryDynamic])}${live}`,
  );
}

function memoryReason(ctx: SizingContext, fields: readonly (keyof SizingFields)[]): string {
  const changed = fields.filter((f) => ctx.observed[f] !== ctx.target[f]);
  return changed
    .map((f) => `${f} is ${formatBytes(ctx.observed[f])}, declared ${formatBytes(ctx.target[f])}`)
    .join("; ");
}

/** `vcpus.max and memory.staticMax`: the declared properties behind `kinds` whose value changes. */
function propertiesOf(kinds: readonly SizingChange[], o: SizingFields, t: SizingFields): string {
  const props = kinds
    .flatMap((k) => CHANGE_FIELDS[k])
    .filter((f) => o[f] !== t[f])
    .map((f) => SIZING_PROPERTY[f]);
  return props.join(" and ");
}
