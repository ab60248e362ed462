import { describe, expect, it } from "vitest";
import { toXapiBootFields } from "../provider/boot/schema";
import type { DeclaredBootFields, XapiBootFields } from "../provider/model/boot";
import type { PlanInput, PlanStep, Policy } from "../provider/model/plan";
import { DEFAULT_POLICY, describePlan, planTransition } from "../provider/planner";
import {
  apply,
  BUILDS,
  gentlestCost,
  gentlestPlans,
  isDestructive,
  isHard,
  MOVES,
  ORACLE_POLICIES,
  type OraclePvBlock,
  type OraclePvFields,
  permitted,
  pvWrites,
  type Situation,
  type State,
  shortestLength,
  startSim,
  type Target,
} from "./planner-oracle";
import { HVM } from "./planner-vm";

const NEW_ORDER: DeclaredBootFields = { HVM_boot_params: { order: "dc" } };

const SOURCES: readonly State[] = ["Halted", "Paused", "Running", "Suspended", "Crashed"];
const TARGETS: readonly Target[] = ["Halted", "Paused", "Running", "Suspended"];

interface Case {
  readonly name: string;
  readonly situation: Situation;
  readonly input: PlanInput;
  /** The independent model's shortest number of lifecycle calls (brute force). */
  readonly calls: number;
  /** Setter steps expected: NEW_ORDER differs from HVM's order, so a declared change is one setter. */
  readonly setters: 0 | 1;
}

// Every (from, to) × every policy × boot change (none / declared / stale live domain) × restartTrigger.
const CASES: readonly Case[] = SOURCES.flatMap((from) =>
  TARGETS.flatMap((to) =>
    ORACLE_POLICIES.flatMap((policy) =>
      (["none", "declared", "stale"] as const).flatMap((boot) =>
        [false, true].map((forceRestart): Case => {
          const name = `${from}→${to} ${policy.shutdown}/discard=${policy.allowDiscardSuspendedState}/${policy.bootChanges} boot=${boot}${forceRestart ? " force" : ""}`;
          const input: PlanInput = {
            observedPowerState: from,
            observedBoot: HVM,
            declaredPowerState: to,
            declaredBoot: boot === "declared" ? NEW_ORDER : undefined,
            liveDomainBootStale: boot === "stale",
            forceRestart,
            policy,
          };
          const situation: Situation = { from, to, policy, stale: boot !== "none", forceRestart };
          const calls = shortestLength(situation);
          if (calls === undefined) throw new Error(`the model finds no plan for ${name}`);
          return { name, input, situation, calls, setters: boot === "declared" ? 1 : 0 };
        }),
      ),
    ),
  ),
);

/** Cases the model plans at least one lifecycle call for, and those it plans none for. */
const WITH_CALLS = CASES.filter((c) => c.calls > 0);
const WITHOUT_CALLS = CASES.filter((c) => c.calls === 0);

/** The setter line of NEW_ORDER on HVM, written by hand (the VM stays in its observed state). */
const setterLine = (state: State) =>
  `1. VM.set_HVM_boot_params(value: {"order":"dc","firmware":"bios"}) (${state} → ${state}): HVM_boot_params is {"order":"cd","firmware":"bios"}, declared {"order":"dc","firmware":"bios"}`;

function planOf(input: PlanInput) {
  const result = planTransition(input);
  if (!result.ok) throw new Error(`expected a plan, got ${result.failure.code}: ${result.failure.reason}`);
  return result.plan;
}

const lifecycleSteps = (steps: readonly PlanStep[]) => steps.filter((s) => s.kind === "lifecycle");
const movesOf = (steps: readonly PlanStep[]) =>
  lifecycleSteps(steps).map((s) => ({ from: s.from, call: s.call, to: s.to as Target }));

