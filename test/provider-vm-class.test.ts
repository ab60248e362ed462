/**
 * The program-side `Vm` class under Pulumi mocks: the properties it registers (type token, the declared
 * keys, one `__xapi` object, `observed`) and the outputs it exposes, read from the stored JSON text. Mocks never run provider
 * code.
 *
 * The class is loaded from the build (`npm run build` first), as a program gets it from the package: it
 * picks the provider to serialize by resolving the compiled implementation (`providerForState`), which
 * Vitest's `require` cannot do for the TypeScript sources.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { Vm } from "../dist/provider/resource/vm";

const ID = "5f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c";

/**
 * What the provider would store after creating the VM: the stored form (`observed` one JSON text, calls as
 * tuples, `adopted: false`, `vcpus.max` and `memory.staticMax`/`dynamicMin` equal to the others left out;
 * no `uuid` unless adopted).
 */
const OBSERVED =
  '{"powerState":"Halted","effectiveBoot":{"domainType":"hvm","hvm":{"bootParams":{"order":"cd"}}},' +
  '"pendingBootChanges":["hvm.bootParams.order"],"lastCalls":[["VM.clone",{"template":"t"},"Halted",20],' +
  '["VM.provision",null,"Halted",30]],"poolUuid":"5a1f0000-0000-4000-8000-0000000000a1","domid":-1,' +
  '"vcpus":{"atStartup":2},"memory":{"staticMin":536870912,"dynamicMax":1073741824}}';

/** The whole observation `Vm.observed` reads from {@link OBSERVED}. */
const OBSERVED_READ = {
  powerState: "Halted",
  effectiveBoot: { domainType: "hvm", hvm: { bootParams: { order: "cd" } } },
  pendingBootChanges: ["hvm.bootParams.order"],
  lastCalls: [
    { call: "VM.clone", args: { template: "t" }, to: "Halted", durationMs: 20 },
    { call: "VM.provision", from: "Halted", to: "Halted", durationMs: 30 },
  ],
  poolUuid: "5a1f0000-0000-4000-8000-0000000000a1",
  adopted: false,
  domid: -1,
  vcpus: { atStartup: 2, max: 2 },
  memory: { staticMin: 536870912, staticMax: 1073741824, dynamicMin: 1073741824, dynamicMax: 1073741824 },
};

interface Registration {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

async function register(
  preview: boolean,
  make: () => Vm,
  observed: unknown = OBSERVED,
): Promise<{ reg: Registration; vm: Vm }> {
  const regs: Registration[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        regs.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: ID, state: { ...args.inputs, observed } };
      },
      call: (args) => args.inputs,
    },
    "proj",
    "stack",
    preview,
  );
  const vm = make();
  await new Promise((resolve) => vm.urn.apply(resolve));
  const reg = regs.find((r) => r.type === "pulumi-nodejs:dynamic/xapi:Vm");
  if (reg === undefined) throw new Error("no Vm registered");
  return { reg, vm };
}

function resolved<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

