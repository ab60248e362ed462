/**
 * xapi-sim profiles (simulator/README.md "Profiles"): `current` (XCP-ng 8.3, API 2.21), `xenserver-7`
 * (XenServer 7.2, API 2.7, no domain_type) and `xenapi-1.0` (API 1.0, no domain_type, Crashed). What a
 * profile leaves out comes from the lifecycle annotations of XAPI's datamodel (simulator/model/releases.ts).
 */
import { describe, expect, it } from "vitest";
import { XapiFault } from "../simulator/api";
import { createModel, InvalidStateError } from "../simulator/model";
import { FIELD_RELEASES } from "../simulator/model/releases";
import { FIXTURE, harness, MASTER } from "./sim-model-helpers";

type Rec = Record<string, unknown>;

/** Exported state through JSON, as a state file holds it. */
function stateOf(h: Awaited<ReturnType<typeof harness>>): Rec {
  return JSON.parse(JSON.stringify(h.model.exportState())) as Rec;
}

describe("profile current (the default)", () => {
  it("is XCP-ng 8.3: API 2.21, domain_type with pvh", async () => {
    const h = await harness();
    expect(await h.call("host.get_API_version_major", FIXTURE.master.ref)).toBe(2);
    expect(await h.call("host.get_API_version_minor", FIXTURE.master.ref)).toBe(21);
    await h.call("VM.set_domain_type", FIXTURE.db.ref, "pvh");
    expect(await h.call("VM.get_domain_type", FIXTURE.db.ref)).toBe("pvh");
    expect(await h.control("config")).toMatchObject({ profile: "current", apiVersion: "2.21" });
  });
});

