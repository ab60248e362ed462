/** Boot configuration as the resource reads it back: drift blocks for refresh, effective boot, pending paths. */
import { describe, expect, it } from "vitest";
import type { XapiBootFields } from "../provider/model/boot";
import {
  assumedBootFields,
  changedBootPaths,
  declaredBootWithDisks,
  effectiveBootOf,
  matches,
  observedDeclaration,
  UNKNOWN_BOOT,
} from "../provider/resource/boot";

function hvm(params: Record<string, string>): XapiBootFields {
  return { ...UNKNOWN_BOOT, domain_type: "hvm", HVM_boot_policy: "BIOS order", HVM_boot_params: params };
}

function pv(fields: Partial<XapiBootFields>): XapiBootFields {
  return { ...UNKNOWN_BOOT, domain_type: "pv", ...fields };
}

describe("observedDeclaration (what refresh puts back into the inputs)", () => {
  it("keeps the declared block when the VM matches it", () => {
    const declared = { hvm: { bootParams: { order: "cd" } } };
    expect(observedDeclaration(declared, hvm({ order: "cd", firmware: "uefi" }))).toEqual(declared);
  });

  it("reports a drifted boot order without adding the unmanaged firmware", () => {
    expect(
      observedDeclaration({ hvm: { bootParams: { order: "cd" } } }, hvm({ order: "n", firmware: "bios" })),
    ).toEqual({
      hvm: { bootParams: { order: "n" } },
    });
  });

  it("reports a drifted firmware when the firmware is managed", () => {
    expect(
      observedDeclaration(
        { hvm: { bootParams: { order: "cd", firmware: "uefi" } } },
        hvm({ order: "cd", firmware: "bios" }),
      ),
    ).toEqual({ hvm: { bootParams: { order: "cd", firmware: "bios" } } });
  });

  it("reports the PV block of a VM that was switched from HVM to PV", () => {
    expect(
      observedDeclaration(
        { hvm: { bootParams: { order: "cd" } } },
        pv({ PV_bootloader: "pygrub", PV_args: "quiet" }),
      ),
    ).toEqual({ pv: { bootloader: "pygrub", args: "quiet" } });
  });

  it("keeps the declared block when only fields it does not declare differ (refresh-then-preview stays clean)", () => {
    expect(
      observedDeclaration(
        { pv: { bootloader: "pygrub" } },
        pv({ PV_bootloader: "pygrub", PV_args: "console=hvc0" }),
      ),
    ).toEqual({ pv: { bootloader: "pygrub" } });
  });

  it("reports a drifted declared PV key with the VM's value, and no undeclared key", () => {
    expect(
      observedDeclaration(
        { pv: { bootloader: "pygrub", args: "quiet" } },
        pv({ PV_bootloader: "pygrub", PV_kernel: "/boot/vmlinuz", PV_args: "console=hvc0 single" }),
      ),
    ).toEqual({ pv: { bootloader: "pygrub", args: "console=hvc0 single" } });
  });

  it("adds the bootloader a written kernel implies (direct boot) when the VM has another one", () => {
    expect(
      observedDeclaration(
        { pv: { kernel: "/var/lib/xcp/guest/vmlinuz" } },
        pv({ PV_bootloader: "pygrub", PV_kernel: "/var/lib/xcp/guest/vmlinuz" }),
      ),
    ).toEqual({ pv: { kernel: "/var/lib/xcp/guest/vmlinuz", bootloader: "pygrub" } });
  });

  it("adds the empty bootloader when the VM has neither bootloader nor kernel (pygrub would be planned)", () => {
    expect(observedDeclaration({ pv: { args: "quiet" } }, pv({ PV_args: "quiet" }))).toEqual({
      pv: { args: "quiet", bootloader: "" },
    });
  });

  it("keeps pv: {} on a VM that boots a direct kernel", () => {
    expect(observedDeclaration({ pv: {} }, pv({ PV_kernel: "/var/lib/xcp/guest/vmlinuz" }))).toEqual({
      pv: {},
    });
  });

  it("says nothing about boot when no block is declared", () => {
    expect(observedDeclaration({}, hvm({ order: "n" }))).toEqual({});
  });
});

