/**
 * Boot configuration between the resource's `pv` / `hvm` blocks and XAPI's fields, for the provider.
 * The mapping itself lives in `provider/boot/schema.ts` (`toXapiBootFields`/`fromXapiBootFields`);
 * this module adds what the resource needs around it: a base record for planning without a live
 * read, the read-back block for `refresh`, the effective-boot output and pending-change paths.
 */

import { fromXapiBootFields, PV_FIELD_OF, PV_KEYS, toXapiBootFields } from "../boot/schema";
import {
  type DeclaredBootFields,
  DomainType,
  domainTypeOf,
  type ObservedDisk,
  resolveDeclaredBoot,
  type XapiBootFields,
} from "../model/boot";
import { sameValue } from "../model/boot-fields";
import { diskNumberOf } from "../model/device-number";
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

/**
 * The XAPI fields a declaration manages, or `undefined` when it declares no boot block. Only what the
 * block declares (see `toXapiBootFields`): `pv: { bootloader: "pygrub" }` manages the domain type and
 * `PV_bootloader`, not `PV_args`. The seed's pygrub rule needs the VM's fields and is added by the
 * planner (`resolveDeclaredBoot`), not here.
 */
export function declaredBootFields(decl: BootDeclaration): DeclaredBootFields | undefined {
  if (decl.pv !== undefined) return toXapiBootFields({ pv: decl.pv });
  if (decl.hvm !== undefined) return toXapiBootFields({ hvm: decl.hvm });
  return undefined;
}

/**
 * The declared boot fields plus the declared bootable disks (`bootableDisks` → `bootableUserdevices`),
 * what the planner and executor take; `undefined` when neither is declared. Partial like
 * {@link declaredBootFields}: a PV field the block omits is absent here, so no plan writes it.
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
    .sort((a, b) => (diskNumberOf(a) ?? 0) - (diskNumberOf(b) ?? 0));
}

/**
 * The boot fields a VM would have after a plan applied the declaration to a VM whose fields are
 * unknown ({@link UNKNOWN_BOOT}): the declared fields, the others as in `UNKNOWN_BOOT` (empty), and the
 * seed's pygrub rule applied to the result (`resolveDeclaredBoot`), as the planner would. Used to plan
 * a preview from the previous declaration when the VM is not read.
 *
 * @example
 * assumedBootFields({ pv: { args: "quiet" } })
 * // → { ...UNKNOWN_BOOT, domain_type: "pv", PV_bootloader: "pygrub", PV_args: "quiet" }
 */
export function assumedBootFields(decl: BootDeclaration): XapiBootFields {
  const declared = declaredBootFields(decl);
  if (declared === undefined) return UNKNOWN_BOOT;
  const resolved = resolveDeclaredBoot(declared, UNKNOWN_BOOT);
  return {
    ...UNKNOWN_BOOT,
    ...resolved,
    HVM_boot_params: { ...UNKNOWN_BOOT.HVM_boot_params, ...(resolved.HVM_boot_params ?? {}) },
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
 * The declaration as it is really on the VM, for `read` (refresh), in the shape the user declared so
 * that refresh-then-preview shows exactly the drift and nothing else:
 * - no block declared → `{}` (boot not managed);
 * - the VM has every field the block manages (`matches`) → the declared block itself, e.g.
 *   `pv: { bootloader: "pygrub" }` on a VM with `PV_args` "console=hvc0" stays
 *   `{ pv: { bootloader: "pygrub" } }`;
 * - otherwise the observed block with the keys the user declared, each with the VM's value, plus every
 *   key the plan would write that the user did not (a cleared bootloader for a direct kernel, or the
 *   seed's "pygrub" when the VM's bootloader and kernel are both empty), with the VM's value;
 * - a VM whose domain type changed gets the other block: HVM with its order (firmware when the user
 *   manages it or it is not XAPI's default "bios"), or PV with its non-empty fields.
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
  const wanted = decl.pv === undefined ? undefined : resolveDeclaredBoot(declared, fields);
  const pv: Record<string, string> = {};
  for (const key of PV_KEYS) {
    const want = wanted?.[PV_FIELD_OF[key]];
    const keep =
      wanted === undefined
        ? observed[key] !== ""
        : decl.pv?.[key] !== undefined || (want !== undefined && want !== observed[key]);
    if (keep) pv[key] = observed[key];
  }
  // The domain type is reported when the user manages it, or when it is not what the block would build.
  const observedType = domainTypeOf(fields);
  if (
    decl.pv?.domainType !== undefined ||
    (wanted?.domain_type !== undefined && wanted.domain_type !== observedType)
  ) {
    pv.domainType = observedType;
  }
  return { pv };
}

/**
 * True when a plan would write none of the declared boot fields: every field of the declaration,
 * completed by `resolveDeclaredBoot` against `fields` (the seed's pygrub rule), already has its
 * declared value (`HVM_boot_params`: the declared keys only). `bootableUserdevices` is not compared.
 */
export function matches(declared: DeclaredBootFields, fields: XapiBootFields): boolean {
  for (const [key, value] of Object.entries(resolveDeclaredBoot(declared, fields))) {
    if (key === "bootableUserdevices") continue;
    if (key === "HVM_boot_params") {
      const params = value as Readonly<Record<string, string>>;
      if (Object.entries(params).some(([k, v]) => fields.HVM_boot_params[k] !== v)) return false;
    } else if (!sameValue(fields[key as keyof XapiBootFields], value)) {
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
