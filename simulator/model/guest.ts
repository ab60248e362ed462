/**
 * The simulated guest agent: what a guest with PV drivers (xe-guest-utilities) writes to xenstore and
 * XAPI turns into its VM_guest_metrics (xapi_guest_agent.ml `get_initial_guest_metrics`).
 */
import { defaultGuestMetricsRecord, type GuestMetricsRecord, type StringMap, xapiDate } from "./records";

/** The guest's OS as its agent writes it (`data/os_*` → os_version): a Debian 12 guest. */
export const DEFAULT_OS_VERSION: Readonly<StringMap> = {
  name: "Debian GNU/Linux 12 (bookworm)",
  uname: "6.1.0-18-amd64",
  distro: "debian",
  major: "12",
  minor: "5",
};

/** The guest tools' version (`attr/PVAddons/{Major,Minor,Micro}Version` → PV_drivers_version). */
export const DEFAULT_PV_DRIVERS_VERSION: Readonly<StringMap> = { major: "8", minor: "4", micro: "0" };

/**
 * The `control/feature-*` and platform flags a Linux guest agent advertises (every `control/<key>` →
 * `other[<key>]`, xapi_guest_agent.ml `other`). Representative values.
 */
export const GUEST_AGENT_FEATURES: Readonly<StringMap> = {
  "feature-balloon": "1",
  "feature-poweroff": "1",
  "feature-reboot": "1",
  "feature-suspend": "1",
  "feature-vcpu-hotplug": "1",
  "has-vendor-device": "0",
  "platform-feature-multiprocessor-suspend": "1",
  "platform-feature-xs_reset_watches": "1",
};

/**
 * The two cooperation flags a guest may lack (simulator/README.md, `setGuest`): the balloon driver's
 * `control/feature-balloon` and the agent's `control/feature-vcpu-hotplug`.
 */
export interface GuestCooperation {
  readonly vcpuHotplug: boolean;
  readonly balloon: boolean;
}

/** The `control/*` flags (→ VM_guest_metrics.other) of a guest with these cooperation flags. */
export function guestFeatures(cooperation: GuestCooperation): StringMap {
  const { "feature-balloon": _, "feature-vcpu-hotplug": __, ...rest } = GUEST_AGENT_FEATURES;
  return {
    ...(cooperation.balloon ? { "feature-balloon": "1" } : {}),
    ...rest,
    ...(cooperation.vcpuHotplug ? { "feature-vcpu-hotplug": "1" } : {}),
  };
}

/** The OS and tools versions a guest's agent reports; absent parts take the defaults above. */
export interface AgentIdentity {
  readonly os_version?: Readonly<StringMap>;
  readonly PV_drivers_version?: Readonly<StringMap>;
}

/**
 * The guest metrics a guest's agent produces: its OS and tools versions, PV drivers detected, one
 * address per VIF in `networks` (`<device>/ip` and `<device>/ipv4/0`, an address of 192.0.2.0/24 from the
 * MAC's last byte, and `<device>/ipv6/0`, the MAC's EUI-64 link-local address: the agent's layout of
 * `attr/vif/<device>/ipv4/0`, xapi_guest_agent.ml `networks`), the feature flags in `other`, `live`.
 */
export function guestReport(
  agent: AgentIdentity | undefined,
  vifs: readonly { readonly device: string; readonly MAC: string }[],
  nowMs: number,
  cooperation: GuestCooperation = { vcpuHotplug: true, balloon: true },
): Omit<GuestMetricsRecord, "uuid"> {
  const networks: StringMap = {};
  for (const vif of [...vifs].sort((a, b) => Number(a.device) - Number(b.device))) {
    const bytes = vif.MAC.split(":").map((b) => Number.parseInt(b, 16) || 0);
    const ipv4 = `192.0.2.${bytes[5] ?? 0}`;
    networks[`${vif.device}/ip`] = ipv4;
    networks[`${vif.device}/ipv4/0`] = ipv4;
    networks[`${vif.device}/ipv6/0`] = linkLocalIpv6(bytes);
  }
  const { uuid: _, ...record } = defaultGuestMetricsRecord({
    uuid: "",
    os_version: { ...(agent?.os_version ?? DEFAULT_OS_VERSION) },
    PV_drivers_version: { ...(agent?.PV_drivers_version ?? DEFAULT_PV_DRIVERS_VERSION) },
    PV_drivers_up_to_date: true,
    PV_drivers_detected: true,
    networks,
    other: guestFeatures(cooperation),
    last_updated: xapiDate(nowMs),
    live: true,
  });
  return record;
}

/** The EUI-64 link-local IPv6 address of a MAC, in the full form guest agents report. */
function linkLocalIpv6(mac: readonly number[]): string {
  const b = (i: number): number => mac[i] ?? 0;
  const eui = [b(0) ^ 0x02, b(1), b(2), 0xff, 0xfe, b(3), b(4), b(5)];
  const groups: string[] = [];
  for (let i = 0; i < 8; i += 2)
    groups.push(((eui[i] ?? 0) * 256 + (eui[i + 1] ?? 0)).toString(16).padStart(4, "0"));
  return `fe80:0000:0000:0000:${groups.join(":")}`;
}
