/**
 * `provider/resource/stored.ts`: the `Vm`'s property bags as the engine stores them since 0.2 (declared
 * inputs at the top level, internal keys as one JSON text in `__xapi`, observations as one JSON text in
 * `observed`, `uuid` only for an adopted VM), the earlier 0.2 form with those two as objects, and the flat
 * form the operations read (also what release 0.1.0 stored). Every expected value is written out by hand
 * (`text` only writes a hand-written object as the JSON text it must equal, keys in that order).
 */
import { describe, expect, it } from "vitest";
import { diff } from "../provider/resource/impl";
import { observedOfStored, pack, unpack } from "../provider/resource/stored";

type Bag = Record<string, unknown>;

/** The JSON text of a hand-written object, keys in the order written. */
const text = (value: unknown): string => JSON.stringify(value);

const ID = "687d2196-84ec-4266-842d-da51bafa3a7a";
const ADOPTED = "5a1f0000-0000-4000-8000-0000000000e2";
const POOL = "5a1f0000-0000-4000-8000-0000000000a1";
const URN = "urn:pulumi:old::xapi-upgrade::pulumi-nodejs:dynamic/xapi:Vm::web";
const POLICY = { allowDiscardSuspendedState: false, bootChanges: "restart", shutdown: "clean" };
const EFFECTIVE = { domainType: "hvm", hvm: { bootParams: { firmware: "bios", order: "cd" } } };

/** The outputs release 0.1.0 stored for "web" (test/fixtures/upgrade-0.1.0/stack.json, shortened). */
const OUTPUTS_0_1_0: Bag = {
  __xapiUrn: URN,
  adopted: false,
  effectiveBoot: EFFECTIVE,
  hvm: { bootParams: { order: "cd" } },
  lastCalls: [
    {
      args: { force: false, start_paused: false },
      call: "VM.start",
      durationMs: 106,
      from: "Halted",
      reason: "start the VM (declared Running)",
      to: "Running",
    },
  ],
  nameLabel: "web",
  observedDomid: 7,
  observedPowerState: "Running",
  pendingBootChanges: [],
  policy: POLICY,
  poolUuid: POOL,
  powerState: "Running",
  template: "Other install media",
  uuid: ID,
};

/** The inputs release 0.1.0 stored for "web" (defaults filled in, `__xapi*` keys flat). */
const INPUTS_0_1_0: Bag = {
  __xapiLeftovers: "named",
  __xapiPreview: false,
  __xapiUrn: URN,
  __xapiVm: ID,
  hvm: { bootParams: { order: "cd" } },
  nameLabel: "web",
  policy: POLICY,
  powerState: "Running",
  template: "Other install media",
};

/** A created VM's outputs in the flat form, its calls already without reasons. */
const FLAT: Bag = {
  template: "Other install media",
  nameLabel: "web",
  hvm: { bootParams: { order: "cd" } },
  uuid: ID,
  adopted: false,
  poolUuid: POOL,
  observedPowerState: "Running",
  effectiveBoot: EFFECTIVE,
  pendingBootChanges: [],
  observedDomid: 7,
  lastCalls: [{ call: "VM.start", from: "Halted", to: "Running", durationMs: 106 }],
  __xapiUrn: URN,
  __xapiCustomTimeouts: { delete: "2m" },
};

