/**
 * The preview planned from the pool, through the engine's own dynamic-provider host (gRPC), against
 * xapi-sim: mistakes only the pool reveals fail the preview with `up`'s message, an unreachable pool
 * falls back to the recorded inputs and says so, and a stack pointed at another pool stops instead of
 * reading its VMs as gone.
 */
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../simulator";
import {
  type Bag,
  buildProviderPackage,
  disposeProviderPackage,
  ProviderCallError,
  ProviderHost,
  type ProviderPackage,
  serializeProvider,
} from "./fixtures/provider-harness";

const PASSWORD = "pool-Pw-3b9e";
const HVM_TEMPLATE = "Other install media";
const PV_TEMPLATE = "Generic PV (pygrub)";
const OTHER_POOL = "0ther000-0000-4000-8000-00000000b0b0";

let pkg: ProviderPackage;
let providerText: string;
let sim: RunningSimulator;
let otherSim: RunningSimulator;
let host: ProviderHost;
let poolUuid: string;

beforeAll(async () => {
  pkg = await buildProviderPackage();
  providerText = (await serializeProvider(pkg)).text;
  sim = await startSimulator({ port: 0, member: false, users: { root: PASSWORD } });
  // A second pool: the same fixture, another pool uuid.
  const state = (await sim.model.control.state?.({})) as { pool: { record: { uuid: string } } };
  poolUuid = state.pool.record.uuid;
  const other = structuredClone(state);
  other.pool.record.uuid = OTHER_POOL;
  otherSim = await startSimulator({ port: 0, member: false, users: { root: PASSWORD }, state: other });
  host = await ProviderHost.start(providerText, pkg.programDir);
  await host.configure({ "xapi:url": sim.url, "xapi:username": "root", "xapi:password": PASSWORD });
}, 120_000);

afterAll(async () => {
  await host?.close();
  await sim?.close();
  await otherSim?.close();
  await disposeProviderPackage(pkg);
});

async function hostFor(config: Record<string, string>): Promise<ProviderHost> {
  const h = await ProviderHost.start(providerText, pkg.programDir);
  await h.configure(config);
  return h;
}

