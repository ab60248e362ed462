/**
 * How XAPI's setters change a VM's boot fields, in one place for the planner (which predicts them), the
 * executor (which skips a setter whose value is already there) and the resource (which names the changed
 * properties):
 * - which setter writes which field ({@link BOOT_SETTERS});
 * - the coupling of `domain_type` and `HVM_boot_policy`: `VM.set_domain_type` also writes
 *   `HVM_boot_policy` and `VM.set_HVM_boot_policy` also writes `domain_type` (docs/xapi-facts.md,
 *   "domain_type and HVM_boot_policy"); every other setter writes its own field only;
 * - when a field already has a value ({@link sameValue}).
 */
import type { XapiBootFields } from "./boot";
import { sameValue } from "./same-value";
import { DomainType, SetterCall } from "./vocabulary";

export { sameValue };

/** The `HVM_boot_policy` XAPI writes for an HVM domain type (`Constants.hvm_default_boot_policy`). */
export const HVM_DEFAULT_BOOT_POLICY = "BIOS order";

/** The domain type `VM.set_HVM_boot_policy(policy)` leaves (and XAPI derives): "" ⇒ pv, else hvm. */
export function domainTypeForBootPolicy(policy: string): DomainType {
  return policy === "" ? DomainType.pv : DomainType.hvm;
}

/** The `HVM_boot_policy` `VM.set_domain_type(type)` leaves: "BIOS order" for hvm, "" otherwise. */
export function bootPolicyForDomainType(type: DomainType): string {
  return type === DomainType.hvm ? HVM_DEFAULT_BOOT_POLICY : "";
}

/** True when the pair can stand together after XAPI's setters: hvm ⇔ a non-empty policy. */
export function coupledFieldsAgree(type: DomainType, policy: string): boolean {
  return (type === DomainType.hvm) === (policy !== "");
}

/**
 * The VM boot setters with the field each writes, in the order the planner emits them: the policy
 * first, because `VM.set_domain_type` after it keeps a PV-like type (pvh) the policy alone would turn
 * into pv.
 */
export const BOOT_SETTERS = [
  ["HVM_boot_policy", SetterCall.setHvmBootPolicy],
  ["domain_type", SetterCall.setDomainType],
  ["HVM_boot_params", SetterCall.setHvmBootParams],
  ["PV_bootloader", SetterCall.setPvBootloader],
  ["PV_kernel", SetterCall.setPvKernel],
  ["PV_ramdisk", SetterCall.setPvRamdisk],
  ["PV_args", SetterCall.setPvArgs],
  ["PV_bootloader_args", SetterCall.setPvBootloaderArgs],
] as const satisfies readonly (readonly [keyof XapiBootFields, SetterCall])[];

/** One entry of {@link BOOT_SETTERS}. */
export type BootSetter = (typeof BOOT_SETTERS)[number];

/** The boot field a `VM.set_*` call writes; `undefined` for any other call (`VBD.set_bootable`). */
export function fieldOfSetter(call: string): keyof XapiBootFields | undefined {
  return BOOT_SETTERS.find(([, setter]) => setter === call)?.[0];
}

/**
 * The boot fields after `VM.set_<field>(value)`, as XAPI leaves them: `set_domain_type` and
 * `set_HVM_boot_policy` each rewrite the other field; every other setter writes its field only.
 */
export function applyBootSetter(
  boot: XapiBootFields,
  field: keyof XapiBootFields,
  value: unknown,
): XapiBootFields {
  if (field === "HVM_boot_policy") {
    const policy = value as string;
    return { ...boot, HVM_boot_policy: policy, domain_type: domainTypeForBootPolicy(policy) };
  }
  if (field === "domain_type") {
    const type = value as DomainType;
    return { ...boot, domain_type: type, HVM_boot_policy: bootPolicyForDomainType(type) };
  }
  return { ...boot, [field]: value };
}

/** True when `VM.set_<field>(value)` would change nothing: the field already holds `value`. */
export function alreadySet(boot: XapiBootFields, field: keyof XapiBootFields, value: unknown): boolean {
  return sameValue(boot[field], value);
}
