// The Pulumi program of test/e2e/sizing.test.ts: the VMs of the stack config `e2e:vms`, a JSON object
// {resource name: VmArgs}. Each VM's uuid, `observed` object and calls are exported under its name.
import * as pulumi from "@pulumi/pulumi";
import * as xapi from "pulumi-xapi";

const config = new pulumi.Config("e2e");
const declared = config.requireObject<Record<string, xapi.VmArgs>>("vms");

export const vms = Object.fromEntries(
  Object.entries(declared).map(([name, args]) => {
    const vm = new xapi.Vm(name, args);
    return [name, { uuid: vm.uuid, observed: vm.observed, lastCalls: vm.lastCalls }];
  }),
);
