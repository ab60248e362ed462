/**
 * Boot configuration semantics, pure: the domain_type ↔ HVM_boot_policy coupling (xapi-semantics
 * §7.3), start-time validation (§7.4, §2.2), the boot outcome of a domain build — QEMU's order and
 * firmware for HVM, the kernel, initrd and command line for PV, the bootloader's argument vector and
 * the disks it was given — and the record of what a domain was built from (§7.6).
 *
 * Where xapi-sim follows XAPI and where it follows the seed ("VM boot parameters") is listed in
 * simulator/README.md, "Boot outcome"; each rule below names its source.
 */
import { XapiFault } from "../api";
import { userdeviceNumber, type VmRecord } from "./records";
import type { BootDisk, BootloaderRun, BootRecord, GuestDiskContent } from "./snapshot";
import {
  BOOTLOADER_PATHS,
  ErrorCode,
  GUEST_KERNEL_DIR,
  HVM_DEFAULT_BOOT_POLICY,
  KNOWN_BOOTLOADERS,
  type SimDomainType,
} from "./vocabulary";

/** `derive_domain_type`: an empty HVM_boot_policy means PV, anything else HVM (§7.3). */
export function deriveDomainType(hvmBootPolicy: string): SimDomainType {
  return hvmBootPolicy === "" ? "pv" : "hvm";
}

/** `derive_hvm_boot_policy`: hvm → "BIOS order", everything else → "" (§7.3). */
export function deriveHvmBootPolicy(domainType: SimDomainType): string {
  return domainType === "hvm" ? HVM_DEFAULT_BOOT_POLICY : "";
}

/** `ensure_domain_type_is_specified`: the domain type a start builds (§7.3). */
export function effectiveDomainType(vm: Pick<VmRecord, "domain_type" | "HVM_boot_policy">): SimDomainType {
  return vm.domain_type === "unspecified" ? deriveDomainType(vm.HVM_boot_policy) : vm.domain_type;
}

/** PV, PVH and PV-in-PVH boot through the PV path (§7.4) and count as "implicit support" (§4.3). */
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
 * (§2.2, `validate_actions_after_crash`), HVM firmware, then the direct-boot kernel and ramdisk paths
 * that xapi checks before handing the VM to xenopsd (§7.4). The disk-dependent checks (no bootable
 * device, unknown bootloader, bootloader failure) come later, in {@link bootOutcome}.
 */
