/**
 * Boot configuration semantics, pure: the domain_type ↔ HVM_boot_policy coupling
 * (docs/simulator-behaviour.md#domain-type), start-time validation (docs/simulator-behaviour.md#booting,
 * docs/simulator-behaviour.md#guest-actions-and-crashes), the boot outcome of a domain build — QEMU's order
 * and
 * firmware for HVM, the kernel, initrd and command line for PV, the bootloader's argument vector and
 * the disks it was given — and the record of what a domain was built from
 * (docs/simulator-behaviour.md#boot-records).
 *
 * Where xapi-sim follows XAPI and where it follows the seed ("VM boot parameters") is listed in
 * simulator/README.md, "Boot outcome"; each rule below names its source.
 */
import { XapiFault } from "../api";
import { bootloaderRun, runBootloader } from "./bootloader";
import { userdeviceNumber, type VmRecord } from "./records";
import type { BootDisk, BootRecord, GuestDiskContent } from "./snapshot";
import {
  ErrorCode,
  GUEST_KERNEL_DIR,
  HVM_DEFAULT_BOOT_POLICY,
  KNOWN_BOOTLOADERS,
  type SimDomainType,
} from "./vocabulary";

/**
 * `derive_domain_type`: an empty HVM_boot_policy means PV, anything else HVM
 * (docs/simulator-behaviour.md#domain-type).
 */
export function deriveDomainType(hvmBootPolicy: string): SimDomainType {
  return hvmBootPolicy === "" ? "pv" : "hvm";
}

/**
 * `derive_hvm_boot_policy`: hvm → "BIOS order", everything else → ""
 * (docs/simulator-behaviour.md#domain-type).
 */
export function deriveHvmBootPolicy(domainType: SimDomainType): string {
  return domainType === "hvm" ? HVM_DEFAULT_BOOT_POLICY : "";
}

/**
 * `ensure_domain_type_is_specified`: the domain type a start builds
 * (docs/simulator-behaviour.md#domain-type).
 */
export function effectiveDomainType(vm: Pick<VmRecord, "domain_type" | "HVM_boot_policy">): SimDomainType {
  return vm.domain_type === "unspecified" ? deriveDomainType(vm.HVM_boot_policy) : vm.domain_type;
}

/**
 * PV, PVH and PV-in-PVH boot through the PV path (docs/simulator-behaviour.md#booting) and count as "implicit
 * support" (docs/simulator-behaviour.md#operation-checks).
 */
export function isPvLike(domainType: string): boolean {
  return domainType === "pv" || domainType === "pvh" || domainType === "pv_in_pvh";
}

function checkGuestPath(kind: "kernel" | "ramdisk", path: string): XapiFault | undefined {
  // The simulator has no dom0 filesystem: any path inside the allowed directory "exists". [INFERRED texts]
  if (path === "") return new XapiFault(ErrorCode.invalidValue, [kind, path, "File does not exist"]);
  if (!path.startsWith(GUEST_KERNEL_DIR) || path.split("/").includes("..")) {
    return new XapiFault(ErrorCode.invalidValue, [
      kind,
      path,
      `Is not in any of the allowed kernel directories: [${GUEST_KERNEL_DIR}]`,
    ]);
  }
  return undefined;
}

/**
 * Start-time checks of the VM's own fields, in the order xapi meets them: actions_after_crash
 * (docs/simulator-behaviour.md#guest-actions-and-crashes, `validate_actions_after_crash`), HVM firmware, then
 * the direct-boot kernel and ramdisk paths
 * that xapi checks before handing the VM to xenopsd (docs/simulator-behaviour.md#booting). The disk-dependent
 * checks (no bootable
 * device, unknown bootloader, bootloader failure) come later, in {@link bootOutcome}.
 */
