/** Reads a state file: validation, the profile it belongs to, and XAPI's defaults for what it lacks. */
import {
  defaultHostMetricsRecord,
  defaultPbdRecord,
  defaultPifMetricsRecord,
  defaultPifRecord,
  type HostMetricsRecord,
  type PbdRecord,
  type PifMetricsRecord,
  type PifRecord,
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
  type GuestMetricsRecord,
  type HostRecord,
  type NetworkRecord,
  type SrRecord,
  type VbdRecord,
  type VdiRecord,
  type VifRecord,
  type VmMetricsRecord,
  type VmRecord,
} from "../records";
import { NULL_REF } from "../vocabulary";
import { checkRecordShapes, checkReferences } from "./checks";
import { ADVICE, invalid, type ParsedSnapshot, snapshotSchema } from "./schema";
import type { SimSnapshot } from "./types";
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
    ...storageWithDefaults(data),
    ...devicesWithDefaults(data),
    ...poolObjectsWithDefaults(data),
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

/** The VMs with their defaults; a VM without domain_type gets the upgraded one where the profile has domain types. */
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
      guest: { ...vm.sim.guest },
      ...(vm.sim.agent === undefined ? {} : { agent: structuredClone(vm.sim.agent) }),
      bootCount: vm.sim.bootCount,
      lastBoot: vm.sim.lastBoot ? withBootDefaults(vm.sim.lastBoot) : null,
      startedAtMs: vm.sim.startedAtMs,
    },
  }));
}

/** SRs, VDIs (with their content) and VBDs, with their defaults. */
function storageWithDefaults(data: ParsedSnapshot) {
  return {
    srs: data.srs.map((sr) => ({
      ref: sr.ref,
      record: defaultSrRecord({
        ...(sr.record as Partial<SrRecord>),
        uuid: sr.record.uuid,
        name_label: sr.record.name_label,
      }),
    })),
    vdis: data.vdis.map((vdi) => ({
      ref: vdi.ref,
      record: defaultVdiRecord({
        ...(vdi.record as Partial<VdiRecord>),
        uuid: vdi.record.uuid,
        name_label: vdi.record.name_label,
      }),
      content: { menuLst: vdi.content.menuLst, files: [...vdi.content.files] },
    })),
    vbds: data.vbds.map((vbd) => ({
      ref: vbd.ref,
      record: defaultVbdRecord({
        ...(vbd.record as Partial<VbdRecord>),
        uuid: vbd.record.uuid,
        VM: vbd.record.VM,
        userdevice: vbd.record.userdevice,
      }),
    })),
  };
}

/** Networks, VIFs and the VMs' metrics, with their defaults. */
function devicesWithDefaults(data: ParsedSnapshot) {
  return {
    networks: data.networks.map((n) => ({
      ref: n.ref,
      record: defaultNetworkRecord({
        ...(n.record as Partial<NetworkRecord>),
        uuid: n.record.uuid,
        name_label: n.record.name_label,
      }),
    })),
    vifs: data.vifs.map((v) => ({
      ref: v.ref,
      record: defaultVifRecord({
        ...(v.record as Partial<VifRecord>),
        uuid: v.record.uuid,
        VM: v.record.VM,
        network: v.record.network,
        device: v.record.device,
        MAC: v.record.MAC,
      }),
    })),
    vmMetrics: data.vmMetrics.map((m) => ({
      ref: m.ref,
      record: defaultVmMetricsRecord({ ...(m.record as Partial<VmMetricsRecord>), uuid: m.record.uuid }),
    })),
    guestMetrics: data.guestMetrics.map((m) => ({
      ref: m.ref,
      record: defaultGuestMetricsRecord({
        ...(m.record as Partial<GuestMetricsRecord>),
        uuid: m.record.uuid,
      }),
    })),
  };
}

/** The hosts' metrics, PIFs, PIF metrics and PBDs, with their defaults. */
function poolObjectsWithDefaults(data: ParsedSnapshot) {
  return {
    hostMetrics: data.hostMetrics.map((m) => ({
      ref: m.ref,
      record: defaultHostMetricsRecord({ ...(m.record as Partial<HostMetricsRecord>), uuid: m.record.uuid }),
    })),
    pifs: data.pifs.map((p) => ({
      ref: p.ref,
      record: defaultPifRecord({
        ...(p.record as Partial<PifRecord>),
        uuid: p.record.uuid,
        device: p.record.device,
        network: p.record.network,
        host: p.record.host,
        MAC: p.record.MAC,
      }),
    })),
    pifMetrics: data.pifMetrics.map((m) => ({
      ref: m.ref,
      record: defaultPifMetricsRecord({ ...(m.record as Partial<PifMetricsRecord>), uuid: m.record.uuid }),
    })),
    pbds: data.pbds.map((p) => ({
      ref: p.ref,
      record: defaultPbdRecord({
        ...(p.record as Partial<PbdRecord>),
        uuid: p.record.uuid,
        host: p.record.host,
        SR: p.record.SR,
      }),
    })),
  };
}
