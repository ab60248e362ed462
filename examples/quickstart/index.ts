// Quickstart: one HVM VM, Running. The root Pulumi.yaml runs this program (`npm run demo`).
// Point it at a pool with `pulumi config set xapi:url https://<pool-coordinator>` and
// `pulumi config set --secret xapi:password <password>`; `pulumi preview --diff` lists the XenAPI calls.
import * as pulumi from "@pulumi/pulumi";
import * as xapi from "pulumi-xapi";

const config = new pulumi.Config();

const vm = new xapi.Vm("quickstart", {
  // xapi-sim and XCP-ng both ship this HVM template.
  template: config.get("template") ?? "Other install media",
  nameLabel: config.get("nameLabel") ?? "quickstart-vm",
  powerState: "Running",
  hvm: { bootParams: { order: "cd" } },
});

export const uuid = vm.uuid;
export const observedPowerState = vm.observedPowerState;
export const effectiveBoot = vm.effectiveBoot;
export const lastCalls = vm.lastCalls.apply((calls) =>
  calls.map((c) => `${c.call} (${c.from ?? "-"} → ${c.to ?? "-"})`),
);
