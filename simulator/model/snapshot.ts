/**
 * The persistent state of xapi-sim (what `exportState()` returns and `options.state` accepts):
 * the pool, the hosts, every VM record and each VM's simulated guest. Sessions and tasks are not
 * persisted, like a XAPI restart that drops them.
 */
import { z } from "zod";
import {
  defaultHostRecord,
  defaultPoolRecord,
  defaultSrRecord,
  defaultVbdRecord,
  defaultVdiRecord,
  defaultVmRecord,
  type HostRecord,
  type PoolRecord,
  type SrRecord,
  type VbdRecord,
  type VdiRecord,
  type VmRecord,
} from "./records";
import { DOMAIN_TYPES, SimPowerState } from "./vocabulary";

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

/** Simulator-only per-VM state, persisted alongside the VM record. */
export interface VmSimState {
  guest: GuestSettings;
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
  nextDomid: number;
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
  domain_type: z.enum(DOMAIN_TYPES),
  HVM_boot_policy: z.string(),
  HVM_boot_params: stringMap,
  PV_bootloader: z.string(),
  PV_kernel: z.string(),
  PV_ramdisk: z.string(),
  PV_args: z.string(),
  PV_bootloader_args: z.string(),
});

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
        bootCount: z.number().int().nonnegative(),
        lastBoot: bootRecordSchema.nullable(),
        startedAtMs: z.number().nullable(),
      }),
    }),
  ),
  srs: z
    .array(z.object({ ref, record: z.looseObject({ uuid: z.string().min(1), name_label: z.string() }) }))
    .default([]),
  vdis: z
    .array(
      z.object({
        ref,
        record: z.looseObject({ uuid: z.string().min(1), name_label: z.string(), SR: z.string() }),
        content: contentSchema,
      }),
    )
    .default([]),
  vbds: z
    .array(
      z.object({
        ref,
        record: z.looseObject({
          uuid: z.string().min(1),
          VM: z.string(),
          VDI: z.string(),
          userdevice: z.string().regex(/^\d+$/, "expected a decimal userdevice"),
          bootable: z.boolean(),
          type: z.enum(["CD", "Disk", "Floppy"]),
          empty: z.boolean(),
        }),
      }),
    )
    .default([]),
  nextDomid: z.number().int().positive(),
});

/**
 * Validates a snapshot and fills fields it lacks with XAPI's defaults (so a file written by an
 * older xapi-sim still loads). Throws {@link InvalidStateError} naming the first bad path.
 */
export function parseSnapshot(value: unknown): SimSnapshot {
  const parsed = snapshotSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue && issue.path.length > 0 ? issue.path.join(".") : "(root)";
    throw new InvalidStateError(
      `Invalid xapi-sim state: ${issue?.message ?? "unknown problem"} at ${path}. ` +
        'Expected a value previously returned by exportState() (format "xapi-sim-state", version 1).',
    );
  }
  const data = parsed.data;
  checkRecordShapes(data);
  const vmRefs = new Set<string>();
  for (const vm of data.vms) {
    if (vmRefs.has(vm.ref))
      throw new InvalidStateError(`Invalid xapi-sim state: duplicate VM ref ${vm.ref}.`);
    vmRefs.add(vm.ref);
  }
  for (const vbd of data.vbds) {
    if (!vmRefs.has(vbd.record.VM))
      throw new InvalidStateError(
        `Invalid xapi-sim state: VBD ${vbd.ref} names a VM that is not in the state.`,
      );
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
                  controlDomain: "OpaqueRef:NULL",
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
      }),
      sim: {
        guest: { ...vm.sim.guest },
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
    nextDomid: data.nextDomid,
  };
}

/** What a record field's JSON value must look like: the kind of its default value. */
function kindOf(value: unknown): string {
  if (Array.isArray(value)) return "a set (array)";
  if (value === null) return "null";
  if (typeof value === "object") return "a map (object of strings)";
  if (typeof value === "number") return "a number";
  return `a ${typeof value}`;
}

/**
 * Every field a record shares with XAPI's default record must have the default's kind (string, number,
 * boolean, set of strings or numbers, string map), so that a hand-edited file fails here, naming the
 * field, rather than later inside a call. The schema above only checks the fields the model reads first.
 */
function checkRecordShapes(data: z.infer<typeof snapshotSchema>): void {
  const check = (template: object, record: Record<string, unknown>, path: string): void => {
    for (const [field, expected] of Object.entries(template)) {
      if (!Object.hasOwn(record, field)) continue;
      const value = record[field];
      const kind = kindOf(expected);
      const element = Array.isArray(expected) && typeof expected[0] === "number" ? "number" : "string";
      const ok =
        kindOf(value) === kind &&
        (!Array.isArray(value) || value.every((x) => typeof x === element)) &&
        (kind !== "a map (object of strings)" ||
          Object.values(value as object).every((x) => typeof x === "string")) &&
        (typeof value !== "number" || Number.isFinite(value));
      if (!ok) {
        throw new InvalidStateError(
          `Invalid xapi-sim state: expected ${kind}, found ${JSON.stringify(value) ?? "nothing"} at ${path}.${field}. ` +
            'Expected a value previously returned by exportState() (format "xapi-sim-state", version 1).',
        );
      }
    }
  };
  check(defaultPoolRecord({ uuid: "", master: "" }), data.pool.record, "pool.record");
  const hostTemplate = defaultHostRecord({
    uuid: "",
    name_label: "",
    address: "",
    hostname: "",
    controlDomain: "",
  });
  for (const [i, h] of data.hosts.entries()) check(hostTemplate, h.record, `hosts.${i}.record`);
  const vmTemplate = defaultVmRecord({ uuid: "", name_label: "" });
  for (const [i, vm] of data.vms.entries()) check(vmTemplate, vm.record, `vms.${i}.record`);
  const srTemplate = defaultSrRecord({ uuid: "", name_label: "" });
  for (const [i, sr] of data.srs.entries()) check(srTemplate, sr.record, `srs.${i}.record`);
  const vdiTemplate = defaultVdiRecord({ uuid: "", name_label: "" });
  for (const [i, vdi] of data.vdis.entries()) check(vdiTemplate, vdi.record, `vdis.${i}.record`);
  const vbdTemplate = defaultVbdRecord({ uuid: "", VM: "", userdevice: "0" });
  for (const [i, vbd] of data.vbds.entries()) check(vbdTemplate, vbd.record, `vbds.${i}.record`);
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
