// Quickstart: one HVM VM, Running. The root Pulumi.yaml runs this program (`npm run demo`).
// Point it at a pool with `pulumi config set xapi:url https://<pool-coordinator>` and
// `pulumi config set --secret xapi:password <password>`; `pulumi preview --diff` lists the XenAPI calls.
// Change the VM with config alone, e.g. `pulumi config set bootOrder dc` and
// `pulumi config set powerState Paused` (what `npm run demo` does), then `pulumi preview --diff`.
import * as pulumi from "@pulumi/pulumi";
import * as xapi from "pulumi-xapi";

const config = new pulumi.Config();
const powerStates = ["Halted", "Paused", "Running", "Suspended"] as const;
type PowerState = (typeof powerStates)[number];
const powerState = config.get("powerState") ?? "Running";
if (!powerStates.includes(powerState as PowerState))
  throw new Error(`powerState must be one of ${powerStates.join(", ")}, not "${powerState}"`);

const vm = new xapi.Vm("quickstart", {
  // xapi-sim and XCP-ng both ship this HVM template.
  template: config.get("template") ?? "Other install media",
  nameLabel: config.get("nameLabel") ?? "quickstart-vm",
  powerState: powerState as PowerState,
  // QEMU boot order: "cd" = disk first, then CD-ROM; "dc" = CD-ROM first.
  hvm: { bootParams: { order: config.get("bootOrder") ?? "cd" } },
});

export const uuid = vm.uuid;
export const observedPowerState = vm.observedPowerState;
export const effectiveBoot = vm.effectiveBoot;
export const lastCalls = vm.lastCalls.apply((calls) =>
  calls.map((c) => `${c.call} (${c.from ?? "-"} → ${c.to ?? "-"})`),
);
