/**
 * A VM's record as read over XenAPI, and its boot fields as XAPI boots them. Read helpers shared by the
 * executor, the resource and the preview.
 */
import type { XapiConnection } from "../client/connection";
import { DEFAULT_HVM_BOOT_ORDER, DomainType, domainTypeOf, type XapiBootFields } from "./boot";
import type { PowerState, VbdRef, VmRef } from "./vocabulary";

/** The VM record fields the provider reads (wire names); other fields pass through untyped. */
export interface VmRecord extends XapiBootFields {
  readonly uuid: string;
  readonly name_label: string;
  readonly power_state: PowerState;
  readonly [field: string]: unknown;
}

/** One `VM.get_by_uuid` + one `VM.get_record`. @throws XapiError (`UUID_INVALID` when there is no such VM) */
export async function readVm(conn: XapiConnection, uuid: string): Promise<{ ref: VmRef; record: VmRecord }> {
  const ref = await conn.call<VmRef>("VM.get_by_uuid", uuid);
  const record = await conn.call<VmRecord>("VM.get_record", ref);
  return { ref, record };
}

/**
 * The boot fields of a VM record, read as XAPI boots them (docs/xapi-facts.md, "XAPI generations" and
 * "An empty HVM boot order boots "cd""):
 * - a record without `domain_type` (XAPI before API 2.10, XenAPI 1.0) or with "unspecified" gets the
 *   type derived from `HVM_boot_policy` (empty ⇒ PV);
 * - an HVM VM whose `HVM_boot_params.order` is absent or "" boots "cd" (QEMU's default), so it reads "cd".
 */
export function bootFieldsOf(record: XapiBootFields): XapiBootFields {
  const domainType = domainTypeOf(record);
  const params = { ...(record.HVM_boot_params ?? {}) };
  if (domainType === DomainType.hvm && (params.order === undefined || params.order === "")) {
    params.order = DEFAULT_HVM_BOOT_ORDER;
  }
  return {
    domain_type: domainType,
    HVM_boot_policy: record.HVM_boot_policy,
    HVM_boot_params: params,
    PV_bootloader: record.PV_bootloader,
    PV_kernel: record.PV_kernel,
    PV_ramdisk: record.PV_ramdisk,
    PV_args: record.PV_args,
    PV_bootloader_args: record.PV_bootloader_args,
  };
}

/** One of the VM's VBDs: its ref and bootable flag. */
export interface VmDisk {
  ref: VbdRef;
  bootable: boolean;
}

/**
 * One `VBD.get_record` per ref in the record's `VBDs` (the VM's own disks; `VBD.get_all_records` would
 * read every disk of the pool): userdevice → ref and bootable flag.
 */
export async function readVmDisks(conn: XapiConnection, record: VmRecord): Promise<Map<string, VmDisk>> {
  const refs = Array.isArray(record.VBDs) ? (record.VBDs as VbdRef[]) : [];
  const disks = new Map<string, VmDisk>();
  for (const ref of refs) {
    const vbd = await conn.call<{ userdevice: string; bootable: boolean }>("VBD.get_record", ref);
    disks.set(vbd.userdevice, { ref, bootable: vbd.bootable });
  }
  return disks;
}
