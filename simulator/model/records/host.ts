/** The pool and host records, in XAPI's wire field names, and their defaults. */
import { NEVER, NULL_REF } from "../vocabulary";
import type { StringMap } from "./wire";

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

/** What differs between the hosts of the simulated pool. */
export interface HostDefaultsInput {
  uuid: string;
  name_label: string;
  address: string;
  hostname: string;
  controlDomain: string;
}

/** A host record for the simulated XCP-ng 8.3 pool. */
export function defaultHostRecord(o: HostDefaultsInput): HostRecord {
  return {
    ...hostIdentityDefaults(o),
    ...hostSoftwareVersion(o),
    ...hostLinkDefaults(),
    ...hostAddressDefaults(o),
    ...hostPlatformDefaults(o),
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

/** Identity, operations and API version. */
function hostIdentityDefaults(o: HostDefaultsInput) {
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
  } satisfies Partial<HostRecord>;
}

/** The software_version map of an XCP-ng 8.3 host. */
function hostSoftwareVersion(o: HostDefaultsInput) {
  return {
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
  } satisfies Partial<HostRecord>;
}

/** Capabilities, bootloaders and the links to other objects. */
function hostLinkDefaults() {
  return {
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
  } satisfies Partial<HostRecord>;
}

/** Addresses, licensing and authentication. */
function hostAddressDefaults(o: HostDefaultsInput) {
  return {
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
  } satisfies Partial<HostRecord>;
}

/** Hardware, certificates and update fields. */
function hostPlatformDefaults(o: HostDefaultsInput) {
  return {
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
  } satisfies Partial<HostRecord>;
}
