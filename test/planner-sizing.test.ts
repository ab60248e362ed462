/**
 * vCPU and memory planning against the independent oracle (test/planner-oracle-sizing.ts): every observed
 * × declared power state × kind of change × guest ability × policy (shutdown, allowDiscardSuspendedState,
 * bootChanges, powerCycle) × with / without a boot change. One test per situation, one assertion per
 * policy: the plan's summary (outcome, lifecycle calls, builds, whether its lifecycle moves are one of
 * the oracle's cheapest plans, the setter calls and args, whether each setter runs in a state XAPI
 * accepts, what the oracle's machine ends with, pending) equals the oracle's.
 */
import { describe, expect, it } from "vitest";
import type { PlanInput, PlanStep } from "../provider/model/plan";
import type { DeclaredSizing, SizingFields } from "../provider/model/sizing";
import { describePlan, planTransition } from "../provider/planner";
import { BUILDS, ORACLE_POLICIES, type State, type Target } from "./planner-oracle";
import {
  expectedOutcome,
  expectedSetters,
  type Guest,
  machinePending,
  runOnMachine,
  SETTER_STATES,
  type Sizes,
  type SizingPolicy,
  type SizingSituation,
} from "./planner-oracle-sizing";
import { HVM } from "./planner-vm";

const GiB = 1024 ** 3;
const OBSERVED: Sizes = {
  vcpusMax: 4,
  vcpusAtStartup: 2,
  staticMin: GiB,
  staticMax: 4 * GiB,
  dynamicMin: 2 * GiB,
  dynamicMax: 4 * GiB,
};

/** The kinds of change, each as the sizes the VM must end with (or a stale domain with none). */
const CHANGES: readonly { name: string; target: Sizes; stale?: true }[] = [
  { name: "no change", target: OBSERVED },
  { name: "atStartup up", target: { ...OBSERVED, vcpusAtStartup: 3 } },
  { name: "atStartup down", target: { ...OBSERVED, vcpusAtStartup: 1 } },
  { name: "max and atStartup up", target: { ...OBSERVED, vcpusMax: 8, vcpusAtStartup: 6 } },
  { name: "max down", target: { ...OBSERVED, vcpusMax: 2 } },
  { name: "staticMax up", target: { ...OBSERVED, staticMax: 8 * GiB, dynamicMax: 8 * GiB } },
  { name: "dynamicMax down", target: { ...OBSERVED, dynamicMax: 3 * GiB } },
  { name: "dynamicMin up", target: { ...OBSERVED, dynamicMin: 3 * GiB } },
  { name: "atStartup up, dynamicMax down", target: { ...OBSERVED, vcpusAtStartup: 3, dynamicMax: 3 * GiB } },
  { name: "max up, dynamicMax down", target: { ...OBSERVED, vcpusMax: 6, dynamicMax: 3 * GiB } },
  { name: "stale vCPU count", target: OBSERVED, stale: true },
];
const GUESTS: readonly { name: string; guest: Guest }[] = [
  { name: "no hotplug", guest: { hotplug: false, licensed: false } },
  { name: "hotplug, unlicensed", guest: { hotplug: true, licensed: false } },
  { name: "hotplug, licensed", guest: { hotplug: true, licensed: true } },
];
const SOURCES: readonly State[] = ["Halted", "Paused", "Running", "Suspended", "Crashed"];
const TARGETS: readonly Target[] = ["Halted", "Paused", "Running", "Suspended"];
const POLICIES: readonly SizingPolicy[] = ORACLE_POLICIES.flatMap((p) =>
  (["refuse", "allow"] as const).map((powerCycle) => ({ ...p, powerCycle })),
);

const xapi = (s: Sizes): SizingFields => ({
  VCPUs_max: s.vcpusMax,
  VCPUs_at_startup: s.vcpusAtStartup,
  memory_static_min: s.staticMin,
  memory_static_max: s.staticMax,
  memory_dynamic_min: s.dynamicMin,
  memory_dynamic_max: s.dynamicMax,
});
const declared = (s: Sizes): DeclaredSizing => ({
  vcpus: { atStartup: s.vcpusAtStartup, max: s.vcpusMax },
  memory: { staticMax: s.staticMax, dynamicMin: s.dynamicMin, dynamicMax: s.dynamicMax },
});

function inputOf(s: SizingSituation): PlanInput {
  return {
    observedPowerState: s.from,
    observedBoot: HVM,
    declaredPowerState: s.to,
    declaredBoot: s.bootChange ? { HVM_boot_params: { order: "dc" } } : undefined,
    policy: s.policy,
    observedSizing: xapi(s.observed),
    declaredSizing: declared(s.target),
    guest: { vcpuHotplug: s.guest.hotplug, liveVcpusLicensed: s.guest.licensed },
    liveDomainSizingStale: s.vcpuDomainStale,
  };
}

const isSizing = (st: PlanStep) => st.kind === "set" && SETTER_STATES[st.call] !== undefined;
const moveKey = (moves: readonly { call: string; to: string }[]) =>
  moves.map((m) => `${m.call}→${m.to}`).join(" ");

