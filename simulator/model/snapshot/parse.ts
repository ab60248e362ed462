/** Reads a state file: validation, the profile it belongs to, and XAPI's defaults for what it lacks. */
import {
  defaultHostMetricsRecord,
  defaultPbdRecord,
  defaultPifMetricsRecord,
  defaultPifRecord,
} from "../pool-records";
import { DEFAULT_PROFILE, PROFILES, type ProfileName } from "../profiles";
import {
  defaultGuestMetricsRecord,
  defaultHostRecord,
  defaultNetworkRecord,
  defaultPoolRecord,
  defaultSrRecord,
  defaultVbdRecord,
  defaultVdiRecord,
  defaultVifRecord,
  defaultVmMetricsRecord,
  defaultVmRecord,
  type HostRecord,
  type VmRecord,
} from "../records";
import { NULL_REF } from "../vocabulary";
import { checkRecordShapes, checkReferences } from "./checks";
import { ADVICE, invalid, type ParsedSnapshot, snapshotSchema } from "./schema";
import type { GuestSettings, SimSnapshot } from "./types";
import { normaliseNumbers, upgradedDomainType, withBootDefaults } from "./upgrade";

/**
 * Validates a snapshot and fills what it lacks, so that a file written by an older xapi-sim, or records
 * as an older host dumps them, still load:
 * - `profile`: the file's, else `profile` (the model option), else `current`; the two must agree;
 * - numbers written as XML-RPC dumps them (int64 as decimal strings) become numbers;
 * - fields a record lacks get XAPI's defaults; a VM without `domain_type` gets it the way XAPI's upgrade
 *   does (xapi_db_upgrade.ml `upgrade_domain_type`: control domain → pv, else `derive_domain_type` of
 *   HVM_boot_policy) when the profile has domain types, else `unspecified` (and a profile without
 *   domain types refuses a VM that has another one);
 * - unknown fields are kept (persisted, not served).
 * Refuses dangling references (a VM's VBDs/VIFs/guest_metrics/resident_on, a VBD's VM/VDI, a VDI's SR,
 * a VIF's VM/network, a PIF's host/network, a PBD's host/SR naming no object in the state). Throws
 * {@link InvalidStateError} naming the path.
 */
export function parseSnapshot(value: unknown, profile?: ProfileName): SimSnapshot {
  const parsed = snapshotSchema.safeParse(normaliseNumbers(value));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue && issue.path.length > 0 ? issue.path.join(".") : "(root)";
    throw invalid(`${issue?.message ?? "unknown problem"} at ${path}. ${ADVICE}`);
  }
  const data = parsed.data;
  if (data.profile !== undefined && profile !== undefined && data.profile !== profile) {
    throw invalid(
      `the state belongs to profile "${data.profile}", not "${profile}" (a state keeps the XAPI generation it was made with; drop the profile option or start from a new state).`,
    );
  }
  const resolved = data.profile ?? profile ?? DEFAULT_PROFILE;
  const domainTypes = PROFILES[resolved].domainType;
  checkRecordShapes(data);
  checkReferences(data);
  for (const [i, vm] of data.vms.entries()) {
    const dt = vm.record.domain_type;
    if (!domainTypes && dt !== undefined && dt !== "unspecified") {
      throw invalid(
        `vms.${i}.record.domain_type is "${dt}", but profile "${resolved}" has no domain_type (its VMs boot by HVM_boot_policy).`,
      );
    }
  }
  return {
    format: "xapi-sim-state",
    version: 1,
    ...poolAndHosts(data),
    vms: vmsWithDefaults(data, domainTypes),
    ...tablesWithDefaults(data),
    nextDomid: data.nextDomid,
    profile: resolved,
  };
}