/** A TCP port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function methods(lines: unknown): string[] {
  return ((lines as string[] | undefined) ?? []).map((l) => /^\d+\. ([A-Za-z]+\.\w+)/.exec(l)?.[1] ?? l);
}

async function errorOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    return error instanceof ProviderCallError ? error.message : String(error);
  }
  throw new Error("expected the call to fail");
}

describe("a create's preview from the template's live record", () => {
  it("pv { bootloader: pygrub } on the PV template plans no PV setter: the template's PV_args stay", async () => {
    const { inputs } = await host.check(
      {},
      {
        template: PV_TEMPLATE,
        nameLabel: "pv-preview",
        pv: { bootloader: "pygrub" },
        __xapi: { preview: true },
      },
    );
    expect(methods(inputs.plannedCalls)).toEqual([
      "VM.clone",
      "VM.provision",
      "VM.set_is_a_template",
      "VM.start",
    ]);
  });

  it("the plan is also data in __xapiPlan, with the pool it was read from", async () => {
    const { inputs } = await host.check(
      {},
      { template: HVM_TEMPLATE, nameLabel: "data", powerState: "Halted", __xapi: { preview: true } },
    );
    expect(inputs.__xapiPlan).toEqual({
      source: "pool",
      pool: poolUuid,
      steps: [
        expect.objectContaining({ vm: "new", call: "VM.clone", to: "Halted", hard: false }),
        expect.objectContaining({ vm: "new", call: "VM.provision", from: "Halted", to: "Halted" }),
        expect.objectContaining({ vm: "new", call: "VM.set_is_a_template", args: { value: false } }),
      ],
    });
  });
});

describe("mistakes the pool reveals fail the preview with up's message", () => {
  it("an unknown template: a failure on template, the text create gives", async () => {
    const declared = { template: "No Such Template", nameLabel: "t" };
    const { failures } = await host.check({}, { ...declared, __xapi: { preview: true } });
    const upError = await errorOf(async () => {
      const { inputs } = await host.check({}, declared);
      await host.create(inputs);
    });
    expect(failures).toEqual([
      {
        property: "template",
        reason:
          'Template "No Such Template" not found: expected a VM template with this name_label, found none. List them with `xe template-list params=name-label`.',
      },
    ]);
    expect(upError).toContain(failures[0]?.reason);
  });

  it("a uuid that does not exist: a failure on uuid", async () => {
    const uuid = "00000000-dead-4000-8000-000000000000";
    const { failures } = await host.check({}, { uuid, __xapi: { preview: true } });
    expect(failures).toEqual([
      {
        property: "uuid",
        reason: `VM ${uuid} not found: expected an existing VM, XAPI answered UUID_INVALID. Check the uuid with \`xe vm-list\`, or run \`pulumi refresh\` if it was deleted outside Pulumi.`,
      },
    ]);
  });

  it("a wrong password fails the preview with the message up gives, naming the settings to fix", async () => {
    const wrong = await hostFor({ "xapi:url": sim.url, "xapi:username": "root", "xapi:password": "nope" });
    try {
      const declared = { template: HVM_TEMPLATE, nameLabel: "w" };
      const preview = await errorOf(() => wrong.check({}, { ...declared, __xapi: { preview: true } }));
      const up = await errorOf(async () => {
        const { inputs } = await wrong.check({}, declared);
        await wrong.create(inputs);
      });
      const sentence = `Logging in to ${sim.url} as "root" failed: expected XAPI to accept the password, received SESSION_AUTHENTICATION_FAILED. Check xapi:username and xapi:password`;
      expect([preview.includes(sentence), up.includes(sentence)]).toEqual([true, true]);
    } finally {
      await wrong.close();
    }
  });
});

describe("a pool that cannot be reached", () => {
  it("the preview completes from the recorded inputs, and its first line says so", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const offline = await hostFor({ "xapi:url": url, "xapi:username": "root", "xapi:password": PASSWORD });
    try {
      const olds = { template: HVM_TEMPLATE, nameLabel: "o", powerState: "Running" };
      const { inputs, failures } = await offline.check(olds, {
        ...olds,
        powerState: "Halted",
        __xapi: { preview: true },
      });
      expect({
        failures,
        lines: inputs.plannedCalls,
        source: (inputs.__xapiPlan as Bag | undefined)?.source,
      }).toEqual({
        failures: [],
        lines: [
          expect.stringMatching(
            new RegExp(
              `^\\(planned from the recorded inputs, not from the pool: the pool at ${url} cannot be reached \\(ECONNREFUSED\\)\\)$`,
            ),
          ),
          "1. VM.clean_shutdown (Running → Halted): shut the guest down cleanly (declared Halted)",
        ],
        source: "recorded-inputs",
      });
    } finally {
      await offline.close();
    }
  }, 60_000);
});

describe("a stack whose xapi:url now reaches another pool", () => {
  let id: string;
  let outs: Bag;
  let inputs: Bag;
  let moved: ProviderHost;

  beforeAll(async () => {
    const declared = {
      template: HVM_TEMPLATE,
      nameLabel: "pool-bound",
      powerState: "Halted",
    };
    const checked = await host.check({}, declared);
    ({ id, outs } = await host.create(checked.inputs));
    inputs = checked.inputs;
    moved = await hostFor({ "xapi:url": otherSim.url, "xapi:username": "root", "xapi:password": PASSWORD });
  });

  afterAll(async () => {
    await moved?.close();
    await host.delete(id, outs);
  });

  it("records the pool's uuid as an output (in observed)", () => {
    expect((JSON.parse(outs.observed as string) as Bag).poolUuid).toBe(poolUuid);
  });

  it("refresh (read) fails naming both pools instead of reading the VM as gone", async () => {
    const message = await errorOf(() => moved.read(id, outs));
    expect(message).toContain(
      `VM ${id} is in another pool: expected pool ${poolUuid} (where this stack recorded it), received pool ${OTHER_POOL} at ${otherSim.url}.`,
    );
  });

  it("the preview's diff and the update fail the same way", async () => {
    const diff = await errorOf(() => moved.diff(id, outs, inputs));
    const update = await errorOf(() => moved.update(id, outs, inputs));
    const sentence = `expected pool ${poolUuid} (where this stack recorded it), received pool ${OTHER_POOL}`;
    expect([diff.includes(sentence), update.includes(sentence)]).toEqual([true, true]);
  });
});

describe("a pool whose certificate is not trusted", () => {
  it("the preview and up fail with the fingerprint the pool presents and the setting that pins it", async () => {
    const tlsSim = await startSimulator({ port: 0, member: false, tls: true, users: { root: PASSWORD } });
    const h = await hostFor({ "xapi:url": tlsSim.url, "xapi:username": "root", "xapi:password": PASSWORD });
    try {
      const declared = { template: HVM_TEMPLATE, nameLabel: "tls" };
      const preview = await errorOf(() => h.check({}, { ...declared, __xapi: { preview: true } }));
      const up = await errorOf(async () => {
        const { inputs } = await h.check({}, declared);
        await h.create(inputs);
      });
      const sentence = `TLS connection to ${tlsSim.url} refused: expected a certificate this provider trusts, received a certificate with SHA-256 fingerprint ${tlsSim.certFingerprint256} (DEPTH_ZERO_SELF_SIGNED_CERT). If it is your pool's certificate (XCP-ng hosts use self-signed ones), pin it: \`pulumi config set xapi:fingerprint ${tlsSim.certFingerprint256}\``;
      expect([preview.includes(sentence), up.includes(sentence)]).toEqual([true, true]);
    } finally {
      await h.close();
      await tlsSim.close();
    }
  }, 60_000);
});
