/**
 * An independent model of the lifecycle and the policy, for checking the planner. It restates XAPI's
 * power-state transitions and the shutdown policy's rules (both written out below) and shares no code
 * with provider/planner.ts or provider/model/lifecycle.ts, so a bug in either shows up as a
 * disagreement. It also models what a `pv` block does to a VM's PV fields (README "Boot configuration"
 * and the seed's "VM boot parameters"), independently of provider/boot/schema.ts and
 * provider/model/boot.ts. The vCPU and memory part of the model is test/planner-oracle-sizing.ts.
 */

export type State = "Halted" | "Paused" | "Running" | "Suspended" | "Crashed";
export type Target = Exclude<State, "Crashed">;

export interface OraclePolicy {
  readonly shutdown: "clean" | "clean-then-hard" | "hard";
  readonly allowDiscardSuspendedState: boolean;
  readonly bootChanges: "restart" | "next-boot";
}

export interface Move {
  readonly from: State;
  readonly call: string;
  readonly startPaused?: boolean;
  readonly to: Target;
}

/**
 * XAPI's lifecycle calls, from → to: VM.suspend only from Running; Paused → Running is VM.unpause (VM.resume
 * only leaves Suspended); VM.hard_reboot of a Paused VM ends Running; a Crashed VM (XenAPI 1.0) is left
 * only with VM.hard_shutdown. VM.shutdown is left out: the planner never uses it.
 */
export const MOVES: readonly Move[] = [
  { from: "Halted", call: "VM.start", startPaused: false, to: "Running" },
  { from: "Halted", call: "VM.start", startPaused: true, to: "Paused" },
  { from: "Running", call: "VM.pause", to: "Paused" },
  { from: "Paused", call: "VM.unpause", to: "Running" },
  { from: "Running", call: "VM.suspend", to: "Suspended" },
  { from: "Suspended", call: "VM.resume", startPaused: false, to: "Running" },
  { from: "Suspended", call: "VM.resume", startPaused: true, to: "Paused" },
  { from: "Running", call: "VM.clean_shutdown", to: "Halted" },
  { from: "Running", call: "VM.hard_shutdown", to: "Halted" },
  { from: "Paused", call: "VM.hard_shutdown", to: "Halted" },
  { from: "Suspended", call: "VM.hard_shutdown", to: "Halted" },
  { from: "Running", call: "VM.clean_reboot", to: "Running" },
  { from: "Running", call: "VM.hard_reboot", to: "Running" },
  { from: "Paused", call: "VM.hard_reboot", to: "Running" },
  { from: "Crashed", call: "VM.hard_shutdown", to: "Halted" },
];

/**
 * Calls that build a new domain from the VM's current boot fields; VM.resume restores the saved domain
 * (docs/xapi-facts.md, "A boot change reaches a live domain only when the domain is rebuilt").
 */
export const BUILDS = new Set(["VM.start", "VM.clean_reboot", "VM.hard_reboot"]);

/**
 * The shutdown policy's rules: a Crashed VM is always left with hard_shutdown, whatever the policy; `clean`
 * and `clean-then-hard` plan no hard call (the escalation happens at run time, not in the plan); `hard`
 * plans hard_shutdown / hard_reboot instead of the clean ones, and hard-shuts-down a Suspended VM (losing
 * its image) only when allowDiscardSuspendedState is true.
 */
export function permitted(m: Move, p: OraclePolicy): boolean {
  if (m.from === "Crashed") return true;
  const hard = m.call === "VM.hard_shutdown" || m.call === "VM.hard_reboot";
  const clean = m.call === "VM.clean_shutdown" || m.call === "VM.clean_reboot";
  if (p.shutdown !== "hard") return !hard;
  if (m.from === "Suspended" && m.call === "VM.hard_shutdown") return p.allowDiscardSuspendedState;
  return !clean;
}

export interface Situation {
  readonly from: State;
  readonly to: Target;
  readonly policy: OraclePolicy;
  /** The live domain does not run the declared boot config (a declared change, or a stale domain). */
  readonly stale: boolean;
  readonly forceRestart: boolean;
}

interface Sim {
  power: State;
  fresh: boolean;
  builds: number;
}

export function startSim(s: Situation): Sim {
  return { power: s.from, fresh: s.from === "Halted" || !s.stale, builds: 0 };
}

export function apply(sim: Sim, m: Move): Sim {
  const built = BUILDS.has(m.call);
  return {
    power: m.to,
    fresh: m.to === "Halted" || built || sim.fresh,
    builds: sim.builds + (built ? 1 : 0),
  };
}

/** The goal of a situation, per the planner's documented semantics. */
export function reached(sim: Sim, s: Situation): boolean {
  const live = s.to === "Running" || s.to === "Paused";
  if (sim.power !== s.to) return false;
  if (live && s.policy.bootChanges === "restart" && !sim.fresh) return false;
  if (live && s.forceRestart && sim.builds !== 1) return false;
  return true;
}

/** Brute force: tries every sequence of permitted moves, shortest first (no visited set, no pruning). */
export function shortestLength(s: Situation, maxDepth = 6): number | undefined {
  const dfs = (sim: Sim, depth: number): boolean => {
    if (depth === 0) return reached(sim, s);
    return MOVES.some((m) => m.from === sim.power && permitted(m, s.policy) && dfs(apply(sim, m), depth - 1));
  };
  for (let d = 0; d <= maxDepth; d++) if (dfs(startSim(s), d)) return d;
  return undefined;
}