/** The pool and the two hosts, with the defaults of what they lack. */
function poolAndHosts(data: ParsedSnapshot) {
  const [master, member] = data.hosts;
  return {
    pool: {
      ref: data.pool.ref,
      record: {
        ...defaultPoolRecord({ uuid: data.pool.record.uuid, master: data.pool.record.master }),
        ...data.pool.record,
      },
    },
    hosts: [master, member].flatMap((h) =>
      h
        ? [
            {
              ref: h.ref,
              record: {
                ...defaultHostRecord({
                  uuid: h.record.uuid,
                  name_label: h.record.name_label,
                  address: "",
                  hostname: h.record.name_label,
                  controlDomain: NULL_REF,
                }),
                ...(h.record as Partial<HostRecord>),
              },
            },
          ]
        : [],
    ),
  };
}

/** The guest settings of a state file; the cooperation flags only when the file has them. */
function guestSettingsOf(g: {
  pvDrivers: boolean;
  ignoresCleanShutdown: boolean;
  vcpuHotplug?: boolean | undefined;
  balloon?: boolean | undefined;
}): GuestSettings {
  return {
    pvDrivers: g.pvDrivers,
    ignoresCleanShutdown: g.ignoresCleanShutdown,
    ...(g.vcpuHotplug === undefined ? {} : { vcpuHotplug: g.vcpuHotplug }),
    ...(g.balloon === undefined ? {} : { balloon: g.balloon }),
  };
}

/**
 * The VMs with their defaults; a VM without domain_type gets the upgraded one where the profile has domain
 * types.
 */
function vmsWithDefaults(data: ParsedSnapshot, domainTypes: boolean): SimSnapshot["vms"] {
  return data.vms.map((vm) => ({
    ref: vm.ref,
    record: defaultVmRecord({
      ...(vm.record as Partial<VmRecord>),
      uuid: vm.record.uuid,
      name_label: vm.record.name_label,
      domain_type: vm.record.domain_type ?? (domainTypes ? upgradedDomainType(vm.record) : "unspecified"),
    }),
    sim: {
      guest: guestSettingsOf(vm.sim.guest),
      ...(vm.sim.agent === undefined ? {} : { agent: structuredClone(vm.sim.agent) }),
      bootCount: vm.sim.bootCount,
      lastBoot: vm.sim.lastBoot ? withBootDefaults(vm.sim.lastBoot) : null,
      startedAtMs: vm.sim.startedAtMs,
      ...(vm.sim.domain ? { domain: { ...vm.sim.domain } } : {}),
    },
  }));
}

/**
 * Each row's record with XAPI's defaults (from `fill`, a record default of `records/`) for the fields it
 * lacks; the schema has checked the fields `fill` needs.
 */
function filled<T>(
  rows: readonly { ref: string; record: object }[],
  fill: (record: never) => T,
): { ref: string; record: T }[] {
  return rows.map((row) => ({ ref: row.ref, record: fill(row.record as never) }));
}

/** The storage, network, metrics and host-infrastructure tables, with their defaults. */
function tablesWithDefaults(data: ParsedSnapshot) {
  return {
    srs: filled(data.srs, defaultSrRecord),
    vdis: data.vdis.map((vdi) => ({
      ref: vdi.ref,
      record: defaultVdiRecord(vdi.record as never),
      content: { menuLst: vdi.content.menuLst, files: [...vdi.content.files] },
    })),
    vbds: filled(data.vbds, defaultVbdRecord),
    networks: filled(data.networks, defaultNetworkRecord),
    vifs: filled(data.vifs, defaultVifRecord),
    vmMetrics: filled(data.vmMetrics, defaultVmMetricsRecord),
    guestMetrics: filled(data.guestMetrics, defaultGuestMetricsRecord),
    hostMetrics: filled(data.hostMetrics, defaultHostMetricsRecord),
    pifs: filled(data.pifs, defaultPifRecord),
    pifMetrics: filled(data.pifMetrics, defaultPifMetricsRecord),
    pbds: filled(data.pbds, defaultPbdRecord),
  };
}
