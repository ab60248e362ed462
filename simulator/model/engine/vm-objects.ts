/**
 * Creating and deleting VMs with the objects that belong to them: insert (with VM_metrics), destroy
 * (`ocaml/xapi/xapi_vm_helpers.ml`, `destroy`), clone/copy (`ocaml/xapi/xapi_vm_clone.ml`) and provision
 * (`ocaml/xapi/xapi_templates.ml`).
 */
import { randomBytes } from "node:crypto";
import {
  defaultVbdRecord,
  defaultVdiRecord,
  defaultVmRecord,
  newRef,
  newUuid,
  userdeviceNumber,
  type VmRecord,
} from "../records";
import type { VmSimState } from "../snapshot";
import { NULL_REF, SimPowerState } from "../vocabulary";
import type { Engine } from ".";
import { parseProvisionDisks } from "./provision-xml";

/** A random locally administered unicast MAC (XAPI's `gen_mac` hashes the VM's mac_seed into one). */
export function randomMac(): string {
  const bytes = [...randomBytes(6)];
  bytes[0] = ((bytes[0] ?? 0) & 0xfe) | 0x02;
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** A clone's record: a new identity, halted runtime fields, no devices, the template marker dropped. */
function cloneRecord(src: VmRecord, newName: string): VmRecord {
  const copy = structuredClone(src);
  return defaultVmRecord({
    ...copy,
    uuid: newUuid(),
    name_label: newName,
    is_default_template: false,
    power_state: SimPowerState.Halted,
    domid: -1,
    resident_on: NULL_REF,
    suspend_VDI: NULL_REF,
    allowed_operations: [],
    current_operations: {},
    VBDs: [],
    VIFs: [],
    metrics: NULL_REF,
    guest_metrics: NULL_REF,
    consoles: [],
    snapshots: [],
    children: [],
    parent: NULL_REF,
    other_config: Object.fromEntries(
      Object.entries(copy.other_config).filter(([k]) => k !== "default_template"),
    ),
  });
}

export class VmObjects {
  constructor(private readonly e: Engine) {}

  /** A new VM record in the table (clone, provision), with its VM_metrics. */
  insert(ref: string, record: VmRecord, sim: VmSimState): void {
    const e = this.e;
    e.vmState.sim.set(ref, sim);
    e.vms.insert(ref, record);
    e.metrics.ensure(ref);
    e.vmState.update(ref, () => undefined);
  }

  /** Deletes a VM with its VBDs, VIFs, VM_metrics and VM_guest_metrics; its VDIs stay. */
  remove(ref: string): void {
    const e = this.e;
    const vm = e.vm(ref);
    for (const [vbd] of e.storage.vbdsOf(ref)) e.storage.destroyVbd(vbd);
    for (const [vif] of e.network.vifsOf(ref)) e.network.destroyVif(vif);
    e.vms.remove(ref);
    e.vmMetrics.remove(vm.metrics);
    e.guestMetrics.remove(vm.guest_metrics);
    e.vmState.sim.delete(ref);
    e.vmState.syncResidents();
  }

  /**
   * `VM.clone` / `VM.copy`: a new VM with a new identity and halted runtime fields, the guest model
   * copied, and its disks copied: each Disk VBD gets a new VBD on a new VDI (same name, size, SR and
   * content); a CD VBD gets a new VBD on the same ISO (or empty). Returns the new VM's ref.
   */
  clone(ref: string, newName: string): string {
    const src = this.e.vm(ref);
    const srcSim = this.e.vmState.simOf(ref);
    const newVm = newRef();
    this.insert(newVm, cloneRecord(src, newName), {
      guest: { ...srcSim.guest },
      bootCount: 0,
      lastBoot: null,
      startedAtMs: null,
    });
    this.cloneDisks(ref, newVm);
    this.cloneMetrics(src, newVm);
    this.cloneVifs(ref, newVm);
    return newVm;
  }

  private cloneDisks(ref: string, newVm: string): void {
    const e = this.e;
    for (const [, vbd] of e.storage.vbdsOf(ref)) {
      let vdi = vbd.VDI;
      const source = e.vdis.get(vbd.VDI);
      if (vbd.type === "Disk" && source !== undefined) {
        const { VBDs: _, ...rest } = source;
        vdi = e.storage.createVdi(
          { ...rest, uuid: newUuid(), location: "", snapshots: [], snapshot_of: NULL_REF },
          e.storage.contentOf(vbd.VDI),
        );
        e.vdis.update(vdi, (v) => {
          v.location = v.uuid;
        });
      }
      e.storage.createVbd({ ...vbd, uuid: newUuid(), VM: newVm, VDI: vdi, currently_attached: false });
    }
  }

  /** The metrics and guest metrics are copies (`xapi_vm_clone.ml`: `copy_metrics`, `copy_guest_metrics`). */
  private cloneMetrics(src: VmRecord, newVm: string): void {
    const e = this.e;
    const srcMetrics = e.vmMetrics.get(src.metrics);
    const newMetrics = e.vm(newVm).metrics;
    if (srcMetrics !== undefined)
      e.vmMetrics.update(newMetrics, (m) => {
        Object.assign(m, { ...structuredClone(srcMetrics), uuid: m.uuid });
      });
    const srcGuest = e.guestMetrics.get(src.guest_metrics);
    if (srcGuest !== undefined) {
      const gm = newRef();
      e.guestMetrics.insert(gm, { ...structuredClone(srcGuest), uuid: newUuid() });
      e.vms.update(newVm, (v) => {
        v.guest_metrics = gm;
      });
    }
  }

  /**
   * Each VIF is copied with a newly generated MAC (`ocaml/xapi/xapi_vif_helpers.ml`, `copy`: the MAC is
   * kept only for snapshots; XAPI derives it from the clone's mac_seed, xapi-sim picks a random one).
   */
  private cloneVifs(ref: string, newVm: string): void {
    const e = this.e;
    for (const [, vif] of e.network.vifsOf(ref)) {
      e.network.createVif({
        ...structuredClone(vif),
        uuid: newUuid(),
        VM: newVm,
        MAC: randomMac(),
        MAC_autogenerated: true,
        current_operations: {},
      });
    }
  }

  /** `VM.provision`: creates the disks `other_config["disks"]` describes, then drops the key. */
  provision(ref: string): void {
    const e = this.e;
    const vm = e.vm(ref);
    const spec = vm.other_config.disks;
    if (spec === undefined) return;
    const taken = new Set(e.storage.vbdsOf(ref).map(([, b]) => userdeviceNumber(b.userdevice)));
    const defaultSr = e.pools.values()[0]?.default_SR ?? NULL_REF;
    for (const disk of parseProvisionDisks(spec)) {
      if (taken.has(Number(disk.device))) continue;
      const sr = e.srs.has(disk.sr) ? disk.sr : defaultSr;
      const vdi = e.storage.createVdi(
        defaultVdiRecord({
          uuid: newUuid(),
          name_label: `${vm.name_label} ${disk.device}`,
          SR: sr,
          virtual_size: disk.size,
          type: disk.type,
        }),
        { menuLst: null, files: [] },
      );
      e.storage.createVbd(
        defaultVbdRecord({
          uuid: newUuid(),
          VM: ref,
          VDI: vdi,
          userdevice: disk.device,
          bootable: disk.bootable,
        }),
      );
    }
    e.vmState.update(ref, (v) => {
      const { disks: _, ...rest } = v.other_config;
      v.other_config = rest;
    });
  }
}
