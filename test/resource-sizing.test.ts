/**
 * A `Vm`'s vCPUs and memory between the declaration and XAPI's fields (`provider/resource/sizing.ts`):
 * validation of the `vcpus` and `memory` blocks, their bytes, what is read from the VM and pool records,
 * the outputs, the refreshed declaration and the pending paths.
 */
import { describe, expect, it } from "vitest";
import { UNKNOWN_SENTINEL as U, validateVmInputs } from "../provider/inputs";
import type { SizingFields } from "../provider/model/sizing";
import { plannedCalls } from "../provider/resource/recorded-plan";
import {
  availableSizingCallsOf,
  declaredSizingOf,
  failingSizingProperty,
  liveVcpusLicensedOf,
  MemorySchema,
  observedMemoryOf,
  observedSizingDeclaration,
  observedVcpusOf,
  sizingPathsOf,
  VcpusSchema,
} from "../provider/resource/sizing";

const GiB = 2 ** 30;
const MiB = 2 ** 20;

/** A VM with 2 of 4 vCPUs, static 1–4 GiB, dynamic 2–2 GiB. */
const FIELDS: SizingFields = {
  VCPUs_max: 4,
  VCPUs_at_startup: 2,
  memory_static_min: GiB,
  memory_static_max: 4 * GiB,
  memory_dynamic_min: 2 * GiB,
  memory_dynamic_max: 2 * GiB,
};

/** The failures of a block as (property under the block, reason). */
function failures(schema: typeof VcpusSchema | typeof MemorySchema, value: unknown): [string, string][] {
  const parsed = schema.safeParse(value);
  if (parsed.success) return [];
  return parsed.error.issues.map((i) => [i.path.join("."), i.code === "custom" ? i.message : i.code]);
}

describe("vcpus validation", () => {
  it("accepts atStartup alone, and atStartup ≤ max", () => {
    expect([
      failures(VcpusSchema, { atStartup: 2 }),
      failures(VcpusSchema, { atStartup: 2, max: 2 }),
    ]).toEqual([[], []]);
  });

  it("refuses atStartup above max, naming the property, both values and XAPI's rule", () => {
    expect(failures(VcpusSchema, { atStartup: 4, max: 2 })).toMatchInlineSnapshot(`
      [
        [
          "atStartup",
          "Invalid vcpus.atStartup: expected at most vcpus.max (2), received 4. XAPI requires 1 ≤ VCPUs_at_startup ≤ VCPUs_max. Raise vcpus.max or lower vcpus.atStartup.",
        ],
      ]
    `);
  });

  it("refuses a fraction of a vCPU", () => {
    expect(failures(VcpusSchema, { atStartup: 1.5 })).toMatchInlineSnapshot(`
      [
        [
          "atStartup",
          "Invalid vcpus.atStartup: expected a whole number of vCPUs, at least 1, received 1.5.",
        ],
      ]
    `);
  });

  it("refuses zero vCPUs", () => {
    expect(failures(VcpusSchema, { atStartup: 2, max: 0 })).toMatchInlineSnapshot(`
      [
        [
          "max",
          "Invalid vcpus.max: expected a whole number of vCPUs, at least 1, received 0.",
        ],
      ]
    `);
  });

  it("refuses a count written as a string, with the number as the hint", () => {
    expect(failures(VcpusSchema, { atStartup: "2" })).toMatchInlineSnapshot(`
      [
        [
          "atStartup",
          "Invalid type of vcpus.atStartup: expected a whole number of vCPUs, at least 1, received "2". Write it as a number: 2.",
        ],
      ]
    `);
  });

  it("refuses a block without atStartup", () => {
    expect(failures(VcpusSchema, { max: 4 })).toMatchInlineSnapshot(`
      [
        [
          "atStartup",
          "Missing vcpus.atStartup: expected a whole number of vCPUs, at least 1, received nothing. Write e.g. vcpus: { atStartup: 2 }.",
        ],
      ]
    `);
  });

  it("refuses an unknown key (the resource's check words it, with a guess)", () => {
    expect(failures(VcpusSchema, { atStartup: 2, maximum: 4 })).toEqual([["", "unrecognized_keys"]]);
  });

  it("keeps the declared values", () => {
    expect(VcpusSchema.parse({ atStartup: 2, max: 8 })).toEqual({ atStartup: 2, max: 8 });
  });
});