export function bootConfigError(vm: VmRecord): XapiFault | undefined {
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
 * - HVM (§7.4): QEMU gets `order` ("cd" when absent or empty) and the firmware; every non-empty disk
 *   and CD drive is attached; `bootDevice` is the first device of the order that has media.
 * - PV direct (`PV_bootloader` ""): kernel and ramdisk are the control-domain paths, the command line
 *   is `PV_args` (§7.4; the seed: "treated as paths within the control domain").
 * - PV with a bootloader: the disks are the VBDs with `bootable` set that are not empty, ALL of them
 *   (the seed: "the paths of all bootable disks are added"; XAPI passes only the first), sorted by
 *   userdevice. None → INTERNAL_ERROR "there is no bootable device" (xenopsd `No_bootable_device`,
 *   raised before the bootloader is looked up). A name other than pygrub/eliloader → INTERNAL_ERROR
 *   (`Unknown_bootloader`, XAPI; full paths are refused). Then see {@link runBootloader}.
 */
export function bootOutcome(vm: VmRecord, vmRef: string, disks: readonly BootDiskInput[]): BootResult {
  const domainType = effectiveDomainType(vm);
  const sorted = [...disks].sort(byUserdevice);
  const bootableUserdevices = sorted.filter((d) => d.bootable).map((d) => d.userdevice);
  const none = {
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

  if (domainType === "hvm") {
    const order = qemuOrder(vm);
    const attached = sorted.filter((d) => !d.empty && d.type !== "Floppy");
    return {
      ok: true,
      outcome: {
        ...none,
        domain_type: domainType,
        method: "hvm",
        qemuBootOrder: order,
        bootDevice: firstBootDevice(order, attached),
        disks: attached.map(diskOf),
        bootableUserdevices,
      },
    };
  }

  if (vm.PV_bootloader === "") {
    return {
      ok: true,
      outcome: {
        ...none,
        domain_type: domainType,
        method: "pv-direct",
        kernel: vm.PV_kernel,
        ramdisk: vm.PV_ramdisk,
        // Direct boot: the command line is PV_args (§7.4).
        cmdline: vm.PV_args,
        kernelSource: "dom0",
        disks: [],
        bootableUserdevices,
      },
    };
  }

  const passed = sorted.filter((d) => d.bootable && !d.empty && d.path !== null);
  if (passed.length === 0) {
    // xenopsd: `Indirect { devices = [] } -> raise No_bootable_device` (§7.4). [INFERRED text]
    return {
      ok: false,
      error: new XapiFault(ErrorCode.internalError, ["xenopsd internal error: there is no bootable device"]),
    };
  }
  if (!KNOWN_BOOTLOADERS.has(vm.PV_bootloader)) {
    // xenopsd's Unknown_bootloader reaches the API as INTERNAL_ERROR, not UNKNOWN_BOOTLOADER (§7.4). [INFERRED text]
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
    // pygrub's "RuntimeError: <msg>" becomes BOOTLOADER_FAILED [vm; msg] (§7.4). [INFERRED text]
    return {
      ok: false,
      error: new XapiFault(ErrorCode.bootloaderFailed, [vmRef, "Unable to find partition containing kernel"]),
    };
  }
  return {
    ok: true,
    outcome: {
      ...none,
      domain_type: domainType,
      method: "pv-bootloader",
      bootloader: run,
      kernel: found.kernel,
      ramdisk: found.ramdisk,
      // xenopsd: sprintf "%s %s %s" <bootloader args> PV_legacy_args PV_args (bootloader.ml, §7.4);
      // the seed: "PV/args is appended to the kernel command line, no matter which mechanism".
      cmdline: `${found.args} ${vm.PV_legacy_args} ${vm.PV_args}`,
      kernelSource: found.source,
      menuEntry: found.title,
      bootDisk: found.disk,
      disks: passed.map(diskOf),
      bootableUserdevices,
    },
  };
}

/** QEMU's boot order: `HVM_boot_params.order`, "cd" when absent or empty (XSI-804, §7.4). */
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

/**
 * The bootloader's argument vector. From XAPI (xenopsd `Bootloader.command`, §7.4): pygrub gets
 * `--output-format=simple -q`, eliloader `-q --vm <uuid>`, then `PV_bootloader_args` split on single
 * spaces exactly as xenopsd does (`Astring.String.cuts ~sep:" "`: no quoting, empty pieces kept).
 * From the seed ("PV/kernel, PV/ramdisk, PV/args and PV/bootloader_args will be passed to the
 * bootloader unmodified"; XAPI does not pass the first three): pygrub also gets `--kernel=`,
 * `--ramdisk=` and `--args=` for the non-empty ones, the options pygrub itself understands and the
 * way xend (the seed's XenAPI 1.0 toolstack) passed them. eliloader has no such options. Last come
 * the paths of all bootable disks (the seed; XAPI passes the first only).
 */
export function bootloaderRun(vm: VmRecord, disks: readonly BootDiskInput[]): BootloaderRun {
  const name = vm.PV_bootloader;
  const path = BOOTLOADER_PATHS[name] ?? name;
  const split = vm.PV_bootloader_args === "" ? [] : vm.PV_bootloader_args.split(" ");
  const paths = disks.flatMap((d) => (d.path === null ? [] : [d.path]));
  if (name === "eliloader") return { name, path, argv: [path, "-q", "--vm", vm.uuid, ...split, ...paths] };
  const seed = [
    ...(vm.PV_kernel === "" ? [] : [`--kernel=${vm.PV_kernel}`]),
    ...(vm.PV_ramdisk === "" ? [] : [`--ramdisk=${vm.PV_ramdisk}`]),
    ...(vm.PV_args === "" ? [] : [`--args=${vm.PV_args}`]),
  ];
  return { name, path, argv: [path, "--output-format=simple", "-q", ...seed, ...split, ...paths] };
}

/** What the simulated bootloader found. */
interface Found {
  readonly kernel: string;
  readonly ramdisk: string;
  /** The command line from the guest's config ("" when none). */
  readonly args: string;
  readonly source: "menu.lst" | "specified" | "autodetected";
  readonly title: string | null;
  readonly disk: string;
}

/**
 * The simulated pygrub (eliloader is simulated the same way): "the bootloader decides which disk (if
 * any) to boot from" — it takes the first disk, in the order given, on which it finds a kernel, and on
 * each disk applies the seed's pygrub rule: "the menu.lst is parsed if present in the guest's
 * filesystem, otherwise the specified kernel and ramdisk are used, or an autodetected kernel is used
 * if nothing is specified and autodetection is possible". A menu.lst wins over `PV_kernel` (the
 * seed's "the bootloader will ignore some or all of those given values"). A specified kernel must
 * exist on the disk; a ramdisk is only used with a specified kernel. Autodetection picks the newest
 * `/boot/vmlinuz-<version>` (then `/vmlinuz`) and its initrd. `undefined`: no disk has a kernel.
 */
export function runBootloader(vm: VmRecord, disks: readonly BootDiskInput[]): Found | undefined {
  for (const disk of disks) {
    const content = disk.content;
    if (content === null) continue;
    const menu = content.menuLst === null ? undefined : parseMenuLst(content.menuLst);
    if (menu !== undefined) {
      return { ...menu, source: "menu.lst", disk: disk.userdevice };
    }
    if (vm.PV_kernel !== "") {
      if (!content.files.includes(vm.PV_kernel)) continue;
      const ramdisk = vm.PV_ramdisk !== "" && content.files.includes(vm.PV_ramdisk) ? vm.PV_ramdisk : "";
      return {
        kernel: vm.PV_kernel,
        ramdisk,
        args: "",
        source: "specified",
        title: null,
        disk: disk.userdevice,
      };
    }
    const auto = autodetect(content.files);
    if (auto !== undefined) {
      return { ...auto, args: "", source: "autodetected", title: null, disk: disk.userdevice };
    }
  }
  return undefined;
}

/** The default entry of a GRUB legacy menu.lst, or `undefined` when it has no bootable entry. */
export function parseMenuLst(
  text: string,
): { kernel: string; ramdisk: string; args: string; title: string } | undefined {
  let defaultIndex = 0;
  const entries: { title: string; kernel?: string; args: string; ramdisk: string }[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    // "keyword value" or "keyword=value"; the value's own "=" (root=/dev/xvda1) are kept.
    const match = /^(\S+?)(?:[\s=]+(.*))?$/.exec(line);
    const keyword = match?.[1] ?? "";
    const value = (match?.[2] ?? "").trim();
    const rest = value.split(/\s+/).filter((w) => w !== "");
    const entry = entries[entries.length - 1];
    switch (keyword.toLowerCase()) {
      case "default":
        // "saved" and other non-numbers fall back to the first entry, as pygrub does.
        defaultIndex = /^\d+$/.test(value) ? Number(value) : 0;
        break;
      case "title":
        entries.push({ title: value, args: "", ramdisk: "" });
        break;
      case "kernel":
        if (entry) {
          const [path = "", ...args] = rest;
          entry.kernel = stripGrubDevice(path);
          entry.args = args.join(" ");
        }
        break;
      case "initrd":
        if (entry) entry.ramdisk = stripGrubDevice(rest[0] ?? "");
        break;
      default:
        break;
    }
  }
  const bootable = entries.filter((e) => e.kernel !== undefined && e.kernel !== "");
  if (bootable.length === 0) return undefined;
  const chosen = entries[defaultIndex]?.kernel ? entries[defaultIndex] : bootable[0];
  if (chosen?.kernel === undefined) return undefined;
  return { kernel: chosen.kernel, ramdisk: chosen.ramdisk, args: chosen.args, title: chosen.title };
}

/** "(hd0,0)/boot/vmlinuz" → "/boot/vmlinuz". */
function stripGrubDevice(path: string): string {
  return path.replace(/^\([^)]*\)/, "");
}

function autodetect(files: readonly string[]): { kernel: string; ramdisk: string } | undefined {
  const kernels = files
    .filter((f) => /^\/boot\/vmlinu[xz]-/.test(f))
    .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
  const kernel = kernels[0] ?? files.find((f) => f === "/vmlinuz" || f === "/boot/vmlinuz");
  if (kernel === undefined) return undefined;
  const version = kernel.replace(/^.*\/vmlinu[xz]-?/, "");
  const ramdisk =
    version === ""
      ? files.find((f) => f === "/initrd.img" || f === "/boot/initrd.img")
      : files.find((f) => /^\/boot\/initr(d|amfs)/.test(f) && f.includes(version));
  return { kernel, ramdisk: ramdisk ?? "" };
}

//////////////////////////////
////   boot record        ////
//////////////////////////////

/** The record of a domain build: the VM's boot fields at build time plus the outcome (§7.6). */
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
