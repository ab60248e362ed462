/**
 * The example programs under Pulumi mocks: which `Vm` resources each declares, and that their inputs
 * pass the provider's own validation (what `check` would say in a real preview). `pulumi-xapi` is the
 * build (`npm run build` first), as the examples' own `node_modules/pulumi-xapi` link resolves it.
 */
import { describe, expect, it, vi } from "vitest";
import { validateVmInputs } from "../provider/inputs";
import { type Registered, runUnderMocks } from "./fixtures/provider-mocks";

vi.mock("pulumi-xapi", async () => await import("../dist/provider/index"));

const VM_TYPE = "pulumi-nodejs:dynamic/xapi:Vm";

const PROGRAMS: Record<string, () => Promise<Record<string, unknown>>> = {
  quickstart: () => import("../examples/quickstart/index"),
  "pv-pygrub": () => import("../examples/pv-pygrub/index"),
  "hvm-boot-order": () => import("../examples/hvm-boot-order/index"),
  "power-tour": () => import("../examples/power-tour/index"),
  fleet: () => import("../examples/fleet/index"),
};

/**
 * What the provider would output after creating a VM, in the stored form (the examples' exports read
 * these: `uuid` is the id, the rest comes from `observed`).
 */
function createdOutputs(inputs: Record<string, unknown>): Record<string, unknown> {
  return {
    observed: {
      adopted: false,
      poolUuid: "5a1f0000-0000-4000-8000-0000000000a1",
      powerState: inputs.powerState ?? "Running",
      effectiveBoot: { domainType: "hvm", hvm: { bootParams: { order: "cd", firmware: "bios" } } },
      pendingBootChanges: [],
      domid: 1,
      lastCalls: [{ call: "VM.start", from: "Halted", to: "Running" }],
    },
  };
}

async function vmsOf(example: string, config: Record<string, string> = {}): Promise<Registered[]> {
  vi.resetModules();
  const { resources } = await runUnderMocks(
    `pulumi-xapi-${example}`,
    config,
    PROGRAMS[example] ?? (() => Promise.reject(new Error(`no example ${example}`))),
    ({ name, inputs }) => ({ id: `${name}-id`, outputs: createdOutputs(inputs) }),
  );
  return resources.filter((r) => r.type === VM_TYPE);
}

/** The declared properties a reviewer cares about, without Pulumi's internal keys. */
function declared(vm: Registered): Record<string, unknown> {
  return Object.fromEntries(Object.entries(vm.inputs).filter(([k]) => !k.startsWith("__")));
}

function failures(vms: readonly Registered[]): unknown[] {
  return vms.flatMap((vm) => {
    const v = validateVmInputs(vm.inputs);
    return v.ok ? [] : [{ vm: vm.name, failures: v.failures }];
  });
}

describe("example programs", () => {
  it("quickstart: one HVM VM from a template, Running, valid", async () => {
    const vms = await vmsOf("quickstart");
    expect([vms.map(declared), failures(vms)]).toEqual([
      [
        {
          template: "Other install media",
          nameLabel: "quickstart-vm",
          powerState: "Running",
          hvm: { bootParams: { order: "cd" } },
        },
      ],
      [],
    ]);
  });

  it("pv-pygrub: a PV VM booting through pygrub, valid", async () => {
    const vms = await vmsOf("pv-pygrub", { args: "console=hvc0" });
    expect([vms.map((vm) => vm.inputs.pv), failures(vms)]).toEqual([
      [{ bootloader: "pygrub", args: "console=hvc0" }],
      [],
    ]);
  });

  it("hvm-boot-order: the boot order and boot-change policy come from config", async () => {
    const vms = await vmsOf("hvm-boot-order", { order: "dc", bootChanges: "next-boot" });
    expect([vms.map((vm) => [vm.inputs.hvm, vm.inputs.policy]), failures(vms)]).toEqual([
      [[{ bootParams: { order: "dc" } }, { bootChanges: "next-boot" }]],
      [],
    ]);
  });

  it("power-tour: the declared power state comes from config, under clean-then-hard", async () => {
    const vms = await vmsOf("power-tour", { state: "Suspended" });
    expect([vms.map((vm) => [vm.inputs.powerState, vm.inputs.policy]), failures(vms)]).toEqual([
      [["Suspended", { shutdown: "clean-then-hard", allowDiscardSuspendedState: false }]],
      [],
    ]);
  });

  it("power-tour: an undeclarable state is refused by the program itself", async () => {
    await expect(vmsOf("power-tour", { state: "Crashed" })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[Error: power-tour:state must be one of Halted, Paused, Running, Suspended]`,
    );
  });

  it("fleet: fifty uniquely named VMs, every fifth one Halted, all valid", async () => {
    const vms = await vmsOf("fleet");
    const names = new Set(vms.map((vm) => vm.inputs.nameLabel));
    const halted = vms.filter((vm) => vm.inputs.powerState === "Halted").map((vm) => vm.name);
    expect([vms.length, names.size, halted.slice(0, 2), halted.length, failures(vms)]).toEqual([
      50,
      50,
      ["fleet-05", "fleet-10"],
      10,
      [],
    ]);
  });

  it("fleet: the size comes from config", async () => {
    expect((await vmsOf("fleet", { size: "3" })).map((vm) => vm.name)).toEqual([
      "fleet-01",
      "fleet-02",
      "fleet-03",
    ]);
  });
});
