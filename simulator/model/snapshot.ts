/**
 * The persistent state of xapi-sim (what `exportState()` returns and `options.state` accepts):
 * the pool, the hosts, every VM record and each VM's simulated guest. Sessions and tasks are not
 * persisted, like a XAPI restart that drops them.
 */
import { z } from "zod";
import {
  defaultHostMetricsRecord,
  defaultPbdRecord,
  defaultPifMetricsRecord,
  defaultPifRecord,
  type HostMetricsRecord,
  type PbdRecord,
  type PifMetricsRecord,
  type PifRecord,
} from "./pool-records";
import { DEFAULT_PROFILE, PROFILE_NAMES, PROFILES, type ProfileName } from "./profiles";
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
  type PoolRecord,
  type SrRecord,
  userdeviceNumber,
  type VbdRecord,
  type VdiRecord,
  type VifRecord,
  type VmMetricsRecord,
  type VmRecord,
} from "./records";
import { DOMAIN_TYPES, NULL_REF, SimPowerState } from "./vocabulary";

/** How the simulated guest inside a VM behaves. */
export interface GuestSettings {
  /** PV drivers present: features shutdown/reboot/suspend are advertised (xapi-semantics §4.3). */
  pvDrivers: boolean;
  /** The guest OS ignores a clean shutdown/reboot request (→ VM_SHUTDOWN_TIMEOUT). */
  ignoresCleanShutdown: boolean;
}

/**
 * What a guest's disk holds, as far as a bootloader cares (the simulator has no real filesystem).
 * Per VDI, persisted with it, copied by clone; the control op `setGuestDisk` changes it.
 */
export interface GuestDiskContent {
  /**
   * The text of the GRUB legacy configuration `/boot/grub/menu.lst` on the disk, or `null` when
   * there is none. pygrub parses it first (the seed: "the menu.lst is parsed if present").
   */
  menuLst: string | null;
  /** Absolute guest paths of the kernels and initrds on the disk (for `PV_kernel` inside the guest and autodetection). */
  files: string[];
}

/** One disk as a boot saw it. */
export interface BootDisk {
  userdevice: string;
  /** Guest device name, e.g. "xvda". */
  device: string;
  type: string;
  bootable: boolean;
  empty: boolean;
  /** VDI uuid, or null for an empty CD drive. */
  vdi: string | null;
  /** The control-domain block device the bootloader reads: `/dev/sm/backend/<SR uuid>/<VDI uuid>`; null when empty. */
  path: string | null;
}

/** The bootloader run of a PV indirect boot (xapi-semantics §7.4; the seed's "bootloader commandline"). */
export interface BootloaderRun {
  /** "pygrub" or "eliloader". */
  name: string;
  /** The program run in the control domain. */
  path: string;
  /** Its argument vector, the program first. */
  argv: string[];
}

