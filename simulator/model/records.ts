/**
 * Record shapes of the classes xapi-sim serves, in XAPI's wire field names (xapi-semantics §7.2,
 * §8.5, §8.6), their defaults, and their conversion to typed wire values.
 *
 * Records are stored as plain JSON values (ints and floats are JS numbers, datetimes are
 * `YYYYMMDDTHH:MM:SSZ` strings); {@link toWire} tags the float and datetime fields on the way out.
 */
import { randomUUID } from "node:crypto";
import { XDateTime, XFloat, type XValue } from "../api";
import { POOL_CLASS_FIELDS } from "./pool-records";
import { NEVER, NULL_REF, type SimDomainType, type SimPowerState } from "./vocabulary";

export type StringMap = Record<string, string>;

/** A VM record (every published field that clients read; see xapi-semantics §7.2). */
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

export interface PoolRecord {
  uuid: string;
  name_label: string;
  name_description: string;
  master: string;
  default_SR: string;
  suspend_image_SR: string;
  crash_dump_SR: string;
  other_config: StringMap;
  ha_enabled: boolean;
  ha_configuration: StringMap;
  ha_statefiles: string[];
  ha_host_failures_to_tolerate: number;
  ha_plan_exists_for: number;
  ha_allow_overcommit: boolean;
  ha_overcommitted: boolean;
  blobs: StringMap;
  tags: string[];
  gui_config: StringMap;
  health_check_config: StringMap;
  wlb_url: string;
  wlb_username: string;
  wlb_enabled: boolean;
  wlb_verify_cert: boolean;
  redo_log_enabled: boolean;
  redo_log_vdi: string;
  vswitch_controller: string;
  restrictions: StringMap;
  metadata_VDIs: string[];
  allowed_operations: string[];
  current_operations: StringMap;
  cpu_info: StringMap;
  policy_no_vendor_device: boolean;
  live_patching_disabled: boolean;
  igmp_snooping_enabled: boolean;
  uefi_certificates: string;
  is_psr_pending: boolean;
  tls_verification_enabled: boolean;
  repositories: string[];
  client_certificate_auth_enabled: boolean;
  client_certificate_auth_name: string;
  repository_proxy_url: string;
  repository_proxy_username: string;
  repository_proxy_password: string;
  migration_compression: boolean;
  coordinator_bias: boolean;
}

export interface HostRecord {
  uuid: string;
  name_label: string;
  name_description: string;
  memory_overhead: number;
  allowed_operations: string[];
  current_operations: StringMap;
  API_version_major: number;
  API_version_minor: number;
  API_version_vendor: string;
  API_version_vendor_implementation: StringMap;
  enabled: boolean;
  software_version: StringMap;
  other_config: StringMap;
  capabilities: string[];
  cpu_configuration: StringMap;
  sched_policy: string;
  supported_bootloaders: string[];
  resident_VMs: string[];
  logging: StringMap;
  PIFs: string[];
  suspend_image_sr: string;
  crash_dump_sr: string;
  crashdumps: string[];
  patches: string[];
  updates: string[];
  PBDs: string[];
  host_CPUs: string[];
  cpu_info: StringMap;
  hostname: string;
  address: string;
  metrics: string;
  license_params: StringMap;
  ha_statefiles: string[];
  ha_network_peers: string[];
  blobs: StringMap;
  tags: string[];
  external_auth_type: string;
  external_auth_service_name: string;
  external_auth_configuration: StringMap;
  edition: string;
  license_server: StringMap;
  bios_strings: StringMap;
  power_on_mode: string;
  power_on_config: StringMap;
  local_cache_sr: string;
  chipset_info: StringMap;
  PCIs: string[];
  PGPUs: string[];
  PUSBs: string[];
  ssl_legacy: boolean;
  guest_VCPUs_params: StringMap;
  display: string;
  virtual_hardware_platform_versions: number[];
  control_domain: string;
  updates_requiring_reboot: string[];
  features: string[];
  iscsi_iqn: string;
  multipathing: boolean;
  uefi_certificates: string;
  certificates: string[];
  editions: string[];
  tls_verification_enabled: boolean;
  last_software_update: string;
  https_only: boolean;
}