// Each generated case states how many assertions it makes (expect.assertions) or that it makes some
// (expect.hasAssertions), so a case whose loop runs zero times fails instead of passing empty.
describe("exhaustive: every (from, to) × policy × boot change × restartTrigger", () => {
  it("covers the whole matrix", () => {
    expect(CASES.length).toBe(5 * 4 * 12 * 3 * 2);
  });

  it("splits the matrix into cases with and without lifecycle calls", () => {
    expect([WITH_CALLS.length + WITHOUT_CALLS.length, WITHOUT_CALLS.length > 0]).toEqual([
      CASES.length,
      true,
    ]);
  });

  it.each(WITH_CALLS)("$name: each step is legal from the state before it", ({ input, calls }) => {
    expect.assertions(2 * calls);
    let state: State = input.observedPowerState;
    for (const s of lifecycleSteps(planOf(input).steps)) {
      expect(s.from).toBe(state);
      const legal = MOVES.some(
        (m) =>
          m.from === s.from &&
          m.call === s.call &&
          m.to === s.to &&
          (m.startPaused === undefined || m.startPaused === s.args.start_paused),
      );
      expect(legal, `${s.call} from ${s.from} to ${s.to}`).toBe(true);
      state = s.to;
    }
  });

  it.each(WITH_CALLS)("$name: each step is allowed by the policy", ({ input, situation, calls }) => {
    expect.assertions(calls);
    for (const move of movesOf(planOf(input).steps)) {
      expect(permitted(move, situation.policy), `${move.call} from ${move.from}`).toBe(true);
    }
  });

  it.each(CASES)("$name: ends in the declared state", ({ input }) => {
    expect.assertions(1);
    const steps = lifecycleSteps(planOf(input).steps);
    expect(steps.at(-1)?.to ?? input.observedPowerState).toBe(input.declaredPowerState);
  });

  it.each(CASES)("$name: counts its lifecycle steps in lifecycleCalls", ({ input }) => {
    expect.assertions(1);
    const plan = planOf(input);
    expect(plan.lifecycleCalls).toBe(lifecycleSteps(plan.steps).length);
  });

  it.each(CASES)(
    "$name: has as many lifecycle calls as the brute-force shortest path",
    ({ input, calls }) => {
      expect.assertions(1);
      expect(lifecycleSteps(planOf(input).steps)).toHaveLength(calls);
    },
  );

  it.each(CASES)(
    "$name: among the shortest plans, has the fewest destructive, then hard calls (brute force)",
    ({ input, situation }) => {
      expect.assertions(1);
      const moves = movesOf(planOf(input).steps);
      expect({
        destructive: moves.filter(isDestructive).length,
        hard: moves.filter(isHard).length,
      }).toEqual(gentlestCost(situation));
    },
  );

  it.each(CASES)("$name: is one of the brute-force shortest, gentlest plans", ({ input, situation }) => {
    expect.assertions(1);
    const key = (moves: readonly { call: string; to: string }[]) =>
      moves.map((m) => `${m.call}→${m.to}`).join(" ");
    expect(gentlestPlans(situation).map(key)).toContain(key(movesOf(planOf(input).steps)));
  });

  it.each(WITH_CALLS)(
    "$name: start/resume carry start_paused exactly when leading to Paused",
    ({ input, calls }) => {
      expect.assertions(calls);
      for (const s of lifecycleSteps(planOf(input).steps)) {
        if (s.call === "VM.start" || s.call === "VM.resume") {
          expect(s.args).toEqual({ start_paused: s.to === "Paused", force: false });
        } else {
          expect(s.args).toEqual({});
        }
      }
    },
  );

  it.each(CASES)("$name: reaches the goal of the independent model", ({ input, situation }) => {
    expect.hasAssertions();
    let sim = startSim(situation);
    for (const move of movesOf(planOf(input).steps)) sim = apply(sim, move);
    expect(sim.power).toBe(situation.to);
    const live = situation.to === "Running" || situation.to === "Paused";
    if (live && situation.policy.bootChanges === "restart") expect(sim.fresh).toBe(true);
    if (live && situation.forceRestart) expect(sim.builds).toBe(1);
  });

  it.each(CASES)("$name: reports bootChangePending as the independent model does", ({ input, situation }) => {
    expect.assertions(1);
    const plan = planOf(input);
    let sim = startSim(situation);
    for (const move of movesOf(plan.steps)) sim = apply(sim, move);
    expect(plan.bootChangePending).toBe(sim.power !== "Halted" && !sim.fresh);
  });

  it.each(CASES)("$name: plans one setter per changed boot field", ({ input, setters }) => {
    expect.assertions(1);
    expect(planOf(input).steps.filter((s) => s.kind === "set")).toHaveLength(setters);
  });

  it.each(CASES.filter((c) => c.setters > 0))(
    "$name: puts setter steps first, in the observed power state",
    ({ input, setters }) => {
      expect.assertions(3 * setters);
      const steps = planOf(input).steps;
      const firstLifecycle = steps.findIndex((s) => s.kind === "lifecycle");
      for (const [i, s] of steps.entries()) {
        if (s.kind !== "set") continue;
        expect(firstLifecycle === -1 || i < firstLifecycle, `setter at ${i}`).toBe(true);
        expect(s.call.startsWith("VM.set_")).toBe(true);
        expect([s.from, s.to]).toEqual([input.observedPowerState, input.observedPowerState]);
      }
    },
  );

  it.each(CASES.filter((c) => c.situation.from === "Crashed"))(
    "$name: leaves Crashed with hard_shutdown",
    ({ input }) => {
      expect.assertions(1);
      expect(lifecycleSteps(planOf(input).steps)[0]?.call).toBe("VM.hard_shutdown");
    },
  );

  it.each(
    CASES.filter(
      (c) => c.situation.from === c.situation.to && !c.situation.stale && !c.situation.forceRestart,
    ),
  )("$name: from == to without a boot change is the empty plan", ({ input }) => {
    expect.assertions(1);
    expect(planOf(input)).toEqual({ steps: [], lifecycleCalls: 0, bootChangePending: false });
  });

  it.each(WITHOUT_CALLS)(
    "$name: with no lifecycle call, the plan describes the boot setter alone, or nothing",
    ({ input, setters }) => {
      expect.assertions(1);
      expect(describePlan(planOf(input))).toEqual(
        setters === 1 ? [setterLine(input.observedPowerState)] : [],
      );
    },
  );

  it.each(WITHOUT_CALLS)(
    "$name: with no lifecycle call, a boot change stays pending exactly when the VM is not Halted",
    ({ input, situation }) => {
      expect.assertions(1);
      // No domain is built, so a live or suspended VM keeps running its old boot config.
      expect(planOf(input).bootChangePending).toBe(situation.stale && situation.from !== "Halted");
    },
  );

  it.each(CASES.filter((c) => c.calls + c.setters > 0))(
    "$name: every step has a one-line reason",
    ({ input, calls, setters }) => {
      expect.assertions(2 * (calls + setters));
      for (const s of planOf(input).steps) {
        expect(s.reason.length).toBeGreaterThan(0);
        expect(s.reason).not.toContain("\n");
      }
    },
  );
});

