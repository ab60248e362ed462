/**
 * XAPI generations xapi-sim can play (`--profile`). A profile fixes the API version the hosts report,
 * their `software_version`, whether VMs have `domain_type`, whether the XenAPI 1.0 `Crashed` state
 * exists, and which fields and messages are served: those that XAPI's datamodel says appeared after
 * the profile's release are absent (no field in any record or event, MESSAGE_METHOD_UNKNOWN for their
 * messages, not in `system.listMethods`). See simulator/README.md, "Profiles".
 */

import { CLASS_FIELDS, type StringMap } from "./records";
import { FIELD_RELEASES, MESSAGE_RELEASES, REMOVED_MESSAGES } from "./releases";

export const PROFILE_NAMES = ["current", "xenserver-7", "xenapi-1.0"] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** The profile a state file without one, and a model without the option, uses. */
export const DEFAULT_PROFILE: ProfileName = "current";

export interface SimProfile {
  readonly name: ProfileName;
  /** What the profile plays, for humans (control op `config`). */
  readonly description: string;
  /**
   * The XAPI release (datamodel code name) whose API the profile serves: fields and messages whose
   * lifecycle starts after it are absent. `null`: everything xapi-sim implements (XCP-ng 8.3).
   */
  readonly release: string | null;
  readonly apiVersionMajor: number;
  readonly apiVersionMinor: number;
  readonly apiVersionVendor: string;
  /** `host.software_version` for a host with this hostname. */
  softwareVersion(hostname: string): StringMap;
  /** VMs have `domain_type` (and `VM_metrics.current_domain_type`); without it HVM_boot_policy decides. */
  readonly domainType: boolean;
  /** A crashed guest shows power_state `Crashed` (the default of the `crashedCompat` option). */
  readonly crashedCompat: boolean;
}

/**
 * XAPI's releases in order (`release_order_full`, ocaml/idl/datamodel_types.ml). Releases after
 * stockholm are named by xapi version ("22.20.0"); they sort after every code name up to stockholm_psr.
 */
export const RELEASE_ORDER: readonly string[] = [
  "rio",
  "miami",
  "symc",
  "orlando",
  "orlando-update-1",
  "george",
  "midnight-ride",
  "cowley",
  "boston",
  "tampa",
  "clearwater",
  "vgpu-tech-preview",
  "vgpu-productisation",
  "clearwater-felton",
  "clearwater-whetstone",
  "creedence",
  "cream",
  "indigo",
  "dundee",
  "ely",
  "falcon",
  "inverness",
  "jura",
  "kolkata",
  "lima",
  "naples",
  "oslo",
  "quebec",
  "stockholm",
  "stockholm_psr",
];

/** A sortable key for a release: a code name's index, or (after all of them) an xapi version. */
function releaseKey(release: string): number[] {
  const i = RELEASE_ORDER.indexOf(release);
  if (i >= 0) return [i];
  const version = /^(\d+)\.(\d+)\.(\d+)/.exec(release);
  if (version) return [RELEASE_ORDER.length, Number(version[1]), Number(version[2]), Number(version[3])];
  throw new Error(`xapi-sim: unknown XAPI release "${release}"`);
}

/** True when `release` comes after `than`. */
export function releaseIsAfter(release: string, than: string): boolean {
  const a = releaseKey(release);
  const b = releaseKey(than);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return false;
}

/** XCP-ng 8.3's `software_version` (xapi 24.19; keys from create_misc.ml `make_software_version`). */
function xcpng83(hostname: string): StringMap {
  return {
    product_version: "8.3.0",
    product_version_text: "8.3",
    product_version_text_short: "8.3",
    platform_name: "XCP",
    platform_version: "3.4.0",
    product_brand: "XCP-ng",
    build_number: "cloud",
    git_id: "0",
    hostname,
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
  };
}

/**
 * XenServer 7.2's `software_version`: the keys `make_software_version` wrote in falcon (create_misc.ml
 * and xapi_globs.ml `software_version` at xapi v1.30.0: no `xapi_build`, no `is_preview_release`),
 * `xencenter_min`/`xencenter_max` = the API version, `db_schema` = falcon's 5.120 (datamodel_common.ml).
 * The build-specific values (build_number, date, xapi, xen, linux) are representative. [INFERRED values]
 */