export interface SessionRecord {
  uuid: string;
  this_host: string;
  this_user: string;
  last_active: string;
  pool: boolean;
  other_config: StringMap;
  is_local_superuser: boolean;
  subject: string;
  validation_time: string;
  auth_user_sid: string;
  auth_user_name: string;
  rbac_permissions: string[];
  tasks: string[];
  parent: string;
  originator: string;
  client_certificate: boolean;
}

export interface TaskRecord {
  uuid: string;
  name_label: string;
  name_description: string;
  allowed_operations: string[];
  current_operations: StringMap;
  created: string;
  finished: string;
  status: string;
  resident_on: string;
  progress: number;
  type: string;
  result: string;
  error_info: string[];
  other_config: StringMap;
  subtask_of: string;
  subtasks: string[];
  backtrace: string;
}

/** `vbd_type` (xapi-semantics §7.4 reads `type` and `empty` to pick the disks a bootloader gets). */
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

/**
 * The metrics of a VM (XAPI class `VM_metrics`, datamodel_vm_metrics in ocaml/idl/datamodel.ml). Every VM
 * has one (VM.create, VM.clone and dbsync at start create it); the domain fields are written when a
 * domain is built (xapi_xenops.ml `update_vm`).
 */
export interface VmMetricsRecord {
  uuid: string;
  memory_actual: number;
  VCPUs_number: number;
  /** Removed in tampa (MESSAGE_REMOVED for its getter) but still in the record: `{"0": 0.}` from VM.create. */
  VCPUs_utilisation: Record<string, number>;
  VCPUs_CPU: Record<string, number>;
  VCPUs_params: StringMap;
  VCPUs_flags: Record<string, string[]>;
  state: string[];
  start_time: string;
  install_time: string;
  last_updated: string;
  other_config: StringMap;
  hvm: boolean;
  nested_virt: boolean;
  nomigrate: boolean;
  /** The type of the domain that runs (kept while Suspended); `unspecified` when Halted. */
  current_domain_type: string;
}

/**
 * What the guest agent reports (XAPI class `VM_guest_metrics`; xapi_guest_agent.ml
 * `create_and_set_guest_metrics`). `memory` and `disks` were removed from the API (george, orlando)
 * but stay in the record, always empty.
 */
export interface GuestMetricsRecord {
  uuid: string;
  os_version: StringMap;
  PV_drivers_version: StringMap;
  PV_drivers_up_to_date: boolean;
  memory: StringMap;
  disks: StringMap;
  networks: StringMap;
  other: StringMap;
  last_updated: string;
  other_config: StringMap;
  live: boolean;
  /** `tristate_type`: "yes", "no" or "unspecified". */
  can_use_hotplug_vbd: string;
  can_use_hotplug_vif: string;
  PV_drivers_detected: boolean;
}

/** A virtual network interface (XAPI class `VIF`). */
export interface VifRecord {
  uuid: string;
  allowed_operations: string[];
  current_operations: StringMap;
  /** The slot in the guest, a decimal string ("0" = the guest's first NIC). */
  device: string;
  network: string;
  VM: string;
  MAC: string;
  MTU: number;
  other_config: StringMap;
  /** True while the VM has a domain. */
  currently_attached: boolean;
  status_code: number;
  status_detail: string;
  runtime_properties: StringMap;
  qos_algorithm_type: string;
  qos_algorithm_params: StringMap;
  qos_supported_algorithms: string[];
  /** Removed in tampa; always NULL. */
  metrics: string;
  MAC_autogenerated: boolean;
  locking_mode: string;
  ipv4_allowed: string[];
  ipv6_allowed: string[];
  ipv4_configuration_mode: string;
  ipv4_addresses: string[];
  ipv4_gateway: string;
  ipv6_configuration_mode: string;
  ipv6_addresses: string[];
  ipv6_gateway: string;
}

