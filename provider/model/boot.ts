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

/**
 * The fields a declaration manages; fields left out are not touched by a plan.
 *
 * Besides the VM's own fields, a declaration may manage which of the VM's disks are bootable: that is
 * `VBD.bootable` on the VM's VBDs (the seed: "a disk is bootable if its VBD has the bootable flag
 * set"), which a bootloader boot reads at every start and reboot like the VM's boot fields (§7.4, §7.6).
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
