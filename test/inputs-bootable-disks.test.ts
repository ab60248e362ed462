/**
 * The `bootableDisks` input (issue #7): userdevices of the disks that must be bootable, validated with
 * the one wording formula (what failed, expected vs received, a hint).
 */
import { describe, expect, it } from "vitest";
import { UNKNOWN_SENTINEL, validateVmInputs } from "../provider/inputs";

const T = { template: "Generic PV (pygrub)" };

function failures(raw: Record<string, unknown>) {
  const result = validateVmInputs(raw);
  return result.ok ? [] : result.failures;
}

describe("bootableDisks", () => {
  it("accepts userdevices as decimal strings, in any order", () => {
    const result = validateVmInputs({ ...T, bootableDisks: ["3", "0"] });
    expect(result.ok ? result.value.bootableDisks : result.failures).toEqual(["3", "0"]);
  });

  it("accepts [] (no disk bootable)", () => {
    const result = validateVmInputs({ ...T, bootableDisks: [] });
    expect(result.ok ? result.value.bootableDisks : result.failures).toEqual([]);
  });

  it("leaves the flags unmanaged when omitted", () => {
    const result = validateVmInputs(T);
    expect(result.ok && "bootableDisks" in result.value).toBe(false);
  });

  it("asks for a string when given a number", () => {
    expect(failures({ ...T, bootableDisks: [0] })).toMatchInlineSnapshot(`
      [
        {
          "property": "bootableDisks.0",
          "reason": "Invalid value: expected the userdevice of one of the VM's disks, a decimal string such as "0" or a device name such as "xvda", received 0. Write it as a string: "0".",
        },
      ]
    `);
  });

  it("accepts a device name, as XAPI reads userdevices (xvda is disk 0)", () => {
    expect(failures({ ...T, bootableDisks: ["xvda", "1"] })).toEqual([]);
  });

  it("rejects a name XAPI would not read as a device", () => {
    expect(failures({ ...T, bootableDisks: ["disk0"] })).toMatchInlineSnapshot(`
      [
        {
          "property": "bootableDisks.0",
          "reason": "Invalid value: expected the userdevice of one of the VM's disks, a decimal string such as "0" or a device name such as "xvda", received "disk0". List them with "xe vbd-list vm-uuid=<uuid>".",
        },
      ]
    `);
  });

  it("rejects the same disk named twice, by number and by device name", () => {
    expect(failures({ ...T, bootableDisks: ["0", "xvda"] })).toMatchInlineSnapshot(`
      [
        {
          "property": "bootableDisks.1",
          "reason": "Duplicate value: expected each disk at most once, received "xvda". "0" and "xvda" name the same disk (XAPI reads both as disk 0); keep one.",
        },
      ]
    `);
  });

  it("rejects a repeated userdevice", () => {
    expect(failures({ ...T, bootableDisks: ["0", "1", "0"] })).toMatchInlineSnapshot(`
      [
        {
          "property": "bootableDisks.2",
          "reason": "Duplicate value: expected each disk at most once, received "0". Remove the repeated entry.",
        },
      ]
    `);
  });

  it("rejects something that is not a list", () => {
    expect(failures({ ...T, bootableDisks: "0" })).toMatchInlineSnapshot(`
      [
        {
          "property": "bootableDisks",
          "reason": "Invalid type: expected an array, received "0". Write e.g. bootableDisks: ["0"] (userdevices of the VM's disks).",
        },
      ]
    `);
  });

  it("treats a list with an unknown element (preview) as unknown", () => {
    const result = validateVmInputs({ ...T, bootableDisks: ["0", UNKNOWN_SENTINEL] });
    expect([result.ok, result.unknowns]).toEqual([true, ["bootableDisks"]]);
  });
});
