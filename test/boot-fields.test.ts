/**
 * The boot-field rules shared by the planner, the executor and the resource
 * (`provider/model/boot-fields.ts`, `provider/model/same-value.ts`).
 */
import { describe, expect, it } from "vitest";
import type { XapiBootFields } from "../provider/model/boot";
import {
  alreadySet,
  applyBootSetter,
  bootPolicyForDomainType,
  coupledFieldsAgree,
  domainTypeForBootPolicy,
  fieldOfSetter,
} from "../provider/model/boot-fields";
import { sameValue } from "../provider/model/same-value";

const PVH: XapiBootFields = {
  domain_type: "pvh",
  HVM_boot_policy: "",
  HVM_boot_params: { order: "cd" },
  PV_bootloader: "pygrub",
  PV_kernel: "",
  PV_ramdisk: "",
  PV_args: "",
  PV_bootloader_args: "",
};

describe("domain_type <-> HVM_boot_policy", () => {
  it("maps both ways as XAPI's setters do", () => {
    expect([domainTypeForBootPolicy(""), domainTypeForBootPolicy("BIOS order")]).toEqual(["pv", "hvm"]);
    expect([
      bootPolicyForDomainType("hvm"),
      bootPolicyForDomainType("pv"),
      bootPolicyForDomainType("pvh"),
    ]).toEqual(["BIOS order", "", ""]);
    expect([
      coupledFieldsAgree("hvm", ""),
      coupledFieldsAgree("pvh", ""),
      coupledFieldsAgree("pv", "x"),
    ]).toEqual([false, true, false]);
  });

  it("set_HVM_boot_policy also rewrites domain_type, and set_domain_type the policy", () => {
    expect(applyBootSetter(PVH, "HVM_boot_policy", "")).toMatchObject({
      domain_type: "pv",
      HVM_boot_policy: "",
    });
    expect(applyBootSetter(PVH, "domain_type", "hvm")).toMatchObject({
      domain_type: "hvm",
      HVM_boot_policy: "BIOS order",
    });
    expect(applyBootSetter(PVH, "PV_args", "quiet")).toEqual({ ...PVH, PV_args: "quiet" });
  });

  it("does not change its input", () => {
    applyBootSetter(PVH, "domain_type", "hvm");
    expect(PVH.domain_type).toBe("pvh");
  });
});

describe("setters and sameness", () => {
  it("names the field of each VM setter, none for VBD.set_bootable", () => {
    expect([
      fieldOfSetter("VM.set_PV_args"),
      fieldOfSetter("VM.set_domain_type"),
      fieldOfSetter("VBD.set_bootable"),
    ]).toEqual(["PV_args", "domain_type", undefined]);
  });

  it("compares maps by content, in any key order", () => {
    expect(alreadySet(PVH, "HVM_boot_params", { order: "cd" })).toBe(true);
    expect(alreadySet(PVH, "HVM_boot_params", { order: "cd", firmware: "uefi" })).toBe(false);
    expect(sameValue({ a: "1", b: ["x", { c: 2 }] }, { b: ["x", { c: 2 }], a: "1" })).toBe(true);
    expect(sameValue({ a: "1", b: undefined }, { a: "1" })).toBe(true);
    expect(sameValue(["a"], { 0: "a" })).toBe(false);
    expect(sameValue("", undefined)).toBe(false);
  });
});