export function bootConfigError(vm: VmRecord): XapiFault | undefined {
  const crashError = crashActionError(vm);
  if (crashError) return crashError;
  const domainType = effectiveDomainType(vm);
  if (domainType === "hvm") {
    const firmware = vm.HVM_boot_params.firmware ?? "bios";
    if (firmware !== "bios" && firmware !== "uefi") {
      return new XapiFault(ErrorCode.invalidValue, ["HVM-boot-params['firmware']", firmware]);
    }
    return undefined;
  }
  if (vm.PV_bootloader === "") {
    const kernel = checkGuestPath("kernel", vm.PV_kernel);
    if (kernel) return kernel;
    return vm.PV_ramdisk === "" ? undefined : checkGuestPath("ramdisk", vm.PV_ramdisk);
  }
  return undefined;
}

/**
 * `validate_actions_after_crash` (docs/simulator-behaviour.md#guest-actions-and-crashes), the last of
 * xapi's basic start checks (`validate_basic_parameters`): rename_restart never, a coredump only for PV.
 */
export function crashActionError(vm: VmRecord): XapiFault | undefined {
  const domainType = effectiveDomainType(vm);
  const crash = vm.actions_after_crash;
  if (crash === "rename_restart") {
    return new XapiFault(ErrorCode.valueNotSupported, [
      "VM.actions_after_crash",
      "rename_restart",
      "option would leak a domain; VMs and not domains are managed by this API",
    ]);
  }
  if ((crash === "coredump_and_destroy" || crash === "coredump_and_restart") && domainType !== "pv") {
    return new XapiFault(ErrorCode.valueNotSupported, [
      "VM.actions_after_crash",
      crash,
      "cannot invoke a coredump of an HVM or PV-in-PVH domain",
    ]);
  }
  return undefined;
}

//////////////////////////////
////   boot outcome       ////
//////////////////////////////

/** A disk of the VM as the boot sees it: the VBD/VDI facts plus what the disk holds. */
export interface BootDiskInput extends BootDisk {
  /** The VDI's content; null for an empty drive. */
  readonly content: GuestDiskContent | null;
}

/** What a build boots: the outcome fields of a {@link BootRecord}. */
export type BootOutcome = Pick<
  BootRecord,
  | "domain_type"
  | "method"
  | "qemuBootOrder"
  | "bootDevice"
  | "bootloader"
  | "kernel"
  | "ramdisk"
  | "cmdline"
  | "kernelSource"
  | "menuEntry"
  | "bootDisk"
  | "disks"
  | "bootableUserdevices"
>;

export type BootResult =
  | { readonly ok: true; readonly outcome: BootOutcome }
  | { ok: false; error: XapiFault };

/** Order of userdevice slots by disk number ("2" before "10", "xvdb" after "0"; `userdeviceNumber`). */
export function byUserdevice<T extends { readonly userdevice: string }>(a: T, b: T): number {
  return (userdeviceNumber(a.userdevice) ?? Infinity) - (userdeviceNumber(b.userdevice) ?? Infinity) || 0;
}

function diskOf(d: BootDiskInput): BootDisk {
  return {
    userdevice: d.userdevice,
    device: d.device,
    type: d.type,
    bootable: d.bootable,
    empty: d.empty,
    vdi: d.vdi,
    path: d.path,
  };
}

/**
 * The boot a domain build of `vm` performs with its `disks`, or the XAPI fault that stops it.
 * Run {@link bootConfigError} first; this covers what xenopsd decides while building:
 * - HVM (docs/simulator-behaviour.md#booting): QEMU gets `order` ("cd" when absent or empty) and the
 * firmware; every non-empty disk
 *   and CD drive is attached; `bootDevice` is the first device of the order that has media.
 * - PV direct (`PV_bootloader` ""): kernel and ramdisk are the control-domain paths, the command line
 *   is `PV_args` (docs/simulator-behaviour.md#booting; the seed: "treated as paths within the control
 * domain").
 * - PV with a bootloader: the disks are the VBDs with `bootable` set that are not empty, ALL of them
 *   (the seed: "the paths of all bootable disks are added"; XAPI passes only the first), sorted by
 *   userdevice. None → INTERNAL_ERROR "there is no bootable device" (xenopsd `No_bootable_device`,
 *   raised before the bootloader is looked up). A name other than pygrub/eliloader → INTERNAL_ERROR
 *   (`Unknown_bootloader`, XAPI; full paths are refused). Then see {@link runBootloader}.
 */
