/**
 * The persistent state of xapi-sim (what `exportState()` returns and `options.state` accepts): the pool,
 * the hosts, every VM record and each VM's simulated guest, the storage, network and metrics objects.
 * Sessions and tasks are not persisted, like a XAPI restart that drops them.
 */
import type { HostMetricsRecord, PbdRecord, PifMetricsRecord, PifRecord } from "../pool-records";
import type { ProfileName } from "../profiles";
import type {
  GuestMetricsRecord,
  HostRecord,
  NetworkRecord,
  PoolRecord,
  SrRecord,
  VbdRecord,
  VdiRecord,
  VifRecord,
  VmMetricsRecord,
  VmRecord,
} from "../records";

/** How the simulated guest inside a VM behaves. */
export interface GuestSettings {
  /**
   * PV drivers present: features shutdown/reboot/suspend are advertised
   * (docs/simulator-behaviour.md#operation-checks).
   */
  pvDrivers: boolean;
  /** The guest OS ignores a clean shutdown/reboot request (→ VM_SHUTDOWN_TIMEOUT). */
  ignoresCleanShutdown: boolean;
  /**
   * The guest onlines and offlines vCPUs when xenopsd plugs them, and its agent advertises
   * `control/feature-vcpu-hotplug` (→ VM_guest_metrics.other). Absent: as `pvDrivers`.
   */
  vcpuHotplug?: boolean;
  /**
   * The guest runs a balloon driver that writes `control/feature-balloon`: squeezed sets its memory
   * target and the domain's memory follows. Absent: as `pvDrivers`.
   */
  balloon?: boolean;
}

/**
 * The simulated domain of a live or suspended VM: what xenopsd built it with and what it holds now
 * (docs/simulator-behaviour.md#sizing). Memory in bytes.
 */
export interface SimDomain {
  /** VCPUs_max at the build: the most vCPUs set_VCPUs_number_live can plug. */
  vcpusMax: number;
  /** VCPUs_at_startup at the build. */
  vcpusAtBuild: number;
  /** vCPUs online now. */
  vcpus: number;
  /** memory_static_max at the build (the domain's maxmem). */
  staticMax: number;
  /** The dynamic range xenopsd last wrote to the domain's xenstore (memory/dynamic-min, -max). */
  dynamicMin: number;
  dynamicMax: number;
  /** The balloon target squeezed last set (memory/target). */
  target: number;
  /** The memory the domain holds (VM_metrics.memory_actual). */
  actual: number;
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
  /**
   * Absolute guest paths of the kernels and initrds on the disk (for `PV_kernel` inside the guest and
   * autodetection).
   */
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
  /**
   * The control-domain block device the bootloader reads: `/dev/sm/backend/<SR uuid>/<VDI uuid>`; null when
   * empty.
   */
  path: string | null;
}

/**
 * The bootloader run of a PV indirect boot (docs/simulator-behaviour.md#booting; the seed's "bootloader
 * commandline").
 */
export interface BootloaderRun {
  /** "pygrub" or "eliloader". */
  name: string;
  /** The program run in the control domain. */
  path: string;
  /** Its argument vector, the program first. */
  argv: string[];
}

/**
 * What a domain was built from and what it booted (docs/simulator-behaviour.md#booting,
 * docs/simulator-behaviour.md#boot-records).
 */
export interface BootRecord {
  /**
   * The domain type actually built (an `unspecified` domain_type is derived first,
   * docs/simulator-behaviour.md#domain-type).
   */
  domain_type: string;
  /**
   * "hvm", "pv-direct" (PV kernel from dom0) or "pv-bootloader" (pygrub/eliloader),
   * docs/simulator-behaviour.md#booting
   */
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
  /**
   * PV: the kernel booted (a control-domain path for direct boot, a guest path for a bootloader); null for
   * HVM.
   */
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
  /**
   * Which call (or guest event) built the domain: "start", "clean_reboot", "hard_reboot", "crash-restart", …
   */
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
  /**
   * Epoch ms when the current domain was built (for the <120 s crash rule,
   * docs/simulator-behaviour.md#guest-actions-and-crashes).
   */
  startedAtMs: number | null;
  /** The VM's domain while it has one (live or suspended); absent or null otherwise. */
  domain?: SimDomain | null;
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
  /** Storage; absent in files written before disks were modelled, which then load without disks. */
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
