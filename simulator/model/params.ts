/**
 * Unmarshalling of call parameters. XAPI accepts an int64 as a number or a decimal string
 * (docs/simulator-behaviour.md#wire-and-dispatch) and a bool only as a bool; enum values are matched
 * case-insensitively.
 *
 * Deviation: where real XAPI reports an unmarshalling failure as INTERNAL_ERROR with an OCaml
 * exception text, the simulator raises FIELD_TYPE_ERROR [param] (wrong type) or
 * INVALID_VALUE [param, value] (unknown enum value); see simulator/README.md.
 */
import { XapiFault } from "../api";
import { ErrorCode } from "./vocabulary";

function typeError(name: string): XapiFault {
  return new XapiFault(ErrorCode.fieldTypeError, [name]);
}

/** A string parameter; `fallback` applies when it is absent (a defaulted parameter). */
export function str(args: readonly unknown[], i: number, name: string, fallback?: string): string {
  const v = args[i];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "string") throw typeError(name);
  return v;
}

export function bool(args: readonly unknown[], i: number, name: string): boolean {
  const v = args[i];
  if (typeof v !== "boolean") throw typeError(name);
  return v;
}

/** An int64 or float: a number, or a numeric string. */
export function num(args: readonly unknown[], i: number, name: string): number {
  const v = args[i];
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  if (v !== null && typeof v === "object" && "value" in v && typeof v.value === "number") return v.value;
  throw typeError(name);
}

export function strMap(args: readonly unknown[], i: number, name: string): Record<string, string> {
  const v = args[i];
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw typeError(name);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== "string") throw typeError(name);
    out[k] = x;
  }
  return out;
}

export function strList(args: readonly unknown[], i: number, name: string): string[] {
  const v = args[i];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw typeError(name);
  return v as string[];
}

/** An enum value, matched case-insensitively (XAPI lower-cases enums before matching). */
export function enumValue<T extends string>(
  args: readonly unknown[],
  i: number,
  name: string,
  values: readonly T[],
): T {
  const v = str(args, i, name);
  const found = values.find((x) => x.toLowerCase() === v.toLowerCase());
  if (found === undefined) throw new XapiFault(ErrorCode.invalidValue, [name, v]);
  return found;
}