/** What a domain was built from and what it booted (xapi-semantics §7.4, §7.6). */
export interface BootRecord {
  /** The domain type actually built (an `unspecified` domain_type is derived first, §7.3). */
  domain_type: string;
  /** "hvm", "pv-direct" (PV kernel from dom0) or "pv-bootloader" (pygrub/eliloader), §7.4. */
  method: "hvm" | "pv-direct" | "pv-bootloader";
  HVM_boot_policy: string;
  HVM_boot_params: Record<string, string>;
  /** QEMU boot order (`HVM_boot_params.order`, "cd" when absent or empty); kept for every method. */
  order: string;
  /** HVM: firmware actually used (`firmware`, default "bios"). */
  firmware: string;
  PV_bootloader: string;
  PV_kernel: string;
  PV_ramdisk: string;
  PV_args: string;
  PV_bootloader_args: string;
  PV_legacy_args: string;
  /** HVM: the string passed to QEMU as its boot order; null for PV. */
  qemuBootOrder: string | null;
  /**
   * HVM: the first device of the boot order that has media ("c": the first non-empty disk, "d": the
   * first non-empty CD, "n": the network); null for PV or when nothing in the order can boot.
   */
  bootDevice: { letter: string; kind: "disk" | "cdrom" | "network"; userdevice: string | null } | null;
  /** PV indirect boot: the bootloader run; null otherwise. */
  bootloader: BootloaderRun | null;
  /** PV: the kernel booted (a control-domain path for direct boot, a guest path for a bootloader); null for HVM. */
  kernel: string | null;
  /** PV: the initrd, "" when none; null for HVM. */
  ramdisk: string | null;
  /** PV: the kernel command line; null for HVM. */
  cmdline: string | null;
  /** PV: where the kernel came from; null for HVM. */
  kernelSource: "dom0" | "menu.lst" | "specified" | "autodetected" | null;
  /** PV with a bootloader: the menu.lst entry booted (its title), when menu.lst was used. */
  menuEntry: string | null;
  /** PV with a bootloader: the userdevice of the disk the bootloader booted from. */
  bootDisk: string | null;
  /** The disks the boot considered: the bootloader's (PV indirect), QEMU's (HVM), none for PV direct. */
  disks: BootDisk[];
  /** userdevices of the VM's VBDs with `bootable` set, at build time (sorted numerically). */
  bootableUserdevices: string[];
  /** Which call (or guest event) built the domain: "start", "clean_reboot", "hard_reboot", "crash-restart", … */
  via: string;
  /** The domid of the domain built. */
  domid: number;
  /** 1 for the first boot recorded, then counting. */
  bootNumber: number;
  /** ISO time of the build. */
  at: string;
}

/** What the simulated guest agent reports (VM_guest_metrics); absent: a Debian 12 guest with tools 8.4.0. */
export interface GuestAgentReport {
  os_version: Record<string, string>;
  PV_drivers_version: Record<string, string>;
}

/** Simulator-only per-VM state, persisted alongside the VM record. */
export interface VmSimState {
  guest: GuestSettings;
  /** The guest agent's OS and tools versions, when not the default ones (control op `setGuest`). */
  agent?: GuestAgentReport;
  /** How many domains have been built for this VM (start, reboots; not resume). */
  bootCount: number;
  /** The config the current (or last) domain was built from; `null` if it never booted here. */
  lastBoot: BootRecord | null;
  /** Epoch ms when the current domain was built (for the <120 s crash rule, §2.2). */
  startedAtMs: number | null;
}

export interface VmEntry {
  ref: string;
  record: VmRecord;
  sim: VmSimState;
}

export interface VdiEntry {
  ref: string;
  record: VdiRecord;
  /** What the disk holds for a bootloader. */
  content: GuestDiskContent;
}

export interface SimSnapshot {
  format: "xapi-sim-state";
  version: 1;
  pool: { ref: string; record: PoolRecord };
  hosts: { ref: string; record: HostRecord }[];
  vms: VmEntry[];
  /** Storage (issue #7); absent in files written before it, which then load without disks. */
  srs: { ref: string; record: SrRecord }[];
  vdis: VdiEntry[];
  vbds: { ref: string; record: VbdRecord }[];
  /** Networking and metrics; absent in files written before them (VMs then get fresh VM_metrics). */
  networks: { ref: string; record: NetworkRecord }[];
  vifs: { ref: string; record: VifRecord }[];
  vmMetrics: { ref: string; record: VmMetricsRecord }[];
  guestMetrics: { ref: string; record: GuestMetricsRecord }[];
  /**
   * The hosts' metrics and NICs and the SRs' PBDs; absent in files written before them (the load creates
   * them as xapi's dbsync would; see pool-objects.ts `ensurePoolObjects`).
   */
  hostMetrics: { ref: string; record: HostMetricsRecord }[];
  pifs: { ref: string; record: PifRecord }[];
  pifMetrics: { ref: string; record: PifMetricsRecord }[];
  pbds: { ref: string; record: PbdRecord }[];
  nextDomid: number;
  /** The XAPI generation the state belongs to; absent in older files, which are `current`. */
  profile: ProfileName;
}

/** Thrown by createModel when options.state is not a valid snapshot. */
export class InvalidStateError extends Error {
  override readonly name = "InvalidStateError";
}

const ref = z.string().regex(/^OpaqueRef:/, "expected an OpaqueRef");
const stringMap = z.record(z.string(), z.string());

