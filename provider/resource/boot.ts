/**
 * Boot configuration between the resource's `pv` / `hvm` blocks and XAPI's fields, for the provider.
 * The mapping itself lives in `provider/boot/schema.ts` (`toXapiBootFields`/`fromXapiBootFields`);
 * this module adds what the resource needs around it: a base record for planning without a live
 * read, the read-back block for `refresh`, the effective-boot output and pending-change paths.
 */
import { fromXapiBootFields, normalizePv, toXapiBootFields } from "../boot/schema";
import { type DeclaredBootFields, DomainType, type ObservedDisk, type XapiBootFields } from "../model/boot";
import { SetterCall } from "../model/vocabulary";
import type { EffectiveBoot, HvmBoot, PvBoot } from "./types";

/** The declared `pv` / `hvm` block of a resource (at most one is set). */
export interface BootDeclaration {
  readonly pv?: PvBoot | undefined;
  readonly hvm?: HvmBoot | undefined;
}

/**
 * A VM whose boot fields are not known (a template not read yet, or a VM whose boot config was not
 * managed so far): every declared field differs from it, so a plan made against it lists every
 * setter; the executor skips those the VM already has.
 */
export const UNKNOWN_BOOT: XapiBootFields = {
  domain_type: DomainType.unspecified,
  HVM_boot_policy: "",
  HVM_boot_params: {},
  PV_bootloader: "",
  PV_kernel: "",
  PV_ramdisk: "",
  PV_args: "",
  PV_bootloader_args: "",
};

/** The XAPI fields a declaration manages, or `undefined` when it declares no boot block. */
export function declaredBootFields(decl: BootDeclaration): DeclaredBootFields | undefined {
  if (decl.pv !== undefined) return toXapiBootFields({ pv: decl.pv });
  if (decl.hvm !== undefined) return toXapiBootFields({ hvm: decl.hvm });
  return undefined;
}

/**
 * The declared boot fields plus the declared bootable disks (`bootableDisks` → `bootableUserdevices`),
 * what the planner and executor take; `undefined` when neither is declared.
 */
export function declaredBootWithDisks(
  decl: BootDeclaration & { readonly bootableDisks?: readonly string[] | undefined },
): DeclaredBootFields | undefined {
  const fields = declaredBootFields(decl);
  if (decl.bootableDisks === undefined) return fields;
  return { ...(fields ?? {}), bootableUserdevices: [...decl.bootableDisks] };
}

/** userdevices of the bootable disks among `disks`, sorted numerically (the `bootableDisks` output). */
export function bootableOf(disks: readonly ObservedDisk[]): string[] {
  return disks
    .filter((d) => d.bootable)
    .map((d) => d.userdevice)
    .sort((a, b) => Number(a) - Number(b));
}

/** The boot fields a VM would have if it had exactly the declaration (over {@link UNKNOWN_BOOT}). */
export function assumedBootFields(decl: BootDeclaration): XapiBootFields {
  const declared = declaredBootFields(decl) ?? {};
  return {
    ...UNKNOWN_BOOT,
    ...declared,
    HVM_boot_params: { ...UNKNOWN_BOOT.HVM_boot_params, ...(declared.HVM_boot_params ?? {}) },
  };
}

/** The `effectiveBoot` output: domain type plus the block XAPI will boot with (defaults filled in). */
export function effectiveBootOf(fields: XapiBootFields): EffectiveBoot {
  const effective = fromXapiBootFields(fields);
  if ("hvm" in effective) {
    const { order, firmware } = effective.hvm.bootParams;
    return {
      domainType: fields.domain_type,
      hvm: { bootParams: { order, firmware: firmware === "uefi" ? "uefi" : "bios" } },
    };
  }
  return { domainType: fields.domain_type, pv: { ...effective.pv } };
}

/**
 * The declaration as it is really on the VM, for `read` (refresh): the declared block when every
 * field it manages matches; otherwise the observed block, keeping the keys the user declared plus
 * every key that differs, so the next preview shows exactly the drift. A VM whose domain type
 * changed gets the other block.
 */
export function observedDeclaration(decl: BootDeclaration, fields: XapiBootFields): BootDeclaration {
  const declared = declaredBootFields(decl);
  if (declared === undefined) return {};
  if (matches(declared, fields)) return decl.pv !== undefined ? { pv: decl.pv } : { hvm: decl.hvm };

  const effective = fromXapiBootFields(fields);
  if ("hvm" in effective) {
    const firmware = effective.hvm.bootParams.firmware === "uefi" ? "uefi" : "bios";
    // firmware is reported when the user manages it, or when it is not XAPI's default.
    const withFirmware =
      decl.hvm !== undefined ? decl.hvm.bootParams.firmware !== undefined : firmware !== "bios";
    return {
      hvm: { bootParams: { order: effective.hvm.bootParams.order, ...(withFirmware ? { firmware } : {}) } },
    };
  }
  const observed = effective.pv;
  const wanted = decl.pv === undefined ? undefined : normalizePv(decl.pv);
  const pv: Record<string, string> = {};
  for (const key of ["bootloader", "kernel", "ramdisk", "args", "bootloaderArgs"] as const) {
    const keep =
      wanted === undefined
        ? observed[key] !== ""
        : decl.pv?.[key] !== undefined || wanted[key] !== observed[key];
    if (keep) pv[key] = observed[key];
  }
  return { pv };
}

/** True when every declared field already has its declared value (HVM_boot_params: declared keys only). */
export function matches(declared: DeclaredBootFields, fields: XapiBootFields): boolean {
  for (const [key, value] of Object.entries(declared)) {
    if (key === "HVM_boot_params") {
      const params = value as Readonly<Record<string, string>>;
      if (Object.entries(params).some(([k, v]) => fields.HVM_boot_params[k] !== v)) return false;
    } else if (fields[key as keyof XapiBootFields] !== value) {
      return false;
    }
  }
  return true;
}

/** Resource property paths written by a boot setter, for `pendingBootChanges`. */
const PATHS_OF_SETTER: Readonly<Record<string, readonly string[]>> = {
  [SetterCall.setDomainType]: ["domainType"],
  [SetterCall.setHvmBootPolicy]: ["domainType"],
  [SetterCall.setPvBootloader]: ["pv.bootloader"],
  [SetterCall.setPvKernel]: ["pv.kernel"],
  [SetterCall.setPvRamdisk]: ["pv.ramdisk"],
  [SetterCall.setPvArgs]: ["pv.args"],
  [SetterCall.setPvBootloaderArgs]: ["pv.bootloaderArgs"],
  [SetterCall.setVbdBootable]: ["bootableDisks"],
};

/**
 * The property paths changed by setter steps (`VM.set_HVM_boot_params` names the keys it changed,
 * e.g. `hvm.bootParams.order`), sorted and without duplicates.
 */
export function changedBootPaths(
  steps: readonly { readonly call: string; readonly args: Readonly<Record<string, unknown>> }[],
  before: XapiBootFields,
): string[] {
  const paths = new Set<string>();
  for (const step of steps) {
    if (step.call === SetterCall.setHvmBootParams) {
      const value = (step.args.value ?? {}) as Readonly<Record<string, string>>;
      for (const [k, v] of Object.entries(value)) {
        if (before.HVM_boot_params[k] !== v) paths.add(`hvm.bootParams.${k}`);
      }
    } else {
      for (const p of PATHS_OF_SETTER[step.call] ?? []) paths.add(p);
    }
  }
  return [...paths].sort();
}