describe("pack", () => {
  it("keeps declared keys on top, moves internal keys into __xapi (no prefix) and observations into observed", () => {
    expect(pack(FLAT)).toEqual({
      template: "Other install media",
      nameLabel: "web",
      hvm: { bootParams: { order: "cd" } },
      observed:
        '{"poolUuid":"5a1f0000-0000-4000-8000-0000000000a1","powerState":"Running",' +
        '"effectiveBoot":{"domainType":"hvm","hvm":{"bootParams":{"firmware":"bios","order":"cd"}}},' +
        '"domid":7,"lastCalls":[["VM.start",null,"Running",106,"Halted"]]}',
      __xapi:
        '{"urn":"urn:pulumi:old::xapi-upgrade::pulumi-nodejs:dynamic/xapi:Vm::web","customTimeouts":{"delete":"2m"}}',
    });
  });

  it("drops the uuid of a created VM (it is the id) and keeps the uuid of an adopted one (declared)", () => {
    const created = pack({ uuid: ID, adopted: false, observedPowerState: "Halted" });
    const adopted = pack({ uuid: ADOPTED, adopted: true, observedPowerState: "Running" });
    expect([created, adopted]).toEqual([
      { observed: text({ powerState: "Halted" }) },
      { uuid: ADOPTED, observed: text({ adopted: true, powerState: "Running" }) },
    ]);
  });

  it("leaves out of observed.vcpus and observed.memory the fields that repeat another one", () => {
    const GiB = 2 ** 30;
    const usual = pack({
      observedVcpus: { atStartup: 2, max: 2 },
      observedMemory: { staticMin: GiB / 2, staticMax: 2 * GiB, dynamicMin: 2 * GiB, dynamicMax: 2 * GiB },
    });
    const distinct = pack({
      observedVcpus: { atStartup: 1, max: 4 },
      observedMemory: { staticMin: GiB / 2, staticMax: 4 * GiB, dynamicMin: GiB, dynamicMax: 2 * GiB },
    });
    expect([usual, distinct]).toEqual([
      { observed: text({ vcpus: { atStartup: 2 }, memory: { staticMin: GiB / 2, dynamicMax: 2 * GiB } }) },
      {
        observed: text({
          vcpus: { atStartup: 1, max: 4 },
          memory: { staticMin: GiB / 2, staticMax: 4 * GiB, dynamicMin: GiB, dynamicMax: 2 * GiB },
        }),
      },
    ]);
  });

  it("leaves out of observed adopted false and an empty pendingBootChanges", () => {
    const stored = pack({ adopted: false, pendingBootChanges: [], observedPowerState: "Running" });
    const pending = pack({ adopted: false, pendingBootChanges: ["hvm.bootParams.order"], poolUuid: POOL });
    expect([stored, pending]).toEqual([
      { observed: text({ powerState: "Running" }) },
      { observed: text({ pendingBootChanges: ["hvm.bootParams.order"], poolUuid: POOL }) },
    ]);
  });

  it("keeps a declared uuid in inputs (no observations: nothing says it is the id)", () => {
    expect(pack({ uuid: ADOPTED, powerState: "Running", __xapiUrn: URN })).toEqual({
      uuid: ADOPTED,
      powerState: "Running",
      __xapi: text({ urn: URN }),
    });
  });

  it("stores lastCalls as tuples in observed's text, without their reasons, from left out when it is the previous to", () => {
    const stored = pack({
      lastCalls: [
        {
          call: "VM.clone",
          args: { template: "t" },
          to: "Halted",
          reason: "copy the template",
          durationMs: 9,
        },
        { call: "VM.hard_shutdown", escalatedFrom: "VM.clean_shutdown", reason: "stop the VM" },
      ],
    });
    expect(stored).toEqual({
      observed:
        '{"lastCalls":[["VM.clone",{"template":"t"},"Halted",9],["VM.hard_shutdown",null,null,null,null,"VM.clean_shutdown"]]}',
    });
  });

  it("reads stored lastCalls back as the calls: 0.2's JSON text of calls, or an array as 0.1.0 stored it", () => {
    const calls = [{ call: "VM.start", from: "Halted", to: "Running" }];
    expect([
      unpack({ observed: { lastCalls: '[{"call":"VM.start","from":"Halted","to":"Running"}]' } }).lastCalls,
      unpack({ lastCalls: calls }).lastCalls,
    ]).toEqual([calls, calls]);
  });

  it("reads stored lastCalls back from tuples: from is the previous to unless given, 0 or null", () => {
    const text =
      '[["VM.clone",{"template":"t"},"Halted",9],["VM.start",null,"Running",40],' +
      '["VM.pause",null,"Paused",3,0,null,"already paused"],["VM.set_name_label",{"value":"a"},"Paused",2,null],' +
      '["VM.hard_shutdown",null,"Halted",8,"Running","VM.clean_shutdown"]]';
    expect(unpack({ observed: { lastCalls: text } }).lastCalls).toEqual([
      { call: "VM.clone", args: { template: "t" }, to: "Halted", durationMs: 9 },
      { call: "VM.start", from: "Halted", to: "Running", durationMs: 40 },
      { call: "VM.pause", from: "Running", to: "Paused", durationMs: 3, skipped: "already paused" },
      { call: "VM.set_name_label", args: { value: "a" }, to: "Paused", durationMs: 2 },
      {
        call: "VM.hard_shutdown",
        from: "Running",
        to: "Halted",
        durationMs: 8,
        escalatedFrom: "VM.clean_shutdown",
      },
    ]);
  });

  it("round-trips lastCalls through the tuples, reasons left out", () => {
    const calls = [
      {
        call: "VM.clone",
        args: { template: "t", new_name: "n" },
        to: "Halted",
        durationMs: 0,
        reason: "copy",
      },
      { call: "VM.start", args: { start_paused: false }, from: "Halted", to: "Running", durationMs: 5 },
      { call: "VM.clean_shutdown", from: "Running", to: "Halted", escalatedFrom: "x", skipped: "y" },
      { call: "VM.set_HVM_boot_params", from: "Paused", to: "Paused" },
    ];
    expect(unpack(pack({ lastCalls: calls })).lastCalls).toEqual([
      { call: "VM.clone", args: { template: "t", new_name: "n" }, to: "Halted", durationMs: 0 },
      { call: "VM.start", args: { start_paused: false }, from: "Halted", to: "Running", durationMs: 5 },
      { call: "VM.clean_shutdown", from: "Running", to: "Halted", escalatedFrom: "x", skipped: "y" },
      { call: "VM.set_HVM_boot_params", from: "Paused", to: "Paused" },
    ]);
  });

  it("leaves the preview's __xapiPlan and plannedCalls at the top level", () => {
    const plan = { source: "pool", pool: POOL, steps: [{ call: "VM.start" }] };
    expect(
      pack({
        template: "t",
        plannedCalls: ["1. VM.start (Halted → Running): start the VM (declared Running)"],
        __xapiPlan: plan,
        __xapiPreview: true,
        __xapiPlanned: 1,
      }),
    ).toEqual({
      template: "t",
      plannedCalls: ["1. VM.start (Halted → Running): start the VM (declared Running)"],
      __xapiPlan: plan,
      __xapi: text({ preview: true, planned: 1 }),
    });
  });

  it("leaves out undefined values, and adds no empty __xapi or observed", () => {
    expect(pack({ template: "t", nameLabel: undefined, __xapiUrn: undefined, lastCalls: undefined })).toEqual(
      {
        template: "t",
      },
    );
  });
});

