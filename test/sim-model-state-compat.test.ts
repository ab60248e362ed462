/**
 * State files holding records as older hosts dump them (simulator/README.md "Persistence"): no
 * domain_type (filled per profile, the way XAPI's db upgrade does), int64 as decimal strings (XML-RPC),
 * unknown fields kept; and dangling references refused with InvalidStateError naming the path.
 */
import { describe, expect, it } from "vitest";
import { createModel, InvalidStateError } from "../simulator/model";
import { FIXTURE, harness } from "./sim-model-helpers";

type Rec = Record<string, unknown>;
type State = Rec & {
  vms: { ref: string; record: Rec }[];
  vbds: { ref: string; record: Rec }[];
  vifs: { ref: string; record: Rec }[];
  vdis: { ref: string; record: Rec }[];
};

async function state(profile?: "current" | "xenserver-7"): Promise<State> {
  const h = await harness(profile ? { profile } : {});
  const s = JSON.parse(JSON.stringify(h.model.exportState())) as State;
  h.model.close();
  return s;
}

/** The record of row `i` of a table. */
function row(list: { record: Rec }[], i: number): Rec {
  const r = list[i];
  if (!r) throw new Error(`no row ${i}`);
  return r.record;
}

function vmEntry(s: State, ref: string): { ref: string; record: Rec } {
  const vm = s.vms.find((v) => v.ref === ref);
  if (!vm) throw new Error(`no VM ${ref} in the state`);
  return vm;
}

/** A VM record as a XenServer 7.x host dumps it through XML-RPC: no domain_type, int64 as strings. */
function asOldHostDump(record: Rec): void {
  delete record.domain_type;
  for (const [k, v] of Object.entries(record))
    if (typeof v === "number" && Number.isInteger(v)) record[k] = String(v);
}

describe("records as older hosts dump them", () => {
  it("fills a missing domain_type from HVM_boot_policy under current (xapi_db_upgrade upgrade_domain_type)", async () => {
    const s = await state();
    for (const vm of s.vms) asOldHostDump(vm.record);
    const h = await harness({ state: s });
    expect(await h.call("VM.get_domain_type", FIXTURE.web.ref)).toBe("hvm");
    expect(await h.call("VM.get_domain_type", FIXTURE.pv.ref)).toBe("pv");
    expect(await h.call("VM.get_domain_type", FIXTURE.dom0Master.ref)).toBe("pv");
    expect(await h.call("VM.get_domain_type", FIXTURE.hvmTemplate.ref)).toBe("hvm");
  });

  it("turns int64 written as decimal strings back into numbers", async () => {
    const s = await state();
    for (const vm of s.vms) asOldHostDump(vm.record);
    const vbd = s.vbds[0]?.record;
    if (vbd) vbd.status_code = "0";
    s.nextDomid = String(s.nextDomid);
    const h = await harness({ state: s });
    expect(await h.call("VM.get_memory_static_max", FIXTURE.web.ref)).toBe(2 * 1024 ** 3);
    expect(await h.call("VM.get_domid", FIXTURE.web.ref)).toBe(1);
    await h.call("VM.start", FIXTURE.db.ref, false, false);
    expect(await h.call("VM.get_domid", FIXTURE.db.ref)).toBeGreaterThan(1);
  });

  it("reads a device-name userdevice as XAPI's Device_number does (xvda is disk 0), and refuses one it cannot read", async () => {
    const s = await state();
    const webVbds = s.vbds.filter((b) => b.record.VM === FIXTURE.web.ref);
    for (const vbd of webVbds)
      vbd.record.userdevice = { "0": "xvda", "1": "xvdb", "3": "hdd" }[String(vbd.record.userdevice)];
    const h = await harness({ state: s });
    const disks = (await h.control("disks", { uuid: FIXTURE.web.uuid })) as { userdevice: string }[];
    expect(disks.map((d) => d.userdevice)).toEqual(["xvda", "xvdb", "hdd"]);
    await h.call("VM.hard_reboot", FIXTURE.web.ref);
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Running");
    for (const vbd of webVbds) vbd.record.userdevice = "autodetect";
    expect(() => createModel({ state: s })).toThrow(
      /expected a userdevice XAPI reads .* at vbds\.\d+\.record\.userdevice/,
    );
  });

  it("keeps unknown fields in the state without serving them", async () => {
    const s = await state();
    vmEntry(s, FIXTURE.db.ref).record.secureboot_certificates_state = "ok";
    const h = await harness({ state: s });
    const record = (await h.call("VM.get_record", FIXTURE.db.ref)) as Rec;
    const again = JSON.parse(JSON.stringify(h.model.exportState())) as State;
    expect(record).not.toHaveProperty("secureboot_certificates_state");
    expect(vmEntry(again, FIXTURE.db.ref).record.secureboot_certificates_state).toBe("ok");
  });

  it("loads a xenserver-7 dump (no domain_type) under that profile; the VMs boot by HVM_boot_policy", async () => {
    const s = await state("xenserver-7");
    for (const vm of s.vms) asOldHostDump(vm.record);
    const h = await harness({ state: s });
    await h.call("VM.start", FIXTURE.pvDirect.ref, false, false);
    const boot = (await h.control("bootRecord", { uuid: FIXTURE.pvDirect.uuid })) as { lastBoot: Rec };
    expect(boot.lastBoot.domain_type).toBe("pv");
    expect(await h.call("VM.get_record", FIXTURE.pvDirect.ref)).not.toHaveProperty("domain_type");
  });

  it("gives a VM without VM_metrics a fresh one, as xapi's dbsync does", async () => {
    const s = await state();
    const { vmMetrics: _, ...old } = s;
    for (const vm of old.vms) vm.record.metrics = "OpaqueRef:NULL";
    const h = await harness({ state: old });
    const metrics = (await h.call("VM.get_metrics", FIXTURE.web.ref)) as string;
    expect(metrics).not.toBe("OpaqueRef:NULL");
    expect(await h.call("VM_metrics.get_current_domain_type", metrics)).toBe("hvm");
  });
});

