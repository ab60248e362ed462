/**
 * The user-facing boot configuration (`pv` / `hvm` blocks), faithful to the seed's "VM boot parameters"
 * (XenAPI 1.0 `vm-lifecycle.tex`), and its mapping to XAPI's fields (`provider/model/boot.ts`).
 *
 * - `pv` and `hvm` are mutually exclusive groups (the seed: "one of the two mutually exclusive groups").
 *   Both are strict objects: a misspelt key fails instead of being ignored.
 * - PV: `bootloader` is "pygrub" or a full control-domain path. Bootloader empty + kernel set = direct
 *   kernel boot (kernel and ramdisk are control-domain paths). `kernel`/`ramdisk`/`args`/`bootloaderArgs`
 *   are otherwise passed unmodified. Only the fields the user writes are declared: an omitted field keeps
 *   the VM's (or template's) value. **Bootloader and kernel both empty = as if "pygrub"**: the seed says
 *   so, current XAPI does not do it (empty bootloader always means direct boot, `resolveDeclaredBoot`), so the provider
 *   writes "pygrub" when the VM's *resulting* bootloader and kernel are both empty. That needs the VM's
 *   fields, so it is `resolveDeclaredBoot` (`provider/model/boot.ts`), applied by the planner.
 * - HVM: policy "BIOS order" with `bootParams.order` (the QEMU boot order) and optional `firmware`.
 *
 * `toXapiBootFields` is the only place the block → field mapping lives; `fromXapiBootFields` is its
 * inverse, for reporting the effective configuration of a VM.
 */
import { z } from "zod";
import {
  DEFAULT_HVM_BOOT_ORDER,
  type DeclaredBootFields,
  DomainType,
  domainTypeOf,
  ELILOADER,
  PYGRUB,
  type XapiBootFields,
} from "../model/boot";
import { HVM_DEFAULT_BOOT_POLICY } from "../model/boot-fields";
import { formatReceived, invalid } from "../model/wording";

export { ELILOADER, PYGRUB };

/** XAPI's HVM boot policy (`Constants.hvm_default_boot_policy`), the only one the seed defines. */
export const HVM_BOOT_POLICY = HVM_DEFAULT_BOOT_POLICY;

/** QEMU's boot order when `HVM_boot_params.order` is absent or empty (XSI-804). */
export const DEFAULT_BOOT_ORDER = DEFAULT_HVM_BOOT_ORDER;

/** HVM firmware values XAPI accepts in `HVM_boot_params.firmware` (anything else: INVALID_VALUE). */
export const Firmware = { bios: "bios", uefi: "uefi" } as const;
export type Firmware = (typeof Firmware)[keyof typeof Firmware];

/**
 * Boot devices QEMU's PC machine accepts in `-boot order=`: a, b (floppy), c (first disk),
 * d (first CD-ROM), n (network). QEMU's `validate_bootdevices` rejects a repeated letter and
 * `set_boot_dev` (hw/i386/pc.c) rejects any other letter and more than 3 devices.
 */
export const BootDevice = { a: "floppy", b: "floppy", c: "disk", d: "CD-ROM", n: "network" } as const;
export type BootDevice = keyof typeof BootDevice;

/** `PC_MAX_BOOT_DEVICES` in QEMU's hw/i386/pc.c. */
export const MAX_BOOT_DEVICES = 3;

//////////////////////////////
////   error wording      ////
//////////////////////////////

// The one wording formula lives in provider/model/wording.ts; re-exported for this module's users.
export { formatReceived, invalid };

//////////////////////////////
////   validators         ////
//////////////////////////////

/** A full path in the control domain (dom0): absolute, no whitespace or control characters. */
export function isControlDomainPath(s: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is rejected
  return /^\/[^\s\u0000-\u001f]*[^\s\u0000-\u001f/]$/.test(s);
}

/**
 * Checks a QEMU boot order (`hvm.bootParams.order`). Returns the failure reason, or `undefined` if
 * the order is valid. Rules: 1 to 3 devices, each one of a, b, c, d, n, none repeated.
 */
