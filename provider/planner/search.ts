/**
 * The lifecycle steps of a plan: a bounded breadth-first search over the product state space (power
 * state × "the live domain already runs the declared boot config" × domain builds so far × the vCPU and
 * memory changes still to write × those written but not yet in the domain), using only the transitions
 * of `LIFECYCLE` that the policy allows; the sizing writes are free moves made on arrival in a state
 * (`settle`, `sizing.ts`). The plan has the fewest lifecycle calls; among equally short plans the one
 * with the fewest domain builds, then the fewest destructive, then fewest hard calls wins, then the
 * gentlest calls earliest (`CALL_PREFERENCE`), so the result is deterministic. Also the one-line reason
 * of each step.
 */
import { hasFlag, type Transition, TransitionFlag, transitionsFrom } from "../model/lifecycle";
import type { PlanFailure, PlanStep, Policy } from "../model/plan";
import { type DeclarablePowerState, LifecycleCall, PowerState } from "../model/vocabulary";
import { fail, isAllowedByPolicy } from "./policy";

/**
 * Tie-break among equally short, equally gentle plans: earlier calls in this list are preferred, and
 * `start_paused: false` before `true`. Keeping the domain (unpause, resume) comes before building one.
 */
export const CALL_PREFERENCE: readonly LifecycleCall[] = [
  LifecycleCall.unpause,
  LifecycleCall.resume,
  LifecycleCall.start,
  LifecycleCall.pause,
  LifecycleCall.suspend,
  LifecycleCall.cleanReboot,
  LifecycleCall.cleanShutdown,
  LifecycleCall.hardReboot,
  LifecycleCall.hardShutdown,
  LifecycleCall.shutdown,
];

export interface SearchNode {
  readonly power: PowerState;
  /** The live domain (or suspend image) runs the declared boot config; always true when Halted. */
  readonly fresh: boolean;
  /** Domains built during the plan, capped at 2 (enough to tell "exactly one"). */
  readonly builds: 0 | 1 | 2;
  /** Sizing changes not yet written (bitmask, `sizing.ts`); 0 when sizing is not managed. */
  readonly pending: number;
  /** Sizing changes written for the next build while a domain runs (bitmask); 0 when Halted. */
  readonly stale: number;
}

/** The sizing writes made on arrival in a state: pending and stale after them (`settleSizing`). */
export type Settle = (
  power: PowerState,
  pending: number,
  stale: number,
) => { pending: number; stale: number };

/** No sizing managed: nothing to write. */
export const NO_SIZING: Settle = (_power, pending, stale) => ({ pending, stale });

export interface Goal {
  readonly power: DeclarablePowerState;
  readonly mustBeFresh: boolean;
  readonly exactlyOneBuild: boolean;
}

interface Path {
  readonly node: SearchNode;
  readonly edges: readonly Transition[];
}

type SearchResult =
  | { readonly ok: true; readonly path: readonly Transition[]; readonly end: SearchNode }
  | { readonly ok: false; readonly failure: PlanFailure };

function step(n: SearchNode, t: Transition, settle: Settle): SearchNode {
  const builds = t.rebuildsDomain ? (Math.min(n.builds + 1, 2) as 1 | 2) : n.builds;
  // A new domain, or none at all, runs every field written so far.
  const caughtUp = t.to === PowerState.Halted || t.rebuildsDomain;
  const sizing = settle(t.to, n.pending, caughtUp ? 0 : n.stale);
  return {
    power: t.to,
    fresh: caughtUp || n.fresh,
    builds,
    pending: sizing.pending,
    stale: sizing.stale,
  };
}

function isGoal(n: SearchNode, g: Goal): boolean {
  return (
    n.power === g.power &&
    n.pending === 0 &&
    (!g.mustBeFresh || (n.fresh && n.stale === 0)) &&
    (!g.exactlyOneBuild || n.builds === 1)
  );
}

const keyOf = (n: SearchNode): string => `${n.power}/${n.fresh}/${n.builds}/${n.pending}/${n.stale}`;

// Layered BFS: every layer holds, per node, the best path of that length (see `better`). A node first
// reached at layer d is never revisited, so every kept path is a shortest one.
export function search(
  start: SearchNode,
  goal: Goal,
  policy: Policy,
  limit: number,
  settle: Settle = NO_SIZING,
): SearchResult {
  if (isGoal(start, goal)) return { ok: true, path: [], end: start };
  const seen = new Set([keyOf(start)]);
  let layer: Path[] = [{ node: start, edges: [] }];
  for (let depth = 1; depth <= limit; depth++) {
    const next = new Map<string, Path>();
    for (const p of layer) {
      for (const t of transitionsFrom(p.node.power)) {
        if (!isAllowedByPolicy(t, policy)) continue;
        const node = step(p.node, t, settle);
        const key = keyOf(node);
        if (seen.has(key)) continue;
        const candidate = { node, edges: [...p.edges, t] };
        const kept = next.get(key);
        if (kept === undefined || better(candidate.edges, kept.edges)) next.set(key, candidate);
      }
    }
    for (const key of next.keys()) seen.add(key);
    const goals = [...next.values()].filter((p) => isGoal(p.node, goal));
    if (goals.length > 0) {
      const best = goals.reduce((a, b) => (better(b.edges, a.edges) ? b : a));
      return { ok: true, path: best.edges, end: best.node };
    }
    if (next.size === 0) {
      return fail(
        "NO_LEGAL_PATH",
        `No legal plan: no sequence of calls allowed by the policy leads from ${start.power} to ${describeGoal(goal)}. ${policyHint(policy)}`,
      );
    }
    layer = [...next.values()];
  }
  return fail(
    "SEARCH_LIMIT",
    `Search limit reached: no plan from ${start.power} to ${describeGoal(goal)} within ${limit} lifecycle calls. This is a planner bug or a too small searchLimit; report it.`,
  );
}