/** A virtual network (XAPI class `network`). */
export interface NetworkRecord {
  uuid: string;
  name_label: string;
  name_description: string;
  allowed_operations: string[];
  current_operations: StringMap;
  VIFs: string[];
  PIFs: string[];
  MTU: number;
  other_config: StringMap;
  bridge: string;
  managed: boolean;
  blobs: StringMap;
  tags: string[];
  default_locking_mode: string;
  assigned_ips: StringMap;
  purpose: string[];
}

/** How a class's fields go on the wire beyond the JSON kinds: floats, datetimes, maps of floats. */
interface WireTypes {
  readonly floats: readonly string[];
  readonly dates: readonly string[];
  readonly floatMaps?: readonly string[];
}

/** Which fields of each class go on the wire as floats and datetimes. */
export const WIRE_TYPES: Record<string, WireTypes> = {
  VM: { floats: ["HVM_shadow_multiplier"], dates: ["snapshot_time"] },
  pool: { floats: [], dates: [] },
  host: { floats: [], dates: ["last_software_update"] },
  session: { floats: [], dates: ["last_active", "validation_time"] },
  task: { floats: ["progress"], dates: ["created", "finished"] },
  VBD: { floats: [], dates: [] },
  VDI: { floats: [], dates: ["snapshot_time"] },
  SR: { floats: [], dates: [] },
  VM_metrics: {
    floats: [],
    dates: ["start_time", "install_time", "last_updated"],
    floatMaps: ["VCPUs_utilisation"],
  },
  VM_guest_metrics: { floats: [], dates: ["last_updated"] },
  VIF: { floats: [], dates: [] },
  network: { floats: [], dates: [] },
  host_metrics: { floats: [], dates: ["last_updated"] },
  PIF: { floats: [], dates: [] },
  PIF_metrics: { floats: ["io_read_kbs", "io_write_kbs"], dates: ["last_updated"] },
  PBD: { floats: [], dates: [] },
  message: { floats: [], dates: ["timestamp"] },
};

/**
 * A record as typed wire values: floats become XFloat, datetimes XDateTime, maps and sets are copied.
 * With `fields`, only those fields go out (the class's published fields a profile serves); a record's
 * other keys (an unknown field kept from a state file) stay in the database only.
 */
export function toWire(cls: string, record: object, fields?: readonly string[]): { [key: string]: XValue } {
  const out: { [key: string]: XValue } = {};
  const source = record as Record<string, unknown>;
  for (const key of fields ?? Object.keys(record)) {
    if (!Object.hasOwn(source, key)) continue;
    out[key] = fieldToWire(cls, key, source[key]);
  }
  return out;
}

/** One field as a typed wire value (for `get_<field>`). */
export function fieldToWire(cls: string, field: string, value: unknown): XValue {
  const types = WIRE_TYPES[cls] ?? { floats: [], dates: [] };
  if (types.floats.includes(field)) return new XFloat(Number(value));
  if (types.dates.includes(field)) return new XDateTime(String(value));
  if (types.floatMaps?.includes(field) && value !== null && typeof value === "object") {
    const out: { [key: string]: XValue } = {};
    for (const [k, v] of Object.entries(value)) out[k] = new XFloat(Number(v));
    return out;
  }
  return copyValue(value);
}

function copyValue(value: unknown): XValue {
  if (Array.isArray(value)) return value.map(copyValue);
  if (value !== null && typeof value === "object") {
    const out: { [key: string]: XValue } = {};
    for (const [k, v] of Object.entries(value)) out[k] = copyValue(v);
    return out;
  }
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  return null;
}

/** A fresh `OpaqueRef:<uuid>` (xapi-semantics §8.9). */
export function newRef(): string {
  return `OpaqueRef:${randomUUID()}`;
}

export function newUuid(): string {
  return randomUUID();
}

