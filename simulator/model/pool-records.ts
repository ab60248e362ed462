/**
 * Record shapes of the pool's infrastructure classes — `host_metrics`, `PIF`, `PIF_metrics`, `PBD` and
 * `message` — in XAPI's wire field names and record order (ocaml/idl/datamodel.ml: modules Host_metrics,
 * PIF, PIF_metrics, PBD, Message), with the defaults XAPI gives them. See docs/simulator-object-model.md.
 */
import { NEVER, NULL_REF } from "./vocabulary";

type StringMap = Record<string, string>;

/**
 * The metrics of a host (XAPI class `host_metrics`; dbsync_slave.ml creates one per host at start).
 * `memory_free` was removed from the API in tampa (its getter answers MESSAGE_REMOVED) but stays in
 * the record; xapi still refreshes it (monitor_mem_host.ml).
 */
export interface HostMetricsRecord {
  uuid: string;
  memory_total: number;
  memory_free: number;
  /** The pool master thinks the host is live. */
  live: boolean;
  last_updated: string;
  other_config: StringMap;
}

/** `ip_configuration_mode`. */
export const IpConfigurationMode = { None: "None", DHCP: "DHCP", Static: "Static" } as const;
export type IpConfigurationMode = (typeof IpConfigurationMode)[keyof typeof IpConfigurationMode];

/** A physical network interface of a host (XAPI class `PIF`; one per NIC and VLAN). */
export interface PifRecord {
  uuid: string;
  /** The dom0 interface name, e.g. "eth0". */
  device: string;
  network: string;
  host: string;
  MAC: string;
  MTU: number;
  /** The VLAN tag; -1 for an untagged (physical) interface. */
  VLAN: number;
  metrics: string;
  physical: boolean;
  currently_attached: boolean;
  ip_configuration_mode: IpConfigurationMode;
  IP: string;
  netmask: string;
  gateway: string;
  DNS: string;
  bond_slave_of: string;
  bond_master_of: string[];
  VLAN_master_of: string;
  VLAN_slave_of: string[];
  /** The interface xapi listens on (the host's `address`). */
  management: boolean;
  other_config: StringMap;
  disallow_unplug: boolean;
  tunnel_access_PIF_of: string[];
  tunnel_transport_PIF_of: string[];
  ipv6_configuration_mode: string;
  IPv6: string[];
  ipv6_gateway: string;
  primary_address_type: string;
  managed: boolean;
  properties: StringMap;
  capabilities: string[];
  igmp_snooping_status: string;
  sriov_physical_PIF_of: string[];
  sriov_logical_PIF_of: string[];
  PCI: string;
}

/**
 * What the NIC under a PIF reports (XAPI class `PIF_metrics`; xapi_pif.ml `introduce_internal` creates one
 * with each PIF). `io_read_kbs` / `io_write_kbs` were removed in tampa (replaced by RRDs) but stay in the
 * record, always 0.
 */
export interface PifMetricsRecord {
  uuid: string;
  io_read_kbs: number;
  io_write_kbs: number;
  carrier: boolean;
  vendor_id: string;
  vendor_name: string;
  device_id: string;
  device_name: string;
  speed: number;
  duplex: boolean;
  pci_bus_path: string;
  last_updated: string;
  other_config: StringMap;
}

/** How a host reaches an SR (XAPI class `PBD`): one per host that sees the SR. */
export interface PbdRecord {
  uuid: string;
  host: string;
  SR: string;
  /** What the host's SM backend is given, e.g. `{device: "/dev/sda3"}`. */
  device_config: StringMap;
  currently_attached: boolean;
  other_config: StringMap;
}

/** The `cls` enum of a message: the class of the object it is about. */
export const MessageClass = {
  VM: "VM",
  Host: "Host",
  SR: "SR",
  Pool: "Pool",
  VMPP: "VMPP",
  VMSS: "VMSS",
  PVS_proxy: "PVS_proxy",
  VDI: "VDI",
  Certificate: "Certificate",
} as const;
export type MessageClass = (typeof MessageClass)[keyof typeof MessageClass];