const FORCE_BASE: PlanInput = {
  observedPowerState: "Running",
  observedBoot: HVM,
  declaredPowerState: "Running",
  policy: DEFAULT_POLICY,
};

describe("forceRestart (restartTrigger)", () => {
  it.each(
    CASES.filter(
      (c) => c.situation.forceRestart && (c.situation.to === "Running" || c.situation.to === "Paused"),
    ),
  )("$name: exactly one domain build when the VM ends live", ({ input }) => {
    expect.assertions(1);
    expect(lifecycleSteps(planOf(input).steps).filter((s) => BUILDS.has(s.call))).toHaveLength(1);
  });

  it("adds no restart when the target is Halted", () => {
    const plan = planOf({
      ...FORCE_BASE,
      observedPowerState: "Running",
      declaredPowerState: "Halted",
      forceRestart: true,
    });
    expect(describePlan(plan)).toMatchInlineSnapshot(`
      [
        "1. VM.clean_shutdown (Running → Halted): shut the guest down cleanly (declared Halted)",
      ]
    `);
  });

  it("adds no restart when the target is Suspended", () => {
    const plan = planOf({
      ...FORCE_BASE,
      observedPowerState: "Suspended",
      declaredPowerState: "Suspended",
      forceRestart: true,
    });
    expect(plan.steps).toEqual([]);
  });

  it("counts a start of a Halted VM as the restart", () => {
    const plan = planOf({
      ...FORCE_BASE,
      observedPowerState: "Halted",
      declaredPowerState: "Running",
      forceRestart: true,
    });
    expect(plan.steps.map((s) => s.call)).toEqual(["VM.start"]);
  });
});

