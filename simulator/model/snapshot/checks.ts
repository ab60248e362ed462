/** The checks a parsed state file must pass beyond its schema: record field kinds and references. */
import { NULL_REF } from "../vocabulary";
import { ADVICE, invalid, type ParsedSnapshot, TEMPLATES } from "./schema";
import type { InvalidStateError } from "./types";

/**
 * Refuses references that name no object of the state: a VM's `VBDs`, `VIFs`, `guest_metrics` and
 * `resident_on` (NULL allowed for the last two), a VBD's `VM` and `VDI` (NULL only for an empty CD
 * drive), a VDI's `SR` (NULL allowed), a VIF's `VM` and `network`, a PIF's `host` and `network`, a
 * PBD's `host` and `SR`; duplicate refs too. A VM or host whose `metrics` names nothing, or a PIF whose
 * `metrics` does, is not refused: xapi gives it fresh metrics at start, and so does xapi-sim. Nor is a
 * Suspended VM's `suspend_VDI` naming nothing (a file written before suspend images were VDIs): the load
 * creates the image. The derived lists (host.PIFs, host.PBDs, SR.PBDs, network.PIFs) are recomputed.
 */
export function checkReferences(data: ParsedSnapshot): void {
  const refsOf = (table: keyof ParsedSnapshot, what: string): Set<string> => {
    const set = new Set<string>();
    const list = data[table] as { ref: string }[];
    for (const [i, row] of list.entries()) {
      if (set.has(row.ref)) throw invalid(`duplicate ${what} ref ${row.ref} at ${String(table)}.${i}.ref.`);
      set.add(row.ref);
    }
    return set;
  };
  const vms = refsOf("vms", "VM");
  const vbds = refsOf("vbds", "VBD");
  const vdis = refsOf("vdis", "VDI");
  const srs = refsOf("srs", "SR");
  const vifs = refsOf("vifs", "VIF");
  const networks = refsOf("networks", "network");
  const guestMetrics = refsOf("guestMetrics", "VM_guest_metrics");
  refsOf("vmMetrics", "VM_metrics");
  const hosts = new Set(data.hosts.map((h) => h.ref));
  const dangling = (path: string, cls: string, ref: unknown): InvalidStateError =>
    invalid(
      `${path} names ${cls} ${String(ref)}, which is not in the state (a dangling reference). ${ADVICE}`,
    );
  const need = (path: string, cls: string, ref: unknown, set: Set<string>, nullable: boolean): void => {
    if (nullable && ref === NULL_REF) return;
    if (typeof ref !== "string" || !set.has(ref)) throw dangling(path, cls, ref);
  };
  for (const [i, vm] of data.vms.entries()) {
    const r = vm.record as Record<string, unknown>;
    const list = (field: string): unknown[] => (Array.isArray(r[field]) ? (r[field] as unknown[]) : []);
    for (const [j, vbd] of list("VBDs").entries()) need(`vms.${i}.record.VBDs.${j}`, "VBD", vbd, vbds, false);
    for (const [j, vif] of list("VIFs").entries()) need(`vms.${i}.record.VIFs.${j}`, "VIF", vif, vifs, false);
    need(`vms.${i}.record.resident_on`, "host", r.resident_on, hosts, true);
    if (r.guest_metrics !== undefined)
      need(`vms.${i}.record.guest_metrics`, "VM_guest_metrics", r.guest_metrics, guestMetrics, true);
  }
  for (const [i, vbd] of data.vbds.entries()) {
    need(`vbds.${i}.record.VM`, "VM", vbd.record.VM, vms, false);
    const emptyCd = vbd.record.type === "CD" && vbd.record.empty;
    need(`vbds.${i}.record.VDI`, "VDI", vbd.record.VDI, vdis, emptyCd);
  }
  for (const [i, vdi] of data.vdis.entries()) need(`vdis.${i}.record.SR`, "SR", vdi.record.SR, srs, true);
  for (const [i, vif] of data.vifs.entries()) {
    need(`vifs.${i}.record.VM`, "VM", vif.record.VM, vms, false);
    need(`vifs.${i}.record.network`, "network", vif.record.network, networks, false);
  }
  refsOf("hostMetrics", "host_metrics");
  refsOf("pifs", "PIF");
  refsOf("pifMetrics", "PIF_metrics");
  refsOf("pbds", "PBD");
  for (const [i, pif] of data.pifs.entries()) {
    need(`pifs.${i}.record.host`, "host", pif.record.host, hosts, false);
    need(`pifs.${i}.record.network`, "network", pif.record.network, networks, false);
  }
  for (const [i, pbd] of data.pbds.entries()) {
    need(`pbds.${i}.record.host`, "host", pbd.record.host, hosts, false);
    need(`pbds.${i}.record.SR`, "SR", pbd.record.SR, srs, false);
  }
}

/** What a record field's JSON value must look like: the kind of its default value. */
function kindOf(value: unknown): string {
  if (Array.isArray(value)) return "a set (array)";
  if (value === null) return "null";
  if (typeof value === "object") return "a map (object)";
  if (typeof value === "number") return "a number";
  return `a ${typeof value}`;
}

/** The kind of a map's values, from a default map value (string unless the default says otherwise). */
function mapValueOk(expected: object, value: object): boolean {
  const sample = Object.values(expected)[0];
  return Object.values(value).every((x) =>
    sample === undefined ? typeof x === "string" : kindOf(x) === kindOf(sample),
  );
}

/**
 * Every field a record shares with XAPI's default record must have the default's kind (string, number,
 * boolean, set of strings or numbers, map), so that a hand-edited file fails here, naming the field,
 * rather than later inside a call. The schema above only checks the fields the model reads first.
 */
export function checkRecordShapes(data: ParsedSnapshot): void {
  const check = (template: object, record: Record<string, unknown>, path: string): void => {
    for (const [field, expected] of Object.entries(template)) {
      if (!Object.hasOwn(record, field)) continue;
      const value = record[field];
      const kind = kindOf(expected);
      const element = Array.isArray(expected) && typeof expected[0] === "number" ? "number" : "string";
      const ok =
        kindOf(value) === kind &&
        (!Array.isArray(value) || value.every((x) => typeof x === element)) &&
        (kind !== "a map (object)" || mapValueOk(expected, value as object)) &&
        (typeof value !== "number" || Number.isFinite(value));
      if (!ok) {
        throw invalid(
          `expected ${kind}, found ${JSON.stringify(value) ?? "nothing"} at ${path}.${field}. ${ADVICE}`,
        );
      }
    }
  };
  check(TEMPLATES.pool ?? {}, data.pool.record, "pool.record");
  for (const table of Object.keys(TEMPLATES)) {
    if (table === "pool") continue;
    const list = data[table as keyof ParsedSnapshot] as { record: Record<string, unknown> }[];
    for (const [i, row] of list.entries()) check(TEMPLATES[table] ?? {}, row.record, `${table}.${i}.record`);
  }
}
