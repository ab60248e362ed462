/**
 * Storage objects: VDIs (with what each holds for a bootloader), VBDs, and the reference lists XAPI
 * keeps in step with them (VM.VBDs, VDI.VBDs, SR.VDIs); the disks a domain build sees.
 */

import { type BootDiskInput, type BootResult, bootConfigError, bootOutcome, byUserdevice } from "../boot";
import type { Table } from "../db";
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
    linkRef(e.srs, record.SR, "VDIs", ref);
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
    linkRef(e.vdis, record.VDI, "VBDs", ref);
    return ref;
  }

  /** Deletes a VBD and unlinks it from its VM and VDI. */
  destroyVbd(ref: string): void {
    const e = this.e;
    const vbd = e.vbds.get(ref);
    if (!vbd) return;
    e.vbds.remove(ref);
    unlinkRef(e.vms, vbd.VM, "VBDs", ref);
    unlinkRef(e.vdis, vbd.VDI, "VBDs", ref);
  }

  /**
   * Deletes a VDI, the VBDs that point at it (`ocaml/xapi/xapi_vdi.ml` destroys them at once) and its
   * content.
   */
  destroyVdi(ref: string): void {
    const e = this.e;
    const vdi = e.vdis.get(ref);
    if (!vdi) return;
    for (const vbd of [...vdi.VBDs]) this.destroyVbd(vbd);
    e.vdis.remove(ref);
    this.vdiContent.delete(ref);
    unlinkRef(e.srs, vdi.SR, "VDIs", ref);
  }

  /** Recomputes the derived ref lists (VM.VBDs, VDI.VBDs, SR.VDIs) from the VBD and VDI tables. */
  syncLinks(): void {
    const e = this.e;
    for (const vm of e.vms.rows.keys()) syncRefs(e.vms, vm, "VBDs", refsOf(this.vbdsOf(vm)));
    syncChildren(e.vdis, "VBDs", e.vbds, (vbd, vdi) => vbd.VDI === vdi);
    syncChildren(e.srs, "VDIs", e.vdis, (vdi, sr) => vdi.SR === sr);
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

/** Sets a derived reference list, `row[field]`, to `refs` when it differs (no event otherwise). */
export function syncRefs<T>(table: Table<T>, ref: string, field: keyof T, refs: string[]): void {
  const current = table.get(ref)?.[field] as readonly string[] | undefined;
  if (current === undefined || sameRefs(current, refs)) return;
  table.update(ref, (row) => {
    (row as Record<keyof T, unknown>)[field] = refs;
  });
}

/** The refs of `[ref, record]` rows. */
export function refsOf(rows: readonly [string, unknown][]): string[] {
  return rows.map(([ref]) => ref);
}

/**
 * Sets every parent's reference list `field` to its children (the `children` rows that belong to it), in
 * table order.
 */
export function syncChildren<P, C>(
  parents: Table<P>,
  field: keyof P,
  children: Table<C>,
  belongs: (child: C, parent: string) => boolean,
): void {
  for (const parent of parents.rows.keys())
    syncRefs(
      parents,
      parent,
      field,
      refsWhere(children.entries(), (child) => belongs(child, parent)),
    );
}

/** Appends `ref` to the reference list `field` of row `parent`, when that row exists. */
export function linkRef<T>(table: Table<T>, parent: string, field: keyof T, ref: string): void {
  if (!table.has(parent)) return;
  table.update(parent, (row) => {
    const refs = row as Record<keyof T, string[]>;
    refs[field] = [...refs[field], ref];
  });
}

/** Removes `ref` from the reference list `field` of row `parent`, when that row exists. */
export function unlinkRef<T>(table: Table<T>, parent: string, field: keyof T, ref: string): void {
  if (!table.has(parent)) return;
  table.update(parent, (row) => {
    const refs = row as Record<keyof T, string[]>;
    refs[field] = refs[field].filter((r) => r !== ref);
  });
}

/** The refs of the rows that satisfy `pick`, in table order. */
export function refsWhere<T>(rows: readonly [string, T][], pick: (row: T) => boolean): string[] {
  return rows.filter(([, row]) => pick(row)).map(([ref]) => ref);
}