describe("effectiveBootOf", () => {
  it("fills XAPI's HVM defaults in", () => {
    expect(effectiveBootOf(hvm({}))).toEqual({
      domainType: "hvm",
      hvm: { bootParams: { order: "cd", firmware: "bios" } },
    });
  });

  it("reports all five PV fields", () => {
    expect(effectiveBootOf(pv({ PV_bootloader: "pygrub" }))).toEqual({
      domainType: "pv",
      pv: { bootloader: "pygrub", kernel: "", ramdisk: "", args: "", bootloaderArgs: "" },
    });
  });
});

describe("changedBootPaths (pendingBootChanges)", () => {
  it("names only the HVM_boot_params keys that changed", () => {
    const steps = [{ call: "VM.set_HVM_boot_params", args: { value: { order: "dc", firmware: "bios" } } }];
    expect(changedBootPaths(steps, hvm({ order: "cd", firmware: "bios" }))).toEqual(["hvm.bootParams.order"]);
  });

  it("maps PV setters and domain-type switches to property paths, sorted, without duplicates", () => {
    const steps = [
      { call: "VM.set_PV_args", args: { value: "quiet" } },
      { call: "VM.set_HVM_boot_policy", args: { value: "" } },
      { call: "VM.set_domain_type", args: { value: "pv" } },
    ];
    expect(changedBootPaths(steps, hvm({}))).toEqual(["domainType", "pv.args"]);
  });
});

describe("matches (a plan would write no declared boot field)", () => {
  it("ignores the PV fields the declaration leaves out", () => {
    const declared = { domain_type: "pv", HVM_boot_policy: "", PV_bootloader: "pygrub" } as const;
    expect(matches(declared, pv({ PV_bootloader: "pygrub", PV_args: "console=hvc0" }))).toBe(true);
  });

  it("is false when the VM's bootloader and kernel are both empty (the seed's pygrub is due)", () => {
    const declared = { domain_type: "pv", HVM_boot_policy: "", PV_args: "quiet" } as const;
    expect(matches(declared, pv({ PV_args: "quiet" }))).toBe(false);
  });

  it("is true for the same declaration on a VM that boots a direct kernel", () => {
    const declared = { domain_type: "pv", HVM_boot_policy: "", PV_args: "quiet" } as const;
    expect(matches(declared, pv({ PV_kernel: "/var/lib/xcp/guest/vmlinuz", PV_args: "quiet" }))).toBe(true);
  });
});

describe("assumedBootFields (a VM of unknown fields after the declaration)", () => {
  it("takes the written PV fields, empty ones for the rest, and pygrub when no kernel is written", () => {
    expect(assumedBootFields({ pv: { args: "quiet" } })).toEqual({
      domain_type: "pv",
      HVM_boot_policy: "",
      HVM_boot_params: {},
      PV_bootloader: "pygrub",
      PV_kernel: "",
      PV_ramdisk: "",
      PV_args: "quiet",
      PV_bootloader_args: "",
    });
  });

  it("keeps a direct kernel's empty bootloader", () => {
    expect(assumedBootFields({ pv: { kernel: "/var/lib/xcp/guest/vmlinuz" } })).toEqual({
      domain_type: "pv",
      HVM_boot_policy: "",
      HVM_boot_params: {},
      PV_bootloader: "",
      PV_kernel: "/var/lib/xcp/guest/vmlinuz",
      PV_ramdisk: "",
      PV_args: "",
      PV_bootloader_args: "",
    });
  });

  it("is UNKNOWN_BOOT when no block is declared", () => {
    expect(assumedBootFields({})).toEqual({
      domain_type: "unspecified",
      HVM_boot_policy: "",
      HVM_boot_params: {},
      PV_bootloader: "",
      PV_kernel: "",
      PV_ramdisk: "",
      PV_args: "",
      PV_bootloader_args: "",
    });
  });
});

describe("declaredBootWithDisks", () => {
  it("passes a partial PV block through with the bootable disks", () => {
    expect(declaredBootWithDisks({ pv: { bootloader: "pygrub" }, bootableDisks: ["0"] })).toEqual({
      HVM_boot_policy: "",
      PV_bootloader: "pygrub",
      bootableUserdevices: ["0"],
    });
  });
});
