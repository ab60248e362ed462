/**
 * Random sequences of lifecycle calls against an independent oracle written from
 * xapi-semantics §2.1 and §4.1: after every call the power state, the error, allowed_operations,
 * the domid and the boot count agree with the oracle.
 */
import fc from "fast-check";
import { expect, it } from "vitest";
import { XapiFault } from "../simulator/api";
import { FIXTURE, harness } from "./sim-model-helpers";

type State = "Halted" | "Paused" | "Running" | "Suspended";

interface Op {
  readonly call: string;
  readonly args: readonly unknown[];
  /** allowed_power_states in the code's order (§4.1). */
  readonly from: readonly State[];
  readonly to: State;
  /** Builds a new domain: "boot" records a boot (start, reboots), "resume" does not (§7.6). */
  readonly domain: "boot" | "resume" | "same" | "none";
}

const OPS: readonly Op[] = [
  { call: "start", args: [false, false], from: ["Halted"], to: "Running", domain: "boot" },
  { call: "start", args: [true, false], from: ["Halted"], to: "Paused", domain: "boot" },
  { call: "pause", args: [], from: ["Running"], to: "Paused", domain: "same" },
  { call: "unpause", args: [], from: ["Paused"], to: "Running", domain: "same" },
  { call: "suspend", args: [], from: ["Running"], to: "Suspended", domain: "none" },
  { call: "resume", args: [false, false], from: ["Suspended"], to: "Running", domain: "resume" },
  { call: "resume", args: [true, false], from: ["Suspended"], to: "Paused", domain: "resume" },
  { call: "clean_shutdown", args: [], from: ["Running"], to: "Halted", domain: "none" },
  { call: "hard_shutdown", args: [], from: ["Paused", "Suspended", "Running"], to: "Halted", domain: "none" },
  { call: "shutdown", args: [], from: ["Paused", "Suspended", "Running"], to: "Halted", domain: "none" },
  { call: "clean_reboot", args: [], from: ["Running"], to: "Running", domain: "boot" },
  { call: "hard_reboot", args: [], from: ["Paused", "Running"], to: "Running", domain: "boot" },
];

/** Ops allowed_operations may list (shutdown never is, §4.5). */
const LISTED = [
  "start",
  "pause",
  "unpause",
  "suspend",
  "resume",
  "clean_shutdown",
  "hard_shutdown",
  "clean_reboot",
  "hard_reboot",
];

const VM = FIXTURE.db.ref;

it("every call sequence matches the oracle step by step", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.constantFrom(...OPS), { minLength: 1, maxLength: 10 }), async (ops) => {
      const h = await harness({ cleanShutdownTimeoutMs: 2 });
      let state: State = "Halted";
      let boots = 0;
      let domid = -1;
      for (const op of ops) {
        let error: XapiFault | undefined;
        try {
          await h.call(`VM.${op.call}`, VM, ...op.args);
        } catch (e) {
          if (!(e instanceof XapiFault)) throw e;
          error = e;
        }
        const legal = op.from.includes(state);
        if (legal) {
          expect(error).toBeUndefined();
          if (op.domain === "boot") boots += 1;
          state = op.to;
        } else {
          expect([error?.code, ...(error?.params ?? [])]).toEqual([
            "VM_BAD_POWER_STATE",
            VM,
            op.from.map((s) => s.toLowerCase()).join(", "),
            state.toLowerCase(),
          ]);
        }
        const record = (await h.call("VM.get_record", VM)) as Record<string, unknown>;
        expect(record.power_state).toBe(state);
        const live = state === "Running" || state === "Paused";
        const newDomid = record.domid as number;
        if (!live) expect(newDomid).toBe(-1);
        else if (legal && (op.domain === "boot" || op.domain === "resume")) expect(newDomid).not.toBe(domid);
        else expect(newDomid).toBe(domid);
        domid = newDomid;
        const listed = (record.allowed_operations as string[]).filter((o) => LISTED.includes(o)).sort();
        const expected = LISTED.filter((name) =>
          OPS.some((o) => o.call === name && o.from.includes(state)),
        ).sort();
        expect(listed).toEqual(expected);
        expect(await h.control("bootRecord", { uuid: FIXTURE.db.uuid })).toMatchObject({ bootCount: boots });
      }
      h.model.close();
    }),
    { numRuns: 60 },
  );
});
