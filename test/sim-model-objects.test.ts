/**
 * The objects real tools read besides VMs and disks (simulator/README.md "Networking and metrics"):
 * VIF and network, VM_metrics, and VM_guest_metrics with XAPI's lifecycle (created when a Running guest's
 * agent reports, dropped by the next start or reboot, kept across halt and suspend, copied by clone,
 * destroyed with the VM).
 */
import { describe, expect, it } from "vitest";
import { FIXTURE, harness, MASTER } from "./sim-model-helpers";

type Rec = Record<string, unknown>;
const NULL = "OpaqueRef:NULL";
const BAD = "OpaqueRef:00000000-0000-4000-8000-00000000dead";

describe("VIF and network", () => {
  it("gives every fixture guest one VIF on the management network, none to templates and control domains", async () => {
    const h = await harness();
    const vifs = (await h.call("VIF.get_all_records")) as Record<string, Rec>;
    const owners = Object.values(vifs).map((v) => v.VM);
    expect(owners.sort()).toEqual(
      [FIXTURE.web, FIXTURE.db, FIXTURE.legacy, FIXTURE.batch, FIXTURE.pv, FIXTURE.pvDirect, FIXTURE.stubborn]
        .map((vm) => vm.ref)
        .sort(),
    );
    expect(await h.call("VM.get_VIFs", FIXTURE.hvmTemplate.ref)).toEqual([]);
    expect(await h.call("VM.get_VIFs", FIXTURE.dom0Master.ref)).toEqual([]);
  });

  it("reads a VIF's device, MAC, network, VM, MTU and attachment, and its network's name", async () => {
    const h = await harness();
    const [vif] = (await h.call("VM.get_VIFs", FIXTURE.web.ref)) as string[];
    const record = (await h.call("VIF.get_record", vif)) as Rec;
    expect(record).toMatchObject({
      device: "0",
      MAC: "5a:1f:00:00:00:e1",
      network: FIXTURE.network.ref,
      VM: FIXTURE.web.ref,
      MTU: 1500,
      currently_attached: true,
      allowed_operations: ["attach", "unplug"],
    });
    expect(await h.call("network.get_name_label", FIXTURE.network.ref)).toBe(
      "Pool-wide network associated with eth0",
    );
    expect(await h.call("network.get_by_name_label", "Pool-wide network associated with eth0")).toEqual([
      FIXTURE.network.ref,
    ]);
    expect(await h.call("network.get_VIFs", FIXTURE.network.ref)).toContain(vif);
    expect(await h.call("VIF.get_by_uuid", record.uuid)).toBe(vif);
    expect(await h.call("VIF.get_MAC", vif)).toBe("5a:1f:00:00:00:e1");
  });

  it("attaches a VIF while the VM has a domain", async () => {
    const h = await harness();
    const [vif] = (await h.call("VM.get_VIFs", FIXTURE.db.ref)) as string[];
    const before = await h.call("VIF.get_currently_attached", vif);
    await h.call("VM.start", FIXTURE.db.ref, false, false);
    const running = await h.call("VIF.get_currently_attached", vif);
    await h.call("VM.hard_shutdown", FIXTURE.db.ref);
    expect([before, running, await h.call("VIF.get_currently_attached", vif)]).toEqual([false, true, false]);
  });

  it.each(["VIF", "network", "VM_guest_metrics", "VM_metrics"])(
    "answers HANDLE_INVALID [%s, ref] for a bad ref, UUID_INVALID for a bad uuid",
    async (cls) => {
      const h = await harness();
      const record = await h.fault(`${cls}.get_record`, BAD);
      const getter = await h.fault(`${cls}.get_uuid`, BAD);
      const uuid = await h.fault(`${cls}.get_by_uuid`, "nope");
      expect([record.code, ...record.params]).toEqual(["HANDLE_INVALID", cls, BAD]);
      expect([getter.code, ...getter.params]).toEqual(["HANDLE_INVALID", cls, BAD]);
      expect([uuid.code, ...uuid.params]).toEqual(["UUID_INVALID", cls, "nope"]);
    },
  );

  it("lists the classes' messages in system.listMethods", async () => {
    const h = await harness();
    const methods = (await h.model.dispatch("system.listMethods", [], MASTER)) as string[];
    for (const cls of ["VIF", "network", "VM_guest_metrics", "VM_metrics"])
      for (const m of [
        "get_record",
        "get_all",
        "get_all_records",
        "get_by_uuid",
        "get_uuid",
        "get_other_config",
      ])
        expect(methods).toContain(`${cls}.${m}`);
  });
});

