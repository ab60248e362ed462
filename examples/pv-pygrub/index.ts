// A PV VM that boots the kernel from its own disk through pygrub, with extra kernel arguments.
import * as pulumi from "@pulumi/pulumi";
import * as xapi from "pulumi-xapi";

const config = new pulumi.Config();

const vm = new xapi.Vm("pv-pygrub", {
  // xapi-sim's PV template; on a real pool use a PV-capable template of yours.
  template: config.get("template") ?? "Generic PV (pygrub)",
  nameLabel: "pv-pygrub",
  powerState: "Running",
  pv: { bootloader: "pygrub", args: config.get("args") ?? "console=hvc0 quiet" },
});

export const uuid = vm.uuid;
export const effectiveBoot = vm.effectiveBoot;