describe("memory validation", () => {
  it("accepts dynamicMax alone, and dynamicMin ≤ dynamicMax ≤ staticMax in any spelling", () => {
    expect([
      failures(MemorySchema, { dynamicMax: "2GiB" }),
      failures(MemorySchema, { dynamicMin: "1GiB", dynamicMax: 2 * GiB, staticMax: "2048MiB" }),
    ]).toEqual([[], []]);
  });

  it("refuses dynamicMax above staticMax, naming the property and both sizes", () => {
    expect(failures(MemorySchema, { dynamicMax: "4GiB", staticMax: "2GiB" })).toMatchInlineSnapshot(`
      [
        [
          "dynamicMax",
          "Invalid memory.dynamicMax: expected at most memory.staticMax, which is "2GiB" (2147483648 bytes), received "4GiB" (4294967296 bytes). XAPI requires static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max. Raise memory.staticMax or lower memory.dynamicMax.",
        ],
      ]
    `);
  });

  it("refuses dynamicMin above dynamicMax", () => {
    expect(failures(MemorySchema, { dynamicMin: 3 * GiB, dynamicMax: "2GiB" })).toMatchInlineSnapshot(`
      [
        [
          "dynamicMin",
          "Invalid memory.dynamicMin: expected at most memory.dynamicMax, which is "2GiB" (2147483648 bytes), received 3221225472. XAPI requires static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max. Raise memory.dynamicMax or lower memory.dynamicMin.",
        ],
      ]
    `);
  });

  it("refuses a decimal unit on its own property", () => {
    expect(failures(MemorySchema, { dynamicMax: "4GB" })).toMatchInlineSnapshot(`
      [
        [
          "dynamicMax",
          "Invalid memory.dynamicMax: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), received "4GB". "GB" is a decimal or ambiguous unit; memory sizes take binary units: write "4GiB" (4294967296 bytes), or the number of bytes.",
        ],
      ]
    `);
  });

  it("refuses a block without dynamicMax", () => {
    expect(failures(MemorySchema, { staticMax: "4GiB" })).toMatchInlineSnapshot(`
      [
        [
          "dynamicMax",
          "Missing memory.dynamicMax: expected a size such as "4GiB" or a number of bytes, received nothing. A memory block declares at least dynamicMax, e.g. memory: { dynamicMax: "4GiB" }.",
        ],
      ]
    `);
  });

  it("does not compare an invalid size (its own failure says enough)", () => {
    expect(failures(MemorySchema, { dynamicMax: "4GB", staticMax: "2GiB" }).map(([p]) => p)).toEqual([
      "dynamicMax",
    ]);
  });

  it("keeps the declared spelling", () => {
    expect(MemorySchema.parse({ dynamicMax: "2GiB", staticMax: 4 * GiB })).toEqual({
      dynamicMax: "2GiB",
      staticMax: 4 * GiB,
    });
  });
});

describe("declaredSizingOf", () => {
  it("gives memory in bytes and leaves out what is not declared", () => {
    expect(declaredSizingOf({ vcpus: { atStartup: 2 }, memory: { dynamicMax: "512MiB" } })).toEqual({
      vcpus: { atStartup: 2 },
      memory: { dynamicMax: 512 * MiB },
    });
  });

  it("is undefined when neither block is declared", () => {
    expect(declaredSizingOf({})).toBeUndefined();
  });
});

