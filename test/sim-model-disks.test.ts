/**
 * xapi-sim's storage (issue #7): SR, VDI and VBD records and calls, clone/provision/destroy of disks,
 * persistence and events, and the boot outcome the disks feed (the `bootRecord` control op).
 * The per-sentence boot rules, driven through the provider, are in test/boot-rules.test.ts.
 */
import { describe, expect, it } from "vitest";
import { XapiFault } from "../simulator/api";
import { createModel } from "../simulator/model";
import { DEBIAN_MENU_LST } from "../simulator/model/fixture";
import { FIXTURE, harness, MASTER } from "./sim-model-helpers";

type Rec = Record<string, unknown>;

async function vbdsOf(h: Awaited<ReturnType<typeof harness>>, vm: string): Promise<Rec[]> {
  const refs = (await h.call("VM.get_VBDs", vm)) as string[];
  return Promise.all(refs.map(async (ref) => ({ ref, ...((await h.call("VBD.get_record", ref)) as Rec) })));
}

interface LastBoot {
  method: string;
  kernel: string | null;
  cmdline: string | null;
  kernelSource: string | null;
  bootDisk: string | null;
  bootloader: { argv: string[] } | null;
  disks: { userdevice: string; path: string | null }[];
  qemuBootOrder: string | null;
  bootDevice: { letter: string; kind: string; userdevice: string | null } | null;
}

describe("VBD and VDI records", () => {
  it("gives pv-01 a bootable root disk, a data disk and an empty CD drive", async () => {
    const h = await harness();
    const vbds = await vbdsOf(h, FIXTURE.pv.ref);
    expect(
      vbds.map((v) => [v.userdevice, v.type, v.bootable, v.empty, v.device, v.currently_attached]),
    ).toEqual([
      ["0", "Disk", true, false, "xvda", true],
      ["1", "Disk", false, false, "xvdb", true],
      ["3", "CD", false, true, "xvdd", true],
    ]);
  });

  it("links VBD.VM, VBD.VDI and VDI.VBDs both ways", async () => {
    const h = await harness();
    const [root] = await vbdsOf(h, FIXTURE.db.ref);
    expect(root?.VM).toBe(FIXTURE.db.ref);
    const vdi = (await h.call("VDI.get_record", root?.VDI)) as Rec;
    expect([vdi.VBDs, vdi.SR, vdi.name_label]).toEqual([[root?.ref], FIXTURE.localSr.ref, "db-01 root"]);
  });

  it("answers HANDLE_INVALID [VBD, ref] for a bad VBD ref", async () => {
    const h = await harness();
    const fault = await h.fault("VBD.get_bootable", "OpaqueRef:nope");
    expect([fault.code, ...fault.params]).toEqual(["HANDLE_INVALID", "VBD", "OpaqueRef:nope"]);
  });

  it("answers HANDLE_INVALID [VDI, ref] for a bad VDI ref", async () => {
    const h = await harness();
    const fault = await h.fault("VDI.get_record", "OpaqueRef:nope");
    expect([fault.code, ...fault.params]).toEqual(["HANDLE_INVALID", "VDI", "OpaqueRef:nope"]);
  });

  it("VBD.set_bootable writes the flag in any power state", async () => {
    const h = await harness();
    const [, data] = await vbdsOf(h, FIXTURE.web.ref);
    await h.call("VBD.set_bootable", data?.ref, true);
    expect(await h.call("VBD.get_bootable", data?.ref)).toBe(true);
  });

  it("VBD.get_all_records returns every VBD of the pool", async () => {
    const h = await harness();
    const all = (await h.call("VBD.get_all_records")) as Record<string, Rec>;
    const forPv = Object.values(all).filter((v) => v.VM === FIXTURE.pv.ref);
    expect(forPv.map((v) => v.userdevice).sort()).toEqual(["0", "1", "3"]);
  });

  it("lists the storage calls in system.listMethods", async () => {
    const h = await harness();
    const methods = (await h.model.dispatch("system.listMethods", [], MASTER)) as string[];
    expect(
      [
        "VBD.get_record",
        "VBD.get_all_records",
        "VBD.set_bootable",
        "VDI.get_record",
        "VDI.destroy",
        "SR.get_all",
      ].filter((m) => !methods.includes(m)),
    ).toEqual([]);
  });
});