function xenserver72(hostname: string): StringMap {
  return {
    product_version: "7.2.0",
    product_version_text: "7.2",
    product_version_text_short: "7.2",
    platform_name: "XCP",
    platform_version: "2.3.0",
    product_brand: "XenServer",
    build_number: "125245c",
    git_id: "0",
    hostname,
    date: "2017-05-09",
    dbv: "2017.0517",
    xapi: "1.9",
    xen: "4.7.2-2.2",
    linux: "4.4.0+10",
    xencenter_min: "2.7",
    xencenter_max: "2.7",
    network_backend: "openvswitch",
    db_schema: "5.120",
  };
}

/**
 * A XenAPI 1.0 host's `software_version`: what xend's reference implementation returns
 * (tools/python/xen/xend/XendNode.py `xen_version`: `Xen` and the xen_* keys, xend_config_format, and
 * the node's uname). Values are those of a Xen 3.4 host. [INFERRED values]
 */
function xend34(hostname: string): StringMap {
  return {
    Xen: "3.4",
    xen_major: "3",
    xen_minor: "4",
    xen_extra: ".0",
    xen_changeset: "unavailable",
    xend_config_format: "4",
    system: "Linux",
    host: hostname,
    release: "2.6.18.8-xen",
    version: "#1 SMP",
    machine: "x86_64",
  };
}

export const PROFILES: Readonly<Record<ProfileName, SimProfile>> = {
  current: {
    name: "current",
    description: "XCP-ng 8.3 (xapi 24.19, API 2.21)",
    release: null,
    apiVersionMajor: 2,
    apiVersionMinor: 21,
    apiVersionVendor: "XenSource",
    softwareVersion: xcpng83,
    domainType: true,
    crashedCompat: false,
  },
  "xenserver-7": {
    name: "xenserver-7",
    description: "XenServer 7.2 (falcon, API 2.7): no domain_type",
    release: "falcon",
    apiVersionMajor: 2,
    apiVersionMinor: 7,
    apiVersionVendor: "XenSource",
    softwareVersion: xenserver72,
    domainType: false,
    crashedCompat: false,
  },
  "xenapi-1.0": {
    name: "xenapi-1.0",
    description: "XenAPI 1.0 (the seed's API): no domain_type, power state Crashed",
    // XenAPI 1.0 predates every XAPI release; nothing newer than XenServer 7.2 is served either.
    release: "falcon",
    apiVersionMajor: 1,
    apiVersionMinor: 0,
    // xend's XEN_API_VERSION_VENDOR (tools/python/xen/xend/XendAPIVersion.py).
    apiVersionVendor: "xenbits",
    softwareVersion: xend34,
    domainType: false,
    crashedCompat: true,
  },
};

/** The profile of a name, or `undefined`. */
export function profileNamed(name: string): SimProfile | undefined {
  return (PROFILE_NAMES as readonly string[]).includes(name) ? PROFILES[name as ProfileName] : undefined;
}

/** True when the profile serves `cls.field` (it appeared in or before the profile's release). */
export function servesField(profile: SimProfile, cls: string, field: string): boolean {
  const since = FIELD_RELEASES[cls]?.[field];
  return profile.release === null || since === undefined || !releaseIsAfter(since, profile.release);
}

/** The fields of `cls` a profile serves, `uuid` first. */
export function fieldsOf(profile: SimProfile, cls: string): string[] {
  const all = CLASS_FIELDS[cls] ?? [];
  const served = all.filter((f) => servesField(profile, cls, f));
  return served.includes("uuid") ? ["uuid", ...served.filter((f) => f !== "uuid")] : served;
}

/** True when the profile has the message `Class.name` (it appeared in or before the profile's release). */
export function servesMessage(profile: SimProfile, message: string): boolean {
  const since = MESSAGE_RELEASES[message];
  return profile.release === null || since === undefined || !releaseIsAfter(since, profile.release);
}

/**
 * True when the message was removed from the API by the profile's release: XAPI still lists it and
 * answers MESSAGE_REMOVED after the session check (gen_server.ml).
 */
export function messageRemoved(profile: SimProfile, message: string): boolean {
  const removed = REMOVED_MESSAGES[message];
  return removed !== undefined && (profile.release === null || !releaseIsAfter(removed, profile.release));
}
