import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type BootBlock, PvBootSchema, toXapiBootFields } from "../provider/boot/schema";
import type { DeclaredBootFields, DomainType, XapiBootFields } from "../provider/model/boot";
import type { PlanInput, PlanStep, Policy } from "../provider/model/plan";
import { planTransition } from "../provider/planner";
import { pvAfter } from "./planner-oracle";

// A fixed number of runs and no wall-clock limit: a busy machine makes the properties slower, never failing.
fc.configureGlobal({ numRuns: 400 });

// XAPI's setters, written here independently of the planner: VM.set_HVM_boot_policy also writes domain_type
// ("" ⇒ pv, else hvm) and VM.set_domain_type also writes HVM_boot_policy ("BIOS order" for hvm, else "")
// (docs/xapi-facts.md, "domain_type and HVM_boot_policy").
function applySetter(fields: XapiBootFields, step: PlanStep): XapiBootFields {
  const value = step.args.value;
  switch (step.call) {
    case "VM.set_HVM_boot_policy":
      return { ...fields, HVM_boot_policy: value as string, domain_type: value === "" ? "pv" : "hvm" };
    case "VM.set_domain_type":
      return {
        ...fields,
        domain_type: value as DomainType,
        HVM_boot_policy: value === "hvm" ? "BIOS order" : "",
      };
    case "VM.set_HVM_boot_params":
      return { ...fields, HVM_boot_params: value as Record<string, string> };
    case "VM.set_PV_bootloader":
      return { ...fields, PV_bootloader: value as string };
    case "VM.set_PV_kernel":
      return { ...fields, PV_kernel: value as string };
    case "VM.set_PV_ramdisk":
      return { ...fields, PV_ramdisk: value as string };
    case "VM.set_PV_args":
      return { ...fields, PV_args: value as string };
    case "VM.set_PV_bootloader_args":
      return { ...fields, PV_bootloader_args: value as string };
    default:
      throw new Error(`not a setter: ${step.call}`);
  }
}

/** Declared fields are satisfied: equal, except HVM_boot_params which must contain the declared keys. */
function satisfies(fields: XapiBootFields, declared: DeclaredBootFields): boolean {
  return Object.entries(declared).every(([k, v]) => {
    const have = fields[k as keyof XapiBootFields];
    if (k === "HVM_boot_params") {
      return Object.entries(v as Record<string, string>).every(
        ([pk, pv]) => (have as Record<string, string>)[pk] === pv,
      );
    }
    return have === v;
  });
}

const str = fc.constantFrom("", "console=hvc0", "quiet splash", "--entry=1");
const pvBlock = fc
  .record(
    {
      bootloader: fc.constantFrom("", "pygrub", "/usr/lib/xen/bin/pygrub"),
      kernel: fc.constantFrom("", "/var/lib/xcp/guest/vmlinuz", "/boot/vmlinuz-6.1"),
      ramdisk: fc.constantFrom("", "/var/lib/xcp/guest/initrd.img"),
      args: str,
      bootloaderArgs: str,
    },
    { requiredKeys: [] },
  )
  .filter((pv) => PvBootSchema.safeParse(pv).success);
const order = fc
  .shuffledSubarray(["a", "c", "d", "n"], { minLength: 1, maxLength: 3 })
  .map((devices) => devices.join(""));
const hvmBlock = fc.record({
  bootParams: fc.record(
    { order, firmware: fc.constantFrom("bios" as const, "uefi" as const) },
    { requiredKeys: ["order"] },
  ),
});
const block: fc.Arbitrary<BootBlock> = fc.oneof(
  pvBlock.map((pv) => ({ pv })),
  hvmBlock.map((hvm) => ({ hvm })),
  fc.constant({}),
);
const observedBoot: fc.Arbitrary<XapiBootFields> = fc.record({
  domain_type: fc.constantFrom<DomainType>("hvm", "pv", "pvh", "pv_in_pvh", "unspecified"),
  HVM_boot_policy: fc.constantFrom("", "BIOS order"),
  HVM_boot_params: fc.record(
    { order: fc.constantFrom("cd", "dc", "n"), firmware: fc.constantFrom("bios", "uefi") },
    { requiredKeys: [] },
  ),
  PV_bootloader: fc.constantFrom("", "pygrub"),
  PV_kernel: fc.constantFrom("", "/var/lib/xcp/guest/vmlinuz"),
  PV_ramdisk: fc.constantFrom("", "/var/lib/xcp/guest/initrd.img"),
  PV_args: str,
  PV_bootloader_args: str,
});
const policy: fc.Arbitrary<Policy> = fc.record({
  shutdown: fc.constantFrom("clean", "clean-then-hard", "hard"),
  allowDiscardSuspendedState: fc.boolean(),
  bootChanges: fc.constantFrom("restart", "next-boot"),
});
const input: fc.Arbitrary<PlanInput & { block: BootBlock; declaredBoot: DeclaredBootFields }> = fc
  .record({
    observedPowerState: fc.constantFrom("Halted", "Paused", "Running", "Suspended", "Crashed"),
    observedBoot,
    declaredPowerState: fc.constantFrom("Halted", "Paused", "Running", "Suspended"),
    block,
    liveDomainBootStale: fc.boolean(),
    forceRestart: fc.boolean(),
    policy,
  })
  .map((i) => ({ ...i, declaredBoot: toXapiBootFields(i.block) }));

