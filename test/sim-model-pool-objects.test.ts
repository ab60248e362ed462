/**
 * The pool's infrastructure objects (docs/simulator-object-model.md): host_metrics, PIF, PIF_metrics,
 * PBD and message, with XAPI's implicit messages and errors in every profile; suspend images as VDIs
 * (created by suspend on choose_suspend_sr's SR, consumed by resume, discarded by hard_shutdown, kept by a
 * reset); the VM_* messages of the lifecycle calls; and state files written before these objects.
 */
import { describe, expect, it } from "vitest";
import { createModel, InvalidStateError } from "../simulator/model";
import { FIXTURE, harness } from "./sim-model-helpers";

type Rec = Record<string, unknown>;
const NULL = "OpaqueRef:NULL";
const BAD = "OpaqueRef:00000000-0000-4000-8000-00000000dead";
const PROFILES = ["current", "xenserver-7", "xenapi-1.0"] as const;
const CLASSES = ["host_metrics", "PIF", "PIF_metrics", "PBD", "message"] as const;

describe.each(PROFILES)("the infrastructure classes under profile %s", (profile) => {
  it("lists get_all_records, get_record and get_by_uuid for each class", async () => {
    const h = await harness({ profile });
    const methods = (await h.call("system.listMethods")) as string[];
    const missing = CLASSES.flatMap((cls) =>
      ["get_all_records", "get_record", "get_by_uuid", "get_all"].map((m) => `${cls}.${m}`),
    ).filter((m) => !methods.includes(m));
    expect(missing).toEqual([]);
  });

  it.each(CLASSES)("answers HANDLE_INVALID [%s, ref] for a ref of no object", async (cls) => {
    const h = await harness({ profile });
    const fault = await h.fault(`${cls}.get_record`, BAD);
    expect([fault.code, ...fault.params]).toEqual(["HANDLE_INVALID", cls, BAD]);
  });

  it.each(CLASSES)("answers UUID_INVALID [%s, uuid] for an unknown uuid", async (cls) => {
    const h = await harness({ profile });
    const fault = await h.fault(`${cls}.get_by_uuid`, "00000000-0000-4000-8000-000000000000");
    expect([fault.code, ...fault.params]).toEqual([
      "UUID_INVALID",
      cls,
      "00000000-0000-4000-8000-000000000000",
    ]);
  });

  it("gives each host its metrics, a management PIF with NIC metrics, and PBDs", async () => {
    const h = await harness({ profile });
    for (const host of [FIXTURE.master.ref, FIXTURE.member.ref]) {
      const record = (await h.call("host.get_record", host)) as Rec;
      const metrics = (await h.call("host_metrics.get_record", record.metrics)) as Rec;
      const [pif] = record.PIFs as string[];
      const nic = (await h.call("PIF.get_record", pif)) as Rec;
      expect([metrics.live, (metrics.memory_total as number) > 0]).toEqual([true, true]);
      expect([nic.host, nic.network, nic.management, nic.IP, nic.device]).toEqual([
        host,
        FIXTURE.network.ref,
        true,
        record.address,
        "eth0",
      ]);
      expect(((await h.call("PIF_metrics.get_record", nic.metrics)) as Rec).carrier).toBe(true);
      expect((record.PBDs as string[]).length).toBe(2);
      expect(await h.call("host.get_suspend_image_sr", host)).not.toBe(NULL);
    }
    expect(await h.call("network.get_PIFs", FIXTURE.network.ref)).toHaveLength(2);
  });

  it("gives each SR PBDs on the hosts that see it, plugged", async () => {
    const h = await harness({ profile });
    const pbds = Object.values((await h.call("PBD.get_all_records")) as Record<string, Rec>);
    const hostsOf = (sr: string) =>
      pbds
        .filter((p) => p.SR === sr)
        .map((p) => p.host)
        .sort();
    expect(hostsOf(FIXTURE.localSr.ref)).toEqual([FIXTURE.master.ref]);
    expect(hostsOf(FIXTURE.memberSr.ref)).toEqual([FIXTURE.member.ref]);
    expect(hostsOf(FIXTURE.isoSr.ref)).toEqual([FIXTURE.master.ref, FIXTURE.member.ref].sort());
    expect(pbds.every((p) => p.currently_attached === true)).toBe(true);
    expect(await h.call("SR.get_PBDs", FIXTURE.isoSr.ref)).toHaveLength(2);
  });
});

