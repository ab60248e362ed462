/**
 * The planner and declared bootable disks (`bootableUserdevices`): one `VBD.set_bootable` step per VBD
 * whose flag differs, and the change is a boot-config change like any field: it reaches a live domain
 * only when the domain is rebuilt, so the lifecycle part of the plan is the independent model's for a
 * boot change (test/planner-oracle.ts).
 */
import { describe, expect, it } from "vitest";
import type { ObservedDisk, XapiBootFields } from "../provider/model/boot";
import type { Policy } from "../provider/model/plan";
import { DECLARABLE_POWER_STATES, PowerState } from "../provider/model/vocabulary";
import { DEFAULT_POLICY, planTransition } from "../provider/planner";
import { apply, gentlestPlans, type Situation, startSim, type Target } from "./planner-oracle";

const BOOT: XapiBootFields = {
  domain_type: "pv",
  HVM_boot_policy: "",
  HVM_boot_params: {},
  PV_bootloader: "pygrub",
  PV_kernel: "",
  PV_ramdisk: "",
  PV_args: "console=hvc0",
  PV_bootloader_args: "",
};

/** pv-01's disks: root 0 bootable, data 1, CD drive 3. */
const DISKS: ObservedDisk[] = [
  { userdevice: "0", bootable: true },
  { userdevice: "1", bootable: false },
  { userdevice: "3", bootable: false },
];

/** The plan's steps; `observed` "unread" = no observation (a default parameter cannot be undefined). */
function setters(declared: readonly string[], observed: readonly ObservedDisk[] | "unread" = DISKS) {
  const result = planTransition({
    observedPowerState: "Halted",
    observedBoot: BOOT,
    declaredPowerState: "Halted",
    declaredBoot: { bootableUserdevices: declared },
    observedDisks: observed === "unread" ? undefined : observed,
    policy: DEFAULT_POLICY,
  });
  if (!result.ok) throw new Error(result.failure.reason);
  return result.plan.steps.map((s) => [s.call, s.args]);
}

describe("VBD.set_bootable steps", () => {
  it('matches a declared device name to the disk XAPI reads it as: "xvda" is disk 0, already bootable', () => {
    expect(setters(["xvda"])).toEqual([]);
  });

  it("matches a declared number to a VBD whose userdevice is a device name (a XenServer 6.1 pool)", () => {
    const named: ObservedDisk[] = [
      { userdevice: "xvda", bootable: false },
      { userdevice: "xvdd", bootable: true },
    ];
    expect(setters(["0"], named)).toEqual([
      ["VBD.set_bootable", { userdevice: "xvda", value: true }],
      ["VBD.set_bootable", { userdevice: "xvdd", value: false }],
    ]);
  });

  it("sets the declared disks and clears the others, in userdevice order", () => {
    expect(setters(["3", "1"])).toEqual([
      ["VBD.set_bootable", { userdevice: "0", value: false }],
      ["VBD.set_bootable", { userdevice: "1", value: true }],
      ["VBD.set_bootable", { userdevice: "3", value: true }],
    ]);
  });

  it("plans nothing when the flags already match", () => {
    expect(setters(["0"])).toEqual([]);
  });

  it("[] clears every bootable flag", () => {
    expect(setters([])).toEqual([["VBD.set_bootable", { userdevice: "0", value: false }]]);
  });

  it("without an observation sets every declared disk (a preview before the VM exists)", () => {
    expect(setters(["1", "0"], "unread")).toEqual([
      ["VBD.set_bootable", { userdevice: "0", value: true }],
      ["VBD.set_bootable", { userdevice: "1", value: true }],
    ]);
  });

  it("orders userdevices numerically (2 before 10)", () => {
    const disks = [
      { userdevice: "10", bootable: false },
      { userdevice: "2", bootable: false },
    ];
    expect(
      setters(["10", "2"], disks).map(([, args]) => (args as { userdevice: string }).userdevice),
    ).toEqual(["2", "10"]);
  });

  it("fails INVALID_DECLARED_BOOT for a userdevice the VM does not have", () => {
    const result = planTransition({
      observedPowerState: "Running",
      observedBoot: BOOT,
      declaredPowerState: "Running",
      declaredBoot: { bootableUserdevices: ["0", "7"] },
      observedDisks: DISKS,
      policy: DEFAULT_POLICY,
    });
    expect(result).toMatchInlineSnapshot(`
      {
        "failure": {
          "code": "INVALID_DECLARED_BOOT",
          "reason": "Unknown disk: expected the userdevice of one of the VM's disks ("0", "1", "3"), received "7". List them with \`xe vbd-list vm-uuid=<uuid> params=userdevice,type,bootable\`.",
        },
        "ok": false,
      }
    `);
  });

  it("fails INVALID_DECLARED_BOOT for a userdevice XAPI would not read as a device", () => {
    const result = planTransition({
      observedPowerState: "Halted",
      observedBoot: BOOT,
      declaredPowerState: "Halted",
      declaredBoot: { bootableUserdevices: ["disk0"] },
      observedDisks: DISKS,
      policy: DEFAULT_POLICY,
    });
    expect(result).toMatchInlineSnapshot(`
      {
        "failure": {
          "code": "INVALID_DECLARED_BOOT",
          "reason": "Invalid declared bootable disk: expected a userdevice such as "0" or "xvda", received "disk0".",
        },
        "ok": false,
      }
    `);
  });
});

