/**
 * Properties of vCPU and memory plans over random VMs, declarations (fields omitted or not), guests,
 * policies and power states, judged by the oracle's own machine (test/planner-oracle-sizing.ts): the plan
 * runs on it without a refusal and ends as declared; no plan builds two domains; refusals are typed.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { XapiBootFields } from "../provider/model/boot";
import type { PlanInput, PlanResult, PlanStep } from "../provider/model/plan";
import type { DeclaredSizing } from "../provider/model/sizing";
import { planTransition } from "../provider/planner";
import { BUILDS, type State, type Target } from "./planner-oracle";
import {
  machinePending,
  runOnMachine,
  SETTER_STATES,
  type Sizes,
  type SizingPolicy,
  type SizingSituation,
} from "./planner-oracle-sizing";

// A fixed number of runs and no wall-clock limit: a busy machine makes the properties slower, never failing.
fc.configureGlobal({ numRuns: 300 });

const GiB = 1024 ** 3;
const HVM: XapiBootFields = {
  domain_type: "hvm",
  HVM_boot_policy: "BIOS order",
  HVM_boot_params: { order: "cd" },
  PV_bootloader: "",
  PV_kernel: "",
  PV_ramdisk: "",
  PV_args: "",
  PV_bootloader_args: "",
};

const size = fc.constantFrom(GiB / 2, GiB, 2 * GiB, 3 * GiB, 4 * GiB, 8 * GiB);
const observed: fc.Arbitrary<Sizes> = fc
  .record({
    vcpus: fc.uniqueArray(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 2 }),
    memory: fc.array(size, { minLength: 4, maxLength: 4 }),
  })
  .map(({ vcpus, memory }) => {
    const v = [...vcpus].sort((a, b) => a - b);
    const m = [...memory].sort((a, b) => a - b);
    return {
      vcpusAtStartup: v[0] ?? 1,
      vcpusMax: v.at(-1) ?? 1,
      staticMin: m[0] ?? GiB,
      dynamicMin: m[1] ?? GiB,
      dynamicMax: m[2] ?? GiB,
      staticMax: m[3] ?? GiB,
    };
  });
const declaration: fc.Arbitrary<DeclaredSizing> = fc.record(
  {
    vcpus: fc.record(
      { atStartup: fc.integer({ min: 1, max: 8 }), max: fc.integer({ min: 1, max: 8 }) },
      { requiredKeys: ["atStartup"] },
    ),
    memory: fc.record(
      { staticMax: size, dynamicMin: size, dynamicMax: size },
      { requiredKeys: ["dynamicMax"] },
    ),
  },
  { requiredKeys: [] },
);
const policy: fc.Arbitrary<SizingPolicy> = fc.record({
  shutdown: fc.constantFrom("clean", "clean-then-hard", "hard"),
  allowDiscardSuspendedState: fc.boolean(),
  bootChanges: fc.constantFrom("restart", "next-boot"),
  powerCycle: fc.constantFrom("refuse", "allow"),
});
const situation = fc.record({
  from: fc.constantFrom<State>("Halted", "Paused", "Running", "Suspended", "Crashed"),
  to: fc.constantFrom<Target>("Halted", "Paused", "Running", "Suspended"),
  policy,
  bootChange: fc.boolean(),
  observed,
  declaration,
  guest: fc.record({ hotplug: fc.boolean(), licensed: fc.boolean() }),
  vcpuDomainStale: fc.boolean(),
  forceRestart: fc.boolean(),
});
type Generated = typeof situation extends fc.Arbitrary<infer T> ? T : never;

/** The declaration overlaid on the VM, as the README states it: an omitted field keeps the VM's value. */
function overlay(o: Sizes, d: DeclaredSizing): Sizes {
  return {
    vcpusMax: d.vcpus?.max ?? o.vcpusMax,
    vcpusAtStartup: d.vcpus?.atStartup ?? o.vcpusAtStartup,
    staticMin: o.staticMin,
    staticMax: d.memory?.staticMax ?? o.staticMax,
    dynamicMin: d.memory?.dynamicMin ?? o.dynamicMin,
    dynamicMax: d.memory?.dynamicMax ?? o.dynamicMax,
  };
}

/** XAPI's constraints: 1 ≤ atStartup ≤ max, staticMin ≤ dynamicMin ≤ dynamicMax ≤ staticMax. */
const valid = (t: Sizes) =>
  t.vcpusAtStartup >= 1 &&
  t.vcpusAtStartup <= t.vcpusMax &&
  t.staticMin <= t.dynamicMin &&
  t.dynamicMin <= t.dynamicMax &&
  t.dynamicMax <= t.staticMax;

const situationOf = (g: Generated): SizingSituation => ({ ...g, target: overlay(g.observed, g.declaration) });

