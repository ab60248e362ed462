/** The schema a state file must match (older files lack the later tables and fields) and its errors. */
import { z } from "zod";
import {
  defaultHostMetricsRecord,
  defaultPbdRecord,
  defaultPifMetricsRecord,
  defaultPifRecord,
} from "../pool-records";
import { PROFILE_NAMES } from "../profiles";
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
  userdeviceNumber,
} from "../records";
import { DOMAIN_TYPES, SimPowerState } from "../vocabulary";
import { InvalidStateError } from "./types";

const ref = z.string().regex(/^OpaqueRef:/, "expected an OpaqueRef");
const stringMap = z.record(z.string(), z.string());

const bytes = z.number().int().nonnegative();
const domainSchema = z.object({
  vcpusMax: z.number().int().positive(),
  vcpusAtBuild: z.number().int().positive(),
  vcpus: z.number().int().positive(),
  staticMax: bytes,
  dynamicMin: bytes,
  dynamicMax: bytes,
  target: bytes,
  actual: bytes,
});

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
  // The boot outcome: optional, as state files written before disks were modelled lack it.
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

export const snapshotSchema = z.object({
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
        guest: z.object({
          pvDrivers: z.boolean(),
          ignoresCleanShutdown: z.boolean(),
          vcpuHotplug: z.boolean().optional(),
          balloon: z.boolean().optional(),
        }),
        agent: z.object({ os_version: stringMap, PV_drivers_version: stringMap }).optional(),
        bootCount: z.number().int().nonnegative(),
        lastBoot: bootRecordSchema.nullable(),
        startedAtMs: z.number().nullable(),
        domain: domainSchema.nullable().optional(),
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
export type ParsedSnapshot = z.infer<typeof snapshotSchema>;

export const ADVICE =
  'Expected a value previously returned by exportState() (format "xapi-sim-state", version 1).';

export function invalid(message: string): InvalidStateError {
  return new InvalidStateError(`Invalid xapi-sim state: ${message}`);
}

/** The default record of each table, whose field kinds a file's records must have. */
export const TEMPLATES: Readonly<Record<string, object>> = {
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