describe("profile xenserver-7 (XenServer 7.2, API 2.7)", () => {
  const opts = { profile: "xenserver-7" as const };

  it("reports API 2.7 and a XenServer 7.2 software_version", async () => {
    const h = await harness(opts);
    expect(await h.call("host.get_API_version_major", FIXTURE.master.ref)).toBe(2);
    expect(await h.call("host.get_API_version_minor", FIXTURE.member.ref)).toBe(7);
    const sv = (await h.call("host.get_software_version", FIXTURE.master.ref)) as Rec;
    expect(sv).toMatchObject({
      product_version: "7.2.0",
      product_brand: "XenServer",
      xencenter_min: "2.7",
      xencenter_max: "2.7",
      db_schema: "5.120",
      hostname: "xcp-sim-1",
    });
    expect(sv).not.toHaveProperty("xapi_build");
  });

  it("has no domain_type in VM records, get_all_records, get_boot_record or events", async () => {
    const h = await harness(opts);
    const token = (await h.call("event.from", ["vm"], "", 0)) as { token: string };
    await h.call("VM.set_name_description", FIXTURE.db.ref, "touched");
    const record = (await h.call("VM.get_record", FIXTURE.db.ref)) as Rec;
    const all = (await h.call("VM.get_all_records")) as Record<string, Rec>;
    const boot = (await h.call("VM.get_boot_record", FIXTURE.web.ref)) as Rec;
    const from = (await h.call("event.from", ["vm"], token.token, 0)) as { events: { snapshot: Rec }[] };
    expect(record).not.toHaveProperty("domain_type");
    expect(Object.values(all).filter((r) => "domain_type" in r)).toEqual([]);
    expect(boot).not.toHaveProperty("domain_type");
    expect(from.events.length).toBeGreaterThan(0);
    expect(from.events.filter((ev) => "domain_type" in ev.snapshot)).toEqual([]);
  });

  it("answers VM.get_domain_type and VM.set_domain_type with MESSAGE_METHOD_UNKNOWN [name]", async () => {
    const h = await harness(opts);
    const get = await h.fault("VM.get_domain_type", FIXTURE.db.ref);
    const set = await h.fault("VM.set_domain_type", FIXTURE.db.ref, "pvh");
    const asyncSet = await h.fault("Async.VM.set_domain_type", FIXTURE.db.ref, "pv");
    expect([get.code, ...get.params]).toEqual(["MESSAGE_METHOD_UNKNOWN", "VM.get_domain_type"]);
    expect([set.code, ...set.params]).toEqual(["MESSAGE_METHOD_UNKNOWN", "VM.set_domain_type"]);
    expect([asyncSet.code, ...asyncSet.params]).toEqual(["MESSAGE_METHOD_UNKNOWN", "VM.set_domain_type"]);
  });

  it("lists no message that appeared after falcon, and no domain_type message", async () => {
    const h = await harness(opts);
    const methods = (await h.model.dispatch("system.listMethods", [], MASTER)) as string[];
    expect(methods.filter((m) => m.includes("domain_type"))).toEqual([]);
    for (const absent of ["VM.get_NVRAM", "VM.get_pending_guidances", "VM.set_actions_after_softreboot"])
      expect(methods).not.toContain(absent);
    // task.add_to_other_config: explicit since 25.8.0, an implicit accessor of the RW field since miami.
    for (const present of [
      "VM.set_HVM_boot_policy",
      "VM.get_is_default_template",
      "event.from",
      "task.add_to_other_config",
    ])
      expect(methods).toContain(present);
  });

  it("serves exactly the VM fields the datamodel says existed in falcon", async () => {
    const h = await harness(opts);
    const fields = Object.keys((await h.call("VM.get_record", FIXTURE.web.ref)) as Rec);
    const later = Object.entries(FIELD_RELEASES.VM ?? {})
      .filter(([, release]) => ["jura", "naples"].includes(release) || /^\d/.test(release))
      .map(([field]) => field);
    expect(later).toEqual(
      expect.arrayContaining(["domain_type", "NVRAM", "pending_guidances", "actions_after_softreboot"]),
    );
    expect(fields.filter((f) => later.includes(f))).toEqual([]);
    expect(fields).toEqual(
      expect.arrayContaining(["is_default_template", "requires_reboot", "HVM_boot_policy"]),
    );
  });

  it("boots by HVM_boot_policy: empty is PV, anything else HVM; set_HVM_boot_policy is a plain write", async () => {
    const h = await harness(opts);
    await h.call("VM.set_HVM_boot_policy", FIXTURE.db.ref, "");
    await h.call("VM.set_PV_bootloader", FIXTURE.db.ref, "pygrub");
    await h.control("setGuestDisk", {
      uuid: FIXTURE.db.uuid,
      userdevice: "0",
      menuLst: "default 0\ntitle Linux\nkernel /boot/vmlinuz root=/dev/xvda1\n",
    });
    await h.call("VM.start", FIXTURE.db.ref, false, false);
    const pv = (await h.control("bootRecord", { uuid: FIXTURE.db.uuid })) as { lastBoot: Rec };
    await h.call("VM.hard_shutdown", FIXTURE.db.ref);
    await h.call("VM.set_HVM_boot_policy", FIXTURE.db.ref, "BIOS order");
    await h.call("VM.start", FIXTURE.db.ref, false, false);
    const hvm = (await h.control("bootRecord", { uuid: FIXTURE.db.uuid })) as { lastBoot: Rec };
    expect([pv.lastBoot.method, pv.lastBoot.domain_type]).toEqual(["pv-bootloader", "pv"]);
    expect([hvm.lastBoot.method, hvm.lastBoot.domain_type]).toEqual(["hvm", "hvm"]);
    expect(h.model.exportState()).toMatchObject({ profile: "xenserver-7" });
  });

  it("has no VM_metrics.current_domain_type", async () => {
    const h = await harness(opts);
    const metrics = (await h.call("VM.get_metrics", FIXTURE.web.ref)) as string;
    expect(await h.call("VM_metrics.get_record", metrics)).not.toHaveProperty("current_domain_type");
    expect((await h.fault("VM_metrics.get_current_domain_type", metrics)).code).toBe(
      "MESSAGE_METHOD_UNKNOWN",
    );
  });

  it("logs in with 2 to 4 parameters and shows a falcon session record", async () => {
    const h = await harness(opts);
    const two = await h.model.dispatch("session.login_with_password", ["root", "xapi-sim"], MASTER);
    const four = await h.model.dispatch(
      "session.login_with_password",
      ["root", "xapi-sim", "2.7", "t"],
      MASTER,
    );
    const record = (await h.call("session.get_record", two)) as Rec;
    expect(typeof four).toBe("string");
    expect(record).toHaveProperty("originator");
    expect(record).not.toHaveProperty("client_certificate");
  });

  it("shows the profile through the config control op and refuses to change it", async () => {
    const h = await harness(opts);
    expect(await h.control("config")).toMatchObject({ profile: "xenserver-7", apiVersion: "2.7" });
    await expect(h.control("config", { profile: "current" })).rejects.toThrow(/"profile" is fixed/);
    await expect(
      h.control("setFields", { uuid: FIXTURE.db.uuid, fields: { domain_type: "pv" } }),
    ).rejects.toThrow(/no VM field "domain_type"/);
  });
});

