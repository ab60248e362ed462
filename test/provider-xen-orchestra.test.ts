/**
 * examples/xen-orchestra under Pulumi mocks: Xen Orchestra (`@vates/pulumi-xenorchestra`) creates the
 * VM, and a pulumi-xapi `Vm` adopts it by uuid to own its power state and boot configuration. Xen
 * Orchestra itself cannot run here, so this checks the program graph, and that the adopting `Vm`'s
 * inputs pass the provider's own validation.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import { validateVmInputs } from "../provider/inputs";
import { type Registered, runUnderMocks } from "./fixtures/provider-mocks";

// The build (`npm run build` first), as the example's own `node_modules/pulumi-xapi` link resolves it.
vi.mock("pulumi-xapi", async () => await import("../dist/provider/index"));

/** XO uses the XAPI VM uuid as the id of its `xenorchestra:index/vm:Vm`. */
const XO_VM_UUID = "5f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c";

let resources: Registered[];
let exports: Record<string, unknown>;

beforeAll(async () => {
  ({ resources, exports } = await runUnderMocks(
    "pulumi-xapi-xen-orchestra",
    { templateId: "tpl-uuid", networkId: "net-uuid", srId: "sr-uuid" },
    () => import("../examples/xen-orchestra/index"),
    ({ type, name }) =>
      type === "xenorchestra:index/vm:Vm"
        ? { id: XO_VM_UUID }
        : { id: `${name}-id`, outputs: { observed: { powerState: "Running", adopted: true } } },
  ));
});

function registered(type: string): Registered {
  const found = resources.find((r) => r.type === type);
  if (found === undefined)
    throw new Error(`no ${type} registered; got ${resources.map((r) => r.type).join(", ")}`);
  return found;
}

describe("the xen-orchestra example", () => {
  it("registers one Xen Orchestra VM and one pulumi-xapi Vm", () => {
    expect(resources.map((r) => [r.type, r.name])).toEqual([
      ["xenorchestra:index/vm:Vm", "app"],
      ["pulumi-nodejs:dynamic/xapi:Vm", "app-power"],
    ]);
  });

  it("adopts the Xen Orchestra VM by uuid instead of cloning a template", () => {
    const vm = registered("pulumi-nodejs:dynamic/xapi:Vm");
    expect([vm.inputs.uuid, vm.inputs.template]).toEqual([XO_VM_UUID, undefined]);
  });

  it("declares power state and boot config on the pulumi-xapi side only", () => {
    const xo = registered("xenorchestra:index/vm:Vm");
    const vm = registered("pulumi-nodejs:dynamic/xapi:Vm");
    expect({
      xo: [xo.inputs.powerState, xo.inputs.hvmBootFirmware],
      xapi: [vm.inputs.powerState, vm.inputs.hvm],
    }).toEqual({
      xo: [undefined, undefined],
      xapi: ["Running", { bootParams: { order: "cd", firmware: "uefi" } }],
    });
  });

  it("gives the adopting Vm inputs that the provider's check accepts", () => {
    const validation = validateVmInputs(registered("pulumi-nodejs:dynamic/xapi:Vm").inputs);
    expect(validation.ok ? [] : validation.failures).toEqual([]);
  });

  it("exports the VM id and the observed power state", () => {
    expect([exports.vmId, exports.observedPowerState]).toEqual([XO_VM_UUID, "Running"]);
  });
});