/** The plan as the oracle judges it; every field is computed from the oracle, never from the planner. */
function summary(s: SizingSituation) {
  const result = planTransition(inputOf(s));
  if (!result.ok) return { code: result.failure.code };
  const steps = result.plan.steps;
  const lifecycle = steps.filter((st) => st.kind === "lifecycle");
  // The state before each lifecycle call, then the final one; a setter runs in the state it is placed in.
  const powers: State[] = [s.from, ...lifecycle.map((st) => st.to as State)];
  const outcome = expectedOutcome(s);
  const optimal = outcome.code === "ok" ? outcome.plans.map(moveKey) : [];
  let state: State = s.from;
  let legal = true;
  for (const st of steps) {
    if (st.kind === "lifecycle") state = st.to as State;
    else if (isSizing(st))
      legal &&= st.from === state && (SETTER_STATES[st.call] ?? []).includes(st.from as Target);
  }
  let end: ReturnType<typeof runOnMachine> | string;
  try {
    end = runOnMachine(
      s,
      steps.filter((st) => st.kind === "lifecycle" || isSizing(st)),
    );
  } catch (error) {
    end = (error as Error).message;
  }
  const builds = lifecycle.filter((st) => BUILDS.has(st.call)).length;
  return {
    code: "ok",
    calls: lifecycle.length,
    builds,
    optimal: optimal.includes(moveKey(lifecycle)),
    setters: steps
      .filter(isSizing)
      .map((st) => `${st.call} ${JSON.stringify(st.args)}`)
      .sort(),
    legal,
    end: typeof end === "string" ? end : { power: end.power, record: end.record },
    pending: result.plan.sizingPending,
    fresh: typeof end === "string" ? end : !machinePending(end),
    builtSetters: expectedSetters(s, powers, builds > 0),
  };
}

function expected(s: SizingSituation) {
  const outcome = expectedOutcome(s);
  if (outcome.code !== "ok") return { code: outcome.code };
  const live = s.to === "Running" || s.to === "Paused";
  const mustBeFresh = live && s.policy.bootChanges === "restart";
  return {
    code: "ok",
    calls: outcome.cost.calls,
    builds: outcome.cost.builds,
    optimal: true,
    // Whatever path was taken, the setters are those the oracle prescribes for it (checked below).
    setters: expect.any(Array),
    legal: true,
    end: { power: s.to, record: s.target },
    pending: expect.any(Boolean),
    fresh: mustBeFresh ? true : expect.any(Boolean),
    builtSetters: expect.any(Array),
  };
}

const CASES = SOURCES.flatMap((from) =>
  TARGETS.flatMap((to) =>
    CHANGES.flatMap((change) =>
      GUESTS.flatMap((g) =>
        [false, true].map((bootChange) => ({
          name: `${from}→${to} ${change.name}, ${g.name}${bootChange ? ", boot change" : ""}`,
          situations: POLICIES.map(
            (policy): SizingSituation => ({
              from,
              to,
              policy,
              bootChange,
              observed: OBSERVED,
              target: change.target,
              guest: g.guest,
              vcpuDomainStale: change.stale === true,
            }),
          ),
        })),
      ),
    ),
  ),
);

describe("sizing plans against the oracle: every state pair × change × guest × policy × boot change", () => {
  it("covers the whole matrix", () => {
    expect(CASES.length * POLICIES.length).toBe(5 * 4 * 11 * 3 * 2 * 24);
  });

  it.each(CASES)(
    "$name: the outcome, calls, builds, setters and end state are the oracle's",
    ({ situations }) => {
      expect.assertions(3 * situations.length);
      for (const s of situations) {
        const got = summary(s);
        const label = `${s.policy.shutdown}/discard=${s.policy.allowDiscardSuspendedState}/${s.policy.bootChanges}/${s.policy.powerCycle}`;
        expect(got, label).toEqual(expected(s));
        // The setters the oracle prescribes for the path the planner took, and pending as the machine ends.
        expect("setters" in got ? got.setters : [], label).toEqual(
          "builtSetters" in got ? got.builtSetters : [],
        );
        expect("pending" in got ? got.pending : false, label).toBe(
          "fresh" in got ? got.fresh === false : false,
        );
      }
    },
  );
});