/**
 * What a path costs, compared lexicographically: lifecycle calls, domain builds, destructive calls,
 * hard calls. A refused power cycle is a plan that costs more than the one without the sizing changes.
 */
export function pathCost(p: readonly Transition[]): number[] {
  return [
    p.length,
    p.filter((t) => t.rebuildsDomain).length,
    p.filter((t) => hasFlag(t, TransitionFlag.destructive)).length,
    p.filter((t) => hasFlag(t, TransitionFlag.hard)).length,
  ];
}

/** `a` costs more than `b` ({@link pathCost}). */
export function costsMore(a: readonly Transition[], b: readonly Transition[]): boolean {
  const ca = pathCost(a);
  const cb = pathCost(b);
  const i = ca.findIndex((x, j) => x !== cb[j]);
  return i >= 0 && (ca[i] ?? 0) > (cb[i] ?? 0);
}

/** Lexicographic: fewer builds, fewer destructive, fewer hard, then the preferred call earliest. */
function better(a: readonly Transition[], b: readonly Transition[]): boolean {
  const cost = (p: readonly Transition[]) => [...pathCost(p).slice(1), ...p.map(rank)];
  const ca = cost(a);
  const cb = cost(b);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const x = ca[i] ?? 0;
    const y = cb[i] ?? 0;
    if (x !== y) return x < y;
  }
  return ca.length < cb.length;
}

function rank(t: Transition): number {
  return CALL_PREFERENCE.indexOf(t.call) * 2 + (t.args.start_paused === true ? 1 : 0);
}

function describeGoal(g: Goal): string {
  const extra = [
    g.mustBeFresh ? "running the declared boot config" : "",
    g.exactlyOneBuild ? "restarted exactly once" : "",
  ].filter((s) => s !== "");
  return extra.length > 0 ? `${g.power} (${extra.join(", ")})` : g.power;
}

function policyHint(p: Policy): string {
  return `Policy: shutdown "${p.shutdown}", bootChanges "${p.bootChanges}", allowDiscardSuspendedState ${p.allowDiscardSuspendedState}.`;
}

export function explainPath(
  start: SearchNode,
  path: readonly Transition[],
  goal: Goal,
  bootChanged: boolean,
  settle: Settle = NO_SIZING,
): PlanStep[] {
  let node = start;
  return path.map((t, i) => {
    const before = node;
    node = step(node, t, settle);
    const last = i === path.length - 1;
    return {
      kind: "lifecycle",
      call: t.call,
      args: { ...t.args },
      from: t.from,
      to: t.to,
      reason: reasonFor(t, before, last, goal, bootChanged),
    };
  });
}

function reasonFor(
  t: Transition,
  before: SearchNode,
  last: boolean,
  goal: Goal,
  bootChanged: boolean,
): string {
  const at = (text: string) =>
    last ? `${text} (declared ${goal.power})` : `${text}, on the way to ${goal.power}`;
  if (t.from === PowerState.Crashed) {
    return at("a Crashed VM can only be left with VM.hard_shutdown, whatever the policy");
  }
  if (t.from === PowerState.Suspended && t.call === LifecycleCall.hardShutdown) {
    return at("discard the suspended memory image, as allowDiscardSuspendedState permits");
  }
  const paused = t.args.start_paused === true ? " paused" : "";
  switch (t.call) {
    case LifecycleCall.start:
      return at(`start the VM${paused}`);
    case LifecycleCall.resume:
      return at(`resume the saved domain${paused}`);
    case LifecycleCall.unpause:
      return at("unpause the VM");
    case LifecycleCall.pause:
      return at("pause the VM");
    case LifecycleCall.suspend:
      return at("suspend the VM");
    case LifecycleCall.cleanShutdown:
      return at("shut the guest down cleanly");
    case LifecycleCall.hardShutdown:
      return at("power the VM off (hard)");
    default: {
      const purpose = rebuildPurpose(before, goal, bootChanged) ?? "to rebuild the domain";
      const text = `${hasFlag(t, TransitionFlag.hard) ? "hard" : "clean"} reboot ${purpose}`;
      // A final reboot keeps the declared state; its purpose says enough.
      return last ? text : `${text}, on the way to ${goal.power}`;
    }
  }
}

function rebuildPurpose(before: SearchNode, goal: Goal, bootChanged: boolean): string | undefined {
  const boot = !before.fresh && goal.mustBeFresh;
  const trigger = goal.exactlyOneBuild;
  if (before.stale !== 0 && goal.mustBeFresh) {
    const what = boot ? "the declared boot config and vCPU count" : "the declared vCPU count";
    return trigger ? `once for both the restartTrigger change and ${what}` : `so the domain runs ${what}`;
  }
  if (boot && trigger) return "once for both the restartTrigger change and the declared boot config";
  if (boot)
    return !bootChanged
      ? "so the domain runs the boot config already set in an earlier run"
      : "so the domain runs the declared boot config";
  if (trigger) return "because restartTrigger changed";
  return undefined;
}
