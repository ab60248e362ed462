/**
 * Storage objects: VDIs (with what each holds for a bootloader), VBDs, and the reference lists XAPI
 * keeps in step with them (VM.VBDs, VDI.VBDs, SR.VDIs); the disks a domain build sees.
 */
import { type BootDiskInput, type BootResult, bootConfigError, bootOutcome, byUserdevice } from "../boot";
import { newRef, type VbdRecord, type VdiRecord } from "../records";
import type { GuestDiskContent } from "../snapshot";
import { SimPowerState } from "../vocabulary";
import type { Engine } from ".";

const { Running, Paused } = SimPowerState;

/** Whether two reference lists are the same, in order. */
export function sameRefs(a: readonly string[], b: readonly string[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class Storage {
  /** Simulator-only: what each VDI holds for a bootloader (menu.lst, kernels), keyed by VDI ref. */
  readonly vdiContent = new Map<string, GuestDiskContent>();

  constructor(private readonly e: Engine) {}

  /** The VM's VBDs, `[ref, record]`, sorted by userdevice. */
  vbdsOf(vmRef: string): [string, VbdRecord][] {
    return this.e.vbds
      .entries()
      .filter(([, vbd]) => vbd.VM === vmRef)
      .sort(([, a], [, b]) => byUserdevice(a, b));
  }

  /** What a VDI holds for a bootloader (an unknown VDI: a blank disk). */
  contentOf(vdiRef: string): GuestDiskContent {
    return this.vdiContent.get(vdiRef) ?? { menuLst: null, files: [] };
  }

  /** Creates a VDI in `sr` (NULL allowed) with `content`; keeps SR.VDIs in step. */
  createVdi(record: Omit<VdiRecord, "VBDs">, content: GuestDiskContent, ref: string = newRef()): string {
    const e = this.e;
    this.vdiContent.set(ref, structuredClone(content));
    e.vdis.insert(ref, { ...structuredClone(record), VBDs: [] });
    if (e.srs.has(record.SR))
      e.srs.update(record.SR, (sr) => {
        sr.VDIs = [...sr.VDIs, ref];
      });
    return ref;
  }

  /** Creates a VBD; keeps VM.VBDs and VDI.VBDs in step; attached if the VM has a domain. */
  createVbd(record: VbdRecord, ref: string = newRef()): string {
    const e = this.e;
    const vm = e.vm(record.VM);
    const live = vm.power_state === Running || vm.power_state === Paused;
    e.vbds.insert(ref, { ...structuredClone(record), currently_attached: live });
    e.vms.update(record.VM, (v) => {
      v.VBDs = this.vbdsOf(record.VM).map(([r]) => r);
    });
    if (e.vdis.has(record.VDI))
      e.vdis.update(record.VDI, (v) => {
        v.VBDs = [...v.VBDs, ref];
      });
    return ref;
  }

  /** Deletes a VBD and unlinks it from its VM and VDI. */
  destroyVbd(ref: string): void {
    const e = this.e;
    const vbd = e.vbds.get(ref);
    if (!vbd) return;
    e.vbds.remove(ref);
    if (e.vms.has(vbd.VM))
      e.vms.update(vbd.VM, (v) => {
        v.VBDs = v.VBDs.filter((r) => r !== ref);
      });
    if (e.vdis.has(vbd.VDI))
      e.vdis.update(vbd.VDI, (v) => {
        v.VBDs = v.VBDs.filter((r) => r !== ref);
      });
  }

  /** Deletes a VDI, the VBDs that point at it (`ocaml/xapi/xapi_vdi.ml` destroys them at once) and its content. */
  destroyVdi(ref: string): void {
    const e = this.e;
    const vdi = e.vdis.get(ref);
    if (!vdi) return;
    for (const vbd of [...vdi.VBDs]) this.destroyVbd(vbd);
    e.vdis.remove(ref);
    this.vdiContent.delete(ref);
    if (e.srs.has(vdi.SR))
      e.srs.update(vdi.SR, (sr) => {
        sr.VDIs = sr.VDIs.filter((r) => r !== ref);
      });
  }

  /** Recomputes the derived ref lists (VM.VBDs, VDI.VBDs, SR.VDIs) from the VBD and VDI tables. */
  syncLinks(): void {
    const e = this.e;
    for (const [ref, vm] of e.vms.entries()) {
      const vbds = this.vbdsOf(ref).map(([r]) => r);
      if (!sameRefs(vm.VBDs, vbds))
        e.vms.update(ref, (v) => {
          v.VBDs = vbds;
        });
    }
    for (const [ref, vdi] of e.vdis.entries()) {
      const vbds = refsWhere(e.vbds.entries(), (b) => b.VDI === ref);
      if (!sameRefs(vdi.VBDs, vbds))
        e.vdis.update(ref, (v) => {
          v.VBDs = vbds;
        });
    }
    for (const [ref, sr] of e.srs.entries()) {
      const vdis = refsWhere(e.vdis.entries(), (v) => v.SR === ref);
      if (!sameRefs(sr.VDIs, vdis))
        e.srs.update(ref, (x) => {
          x.VDIs = vdis;
        });
    }
  }

  /** The VM's disks as a boot sees them: VBD facts, the VDI's dom0 path and content. */
  bootDisks(vmRef: string): BootDiskInput[] {
    const e = this.e;
    return this.vbdsOf(vmRef).map(([, vbd]) => {
      const vdi = vbd.empty ? undefined : e.vdis.get(vbd.VDI);
      const sr = vdi ? e.srs.get(vdi.SR) : undefined;
      return {
        userdevice: vbd.userdevice,
        device: vbd.device,
        type: vbd.type,
        bootable: vbd.bootable,
        empty: vbd.empty || vdi === undefined,
        vdi: vdi?.uuid ?? null,
        // The block device xenopsd attaches in dom0 and hands to the bootloader (SM's backend path).
        path: vdi ? `/dev/sm/backend/${sr?.uuid ?? "no-sr"}/${vdi.uuid}` : null,
        content: vdi ? this.contentOf(vbd.VDI) : null,
      };
    });
  }

  /** userdevices of the VM's bootable VBDs, sorted numerically. */
  bootableUserdevices(vmRef: string): string[] {
    return this.vbdsOf(vmRef)
      .filter(([, vbd]) => vbd.bootable)
      .map(([, vbd]) => vbd.userdevice);
  }

  /**
   * What a domain build of the VM would boot now, or the XAPI fault that stops it: the field checks
   * (`bootConfigError`), then the disk-dependent outcome (`bootOutcome`); see docs/simulator-behaviour.md,
   * "Booting".
   */
  bootOf(ref: string): BootResult {
    const vm = this.e.vm(ref);
    const error = bootConfigError(vm);
    if (error) return { ok: false, error };
    return bootOutcome(vm, ref, this.bootDisks(ref));
  }
}

/** The refs of the rows that satisfy `pick`, in table order. */
export function refsWhere<T>(rows: readonly [string, T][], pick: (row: T) => boolean): string[] {
  return rows.filter(([, row]) => pick(row)).map(([ref]) => ref);
}