describe("unpack", () => {
  it("gives a flat bag back from its stored form: the round trip, uuid from the id", () => {
    const { uuid: _, ...withoutUuid } = FLAT;
    expect([unpack(pack(FLAT), ID), unpack(pack(FLAT))]).toEqual([FLAT, withoutUuid]);
  });

  it("round-trips inputs with every internal key (no uuid added to inputs: they have no observed)", () => {
    const inputs: Bag = {
      template: "t",
      __xapiPreview: true,
      __xapiUrn: URN,
      __xapiCustomTimeouts: { create: "10m" },
      __xapiVm: ID,
      __xapiReplaces: ADOPTED,
      __xapiLeftovers: "named",
    };
    expect([pack(inputs), unpack(pack(inputs), ID)]).toEqual([
      {
        template: "t",
        __xapi: text({
          preview: true,
          urn: URN,
          customTimeouts: { create: "10m" },
          vm: ID,
          replaces: ADOPTED,
          leftovers: "named",
        }),
      },
      inputs,
    ]);
  });

  it("reads release 0.1.0's flat outputs and inputs as they are", () => {
    expect([unpack(OUTPUTS_0_1_0, ID), unpack(INPUTS_0_1_0)]).toEqual([OUTPUTS_0_1_0, INPUTS_0_1_0]);
  });

  it("puts back the sizing fields observed leaves out, from the fields they repeat", () => {
    const flat = unpack({
      observed: { vcpus: { atStartup: 2 }, memory: { staticMin: 512, dynamicMax: 2048 } },
    });
    expect([flat.observedVcpus, flat.observedMemory]).toEqual([
      { atStartup: 2, max: 2 },
      { staticMin: 512, staticMax: 2048, dynamicMin: 2048, dynamicMax: 2048 },
    ]);
  });

  it("puts back what observed leaves out: adopted false, no pending boot changes", () => {
    expect(unpack({ observed: { powerState: "Running" } }, ID)).toEqual({
      uuid: ID,
      adopted: false,
      pendingBootChanges: [],
      observedPowerState: "Running",
    });
  });

  it("reads the stored form an engine hands back, JSON text or 0.2's objects: observed fields under their flat names", () => {
    const text: Bag = {
      uuid: ADOPTED,
      powerState: "Running",
      observed:
        '{"adopted":true,"poolUuid":"5a1f0000-0000-4000-8000-0000000000a1","powerState":"Running","domid":5,' +
        '"lastCalls":[["VM.start",null,"Running",40,"Halted"]]}',
      __xapi: '{"urn":"urn:pulumi:old::xapi-upgrade::pulumi-nodejs:dynamic/xapi:Vm::web"}',
    };
    const objects: Bag = {
      uuid: ADOPTED,
      powerState: "Running",
      observed: {
        adopted: true,
        poolUuid: POOL,
        powerState: "Running",
        domid: 5,
        lastCalls: '[["VM.start",null,"Running",40,"Halted"]]',
      },
      __xapi: { urn: URN },
    };
    const flat: Bag = {
      uuid: ADOPTED,
      powerState: "Running",
      adopted: true,
      poolUuid: POOL,
      observedPowerState: "Running",
      observedDomid: 5,
      pendingBootChanges: [],
      lastCalls: [{ call: "VM.start", from: "Halted", to: "Running", durationMs: 40 }],
      __xapiUrn: URN,
    };
    expect([unpack(text, ADOPTED), unpack(objects, ADOPTED)]).toEqual([flat, flat]);
  });

  it("keeps an observed or __xapi that is no JSON object as it is (nothing is lost)", () => {
    expect(unpack({ observed: "not json", __xapi: "[1]" })).toEqual({ observed: "not json", __xapi: "[1]" });
  });
});

