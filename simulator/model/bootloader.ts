/**
 * The PV bootloader a domain build runs (`ocaml/xenopsd/lib/bootloader.ml`): its argument vector, and
 * what it finds on the guest's disks — the default entry of a GRUB legacy menu.lst, else a kernel and
 * initrd it recognises. See docs/simulator-behaviour.md#booting.
 */
import type { BootDiskInput } from "./boot";
import type { VmRecord } from "./records";
import type { BootloaderRun } from "./snapshot";
import { BOOTLOADER_PATHS } from "./vocabulary";

/**
 * The bootloader's argument vector. From XAPI (xenopsd `Bootloader.command`,
 * docs/simulator-behaviour.md#booting): pygrub gets
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