export function checkBootOrder(order: string): string | undefined {
  const expected = `1 to ${MAX_BOOT_DEVICES} boot devices from "a"/"b" (floppy), "c" (disk), "d" (CD-ROM), "n" (network), none repeated`;
  if (order.length === 0) {
    return invalid(
      "Invalid value",
      expected,
      order,
      `Use "${DEFAULT_BOOT_ORDER}" for XAPI's default (disk, then CD-ROM).`,
    );
  }
  const bad = [...order].find((c) => !(c in BootDevice));
  if (bad !== undefined) {
    const hint =
      bad.toLowerCase() in BootDevice
        ? "Boot devices are lower-case letters."
        : `${JSON.stringify(bad)} is not a boot device QEMU's PC machine accepts.`;
    return invalid("Invalid value", expected, order, hint);
  }
  const repeated = [...order].find((c, i) => order.indexOf(c) !== i);
  if (repeated !== undefined) {
    return invalid(
      "Invalid value",
      expected,
      order,
      `${JSON.stringify(repeated)} appears twice; QEMU rejects it.`,
    );
  }
  if (order.length > MAX_BOOT_DEVICES) {
    return invalid(
      "Invalid value",
      expected,
      order,
      `QEMU's PC machine accepts at most ${MAX_BOOT_DEVICES} boot devices.`,
    );
  }
  return undefined;
}

//////////////////////////////
////   schemas            ////
//////////////////////////////

/**
 * `pv`: paravirtualised boot. All fields optional: an omitted field is not managed (the VM keeps its
 * value), see `toXapiBootFields`. The checks below read an omitted `bootloader` as empty: that is what
 * the mapping declares when `kernel` is set, and with `kernel` omitted or empty they accept anything.
 * Custom issues carry `params.siblings`: the sibling fields the check depends on, so that callers can
 * skip it while one of them is still unknown (Pulumi preview).
 */
export const PvBootSchema = z
  .strictObject({
    /**
     * "pygrub" or a full control-domain path; empty with a kernel = direct kernel boot. Omitted: the
     * VM keeps its bootloader, unless a non-empty `kernel` is written (then it is cleared: direct boot).
     */
    bootloader: z.string().optional(),
    /** Direct boot: control-domain path of the kernel. With a bootloader: passed to it unmodified. */
    kernel: z.string().optional(),
    /** Direct boot: control-domain path of the initrd (empty: none). With a bootloader: passed unmodified. */
    ramdisk: z.string().optional(),
    /** Appended to the kernel command line. */
    args: z.string().optional(),
    /** Extra arguments for the bootloader. */
    bootloaderArgs: z.string().optional(),
    /**
     * How XAPI builds the PV kernel's domain: "pv", "pvh" (XCP-ng 8 / XenServer 8) or "pv_in_pvh".
     * Omitted: a PV-like VM keeps its own, an HVM VM becomes "pv".
     */
    domainType: z.enum([DomainType.pv, DomainType.pvh, DomainType.pvInPvh]).optional(),
  })
  .superRefine((pv, ctx) => {
    const bootloader = pv.bootloader ?? "";
    if (
      bootloader !== "" &&
      bootloader !== PYGRUB &&
      bootloader !== ELILOADER &&
      !isControlDomainPath(bootloader)
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["bootloader"],
        input: pv.bootloader,
        message: invalid(
          "Invalid value",
          `"${PYGRUB}", "${ELILOADER}" or a full control-domain path such as "/usr/lib/xen/bin/pygrub"`,
          pv.bootloader,
          'Leave it empty and set "kernel" for direct kernel boot.',
        ),
      });
    }
    if (bootloader !== "") return;
    // Direct kernel boot: kernel and ramdisk are read from the control domain.
    for (const field of ["kernel", "ramdisk"] as const) {
      const value = pv[field] ?? "";
      if (value === "" || isControlDomainPath(value)) continue;
      // No kernel written: the boot method depends on the VM's fields (or is pygrub), so no path rule.
      if (field === "ramdisk" && (pv.kernel ?? "") === "") continue;
      ctx.addIssue({
        code: "custom",
        path: [field],
        input: value,
        params: { siblings: field === "kernel" ? ["bootloader"] : ["bootloader", "kernel"] },
        message: invalid(
          "Invalid value",
          `a full control-domain path for direct kernel boot, such as "/var/lib/xcp/guest/${field === "kernel" ? "vmlinuz" : "initrd.img"}"`,
          value,
          `Set "bootloader" to "${PYGRUB}" to boot a ${field} from the guest's disk.`,
        ),
      });
    }
  });
