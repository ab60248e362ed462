/**
 * The persistent state of xapi-sim (what `exportState()` returns and `options.state` accepts):
 * the pool, the hosts, every VM record and each VM's simulated guest. Sessions and tasks are not
 * persisted, like a XAPI restart that drops them.
 */
import { z } from "zod";
import {
  defaultHostRecord,
  defaultPoolRecord,
  defaultVmRecord,
  type HostRecord,
  type PoolRecord,
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

/** What a domain was built from: the VM's boot fields when the domain was created (xapi-semantics §7.6). */
export interface BootRecord {
  /** The domain type actually built (an `unspecified` domain_type is derived first, §7.3). */
  domain_type: string;
  /** "hvm", "pv-direct" (PV kernel from dom0) or "pv-bootloader" (pygrub/eliloader), §7.4. */
  method: "hvm" | "pv-direct" | "pv-bootloader";
  HVM_boot_policy: string;
  HVM_boot_params: Record<string, string>;
  /** HVM: QEMU boot order actually used (`order`, default "cd"). */
  order: string;
  /** HVM: firmware actually used (`firmware`, default "bios"). */
  firmware: string;
  PV_bootloader: string;
  PV_kernel: string;
  PV_ramdisk: string;
  PV_args: string;
  PV_bootloader_args: string;
  PV_legacy_args: string;
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

export interface SimSnapshot {
  format: "xapi-sim-state";
  version: 1;
  pool: { ref: string; record: PoolRecord };
  hosts: { ref: string; record: HostRecord }[];
  vms: VmEntry[];
  nextDomid: number;
}

/** Thrown by createModel when options.state is not a valid snapshot. */
export class InvalidStateError extends Error {
  override readonly name = "InvalidStateError";
}

const ref = z.string().regex(/^OpaqueRef:/, "expected an OpaqueRef");
const stringMap = z.record(z.string(), z.string());

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
  via: z.string(),
  domid: z.number().int(),
  bootNumber: z.number().int(),
  at: z.string(),
});

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
  const vmRefs = new Set<string>();
  for (const vm of data.vms) {
    if (vmRefs.has(vm.ref))
      throw new InvalidStateError(`Invalid xapi-sim state: duplicate VM ref ${vm.ref}.`);
    vmRefs.add(vm.ref);
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
        lastBoot: vm.sim.lastBoot ? ({ ...vm.sim.lastBoot } as BootRecord) : null,
        startedAtMs: vm.sim.startedAtMs,
      },
    })),
    nextDomid: data.nextDomid,
  };
}
