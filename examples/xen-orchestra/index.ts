// Xen Orchestra creates the VM (disks, networks, cloud-init); pulumi-xapi owns its power state and
// boot configuration through `uuid` (adoption). Xen Orchestra is told to ignore those fields, so the
// two providers never fight over them. Deleting the pulumi-xapi resource releases the VM (it is
// Xen Orchestra's to destroy). Needs the xenorchestra Pulumi plugin and an XO instance; covered
// offline by test/provider-xen-orchestra.test.ts with Pulumi mocks.
import * as pulumi from "@pulumi/pulumi";
import * as xo from "@vates/pulumi-xenorchestra";
import * as xapi from "pulumi-xapi";

const config = new pulumi.Config();

const app = new xo.Vm(
  "app",
  {
    nameLabel: "app-01",
    template: config.require("templateId"),
    cpus: 2,
    memoryMax: 4 * 1024 ** 3,
    networks: [{ networkId: config.require("networkId") }],
    disks: [{ srId: config.require("srId"), nameLabel: "app-01-root", size: 20 * 1024 ** 3 }],
  },
  // pulumi-xapi manages these; XO must not revert them.
  { ignoreChanges: ["powerState", "hvmBootFirmware"] },
);

const power = new xapi.Vm("app-power", {
  uuid: app.id,
  powerState: (config.get("powerState") as xapi.VmArgs["powerState"]) ?? "Running",
  hvm: { bootParams: { order: "cd", firmware: "uefi" } },
  policy: { shutdown: "clean-then-hard", bootChanges: "restart" },
});

export const vmId = app.id;
export const observedPowerState = power.observedPowerState;
export const effectiveBoot = power.effectiveBoot;
