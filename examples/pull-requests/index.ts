// The VMs this repository manages. Change them in a pull request: the workflow in
// .github/workflows/xapi.yml comments on it with the XenAPI calls `pulumi up` will make, and makes them
// when the pull request is merged into main. The connection comes from the environment (XAPI_URL,
// XAPI_USERNAME, XAPI_PASSWORD, XAPI_FINGERPRINT), which the workflow fills from the repository's
// variables and secrets; see README.md.
import * as xapi from "pulumi-xapi";

/** Every VM by its resource name, which is also its name_label. */
const fleet: Record<string, xapi.VmArgs> = {
  "app-01": {
    template: "Other install media",
    powerState: "Running",
    hvm: { bootParams: { order: "cd" } },
  },
  "app-02": {
    template: "Other install media",
    powerState: "Running",
    hvm: { bootParams: { order: "cd" } },
  },
  "build-01": {
    template: "Other install media",
    powerState: "Halted",
  },
};

export const vms = Object.fromEntries(
  Object.entries(fleet).map(([name, args]) => {
    const vm = new xapi.Vm(name, { nameLabel: name, ...args });
    return [name, { uuid: vm.uuid, powerState: vm.observedPowerState }];
  }),
);