export function bootOutcome(vm: VmRecord, vmRef: string, disks: readonly BootDiskInput[]): BootResult {
  const sorted = [...disks].sort(byUserdevice);
  const build: Build = {
    vm,
    domainType: effectiveDomainType(vm),
    sorted,
    bootableUserdevices: sorted.filter((d) => d.bootable).map((d) => d.userdevice),
  };
  if (build.domainType === "hvm") return hvmBoot(build);
  if (vm.PV_bootloader === "") return pvDirectBoot(build);
  return pvBootloaderBoot(build, vmRef);
}

/** What every boot outcome starts from: nothing booted yet. */
export const NO_BOOT = {
  qemuBootOrder: null,
  bootDevice: null,
  bootloader: null,
  kernel: null,
  ramdisk: null,
  cmdline: null,
  kernelSource: null,
  menuEntry: null,
  bootDisk: null,
} as const;

/** A domain build's input: the VM, the type it builds, its disks sorted by userdevice. */
interface Build {
  readonly vm: VmRecord;
  readonly domainType: SimDomainType;
  readonly sorted: readonly BootDiskInput[];
  readonly bootableUserdevices: string[];
}

/** HVM: QEMU boots the first device of the order that has media; every non-empty disk is attached. */
function hvmBoot({ vm, domainType, sorted, bootableUserdevices }: Build): BootResult {
  const order = qemuOrder(vm);
  const attached = sorted.filter((d) => !d.empty && d.type !== "Floppy");
  return {
    ok: true,
    outcome: {
      ...NO_BOOT,
      domain_type: domainType,
      method: "hvm",
      qemuBootOrder: order,
      bootDevice: firstBootDevice(order, attached),
      disks: attached.map(diskOf),
      bootableUserdevices,
    },
  };
}

/** PV direct boot: the control-domain kernel and ramdisk, the command line is PV_args. */
function pvDirectBoot({ vm, domainType, bootableUserdevices }: Build): BootResult {
  return {
    ok: true,
    outcome: {
      ...NO_BOOT,
      domain_type: domainType,
      method: "pv-direct",
      kernel: vm.PV_kernel,
      ramdisk: vm.PV_ramdisk,
      cmdline: vm.PV_args,
      kernelSource: "dom0",
      disks: [],
      bootableUserdevices,
    },
  };
}

/** PV through a bootloader, which reads the guest's grub menu on its bootable disks. */
function pvBootloaderBoot({ vm, domainType, sorted, bootableUserdevices }: Build, vmRef: string): BootResult {
  const passed = sorted.filter((d) => d.bootable && !d.empty && d.path !== null);
  if (passed.length === 0) {
    // xenopsd: `Indirect { devices = [] } -> raise No_bootable_device`; the message text is ours.
    return {
      ok: false,
      error: new XapiFault(ErrorCode.internalError, ["xenopsd internal error: there is no bootable device"]),
    };
  }
  if (!KNOWN_BOOTLOADERS.has(vm.PV_bootloader)) {
    // xenopsd's Unknown_bootloader reaches the API as INTERNAL_ERROR, not UNKNOWN_BOOTLOADER; the text is
    // ours.
    return {
      ok: false,
      error: new XapiFault(ErrorCode.internalError, [
        `xenopsd internal error: Bootloader.Unknown_bootloader("${vm.PV_bootloader}")`,
      ]),
    };
  }
  const run = bootloaderRun(vm, passed);
  const found = runBootloader(vm, passed);
  if (found === undefined) {
    // pygrub's "RuntimeError: <msg>" becomes BOOTLOADER_FAILED [vm; msg]; the message text is ours.
    return {
      ok: false,
      error: new XapiFault(ErrorCode.bootloaderFailed, [vmRef, "Unable to find partition containing kernel"]),
    };
  }
  return {
    ok: true,
    outcome: {
      ...NO_BOOT,
      domain_type: domainType,
      method: "pv-bootloader",
      bootloader: run,
      kernel: found.kernel,
      ramdisk: found.ramdisk,
      // xenopsd builds it as sprintf "%s %s %s" <bootloader args> PV_legacy_args PV_args
      // (`ocaml/xenopsd/lib/bootloader.ml`), whichever boot method; see docs/simulator-behaviour.md#booting.
      cmdline: `${found.args} ${vm.PV_legacy_args} ${vm.PV_args}`,
      kernelSource: found.source,
      menuEntry: found.title,
      bootDisk: found.disk,
      disks: passed.map(diskOf),
      bootableUserdevices,
    },
  };
}