describe("fields per profile", () => {
  it("serves PIF fields by the release they appeared in (PCI from kolkata, managed from vgpu-productisation)", async () => {
    const current = await harness();
    const old = await harness({ profile: "xenserver-7" });
    const [pif] = (await current.call("host.get_PIFs", FIXTURE.master.ref)) as string[];
    expect(Object.keys((await current.call("PIF.get_record", pif)) as Rec)).toContain("PCI");
    const record = (await old.call("PIF.get_record", pif)) as Rec;
    expect([Object.hasOwn(record, "PCI"), Object.hasOwn(record, "managed")]).toEqual([false, true]);
    expect((await old.fault("PIF.get_PCI", pif)).code).toBe("MESSAGE_METHOD_UNKNOWN");
  });

  it("keeps host_metrics.memory_free in the record but answers MESSAGE_REMOVED for its getter (removed in tampa)", async () => {
    const h = await harness();
    const metrics = (await h.call("host.get_metrics", FIXTURE.master.ref)) as string;
    expect(Object.keys((await h.call("host_metrics.get_record", metrics)) as Rec)).toContain("memory_free");
    expect((await h.fault("host_metrics.get_memory_free", metrics)).code).toBe("MESSAGE_REMOVED");
  });
});

describe("host_metrics", () => {
  it("lowers memory_free by what a started VM holds, reported as a host_metrics mod event", async () => {
    const h = await harness();
    const metrics = (await h.call("host.get_metrics", FIXTURE.master.ref)) as string;
    const free = async () =>
      ((await h.call("host_metrics.get_record", metrics)) as Rec).memory_free as number;
    const before = await free();
    const { token } = (await h.call("event.from", ["host_metrics"], "", 0)) as { token: string };
    await h.call("VM.start", FIXTURE.db.ref, false, false);
    const memory = (await h.call("VM.get_memory_dynamic_max", FIXTURE.db.ref)) as number;
    const from = (await h.call("event.from", ["host_metrics"], token, 0)) as { events: Rec[] };
    expect(before - (await free())).toBe(memory);
    expect(from.events.map((ev) => [ev.class, ev.operation, ev.ref])).toEqual([
      ["host_metrics", "mod", metrics],
    ]);
  });
});