describe("VM_metrics", () => {
  it("exists for every VM, templates and control domains included", async () => {
    const h = await harness();
    const vms = (await h.call("VM.get_all_records")) as Record<string, Rec>;
    const metrics = (await h.call("VM_metrics.get_all")) as string[];
    expect(Object.values(vms).filter((vm) => !metrics.includes(vm.metrics as string))).toEqual([]);
  });

  it("records the start time and the domain type of the running domain; unspecified once Halted", async () => {
    const h = await harness();
    const m = (await h.call("VM.get_metrics", FIXTURE.db.ref)) as string;
    const before = (await h.call("VM_metrics.get_record", m)) as Rec;
    await h.call("VM.start", FIXTURE.db.ref, false, false);
    const running = (await h.call("VM_metrics.get_record", m)) as Rec;
    await h.call("VM.hard_shutdown", FIXTURE.db.ref);
    expect(before.current_domain_type).toBe("unspecified");
    expect(running).toMatchObject({ current_domain_type: "hvm", hvm: true, VCPUs_number: 2 });
    expect(running.start_time).not.toEqual(before.start_time);
    expect(await h.call("VM_metrics.get_current_domain_type", m)).toBe("unspecified");
  });

  it("sets install_time when a clone stops being a template (VM.set_is_a_template false)", async () => {
    const h = await harness();
    const clone = (await h.call("VM.clone", FIXTURE.pvTemplate.ref, "new")) as string;
    const m = (await h.call("VM.get_metrics", clone)) as string;
    const before = await h.call("VM_metrics.get_install_time", m);
    await h.call("VM.set_is_a_template", clone, false);
    expect(await h.call("VM_metrics.get_install_time", m)).not.toEqual(before);
  });
});

describe("VM_guest_metrics", () => {
  it("exists for a booted guest with PV drivers, with what its agent reports", async () => {
    const h = await harness();
    const gm = (await h.call("VM.get_guest_metrics", FIXTURE.web.ref)) as string;
    const record = (await h.call("VM_guest_metrics.get_record", gm)) as Rec;
    expect(record).toMatchObject({
      os_version: { name: "Debian GNU/Linux 12 (bookworm)", distro: "debian", major: "12" },
      PV_drivers_version: { major: "8", minor: "4", micro: "0" },
      PV_drivers_up_to_date: true,
      PV_drivers_detected: true,
      live: true,
      networks: { "0/ip": "192.0.2.225", "0/ipv4/0": "192.0.2.225" },
      other: expect.objectContaining({ "feature-suspend": "1" }),
      can_use_hotplug_vbd: "unspecified",
      memory: {},
      disks: {},
    });
    expect(Object.keys(record)).toEqual(expect.arrayContaining(["uuid", "last_updated", "other_config"]));
  });

  it("is NULL for a guest without PV drivers, never booted, or a control domain", async () => {
    const h = await harness();
    await h.call("VM.start", FIXTURE.legacy.ref, false, false);
    expect(await h.call("VM.get_guest_metrics", FIXTURE.legacy.ref)).toBe(NULL);
    expect(await h.call("VM.get_guest_metrics", FIXTURE.db.ref)).toBe(NULL);
    expect(await h.call("VM.get_guest_metrics", FIXTURE.dom0Master.ref)).toBe(NULL);
  });

  it("appears when a started guest runs, replaced at each start and reboot, kept across halt and suspend", async () => {
    const h = await harness();
    const gm = (vm: string) => h.call("VM.get_guest_metrics", vm) as Promise<string>;
    await h.call("VM.start", FIXTURE.db.ref, true, false);
    const paused = await gm(FIXTURE.db.ref);
    await h.call("VM.unpause", FIXTURE.db.ref);
    const first = await gm(FIXTURE.db.ref);
    await h.call("VM.suspend", FIXTURE.db.ref);
    await h.call("VM.resume", FIXTURE.db.ref, false, false);
    const resumed = await gm(FIXTURE.db.ref);
    await h.call("VM.clean_reboot", FIXTURE.db.ref);
    const rebooted = await gm(FIXTURE.db.ref);
    await h.call("VM.hard_shutdown", FIXTURE.db.ref);
    const halted = await gm(FIXTURE.db.ref);
    await h.call("VM.start", FIXTURE.db.ref, false, false);
    const restarted = await gm(FIXTURE.db.ref);
    expect(paused).toBe(NULL);
    expect(first).not.toBe(NULL);
    expect(resumed).toBe(first);
    expect(rebooted).not.toBe(first);
    expect(halted).toBe(rebooted);
    expect(restarted).not.toBe(halted);
    expect((await h.fault("VM_guest_metrics.get_record", first)).code).toBe("HANDLE_INVALID");
  });

  it("reports the change through events: del of the old object, add of the new one", async () => {
    const h = await harness();
    const old = (await h.call("VM.get_guest_metrics", FIXTURE.web.ref)) as string;
    const { token } = (await h.call("event.from", ["vm_guest_metrics"], "", 0)) as { token: string };
    await h.call("VM.hard_reboot", FIXTURE.web.ref);
    const fresh = (await h.call("VM.get_guest_metrics", FIXTURE.web.ref)) as string;
    const from = (await h.call("event.from", ["vm_guest_metrics"], token, 0)) as { events: Rec[] };
    expect(from.events.map((ev) => [ev.class, ev.operation, ev.ref])).toEqual([
      ["vm_guest_metrics", "del", old],
      ["vm_guest_metrics", "add", fresh],
    ]);
  });

  it("follows the guest model: drivers installed in a running guest make them appear", async () => {
    const h = await harness();
    await h.call("VM.start", FIXTURE.legacy.ref, false, false);
    await h.control("setGuest", {
      uuid: FIXTURE.legacy.uuid,
      pvDrivers: true,
      os_version: { name: "Windows Server 2022", distro: "windows", major: "10" },
    });
    const gm = (await h.call("VM.get_guest_metrics", FIXTURE.legacy.ref)) as string;
    expect(await h.call("VM_guest_metrics.get_os_version", gm)).toEqual({
      name: "Windows Server 2022",
      distro: "windows",
      major: "10",
    });
  });
});

