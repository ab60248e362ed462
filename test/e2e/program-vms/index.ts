// The Pulumi program of test/e2e/kill.test.ts and test/e2e/bookkeeping.test.ts: the VMs of the stack
// config `e2e:vms`, a JSON object {resource name: VmArgs}, so a test declares anything with one
// `pulumi config set`. Each VM's outputs are exported under its resource name.
import * as pulumi from "@pulumi/pulumi";
import * as xapi from "pulumi-xapi";

const config = new pulumi.Config("e2e");
const declared = config.requireObject<Record<string, xapi.VmArgs>>("vms");

export const vms = Object.fromEntries(
  Object.entries(declared).map(([name, args]) => {
    const vm = new xapi.Vm(name, args);
    return [
      name,
      {
        uuid: vm.uuid,
        observedPowerState: vm.observedPowerState,
        pendingBootChanges: vm.pendingBootChanges,
        adopted: vm.adopted,
        lastCalls: vm.lastCalls,
      },
    ];
  }),
);
