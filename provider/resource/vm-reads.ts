/** The reads of a VM the operations share: by uuid, its record, its disks, and fields read leniently. */
import { isXapiError, type XapiConnection, XapiErrorCode } from "../client";
import type { VmRecord } from "../executor";
import type { ObservedDisk } from "../model/boot";
import { NULL_REF } from "../model/vocabulary";
import { ProviderError, ProviderErrorCode } from "./errors";
import { existingSnapshot } from "./snapshot";

/** A VM as the operations address it: its ref for calls, its uuid for the resource id and messages. */
export interface VmHandle {
  readonly ref: string;
  readonly uuid: string;
}

/** The VM with this uuid. @throws ProviderError VM_NOT_FOUND */
export async function findVm(conn: XapiConnection, uuid: string): Promise<VmHandle> {
  try {
    return { ref: await conn.call<string>("VM.get_by_uuid", uuid), uuid };
  } catch (error) {
    if (isXapiError(error, XapiErrorCode.UUID_INVALID)) {
      throw new ProviderError(
        ProviderErrorCode.VM_NOT_FOUND,
        `VM ${uuid} not found: expected an existing VM, XAPI answered UUID_INVALID. ` +
          "Check the uuid with `xe vm-list`, or run `pulumi refresh` if it was deleted outside Pulumi.",
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * The VM with this uuid and its record, read live: one `VM.get_record`, and `VM.get_by_uuid` only when the
 * pool snapshot of this process does not already know the VM's ref (a ref never changes over a VM's life;
 * a VM destroyed since answers HANDLE_INVALID, and is then looked up by uuid).
 * @throws ProviderError VM_NOT_FOUND
 */
export async function liveVm(
  conn: XapiConnection,
  uuid: string,
): Promise<{ vm: VmHandle; record: VmRecord }> {
  const known = existingSnapshot(conn)?.knownRef(uuid);
  if (known !== undefined) {
    try {
      const record = await recordOf(conn, known);
      if (record.uuid === uuid) return { vm: { ref: known, uuid }, record };
    } catch (error) {
      if (!isXapiError(error, XapiErrorCode.HANDLE_INVALID)) throw error;
    }
  }
  const vm = await findVm(conn, uuid);
  return { vm, record: await recordOf(conn, vm.ref) };
}

/** `VM.get_record`. */
export function recordOf(conn: XapiConnection, ref: string): Promise<VmRecord> {
  return conn.call<VmRecord>("VM.get_record", ref);
}

/** The VM's VBDs: one `VBD.get_record` per ref in the record's `VBDs`. */
export async function readDisks(conn: XapiConnection, record: VmRecord): Promise<ObservedDisk[]> {
  const refs = Array.isArray(record.VBDs) ? (record.VBDs as string[]) : [];
  const disks: ObservedDisk[] = [];
  for (const ref of refs) {
    const vbd = await conn.call<{ userdevice: string; bootable: boolean }>("VBD.get_record", ref);
    disks.push({ userdevice: vbd.userdevice, bootable: vbd.bootable });
  }
  return disks;
}

/** The VDIs behind the VM's disk VBDs (not CD drives), destroyed with a VM this provider created. */
export async function provisionedDisks(
  conn: XapiConnection,
  record: VmRecord,
): Promise<{ vdi: string; userdevice: string }[]> {
  const vbds = Array.isArray(record.VBDs) ? (record.VBDs as string[]) : [];
  const disks: { vdi: string; userdevice: string }[] = [];
  for (const vbd of vbds) {
    const r = await conn.call<{ type?: string; VDI?: string; userdevice?: string }>("VBD.get_record", vbd);
    if (r.type === "Disk" && r.VDI !== undefined && r.VDI !== NULL_REF) {
      disks.push({ vdi: r.VDI, userdevice: String(r.userdevice ?? "") });
    }
  }
  return disks;
}

/** `VM.domid`, or -1 when the VM has no domain. */
export function domidOf(record: VmRecord): number {
  const domid = Number(record.domid);
  return Number.isFinite(domid) ? domid : -1;
}

/** A string field of the record, `""` when absent. */
export function stringField(record: VmRecord, key: string): string {
  const v = record[key];
  return typeof v === "string" ? v : "";
}