describe("clone and destroy", () => {
  it("clone copies the VIFs (new MAC), the metrics and the guest metrics into new objects", async () => {
    const h = await harness();
    await h.call("VM.hard_shutdown", FIXTURE.web.ref);
    const clone = (await h.call("VM.clone", FIXTURE.web.ref, "web-02")) as string;
    const src = (await h.call("VM.get_record", FIXTURE.web.ref)) as Rec;
    const copy = (await h.call("VM.get_record", clone)) as Rec;
    const [vif] = copy.VIFs as string[];
    const vifRecord = (await h.call("VIF.get_record", vif)) as Rec;
    expect(vif).not.toBe((src.VIFs as string[])[0]);
    expect(vifRecord).toMatchObject({ VM: clone, network: FIXTURE.network.ref, device: "0" });
    expect(vifRecord.MAC).not.toBe("5a:1f:00:00:00:e1");
    expect(vifRecord.MAC).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(copy.metrics).not.toBe(src.metrics);
    expect(copy.guest_metrics).not.toBe(src.guest_metrics);
    expect(await h.call("VM_guest_metrics.get_os_version", copy.guest_metrics)).toEqual(
      await h.call("VM_guest_metrics.get_os_version", src.guest_metrics),
    );
  });

  it("destroy removes the VM's VIFs, VM_metrics and VM_guest_metrics; the network stays", async () => {
    const h = await harness();
    const vm = (await h.call("VM.get_record", FIXTURE.batch.ref)) as Rec;
    await h.call("VM.destroy", FIXTURE.batch.ref);
    const [vif] = vm.VIFs as string[];
    expect((await h.fault("VIF.get_record", vif)).code).toBe("HANDLE_INVALID");
    expect((await h.fault("VM_metrics.get_record", vm.metrics)).code).toBe("HANDLE_INVALID");
    expect((await h.fault("VM_guest_metrics.get_record", vm.guest_metrics)).code).toBe("HANDLE_INVALID");
    expect(await h.call("network.get_VIFs", FIXTURE.network.ref)).not.toContain(vif);
  });
});

describe("persistence", () => {
  it("keeps VIFs, networks and metrics across a restart", async () => {
    const h = await harness();
    await h.call(
      "VIF.add_to_other_config",
      ((await h.call("VM.get_VIFs", FIXTURE.db.ref)) as string[])[0],
      "k",
      "v",
    );
    const state = JSON.parse(JSON.stringify(h.model.exportState()));
    const h2 = await harness({ state });
    for (const cls of ["VIF", "network", "VM_metrics", "VM_guest_metrics"])
      expect(await h2.call(`${cls}.get_all_records`)).toEqual(await h.call(`${cls}.get_all_records`));
  });
});