describe("clone, provision, destroy", () => {
  it("clone copies the disks onto new VBDs and new VDIs with the same content", async () => {
    const h = await harness();
    const clone = (await h.call("VM.clone", FIXTURE.pvTemplate.ref, "copy")) as string;
    const [src] = await vbdsOf(h, FIXTURE.pvTemplate.ref);
    const [dst] = await vbdsOf(h, clone);
    expect([dst?.ref === src?.ref, dst?.VDI === src?.VDI, dst?.bootable, dst?.VM]).toEqual([
      false,
      false,
      true,
      clone,
    ]);
    const disks = (await h.control("disks", { ref: clone })) as { content: { menuLst: string } }[];
    expect(disks[0]?.content.menuLst).toBe(DEBIAN_MENU_LST);
  });

  it("provision creates the template's 'disks' and drops the key", async () => {
    const h = await harness();
    const clone = (await h.call("VM.clone", FIXTURE.hvmTemplate.ref, "new")) as string;
    await h.call("VM.provision", clone);
    const vbds = await vbdsOf(h, clone);
    expect(vbds.map((v) => [v.userdevice, v.type, v.bootable, v.empty])).toEqual([
      ["0", "Disk", true, false],
      ["3", "CD", false, true],
    ]);
    expect(Object.keys((await h.call("VM.get_other_config", clone)) as Rec)).not.toContain("disks");
  });

  it("VM.destroy removes the VBDs and keeps the VDIs; VDI.destroy then removes a VDI", async () => {
    const h = await harness();
    const [root] = await vbdsOf(h, FIXTURE.db.ref);
    await h.call("VM.destroy", FIXTURE.db.ref);
    expect((await h.fault("VBD.get_record", root?.ref)).code).toBe("HANDLE_INVALID");
    expect(await h.call("VDI.get_VBDs", root?.VDI)).toEqual([]);
    await h.call("VDI.destroy", root?.VDI);
    expect((await h.fault("VDI.get_record", root?.VDI)).code).toBe("HANDLE_INVALID");
  });

  it("VDI.destroy of a disk of a running VM answers VDI_IN_USE", async () => {
    const h = await harness();
    const [root] = await vbdsOf(h, FIXTURE.web.ref);
    const fault = await h.fault("VDI.destroy", root?.VDI);
    expect([fault.code, ...fault.params]).toEqual(["VDI_IN_USE", root?.VDI, "destroy"]);
  });
});

describe("persistence and events", () => {
  it("round-trips disks, flags and content through exportState", async () => {
    const h = await harness();
    const [, data] = await vbdsOf(h, FIXTURE.pv.ref);
    await h.call("VBD.set_bootable", data?.ref, true);
    await h.control("setGuestDisk", {
      uuid: FIXTURE.pv.uuid,
      userdevice: "1",
      menuLst: null,
      files: ["/vmlinuz"],
    });
    const model = createModel({ state: h.model.exportState(), defaultOperationMs: 1 });
    const again = await model.control.disks?.({ uuid: FIXTURE.pv.uuid });
    expect(again).toEqual(await h.control("disks", { uuid: FIXTURE.pv.uuid }));
    model.close();
  });

  it("loads a state file written before disks existed", async () => {
    const h = await harness();
    const { srs: _s, vdis: _d, vbds: _b, pbds: _p, ...old } = h.model.exportState() as Rec;
    // Such a file's VMs had no VBDs (VM.VBDs naming VBDs the file lacks would be dangling references),
    // and its SRs no PBDs (they came later still).
    for (const vm of old.vms as { record: Rec }[]) vm.record.VBDs = [];
    const model = createModel({ state: old });
    expect(await model.control.disks?.({ uuid: FIXTURE.pv.uuid })).toEqual([]);
    model.close();
  });

  it("reports a VBD.set_bootable as a vbd mod event", async () => {
    const h = await harness();
    const token = (await h.call("event.from", ["vbd"], "", 0)) as { token: string };
    const [root] = await vbdsOf(h, FIXTURE.db.ref);
    await h.call("VBD.set_bootable", root?.ref, false);
    const from = (await h.call("event.from", ["vbd"], token.token, 0)) as { events: Rec[] };
    expect(from.events.map((ev) => [ev.class, ev.operation, ev.ref])).toEqual([["vbd", "mod", root?.ref]]);
  });
});

