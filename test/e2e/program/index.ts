// The e2e tests' Pulumi program: one HVM VM whose declaration comes from stack config (namespace "e2e"),
// so a test changes the VM with `pulumi config set` alone. Defaults match examples/quickstart.
import * as pulumi from "@pulumi/pulumi";
import * as xapi from "pulumi-xapi";

const config = new pulumi.Config("e2e");

const vm = new xapi.Vm("e2e-vm", {
  template: config.get("template") ?? "Other install media",
  nameLabel: config.get("nameLabel") ?? "e2e-vm",
  // Not narrowed on purpose: a bad value must reach the provider's check (one e2e test relies on it).
  powerState: (config.get("powerState") ?? "Running") as NonNullable<xapi.VmArgs["powerState"]>,
  hvm: { bootParams: { order: config.get("bootOrder") ?? "cd" } },
});

export const uuid = vm.uuid;
export const observedPowerState = vm.observedPowerState;
