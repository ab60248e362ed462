/** The VM_metrics and VM_guest_metrics records, in XAPI's wire field names, and their defaults. */
import { NEVER } from "../vocabulary";
import type { StringMap } from "./wire";

/**
 * The metrics of a VM (XAPI class `VM_metrics`, datamodel_vm_metrics in ocaml/idl/datamodel.ml). Every VM
 * has one (VM.create, VM.clone and dbsync at start create it); the domain fields are written when a
 * domain is built (xapi_xenops.ml `update_vm`).
 */
export interface VmMetricsRecord {
  uuid: string;
  memory_actual: number;
  VCPUs_number: number;
  /**
   * Removed in tampa (MESSAGE_REMOVED for its getter) but still in the record: `{"0": 0.}` from VM.create.
   */
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

/**
 * A VM_guest_metrics record with the guest agent's defaults (xapi_guest_agent.ml); override what it reports.
 */
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