describe("observedOfStored (Vm.observed)", () => {
  it("reads the text form as the whole observation: defaults, calls and sizing put back", () => {
    const stored =
      '{"poolUuid":"5a1f0000-0000-4000-8000-0000000000a1","powerState":"Halted","domid":-1,' +
      '"lastCalls":[["VM.clean_shutdown",null,"Halted",150,"Running"]],"vcpus":{"atStartup":2},' +
      '"memory":{"staticMin":512,"dynamicMax":2048}}';
    expect(observedOfStored(stored)).toEqual({
      adopted: false,
      poolUuid: POOL,
      powerState: "Halted",
      pendingBootChanges: [],
      domid: -1,
      lastCalls: [{ call: "VM.clean_shutdown", from: "Running", to: "Halted", durationMs: 150 }],
      vcpus: { atStartup: 2, max: 2 },
      memory: { staticMin: 512, staticMax: 2048, dynamicMin: 2048, dynamicMax: 2048 },
    });
  });

  it("reads 0.2's object form the same way (lastCalls a text of its own)", () => {
    expect(
      observedOfStored({
        adopted: true,
        powerState: "Running",
        lastCalls: '[["VM.start",null,"Running",3,"Halted"]]',
      }),
    ).toEqual({
      adopted: true,
      powerState: "Running",
      pendingBootChanges: [],
      lastCalls: [{ call: "VM.start", from: "Halted", to: "Running", durationMs: 3 }],
    });
  });

  it("is undefined when nothing was observed (a 0.1.0 state keeps its observations flat)", () => {
    expect([observedOfStored(undefined), observedOfStored("")]).toEqual([undefined, undefined]);
  });
});

describe("diff across the upgrade from 0.1.0", () => {
  /** What this release's check returns for the unchanged program: only what it declares. */
  const news: Bag = {
    template: "Other install media",
    nameLabel: "web",
    hvm: { bootParams: { order: "cd" } },
    __xapi: { urn: URN, leftovers: "named" },
  };

  it("reports no change between 0.1.0 outputs (defaults filled in) and inputs that omit powerState and policy", async () => {
    const d = await diff(ID, OUTPUTS_0_1_0, news);
    expect({ changes: d.changes, replaces: d.replaces }).toEqual({ changes: false, replaces: [] });
  });

  it("still sees a declared change against 0.1.0 outputs", async () => {
    const halted = await diff(ID, OUTPUTS_0_1_0, { ...news, powerState: "Halted" });
    const policy = await diff(ID, OUTPUTS_0_1_0, { ...news, policy: { bootChanges: "next-boot" } });
    expect([halted.changes, policy.changes]).toEqual([true, true]);
  });

  it("reports no change for an adopted 0.1.0 VM declared again by its uuid and non-default policy only", async () => {
    const olds: Bag = {
      __xapiUrn: URN,
      adopted: true,
      effectiveBoot: { domainType: "hvm", hvm: { bootParams: { firmware: "uefi", order: "c" } } },
      lastCalls: [],
      observedDomid: 5,
      observedPowerState: "Running",
      pendingBootChanges: [],
      policy: { allowDiscardSuspendedState: false, bootChanges: "restart", shutdown: "clean-then-hard" },
      poolUuid: POOL,
      powerState: "Running",
      uuid: ADOPTED,
    };
    const d = await diff(ADOPTED, olds, {
      uuid: ADOPTED,
      policy: { shutdown: "clean-then-hard" },
      __xapi: { urn: URN },
    });
    expect({ changes: d.changes, replaces: d.replaces }).toEqual({ changes: false, replaces: [] });
  });
});
