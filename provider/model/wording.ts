/**
 * The one wording of validation and planning failures: what failed, what was expected, what was
 * received, and a hint. `Invalid value: expected one of "bios", "uefi", received "efi". Did you mean "uefi"?`
 */

/** A received value already rendered for a message (a list, "both", "neither"): written as is. */
export class Shown {
  constructor(readonly text: string) {}
}

/** Marks `text` as already rendered, for {@link invalid}'s `received`. */
export function shown(text: string): Shown {
  return new Shown(text);
}

/**
 * Renders a received value for an error reason: strings and numbers as JSON, `undefined` as
 * "nothing", objects and arrays by kind (their content may be long or secret), {@link Shown} as is.
 */
export function formatReceived(value: unknown): string {
  if (value instanceof Shown) return value.text;
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  // JSON.stringify would print NaN and Infinity as "null".
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return JSON.stringify(value);
  }
  return typeof value;
}

/**
 * The one wording formula for validation failures: what failed, expected vs received, and a hint.
 * `Invalid value: expected one of "bios", "uefi", received "efi". Did you mean "uefi"?`
 */
export function invalid(what: string, expected: string, received: unknown, hint?: string): string {
  return `${what}: expected ${expected}, received ${formatReceived(received)}.${hint ? ` ${hint}` : ""}`;
}
