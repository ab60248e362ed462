// A fleet of VMs from one template: every fifth one Halted, the rest Running. The provider shares
// one XAPI session between all of them (one login per `pulumi up`), and the engine runs them in
// parallel (`pulumi up --parallel N`).
import * as pulumi from "@pulumi/pulumi";
import * as xapi from "pulumi-xapi";

const config = new pulumi.Config();
const size = config.getNumber("size") ?? 50;
const template = config.get("template") ?? "Other install media";

const vms = Array.from({ length: size }, (_, i) => {
  const name = `fleet-${String(i + 1).padStart(2, "0")}`;
  return new xapi.Vm(name, {
    template,
    nameLabel: name,
    powerState: i % 5 === 4 ? "Halted" : "Running",
    hvm: { bootParams: { order: "cd" } },
  });
});

export const running = pulumi
  .all(vms.map((vm) => vm.observedPowerState))
  .apply((states) => states.filter((s) => s === "Running").length);
export const uuids = vms.map((vm) => vm.uuid);
