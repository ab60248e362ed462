/**
 * The VM the planner tests plan for, as XAPI reports its boot fields: an HVM guest booting from BIOS,
 * CD drive first (`HVM_boot_params.order` "cd"), with no PV boot fields.
 */
import type { XapiBootFields } from "../provider/model/boot";

/** The observed boot fields of an HVM guest booting from BIOS, order "cd". */
export const HVM: XapiBootFields = {
  domain_type: "hvm",
  HVM_boot_policy: "BIOS order",
  HVM_boot_params: { order: "cd", firmware: "bios" },
  PV_bootloader: "",
  PV_kernel: "",
  PV_ramdisk: "",
  PV_args: "",
  PV_bootloader_args: "",
};
