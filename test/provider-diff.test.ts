/**
 * The provider's `diff` (no XAPI call): update vs replace from the recorded outputs and the new
 * checked inputs, and why `plannedCalls` never causes a diff of its own.
 */
import { describe, expect, it } from "vitest";
import { diff } from "../provider/resource/impl";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const POLICY = { shutdown: "clean", bootChanges: "restart", allowDiscardSuspendedState: false };

/** Outputs recorded after creating a Running HVM VM from a template. */
function outputs(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    template: "Other install media",
    nameLabel: "web",
    powerState: "Running",
    hvm: { bootParams: { order: "cd" } },
    policy: POLICY,
    uuid: "5f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c",
    adopted: false,
    observedPowerState: "Running",
    effectiveBoot: { domainType: "hvm", hvm: { bootParams: { order: "cd", firmware: "bios" } } },
    pendingBootChanges: [],
    observedDomid: 7,
    lastCalls: [{ call: "VM.start" }],
    ...over,
  };
}

/** Checked inputs matching {@link outputs}. */
function inputs(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    template: "Other install media",
    nameLabel: "web",
    powerState: "Running",
    hvm: { bootParams: { order: "cd" } },
    policy: POLICY,
    __xapiPreview: false,
    ...over,
  };
}

async function decide(olds: Record<string, unknown>, news: Record<string, unknown>) {
  const d = await diff("id", olds, news);
  return { changes: d.changes, replaces: d.replaces };
}

describe("diff", () => {
  it("sees no change when the inputs match the outputs", async () => {
    expect(await decide(outputs(), inputs())).toEqual({ changes: false, replaces: [] });
  });

  it("ignores plannedCalls and internal keys: no perpetual diff", async () => {
    const news = inputs({
      plannedCalls: ["1. VM.start"],
      __xapiPreview: true,
      __xapiCustomTimeouts: { create: "5m" },
    });
    expect(await decide(outputs(), news)).toEqual({ changes: false, replaces: [] });
  });

  it("updates on a declared change", async () => {
    expect(await decide(outputs(), inputs({ powerState: "Halted" }))).toEqual({
      changes: true,
      replaces: [],
    });
  });

  it("updates when the recorded power state drifted from the declaration", async () => {
    expect(await decide(outputs({ observedPowerState: "Halted" }), inputs())).toEqual({
      changes: true,
      replaces: [],
    });
  });

  it("updates when the recorded boot config drifted from the declaration", async () => {
    const drifted = outputs({
      effectiveBoot: { domainType: "hvm", hvm: { bootParams: { order: "n", firmware: "bios" } } },
    });
    expect(await decide(drifted, inputs())).toEqual({ changes: true, replaces: [] });
  });

  it("updates when a pending next-boot change becomes due under the restart policy", async () => {
    expect(await decide(outputs({ pendingBootChanges: ["hvm.bootParams.order"] }), inputs())).toEqual({
      changes: true,
      replaces: [],
    });
  });

  it("keeps a pending change pending while the policy stays next-boot", async () => {
    const policy = { ...POLICY, bootChanges: "next-boot" };
    expect(
      await decide(outputs({ policy, pendingBootChanges: ["hvm.bootParams.order"] }), inputs({ policy })),
    ).toEqual({
      changes: false,
      replaces: [],
    });
  });

  it("replaces on a template change", async () => {
    expect(await decide(outputs(), inputs({ template: "Debian 12" }))).toEqual({
      changes: true,
      replaces: ["template"],
    });
  });

  it("replaces when a still-unknown template may differ", async () => {
    expect(await decide(outputs(), inputs({ template: UNKNOWN }))).toEqual({
      changes: true,
      replaces: ["template"],
    });
  });

  it("replaces when a template-created VM is switched to adoption", async () => {
    const uuid = "6f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c";
    expect(await decide(outputs(), inputs({ template: undefined, uuid }))).toEqual({
      changes: true,
      replaces: ["uuid"],
    });
  });

  it("updates (never replaces) when a template-created VM is switched to adoption of itself", async () => {
    // A replacement would adopt the VM, then delete the old resource: destroying the VM just adopted.
    const uuid = "5f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c";
    expect(await decide(outputs(), inputs({ template: undefined, uuid }))).toEqual({
      changes: true,
      replaces: [],
    });
  });

  it("does not replace an adopted VM whose uuid is unchanged", async () => {
    const uuid = "5f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c";
    const olds = outputs({ template: undefined, uuid, adopted: true });
    expect(await decide(olds, inputs({ template: undefined, uuid }))).toEqual({
      changes: false,
      replaces: [],
    });
  });

  it("treats an unknown declared value as a change", async () => {
    expect(await decide(outputs(), inputs({ nameLabel: UNKNOWN }))).toEqual({ changes: true, replaces: [] });
  });
});

describe("diff of stored bags (as the engine passes them: `observed`, `__xapi`, no uuid but the id)", () => {
  const ID = "5f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c";
  /** {@link outputs} as a create of this release stores them (declared keys only, no `uuid`). */
  const stored = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
    template: "Other install media",
    nameLabel: "web",
    hvm: { bootParams: { order: "cd" } },
    observed: {
      adopted: false,
      powerState: "Running",
      effectiveBoot: { domainType: "hvm", hvm: { bootParams: { order: "cd", firmware: "bios" } } },
      pendingBootChanges: [],
      domid: 7,
      lastCalls: [{ call: "VM.start" }],
    },
    __xapi: { urn: "urn:pulumi:s::p::pulumi-nodejs:dynamic/xapi:Vm::web" },
    ...over,
  });
  /** What check returns for the same declaration: only what is declared. */
  const checked = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
    template: "Other install media",
    nameLabel: "web",
    hvm: { bootParams: { order: "cd" } },
    __xapi: { urn: "urn:pulumi:s::p::pulumi-nodejs:dynamic/xapi:Vm::web", leftovers: "named" },
    ...over,
  });

  async function decideStored(olds: Record<string, unknown>, news: Record<string, unknown>) {
    const d = await diff(ID, olds, news);
    return { changes: d.changes, replaces: d.replaces };
  }

  it("sees no change when nothing more is declared (powerState and policy at their defaults)", async () => {
    expect(await decideStored(stored(), checked())).toEqual({ changes: false, replaces: [] });
  });

  it("updates on a declared change, and on a drift recorded in observed", async () => {
    const drifted = stored({ observed: { ...(stored().observed as object), powerState: "Halted" } });
    expect([
      await decideStored(stored(), checked({ powerState: "Halted" })),
      await decideStored(stored(), checked({ policy: { shutdown: "hard" } })),
      await decideStored(drifted, checked()),
    ]).toEqual([
      { changes: true, replaces: [] },
      { changes: true, replaces: [] },
      { changes: true, replaces: [] },
    ]);
  });

  it("takes the VM's uuid from the id: adoption of itself is an update, of another VM a replacement", async () => {
    const other = "6f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c";
    expect([
      await decideStored(stored(), checked({ template: undefined, uuid: ID })),
      await decideStored(stored(), checked({ template: undefined, uuid: other })),
    ]).toEqual([
      { changes: true, replaces: [] },
      { changes: true, replaces: ["uuid"] },
    ]);
  });
});
