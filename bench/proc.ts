/**
 * Runs a command in a session of its own and measures it: wall time, and the peak RSS and CPU time of
 * every process of that session, sampled every 50 ms from /proc (Linux; zeros elsewhere), by role.
 * Used for the `pulumi` CLI (bench/pulumi.ts), whose language host, program and provider plugin run in
 * the CLI's session, each in a process group of its own, and for `ansible-playbook` (bench/ansible.ts).
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** The processes of a `pulumi` command, by what they run (cmdline); anything else is "other". */
export const ROLES = ["engine", "languageHost", "program", "provider", "other"] as const;
export type Role = (typeof ROLES)[number];

export interface Usage {
  /** Peak of the summed RSS of the session's processes (MiB). */
  peakRssMiB: number;
  /** Peak RSS per role (MiB). */
  peakRssMiBByRole: Record<Role, number>;
  /**
   * CPU time (user + system) per role, from the last /proc sample of each process (ms): a lower bound,
   * the last < 50 ms of each process (and processes shorter than that) are not seen.
   */
  cpuMsByRole: Record<Role, number>;
}

export interface Measured {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  usage: Usage;
}

const PAGE_BYTES = 4096;
const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

export function zeroByRole(): Record<Role, number> {
  return { engine: 0, languageHost: 0, program: 0, provider: 0, other: 0 };
}

export function roleOf(cmdline: string): Role {
  if (cmdline.includes("dynamic-provider/index.js")) return "provider";
  if (cmdline.includes("cmd/run/index.js")) return "program";
  if (cmdline.includes("pulumi-language-nodejs")) return "languageHost";
  if (/(^|\/)pulumi$/.test(cmdline.split("\0")[0] ?? "")) return "engine";
  return "other";
}

export const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
export const mib = (bytes: number) => round(bytes / 2 ** 20, 1);

export function totalCpuMs(usage: Pick<Usage, "cpuMsByRole">): number {
  return ROLES.reduce((sum, role) => sum + usage.cpuMsByRole[role], 0);
}

export function medianOf(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The processes of session `sid` with their resident memory and CPU time, from /proc (none where /proc is
 * unavailable). By session, not process group: the Pulumi CLI starts each plugin in a process group of
 * its own, in the same session.
 */
function sessionProcesses(sid: number): { pid: string; role: Role; rssBytes: number; cpuMs: number }[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const found: { pid: string; role: Role; rssBytes: number; cpuMs: number }[] = [];
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
      // fields[0] is field 3 of proc(5): session is field 6, utime/stime 14/15, rss (pages) 24.
      if (Number(fields[3]) !== sid) continue;
      found.push({
        pid,
        role: roleOf(readFileSync(`/proc/${pid}/cmdline`, "utf8")),
        rssBytes: Number(fields[21]) * PAGE_BYTES,
        cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND,
      });
    } catch {
      // The process ended between readdir and read.
    }
  }
  return found;
}

/** Runs `command args` (in a new session: setsid) to its end; never rejects on a non-zero exit. */
export function runMeasured(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    let peakTotal = 0;
    const peakByRole = zeroByRole();
    const cpuByPid = new Map<string, { role: Role; cpuMs: number }>();
    const sample = () => {
      if (child.pid === undefined) return;
      const byRole = zeroByRole();
      let total = 0;
      for (const p of sessionProcesses(child.pid)) {
        total += p.rssBytes;
        byRole[p.role] += p.rssBytes;
        // An exiting process has an empty cmdline ("other"): keep the role it was first seen with.
        const seen = cpuByPid.get(p.pid);
        const role = seen !== undefined && seen.role !== "other" ? seen.role : p.role;
        cpuByPid.set(p.pid, { role, cpuMs: Math.max(p.cpuMs, seen?.cpuMs ?? 0) });
      }
      peakTotal = Math.max(peakTotal, total);
      for (const role of ROLES) peakByRole[role] = Math.max(peakByRole[role], byRole[role]);
    };
    const sampler = setInterval(sample, 50);
    child.on("error", (error) => {
      clearInterval(sampler);
      reject(error);
    });
    child.on("close", (code) => {
      clearInterval(sampler);
      const wallMs = performance.now() - t0;
      const cpuMsByRole = zeroByRole();
      for (const { role, cpuMs } of cpuByPid.values()) cpuMsByRole[role] += cpuMs;
      const peakRssMiBByRole = zeroByRole();
      for (const role of ROLES) peakRssMiBByRole[role] = mib(peakByRole[role]);
      resolve({
        code,
        stdout,
        stderr,
        wallMs,
        usage: { peakRssMiB: mib(peakTotal), peakRssMiBByRole, cpuMsByRole },
      });
    });
  });
}
