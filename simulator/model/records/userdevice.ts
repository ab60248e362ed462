/** VBD `userdevice` slots: the disk number XAPI reads from one, and the guest device name of a slot. */

/** A linux device suffix read as XAPI does: base 26 from 1 ("a" → 0, "z" → 25, "aa" → 26). */
function base26(letters: string): number {
  let n = 0;
  for (const c of letters) n = n * 26 + (c.charCodeAt(0) - 96);
  return n - 1;
}

/**
 * The disk number of a VBD's `userdevice`, as XAPI reads it (`Device_number.of_string`,
 * ocaml/xapi-idl/xen/device_number.ml): a decimal disk number ("0", "3"), or a device name — `xvd<x>`
 * (Xen, disks up to 2^20 − 1), `sd<x>` (SCSI, ≤ 15), `fd<x>` (floppy, ≤ 2), `hd<x>` (IDE, ≤ 19), each
 * with an optional partition number, or `d<n>[p<m>]` (Xen). Real hosts store names: a XenServer 6.1 VBD
 * has userdevice "xvda". `undefined` for anything else.
 */
export function userdeviceNumber(userdevice: string): number | undefined {
  if (/^\d+$/.test(userdevice)) return Number(userdevice);
  const named = /^(xvd|sd|fd|hd)([a-z]+)(\d*)$/.exec(userdevice);
  if (named) {
    const disk = base26(named[2] ?? "");
    const max = { xvd: 2 ** 20 - 1, sd: 15, fd: 2, hd: 19 }[named[1] as "xvd" | "sd" | "fd" | "hd"];
    return disk <= max ? disk : undefined;
  }
  const numbered = /^d(\d+)(?:p\d+)?$/.exec(userdevice);
  return numbered ? Number(numbered[1]) : undefined;
}

/**
 * The guest device name of a userdevice slot: "0" → "xvda", "3" → "xvdd" (XAPI's PV naming); a name is
 * itself.
 */
export function deviceName(userdevice: string): string {
  if (!/^\d+$/.test(userdevice)) return userdeviceNumber(userdevice) === undefined ? "" : userdevice;
  const n = Number(userdevice);
  if (!Number.isInteger(n) || n < 0) return "";
  let name = "";
  let i = n;
  do {
    name = String.fromCharCode(97 + (i % 26)) + name;
    i = Math.floor(i / 26) - 1;
  } while (i >= 0);
  return `xvd${name}`;
}