function plan(g: Generated, over: Partial<PlanInput> = {}): PlanResult {
  const o = g.observed;
  return planTransition({
    observedPowerState: g.from,
    observedBoot: HVM,
    declaredPowerState: g.to,
    declaredBoot: g.bootChange ? { HVM_boot_params: { order: "dc" } } : undefined,
    policy: g.policy,
    observedSizing: {
      VCPUs_max: o.vcpusMax,
      VCPUs_at_startup: o.vcpusAtStartup,
      memory_static_min: o.staticMin,
      memory_static_max: o.staticMax,
      memory_dynamic_min: o.dynamicMin,
      memory_dynamic_max: o.dynamicMax,
    },
    declaredSizing: g.declaration,
    guest: { vcpuHotplug: g.guest.hotplug, liveVcpusLicensed: g.guest.licensed },
    liveDomainSizingStale: g.vcpuDomainStale,
    forceRestart: g.forceRestart,
    ...over,
  });
}

const machineSteps = (steps: readonly PlanStep[]) =>
  steps.filter((s) => s.kind === "lifecycle" || SETTER_STATES[s.call] !== undefined);

describe("sizing plan properties", () => {
  it("refuses exactly the declarations XAPI's constraints reject, with INVALID_DECLARED_SIZING", () => {
    fc.assert(
      fc.property(situation, (g) => {
        const result = plan(g);
        const invalid = !result.ok && result.failure.code === "INVALID_DECLARED_SIZING";
        expect(invalid).toBe(!valid(situationOf(g).target));
      }),
    );
  });

  it("fails with NEEDS_POWER_CYCLE only when the policy refuses power cycles", () => {
    fc.assert(
      fc.property(situation, (g) => {
        const result = plan(g);
        const cycle = !result.ok && result.failure.code === "NEEDS_POWER_CYCLE";
        expect(cycle && g.policy.powerCycle === "allow").toBe(false);
      }),
    );
  });

  it("runs on the oracle's XAPI without a refusal and ends in the declared state and sizes", () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(situation, (g) => {
        const result = plan(g);
        fc.pre(result.ok);
        const s = situationOf(g);
        const end = runOnMachine(s, machineSteps(result.ok ? result.plan.steps : []));
        expect({ power: end.power, record: end.record }).toEqual({ power: g.to, record: s.target });
      }),
    );
  });

  it("never calls a sizing setter in a state XAPI refuses it in", () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(situation, (g) => {
        const result = plan(g);
        fc.pre(result.ok);
        let state: State = g.from;
        const refused: string[] = [];
        for (const st of result.ok ? result.plan.steps : []) {
          if (st.kind === "lifecycle") state = st.to as State;
          const states = SETTER_STATES[st.call];
          if (states !== undefined && !(states as readonly string[]).includes(state))
            refused.push(`${st.call} in ${state}`);
        }
        expect(refused).toEqual([]);
      }),
    );
  });

  it("never builds more than one domain for sizing and boot changes together (restartTrigger included)", () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(situation, (g) => {
        const result = plan(g);
        fc.pre(result.ok);
        const builds = (result.ok ? result.plan.steps : []).filter((st) => BUILDS.has(st.call));
        expect(builds.length).toBeLessThanOrEqual(1);
      }),
    );
  });

  it("leaves the VM running the declared sizes under bootChanges restart, and reports pending as the machine ends", () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(situation, (g) => {
        const result = plan(g);
        fc.pre(result.ok);
        const end = runOnMachine(situationOf(g), machineSteps(result.ok ? result.plan.steps : []));
        const live = g.to === "Running" || g.to === "Paused";
        expect(result.ok && result.plan.sizingPending).toBe(machinePending(end));
        if (live && g.policy.bootChanges === "restart") expect(machinePending(end)).toBe(false);
      }),
    );
  });

  it("every sizing setter changes the record or the domain (no redundant writes)", () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(situation, (g) => {
        const result = plan(g);
        fc.pre(result.ok);
        const s = situationOf(g);
        const steps = machineSteps(result.ok ? result.plan.steps : []);
        for (let i = 0; i < steps.length; i++) {
          if (steps[i]?.kind !== "set") continue;
          const before = runOnMachine(s, steps.slice(0, i));
          const after = runOnMachine(s, steps.slice(0, i + 1));
          expect(after).not.toEqual(before);
        }
      }),
    );
  });

  it("converges: planning again from where the plan ends gives the empty plan", () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(situation, (g) => {
        const first = plan(g);
        fc.pre(first.ok);
        const s = situationOf(g);
        const end = runOnMachine(s, machineSteps(first.ok ? first.plan.steps : []));
        const again = plan(
          { ...g, from: g.to, observed: end.record, bootChange: false, forceRestart: false },
          {
            liveDomainBootStale: first.ok && first.plan.bootChangePending,
            liveDomainSizingStale: machinePending(end),
          },
        );
        expect(again.ok ? again.plan.steps : again.failure).toEqual([]);
      }),
    );
  });

  it("is deterministic", () => {
    fc.assert(
      fc.property(situation, (g) => {
        expect(plan(g)).toEqual(plan(g));
      }),
    );
  });
});
