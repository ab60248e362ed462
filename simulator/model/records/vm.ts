/** The VM record, in XAPI's wire field names, and its defaults. */
import { NEVER, NULL_REF, type SimDomainType, type SimPowerState } from "../vocabulary";
import type { StringMap } from "./wire";

/** A VM record (every published field that clients read; see docs/simulator-behaviour.md#setters). */
export interface VmRecord {
  uuid: string;
  allowed_operations: string[];
  current_operations: StringMap;
  name_label: string;
  name_description: string;
  power_state: SimPowerState;
  user_version: number;
  is_a_template: boolean;
  is_default_template: boolean;
  suspend_VDI: string;
  resident_on: string;
  scheduled_to_be_resident_on: string;
  affinity: string;
  memory_overhead: number;
  memory_target: number;
  memory_static_max: number;
  memory_dynamic_max: number;
  memory_dynamic_min: number;
  memory_static_min: number;
  VCPUs_params: StringMap;
  VCPUs_max: number;
  VCPUs_at_startup: number;
  actions_after_softreboot: string;
  actions_after_shutdown: string;
  actions_after_reboot: string;
  actions_after_crash: string;
  consoles: string[];
  VIFs: string[];
  VBDs: string[];
  VUSBs: string[];
  crash_dumps: string[];
  VTPMs: string[];
  PV_bootloader: string;
  PV_kernel: string;
  PV_ramdisk: string;
  PV_args: string;
  PV_bootloader_args: string;
  PV_legacy_args: string;
  HVM_boot_policy: string;
  HVM_boot_params: StringMap;
  HVM_shadow_multiplier: number;
  platform: StringMap;
  PCI_bus: string;
  other_config: StringMap;
  domid: number;
  domarch: string;
  last_boot_CPU_flags: StringMap;
  is_control_domain: boolean;
  metrics: string;
  guest_metrics: string;
  last_booted_record: string;
  recommendations: string;
  xenstore_data: StringMap;
  ha_always_run: boolean;
  ha_restart_priority: string;
  is_a_snapshot: boolean;
  snapshot_of: string;
  snapshots: string[];
  snapshot_time: string;
  transportable_snapshot_id: string;
  blobs: StringMap;
  tags: string[];
  blocked_operations: StringMap;
  snapshot_info: StringMap;
  snapshot_metadata: string;
  parent: string;
  children: string[];
  bios_strings: StringMap;
  protection_policy: string;
  is_snapshot_from_vmpp: boolean;
  snapshot_schedule: string;
  is_vmss_snapshot: boolean;
  appliance: string;
  start_delay: number;
  shutdown_delay: number;
  order: number;
  VGPUs: string[];
  attached_PCIs: string[];
  suspend_SR: string;
  version: number;
  generation_id: string;
  hardware_platform_version: number;
  has_vendor_device: boolean;
  requires_reboot: boolean;
  reference_label: string;
  domain_type: SimDomainType;
  NVRAM: StringMap;
  pending_guidances: string[];
  pending_guidances_recommended: string[];
  pending_guidances_full: string[];
  groups: string[];
}

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

/** A VM record with XAPI's defaults for a halted, non-template guest; override what differs. */
export function defaultVmRecord(
  overrides: Partial<VmRecord> & { uuid: string; name_label: string },
): VmRecord {
  return {
    ...vmIdentityDefaults(),
    ...vmResourceDefaults(),
    ...vmDeviceAndBootDefaults(),
    ...vmSnapshotAndPolicyDefaults(),
    ...overrides,
  };
}

/**
 * The fields of a VM record that are runtime-only and never persisted (docs/simulator-behaviour.md#setters:
 * "not persisted").
 */
export const VM_RUNTIME_FIELDS = ["allowed_operations", "current_operations"] as const;

/** Identity, power state and placement. */
function vmIdentityDefaults() {
  return {
    allowed_operations: [],
    current_operations: {},
    name_description: "",
    power_state: "Halted",
    user_version: 1,
    is_a_template: false,
    is_default_template: false,
    suspend_VDI: NULL_REF,
    resident_on: NULL_REF,
    scheduled_to_be_resident_on: NULL_REF,
    affinity: NULL_REF,
  } satisfies Partial<VmRecord>;
}

/** Memory, vCPUs and the after-shutdown/reboot/crash actions. */
function vmResourceDefaults() {
  return {
    memory_overhead: 11 * MiB,
    memory_target: 0,
    memory_static_max: 2 * GiB,
    memory_dynamic_max: 2 * GiB,
    memory_dynamic_min: 2 * GiB,
    memory_static_min: GiB / 2,
    VCPUs_params: {},
    VCPUs_max: 2,
    VCPUs_at_startup: 2,
    actions_after_softreboot: "soft_reboot",
    actions_after_shutdown: "destroy",
    actions_after_reboot: "restart",
    actions_after_crash: "restart",
  } satisfies Partial<VmRecord>;
}

/** Devices, boot fields, platform and runtime links. */
function vmDeviceAndBootDefaults() {
  return {
    consoles: [],
    VIFs: [],
    VBDs: [],
    VUSBs: [],
    crash_dumps: [],
    VTPMs: [],
    PV_bootloader: "",
    PV_kernel: "",
    PV_ramdisk: "",
    PV_args: "",
    PV_bootloader_args: "",
    PV_legacy_args: "",
    HVM_boot_policy: "",
    HVM_boot_params: {},
    HVM_shadow_multiplier: 1,
    platform: {},
    PCI_bus: "",
    other_config: {},
    domid: -1,
    domarch: "",
    last_boot_CPU_flags: {},
    is_control_domain: false,
    metrics: NULL_REF,
    guest_metrics: NULL_REF,
    last_booted_record: "",
    recommendations: "",
    xenstore_data: {},
    ha_always_run: false,
    ha_restart_priority: "",
  } satisfies Partial<VmRecord>;
}

/** Snapshots, protection, ordering, hardware and guidance fields. */
function vmSnapshotAndPolicyDefaults() {
  return {
    is_a_snapshot: false,
    snapshot_of: NULL_REF,
    snapshots: [],
    snapshot_time: NEVER,
    transportable_snapshot_id: "",
    blobs: {},
    tags: [],
    blocked_operations: {},
    snapshot_info: {},
    snapshot_metadata: "",
    parent: NULL_REF,
    children: [],
    bios_strings: {},
    protection_policy: NULL_REF,
    is_snapshot_from_vmpp: false,
    snapshot_schedule: NULL_REF,
    is_vmss_snapshot: false,
    appliance: NULL_REF,
    start_delay: 0,
    shutdown_delay: 0,
    order: 0,
    VGPUs: [],
    attached_PCIs: [],
    suspend_SR: NULL_REF,
    version: 0,
    generation_id: "",
    hardware_platform_version: 0,
    has_vendor_device: false,
    requires_reboot: false,
    reference_label: "",
    domain_type: "unspecified",
    NVRAM: {},
    pending_guidances: [],
    pending_guidances_recommended: [],
    pending_guidances_full: [],
    groups: [],
  } satisfies Partial<VmRecord>;
}
