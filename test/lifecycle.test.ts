import { describe, expect, it } from "vitest";
import {
  formatCall,
  hasFlag,
  LIFECYCLE,
  renderMermaid,
  TRANSITIONS,
  type Transition,
  TransitionFlag,
  transitionsFrom,
} from "../provider/model/lifecycle";
import { LifecycleCall, PowerState } from "../provider/model/vocabulary";

const edge = (from: string, call: string, to: string) =>
  TRANSITIONS.filter((t) => t.from === from && t.call === call && t.to === to);

function only(from: string, call: string, to: string): Transition {
  const [first, ...rest] = edge(from, call, to);
  if (first === undefined || rest.length > 0) throw new Error(`expected exactly one ${from} ${call} ${to}`);
  return first;
}

describe("the lifecycle table", () => {
  it("has a block for every power state, Crashed included", () => {
    expect(Object.keys(LIFECYCLE).sort()).toEqual(Object.values(PowerState).sort());
  });

  it("has no call that enters Crashed", () => {
    expect(TRANSITIONS.filter((t) => (t.to as string) === PowerState.Crashed)).toEqual([]);
  });

  it("leaves Crashed only with VM.hard_shutdown, to Halted", () => {
    expect(transitionsFrom("Crashed").map((t) => [t.call, t.to])).toEqual([["VM.hard_shutdown", "Halted"]]);
  });

  it("allows VM.suspend from Running only (XAPI, unlike the XenAPI 1.0 figure)", () => {
    expect(TRANSITIONS.filter((t) => t.call === LifecycleCall.suspend).map((t) => t.from)).toEqual([
      "Running",
    ]);
  });

  it("goes Paused → Running with VM.unpause, not VM.resume", () => {
    expect(edge("Paused", "VM.unpause", "Running")).toHaveLength(1);
    expect(transitionsFrom("Paused").filter((t) => t.call === LifecycleCall.resume)).toEqual([]);
  });

  it("ends VM.hard_reboot from Paused in Running", () => {
    expect(edge("Paused", "VM.hard_reboot", "Running")).toHaveLength(1);
  });

  it("allows VM.hard_reboot from Paused and Running only", () => {
    expect(
      TRANSITIONS.filter((t) => t.call === LifecycleCall.hardReboot)
        .map((t) => t.from)
        .sort(),
    ).toEqual(["Paused", "Running"]);
  });

  it("gives start and resume start_paused exactly when they lead to Paused, and force false", () => {
    const withArgs = TRANSITIONS.filter(
      (t) => t.call === LifecycleCall.start || t.call === LifecycleCall.resume,
    );
    expect(withArgs).toHaveLength(4);
    for (const t of withArgs) expect(t.args).toEqual({ start_paused: t.to === "Paused", force: false });
  });

  it("gives every other call no arguments", () => {
    const others = TRANSITIONS.filter(
      (t) => t.call !== LifecycleCall.start && t.call !== LifecycleCall.resume,
    );
    for (const t of others) expect(t.args).toEqual({});
  });

  it("lists VM.shutdown from Running, Paused and Suspended, never planned", () => {
    const shutdown = TRANSITIONS.filter((t) => t.call === LifecycleCall.shutdown);
    expect(shutdown.map((t) => [t.from, t.to, t.planned])).toEqual([
      ["Paused", "Halted", false],
      ["Running", "Halted", false],
      ["Suspended", "Halted", false],
    ]);
  });

  it("plans every other transition", () => {
    expect(TRANSITIONS.filter((t) => !t.planned).every((t) => t.call === LifecycleCall.shutdown)).toBe(true);
  });

  it("rebuilds the domain with start and the reboots only; resume restores the old one", () => {
    const rebuilding = new Set(TRANSITIONS.filter((t) => t.rebuildsDomain).map((t) => t.call));
    expect([...rebuilding].sort()).toEqual(["VM.clean_reboot", "VM.hard_reboot", "VM.start"]);
  });

  it("flags the clean calls graceful and nothing else", () => {
    const graceful = TRANSITIONS.filter((t) => hasFlag(t, TransitionFlag.graceful)).map((t) => t.call);
    expect(graceful.sort()).toEqual(["VM.clean_reboot", "VM.clean_shutdown"]);
  });

  it("flags hard_shutdown, hard_reboot and shutdown hard", () => {
    const hard = new Set(TRANSITIONS.filter((t) => hasFlag(t, TransitionFlag.hard)).map((t) => t.call));
    expect([...hard].sort()).toEqual(["VM.hard_reboot", "VM.hard_shutdown", "VM.shutdown"]);
  });

  it("flags the hard shutdown of a Suspended VM destructive (the image is lost), not that of a Crashed one", () => {
    expect(hasFlag(only("Suspended", "VM.hard_shutdown", "Halted"), TransitionFlag.destructive)).toBe(true);
    expect(hasFlag(only("Crashed", "VM.hard_shutdown", "Halted"), TransitionFlag.destructive)).toBe(false);
  });

  // XAPI's power-state transitions, written out by hand: suspend from Running only, Paused → Running by
  // unpause, hard_reboot of a Paused VM ends Running, VM.shutdown from Running, Paused and Suspended, and the
  // XenAPI 1.0 Crashed state left only with hard_shutdown.
  it("matches XAPI's edge list, written out by hand, plus Crashed", () => {
    const expected = [
      "Halted VM.start Running",
      "Halted VM.start Paused",
      "Running VM.pause Paused",
      "Paused VM.unpause Running",
      "Running VM.suspend Suspended",
      "Suspended VM.resume Running",
      "Suspended VM.resume Paused",
      "Running VM.clean_shutdown Halted",
      "Running VM.hard_shutdown Halted",
      "Paused VM.hard_shutdown Halted",
      "Suspended VM.hard_shutdown Halted",
      "Running VM.shutdown Halted",
      "Paused VM.shutdown Halted",
      "Suspended VM.shutdown Halted",
      "Running VM.clean_reboot Running",
      "Running VM.hard_reboot Running",
      "Paused VM.hard_reboot Running",
      "Crashed VM.hard_shutdown Halted",
    ];
    expect(TRANSITIONS.map((t) => `${t.from} ${t.call} ${t.to}`).sort()).toEqual(expected.sort());
  });
});

describe("formatCall", () => {
  it("writes arguments in call syntax", () => {
    expect(formatCall("VM.start", { start_paused: true, force: false })).toMatchInlineSnapshot(
      `"VM.start(start_paused: true, force: false)"`,
    );
  });

  it("writes a call without arguments bare", () => {
    expect(formatCall("VM.pause", {})).toBe("VM.pause");
  });
});

describe("renderMermaid", () => {
  it("draws one arrow per pair of states, with every call of the table on it", () => {
    const diagram = renderMermaid();
    for (const t of TRANSITIONS) {
      const arrow = diagram.split("\n").find((l) => l.trim().startsWith(`${t.from} --> ${t.to} :`));
      expect(arrow, `${t.from} --> ${t.to}`).toContain(t.call.replace("VM.", ""));
    }
  });

  it("draws no arrow into Crashed", () => {
    expect(renderMermaid()).not.toMatch(/--> Crashed/);
  });

  it("marks VM.shutdown as never planned", () => {
    expect(renderMermaid()).toContain("shutdown [hard, destructive, never planned]");
  });
});