/** The fields the VM must end with: the declared ones, and for a pv block its domain type and the independent model's PV fields. */
function expected(i: { block: BootBlock; declaredBoot: DeclaredBootFields; observedBoot: XapiBootFields }) {
  if (i.block.pv === undefined) return i.declaredBoot;
  const o = i.observedBoot;
  const pv = pvAfter(i.block.pv, {
    bootloader: o.PV_bootloader,
    kernel: o.PV_kernel,
    ramdisk: o.PV_ramdisk,
    args: o.PV_args,
    bootloaderArgs: o.PV_bootloader_args,
  });
  // A pv block without a domain type keeps a PV-like VM's own and makes any other VM "pv" (the domain type
  // decides what XAPI builds, whatever HVM_boot_policy says).
  const pvLike = ["pv", "pvh", "pv_in_pvh"].includes(o.domain_type);
  return {
    ...i.declaredBoot,
    domain_type: i.block.pv.domainType ?? (pvLike ? o.domain_type : "pv"),
    PV_bootloader: pv.bootloader,
    PV_kernel: pv.kernel,
    PV_ramdisk: pv.ramdisk,
    PV_args: pv.args,
    PV_bootloader_args: pv.bootloaderArgs,
  };
}

function plan(i: PlanInput) {
  const result = planTransition(i);
  if (!result.ok) throw new Error(`${result.failure.code}: ${result.failure.reason}`);
  return result.plan;
}

describe("planner properties over random boot configs and policies", () => {
  it("always finds a plan for a declaration made by the boot schema", () => {
    fc.assert(
      fc.property(input, (i) => {
        expect(planTransition(i)).toMatchObject({ ok: true });
      }),
    );
  });

  it("the setter steps turn the observed fields into the declared ones", () => {
    fc.assert(
      fc.property(input, (i) => {
        const after = plan(i)
          .steps.filter((s) => s.kind === "set")
          .reduce(applySetter, i.observedBoot);
        expect(satisfies(after, expected(i))).toBe(true);
      }),
    );
  });

  it("every setter step changes a field (no redundant writes)", () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(input, (i) => {
        let fields = i.observedBoot;
        for (const s of plan(i).steps.filter((st) => st.kind === "set")) {
          const next = applySetter(fields, s);
          expect(next).not.toEqual(fields);
          fields = next;
        }
      }),
    );
  });

  it("emits no setter when the observed fields already satisfy the declaration", () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(input, (i) => {
        fc.pre(satisfies(i.observedBoot, expected(i)));
        expect(plan(i).steps.filter((s) => s.kind === "set")).toEqual([]);
      }),
    );
  });

  it("converges: planning again from where the plan ends gives the empty plan", () => {
    fc.assert(
      fc.property(input, (i) => {
        const first = plan(i);
        const after = first.steps.filter((s) => s.kind === "set").reduce(applySetter, i.observedBoot);
        const again = plan({
          ...i,
          observedPowerState: i.declaredPowerState,
          observedBoot: after,
          liveDomainBootStale: first.bootChangePending,
          forceRestart: false,
        });
        expect(again.steps).toEqual([]);
        expect(again.bootChangePending).toBe(first.bootChangePending);
      }),
    );
  });

  it("never needs more than 3 lifecycle calls", () => {
    fc.assert(
      fc.property(input, (i) => {
        expect(plan(i).lifecycleCalls).toBeLessThanOrEqual(3);
      }),
    );
  });

  it("is deterministic", () => {
    fc.assert(
      fc.property(input, (i) => {
        expect(planTransition(i)).toEqual(planTransition(i));
      }),
    );
  });

  it("never plans VM.shutdown", () => {
    fc.assert(
      fc.property(input, (i) => {
        expect(plan(i).steps.map((s) => s.call)).not.toContain("VM.shutdown");
      }),
    );
  });

  it("plans a hard call only under the hard policy or to leave Crashed", () => {
    fc.assert(
      fc.property(input, (i) => {
        const hard = plan(i).steps.filter(
          (s) => s.call === "VM.hard_reboot" || s.call === "VM.hard_shutdown",
        );
        // The clean modes plan no hard call (clean-then-hard escalates at run time, not in the plan).
        expect(hard.filter((s) => i.policy.shutdown !== "hard" && s.from !== "Crashed")).toEqual([]);
      }),
    );
  });

  it("hard-shuts-down a Suspended VM only when allowDiscardSuspendedState is true", () => {
    fc.assert(
      fc.property(input, (i) => {
        const discards = plan(i).steps.filter((s) => s.call === "VM.hard_shutdown" && s.from === "Suspended");
        expect(discards.length === 0 || i.policy.allowDiscardSuspendedState).toBe(true);
      }),
    );
  });
});
