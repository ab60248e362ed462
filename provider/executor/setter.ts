/** What a setter step writes, and whether the VM already has it (then the step is skipped). */
import type { XapiBootFields } from "../model/boot";
import { alreadySet, fieldOfSetter } from "../model/boot-fields";
import type { PlanStep } from "../model/plan";
import type { VmDisk } from "../model/vm-record";
import { SetterCall } from "../model/vocabulary";

/** The target of a setter: a VM boot field, or the bootable flag of one of the VM's disks. */
export type SetterWrite = {
  /** The object the call names (the VM, or the VBD). */
  readonly ref: string;
  readonly value: unknown;
  /** The live value already matches: the step is skipped. */
  readonly already: boolean;
} & (
  | { readonly field: keyof XapiBootFields; readonly disk?: undefined }
  | { readonly disk: VmDisk; readonly field?: undefined }
);

/**
 * `VM.set_<field>(vmRef, value)` compared with `boot`, or `VBD.set_bootable(<VBD at args.userdevice>,
 * value)` compared with the disk's flag; `undefined` when no VBD was read at that userdevice.
 */
export function setterWrite(
  step: PlanStep,
  vmRef: string,
  boot: XapiBootFields,
  disks: ReadonlyMap<string, VmDisk> | undefined,
): SetterWrite | undefined {
  if (step.call === SetterCall.setVbdBootable) {
    const value = step.args.value === true;
    const disk = disks?.get(String(step.args.userdevice));
    if (disk === undefined) return undefined;
    return { ref: disk.ref, value, already: disk.bootable === value, disk };
  }
  const field = fieldOfSetter(step.call);
  if (field === undefined) throw new TypeError(`${step.call}: not a boot setter`);
  const value = step.args.value;
  return { ref: vmRef, value, already: alreadySet(boot, field, value), field };
}
