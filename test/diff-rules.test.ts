import { describe, expect, it } from "vitest";
import type { VmRecord } from "../provider/executor";
import { UNKNOWN_SENTINEL } from "../provider/inputs";
import {
  adoptionChanges,
  changedProperties,
  identityReplaces,
  recordedDrift,
  withDefaults,
} from "../provider/resource/diff-rules";
import { markerApplies, PENDING_KEY, pendingMarkerOf } from "../provider/resource/pending-boot";

describe("diff rules", () => {
  it("a new template replaces; a created VM declared by its own uuid is adopted in place", () => {
    expect(identityReplaces({ template: "a" }, { template: "b" })).toEqual(["template"]);
    expect(identityReplaces({ template: "a", uuid: "u" }, { uuid: "u" })).toEqual([]);
    expect(adoptionChanges({ template: "a", uuid: "u" }, { uuid: "u" })).toBe(true);
    expect(identityReplaces({ uuid: "u", adopted: true }, { uuid: "v" })).toEqual(["uuid"]);
  });

  it("defaults count as declared, and an unknown value is a change", () => {
    const before = withDefaults({ template: "a" });
    expect(changedProperties(before, withDefaults({ template: "a", powerState: "Running" }))).toEqual([]);
    expect(changedProperties(before, withDefaults({ template: "a", nameLabel: UNKNOWN_SENTINEL }))).toEqual([
      "nameLabel",
    ]);
  });

  it("with the pool unreadable: a recorded power state or a pending change now due is drift", () => {
    expect(recordedDrift({ observedPowerState: "Halted" }, withDefaults({ powerState: "Running" }))).toBe(
      true,
    );
    const pending = { observedPowerState: "Running", pendingBootChanges: ["hvm.bootParams.order"] };
    expect(recordedDrift(pending, withDefaults({ powerState: "Running" }))).toBe(true);
    const nextBoot = withDefaults({ powerState: "Running", policy: { bootChanges: "next-boot" } });
    expect(recordedDrift(pending, nextBoot)).toBe(false);
  });
});

describe("the pending-boot note", () => {
  const record = (power: string, domid: number, note?: string) =>
    ({
      power_state: power,
      domid: String(domid),
      other_config: note === undefined ? {} : { [PENDING_KEY]: note },
    }) as unknown as VmRecord;

  it("applies while the VM runs the domain it names, and while Suspended", () => {
    const note = JSON.stringify({ domid: 7, paths: ["pv.args"] });
    expect(markerApplies(pendingMarkerOf(record("Running", 7, note)), record("Running", 7))).toBe(true);
    expect(markerApplies(pendingMarkerOf(record("Running", 7, note)), record("Running", 8))).toBe(false);
    expect(markerApplies(pendingMarkerOf(record("Suspended", -1, note)), record("Suspended", -1))).toBe(true);
    expect(markerApplies(pendingMarkerOf(record("Halted", -1, note)), record("Halted", -1))).toBe(false);
  });

  it("an unreadable note is no note", () => {
    expect(pendingMarkerOf(record("Running", 7, "{not json"))).toBeUndefined();
  });
});
