import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  formatBytes,
  resolveSizing,
  type SizingFields,
  sizingOf,
  validateSizing,
} from "../provider/model/sizing";
import { renderSizingRulesTable, SIZING_RULES, SizingChange } from "../provider/model/sizing-rules";
import { SizingCall } from "../provider/model/vocabulary";
import { SETTER_STATES } from "./planner-oracle-sizing";

const GiB = 1024 ** 3;
const VM: SizingFields = {
  VCPUs_max: 4,
  VCPUs_at_startup: 2,
  memory_static_min: GiB,
  memory_static_max: 4 * GiB,
  memory_dynamic_min: 2 * GiB,
  memory_dynamic_max: 4 * GiB,
};

describe("the sizing rules table", () => {
  it("is rendered in docs/xapi-vcpus-memory.md", () => {
    const doc = readFileSync(join(__dirname, "..", "docs", "xapi-vcpus-memory.md"), "utf8");
    const begin = doc.indexOf("\n", doc.indexOf("<!-- sizing-rules:begin")) + 1;
    expect(doc.slice(begin, doc.indexOf("<!-- sizing-rules:end"))).toBe(renderSizingRulesTable());
  });

  // The oracle restates the power states from docs/xapi-vcpus-memory.md on its own.
  it.each(SIZING_RULES.map((r) => ({ call: r.call, states: r.states })))(
    "$call: accepted in the power states the oracle reads from the doc",
    ({ call, states }) => {
      expect([...states].sort()).toEqual([...(SETTER_STATES[call] ?? [])].sort());
    },
  );

  it("has one row per sizing call", () => {
    expect(SIZING_RULES.map((r) => r.call).sort()).toEqual(Object.values(SizingCall).sort());
  });

  it("can make every change kind on a Halted VM (where a power cycle ends up)", () => {
    const halted = Object.values(SizingChange).filter((c) =>
      SIZING_RULES.some((r) => r.changes.includes(c) && r.states.includes("Halted")),
    );
    expect(halted).toEqual(Object.values(SizingChange));
  });

  it("names each row's parameters as XAPI does (datamodel_vm.ml)", () => {
    expect(Object.fromEntries(SIZING_RULES.map((r) => [r.call, r.params]))).toEqual({
      "VM.set_VCPUs_max": ["value"],
      "VM.set_VCPUs_at_startup": ["value"],
      "VM.set_VCPUs_number_live": ["nvcpu"],
      "VM.set_memory_dynamic_range": ["min", "max"],
      "VM.set_memory_limits": ["static_min", "static_max", "dynamic_min", "dynamic_max"],
    });
  });

  // The executor reads a written value as the parameter at the same position as its field.
  it("lists one field per parameter, in the same order", () => {
    expect(SIZING_RULES.filter((r) => r.fields.length !== r.params.length).map((r) => r.call)).toEqual([]);
  });

  it("marks only the Running-only vCPU call as needing the guest's hotplug and the Live_set_vcpus licence", () => {
    const gated = SIZING_RULES.filter((r) => r.guest === "vcpu-hotplug" || r.licence !== "none").map((r) => [
      r.call,
      r.guest,
      r.licence,
    ]);
    expect(gated).toEqual([["VM.set_VCPUs_number_live", "vcpu-hotplug", "Live_set_vcpus"]]);
  });
});

describe("resolveSizing and validateSizing", () => {
  it("keeps the VM's value of every omitted field", () => {
    expect(resolveSizing({ memory: { dynamicMax: 3 * GiB } }, VM)).toEqual({
      ...VM,
      memory_dynamic_max: 3 * GiB,
    });
  });

  it("accepts a target in XAPI's order", () => {
    expect(validateSizing({ ...VM, VCPUs_at_startup: 4 })).toBeUndefined();
  });

  it("blames vcpus.atStartup above the VM's vcpus.max, naming both values", () => {
    const declared = { vcpus: { atStartup: 6 } };
    expect(validateSizing(resolveSizing(declared, VM), declared)).toMatchInlineSnapshot(
      `"Invalid declared vcpus.atStartup: expected at most vcpus.max (4, the VM's), received 6. Declare vcpus.max too: an omitted field keeps the VM's value."`,
    );
  });

  it("with both vCPU fields declared, blames vcpus.atStartup above the declared vcpus.max", () => {
    const declared = { vcpus: { atStartup: 2, max: 1 } };
    expect(validateSizing(resolveSizing(declared, VM), declared)).toMatchInlineSnapshot(
      `"Invalid declared vcpus.atStartup: expected at most vcpus.max (1, declared), received 2. XAPI requires 1 ≤ vcpus.atStartup ≤ vcpus.max and staticMin ≤ dynamicMin ≤ dynamicMax ≤ staticMax."`,
    );
  });

  it("blames memory.dynamicMax above the VM's staticMax, in bytes and binary units", () => {
    const declared = { memory: { dynamicMax: 8 * GiB } };
    expect(validateSizing(resolveSizing(declared, VM), declared)).toMatchInlineSnapshot(
      `"Invalid declared memory.dynamicMax: expected at most memory.staticMax (4294967296 (4 GiB), the VM's), received 8589934592 (8 GiB). Declare memory.staticMax too: an omitted field keeps the VM's value."`,
    );
  });

  it("blames a declared memory.dynamicMin below the VM's staticMin", () => {
    const declared = { memory: { dynamicMin: GiB / 2, dynamicMax: 4 * GiB } };
    expect(validateSizing(resolveSizing(declared, VM), declared)).toMatchInlineSnapshot(
      `"Invalid declared memory.dynamicMin: expected at least memory.staticMin (1073741824 (1 GiB), the VM's), received 536870912 (512 MiB). Declare memory.staticMin too: an omitted field keeps the VM's value."`,
    );
  });

  it.each([
    ["zero vCPUs", { ...VM, VCPUs_at_startup: 0 }, "vcpus.atStartup"],
    ["a fraction of a vCPU", { ...VM, VCPUs_max: 2.5 }, "vcpus.max"],
    ["negative memory", { ...VM, memory_static_min: -1 }, "memory.staticMin"],
  ])("refuses %s, naming the property", (_name, target, property) => {
    expect.assertions(1);
    expect(validateSizing(target)).toContain(`Invalid ${property}:`);
  });
});

describe("sizingOf and formatBytes", () => {
  it("reads the six fields as numbers", () => {
    expect(sizingOf({ ...VM, uuid: "x" })).toEqual(VM);
  });

  it("reads int64 fields sent as decimal strings (XML-RPC)", () => {
    expect(sizingOf({ ...VM, memory_static_max: "8589934592", VCPUs_max: "8" })).toEqual({
      ...VM,
      memory_static_max: 8 * GiB,
      VCPUs_max: 8,
    });
  });

  it("is undefined when a field is missing", () => {
    const { memory_dynamic_min: _, ...rest } = VM;
    expect(sizingOf(rest)).toBeUndefined();
  });

  it.each([
    [512 * 1024 * 1024, "536870912 (512 MiB)"],
    [4 * GiB, "4294967296 (4 GiB)"],
    [1536, "1536"],
    [0, "0"],
  ])("formats %i bytes as %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