describe("a bootable change is a boot-config change like any field", () => {
  const POLICIES: Policy[] = [
    DEFAULT_POLICY,
    { ...DEFAULT_POLICY, shutdown: "hard" },
    { ...DEFAULT_POLICY, shutdown: "clean-then-hard", allowDiscardSuspendedState: true },
    { ...DEFAULT_POLICY, bootChanges: "next-boot" },
  ];
  const CASES = POLICIES.flatMap((policy) =>
    Object.values(PowerState).flatMap((from) =>
      DECLARABLE_POWER_STATES.map((to) => ({
        name: `${from} → ${to} (${policy.shutdown}, ${policy.bootChanges})`,
        // In the model, a declared boot change is a live domain that does not run the declared config.
        situation: { from, to, policy, stale: true, forceRestart: false } as Situation,
      })),
    ),
  );

  function planOf({ situation }: { situation: Situation }) {
    const result = planTransition({
      observedPowerState: situation.from,
      observedBoot: BOOT,
      declaredPowerState: situation.to,
      declaredBoot: { bootableUserdevices: ["1"] },
      observedDisks: DISKS,
      policy: situation.policy,
    });
    if (!result.ok) throw new Error(result.failure.reason);
    return result.plan;
  }
  const movesOf = (plan: ReturnType<typeof planOf>) =>
    plan.steps
      .filter((s) => s.kind === "lifecycle")
      .map((s) => ({ from: s.from, call: s.call, to: s.to as Target }));

  it("covers every policy × observed state × declared state", () => {
    expect(CASES).toHaveLength(4 * 5 * 4);
  });

  it.each(CASES)(
    "$name: the lifecycle calls are one of the model's shortest, gentlest for a boot change",
    (c) => {
      expect.assertions(1);
      const key = (moves: readonly { call: string; to: string }[]) =>
        moves.map((m) => `${m.call}→${m.to}`).join(" ");
      expect(gentlestPlans(c.situation).map(key)).toContain(key(movesOf(planOf(c))));
    },
  );

  it.each(CASES)("$name: reports the change pending as the model does", (c) => {
    expect.assertions(1);
    const plan = planOf(c);
    const sim = movesOf(plan).reduce(apply, startSim(c.situation));
    expect(plan.bootChangePending).toBe(sim.power !== "Halted" && !sim.fresh);
  });

  it.each(CASES)("$name: sets the two changed flags first, in the observed state", (c) => {
    expect.assertions(1);
    const from = c.situation.from;
    const setters = [...planOf(c).steps.entries()].filter(([, s]) => s.kind === "set");
    expect(setters.map(([i, s]) => [i, s.call, s.args, s.from, s.to])).toEqual([
      [0, "VBD.set_bootable", { userdevice: "0", value: false }, from, from],
      [1, "VBD.set_bootable", { userdevice: "1", value: true }, from, from],
    ]);
  });
});