describe("sizing plans, by example", () => {
  const running = (over: Partial<PlanInput>): PlanInput => ({
    observedPowerState: "Running",
    observedBoot: HVM,
    declaredPowerState: "Running",
    policy: { shutdown: "clean", allowDiscardSuspendedState: false, bootChanges: "restart" },
    observedSizing: xapi(OBSERVED),
    ...over,
  });
  const HOTPLUG = { vcpuHotplug: true, liveVcpusLicensed: true };
  const lines = (input: PlanInput) => {
    const result = planTransition(input);
    return result.ok ? describePlan(result.plan) : [`${result.failure.code}: ${result.failure.reason}`];
  };

  it("plugs vCPUs into a Running guest that can hotplug, with no restart", () => {
    expect(lines(running({ declaredSizing: { vcpus: { atStartup: 3 } }, guest: HOTPLUG }))).toEqual([
      "1. VM.set_VCPUs_number_live(nvcpu: 3) (Running → Running): VCPUs_at_startup is 2, declared 3: plugged live into the running guest",
    ]);
  });

  it("without hotplug, writes VCPUs_at_startup and reboots once under bootChanges restart", () => {
    expect(lines(running({ declaredSizing: { vcpus: { atStartup: 3 } } }))).toEqual([
      "1. VM.set_VCPUs_at_startup(value: 3) (Running → Running): VCPUs_at_startup is 2, declared 3; the domain build of this plan uses it",
      "2. VM.clean_reboot (Running → Running): clean reboot so the domain runs the declared vCPU count",
    ]);
  });

  it("joins a vCPU change to a boot change's reboot: one restart for both", () => {
    const input = running({
      declaredBoot: { HVM_boot_params: { order: "dc" } },
      declaredSizing: { vcpus: { atStartup: 3 } },
      guest: HOTPLUG,
    });
    expect(lines(input).map((l) => l.split(" (")[0])).toEqual([
      '1. VM.set_HVM_boot_params(value: {"order":"dc","firmware":"bios"})',
      "2. VM.set_VCPUs_at_startup(value: 3)",
      "3. VM.clean_reboot",
    ]);
  });

  it("under powerCycle allow, one shutdown and start is the restart window of a boot change too", () => {
    const input = running({
      declaredBoot: { HVM_boot_params: { order: "dc" } },
      declaredSizing: { vcpus: { atStartup: 2, max: 6 } },
      policy: {
        shutdown: "clean",
        allowDiscardSuspendedState: false,
        bootChanges: "restart",
        powerCycle: "allow",
      },
    });
    expect(lines(input).map((l) => l.split(" (")[0])).toEqual([
      '1. VM.set_HVM_boot_params(value: {"order":"dc","firmware":"bios"})',
      "2. VM.clean_shutdown",
      "3. VM.set_VCPUs_max(value: 6)",
      "4. VM.start(start_paused: false, force: false)",
    ]);
  });

  it("refuses a power cycle by default, naming the property, the states and the way out", () => {
    expect(
      lines(running({ declaredSizing: { memory: { staticMax: 8 * GiB, dynamicMax: 8 * GiB } } })),
    ).toEqual([
      'NEEDS_POWER_CYCLE: Cannot change memory.staticMax of a Running VM declared Running without a power cycle: expected a Halted VM (XAPI accepts VM.set_memory_limits only then), received Running. Declare powerState "Halted", or set policy.powerCycle "allow" to shut the VM down, write, and start it again in this run.',
    ]);
  });

  it("writes vcpus.max of a Crashed VM on its way through Halted, with no power cycle to allow", () => {
    const input = running({
      observedPowerState: "Crashed",
      declaredSizing: { vcpus: { atStartup: 2, max: 6 } },
    });
    expect(lines(input).map((l) => l.split(" (")[0])).toEqual([
      "1. VM.hard_shutdown",
      "2. VM.set_VCPUs_max(value: 6)",
      "3. VM.start(start_paused: false, force: false)",
    ]);
  });

  it("leaves a Suspended VM suspended with its vCPU change pending", () => {
    const input = running({
      observedPowerState: "Suspended",
      declaredPowerState: "Suspended",
      declaredSizing: { vcpus: { atStartup: 3 } },
    });
    const result = planTransition(input);
    expect(result.ok && [result.plan.steps.map((s) => s.call), result.plan.sizingPending]).toEqual([
      ["VM.set_VCPUs_at_startup"],
      true,
    ]);
  });

  it("has no sizingPending when sizing is not managed", () => {
    const result = planTransition(running({ observedSizing: undefined }));
    expect(result.ok && "sizingPending" in result.plan).toBe(false);
  });

  it("does not plug vCPUs live on a pool without VM.set_VCPUs_number_live", () => {
    const input = running({
      declaredSizing: { vcpus: { atStartup: 3 } },
      guest: HOTPLUG,
      availableSizingCalls: new Set([
        "VM.set_VCPUs_at_startup",
        "VM.set_VCPUs_max",
        "VM.set_memory_limits",
      ] as const),
    });
    expect(lines(input).map((l) => l.split(" (")[0])).toEqual([
      "1. VM.set_VCPUs_at_startup(value: 3)",
      "2. VM.clean_reboot",
    ]);
  });

  it("fails NO_LEGAL_PATH for a static change on a pool without VM.set_memory_limits", () => {
    const input = running({
      declaredPowerState: "Halted",
      declaredSizing: { memory: { staticMax: 8 * GiB, dynamicMax: 8 * GiB } },
      availableSizingCalls: new Set(["VM.set_memory_dynamic_range"] as const),
    });
    expect(lines(input)).toEqual([
      "NO_LEGAL_PATH: No call to change memory.staticMax on this pool: expected VM.set_memory_limits (XAPI API 1.7), received a pool without it. Upgrade the pool, or leave the field undeclared.",
    ]);
  });
});