describe("tie-breaks and policy details", () => {
  const base = (over: Partial<PlanInput>): PlanInput => ({
    observedPowerState: "Running",
    observedBoot: HVM,
    declaredPowerState: "Running",
    policy: DEFAULT_POLICY,
    ...over,
  });
  const withPolicy = (p: Partial<Policy>): Policy => ({ ...DEFAULT_POLICY, ...p });

  it("Paused → Halted under clean is unpause + clean_shutdown", () => {
    const plan = planOf(base({ observedPowerState: "Paused", declaredPowerState: "Halted" }));
    expect(describePlan(plan)).toMatchInlineSnapshot(`
      [
        "1. VM.unpause (Paused → Running): unpause the VM, on the way to Halted",
        "2. VM.clean_shutdown (Running → Halted): shut the guest down cleanly (declared Halted)",
      ]
    `);
  });

  it("Suspended → Halted without allowDiscardSuspendedState resumes first", () => {
    const plan = planOf(base({ observedPowerState: "Suspended", declaredPowerState: "Halted" }));
    expect(plan.steps.map((s) => s.call)).toEqual(["VM.resume", "VM.clean_shutdown"]);
  });

  it("Suspended → Halted under hard with allowDiscardSuspendedState discards the image", () => {
    const plan = planOf(
      base({
        observedPowerState: "Suspended",
        declaredPowerState: "Halted",
        policy: withPolicy({ shutdown: "hard", allowDiscardSuspendedState: true }),
      }),
    );
    expect(describePlan(plan)).toMatchInlineSnapshot(`
      [
        "1. VM.hard_shutdown (Suspended → Halted): discard the suspended memory image, as allowDiscardSuspendedState permits (declared Halted)",
      ]
    `);
  });

  it("Suspended → Halted under hard without allowDiscardSuspendedState resumes first", () => {
    const plan = planOf(
      base({
        observedPowerState: "Suspended",
        declaredPowerState: "Halted",
        policy: withPolicy({ shutdown: "hard" }),
      }),
    );
    expect(plan.steps.map((s) => s.call)).toEqual(["VM.resume", "VM.hard_shutdown"]);
  });

  // The clean modes plan no hard call; allowDiscardSuspendedState does not lift that.
  it.each(["clean", "clean-then-hard"] as const)(
    "Suspended → Halted under %s never hard-shuts-down, even with allowDiscardSuspendedState",
    (shutdown) => {
      expect.assertions(1);
      const plan = planOf(
        base({
          observedPowerState: "Suspended",
          declaredPowerState: "Halted",
          policy: withPolicy({ shutdown, allowDiscardSuspendedState: true }),
        }),
      );
      expect(plan.steps.map((s) => s.call)).toEqual(["VM.resume", "VM.clean_shutdown"]);
    },
  );

  it("Suspended → Paused with a boot change under clean keeps the image path (no discard, even when allowed)", () => {
    const plan = planOf(
      base({
        observedPowerState: "Suspended",
        declaredPowerState: "Paused",
        declaredBoot: NEW_ORDER,
        policy: withPolicy({ allowDiscardSuspendedState: true }),
      }),
    );
    expect(plan.steps.map((s) => s.call)).toEqual([
      "VM.set_HVM_boot_params",
      "VM.resume",
      "VM.clean_reboot",
      "VM.pause",
    ]);
  });

  it("prefers the non-destructive plan of equal length (Paused → Running under hard: unpause, not hard_reboot)", () => {
    const plan = planOf(
      base({
        observedPowerState: "Paused",
        policy: withPolicy({ shutdown: "hard", allowDiscardSuspendedState: true }),
      }),
    );
    expect(plan.steps.map((s) => s.call)).toEqual(["VM.unpause"]);
  });

  it("breaks a tie of equally destructive plans by the gentlest first call (resume + hard_reboot over hard_shutdown + start)", () => {
    const plan = planOf(
      base({
        observedPowerState: "Suspended",
        declaredBoot: NEW_ORDER,
        policy: withPolicy({ shutdown: "hard", allowDiscardSuspendedState: true }),
      }),
    );
    expect(plan.steps.map((s) => s.call)).toEqual(["VM.set_HVM_boot_params", "VM.resume", "VM.hard_reboot"]);
  });

  it("applies a boot change on a Running VM with one clean reboot", () => {
    const plan = planOf(base({ declaredBoot: NEW_ORDER }));
    expect(describePlan(plan)).toMatchInlineSnapshot(`
      [
        "1. VM.set_HVM_boot_params(value: {"order":"dc","firmware":"bios"}) (Running → Running): HVM_boot_params is {"order":"cd","firmware":"bios"}, declared {"order":"dc","firmware":"bios"}",
        "2. VM.clean_reboot (Running → Running): clean reboot so the domain runs the declared boot config",
      ]
    `);
  });

  it("applies a boot change on a Paused VM with hard_reboot under hard (it ends Running, then pause)", () => {
    const plan = planOf(
      base({
        observedPowerState: "Paused",
        declaredPowerState: "Paused",
        declaredBoot: NEW_ORDER,
        policy: withPolicy({ shutdown: "hard" }),
      }),
    );
    expect(plan.steps.map((s) => s.call)).toEqual(["VM.set_HVM_boot_params", "VM.hard_reboot", "VM.pause"]);
  });

  const suspendedWithChange = () =>
    planOf(
      base({ observedPowerState: "Suspended", declaredPowerState: "Suspended", declaredBoot: NEW_ORDER }),
    );

  it("never rebuilds a Suspended target: no lifecycle call for a boot change", () => {
    expect(suspendedWithChange().lifecycleCalls).toBe(0);
  });

  it("reports a boot change on a Suspended target pending (the image keeps the old config)", () => {
    expect(suspendedWithChange().bootChangePending).toBe(true);
  });

  const nextBoot = () =>
    planOf(base({ declaredBoot: NEW_ORDER, policy: withPolicy({ bootChanges: "next-boot" }) }));

  it("under next-boot sets the fields and adds no reboot", () => {
    expect(nextBoot().steps.map((s) => s.call)).toEqual(["VM.set_HVM_boot_params"]);
  });

  it("under next-boot reports the change pending", () => {
    expect(nextBoot().bootChangePending).toBe(true);
  });

  it("reboots a domain left stale by an earlier next-boot run once the policy is restart", () => {
    const plan = planOf(base({ liveDomainBootStale: true }));
    expect(describePlan(plan)).toMatchInlineSnapshot(`
      [
        "1. VM.clean_reboot (Running → Running): clean reboot so the domain runs the boot config already set in an earlier run",
      ]
    `);
  });

  it("is deterministic", () => {
    const input = base({
      observedPowerState: "Paused",
      declaredPowerState: "Paused",
      declaredBoot: NEW_ORDER,
    });
    expect(planTransition(input)).toEqual(planTransition(input));
  });
});