describe("boot outcome (bootRecord)", () => {
  const lastBoot = async (h: Awaited<ReturnType<typeof harness>>, uuid: string) =>
    ((await h.control("bootRecord", { uuid })) as { lastBoot: LastBoot }).lastBoot;

  it("records pygrub's menu.lst boot of a fixture PV guest", async () => {
    const h = await harness();
    const boot = await lastBoot(h, FIXTURE.stubborn.uuid);
    expect([boot.method, boot.kernel, boot.cmdline, boot.kernelSource, boot.bootDisk]).toEqual([
      "pv-bootloader",
      "/boot/vmlinuz-6.1.0-18-amd64",
      "root=/dev/xvda1 ro  console=hvc0",
      "menu.lst",
      "0",
    ]);
  });

  it("boots an HVM guest from the first device of its order that has media", async () => {
    const h = await harness();
    await h.call("VM.start", FIXTURE.legacy.ref, false, false);
    const boot = await lastBoot(h, FIXTURE.legacy.uuid);
    expect([boot.qemuBootOrder, boot.bootDevice]).toEqual([
      "dc",
      { letter: "d", kind: "cdrom", userdevice: "3" },
    ]);
  });

  it("a bootable flag changed while running is a pending boot change until the next build", async () => {
    const h = await harness();
    const [, data] = await vbdsOf(h, FIXTURE.pv.ref);
    const pending = async () =>
      ((await h.control("bootRecord", { uuid: FIXTURE.pv.uuid })) as { pendingBootChange: boolean })
        .pendingBootChange;
    const before = await pending();
    await h.call("VBD.set_bootable", data?.ref, true);
    const after = await pending();
    await h.call("VM.hard_reboot", FIXTURE.pv.ref);
    expect([before, after, await pending()]).toEqual([false, true, false]);
  });

  it("a reboot with no bootable disk fails and leaves the VM Halted", async () => {
    const h = await harness();
    const [root] = await vbdsOf(h, FIXTURE.stubborn.ref);
    await h.call("VBD.set_bootable", root?.ref, false);
    const fault = await h.fault("VM.hard_reboot", FIXTURE.stubborn.ref);
    expect([fault.code, ...fault.params, await h.powerState(FIXTURE.stubborn.ref)]).toEqual([
      "INTERNAL_ERROR",
      "xenopsd internal error: there is no bootable device",
      "Halted",
    ]);
  });

  it("a pygrub boot with no kernel anywhere fails with BOOTLOADER_FAILED [vm, msg]", async () => {
    const h = await harness();
    await h.control("setGuestDisk", {
      uuid: FIXTURE.pvDirect.uuid,
      userdevice: "0",
      menuLst: null,
      files: [],
    });
    await h.call("VM.set_PV_bootloader", FIXTURE.pvDirect.ref, "pygrub");
    const fault = await h.fault("VM.start", FIXTURE.pvDirect.ref, false, false);
    expect(fault).toBeInstanceOf(XapiFault);
    expect([fault.code, ...fault.params]).toEqual([
      "BOOTLOADER_FAILED",
      FIXTURE.pvDirect.ref,
      "Unable to find partition containing kernel",
    ]);
  });
});
