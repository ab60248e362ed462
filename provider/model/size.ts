/**
 * Memory sizes as a `Vm` declares them (`memory.staticMax`, `memory.dynamicMin`, `memory.dynamicMax`):
 * a whole number of bytes, or a string with a binary unit, `"512MiB"`, `"4GiB"`. XAPI keeps memory in
 * bytes (`memory_*` fields of `VM`, int64: docs/xapi-vcpus-memory.md §2); a size is parsed to bytes once,
 * at validation, and everything after it works in bytes.
 *
 * Decimal units (`"4GB"`, `"4G"`) are refused rather than guessed: "4GB" means 4,000,000,000 bytes to
 * some tools and 4 GiB to others, and a VM that boots with 7 % less memory than meant is a silent error.
 * JavaScript numbers are exact up to 2^53 − 1, which bounds a size (8 PiB, far above any host).
 */
import { formatReceived, invalid, shown } from "./wording";

/** A declared memory size: a whole number of bytes, or a string such as `"512MiB"`, `"4GiB"`. */
export type Size = number | string;

/** The binary units a size may be written in, and their bytes. */
export const SizeUnit = {
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
} as const;
export type SizeUnit = keyof typeof SizeUnit;

/** The largest size: the largest integer a JavaScript number holds exactly (2^53 − 1). */
export const MAX_SIZE_BYTES = Number.MAX_SAFE_INTEGER;

/** A parsed size, or why the value is not one. */
export type SizeParse =
  | { readonly ok: true; readonly bytes: number }
  | { readonly ok: false; readonly reason: string };

/** What a size may look like, for every failure's "expected" part. */
const EXPECTED =
  'a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB)';

/** Decimal (and bare) unit letters someone may write instead of the binary unit, by the unit they mean. */
const DECIMAL_UNITS: Readonly<Record<string, SizeUnit>> = {
  k: "KiB",
  kb: "KiB",
  m: "MiB",
  mb: "MiB",
  g: "GiB",
  gb: "GiB",
  t: "TiB",
  tb: "TiB",
};

/** A number (digits with an optional fraction) and an optional unit word, spaces allowed between. */
const SIZE_TEXT = /^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)$/;

/**
 * Parses a declared size to bytes. `property` names it in the failure (e.g. `memory.dynamicMax`).
 *
 * @example
 * parseSize("4GiB", "memory.dynamicMax")   // → { ok: true, bytes: 4294967296 }
 * parseSize("1.5GiB", "memory.staticMax")  // → { ok: true, bytes: 1610612736 }
 * parseSize("4GB", "memory.dynamicMax")    // → { ok: false, reason: 'Invalid memory.dynamicMax: … "GB" is a decimal unit …' }
 */
export function parseSize(value: unknown, property: string): SizeParse {
  const what = `Invalid ${property}`;
  if (typeof value === "number") return bytesOf(value, value, what);
  if (typeof value !== "string") {
    return fail(invalid(`Invalid type of ${property}`, EXPECTED, value, 'Write e.g. "4GiB".'));
  }
  const text = value.trim();
  const match = SIZE_TEXT.exec(text);
  if (match === null) {
    const hint = text.startsWith("-") ? "A size cannot be negative." : 'Write e.g. "512MiB" or "4GiB".';
    return fail(invalid(what, EXPECTED, value, hint));
  }
  const [, amountText = "", unitText = ""] = match;
  const amount = Number(amountText);
  if (unitText === "") {
    // A plain number in a string is bytes, as a number would be; a fraction of a byte is not one.
    return bytesOf(amount, value, what);
  }
  const unit = unitOf(unitText);
  if (unit === undefined) return fail(invalid(what, EXPECTED, value, unitHint(amountText, unitText)));
  return bytesOf(amount * SizeUnit[unit], value, what);
}

/** The exact unit word, or `undefined` (a decimal unit, another case, a typo). */
function unitOf(word: string): SizeUnit | undefined {
  return Object.hasOwn(SizeUnit, word) ? (word as SizeUnit) : undefined;
}

/** The hint for a unit that is not one of {@link SizeUnit}: the binary unit meant, spelt out. */
function unitHint(amountText: string, unitText: string): string {
  const lower = unitText.toLowerCase();
  const binary = Object.keys(SizeUnit).find((u) => u.toLowerCase() === lower) as SizeUnit | undefined;
  if (binary !== undefined) return `Units are case-sensitive: write "${amountText}${binary}".`;
  const meant = DECIMAL_UNITS[lower];
  if (meant !== undefined) {
    const bytes = Number(amountText) * SizeUnit[meant];
    const exact = Number.isSafeInteger(bytes) ? ` (${bytes} bytes)` : "";
    return `"${unitText}" is a decimal or ambiguous unit; memory sizes take binary units: write "${amountText}${meant}"${exact}, or the number of bytes.`;
  }
  return `Unknown unit "${unitText}": use KiB, MiB, GiB or TiB.`;
}

/** `bytes` when it is a whole, positive number of bytes no larger than {@link MAX_SIZE_BYTES}. */
function bytesOf(bytes: number, received: unknown, what: string): SizeParse {
  if (!Number.isFinite(bytes)) return fail(invalid(what, EXPECTED, received));
  if (bytes <= 0) {
    const hint = bytes < 0 ? "A size cannot be negative." : "A VM needs some memory.";
    return fail(invalid(what, EXPECTED, received, hint));
  }
  if (!Number.isInteger(bytes)) {
    return fail(
      invalid(what, EXPECTED, received, `That is ${bytes} bytes: a size is a whole number of bytes.`),
    );
  }
  if (bytes > MAX_SIZE_BYTES) {
    return fail(
      invalid(
        what,
        `${EXPECTED}, at most ${MAX_SIZE_BYTES} bytes (2^53 − 1)`,
        received,
        "Larger numbers are not exact in JavaScript; no host has that much memory.",
      ),
    );
  }
  return { ok: true, bytes };
}

function fail(reason: string): SizeParse {
  return { ok: false, reason };
}

/**
 * A size in bytes in its shortest exact spelling: the largest binary unit that divides it (`"4GiB"`,
 * `"1536MiB"`), else the bytes (`"1000 bytes"`).
 */
export function formatSize(bytes: number): string {
  const units = (Object.entries(SizeUnit) as [SizeUnit, number][]).reverse();
  for (const [unit, size] of units) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes} bytes`;
}

/**
 * A declared size for a message: as declared and, when that is not already the plain bytes, its bytes:
 * `"4GiB" (4294967296 bytes)`. For {@link invalid}'s `received`.
 */
export function shownSize(declared: unknown, bytes: number): ReturnType<typeof shown> {
  if (typeof declared === "number") return shown(String(declared));
  return shown(`${formatReceived(declared)} (${bytes} bytes)`);
}
