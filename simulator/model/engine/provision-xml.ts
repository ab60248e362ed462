/** The parser of a template's `other_config["disks"]`, the provisioning XML `VM.provision` reads. */

/** One `<disk>` of a template's `other_config["disks"]` provisioning XML. */
export interface ProvisionDisk {
  readonly device: string;
  readonly size: number;
  readonly sr: string;
  readonly bootable: boolean;
  readonly type: string;
}

/**
 * Parses `<provision><disk device="0" size="10737418240" sr="" bootable="true" type="system"/></provision>`
 * (the template disk description XAPI's provision reads, `ocaml/xapi/xapi_templates.ml`). Unparsable disks
 * are skipped.
 */
export function parseProvisionDisks(xml: string): ProvisionDisk[] {
  const disks: ProvisionDisk[] = [];
  for (const match of xml.matchAll(/<disk\b([^>]*)\/?>/g)) {
    const attrs: Record<string, string> = {};
    for (const a of (match[1] ?? "").matchAll(/(\w+)="([^"]*)"/g)) attrs[a[1] ?? ""] = a[2] ?? "";
    const device = attrs.device ?? "";
    const size = Number(attrs.size);
    if (!/^\d+$/.test(device) || !Number.isFinite(size)) continue;
    disks.push({
      device,
      size,
      sr: attrs.sr ?? "",
      bootable: attrs.bootable === "true",
      type: attrs.type ?? "system",
    });
  }
  return disks;
}