describe("typed failures", () => {
  const input = (over: Partial<PlanInput>): PlanInput => ({
    observedPowerState: "Running",
    observedBoot: HVM,
    declaredPowerState: "Running",
    policy: DEFAULT_POLICY,
    ...over,
  });

  it.each(SOURCES)("declaring Crashed from %s is TARGET_NOT_DECLARABLE", (from) => {
    expect.assertions(1);
    const result = planTransition(input({ observedPowerState: from, declaredPowerState: "Crashed" }));
    expect(result.ok ? undefined : result.failure.code).toBe("TARGET_NOT_DECLARABLE");
  });

  it("explains why Crashed cannot be declared", () => {
    expect(planTransition(input({ declaredPowerState: "Crashed" }))).toMatchInlineSnapshot(`
      {
        "failure": {
          "code": "TARGET_NOT_DECLARABLE",
          "reason": "Invalid target power state: expected one of "Halted", "Paused", "Running", "Suspended", received "Crashed". Crashed can be observed but not declared.",
        },
        "ok": false,
      }
    `);
  });

  it("hitting the search bound is SEARCH_LIMIT, not a partial plan", () => {
    const result = planTransition(
      input({ observedPowerState: "Crashed", declaredPowerState: "Suspended", searchLimit: 2 }),
    );
    expect(result).toMatchInlineSnapshot(`
      {
        "failure": {
          "code": "SEARCH_LIMIT",
          "reason": "Search limit reached: no plan from Crashed to Suspended within 2 lifecycle calls. This is a planner bug or a too small searchLimit; report it.",
        },
        "ok": false,
      }
    `);
  });

  it("domain_type hvm with an empty HVM_boot_policy is INVALID_DECLARED_BOOT", () => {
    const result = planTransition(input({ declaredBoot: { domain_type: "hvm", HVM_boot_policy: "" } }));
    expect(result).toMatchInlineSnapshot(`
      {
        "failure": {
          "code": "INVALID_DECLARED_BOOT",
          "reason": "Conflicting declared boot fields: domain_type "hvm" needs HVM_boot_policy non-empty, received "". XAPI's setters rewrite one from the other: declare the pair as XAPI keeps it (docs/xapi-facts.md, domain_type and HVM_boot_policy).",
        },
        "ok": false,
      }
    `);
  });

  it("domain_type unspecified is INVALID_DECLARED_BOOT", () => {
    const result = planTransition(input({ declaredBoot: { domain_type: "unspecified" } }));
    expect(result).toMatchInlineSnapshot(`
      {
        "failure": {
          "code": "INVALID_DECLARED_BOOT",
          "reason": "Invalid declared domain_type: expected one of "hvm", "pv", "pvh", "pv_in_pvh", received "unspecified". XAPI rejects VM.set_domain_type("unspecified").",
        },
        "ok": false,
      }
    `);
  });
});

