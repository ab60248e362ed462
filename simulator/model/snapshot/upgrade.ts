/**
 * What a state file written by an older xapi-sim, or dumped as an older host dumps it, lacks or writes
 * differently.
 */
import { NO_BOOT } from "../boot";
import { TEMPLATES } from "./schema";
import type { BootRecord } from "./types";

/** `upgrade_domain_type` (xapi_db_upgrade.ml): dom0 is pv, any other VM `derive_domain_type`. */
export function upgradedDomainType(record: {
  is_control_domain?: unknown;
  domid: number;
  HVM_boot_policy: string;
}) {
  if (record.is_control_domain === true && record.domid === 0) return "pv" as const;
  return record.HVM_boot_policy === "" ? ("pv" as const) : ("hvm" as const);
}

/** A decimal integer as XML-RPC dumps an int64, or a float's decimal text. */
const NUMERIC_TEXT = /^-?\d+(\.\d+)?$/;

/**
 * Numbers written as the XML-RPC wire carries them: an int64 is a decimal string there (and the
 * Python XenAPI binding hands it over as one), so a record dumped through it has `"memory_static_max":
 * "2147483648"`. Every field whose default is a number (or a set of numbers) is turned back into one;
 * anything else is left for the checks to name.
 */
export function normaliseNumbers(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  const copy = structuredClone(value) as Record<string, unknown>;
  const fix = (template: object, record: unknown): void => {
    if (record === null || typeof record !== "object") return;
    const r = record as Record<string, unknown>;
    for (const [field, expected] of Object.entries(template)) {
      const v = r[field];
      if (typeof expected === "number" && typeof v === "string" && NUMERIC_TEXT.test(v)) r[field] = Number(v);
      if (Array.isArray(expected) && typeof expected[0] === "number" && Array.isArray(v))
        r[field] = v.map((x) => (typeof x === "string" && NUMERIC_TEXT.test(x) ? Number(x) : x));
    }
  };
  const pool = copy.pool as { record?: unknown } | undefined;
  if (pool && typeof pool === "object") fix(TEMPLATES.pool ?? {}, pool.record);
  for (const table of Object.keys(TEMPLATES)) {
    const list = copy[table];
    if (table === "pool" || !Array.isArray(list)) continue;
    for (const row of list) {
      if (row && typeof row === "object") fix(TEMPLATES[table] ?? {}, (row as { record?: unknown }).record);
    }
  }
  if (typeof copy.nextDomid === "string" && NUMERIC_TEXT.test(copy.nextDomid))
    copy.nextDomid = Number(copy.nextDomid);
  return copy;
}

/** A boot record from a state file, with the outcome fields an older xapi-sim did not write. */
export function withBootDefaults(raw: Record<string, unknown>): BootRecord {
  const hvm = raw.method === "hvm";
  return {
    ...NO_BOOT,
    qemuBootOrder: hvm ? (raw.order as string) : null,
    disks: [],
    bootableUserdevices: [],
    ...raw,
  } as unknown as BootRecord;
}
