/**
 * Boot configuration in XAPI's own field names (the `VM` class fields `domain_type`, `HVM_boot_*` and
 * `PV_*`, `ocaml/idl/datamodel_vm.ml` in xen-api). This is what the planner compares and what the setter
 * steps write; the user-facing `pv` / `hvm` blocks (zod, see `provider/boot/schema.ts`) are mapped to it
 * in exactly one place. How XAPI's setters change these fields: `provider/model/boot-fields.ts`.
 */
import { domainTypeForBootPolicy } from "./boot-fields";
import { DomainType } from "./vocabulary";

export { DomainType };

/** The boot-relevant fields of a VM record, as XAPI names them. */
export interface XapiBootFields {
  readonly domain_type: DomainType;
  readonly HVM_boot_policy: string;
  readonly HVM_boot_params: Readonly<Record<string, string>>;
  readonly PV_bootloader: string;
  readonly PV_kernel: string;
  readonly PV_ramdisk: string;
  readonly PV_args: string;
  readonly PV_bootloader_args: string;
}

/**
 * The fields a declaration manages; fields left out are not touched by a plan.
 *
 * Besides the VM's own fields, a declaration may manage which of the VM's disks are bootable: that is
 * `VBD.bootable` on the VM's VBDs (the seed: "a disk is bootable if its VBD has the bootable flag
 * set"), which a bootloader boot reads at every start and reboot like the VM's boot fields
 * (docs/xapi-facts.md, "A boot change reaches a live domain only when the domain is rebuilt").
 */
export interface DeclaredBootFields extends Partial<XapiBootFields> {
  /**
   * The `userdevice` of every VBD that must be bootable, e.g. `["0"]`; every other VBD of the VM must
   * not be. `[]` = no disk bootable. `undefined` = the bootable flags are not managed.
   */
  readonly bootableUserdevices?: readonly string[] | undefined;
}

/** One VBD of a VM as the planner sees it (read with `VM.get_VBDs` / `VBD.get_record`). */
export interface ObservedDisk {
  /** The VBD's slot, a decimal string ("0", "1", "3"). */
  readonly userdevice: string;
  readonly bootable: boolean;
}

/** QEMU's boot order when `HVM_boot_params.order` is absent or empty (XSI-804): disk, then CD-ROM. */
export const DEFAULT_HVM_BOOT_ORDER = "cd";

/** The PV bootloader XAPI knows by name; the seed's default when neither bootloader nor kernel is set. */
export const PYGRUB = "pygrub";

/** The other bootloader XAPI runs by name (the installer's kernel from install media; XenServer's `eliloader`). */
export const ELILOADER = "eliloader";

/** Domain types that boot a PV kernel (directly or through a bootloader): the seed's PV group. */
export const PV_LIKE_DOMAIN_TYPES: readonly DomainType[] = [
  DomainType.pv,
  DomainType.pvh,
  DomainType.pvInPvh,
];

/** True for `pv`, `pvh` and `pv_in_pvh`. */
export function isPvLike(domainType: DomainType): boolean {
  return PV_LIKE_DOMAIN_TYPES.includes(domainType);
}

/**
 * The domain type XAPI builds for a VM record: its `domain_type`, or, where the record has none (XAPI
 * before API 2.10, XenAPI 1.0) or it is "unspecified", the one derived from `HVM_boot_policy` (empty ⇒
 * PV, as the seed says and as XAPI's `derive_domain_type` does).
 */
export function domainTypeOf(record: {
  domain_type?: DomainType | undefined;
  HVM_boot_policy: string;
}): DomainType {
  const t = record.domain_type;
  if (t !== undefined && t !== DomainType.unspecified) return t;
  return domainTypeForBootPolicy(record.HVM_boot_policy);
}

/**
 * Completes a declaration with the rule that needs the VM's own fields: the seed's "If PV/bootloader
 * and PV/kernel are both empty, then the behaviour is as if PV/bootloader was specified as pygrub".
 *
 * It also settles a `pv` block's domain type (`HVM_boot_policy: ""` without a `domain_type`): the VM's
 * own when it is PV-like (`pvh`, `pv_in_pvh` are kept, never silently converted), `"pv"` for an HVM VM.
 *
 * A PV declaration (`HVM_boot_policy: ""`) names only the PV fields the user wrote; the others keep the
 * VM's (or template's) value. So the rule is checked against the fields the VM will *have*: the
 * effective bootloader is the declared one, else the observed one, and likewise the kernel. When both
 * are empty, `PV_bootloader: "pygrub"` is declared: current XAPI does not apply the seed's fallback (an
 * empty bootloader always means a direct boot: `boot_method_of_vm` in xen-api's `ocaml/xapi/helpers.ml`), so the provider writes it.
 *
 * Any other declaration (HVM, none) is returned unchanged.
 * Pure; returns `declared` itself when nothing is added. The planner applies it first, so every plan
 * (executor, preview, `xapi-plan`) follows the rule.
 *
 * @param declared the fields a declaration manages (`toXapiBootFields`' result, plus bootable disks).
 * @param observed the VM's current boot fields.
 * @returns `declared`, with `PV_bootloader: "pygrub"` when the resulting bootloader and kernel are both empty.
 * @example
 * const declared = { domain_type: "pv", HVM_boot_policy: "", PV_args: "x" };  // pv: { args: "x" }
 * resolveDeclaredBoot(declared, { ...vm, PV_bootloader: "", PV_kernel: "" })
 * // → { ...declared, PV_bootloader: "pygrub" }
 * resolveDeclaredBoot(declared, { ...vm, PV_bootloader: "", PV_kernel: "/var/lib/xcp/guest/vmlinuz" })
 * // → declared, unchanged: the VM boots its kernel directly
 */
export function resolveDeclaredBoot(
  declared: DeclaredBootFields,
  observed: XapiBootFields,
): DeclaredBootFields {
  const pvBlock =
    declared.HVM_boot_policy === "" && (declared.domain_type === undefined || isPvLike(declared.domain_type));
  if (!pvBlock) return declared;
  // A pv block without a domain type keeps a PV-like VM's own (pvh stays pvh) and makes an HVM VM "pv".
  const observedType = domainTypeOf(observed);
  const domainType = declared.domain_type ?? (isPvLike(observedType) ? observedType : DomainType.pv);
  const typed = declared.domain_type === domainType ? declared : { ...declared, domain_type: domainType };
  const bootloader = declared.PV_bootloader ?? observed.PV_bootloader;
  const kernel = declared.PV_kernel ?? observed.PV_kernel;
  if (bootloader !== "" || kernel !== "") return typed;
  return { ...typed, PV_bootloader: PYGRUB };
}
