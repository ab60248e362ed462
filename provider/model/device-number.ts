/**
 * Which disk a VBD's `userdevice` names, the way XAPI reads it: a decimal string is the disk number
 * ("0"); otherwise a Linux device name — `xvd`, `sd`, `hd` or `fd` followed by the disk in base 26
 * (`a` = 0, `z` = 25, `aa` = 26) and an optional partition number, or `d<disk>[p<partition>]`.
 * Source: `Device_number.of_string` in xapi-project/xen-api `ocaml/xapi-idl/xen/device_number.ml`.
 * A real XenServer 6 pool has VBDs whose userdevice is `xvda`; `bootableDisks: ["0"]` names that disk.
 */

/** The disk number a userdevice names, or `undefined` when XAPI would not accept it as a device. */
export function diskNumberOf(userdevice: string): number | undefined {
  if (/^\d+$/.test(userdevice)) return Number(userdevice);
  const named = /^(?:xvd|sd|hd|fd)([a-z]+)\d*$/.exec(userdevice);
  if (named?.[1] !== undefined) {
    let n = 0;
    for (const c of named[1]) n = n * 26 + (c.charCodeAt(0) - 96);
    return n - 1;
  }
  const numbered = /^d(\d+)(?:p\d+)?$/.exec(userdevice);
  return numbered?.[1] === undefined ? undefined : Number(numbered[1]);
}

/** Both userdevices name the same disk (`"0"`, `"xvda"`, `"hda"`, `"d0"`). */
export function sameDisk(a: string, b: string): boolean {
  const na = diskNumberOf(a);
  return na !== undefined ? na === diskNumberOf(b) : a === b;
}