describe("liveVcpusLicensedOf", () => {
  it('a pool restricting restrict_set_vcpus_number_live ("true") is not licensed', () => {
    expect(liveVcpusLicensedOf({ restrictions: { restrict_set_vcpus_number_live: "true" } })).toBe(false);
  });

  it('a pool with the restriction "false" is licensed', () => {
    expect(liveVcpusLicensedOf({ restrictions: { restrict_set_vcpus_number_live: "false" } })).toBe(true);
  });

  it("a current pool without the key is not licensed (XAPI enables no unknown restriction of this kind)", () => {
    expect([liveVcpusLicensedOf({ restrictions: {} }), liveVcpusLicensedOf({ uuid: "p" })]).toEqual([
      false,
      false,
    ]);
  });

  it("a pool before API 2.6, whose live call checked no licence, is licensed whatever its record", () => {
    expect(liveVcpusLicensedOf({ restrictions: {} }, { major: 2, minor: 5 })).toBe(true);
  });

  it("API 2.6 reads the restriction", () => {
    const restricted = { restrictions: { restrict_set_vcpus_number_live: "true" } };
    expect(liveVcpusLicensedOf(restricted, { major: 2, minor: 6 })).toBe(false);
  });
});

describe("availableSizingCallsOf", () => {
  it("API 1.7 and later has every sizing setter", () => {
    expect([...availableSizingCallsOf({ major: 1, minor: 7 })].sort()).toEqual([
      "VM.set_VCPUs_at_startup",
      "VM.set_VCPUs_max",
      "VM.set_VCPUs_number_live",
      "VM.set_memory_dynamic_range",
      "VM.set_memory_limits",
    ]);
  });

  it("API 1.1 (XenAPI 1.0 era) has only the live vCPU call", () => {
    expect([...availableSizingCallsOf({ major: 1, minor: 1 })]).toEqual(["VM.set_VCPUs_number_live"]);
  });
});

describe("outputs", () => {
  it("observed.vcpus and observed.memory carry the record's values", () => {
    expect({ vcpus: observedVcpusOf(FIELDS), memory: observedMemoryOf(FIELDS) }).toEqual({
      vcpus: { atStartup: 2, max: 4 },
      memory: { staticMin: GiB, staticMax: 4 * GiB, dynamicMin: 2 * GiB, dynamicMax: 2 * GiB },
    });
  });
});

describe("observedSizingDeclaration (refresh)", () => {
  it("keeps the declared spelling of a size the VM has", () => {
    expect(observedSizingDeclaration({ memory: { dynamicMax: "2048MiB" } }, FIELDS)).toEqual({
      memory: { dynamicMax: "2048MiB" },
    });
  });

  it("writes a drifted size in its shortest binary unit", () => {
    expect(
      observedSizingDeclaration({ memory: { dynamicMax: "1GiB", staticMax: "4GiB" } }, FIELDS).memory,
    ).toEqual({ dynamicMax: "2GiB", staticMax: "4GiB" });
  });

  it("reports only the declared keys: vcpus.max when declared", () => {
    expect([
      observedSizingDeclaration({ vcpus: { atStartup: 1 } }, FIELDS),
      observedSizingDeclaration({ vcpus: { atStartup: 1, max: 2 } }, FIELDS),
    ]).toEqual([{ vcpus: { atStartup: 2 } }, { vcpus: { atStartup: 2, max: 4 } }]);
  });

  it("reports nothing when nothing is declared", () => {
    expect(observedSizingDeclaration({}, FIELDS)).toEqual({});
  });
});

describe("sizingPathsOf (pending report)", () => {
  it("a vCPU count written for the next build is pending", () => {
    expect(
      sizingPathsOf([{ call: "VM.set_VCPUs_at_startup", args: { value: 3 }, from: "Running" }], FIELDS),
    ).toEqual(["vcpus.atStartup"]);
  });

  it("a live vCPU change and a dynamic range set on a Running VM are not", () => {
    expect(
      sizingPathsOf(
        [
          { call: "VM.set_VCPUs_number_live", args: { nvcpu: 3 }, from: "Running" },
          { call: "VM.set_memory_dynamic_range", args: { min: GiB, max: 3 * GiB }, from: "Running" },
        ],
        FIELDS,
      ),
    ).toEqual([]);
  });

  it("set_memory_limits names the bounds it changes", () => {
    expect(
      sizingPathsOf(
        [
          {
            call: "VM.set_memory_limits",
            args: { static_min: GiB, static_max: 8 * GiB, dynamic_min: 2 * GiB, dynamic_max: 3 * GiB },
            from: "Halted",
          },
        ],
        FIELDS,
      ),
    ).toEqual(["memory.dynamicMax", "memory.staticMax"]);
  });

  it("ignores boot setters", () => {
    expect(
      sizingPathsOf([{ call: "VM.set_HVM_boot_params", args: { value: { order: "dc" } } }], FIELDS),
    ).toEqual([]);
  });
});

