/** customTimeouts: Go duration strings and the operation deadline. */
import { describe, expect, it } from "vitest";
import type { ProviderError } from "../provider/resource/errors";
import { Deadline, parseGoDuration } from "../provider/resource/timeouts";

describe("parseGoDuration", () => {
  it.each([
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["90s", 90_000],
    ["250ms", 250],
    ["2m30s", 150_000],
    ["0", 0],
  ])("parses %j as %d ms", (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  it.each(["", "5", "5 m", "m5", "5x", "abc", "1h x"])("refuses %j", (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });
});

describe("Deadline", () => {
  it("without a budget, leaves the per-operation limit alone and never expires", () => {
    const d = new Deadline(undefined, "none");
    expect([d.remainingMs(), d.taskTimeoutMs(60_000), d.taskTimeoutMs(undefined)]).toEqual([
      undefined,
      60_000,
      undefined,
    ]);
    expect(() => d.check("anything")).not.toThrow();
  });

  it("gives each task the smaller of its limit and the time left", () => {
    let now = 1_000;
    const d = new Deadline(10_000, "customTimeouts.update (10s)", () => now);
    now += 7_000;
    expect([d.taskTimeoutMs(60_000), d.taskTimeoutMs(1_000), d.taskTimeoutMs(undefined)]).toEqual([
      3_000, 1_000, 3_000,
    ]);
  });

  it("fails with DEADLINE_EXCEEDED once the budget is spent", () => {
    let now = 0;
    const d = new Deadline(5_000, "customTimeouts.create (5s)", () => now);
    now = 5_000;
    let error: unknown;
    try {
      d.check("VM.provision");
    } catch (e) {
      error = e;
    }
    expect([(error as ProviderError).code, (error as Error).message]).toMatchInlineSnapshot(`
      [
        "DEADLINE_EXCEEDED",
        "Deadline exceeded before VM.provision: customTimeouts.create (5s) has passed. Try a longer customTimeouts value.",
      ]
    `);
  });
});
