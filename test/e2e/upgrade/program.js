// The Pulumi program of test/e2e/upgrade.test.ts and of make-fixture.js (which ran it with an earlier
// release): the VMs of the stack config `e2e:vms`, a JSON object {resource name: VmArgs}. Plain
// JavaScript, so that any release of the package runs it unchanged.
const pulumi = require("@pulumi/pulumi");
const xapi = require("pulumi-xapi");

const declared = new pulumi.Config("e2e").requireObject("vms");
for (const [name, args] of Object.entries(declared)) new xapi.Vm(name, args);