describe("failingSizingProperty", () => {
  const observed = { vcpus: { atStartup: 2, max: 4 }, memory: { staticMax: 4 * GiB, dynamicMax: 2 * GiB } };

  it("names a property XAPI writes only on a Halted VM before a live one", () => {
    expect(
      failingSizingProperty(
        { vcpus: { atStartup: 3 }, memory: { staticMax: 8 * GiB, dynamicMax: 2 * GiB } },
        observed,
      ),
    ).toBe("memory.staticMax");
  });

  it("names the declared property that differs from the VM's value", () => {
    expect(failingSizingProperty({ memory: { dynamicMax: 3 * GiB } }, observed)).toBe("memory.dynamicMax");
  });

  it("falls back to the block when nothing declared differs", () => {
    expect(failingSizingProperty({ vcpus: { atStartup: 2 } }, observed)).toBe("vcpus");
  });
});

describe("the Vm's check (validateVmInputs) with vcpus and memory", () => {
  const T = { template: "Debian Bookworm 12" };
  const properties = (raw: unknown) => {
    const r = validateVmInputs(raw);
    return r.ok ? [] : r.failures.map((f) => f.property);
  };

  it("reports a failure on the nested property", () => {
    expect(properties({ ...T, vcpus: { atStartup: 4, max: 2 }, memory: { dynamicMax: "2GB" } })).toEqual([
      "vcpus.atStartup",
      "memory.dynamicMax",
    ]);
  });

  it("suggests the key a misspelt one was meant to be", () => {
    const r = validateVmInputs({ ...T, memory: { dynamicMax: "2GiB", staticMx: "4GiB" } });
    expect(r.ok ? "" : r.failures[0]?.reason).toContain('Did you mean "staticMax"?');
  });

  it("skips the order rule while the other size is unknown (preview)", () => {
    const r = validateVmInputs({ ...T, memory: { dynamicMax: "8GiB", staticMax: U } });
    expect([r.ok, r.unknowns]).toEqual([true, ["memory.staticMax"]]);
  });

  it("keeps the declared spelling and defaults policy.powerCycle to refuse", () => {
    const r = validateVmInputs({ ...T, memory: { dynamicMax: "2GiB" } });
    expect(r.ok && [r.value.memory, r.value.policy.powerCycle]).toEqual([{ dynamicMax: "2GiB" }, "refuse"]);
  });

  it('accepts policy.powerCycle "allow" and refuses another word', () => {
    expect([
      properties({ ...T, policy: { powerCycle: "allow" } }),
      properties({ ...T, policy: { powerCycle: "yes" } }),
    ]).toEqual([[], ["policy.powerCycle"]]);
  });
});

describe("the plan from the recorded inputs (no pool)", () => {
  const policy = { shutdown: "clean", bootChanges: "restart", allowDiscardSuspendedState: false } as const;
  const old = { template: "Debian Bookworm 12", powerState: "Running", vcpus: { atStartup: 2 } };

  it("says a changed vcpus block is planned from the VM's values during the update", () => {
    const lines = plannedCalls(old, { ...old, powerState: "Running", policy, vcpus: { atStartup: 4 } }, []);
    expect(lines).toEqual([expect.stringMatching(/^1\. vcpus: the calls depend on the VM's own values/)]);
  });

  it("says nothing of an unchanged block", () => {
    expect(plannedCalls(old, { ...old, powerState: "Running", policy }, [])).toEqual([]);
  });

  it("defers the plan while a size is unknown", () => {
    const lines = plannedCalls(old, { ...old, powerState: "Running", policy }, ["memory.dynamicMax"]);
    expect(lines).toEqual([expect.stringContaining("the calls depend on memory")]);
  });
});