const bootDiskSchema = z.object({
  userdevice: z.string(),
  device: z.string(),
  type: z.string(),
  bootable: z.boolean(),
  empty: z.boolean(),
  vdi: z.string().nullable(),
  path: z.string().nullable(),
});

const bootRecordSchema = z.looseObject({
  domain_type: z.string(),
  method: z.enum(["hvm", "pv-direct", "pv-bootloader"]),
  HVM_boot_policy: z.string(),
  HVM_boot_params: stringMap,
  order: z.string(),
  firmware: z.string(),
  PV_bootloader: z.string(),
  PV_kernel: z.string(),
  PV_ramdisk: z.string(),
  PV_args: z.string(),
  PV_bootloader_args: z.string(),
  PV_legacy_args: z.string(),
  // The boot outcome (issue #7): optional so that older state files load.
  qemuBootOrder: z.string().nullable().optional(),
  bootDevice: z
    .object({
      letter: z.string(),
      kind: z.enum(["disk", "cdrom", "network"]),
      userdevice: z.string().nullable(),
    })
    .nullable()
    .optional(),
  bootloader: z
    .object({ name: z.string(), path: z.string(), argv: z.array(z.string()) })
    .nullable()
    .optional(),
  kernel: z.string().nullable().optional(),
  ramdisk: z.string().nullable().optional(),
  cmdline: z.string().nullable().optional(),
  kernelSource: z.enum(["dom0", "menu.lst", "specified", "autodetected"]).nullable().optional(),
  menuEntry: z.string().nullable().optional(),
  bootDisk: z.string().nullable().optional(),
  disks: z.array(bootDiskSchema).optional(),
  bootableUserdevices: z.array(z.string()).optional(),
  via: z.string(),
  domid: z.number().int(),
  bootNumber: z.number().int(),
  at: z.string(),
});

const contentSchema = z.object({ menuLst: z.string().nullable(), files: z.array(z.string()) });

const vmRecordSchema = z.looseObject({
  uuid: z.string().min(1),
  name_label: z.string(),
  power_state: z.enum(Object.values(SimPowerState) as [SimPowerState, ...SimPowerState[]]),
  is_a_template: z.boolean(),
  domid: z.number().int(),
  resident_on: z.string(),
  // Absent in records from hosts older than XAPI 2.10 (kolkata); filled per profile (see parseSnapshot).
  domain_type: z.enum(DOMAIN_TYPES).optional(),
  HVM_boot_policy: z.string(),
  HVM_boot_params: stringMap,
  PV_bootloader: z.string(),
  PV_kernel: z.string(),
  PV_ramdisk: z.string(),
  PV_args: z.string(),
  PV_bootloader_args: z.string(),
});

/** A `[{ref, record}]` table whose records need a uuid plus `fields`; absent in older files: `[]`. */
const rows = <T extends z.ZodRawShape>(fields: T) =>
  z.array(z.object({ ref, record: z.looseObject({ uuid: z.string().min(1), ...fields }) })).default([]);

const snapshotSchema = z.object({
  format: z.literal("xapi-sim-state"),
  version: z.literal(1),
  pool: z.object({ ref, record: z.looseObject({ uuid: z.string().min(1), master: z.string() }) }),
  hosts: z
    .array(z.object({ ref, record: z.looseObject({ uuid: z.string().min(1), name_label: z.string() }) }))
    .length(2, "expected exactly two hosts (master, member)"),
  vms: z.array(
    z.object({
      ref,
      record: vmRecordSchema,
      sim: z.object({
        guest: z.object({ pvDrivers: z.boolean(), ignoresCleanShutdown: z.boolean() }),
        agent: z.object({ os_version: stringMap, PV_drivers_version: stringMap }).optional(),
        bootCount: z.number().int().nonnegative(),
        lastBoot: bootRecordSchema.nullable(),
        startedAtMs: z.number().nullable(),
      }),
    }),
  ),
  srs: rows({ name_label: z.string() }),
  vdis: z
    .array(
      z.object({
        ref,
        record: z.looseObject({ uuid: z.string().min(1), name_label: z.string(), SR: z.string() }),
        content: contentSchema,
      }),
    )
    .default([]),
  vbds: rows({
    VM: z.string(),
    VDI: z.string(),
    userdevice: z
      .string()
      .refine(
        (u) => userdeviceNumber(u) !== undefined,
        "expected a userdevice XAPI reads (a disk number, or a device name such as xvda, hdd, sda)",
      ),
    bootable: z.boolean(),
    type: z.enum(["CD", "Disk", "Floppy"]),
    empty: z.boolean(),
  }),
  networks: rows({ name_label: z.string() }),
  vifs: rows({
    VM: z.string(),
    network: z.string(),
    device: z.string().regex(/^\d+$/, "expected a decimal device"),
    MAC: z.string(),
  }),
  vmMetrics: rows({}),
  guestMetrics: rows({}),
  hostMetrics: rows({}),
  pifs: rows({ device: z.string(), network: z.string(), host: z.string(), MAC: z.string() }),
  pifMetrics: rows({}),
  pbds: rows({ host: z.string(), SR: z.string() }),
  nextDomid: z.number().int().positive(),
  profile: z.enum(PROFILE_NAMES).optional(),
});
type ParsedSnapshot = z.infer<typeof snapshotSchema>;

