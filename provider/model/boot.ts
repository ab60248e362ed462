/**
 * Boot configuration in XAPI's own field names (xapi-semantics §7.2–§7.4). This is what the planner
 * compares and what the setter steps write; the user-facing `pv` / `hvm` blocks (zod, see
 * `provider/boot/schema.ts`) are mapped to it in exactly one place.
 */

/** `VM.domain_type` values (xapi-semantics §7.2). */
export const DomainType = {
  hvm: "hvm",
  pv: "pv",
  pvInPvh: "pv_in_pvh",
  pvh: "pvh",
  unspecified: "unspecified",
} as const;
export type DomainType = (typeof DomainType)[keyof typeof DomainType];

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

/** The fields a declaration manages; fields left out are not touched by a plan. */
export type DeclaredBootFields = Partial<XapiBootFields>;