/** An alert for the administrator (XAPI class `message`; xapi_message.ml, not in the database). */
export interface MessageRecord {
  uuid: string;
  /** What happened, e.g. "VM_STARTED" (ocaml/xapi-consts/api_messages.ml). */
  name: string;
  /** 1 (most urgent) to 5 (informational). */
  priority: number;
  cls: MessageClass;
  obj_uuid: string;
  timestamp: string;
  body: string;
}

/** A host_metrics record as dbsync makes it: live, nothing measured yet. */
export function defaultHostMetricsRecord(
  o: Partial<HostMetricsRecord> & { uuid: string },
): HostMetricsRecord {
  const { uuid, ...rest } = o;
  return {
    uuid,
    memory_total: 0,
    memory_free: 0,
    live: true,
    last_updated: NEVER,
    other_config: {},
    ...rest,
  };
}

/** A PIF record with the datamodel's defaults for an unconfigured physical NIC; override what differs. */
export function defaultPifRecord(
  o: Partial<PifRecord> & { uuid: string; device: string; network: string; host: string; MAC: string },
): PifRecord {
  const { uuid, device, network, host, MAC, ...rest } = o;
  return {
    uuid,
    device,
    network,
    host,
    MAC,
    MTU: 1500,
    VLAN: -1,
    metrics: NULL_REF,
    physical: true,
    currently_attached: true,
    ip_configuration_mode: "None",
    IP: "",
    netmask: "",
    gateway: "",
    DNS: "",
    bond_slave_of: NULL_REF,
    bond_master_of: [],
    VLAN_master_of: NULL_REF,
    VLAN_slave_of: [],
    management: false,
    other_config: {},
    disallow_unplug: false,
    tunnel_access_PIF_of: [],
    tunnel_transport_PIF_of: [],
    ipv6_configuration_mode: "None",
    IPv6: [],
    ipv6_gateway: "",
    primary_address_type: "IPv4",
    managed: true,
    properties: {},
    capabilities: [],
    igmp_snooping_status: "unknown",
    sriov_physical_PIF_of: [],
    sriov_logical_PIF_of: [],
    PCI: NULL_REF,
    ...rest,
  };
}

/** A PIF_metrics record; override what the NIC reports. */
export function defaultPifMetricsRecord(o: Partial<PifMetricsRecord> & { uuid: string }): PifMetricsRecord {
  const { uuid, ...rest } = o;
  return {
    uuid,
    io_read_kbs: 0,
    io_write_kbs: 0,
    carrier: false,
    vendor_id: "",
    vendor_name: "",
    device_id: "",
    device_name: "",
    speed: 0,
    duplex: false,
    pci_bus_path: "",
    last_updated: NEVER,
    other_config: {},
    ...rest,
  };
}

/** A PBD record (PBD.create: detached until plugged); override what differs. */
export function defaultPbdRecord(
  o: Partial<PbdRecord> & { uuid: string; host: string; SR: string },
): PbdRecord {
  const { uuid, host, SR, ...rest } = o;
  return { uuid, host, SR, device_config: {}, currently_attached: false, other_config: {}, ...rest };
}

/** A message record; override what differs. */
export function defaultMessageRecord(
  o: Partial<MessageRecord> & { uuid: string; name: string; cls: MessageClass; obj_uuid: string },
): MessageRecord {
  const { uuid, name, cls, obj_uuid, ...rest } = o;
  return { uuid, name, priority: 5, cls, obj_uuid, timestamp: NEVER, body: "", ...rest };
}

/** The published fields of these classes, in XAPI's record order (the keys of each default record). */
export const POOL_CLASS_FIELDS: Readonly<Record<string, readonly string[]>> = {
  host_metrics: Object.keys(defaultHostMetricsRecord({ uuid: "" })),
  PIF: Object.keys(defaultPifRecord({ uuid: "", device: "", network: "", host: "", MAC: "" })),
  PIF_metrics: Object.keys(defaultPifMetricsRecord({ uuid: "" })),
  PBD: Object.keys(defaultPbdRecord({ uuid: "", host: "", SR: "" })),
  message: Object.keys(defaultMessageRecord({ uuid: "", name: "", cls: "VM", obj_uuid: "" })),
};