describe("suspend images", () => {
  it("suspend creates a 'Suspend image' VDI of type suspend on the pool's suspend SR; resume destroys it", async () => {
    const h = await harness();
    const srVdis = async () => (await h.call("SR.get_VDIs", FIXTURE.localSr.ref)) as string[];
    const before = await srVdis();
    await h.call("VM.suspend", FIXTURE.web.ref);
    const image = (await h.call("VM.get_suspend_VDI", FIXTURE.web.ref)) as string;
    const vdi = (await h.call("VDI.get_record", image)) as Rec;
    expect([vdi.name_label, vdi.type, vdi.SR, (vdi.sm_config as Rec).vmhint]).toEqual([
      "Suspend image",
      "suspend",
      FIXTURE.localSr.ref,
      FIXTURE.web.uuid,
    ]);
    expect(await srVdis()).toEqual([...before, image]);
    await h.call("VM.resume", FIXTURE.web.ref, false, false);
    expect(await h.call("VM.get_suspend_VDI", FIXTURE.web.ref)).toBe(NULL);
    expect((await h.fault("VDI.get_record", image)).code).toBe("HANDLE_INVALID");
    expect(await srVdis()).toEqual(before);
  });

  it("a VM resident on the member suspends to the member's suspend-image SR (the pool's has no PBD there)", async () => {
    const h = await harness();
    await h.call("VM.unpause", FIXTURE.pv.ref);
    await h.call("VM.suspend", FIXTURE.pv.ref);
    const image = await h.call("VM.get_suspend_VDI", FIXTURE.pv.ref);
    expect(await h.call("VDI.get_SR", image)).toBe(FIXTURE.memberSr.ref);
  });

  it("hard_shutdown of a Suspended VM destroys its image; a power_state_reset keeps it", async () => {
    const h = await harness();
    const image = (await h.call("VM.get_suspend_VDI", FIXTURE.batch.ref)) as string;
    expect(image).toBe(FIXTURE.suspendImage.ref);
    expect(await h.call("VDI.get_type", image)).toBe("suspend");
    await h.call("VM.hard_shutdown", FIXTURE.batch.ref);
    expect((await h.fault("VDI.get_record", image)).code).toBe("HANDLE_INVALID");

    await h.call("VM.start", FIXTURE.batch.ref, false, false);
    await h.call("VM.suspend", FIXTURE.batch.ref);
    const second = (await h.call("VM.get_suspend_VDI", FIXTURE.batch.ref)) as string;
    await h.call("VM.power_state_reset", FIXTURE.batch.ref);
    expect([await h.powerState(FIXTURE.batch.ref), await h.call("VDI.get_type", second)]).toEqual([
      "Halted",
      "suspend",
    ]);
  });

  it("answers VM_NO_SUSPEND_SR [vm] when no SR the host sees can take the image, and the VM keeps running", async () => {
    const h = await harness();
    await h.call("pool.set_name_label", FIXTURE.pool.ref, "no suspend SR");
    const state = h.model.exportState() as { pool: { record: Rec }; hosts: { record: Rec }[] };
    state.pool.record.suspend_image_SR = NULL;
    for (const host of state.hosts) host.record.suspend_image_sr = NULL;
    const bare = await harness({ state });
    const fault = await bare.fault("VM.suspend", FIXTURE.web.ref);
    expect([fault.code, ...fault.params]).toEqual(["VM_NO_SUSPEND_SR", FIXTURE.web.ref]);
    expect(await bare.powerState(FIXTURE.web.ref)).toBe("Running");
  });
});

describe("message", () => {
  it("the lifecycle calls leave XAPI's VM_* messages on the VM, newest first", async () => {
    const h = await harness();
    await h.call("VM.start", FIXTURE.db.ref, false, false);
    await h.call("VM.suspend", FIXTURE.db.ref);
    await h.call("VM.resume", FIXTURE.db.ref, false, false);
    await h.call("VM.hard_shutdown", FIXTURE.db.ref);
    const messages = (await h.call("message.get", "VM", FIXTURE.db.uuid, "19700101T00:00:00Z")) as Record<
      string,
      Rec
    >;
    expect(Object.values(messages).map((m) => [m.name, m.priority, m.cls])).toEqual([
      ["VM_SHUTDOWN", 5, "VM"],
      ["VM_RESUMED", 5, "VM"],
      ["VM_SUSPENDED", 5, "VM"],
      ["VM_STARTED", 5, "VM"],
    ]);
    expect(Object.values(messages).at(-1)?.body).toBe(
      `VM 'db-01' (uuid: ${FIXTURE.db.uuid}) started on host: xcp-sim-1 (uuid: ${FIXTURE.master.uuid})`,
    );
  });

  it("create, get_record, get_by_uuid, get_all_records_where and destroy, with add and del events", async () => {
    const h = await harness();
    const ref = (await h.call("message.create", "TEST", 3, "Host", FIXTURE.master.uuid, "hello")) as string;
    const record = (await h.call("message.get_record", ref)) as Rec;
    expect([record.name, record.priority, record.cls, record.obj_uuid, record.body]).toEqual([
      "TEST",
      3,
      "Host",
      FIXTURE.master.uuid,
      "hello",
    ]);
    expect(await h.call("message.get_by_uuid", record.uuid)).toBe(ref);
    const where = await h.call(
      "message.get_all_records_where",
      'field "name"="TEST" and not (field "priority"="5")',
    );
    expect(Object.keys(where as Rec)).toEqual([ref]);
    const { token } = (await h.call("event.from", ["message"], "", 0)) as { token: string };
    await h.call("message.destroy", ref);
    const from = (await h.call("event.from", ["message"], token, 0)) as { events: Rec[] };
    expect(from.events.map((ev) => [ev.operation, ev.ref])).toEqual([["del", ref]]);
    const fault = await h.fault("message.get_record", ref);
    expect([fault.code, ...fault.params]).toEqual(["HANDLE_INVALID", "message", ref]);
  });

  it("reports a message created since the token as an add event with its record", async () => {
    const h = await harness();
    const { token } = (await h.call("event.from", ["message"], "", 0)) as { token: string };
    const ref = await h.call("message.create", "TEST", 3, "VM", FIXTURE.web.uuid, "hello");
    const from = (await h.call("event.from", ["message"], token, 0)) as { events: Rec[] };
    expect(from.events.map((ev) => [ev.class, ev.operation, ev.ref, (ev.snapshot as Rec).name])).toEqual([
      ["message", "add", ref, "TEST"],
    ]);
  });

  it("refuses a message about no object with UUID_INVALID [cls, uuid]", async () => {
    const h = await harness();
    const fault = await h.fault("message.create", "TEST", 3, "VM", "no-such-uuid", "hello");
    expect([fault.code, ...fault.params]).toEqual(["UUID_INVALID", "VM", "no-such-uuid"]);
  });

  it("has no implicit field getters (not a database class)", async () => {
    const h = await harness();
    expect((await h.fault("message.get_name", BAD)).code).toBe("MESSAGE_METHOD_UNKNOWN");
  });
});

