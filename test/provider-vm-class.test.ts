/**
 * The program-side `Vm` class under Pulumi mocks: the properties it registers (type token, internal
 * keys, defaults) and the outputs it exposes. Mocks never run provider code.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { Vm } from "../provider/resource/vm";

interface Registration {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

async function register(preview: boolean, make: () => Vm): Promise<{ reg: Registration; vm: Vm }> {
  const regs: Registration[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        regs.push({ type: args.type, name: args.name, inputs: args.inputs });
        return {
          id: "5f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c",
          state: {
            ...args.inputs,
            uuid: "5f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c",
            observedPowerState: "Halted",
          },
        };
      },
      call: (args) => args.inputs,
    },
    "proj",
    "stack",
    preview,
  );
  const vm = make();
  await new Promise((resolve) => vm.urn.apply(resolve));
  const [reg] = regs;
  if (reg === undefined) throw new Error("nothing registered");
  return { reg, vm };
}

function resolved<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

describe("Vm (program side)", () => {
  it("registers as pulumi-nodejs:dynamic/xapi:Vm with the serialized provider", async () => {
    const { reg } = await register(false, () => new Vm("web", { template: "t" }));
    expect([reg.type, typeof reg.inputs.__provider]).toEqual(["pulumi-nodejs:dynamic/xapi:Vm", "string"]);
  });

  it("names a VM created from a template after the resource by default", async () => {
    const { reg } = await register(false, () => new Vm("web", { template: "t" }));
    expect(reg.inputs.nameLabel).toBe("web");
  });

  it("leaves the name of an adopted VM alone unless declared", async () => {
    const { reg } = await register(
      false,
      () => new Vm("web", { uuid: "5f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c" }),
    );
    expect(reg.inputs.nameLabel).toBeUndefined();
  });

  it("tells check whether this run is a preview", async () => {
    const [up, preview] = [
      await register(false, () => new Vm("a", { template: "t" })),
      await register(true, () => new Vm("b", { template: "t" })),
    ];
    expect([up.reg.inputs.__xapiPreview, preview.reg.inputs.__xapiPreview]).toEqual([false, true]);
  });

  it("passes customTimeouts on, which the dynamic-provider host would drop", async () => {
    const { reg } = await register(
      false,
      () => new Vm("web", { template: "t" }, { customTimeouts: { create: "10m", delete: "2m" } }),
    );
    expect(reg.inputs.__xapiCustomTimeouts).toEqual({ create: "10m", delete: "2m" });
  });

  it("exposes the provider's outputs as typed properties", async () => {
    const { vm } = await register(false, () => new Vm("web", { template: "t", powerState: "Halted" }));
    expect([
      await resolved(vm.uuid),
      await resolved(vm.observedPowerState),
      await resolved(vm.powerState),
    ]).toEqual(["5f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c", "Halted", "Halted"]);
  });

  it("never sends credentials: no connection setting is a property", async () => {
    const { reg } = await register(false, () => new Vm("web", { template: "t" }));
    expect(
      Object.keys(reg.inputs).filter((k) => /url|user|password|cert|fingerprint|insecure/i.test(k)),
    ).toEqual([]);
  });
});