/**
 * QEMU's boot order: `HVM_boot_params.order`, "cd" when absent or empty (XSI-804,
 * docs/simulator-behaviour.md#booting).
 */
export function qemuOrder(vm: Pick<VmRecord, "HVM_boot_params">): string {
  const order = vm.HVM_boot_params.order;
  return order === undefined || order === "" ? "cd" : order;
}

function firstBootDevice(order: string, attached: readonly BootDiskInput[]): BootRecord["bootDevice"] {
  for (const letter of order) {
    if (letter === "c") {
      const disk = attached.find((d) => d.type === "Disk");
      if (disk) return { letter, kind: "disk", userdevice: disk.userdevice };
    } else if (letter === "d") {
      const cd = attached.find((d) => d.type === "CD");
      if (cd) return { letter, kind: "cdrom", userdevice: cd.userdevice };
    } else if (letter === "n") {
      // VIFs are not modelled: a network boot is assumed to find a PXE server.
      return { letter, kind: "network", userdevice: null };
    }
  }
  return null;
}

//////////////////////////////
////   boot record        ////
//////////////////////////////

/**
 * The record of a domain build: the VM's boot fields at build time plus the outcome
 * (docs/simulator-behaviour.md#boot-records).
 */
export function bootRecordOf(
  vm: VmRecord,
  outcome: BootOutcome,
  via: string,
  domid: number,
  bootNumber: number,
  atMs: number,
): BootRecord {
  return {
    HVM_boot_policy: vm.HVM_boot_policy,
    HVM_boot_params: { ...vm.HVM_boot_params },
    order: qemuOrder(vm),
    firmware: vm.HVM_boot_params.firmware ?? "bios",
    PV_bootloader: vm.PV_bootloader,
    PV_kernel: vm.PV_kernel,
    PV_ramdisk: vm.PV_ramdisk,
    PV_args: vm.PV_args,
    PV_bootloader_args: vm.PV_bootloader_args,
    PV_legacy_args: vm.PV_legacy_args,
    ...structuredClone(outcome),
    via,
    domid,
    bootNumber,
    at: new Date(atMs).toISOString(),
  };
}

/** The boot fields (XapiBootFields names) a record compares on, for "is the live domain stale?". */
export const BOOT_FIELDS = [
  "domain_type",
  "HVM_boot_policy",
  "HVM_boot_params",
  "PV_bootloader",
  "PV_kernel",
  "PV_ramdisk",
  "PV_args",
  "PV_bootloader_args",
] as const;

/**
 * True when the VM's current boot fields, or the set of its bootable VBDs, differ from what its
 * domain was built from.
 */
export function bootIsStale(vm: VmRecord, boot: BootRecord, bootableUserdevices: readonly string[]): boolean {
  if (effectiveDomainType(vm) !== boot.domain_type) return true;
  if (vm.HVM_boot_policy !== boot.HVM_boot_policy) return true;
  if (JSON.stringify(sortedMap(vm.HVM_boot_params)) !== JSON.stringify(sortedMap(boot.HVM_boot_params)))
    return true;
  if (JSON.stringify(bootableUserdevices) !== JSON.stringify(boot.bootableUserdevices)) return true;
  return (
    vm.PV_bootloader !== boot.PV_bootloader ||
    vm.PV_kernel !== boot.PV_kernel ||
    vm.PV_ramdisk !== boot.PV_ramdisk ||
    vm.PV_args !== boot.PV_args ||
    vm.PV_bootloader_args !== boot.PV_bootloader_args
  );
}

function sortedMap(m: Record<string, string>): [string, string][] {
  return Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
