/** Memory sizes as a `Vm` declares them (`provider/model/size.ts`). */
import { describe, expect, it } from "vitest";
import { formatSize, MAX_SIZE_BYTES, parseSize, shownSize } from "../provider/model/size";

const P = "memory.dynamicMax";

function bytes(value: unknown): number {
  const parsed = parseSize(value, P);
  if (!parsed.ok) throw new Error(`expected a size, got: ${parsed.reason}`);
  return parsed.bytes;
}

function reason(value: unknown, property = P): string {
  const parsed = parseSize(value, property);
  if (parsed.ok) throw new Error(`expected a failure, got ${parsed.bytes} bytes`);
  return parsed.reason;
}

describe("parseSize accepts", () => {
  it("a whole number of bytes", () => {
    expect(bytes(1073741824)).toBe(1_073_741_824);
  });

  it("each binary unit, by its power of two", () => {
    expect([bytes("1KiB"), bytes("1MiB"), bytes("1GiB"), bytes("1TiB")]).toEqual([
      1024, 1_048_576, 1_073_741_824, 1_099_511_627_776,
    ]);
  });

  it('"512MiB" and "4GiB"', () => {
    expect([bytes("512MiB"), bytes("4GiB")]).toEqual([536_870_912, 4_294_967_296]);
  });

  it("a space between the number and the unit, and around the value", () => {
    expect(bytes(" 2 GiB ")).toBe(2_147_483_648);
  });

  it("a fraction that is a whole number of bytes", () => {
    expect(bytes("1.5GiB")).toBe(1_610_612_736);
  });

  it("a plain integer in a string, as bytes", () => {
    expect(bytes("4096")).toBe(4096);
  });

  it("sizes above 2^32 exactly (memory travels as int64)", () => {
    expect(bytes("64GiB")).toBe(68_719_476_736);
  });

  it("the largest exact size, 2^53 − 1 bytes", () => {
    expect(bytes(MAX_SIZE_BYTES)).toBe(9_007_199_254_740_991);
  });
});

describe("parseSize refuses, naming the property", () => {
  it("a decimal unit, with the binary spelling as the hint", () => {
    expect(reason("4GB")).toMatchInlineSnapshot(
      `"Invalid memory.dynamicMax: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), received "4GB". "GB" is a decimal or ambiguous unit; memory sizes take binary units: write "4GiB" (4294967296 bytes), or the number of bytes."`,
    );
  });

  it("a bare unit letter (4G), with the binary spelling", () => {
    expect(reason("4G", "memory.staticMax")).toMatchInlineSnapshot(
      `"Invalid memory.staticMax: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), received "4G". "G" is a decimal or ambiguous unit; memory sizes take binary units: write "4GiB" (4294967296 bytes), or the number of bytes."`,
    );
  });

  it("a binary unit in the wrong case", () => {
    expect(reason("4gib")).toMatchInlineSnapshot(
      `"Invalid memory.dynamicMax: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), received "4gib". Units are case-sensitive: write "4GiB"."`,
    );
  });

  it("an unknown unit", () => {
    expect(reason("4 bananas")).toMatchInlineSnapshot(
      `"Invalid memory.dynamicMax: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), received "4 bananas". Unknown unit "bananas": use KiB, MiB, GiB or TiB."`,
    );
  });

  it("a negative number of bytes", () => {
    expect(reason(-1024, "memory.dynamicMin")).toMatchInlineSnapshot(
      `"Invalid memory.dynamicMin: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), received -1024. A size cannot be negative."`,
    );
  });

  it("a negative size in a string", () => {
    expect(reason("-4GiB")).toMatchInlineSnapshot(
      `"Invalid memory.dynamicMax: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), received "-4GiB". A size cannot be negative."`,
    );
  });

  it("zero", () => {
    expect(reason(0)).toMatchInlineSnapshot(
      `"Invalid memory.dynamicMax: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), received 0. A VM needs some memory."`,
    );
  });

  it("a fraction of a byte (a number)", () => {
    expect(reason(1024.5)).toMatchInlineSnapshot(
      `"Invalid memory.dynamicMax: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), received 1024.5. That is 1024.5 bytes: a size is a whole number of bytes."`,
    );
  });

  it("a fraction of a byte (a unit)", () => {
    expect(reason("0.3KiB")).toMatchInlineSnapshot(
      `"Invalid memory.dynamicMax: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), received "0.3KiB". That is 307.2 bytes: a size is a whole number of bytes."`,
    );
  });

  it("a value above 2^53 − 1", () => {
    expect(reason(2 ** 53)).toMatchInlineSnapshot(
      `"Invalid memory.dynamicMax: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), at most 9007199254740991 bytes (2^53 − 1), received 9007199254740992. Larger numbers are not exact in JavaScript; no host has that much memory."`,
    );
  });

  it("a unit size above 2^53 − 1", () => {
    expect(reason("8192TiB")).toMatchInlineSnapshot(
      `"Invalid memory.dynamicMax: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), at most 9007199254740991 bytes (2^53 − 1), received "8192TiB". Larger numbers are not exact in JavaScript; no host has that much memory."`,
    );
  });

  it("a boolean", () => {
    expect(reason(true)).toMatchInlineSnapshot(
      `"Invalid type of memory.dynamicMax: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), received true. Write e.g. "4GiB"."`,
    );
  });

  it("NaN", () => {
    expect(reason(Number.NaN)).toMatchInlineSnapshot(
      `"Invalid memory.dynamicMax: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), received NaN."`,
    );
  });

  it("an empty string", () => {
    expect(reason("")).toMatchInlineSnapshot(
      `"Invalid memory.dynamicMax: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), received "". Write e.g. "512MiB" or "4GiB"."`,
    );
  });
});

describe("formatSize", () => {
  it("uses the largest binary unit that divides the size", () => {
    expect([formatSize(4_294_967_296), formatSize(1_610_612_736), formatSize(1024)]).toEqual([
      "4GiB",
      "1536MiB",
      "1KiB",
    ]);
  });

  it("falls back to bytes", () => {
    expect(formatSize(1000)).toBe("1000 bytes");
  });
});

describe("shownSize", () => {
  it("shows a unit size with its bytes, a number as it is", () => {
    expect([shownSize("4GiB", 4_294_967_296).text, shownSize(1024, 1024).text]).toEqual([
      '"4GiB" (4294967296 bytes)',
      "1024",
    ]);
  });
});