describe("Vm (program side)", () => {
  it("registers as pulumi-nodejs:dynamic/xapi:Vm with the serialized provider, one require of the package", async () => {
    const { reg } = await register(false, () => new Vm("web", { template: "t" }));
    const provider = String(reg.inputs.__provider);
    expect([reg.type, typeof reg.inputs.__provider, provider.match(/require\("[^"]*"\)/g)]).toEqual([
      "pulumi-nodejs:dynamic/xapi:Vm",
      "string",
      ['require("pulumi-xapi/dist/provider/resource/impl.js")'],
    ]);
  });

  it("registers only the declared keys, one __xapi object and the provider: no placeholders", async () => {
    const { reg } = await register(
      false,
      () => new Vm("web", { template: "t", powerState: "Halted", hvm: { bootParams: { order: "dc" } } }),
    );
    expect({ keys: Object.keys(reg.inputs).sort(), internal: reg.inputs.__xapi }).toEqual({
      keys: ["__provider", "__xapi", "hvm", "powerState", "template"],
      internal: { urn: "urn:pulumi:stack::proj::pulumi-nodejs:dynamic/xapi:Vm::web" },
    });
  });

  it("names a VM created from a template after the resource by default: check adds it from the URN", async () => {
    const { reg, vm } = await register(false, () => new Vm("web", { template: "t" }));
    expect([
      reg.inputs.nameLabel,
      (reg.inputs.__xapi as { urn?: string }).urn,
      await resolved(vm.nameLabel),
    ]).toEqual([undefined, "urn:pulumi:stack::proj::pulumi-nodejs:dynamic/xapi:Vm::web", "web"]);
  });

  it("gives a child resource the URN under its parent", async () => {
    const { reg } = await register(false, () => {
      const parent = new pulumi.ComponentResource("my:app:Stack", "app");
      return new Vm("web", { template: "t" }, { parent });
    });
    expect((reg.inputs.__xapi as { urn?: unknown }).urn).toBe(
      "urn:pulumi:stack::proj::my:app:Stack$pulumi-nodejs:dynamic/xapi:Vm::web",
    );
  });

  it("leaves the name of an adopted VM alone unless declared", async () => {
    const { reg, vm } = await register(false, () => new Vm("web", { uuid: ID }));
    expect([reg.inputs.nameLabel, reg.inputs.uuid, await resolved(vm.nameLabel)]).toEqual([
      undefined,
      ID,
      undefined,
    ]);
  });

  it("tells check whether this run is a preview (only a preview sends __xapi.preview)", async () => {
    const [up, preview] = [
      await register(false, () => new Vm("a", { template: "t" })),
      await register(true, () => new Vm("b", { template: "t" })),
    ];
    expect([up.reg.inputs.__xapi, preview.reg.inputs.__xapi]).toEqual([
      { urn: "urn:pulumi:stack::proj::pulumi-nodejs:dynamic/xapi:Vm::a" },
      { preview: true, urn: "urn:pulumi:stack::proj::pulumi-nodejs:dynamic/xapi:Vm::b" },
    ]);
  });

  it("passes customTimeouts on in __xapi, which the dynamic-provider host would drop", async () => {
    const { reg } = await register(
      false,
      () => new Vm("web", { template: "t" }, { customTimeouts: { create: "10m", delete: "2m" } }),
    );
    expect((reg.inputs.__xapi as { customTimeouts?: unknown }).customTimeouts).toEqual({
      create: "10m",
      delete: "2m",
    });
  });

  it("exposes the provider's outputs as typed properties: uuid is the id, the rest read from observed", async () => {
    const { vm } = await register(false, () => new Vm("web", { template: "t", powerState: "Halted" }));
    expect([
      await resolved(vm.uuid),
      await resolved(vm.observedPowerState),
      await resolved(vm.powerState),
      await resolved(vm.effectiveBoot),
      await resolved(vm.pendingBootChanges),
      await resolved(vm.lastCalls),
      await resolved(vm.poolUuid),
      await resolved(vm.adopted),
      await resolved(vm.observedVcpus),
      await resolved(vm.observed),
    ]).toEqual([
      ID,
      "Halted",
      "Halted",
      { domainType: "hvm", hvm: { bootParams: { order: "cd" } } },
      ["hvm.bootParams.order"],
      OBSERVED_READ.lastCalls,
      "5a1f0000-0000-4000-8000-0000000000a1",
      false,
      { atStartup: 2, max: 2 },
      OBSERVED_READ,
    ]);
  });

  it("reads a state stored as objects (0.2 before the JSON text) the same way", async () => {
    const objects = {
      powerState: "Running",
      effectiveBoot: { domainType: "hvm", hvm: { bootParams: { order: "cd" } } },
      lastCalls: '[["VM.start",null,"Running",80,"Halted"]]',
      poolUuid: "5a1f0000-0000-4000-8000-0000000000a1",
      adopted: true,
      domid: 3,
    };
    const { vm } = await register(false, () => new Vm("web", { uuid: ID }), objects);
    expect([
      await resolved(vm.observedPowerState),
      await resolved(vm.lastCalls),
      await resolved(vm.pendingBootChanges),
      await resolved(vm.adopted),
    ]).toEqual(["Running", [{ call: "VM.start", from: "Halted", to: "Running", durationMs: 80 }], [], true]);
  });

  it("reads an undeclared echoed property as its default; a declared one as the engine echoes it", async () => {
    const { vm } = await register(false, () => new Vm("web", { template: "t", nameDescription: "d" }));
    expect([
      await resolved(vm.powerState),
      await resolved(vm.nameLabel),
      await resolved(vm.template),
      await resolved(vm.nameDescription),
      await resolved(vm.hvm),
      await resolved(vm.policy),
    ]).toEqual(["Running", "web", "t", "d", undefined, undefined]);
  });

  it("never sends credentials: no connection setting is a property", async () => {
    const { reg } = await register(false, () => new Vm("web", { template: "t" }));
    const keys = [...Object.keys(reg.inputs), ...Object.keys(reg.inputs.__xapi as object)];
    expect(keys.filter((k) => /url|user|password|cert|fingerprint|insecure/i.test(k))).toEqual([]);
  });
});
