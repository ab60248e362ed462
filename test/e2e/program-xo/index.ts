// The Pulumi program of test/e2e/xen-orchestra.test.ts: the VMs of the stack config `e2e:vms`, a JSON
// object {resource name: VmArgs}. Only each VM's uuid is exported: the test reads what the provider did
// from the preview's planned calls, the simulator's state and Xen Orchestra's client, not from outputs.
import * as pulumi from "@pulumi/pulumi";
import * as xapi from "pulumi-xapi";

const config = new pulumi.Config("e2e");
const declared = config.requireObject<Record<string, xapi.VmArgs>>("vms");

export const uuids = Object.fromEntries(
  Object.entries(declared).map(([name, args]) => [name, new xapi.Vm(name, args).uuid]),
);