export type PvBoot = z.output<typeof PvBootSchema>;

/** `hvm.bootParams`: XAPI's `HVM_boot_params` for policy "BIOS order". */
export const HvmBootParamsSchema = z.strictObject({
  /** QEMU boot order, e.g. "cd" (disk, then CD-ROM) or "ncd". */
  order: z.string().superRefine((order, ctx) => {
    const reason = checkBootOrder(order);
    if (reason !== undefined) ctx.addIssue({ code: "custom", input: order, message: reason });
  }),
  /** Omitted: not managed (the VM keeps its current firmware, XAPI's default is "bios"). */
  firmware: z.enum([Firmware.bios, Firmware.uefi]).optional(),
});

/** `hvm`: hardware-virtualised boot with an emulated BIOS or UEFI firmware. */
export const HvmBootSchema = z.strictObject({
  bootParams: HvmBootParamsSchema,
});
export type HvmBoot = z.output<typeof HvmBootSchema>;

/** At most one of the two groups; neither = boot configuration not managed. */
export type BootBlock =
  | { readonly pv: PvBoot; readonly hvm?: undefined }
  | { readonly hvm: HvmBoot; readonly pv?: undefined }
  | { readonly pv?: undefined; readonly hvm?: undefined };

/** Both groups with the mutual-exclusion rule, for validating a boot block on its own. */
export const BootBlockSchema = z
  .strictObject({ pv: PvBootSchema.optional(), hvm: HvmBootSchema.optional() })
  .superRefine((b, ctx) => {
    if (b.pv === undefined || b.hvm === undefined) return;
    for (const key of ["pv", "hvm"] as const) {
      ctx.addIssue({ code: "custom", path: [key], input: b[key], message: conflictingBootGroups() });
    }
  });

/** The reason used when both `pv` and `hvm` are declared. */
export function conflictingBootGroups(): string {
  return 'Conflicting properties: expected exactly one of "pv" or "hvm", received both. PV and HVM boot settings are mutually exclusive groups; remove one of them.';
}

//////////////////////////////
////   mapping            ////
//////////////////////////////

/**
 * A PV block with every field explicit, as XAPI stores it: what `fromXapiBootFields` reports for a
 * PV VM (the `effectiveBoot` output).
 */
export interface NormalizedPv {
  readonly bootloader: string;
  readonly kernel: string;
  readonly ramdisk: string;
  readonly args: string;
  readonly bootloaderArgs: string;
}

/** The `pv` block's keys and the XAPI field each one maps to, in the planner's setter order. */
export const PV_FIELD_OF = {
  bootloader: "PV_bootloader",
  kernel: "PV_kernel",
  ramdisk: "PV_ramdisk",
  args: "PV_args",
  bootloaderArgs: "PV_bootloader_args",
} as const satisfies Readonly<Record<keyof NormalizedPv, keyof XapiBootFields>>;

/** The `pv` block's keys, in {@link PV_FIELD_OF}'s order. */
export const PV_KEYS = Object.keys(PV_FIELD_OF) as readonly (keyof typeof PV_FIELD_OF)[];