const ADVICE = 'Expected a value previously returned by exportState() (format "xapi-sim-state", version 1).';

function invalid(message: string): InvalidStateError {
  return new InvalidStateError(`Invalid xapi-sim state: ${message}`);
}

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
  const [master, member] = data.hosts;
  return {
    format: "xapi-sim-state",
    version: 1,
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
    vms: data.vms.map((vm) => ({
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
    })),
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
    nextDomid: data.nextDomid,
    profile: resolved,
  };
}

/** `upgrade_domain_type` (xapi_db_upgrade.ml): dom0 is pv, any other VM `derive_domain_type`. */
function upgradedDomainType(record: { is_control_domain?: unknown; domid: number; HVM_boot_policy: string }) {
  if (record.is_control_domain === true && record.domid === 0) return "pv" as const;
  return record.HVM_boot_policy === "" ? ("pv" as const) : ("hvm" as const);
}

/** The default record of each table, whose field kinds a file's records must have. */
const TEMPLATES: Readonly<Record<string, object>> = {
  pool: defaultPoolRecord({ uuid: "", master: "" }),
  hosts: defaultHostRecord({ uuid: "", name_label: "", address: "", hostname: "", controlDomain: "" }),
  vms: defaultVmRecord({ uuid: "", name_label: "" }),
  srs: defaultSrRecord({ uuid: "", name_label: "" }),
  vdis: defaultVdiRecord({ uuid: "", name_label: "" }),
  vbds: defaultVbdRecord({ uuid: "", VM: "", userdevice: "0" }),
  networks: defaultNetworkRecord({ uuid: "", name_label: "" }),
  vifs: defaultVifRecord({ uuid: "", VM: "", network: "", device: "0", MAC: "" }),
  vmMetrics: defaultVmMetricsRecord({ uuid: "" }),
  guestMetrics: defaultGuestMetricsRecord({ uuid: "" }),
  hostMetrics: defaultHostMetricsRecord({ uuid: "" }),
  pifs: defaultPifRecord({ uuid: "", device: "", network: "", host: "", MAC: "" }),
  pifMetrics: defaultPifMetricsRecord({ uuid: "" }),
  pbds: defaultPbdRecord({ uuid: "", host: "", SR: "" }),
};

/** A decimal integer as XML-RPC dumps an int64, or a float's decimal text. */
const NUMERIC_TEXT = /^-?\d+(\.\d+)?$/;

/**
 * Numbers written as the XML-RPC wire carries them: an int64 is a decimal string there (and the
 * Python XenAPI binding hands it over as one), so a record dumped through it has `"memory_static_max":
 * "2147483648"`. Every field whose default is a number (or a set of numbers) is turned back into one;
 * anything else is left for the checks to name.
 */
