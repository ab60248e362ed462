/**
 * The planner and declared bootable disks (`bootableUserdevices`, issue #7): one `VBD.set_bootable`
 * step per VBD whose flag differs, and the change is a boot-config change like any field, so the
 * lifecycle part of the plan is the same as for any other boot field change.
 */
import { describe, expect, it } from "vitest";
import type { ObservedDisk, XapiBootFields } from "../provider/model/boot";
import type { Policy } from "../provider/model/plan";
import { DECLARABLE_POWER_STATES, PowerState } from "../provider/model/vocabulary";
import { DEFAULT_POLICY, planTransition } from "../provider/planner";

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
    expect(result.ok ? "ok" : result.failure.code).toBe("INVALID_DECLARED_BOOT");
  });
});

describe("a bootable change is a boot-config change like any field", () => {
  const POLICIES: Policy[] = [
    DEFAULT_POLICY,
    { ...DEFAULT_POLICY, shutdown: "hard" },
    { ...DEFAULT_POLICY, shutdown: "clean-then-hard", allowDiscardSuspendedState: true },
    { ...DEFAULT_POLICY, bootChanges: "next-boot" },
  ];
  const FROM = Object.values(PowerState);

  for (const policy of POLICIES) {
    for (const from of FROM) {
      for (const to of DECLARABLE_POWER_STATES) {
        it(`${from} → ${to} (${policy.shutdown}, ${policy.bootChanges}): same lifecycle calls and pending flag as a PV_args change`, () => {
          const base = { observedPowerState: from, observedBoot: BOOT, declaredPowerState: to, policy };
          const disk = planTransition({
            ...base,
            declaredBoot: { bootableUserdevices: ["1"] },
            observedDisks: DISKS,
          });
          const field = planTransition({ ...base, declaredBoot: { PV_args: "quiet" } });
          const lifecycle = (r: typeof disk) =>
            r.ok
              ? [
                  r.plan.steps.filter((s) => s.kind === "lifecycle").map((s) => s.call),
                  r.plan.bootChangePending,
                ]
              : r.failure.code;
          expect(lifecycle(disk)).toEqual(lifecycle(field));
        });
      }
    }
  }
});
