/** The VBD, VDI and SR records, in XAPI's wire field names, and their defaults. */
import { NEVER, NULL_REF } from "../vocabulary";
import { deviceName } from "./userdevice";
import type { StringMap } from "./wire";

const GiB = 1024 * 1024 * 1024;

/**
 * `vbd_type` (docs/simulator-behaviour.md#booting reads `type` and `empty` to pick the disks a bootloader
 * gets).
 */
export const VbdType = { CD: "CD", Disk: "Disk", Floppy: "Floppy" } as const;
export type VbdType = (typeof VbdType)[keyof typeof VbdType];

/** `vbd_mode`. */
export const VbdMode = { RO: "RO", RW: "RW" } as const;
export type VbdMode = (typeof VbdMode)[keyof typeof VbdMode];

/**
 * A VBD record: the attachment of a VDI (or an empty CD drive) to a VM at a `userdevice` slot.
 * `bootable` is what the seed's "a disk is bootable if its VBD has the bootable flag set" reads.
 */
export interface VbdRecord {
  uuid: string;
  allowed_operations: string[];
  current_operations: StringMap;
  VM: string;
  VDI: string;
  /** Device name in the guest while attached: "xvda" for userdevice "0", "xvdd" for "3". */
  device: string;
  /** The slot: a decimal string ("0", "1", "3") or a device name ("xvda"; see `userdeviceNumber`). */
  userdevice: string;
  bootable: boolean;
  mode: VbdMode;
  type: VbdType;
  unpluggable: boolean;
  storage_lock: boolean;
  /** A CD drive with no disc in it (`VDI` is NULL). */
  empty: boolean;
  other_config: StringMap;
  /** True while the VM has a domain (Running or Paused). */
  currently_attached: boolean;
  status_code: number;
  status_detail: string;
  runtime_properties: StringMap;
  qos_algorithm_type: string;
  qos_algorithm_params: StringMap;
  qos_supported_algorithms: string[];
  metrics: string;
}

/** A VDI record (a virtual disk image). */
export interface VdiRecord {
  uuid: string;
  name_label: string;
  name_description: string;
  allowed_operations: string[];
  current_operations: StringMap;
  SR: string;
  VBDs: string[];
  crash_dumps: string[];
  virtual_size: number;
  physical_utilisation: number;
  /** `vdi_type`: "system", "user", "suspend", … */
  type: string;
  sharable: boolean;
  read_only: boolean;
  other_config: StringMap;
  storage_lock: boolean;
  location: string;
  managed: boolean;
  missing: boolean;
  parent: string;
  xenstore_data: StringMap;
  sm_config: StringMap;
  is_a_snapshot: boolean;
  snapshot_of: string;
  snapshots: string[];
  snapshot_time: string;
  tags: string[];
  allow_caching: boolean;
  on_boot: string;
  metadata_of_pool: string;
  metadata_latest: boolean;
  is_tools_iso: boolean;
  cbt_enabled: boolean;
}

/** An SR record (a storage repository). */
export interface SrRecord {
  uuid: string;
  name_label: string;
  name_description: string;
  allowed_operations: string[];
  current_operations: StringMap;
  VDIs: string[];
  PBDs: string[];
  virtual_allocation: number;
  physical_utilisation: number;
  physical_size: number;
  type: string;
  content_type: string;
  shared: boolean;
  other_config: StringMap;
  tags: string[];
  sm_config: StringMap;
  blobs: StringMap;
  local_cache_enabled: boolean;
  introduced_by: string;
  clustered: boolean;
  is_tools_sr: boolean;
}

/** A VBD record with XAPI's defaults; override what differs. */
export function defaultVbdRecord(
  o: Partial<VbdRecord> & { uuid: string; VM: string; userdevice: string },
): VbdRecord {
  return {
    allowed_operations: [],
    current_operations: {},
    VDI: NULL_REF,
    device: deviceName(o.userdevice),
    bootable: false,
    mode: "RW",
    type: "Disk",
    unpluggable: false,
    storage_lock: false,
    empty: false,
    other_config: {},
    currently_attached: false,
    status_code: 0,
    status_detail: "",
    runtime_properties: {},
    qos_algorithm_type: "",
    qos_algorithm_params: {},
    qos_supported_algorithms: [],
    metrics: NULL_REF,
    ...o,
  };
}

/** A VDI record with XAPI's defaults; override what differs. */
export function defaultVdiRecord(o: Partial<VdiRecord> & { uuid: string; name_label: string }): VdiRecord {
  return {
    name_description: "",
    allowed_operations: ["clone", "destroy", "resize", "copy", "snapshot"],
    current_operations: {},
    SR: NULL_REF,
    VBDs: [],
    crash_dumps: [],
    virtual_size: 10 * GiB,
    physical_utilisation: 0,
    type: "user",
    sharable: false,
    read_only: false,
    other_config: {},
    storage_lock: false,
    location: o.uuid,
    managed: true,
    missing: false,
    parent: NULL_REF,
    xenstore_data: {},
    sm_config: {},
    is_a_snapshot: false,
    snapshot_of: NULL_REF,
    snapshots: [],
    snapshot_time: NEVER,
    tags: [],
    allow_caching: false,
    on_boot: "persist",
    metadata_of_pool: NULL_REF,
    metadata_latest: false,
    is_tools_iso: false,
    cbt_enabled: false,
    ...o,
  };
}

/** An SR record with XAPI's defaults; override what differs. */
export function defaultSrRecord(o: Partial<SrRecord> & { uuid: string; name_label: string }): SrRecord {
  return {
    name_description: "",
    allowed_operations: ["vdi_create", "vdi_destroy", "vdi_clone", "vdi_snapshot", "scan"],
    current_operations: {},
    VDIs: [],
    PBDs: [],
    virtual_allocation: 0,
    physical_utilisation: 0,
    physical_size: 500 * GiB,
    type: "ext",
    content_type: "user",
    shared: false,
    other_config: {},
    tags: [],
    sm_config: {},
    blobs: {},
    local_cache_enabled: false,
    introduced_by: NULL_REF,
    clustered: false,
    is_tools_sr: false,
    ...o,
  };
}