describe("setter steps", () => {
  const setters = (observed: XapiBootFields, declared: DeclaredBootFields) =>
    planOf({
      observedPowerState: "Halted",
      observedBoot: observed,
      declaredPowerState: "Halted",
      declaredBoot: declared,
      policy: DEFAULT_POLICY,
    }).steps.map((s) => [s.call, s.args.value]);

  it("emits nothing when every declared field already matches", () => {
    expect(
      setters(HVM, { domain_type: "hvm", HVM_boot_policy: "BIOS order", HVM_boot_params: { order: "cd" } }),
    ).toEqual([]);
  });

  it("merges HVM_boot_params: undeclared keys such as firmware are kept", () => {
    expect(setters(HVM, { HVM_boot_params: { order: "n" } })).toEqual([
      ["VM.set_HVM_boot_params", { order: "n", firmware: "bios" }],
    ]);
  });

  // VM.set_HVM_boot_policy("") also writes domain_type "pv" (docs/xapi-facts.md, "domain_type and HVM_boot_policy").
  it("HVM → PV needs only set_HVM_boot_policy, which also sets domain_type", () => {
    const result = setters(HVM, { domain_type: "pv", HVM_boot_policy: "", PV_bootloader: "pygrub" });
    expect(result).toEqual([
      ["VM.set_HVM_boot_policy", ""],
      ["VM.set_PV_bootloader", "pygrub"],
    ]);
  });

  it("writes the policy before domain_type so that pvh survives the coupling", () => {
    // PVH boots a PV kernel: with no bootloader and no kernel on the VM, the seed's pygrub rule applies too.
    expect(setters(HVM, { domain_type: "pvh", HVM_boot_policy: "" })).toEqual([
      ["VM.set_HVM_boot_policy", ""],
      ["VM.set_domain_type", "pvh"],
      ["VM.set_PV_bootloader", "pygrub"],
    ]);
  });

  it("on a pool without VM.set_domain_type (API < 2.10), switches PV/HVM with the policy alone", () => {
    const result = planTransition({
      observedPowerState: "Halted",
      observedBoot: { ...HVM, PV_bootloader: "pygrub" },
      declaredPowerState: "Halted",
      declaredBoot: { HVM_boot_policy: "" },
      policy: DEFAULT_POLICY,
      canSetDomainType: false,
    });
    expect(result.ok ? result.plan.steps.map((s) => [s.call, s.args.value]) : result.failure).toEqual([
      ["VM.set_HVM_boot_policy", ""],
    ]);
  });

  it("on a pool without VM.set_domain_type, refuses a declared pvh with the reason", () => {
    const result = planTransition({
      observedPowerState: "Halted",
      observedBoot: HVM,
      declaredPowerState: "Halted",
      declaredBoot: { domain_type: "pvh", HVM_boot_policy: "" },
      policy: DEFAULT_POLICY,
      canSetDomainType: false,
    });
    expect(result).toMatchInlineSnapshot(`
      {
        "failure": {
          "code": "INVALID_DECLARED_BOOT",
          "reason": "Unsupported declared domain type: expected "pv" or "hvm" on this pool, received "pvh". Its XAPI has no VM.domain_type (API before 2.10, XenServer 7.4 and older); pvh needs XCP-ng 8 or XenServer 8.",
        },
        "ok": false,
      }
    `);
  });

  // VM.set_domain_type("hvm") also writes HVM_boot_policy "BIOS order" (docs/xapi-facts.md, "domain_type and HVM_boot_policy").
  it("writes domain_type before a custom HVM policy, which set_domain_type would overwrite", () => {
    const observed: XapiBootFields = { ...HVM, domain_type: "pv_in_pvh", HVM_boot_policy: "custom" };
    expect(setters(observed, { domain_type: "hvm", HVM_boot_policy: "custom" })).toEqual([
      ["VM.set_domain_type", "hvm"],
      ["VM.set_HVM_boot_policy", "custom"],
    ]);
  });

  it("writes only the PV fields that differ, in a fixed order", () => {
    const pv: XapiBootFields = {
      ...HVM,
      domain_type: "pv",
      HVM_boot_policy: "",
      PV_bootloader: "pygrub",
      PV_args: "quiet",
    };
    expect(
      setters(pv, { PV_bootloader: "", PV_kernel: "/var/lib/xcp/guest/vmlinuz", PV_args: "quiet" }),
    ).toEqual([
      ["VM.set_PV_bootloader", ""],
      ["VM.set_PV_kernel", "/var/lib/xcp/guest/vmlinuz"],
    ]);
  });

  it("describes a setter with its value and the observed one", () => {
    const plan = planOf({
      observedPowerState: "Running",
      observedBoot: HVM,
      declaredPowerState: "Running",
      declaredBoot: { HVM_boot_params: { order: "dc" } },
      policy: { ...DEFAULT_POLICY, bootChanges: "next-boot" },
    });
    expect(describePlan(plan)).toMatchInlineSnapshot(`
      [
        "1. VM.set_HVM_boot_params(value: {"order":"dc","firmware":"bios"}) (Running → Running): HVM_boot_params is {"order":"cd","firmware":"bios"}, declared {"order":"dc","firmware":"bios"}",
      ]
    `);
  });
});

