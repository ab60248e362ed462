/**
 * Boot configuration semantics, pure: the domain_type ↔ HVM_boot_policy coupling (xapi-semantics
 * §7.3), boot-method selection and start-time validation (§7.4, §2.2), and the record of what a
 * domain was built from (§7.6).
 */
import { XapiFault } from "../api";
import type { VmRecord } from "./records";
import type { BootRecord } from "./snapshot";
import {
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
 * Start-time checks of the boot configuration, in the order xapi/xenopsd meet them:
 * actions_after_crash (§2.2, `validate_actions_after_crash`), then the builder (§7.4).
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
  if (!KNOWN_BOOTLOADERS.has(vm.PV_bootloader)) {
    // xenopsd's Unknown_bootloader reaches the API as INTERNAL_ERROR, not UNKNOWN_BOOTLOADER (§7.4). [INFERRED text]
    return new XapiFault(ErrorCode.internalError, [
      `xenopsd internal error: Bootloader.Unknown_bootloader("${vm.PV_bootloader}")`,
    ]);
  }
  return undefined;
}

/** The record of a domain build from the VM's current boot fields (§7.6). */
export function bootRecordOf(
  vm: VmRecord,
  via: string,
  domid: number,
  bootNumber: number,
  atMs: number,
): BootRecord {
  const domainType = effectiveDomainType(vm);
  const method: BootRecord["method"] =
    domainType === "hvm" ? "hvm" : vm.PV_bootloader === "" ? "pv-direct" : "pv-bootloader";
  const order = vm.HVM_boot_params.order;
  return {
    domain_type: domainType,
    method,
    HVM_boot_policy: vm.HVM_boot_policy,
    HVM_boot_params: { ...vm.HVM_boot_params },
    order: order === undefined || order === "" ? "cd" : order,
    firmware: vm.HVM_boot_params.firmware ?? "bios",
    PV_bootloader: vm.PV_bootloader,
    PV_kernel: vm.PV_kernel,
    PV_ramdisk: vm.PV_ramdisk,
    PV_args: vm.PV_args,
    PV_bootloader_args: vm.PV_bootloader_args,
    PV_legacy_args: vm.PV_legacy_args,
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

/** True when the VM's current boot fields differ from what its domain was built from. */
export function bootIsStale(vm: VmRecord, boot: BootRecord): boolean {
  if (effectiveDomainType(vm) !== boot.domain_type) return true;
  if (vm.HVM_boot_policy !== boot.HVM_boot_policy) return true;
  if (JSON.stringify(sortedMap(vm.HVM_boot_params)) !== JSON.stringify(sortedMap(boot.HVM_boot_params)))
    return true;
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