/** Loses guest state: the running memory (hard calls on a live VM) or the suspend image. */
export function isDestructive(m: Move): boolean {
  return (m.call === "VM.hard_shutdown" || m.call === "VM.hard_reboot") && m.from !== "Crashed";
}

/** Done without the guest's cooperation. */
export function isHard(m: Move): boolean {
  return m.call === "VM.hard_shutdown" || m.call === "VM.hard_reboot";
}

/**
 * Brute force: among all shortest sequences of permitted moves, the fewest destructive calls, and
 * among those the fewest hard ones (ties between plans of equal length go to graceful, non-destructive calls).
 */
export function gentlestCost(s: Situation): { destructive: number; hard: number } | undefined {
  const length = shortestLength(s);
  if (length === undefined) return undefined;
  let best: { destructive: number; hard: number } | undefined;
  const dfs = (sim: Sim, depth: number, destructive: number, hard: number): void => {
    if (depth === 0) {
      if (!reached(sim, s)) return;
      if (
        best === undefined ||
        destructive < best.destructive ||
        (destructive === best.destructive && hard < best.hard)
      ) {
        best = { destructive, hard };
      }
      return;
    }
    for (const m of MOVES) {
      if (m.from !== sim.power || !permitted(m, s.policy)) continue;
      dfs(apply(sim, m), depth - 1, destructive + (isDestructive(m) ? 1 : 0), hard + (isHard(m) ? 1 : 0));
    }
  };
  dfs(startSim(s), length, 0, 0);
  return best;
}

/**
 * Brute force: every shortest sequence of permitted moves that reaches the goal with the fewest
 * destructive calls, then the fewest hard ones (gentlestCost). The planner must return one of them.
 */
export function gentlestPlans(s: Situation): Move[][] {
  const length = shortestLength(s);
  const cost = gentlestCost(s);
  if (length === undefined || cost === undefined) return [];
  const plans: Move[][] = [];
  const dfs = (sim: Sim, path: Move[]): void => {
    if (path.length === length) {
      const destructive = path.filter(isDestructive).length;
      const hard = path.filter(isHard).length;
      if (reached(sim, s) && destructive === cost.destructive && hard === cost.hard) plans.push(path);
      return;
    }
    for (const m of MOVES) {
      if (m.from === sim.power && permitted(m, s.policy)) dfs(apply(sim, m), [...path, m]);
    }
  };
  dfs(startSim(s), []);
  return plans;
}

export const ORACLE_POLICIES: readonly OraclePolicy[] = (
  ["clean", "clean-then-hard", "hard"] as const
).flatMap((shutdown) =>
  [false, true].flatMap((allowDiscardSuspendedState) =>
    (["restart", "next-boot"] as const).map((bootChanges) => ({
      shutdown,
      allowDiscardSuspendedState,
      bootChanges,
    })),
  ),
);

//////////////////////////////
////   PV boot fields     ////
//////////////////////////////

/** A `pv` block as the user writes it: every key optional. */
export interface OraclePvBlock {
  readonly bootloader?: string | undefined;
  readonly kernel?: string | undefined;
  readonly ramdisk?: string | undefined;
  readonly args?: string | undefined;
  readonly bootloaderArgs?: string | undefined;
}

/** The five PV fields as a VM stores them (`PV_bootloader`, `PV_kernel`, …). */
export interface OraclePvFields {
  readonly bootloader: string;
  readonly kernel: string;
  readonly ramdisk: string;
  readonly args: string;
  readonly bootloaderArgs: string;
}

/** The XAPI setter of each PV field. */
export const PV_SETTER: Readonly<Record<keyof OraclePvFields, string>> = {
  bootloader: "VM.set_PV_bootloader",
  kernel: "VM.set_PV_kernel",
  ramdisk: "VM.set_PV_ramdisk",
  args: "VM.set_PV_args",
  bootloaderArgs: "VM.set_PV_bootloader_args",
};

/**
 * The PV fields a VM has once `pulumi up` applied `block` to a VM that had `vm`:
 * - a field the user wrote takes the written value; a field the user did not write keeps the VM's;
 * - a non-empty kernel written without a bootloader asks for a direct boot: the bootloader becomes "";
 * - the seed: "If PV/bootloader and PV/kernel are both empty, then the behaviour is as if PV/bootloader
 *   was specified as pygrub": checked on the resulting fields, and written as "pygrub".
 */
export function pvAfter(block: OraclePvBlock, vm: OraclePvFields): OraclePvFields {
  const bootloader =
    block.bootloader !== undefined
      ? block.bootloader
      : block.kernel !== undefined && block.kernel !== ""
        ? ""
        : vm.bootloader;
  const kernel = block.kernel ?? vm.kernel;
  return {
    bootloader: bootloader === "" && kernel === "" ? "pygrub" : bootloader,
    kernel,
    ramdisk: block.ramdisk ?? vm.ramdisk,
    args: block.args ?? vm.args,
    bootloaderArgs: block.bootloaderArgs ?? vm.bootloaderArgs,
  };
}

/** The PV setter calls a plan needs, call → value: exactly the fields whose value changes. */
export function pvWrites(block: OraclePvBlock, vm: OraclePvFields): Record<string, string> {
  const after = pvAfter(block, vm);
  const writes: Record<string, string> = {};
  for (const key of Object.keys(PV_SETTER) as (keyof OraclePvFields)[]) {
    if (after[key] !== vm[key]) writes[PV_SETTER[key]] = after[key];
  }
  return writes;
}