describe("profile xenapi-1.0 (the seed's XenAPI 1.0)", () => {
  const opts = { profile: "xenapi-1.0" as const };

  it("reports API 1.0 from vendor xenbits and a xend software_version", async () => {
    const h = await harness(opts);
    expect(await h.call("host.get_API_version_major", FIXTURE.master.ref)).toBe(1);
    expect(await h.call("host.get_API_version_minor", FIXTURE.master.ref)).toBe(0);
    expect(await h.call("host.get_API_version_vendor", FIXTURE.master.ref)).toBe("xenbits");
    expect(await h.call("host.get_software_version", FIXTURE.master.ref)).toMatchObject({ Xen: "3.4" });
  });

  it("shows a crashed guest as Crashed, left only by hard_shutdown", async () => {
    const h = await harness(opts);
    await h.control("crashGuest", { uuid: FIXTURE.web.uuid });
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Crashed");
    const fault = await h.fault("VM.clean_shutdown", FIXTURE.web.ref);
    expect([fault.code, fault.params[2]]).toEqual(["VM_BAD_POWER_STATE", "crashed"]);
    await h.call("VM.hard_shutdown", FIXTURE.web.ref);
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Halted");
    expect(await h.control("config")).toMatchObject({ profile: "xenapi-1.0", crashedCompat: true });
  });

  it("has no domain_type either", async () => {
    const h = await harness(opts);
    expect(await h.call("VM.get_record", FIXTURE.pv.ref)).not.toHaveProperty("domain_type");
    expect((await h.fault("VM.get_domain_type", FIXTURE.pv.ref)).code).toBe("MESSAGE_METHOD_UNKNOWN");
  });
});

describe("MESSAGE_REMOVED", () => {
  it("answers a removed message after the session check, and still lists it", async () => {
    const h = await harness();
    const gm = (await h.call("VM.get_guest_metrics", FIXTURE.web.ref)) as string;
    const methods = (await h.model.dispatch("system.listMethods", [], MASTER)) as string[];
    const removed = await h.fault("VM_guest_metrics.get_memory", gm);
    const dead = await h.model
      .dispatch("VM_guest_metrics.get_memory", ["OpaqueRef:dead", gm], MASTER)
      .catch((e) => e);
    expect(methods).toContain("VM_guest_metrics.get_memory");
    expect([removed.code, ...removed.params]).toEqual(["MESSAGE_REMOVED"]);
    expect(dead).toBeInstanceOf(XapiFault);
    expect((dead as XapiFault).code).toBe("SESSION_INVALID");
    expect(await h.call("VM_guest_metrics.get_record", gm)).toMatchObject({ memory: {}, disks: {} });
  });
});

describe("the profile of a state", () => {
  it("is stored in the state and read back from it", async () => {
    const h = await harness({ profile: "xenserver-7" });
    const state = stateOf(h);
    const model = createModel({ state });
    expect(state.profile).toBe("xenserver-7");
    expect(await model.control.config?.({})).toMatchObject({ profile: "xenserver-7" });
    model.close();
  });

  it("loads a state without one as current", async () => {
    const h = await harness();
    const { profile: _, ...old } = stateOf(h);
    const model = createModel({ state: old });
    expect(await model.control.config?.({})).toMatchObject({ profile: "current" });
    model.close();
  });

  it("loads a state without one under the profile asked for, its records filled per that profile", async () => {
    const h = await harness({ profile: "xenserver-7" });
    const { profile: _, ...old } = stateOf(h);
    const model = createModel({ state: old, profile: "xenserver-7" });
    expect(await model.control.config?.({})).toMatchObject({ profile: "xenserver-7" });
    model.close();
  });

  it("refuses another profile than the state's, naming both", async () => {
    const h = await harness({ profile: "xenapi-1.0" });
    const state = stateOf(h);
    expect(() => createModel({ state, profile: "current" })).toThrow(InvalidStateError);
    expect(() => createModel({ state, profile: "current" })).toThrow(
      /belongs to profile "xenapi-1.0", not "current"/,
    );
  });

  it("writes VM records without the fields the profile lacks, as such a host dumps them", async () => {
    const h = await harness({ profile: "xenserver-7" });
    const vms = stateOf(h).vms as { record: Rec }[];
    expect(vms.filter((vm) => "domain_type" in vm.record)).toEqual([]);
  });

  it("refuses a VM with a domain_type under a profile without domain types", async () => {
    const h = await harness({ profile: "xenserver-7" });
    const state = stateOf(h);
    const vm = (state.vms as { record: Rec }[])[4];
    if (vm) vm.record.domain_type = "pvh";
    expect(() => createModel({ state })).toThrow(
      /vms\.4\.record\.domain_type is "pvh", but profile "xenserver-7"/,
    );
  });

  it("refuses an unknown profile", () => {
    expect(() => createModel({ profile: "xenserver-9" as never })).toThrow(RangeError);
  });
});