describe("PV blocks: only the fields the user writes are planned", () => {
  /** "Generic PV (pygrub)"'s boot fields. */
  const PYGRUB_TEMPLATE: XapiBootFields = {
    ...HVM,
    domain_type: "pv",
    HVM_boot_policy: "",
    HVM_boot_params: {},
    PV_bootloader: "pygrub",
    PV_args: "console=hvc0",
  };
  /** A PV VM that boots a control-domain kernel directly. */
  const DIRECT: XapiBootFields = {
    ...PYGRUB_TEMPLATE,
    PV_bootloader: "",
    PV_kernel: "/var/lib/xcp/guest/vmlinuz-6.1",
    PV_ramdisk: "/var/lib/xcp/guest/initrd-6.1.img",
    PV_args: "root=/dev/xvda1 ro console=hvc0",
  };
  /** A PV VM with neither bootloader nor kernel. */
  const EMPTY: XapiBootFields = { ...PYGRUB_TEMPLATE, PV_bootloader: "", PV_args: "console=hvc0" };

  const setters = (observed: XapiBootFields, pv: OraclePvBlock) =>
    planOf({
      observedPowerState: "Halted",
      observedBoot: observed,
      declaredPowerState: "Halted",
      declaredBoot: toXapiBootFields({ pv }),
      policy: DEFAULT_POLICY,
    }).steps.map((s) => [s.call, s.args.value]);

  it('pv: { bootloader: "pygrub" } on the pygrub template plans nothing (PV_args "console=hvc0" is kept)', () => {
    expect(setters(PYGRUB_TEMPLATE, { bootloader: "pygrub" })).toEqual([]);
  });

  it('pv: { bootloader: "pygrub" } on a direct-boot VM sets the bootloader only (PV_kernel, PV_ramdisk, PV_args untouched)', () => {
    expect(setters(DIRECT, { bootloader: "pygrub" })).toEqual([["VM.set_PV_bootloader", "pygrub"]]);
  });

  it("pv: {} on a VM whose bootloader and kernel are both empty plans pygrub (the seed)", () => {
    expect(setters(EMPTY, {})).toEqual([["VM.set_PV_bootloader", "pygrub"]]);
  });

  it('pv: { args: "x" } on a VM whose bootloader and kernel are both empty plans pygrub and the args', () => {
    expect(setters(EMPTY, { args: "x" })).toEqual([
      ["VM.set_PV_bootloader", "pygrub"],
      ["VM.set_PV_args", "x"],
    ]);
  });

  it("pv: {} on a VM with a direct kernel plans nothing", () => {
    expect(setters(DIRECT, {})).toEqual([]);
  });

  it('pv: { args: "x" } on a VM with a direct kernel plans the args only, nothing for the bootloader', () => {
    expect(setters(DIRECT, { args: "x" })).toEqual([["VM.set_PV_args", "x"]]);
  });

  it('pv: { bootloader: "" } on the pygrub template keeps pygrub: without a kernel, empty means pygrub (the seed)', () => {
    expect(setters(PYGRUB_TEMPLATE, { bootloader: "" })).toEqual([]);
  });

  it("a kernel written without a bootloader clears the VM's bootloader (direct boot)", () => {
    expect(setters(PYGRUB_TEMPLATE, { kernel: "/var/lib/xcp/guest/vmlinuz" })).toEqual([
      ["VM.set_PV_bootloader", ""],
      ["VM.set_PV_kernel", "/var/lib/xcp/guest/vmlinuz"],
    ]);
  });

  it("an empty kernel written on a direct-boot VM leaves both empty, so pygrub is planned", () => {
    expect(setters(DIRECT, { kernel: "" })).toEqual([
      ["VM.set_PV_bootloader", "pygrub"],
      ["VM.set_PV_kernel", ""],
    ]);
  });

  it("an HVM VM switched to pv: {} gets pygrub when its PV fields are empty", () => {
    expect(setters(HVM, {})).toEqual([
      ["VM.set_HVM_boot_policy", ""],
      ["VM.set_PV_bootloader", "pygrub"],
    ]);
  });

  // Against the independent model: every combination of written / omitted keys on four kinds of VM.
  const CHOICES = {
    bootloader: [undefined, "", "pygrub"],
    kernel: [undefined, "", "/var/lib/xcp/guest/vmlinuz"],
    ramdisk: [undefined, "", "/var/lib/xcp/guest/initrd.img"],
    args: [undefined, "", "quiet"],
    bootloaderArgs: [undefined, "--entry=1"],
  } as const;
  const BLOCKS: OraclePvBlock[] = [{}];
  for (const [key, values] of Object.entries(CHOICES)) {
    const next = BLOCKS.flatMap((b) => values.map((v) => (v === undefined ? b : { ...b, [key]: v })));
    BLOCKS.splice(0, BLOCKS.length, ...next);
  }
  const VMS: [string, XapiBootFields][] = [
    ["pygrub", PYGRUB_TEMPLATE],
    ["direct", DIRECT],
    ["empty", EMPTY],
    ["hvm", HVM],
  ];
  const fieldsOf = (vm: XapiBootFields): OraclePvFields => ({
    bootloader: vm.PV_bootloader,
    kernel: vm.PV_kernel,
    ramdisk: vm.PV_ramdisk,
    args: vm.PV_args,
    bootloaderArgs: vm.PV_bootloader_args,
  });

  it("covers every block on every VM", () => {
    expect(BLOCKS.length * VMS.length).toBe(3 * 3 * 3 * 3 * 2 * 4);
  });

  it.each(VMS.flatMap(([name, vm]) => BLOCKS.map((pv) => ({ name, vm, pv, block: JSON.stringify(pv) }))))(
    "$name VM, pv $block: the PV setters are the independent model's",
    ({ vm, pv }) => {
      expect.assertions(1);
      const planned = Object.fromEntries(setters(vm, pv).filter(([call]) => String(call).includes("_PV_")));
      expect(planned).toEqual(pvWrites(pv, fieldsOf(vm)));
    },
  );
});
