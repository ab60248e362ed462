/** Boot configuration as the resource reads it back: drift blocks for refresh, effective boot, pending paths. */
import { describe, expect, it } from "vitest";
import type { XapiBootFields } from "../provider/model/boot";
import {
  changedBootPaths,
  effectiveBootOf,
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

  it("keeps the declared PV keys plus the ones that drifted", () => {
    expect(
      observedDeclaration(
        { pv: { bootloader: "pygrub" } },
        pv({ PV_bootloader: "pygrub", PV_args: "console=hvc0 single" }),
      ),
    ).toEqual({ pv: { bootloader: "pygrub", args: "console=hvc0 single" } });
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