function normaliseNumbers(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  const copy = structuredClone(value) as Record<string, unknown>;
  const fix = (template: object, record: unknown): void => {
    if (record === null || typeof record !== "object") return;
    const r = record as Record<string, unknown>;
    for (const [field, expected] of Object.entries(template)) {
      const v = r[field];
      if (typeof expected === "number" && typeof v === "string" && NUMERIC_TEXT.test(v)) r[field] = Number(v);
      if (Array.isArray(expected) && typeof expected[0] === "number" && Array.isArray(v))
        r[field] = v.map((x) => (typeof x === "string" && NUMERIC_TEXT.test(x) ? Number(x) : x));
    }
  };
  const pool = copy.pool as { record?: unknown } | undefined;
  if (pool && typeof pool === "object") fix(TEMPLATES.pool ?? {}, pool.record);
  for (const table of Object.keys(TEMPLATES)) {
    const list = copy[table];
    if (table === "pool" || !Array.isArray(list)) continue;
    for (const row of list) {
      if (row && typeof row === "object") fix(TEMPLATES[table] ?? {}, (row as { record?: unknown }).record);
    }
  }
  if (typeof copy.nextDomid === "string" && NUMERIC_TEXT.test(copy.nextDomid))
    copy.nextDomid = Number(copy.nextDomid);
  return copy;
}

/**
 * Refuses references that name no object of the state: a VM's `VBDs`, `VIFs`, `guest_metrics` and
 * `resident_on` (NULL allowed for the last two), a VBD's `VM` and `VDI` (NULL only for an empty CD
 * drive), a VDI's `SR` (NULL allowed), a VIF's `VM` and `network`, a PIF's `host` and `network`, a
 * PBD's `host` and `SR`; duplicate refs too. A VM or host whose `metrics` names nothing, or a PIF whose
 * `metrics` does, is not refused: xapi gives it fresh metrics at start, and so does xapi-sim. Nor is a
 * Suspended VM's `suspend_VDI` naming nothing (a file written before suspend images were VDIs): the load
 * creates the image. The derived lists (host.PIFs, host.PBDs, SR.PBDs, network.PIFs) are recomputed.
 */
function checkReferences(data: ParsedSnapshot): void {
  const refsOf = (table: keyof ParsedSnapshot, what: string): Set<string> => {
    const set = new Set<string>();
    const list = data[table] as { ref: string }[];
    for (const [i, row] of list.entries()) {
      if (set.has(row.ref)) throw invalid(`duplicate ${what} ref ${row.ref} at ${String(table)}.${i}.ref.`);
      set.add(row.ref);
    }
    return set;
  };
  const vms = refsOf("vms", "VM");
  const vbds = refsOf("vbds", "VBD");
  const vdis = refsOf("vdis", "VDI");
  const srs = refsOf("srs", "SR");
  const vifs = refsOf("vifs", "VIF");
  const networks = refsOf("networks", "network");
  const guestMetrics = refsOf("guestMetrics", "VM_guest_metrics");
  refsOf("vmMetrics", "VM_metrics");
  const hosts = new Set(data.hosts.map((h) => h.ref));
  const dangling = (path: string, cls: string, ref: unknown): InvalidStateError =>
    invalid(
      `${path} names ${cls} ${String(ref)}, which is not in the state (a dangling reference). ${ADVICE}`,
    );
  const need = (path: string, cls: string, ref: unknown, set: Set<string>, nullable: boolean): void => {
    if (nullable && ref === NULL_REF) return;
    if (typeof ref !== "string" || !set.has(ref)) throw dangling(path, cls, ref);
  };
  for (const [i, vm] of data.vms.entries()) {
    const r = vm.record as Record<string, unknown>;
    const list = (field: string): unknown[] => (Array.isArray(r[field]) ? (r[field] as unknown[]) : []);
    for (const [j, vbd] of list("VBDs").entries()) need(`vms.${i}.record.VBDs.${j}`, "VBD", vbd, vbds, false);
    for (const [j, vif] of list("VIFs").entries()) need(`vms.${i}.record.VIFs.${j}`, "VIF", vif, vifs, false);
    need(`vms.${i}.record.resident_on`, "host", r.resident_on, hosts, true);
    if (r.guest_metrics !== undefined)
      need(`vms.${i}.record.guest_metrics`, "VM_guest_metrics", r.guest_metrics, guestMetrics, true);
  }
  for (const [i, vbd] of data.vbds.entries()) {
    need(`vbds.${i}.record.VM`, "VM", vbd.record.VM, vms, false);
    const emptyCd = vbd.record.type === "CD" && vbd.record.empty;
    need(`vbds.${i}.record.VDI`, "VDI", vbd.record.VDI, vdis, emptyCd);
  }
  for (const [i, vdi] of data.vdis.entries()) need(`vdis.${i}.record.SR`, "SR", vdi.record.SR, srs, true);
  for (const [i, vif] of data.vifs.entries()) {
    need(`vifs.${i}.record.VM`, "VM", vif.record.VM, vms, false);
    need(`vifs.${i}.record.network`, "network", vif.record.network, networks, false);
  }
  refsOf("hostMetrics", "host_metrics");
  refsOf("pifs", "PIF");
  refsOf("pifMetrics", "PIF_metrics");
  refsOf("pbds", "PBD");
  for (const [i, pif] of data.pifs.entries()) {
    need(`pifs.${i}.record.host`, "host", pif.record.host, hosts, false);
    need(`pifs.${i}.record.network`, "network", pif.record.network, networks, false);
  }
  for (const [i, pbd] of data.pbds.entries()) {
    need(`pbds.${i}.record.host`, "host", pbd.record.host, hosts, false);
    need(`pbds.${i}.record.SR`, "SR", pbd.record.SR, srs, false);
  }
}

