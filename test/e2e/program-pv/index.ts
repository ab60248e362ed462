// An e2e program for the boot rules: one PV VM booted by pygrub, whose bootable disks come from stack
// config (`e2e:bootableDisks`, a JSON list of userdevice values).
import * as pulumi from "@pulumi/pulumi";
import * as xapi from "pulumi-xapi";

const config = new pulumi.Config("e2e");

const vm = new xapi.Vm("pv-vm", {
  template: "Generic PV (pygrub)",
  nameLabel: config.get("nameLabel") ?? "e2e-pv",
  powerState: "Running",
  pv: { bootloader: "pygrub", args: "console=hvc0" },
  bootableDisks: config.getObject<string[]>("bootableDisks") ?? ["0"],
});

export const uuid = vm.uuid;
export const observedPowerState = vm.observedPowerState;