/** XAPI's datetime wire format, `YYYYMMDDTHH:MM:SSZ` (xapi-semantics §8.2). */
export function xapiDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(
    d.getUTCMinutes(),
  )}:${p(d.getUTCSeconds())}Z`;
}

export { NEVER };

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

/** A VM record with XAPI's defaults for a halted, non-template guest; override what differs. */
export function defaultVmRecord(
  overrides: Partial<VmRecord> & { uuid: string; name_label: string },
): VmRecord {
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
    ...overrides,
  };
}

/** The fields of a VM record that are runtime-only and never persisted (xapi-semantics §7.2: "not persisted"). */
export const VM_RUNTIME_FIELDS = ["allowed_operations", "current_operations"] as const;

/** A host record for the simulated XCP-ng 8.3 pool. */
export function defaultHostRecord(o: {
  uuid: string;
  name_label: string;
  address: string;
  hostname: string;
  controlDomain: string;
}): HostRecord {
  return {
    uuid: o.uuid,
    name_label: o.name_label,
    name_description: "Default install",
    memory_overhead: 0,
    allowed_operations: ["vm_start", "vm_resume", "provision", "evacuate", "vm_migrate"],
    current_operations: {},
    API_version_major: 2,
    API_version_minor: 21,
    API_version_vendor: "XenSource",
    API_version_vendor_implementation: {},
    enabled: true,
    software_version: {
      product_version: "8.3.0",
      product_version_text: "8.3",
      product_version_text_short: "8.3",
      platform_name: "XCP",
      platform_version: "3.4.0",
      product_brand: "XCP-ng",
      build_number: "cloud",
      git_id: "0",
      hostname: o.hostname,
      date: "2024-10-01",
      dbv: "2024.0926",
      is_preview_release: "false",
      xapi: "24.19",
      xapi_build: "24.19.2",
      xen: "4.17.5-3",
      linux: "4.19.0+1",
      xencenter_min: "2.21",
      xencenter_max: "2.21",
      network_backend: "openvswitch",
      db_schema: "5.781",
    },
    other_config: { agent_start_time: "1700000000.", boot_time: "1700000000." },
    capabilities: ["xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64"],
    cpu_configuration: {},
    sched_policy: "credit",
    supported_bootloaders: ["pygrub", "eliloader"],
    resident_VMs: [],
    logging: {},
    PIFs: [],
    suspend_image_sr: NULL_REF,
    crash_dump_sr: NULL_REF,
    crashdumps: [],
    patches: [],
    updates: [],
    PBDs: [],
    host_CPUs: [],
    cpu_info: { cpu_count: "8", socket_count: "1", vendor: "GenuineIntel", speed: "2400.000" },
    hostname: o.hostname,
    address: o.address,
    metrics: NULL_REF,
    license_params: {},
    ha_statefiles: [],
    ha_network_peers: [],
    blobs: {},
    tags: [],
    external_auth_type: "",
    external_auth_service_name: "",
    external_auth_configuration: {},
    edition: "xcp-ng",
    license_server: { address: "localhost", port: "27000" },
    bios_strings: {},
    power_on_mode: "",
    power_on_config: {},
    local_cache_sr: NULL_REF,
    chipset_info: { iommu: "true" },
    PCIs: [],
    PGPUs: [],
    PUSBs: [],
    ssl_legacy: false,
    guest_VCPUs_params: {},
    display: "enabled",
    virtual_hardware_platform_versions: [0, 1, 2],
    control_domain: o.controlDomain,
    updates_requiring_reboot: [],
    features: [],
    iscsi_iqn: "",
    multipathing: false,
    uefi_certificates: "",
    certificates: [],
    editions: ["xcp-ng"],
    tls_verification_enabled: true,
    last_software_update: NEVER,
    https_only: false,
  };
}

export function defaultPoolRecord(o: { uuid: string; master: string }): PoolRecord {
  return {
    uuid: o.uuid,
    name_label: "xapi-sim",
    name_description: "A simulated two-host XCP-ng pool",
    master: o.master,
    default_SR: NULL_REF,
    suspend_image_SR: NULL_REF,
    crash_dump_SR: NULL_REF,
    other_config: {},
    ha_enabled: false,
    ha_configuration: {},
    ha_statefiles: [],
    ha_host_failures_to_tolerate: 0,
    ha_plan_exists_for: 0,
    ha_allow_overcommit: false,
    ha_overcommitted: false,
    blobs: {},
    tags: [],
    gui_config: {},
    health_check_config: {},
    wlb_url: "",
    wlb_username: "",
    wlb_enabled: false,
    wlb_verify_cert: false,
    redo_log_enabled: false,
    redo_log_vdi: NULL_REF,
    vswitch_controller: "",
    restrictions: {},
    metadata_VDIs: [],
    allowed_operations: [],
    current_operations: {},
    cpu_info: { cpu_count: "16", socket_count: "2", vendor: "GenuineIntel" },
    policy_no_vendor_device: false,
    live_patching_disabled: false,
    igmp_snooping_enabled: false,
    uefi_certificates: "",
    is_psr_pending: false,
    tls_verification_enabled: true,
    repositories: [],
    client_certificate_auth_enabled: false,
    client_certificate_auth_name: "",
    repository_proxy_url: "",
    repository_proxy_username: "",
    repository_proxy_password: NULL_REF,
    migration_compression: false,
    coordinator_bias: true,
  };
}

/** A linux device suffix read as XAPI does: base 26 from 1 ("a" → 0, "z" → 25, "aa" → 26). */
function base26(letters: string): number {
  let n = 0;
  for (const c of letters) n = n * 26 + (c.charCodeAt(0) - 96);
  return n - 1;
}

/**
 * The disk number of a VBD's `userdevice`, as XAPI reads it (`Device_number.of_string`,
 * ocaml/xapi-idl/xen/device_number.ml): a decimal disk number ("0", "3"), or a device name — `xvd<x>`
 * (Xen, disks up to 2^20 − 1), `sd<x>` (SCSI, ≤ 15), `fd<x>` (floppy, ≤ 2), `hd<x>` (IDE, ≤ 19), each
 * with an optional partition number, or `d<n>[p<m>]` (Xen). Real hosts store names: a XenServer 6.1 VBD
 * has userdevice "xvda". `undefined` for anything else.
 */
export function userdeviceNumber(userdevice: string): number | undefined {
  if (/^\d+$/.test(userdevice)) return Number(userdevice);
  const named = /^(xvd|sd|fd|hd)([a-z]+)(\d*)$/.exec(userdevice);
  if (named) {
    const disk = base26(named[2] ?? "");
    const max = { xvd: 2 ** 20 - 1, sd: 15, fd: 2, hd: 19 }[named[1] as "xvd" | "sd" | "fd" | "hd"];
    return disk <= max ? disk : undefined;
  }
  const numbered = /^d(\d+)(?:p\d+)?$/.exec(userdevice);
  return numbered ? Number(numbered[1]) : undefined;
}

/** The guest device name of a userdevice slot: "0" → "xvda", "3" → "xvdd" (XAPI's PV naming); a name is itself. */
export function deviceName(userdevice: string): string {
  if (!/^\d+$/.test(userdevice)) return userdeviceNumber(userdevice) === undefined ? "" : userdevice;
  const n = Number(userdevice);
  if (!Number.isInteger(n) || n < 0) return "";
  let name = "";
  let i = n;
  do {
    name = String.fromCharCode(97 + (i % 26)) + name;
    i = Math.floor(i / 26) - 1;
  } while (i >= 0);
  return `xvd${name}`;
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

/** A VM_metrics record as VM.create makes it (xapi_vm.ml `create`): nothing measured yet. */
export function defaultVmMetricsRecord(o: Partial<VmMetricsRecord> & { uuid: string }): VmMetricsRecord {
  return {
    memory_actual: 0,
    VCPUs_number: 0,
    VCPUs_utilisation: { "0": 0 },
    VCPUs_CPU: {},
    VCPUs_params: {},
    VCPUs_flags: {},
    state: [],
    start_time: NEVER,
    install_time: NEVER,
    last_updated: NEVER,
    other_config: {},
    hvm: false,
    nested_virt: false,
    nomigrate: false,
    current_domain_type: "unspecified",
    ...o,
  };
}

/** A VM_guest_metrics record with the guest agent's defaults (xapi_guest_agent.ml); override what it reports. */
export function defaultGuestMetricsRecord(
  o: Partial<GuestMetricsRecord> & { uuid: string },
): GuestMetricsRecord {
  return {
    os_version: {},
    PV_drivers_version: {},
    PV_drivers_up_to_date: false,
    memory: {},
    disks: {},
    networks: {},
    other: {},
    last_updated: NEVER,
    other_config: {},
    live: true,
    can_use_hotplug_vbd: "unspecified",
    can_use_hotplug_vif: "unspecified",
    PV_drivers_detected: false,
    ...o,
  };
}

/** A VIF record with XAPI's defaults (VIF.create, xapi_vif.ml); override what differs. */
export function defaultVifRecord(
  o: Partial<VifRecord> & { uuid: string; VM: string; network: string; device: string; MAC: string },
): VifRecord {
  return {
    allowed_operations: [],
    current_operations: {},
    MTU: 1500,
    other_config: {},
    currently_attached: false,
    status_code: 0,
    status_detail: "",
    runtime_properties: {},
    qos_algorithm_type: "",
    qos_algorithm_params: {},
    qos_supported_algorithms: [],
    metrics: NULL_REF,
    MAC_autogenerated: true,
    locking_mode: "network_default",
    ipv4_allowed: [],
    ipv6_allowed: [],
    ipv4_configuration_mode: "None",
    ipv4_addresses: [],
    ipv4_gateway: "",
    ipv6_configuration_mode: "None",
    ipv6_addresses: [],
    ipv6_gateway: "",
    ...o,
  };
}

/** A network record with XAPI's defaults (network.create); override what differs. */
export function defaultNetworkRecord(
  o: Partial<NetworkRecord> & { uuid: string; name_label: string },
): NetworkRecord {
  return {
    name_description: "",
    allowed_operations: [],
    current_operations: {},
    VIFs: [],
    PIFs: [],
    MTU: 1500,
    other_config: {},
    bridge: "",
    managed: true,
    blobs: {},
    tags: [],
    default_locking_mode: "unlocked",
    assigned_ips: {},
    purpose: [],
    ...o,
  };
}

/**
 * The published fields of every class xapi-sim serves, in XAPI's record order: the keys of each
 * class's default record. A profile serves a subset (see `profiles.ts`).
 */
export const CLASS_FIELDS: Readonly<Record<string, readonly string[]>> = {
  session: [
    "uuid",
    "this_host",
    "this_user",
    "last_active",
    "pool",
    "other_config",
    "is_local_superuser",
    "subject",
    "validation_time",
    "auth_user_sid",
    "auth_user_name",
    "rbac_permissions",
    "tasks",
    "parent",
    "originator",
    "client_certificate",
  ],
  pool: Object.keys(defaultPoolRecord({ uuid: "", master: "" })),
  host: Object.keys(
    defaultHostRecord({ uuid: "", name_label: "", address: "", hostname: "", controlDomain: "" }),
  ),
  VM: Object.keys(defaultVmRecord({ uuid: "", name_label: "" })),
  task: [
    "uuid",
    "name_label",
    "name_description",
    "allowed_operations",
    "current_operations",
    "created",
    "finished",
    "status",
    "resident_on",
    "progress",
    "type",
    "result",
    "error_info",
    "other_config",
    "subtask_of",
    "subtasks",
    "backtrace",
  ],
  SR: Object.keys(defaultSrRecord({ uuid: "", name_label: "" })),
  VDI: Object.keys(defaultVdiRecord({ uuid: "", name_label: "" })),
  VBD: Object.keys(defaultVbdRecord({ uuid: "", VM: "", userdevice: "0" })),
  VM_metrics: Object.keys(defaultVmMetricsRecord({ uuid: "" })),
  VM_guest_metrics: Object.keys(defaultGuestMetricsRecord({ uuid: "" })),
  VIF: Object.keys(defaultVifRecord({ uuid: "", VM: "", network: "", device: "0", MAC: "" })),
  network: Object.keys(defaultNetworkRecord({ uuid: "", name_label: "" })),
  ...POOL_CLASS_FIELDS,
};
