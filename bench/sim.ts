/**
 * The benchmarks' simulator: xapi-sim in a child process (bench/sim-child.ts), so that CPU time measured
 * in the benchmark process is the client's alone, and its control routes over plain HTTP.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import type { StartOptions } from "../simulator";

export interface Sim {
  url: string;
  child: ChildProcess;
}

/** The simulator's call counters (control op `counters`). */
export interface Counters {
  calls: Record<string, number>;
  logins: number;
  logouts: number;
  liveSessions: number;
  liveTasks: number;
}

/** A lifecycle method's wire name, once a counter's `Async.` prefix is stripped. */
export const LIFECYCLE_METHOD = /^VM\.(start|pause|unpause|suspend|resume|clean_|hard_|shutdown)/;

/** Starts xapi-sim in a child process (`member: false` unless `options` says otherwise). */
export async function startSim(options: StartOptions): Promise<Sim> {
  const child = spawn(process.execPath, [path.join(__dirname, "sim-child.js"), JSON.stringify(options)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split("\n")[0];
      if (buffer.includes("\n") && line !== undefined) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once("exit", (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  return { url, child };
}

export function stopSim(sim: Sim): Promise<void> {
  return new Promise((resolve) => {
    sim.child.once("exit", () => resolve());
    sim.child.stdin?.end();
  });
}

/** utime + stime of a process in ms, from /proc (Linux); NaN where unavailable. */
export function processCpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

export async function control<T>(sim: Sim, op: string, body: Record<string, unknown> = {}): Promise<T> {
  const response = await fetchJson(`${sim.url}/_sim/${op}`, body);
  if ("error" in response) throw new Error(`/_sim/${op}: ${String(response.error)}`);
  return response.result as T;
}

/** Control routes are plain HTTP JSON; use node:http like the client (no fetch). */
function fetchJson(url: string, body: unknown): Promise<{ result?: unknown; error?: unknown }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: "POST", headers: { "content-type": "application/json" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as { result?: unknown }));
      },
    );
    request.on("error", reject);
    request.end(JSON.stringify(body));
  });
}
