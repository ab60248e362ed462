/**
 * How records go on the wire: stored as plain JSON values (ints and floats are JS numbers, datetimes are
 * `YYYYMMDDTHH:MM:SSZ` strings), {@link toWire} tags the float and datetime fields on the way out; and
 * the identifiers XAPI makes (references, UUIDs, datetimes).
 */
import { randomUUID } from "node:crypto";
import { XDateTime, XFloat, type XValue } from "../../api";
import { NEVER } from "../vocabulary";

export type StringMap = Record<string, string>;

/** How a class's fields go on the wire beyond the JSON kinds: floats, datetimes, maps of floats. */
interface WireTypes {
  readonly floats: readonly string[];
  readonly dates: readonly string[];
  readonly floatMaps?: readonly string[];
}

/** Which fields of each class go on the wire as floats and datetimes. */
export const WIRE_TYPES: Record<string, WireTypes> = {
  VM: { floats: ["HVM_shadow_multiplier"], dates: ["snapshot_time"] },
  pool: { floats: [], dates: [] },
  host: { floats: [], dates: ["last_software_update"] },
  session: { floats: [], dates: ["last_active", "validation_time"] },
  task: { floats: ["progress"], dates: ["created", "finished"] },
  VBD: { floats: [], dates: [] },
  VDI: { floats: [], dates: ["snapshot_time"] },
  SR: { floats: [], dates: [] },
  VM_metrics: {
    floats: [],
    dates: ["start_time", "install_time", "last_updated"],
    floatMaps: ["VCPUs_utilisation"],
  },
  VM_guest_metrics: { floats: [], dates: ["last_updated"] },
  VIF: { floats: [], dates: [] },
  network: { floats: [], dates: [] },
  host_metrics: { floats: [], dates: ["last_updated"] },
  PIF: { floats: [], dates: [] },
  PIF_metrics: { floats: ["io_read_kbs", "io_write_kbs"], dates: ["last_updated"] },
  PBD: { floats: [], dates: [] },
  message: { floats: [], dates: ["timestamp"] },
};

/**
 * A record as typed wire values: floats become XFloat, datetimes XDateTime, maps and sets are copied.
 * With `fields`, only those fields go out (the class's published fields a profile serves); a record's
 * other keys (an unknown field kept from a state file) stay in the database only.
 */
export function toWire(cls: string, record: object, fields?: readonly string[]): { [key: string]: XValue } {
  const out: { [key: string]: XValue } = {};
  const source = record as Record<string, unknown>;
  for (const key of fields ?? Object.keys(record)) {
    if (!Object.hasOwn(source, key)) continue;
    out[key] = fieldToWire(cls, key, source[key]);
  }
  return out;
}

/** One field as a typed wire value (for `get_<field>`). */
export function fieldToWire(cls: string, field: string, value: unknown): XValue {
  const types = WIRE_TYPES[cls] ?? { floats: [], dates: [] };
  if (types.floats.includes(field)) return new XFloat(Number(value));
  if (types.dates.includes(field)) return new XDateTime(String(value));
  if (types.floatMaps?.includes(field) && value !== null && typeof value === "object") {
    const out: { [key: string]: XValue } = {};
    for (const [k, v] of Object.entries(value)) out[k] = new XFloat(Number(v));
    return out;
  }
  return copyValue(value);
}

function copyValue(value: unknown): XValue {
  if (Array.isArray(value)) return value.map(copyValue);
  if (value !== null && typeof value === "object") {
    const out: { [key: string]: XValue } = {};
    for (const [k, v] of Object.entries(value)) out[k] = copyValue(v);
    return out;
  }
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  return null;
}

/** A fresh `OpaqueRef:<uuid>` (docs/simulator-behaviour.md#references). */
export function newRef(): string {
  return `OpaqueRef:${randomUUID()}`;
}

export function newUuid(): string {
  return randomUUID();
}

/** XAPI's datetime wire format, `YYYYMMDDTHH:MM:SSZ` (docs/simulator-behaviour.md#wire-and-dispatch). */
export function xapiDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(
    d.getUTCMinutes(),
  )}:${p(d.getUTCSeconds())}Z`;
}

export { NEVER };