/**
 * THE mapping from a validated boot block to the XAPI fields a plan manages. It declares only what
 * the block declares; a field left out is not touched by a plan.
 * - `pv` → `HVM_boot_policy: ""`, `domain_type` when `domainType` is given (otherwise the planner keeps a
 *   PV-like VM's own type and makes an HVM VM "pv": `resolveDeclaredBoot`), and the `PV_*` field of each key present in the
 *   block, value unmodified. One implication: a non-empty `kernel` without `bootloader` also declares
 *   `PV_bootloader: ""`, since a bootloader left on the VM would make XAPI ignore the kernel, and the
 *   user asked for a direct boot. `pv: {}` declares the domain type only. The seed's "both empty = as
 *   if pygrub" rule depends on the VM's fields and is applied by the planner (`resolveDeclaredBoot`).
 *   `HVM_boot_params` is left alone (ignored for PV).
 * - `hvm` → `domain_type: "hvm"`, `HVM_boot_policy: "BIOS order"`, `HVM_boot_params: { order, firmware? }`
 *   (`firmware` only when given); the planner merges these keys into the VM's map (other keys are kept);
 *   `PV_*` are left alone.
 * - neither → `{}`: the boot configuration is not managed.
 *
 * @throws TypeError when both groups are given (validation rejects that first).
 * @example
 * toXapiBootFields({ pv: { bootloader: "pygrub" } })
 * // → { HVM_boot_policy: "", PV_bootloader: "pygrub" }   (PV_args etc. untouched)
 * toXapiBootFields({ pv: { kernel: "/var/lib/xcp/guest/vmlinuz" } })
 * // → { HVM_boot_policy: "", PV_bootloader: "", PV_kernel: "/var/lib/xcp/guest/vmlinuz" }
 */
export function toXapiBootFields(block: BootBlock): DeclaredBootFields {
  if (block.pv !== undefined && block.hvm !== undefined) throw new TypeError(conflictingBootGroups());
  if (block.pv !== undefined) {
    const pv = block.pv;
    const fields: { -readonly [K in keyof DeclaredBootFields]: DeclaredBootFields[K] } = {
      ...(pv.domainType === undefined ? {} : { domain_type: pv.domainType }),
      HVM_boot_policy: "",
    };
    for (const key of PV_KEYS) {
      const value = pv[key];
      if (value !== undefined) fields[PV_FIELD_OF[key]] = value;
    }
    if (pv.bootloader === undefined && pv.kernel !== undefined && pv.kernel !== "") fields.PV_bootloader = "";
    return fields;
  }
  if (block.hvm !== undefined) {
    const { order, firmware } = block.hvm.bootParams;
    return {
      domain_type: DomainType.hvm,
      HVM_boot_policy: HVM_BOOT_POLICY,
      HVM_boot_params: firmware === undefined ? { order } : { order, firmware },
    };
  }
  return {};
}

/** The effective boot configuration of a VM, in the shape of the user's blocks. */
export type EffectiveBoot =
  | { readonly pv: NormalizedPv }
  | { readonly hvm: { readonly bootParams: { readonly order: string; readonly firmware: string } } };

/**
 * The inverse of `toXapiBootFields`, for reporting: what XAPI will boot, from a VM's full record (the
 * fields a declaration left out show the VM's own values). HVM when `domain_type` is "hvm" (or
 * "unspecified" with a non-empty `HVM_boot_policy`: `domainTypeOf`), with XAPI's defaults filled in (order "cd",
 * firmware "bios"); otherwise PV with the five fields as stored. pvh / pv_in_pvh are reported as `pv`
 * (the seed knows two groups).
 */
export function fromXapiBootFields(fields: XapiBootFields): EffectiveBoot {
  if (domainTypeOf(fields) === DomainType.hvm) {
    const order = fields.HVM_boot_params.order;
    return {
      hvm: {
        bootParams: {
          order: order === undefined || order === "" ? DEFAULT_BOOT_ORDER : order,
          firmware: fields.HVM_boot_params.firmware ?? Firmware.bios,
        },
      },
    };
  }
  return {
    pv: {
      bootloader: fields.PV_bootloader,
      kernel: fields.PV_kernel,
      ramdisk: fields.PV_ramdisk,
      args: fields.PV_args,
      bootloaderArgs: fields.PV_bootloader_args,
    },
  };
}