describe("dangling references", () => {
  const missing = "OpaqueRef:00000000-dead-4000-8000-000000000000";

  it.each([
    [
      "a VM's VBDs entry",
      (s: State) => (vmEntry(s, FIXTURE.web.ref).record.VBDs as string[]).push(missing),
      /vms\.\d+\.record\.VBDs\.3 names VBD OpaqueRef:00000000-dead/,
    ],
    [
      "a VBD's VM",
      (s: State) => {
        row(s.vbds, 0).VM = missing;
      },
      /vbds\.0\.record\.VM names VM OpaqueRef:00000000-dead/,
    ],
    [
      "a VBD's VDI",
      (s: State) => {
        row(s.vbds, 1).VDI = missing;
      },
      /vbds\.1\.record\.VDI names VDI OpaqueRef:00000000-dead/,
    ],
    [
      "a disk VBD's NULL VDI",
      (s: State) => {
        row(s.vbds, 1).VDI = "OpaqueRef:NULL";
      },
      /vbds\.1\.record\.VDI names VDI OpaqueRef:NULL/,
    ],
    [
      "a VM's resident_on",
      (s: State) => {
        vmEntry(s, FIXTURE.web.ref).record.resident_on = missing;
      },
      /vms\.\d+\.record\.resident_on names host OpaqueRef:00000000-dead/,
    ],
    [
      "a VM's VIFs entry",
      (s: State) => {
        vmEntry(s, FIXTURE.db.ref).record.VIFs = [missing];
      },
      /vms\.\d+\.record\.VIFs\.0 names VIF/,
    ],
    [
      "a VIF's network",
      (s: State) => {
        row(s.vifs, 0).network = missing;
      },
      /vifs\.0\.record\.network names network/,
    ],
    [
      "a VM's guest_metrics",
      (s: State) => {
        vmEntry(s, FIXTURE.web.ref).record.guest_metrics = missing;
      },
      /guest_metrics names VM_guest_metrics/,
    ],
    [
      "a VDI's SR",
      (s: State) => {
        row(s.vdis, 0).SR = missing;
      },
      /vdis\.0\.record\.SR names SR/,
    ],
  ])("refuses %s naming no object, with the path and the missing ref", async (_what, corrupt, message) => {
    const s = await state();
    corrupt(s);
    expect(() => createModel({ state: s })).toThrow(InvalidStateError);
    expect(() => createModel({ state: s })).toThrow(message);
    expect(() => createModel({ state: s })).toThrow(/which is not in the state \(a dangling reference\)/);
  });

  it("accepts OpaqueRef:NULL for an empty CD drive and for a VM that is not resident", async () => {
    const s = await state();
    const cd = s.vbds.find((b) => b.record.type === "CD" && b.record.empty === true);
    expect(cd?.record.VDI).toBe("OpaqueRef:NULL");
    expect(vmEntry(s, FIXTURE.db.ref).record.resident_on).toBe("OpaqueRef:NULL");
    expect(() => createModel({ state: s }).close()).not.toThrow();
  });
});