/** What a record field's JSON value must look like: the kind of its default value. */
function kindOf(value: unknown): string {
  if (Array.isArray(value)) return "a set (array)";
  if (value === null) return "null";
  if (typeof value === "object") return "a map (object)";
  if (typeof value === "number") return "a number";
  return `a ${typeof value}`;
}

/** The kind of a map's values, from a default map value (string unless the default says otherwise). */
function mapValueOk(expected: object, value: object): boolean {
  const sample = Object.values(expected)[0];
  return Object.values(value).every((x) =>
    sample === undefined ? typeof x === "string" : kindOf(x) === kindOf(sample),
  );
}

/**
 * Every field a record shares with XAPI's default record must have the default's kind (string, number,
 * boolean, set of strings or numbers, map), so that a hand-edited file fails here, naming the field,
 * rather than later inside a call. The schema above only checks the fields the model reads first.
 */
function checkRecordShapes(data: ParsedSnapshot): void {
  const check = (template: object, record: Record<string, unknown>, path: string): void => {
    for (const [field, expected] of Object.entries(template)) {
      if (!Object.hasOwn(record, field)) continue;
      const value = record[field];
      const kind = kindOf(expected);
      const element = Array.isArray(expected) && typeof expected[0] === "number" ? "number" : "string";
      const ok =
        kindOf(value) === kind &&
        (!Array.isArray(value) || value.every((x) => typeof x === element)) &&
        (kind !== "a map (object)" || mapValueOk(expected, value as object)) &&
        (typeof value !== "number" || Number.isFinite(value));
      if (!ok) {
        throw invalid(
          `expected ${kind}, found ${JSON.stringify(value) ?? "nothing"} at ${path}.${field}. ${ADVICE}`,
        );
      }
    }
  };
  check(TEMPLATES.pool ?? {}, data.pool.record, "pool.record");
  for (const table of Object.keys(TEMPLATES)) {
    if (table === "pool") continue;
    const list = data[table as keyof ParsedSnapshot] as { record: Record<string, unknown> }[];
    for (const [i, row] of list.entries()) check(TEMPLATES[table] ?? {}, row.record, `${table}.${i}.record`);
  }
}

/** A boot record from a state file, with the outcome fields an older xapi-sim did not write. */
function withBootDefaults(raw: Record<string, unknown>): BootRecord {
  const hvm = raw.method === "hvm";
  return {
    qemuBootOrder: hvm ? (raw.order as string) : null,
    bootDevice: null,
    bootloader: null,
    kernel: null,
    ramdisk: null,
    cmdline: null,
    kernelSource: null,
    menuEntry: null,
    bootDisk: null,
    disks: [],
    bootableUserdevices: [],
    ...raw,
  } as unknown as BootRecord;
}
