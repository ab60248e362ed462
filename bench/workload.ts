/**
 * The benchmark workload: N VMs, each with a starting power state, a declared one and maybe a boot
 * change, drawn from a fixed mix with a seeded generator (same seed → same workload).
 */
import type { DeclaredBootFields } from "../provider/model/boot";
import type { DeclarablePowerState } from "../provider/model/vocabulary";

/** One VM's job. */
export interface Job {
  readonly index: number;
  readonly from: DeclarablePowerState;
  readonly to: DeclarablePowerState;
  /** The declared boot fields when this job changes the boot config, else undefined. */
  readonly boot: DeclaredBootFields | undefined;
}

/** Weighted choices: real fleets are mostly running. */
const FROM: readonly [DeclarablePowerState, number][] = [
  ["Running", 50],
  ["Halted", 25],
  ["Suspended", 15],
  ["Paused", 10],
];
const TO: readonly [DeclarablePowerState, number][] = [
  ["Running", 55],
  ["Halted", 20],
  ["Suspended", 15],
  ["Paused", 10],
];
/** Share of jobs that change the boot order (HVM_boot_params.order "c" → "dc"). */
const BOOT_CHANGE_SHARE = 0.4;
/** The boot order every VM starts with, and the declared one for a boot change. */
export const INITIAL_BOOT_PARAMS = { order: "c", firmware: "bios" };
export const CHANGED_BOOT: DeclaredBootFields = { HVM_boot_params: { order: "dc", firmware: "bios" } };

/** mulberry32: a tiny seeded PRNG, good enough for a workload mix. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, choices: readonly [T, number][]): T {
  const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = random() * total;
  for (const [value, weight] of choices) {
    roll -= weight;
    if (roll < 0) return value;
  }
  return (choices.at(-1) as [T, number])[0];
}

/** The jobs for `n` VMs. */
export function makeWorkload(n: number, seed: number): Job[] {
  const random = prng(seed);
  return Array.from({ length: n }, (_, index) => ({
    index,
    from: pick(random, FROM),
    to: pick(random, TO),
    boot: random() < BOOT_CHANGE_SHARE ? CHANGED_BOOT : undefined,
  }));
}
