/**
 * Shared helpers for the client and executor tests: start xapi-sim on a free port and read its
 * control operations in-process (the same operations `/_sim/<op>` exposes over HTTP).
 */
import { type RunningSimulator, type StartOptions, startSimulator } from "../simulator";

/** The fixture's credentials. */
export const ROOT = { username: "root", password: "xapi-sim" } as const;

/** `counters` control operation (sim-contract). */
export interface SimCounters {
  calls: Record<string, number>;
  logins: number;
  logouts: number;
  liveSessions: number;
  liveTasks: number;
}

/** One `callLog` entry (sim-contract). */
export interface CallLogEntry {
  seq: number;
  method: string;
  vm?: string;
  params: unknown[];
  ok: boolean;
  error?: string;
}

export function startSim(options: StartOptions = {}): Promise<RunningSimulator> {
  return startSimulator({ port: 0, member: false, ...options });
}

export async function control<T = unknown>(
  sim: RunningSimulator,
  op: string,
  body: Record<string, unknown> = {},
): Promise<T> {
  const operation = sim.model.control[op];
  if (operation === undefined) throw new Error(`xapi-sim has no control operation "${op}"`);
  return (await operation(body)) as T;
}

export const counters = (sim: RunningSimulator) => control<SimCounters>(sim, "counters");
export const callLog = (sim: RunningSimulator, since?: number) =>
  control<CallLogEntry[]>(sim, "callLog", since === undefined ? {} : { since });

/** How many times `method` was called, whether the simulator counts `Async.X` under its own name or as X. */
export function calls(c: SimCounters, method: string): number {
  return c.calls[method] ?? 0;
}

/** A VM as the `vms` control operation lists it (sim-contract). */
export interface VmSummary {
  uuid: string;
  ref: string;
  name_label: string;
  power_state: string;
  is_a_template: boolean;
}

/** A halted, non-template VM of the fixture, given PV drivers (so clean_shutdown/clean_reboot are allowed, §4.3). */
export async function haltedVm(sim: RunningSimulator): Promise<VmSummary> {
  const vms = await control<VmSummary[]>(sim, "vms");
  const vm = vms.find((candidate) => !candidate.is_a_template && candidate.power_state === "Halted");
  if (vm === undefined) throw new Error("the fixture has no halted VM");
  await control(sim, "setGuest", { uuid: vm.uuid, pvDrivers: true });
  return vm;
}