describe("state files written before these objects", () => {
  it("load with host metrics, management PIFs, PBDs and the Suspended VM's image created", async () => {
    const h = await harness();
    const {
      hostMetrics: _m,
      pifs: _p,
      pifMetrics: _n,
      pbds: _b,
      ...old
    } = JSON.parse(JSON.stringify(h.model.exportState())) as Rec & {
      vdis: { ref: string }[];
      hosts: { record: Rec }[];
      srs: { record: Rec }[];
    };
    old.vdis = old.vdis.filter((v) => v.ref !== FIXTURE.suspendImage.ref);
    for (const host of old.hosts) Object.assign(host.record, { metrics: NULL, PIFs: [], PBDs: [] });
    for (const sr of old.srs) sr.record.PBDs = [];
    const loaded = await harness({ state: old });
    const metrics = await loaded.call("host.get_metrics", FIXTURE.member.ref);
    expect(((await loaded.call("host_metrics.get_record", metrics)) as Rec).live).toBe(true);
    const [pif] = (await loaded.call("host.get_PIFs", FIXTURE.member.ref)) as string[];
    expect(await loaded.call("PIF.get_management", pif)).toBe(true);
    expect(await loaded.call("SR.get_PBDs", FIXTURE.isoSr.ref)).toHaveLength(2);
    const image = await loaded.call("VM.get_suspend_VDI", FIXTURE.batch.ref);
    expect([image, await loaded.call("VDI.get_type", image)]).toEqual([FIXTURE.suspendImage.ref, "suspend"]);
    await loaded.call("VM.resume", FIXTURE.batch.ref, false, false);
    expect(await loaded.powerState(FIXTURE.batch.ref)).toBe("Running");
  });

  it("refuses a PIF or PBD naming no host, with the path", async () => {
    const h = await harness();
    const state = JSON.parse(JSON.stringify(h.model.exportState())) as {
      pifs: { record: Rec }[];
      pbds: { record: Rec }[];
    };
    const [pif] = state.pifs;
    if (pif) pif.record.host = BAD;
    expect(() => createModel({ state })).toThrow(InvalidStateError);
    expect(() => createModel({ state })).toThrow(/pifs\.0\.record\.host names host OpaqueRef:00000000/);
  });

  it("round-trips the objects through exportState", async () => {
    const h = await harness();
    const state = h.model.exportState();
    const again = await harness({ state });
    for (const cls of ["host_metrics", "PIF", "PIF_metrics", "PBD"]) {
      expect(Object.keys((await again.call(`${cls}.get_all_records`)) as Rec).sort()).toEqual(
        Object.keys((await h.call(`${cls}.get_all_records`)) as Rec).sort(),
      );
    }
  });
});
