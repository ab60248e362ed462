/**
 * The `xapi-sim` command, run from source as a child process: the ready line, flags, clean shutdown on
 * SIGINT/SIGTERM, and `--state FILE` persistence across restarts (a corrupt file is reported and left
 * untouched).
 *
 * `simulator/**` is transpiled once, file by file, exactly as `ts-node/register/transpile-only` would
 * (TypeScript's `transpileModule`), into a git-ignored `.tmp/` folder; each child then starts in a
 * fraction of a second instead of loading the TypeScript compiler again.
 */

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import ts from "typescript";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
// Inside the project so that the transpiled files resolve node_modules as the sources do.
const BUILD = path.join(ROOT, ".tmp", `sim-cli-test-${process.pid}`);
const CLI = [path.join(BUILD, "simulator/cli.js")];
const READY = /^xapi-sim listening on (\S+)$/;

interface Started {
  readonly child: ChildProcess;
  readonly url: string;
  readonly stdout: () => string;
}

interface Exited {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const children: ChildProcess[] = [];
let dir: string;

/** Transpile every `simulator/**\/*.ts` into BUILD, as ts-node's transpile-only mode does per file. */
function transpileSimulator(): void {
  const { config } = ts.readConfigFile(path.join(ROOT, "tsconfig.json"), (file) => ts.sys.readFile(file));
  const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, ROOT);
  const sources = fs.readdirSync(path.join(ROOT, "simulator"), { recursive: true, encoding: "utf8" });
  for (const relative of sources.filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))) {
    const fileName = path.join(ROOT, "simulator", relative);
    const { outputText } = ts.transpileModule(fs.readFileSync(fileName, "utf8"), {
      compilerOptions: { ...options, sourceMap: false, declaration: false },
      fileName,
    });
    const target = path.join(BUILD, "simulator", relative.replace(/\.ts$/, ".js"));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, outputText);
  }
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "xapi-sim-cli-"));
  transpileSimulator();
});

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(BUILD, { recursive: true, force: true });
});

function spawnCli(args: readonly string[]): ChildProcess {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return child;
}

/** Start the CLI and resolve once it prints its ready line. */
function start(args: readonly string[]): Promise<Started> {
  const child = spawnCli(["--port", "0", ...args]);
  let stdout = "";
  let stderr = "";
  return new Promise((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = READY.exec(stdout.split("\n")[0] ?? "");
      if (match?.[1] !== undefined && stdout.includes("\n"))
        resolve({ child, url: match[1], stdout: () => stdout });
    });
    child.on("exit", (code) =>
      reject(new Error(`xapi-sim exited with ${code} before it was ready:\n${stderr}`)),
    );
  });
}

/** Run the CLI to completion (for the failure cases). */
function run(args: readonly string[]): Promise<Exited> {
  const child = spawnCli(args);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}

function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  return new Promise((resolve) => {
    child.on("exit", (code) => resolve(code));
    child.kill(signal);
  });
}

async function rpc(url: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(`${url}/jsonrpc`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", method, params, id: 1 }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error !== undefined) throw new Error(body.error.message);
  return body.result;
}

interface VmSummary {
  uuid: string;
  ref: string;
  power_state: string;
  is_a_template: boolean;
  name_label: string;
}

async function vms(url: string): Promise<VmSummary[]> {
  const res = await fetch(`${url}/_sim/vms`);
  return ((await res.json()) as { result: VmSummary[] }).result;
}

const byUuid = (a: { uuid: string }, b: { uuid: string }) => a.uuid.localeCompare(b.uuid);
const identity = (list: VmSummary[]) =>
  list.map(({ uuid, name_label, power_state }) => ({ uuid, name_label, power_state })).sort(byUuid);

describe("xapi-sim CLI", () => {
  it("prints exactly one line with the port it picked", async () => {
    const { child, url, stdout } = await start([]);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:0$/);
    expect(stdout()).toBe(`xapi-sim listening on ${url}\n`);
    await stop(child);
  });

  it("serves the XAPI it announces", async () => {
    const { child, url } = await start([]);
    expect(await rpc(url, "session.login_with_password", ["root", "xapi-sim"])).toMatch(/^OpaqueRef:/);
    await stop(child);
  });

  it.each<NodeJS.Signals>(["SIGTERM", "SIGINT"])("exits 0 on %s", async (signal) => {
    const { child } = await start([]);
    expect(await stop(child, signal)).toBe(0);
  });

  it("uses the --user and --password it is given", async () => {
    const { child, url } = await start(["--user", "admin", "--password", "s3cret"]);
    const session = await rpc(url, "session.login_with_password", ["admin", "s3cret"]);
    const refused = await rpc(url, "session.login_with_password", ["root", "xapi-sim"]).catch(
      (e: Error) => e.message,
    );
    expect([typeof session, refused]).toEqual(["string", "SESSION_AUTHENTICATION_FAILED"]);
    await stop(child);
  });

  it("serves HTTPS with --tls", async () => {
    const { child, url } = await start(["--tls"]);
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    await stop(child);
  });

  it("with --tls prints the certificate's SHA-256 fingerprint, the one the server presents", async () => {
    const { child, url, stdout } = await start(["--tls"]);
    const line = /^xapi-sim certificate SHA-256 fingerprint ([0-9A-F:]{95})$/m;
    // The second line follows the first; wait for it (the test's own timeout bounds the wait).
    while (!line.test(stdout())) await new Promise((resolve) => setTimeout(resolve, 20));
    const printed = line.exec(stdout())?.[1];
    const seen = await new Promise<string>((resolve, reject) => {
      const u = new URL(url);
      const socket = tls.connect(
        { host: u.hostname, port: Number(u.port), rejectUnauthorized: false },
        () => {
          resolve(socket.getPeerCertificate().fingerprint256);
          socket.end();
        },
      );
      socket.on("error", reject);
    });
    expect(printed).toBe(seen);
    await stop(child);
  });

  it("passes --op-ms and --crashed-compat to the model", async () => {
    const { child, url } = await start(["--op-ms", "7", "--crashed-compat"]);
    const res = await fetch(`${url}/_sim/config`);
    const { result } = (await res.json()) as { result: Record<string, unknown> };
    expect(result).toMatchObject({ defaultOperationMs: 7, crashedCompat: true });
    await stop(child);
  });

  it("plays the XAPI generation --profile names, shown by the config control op", async () => {
    const { child, url } = await start(["--profile", "xenserver-7"]);
    const res = await fetch(`${url}/_sim/config`);
    const { result } = (await res.json()) as { result: Record<string, unknown> };
    expect(result).toMatchObject({ profile: "xenserver-7", apiVersion: "2.7", crashedCompat: false });
    await stop(child);
  });

  it("rejects an unknown --profile with exit code 2", async () => {
    const { code, stderr } = await run(["--profile", "xenserver-9"]);
    expect(code).toBe(2);
    expect(stderr.split("\n")[0]).toBe(
      'xapi-sim: --profile expects one of current, xenserver-7, xenapi-1.0, received "xenserver-9"',
    );
  });

  it("does not listen as the pool member with --no-member", async () => {
    const { child, url } = await start(["--no-member"]);
    const member = url.replace("127.0.0.1", "127.0.0.2");
    const outcome = await fetch(`${member}/_sim/vms`).then(
      () => "answered",
      () => "refused",
    );
    expect(outcome).toBe("refused");
    await stop(child);
  });

  it("rejects an unknown flag with usage on stderr and exit code 2", async () => {
    const { code, stdout, stderr } = await run(["--frobnicate"]);
    expect([code, stdout]).toEqual([2, ""]);
    expect(stderr).toContain("Usage: xapi-sim");
  });

  it("rejects a port that is not a number with exit code 2", async () => {
    const { code, stderr } = await run(["--port", "http"]);
    expect(code).toBe(2);
    expect(stderr.split("\n")[0]).toMatchInlineSnapshot(
      `"xapi-sim: --port expects an integer from 0 to 65535, received "http""`,
    );
  });

  it("rejects --user without --password with exit code 2", async () => {
    const { code, stderr } = await run(["--user", "admin"]);
    expect(code).toBe(2);
    expect(stderr.split("\n")[0]).toMatchInlineSnapshot(`"xapi-sim: --user and --password go together"`);
  });
});

describe("xapi-sim --state FILE", () => {
  it("creates a missing state file from the fixture", async () => {
    const file = path.join(dir, "created.json");
    const { child, url } = await start(["--state", file]);
    const fixture = await vms(url);
    await stop(child);
    const stored = JSON.parse(fs.readFileSync(file, "utf8")) as { format: string };
    expect(stored.format).toBe("xapi-sim-state");
    expect(fixture.length).toBeGreaterThan(0);
  });

  it("finds the same VMs in the same states after a restart", async () => {
    // Arrange: change power states through the real API, then stop.
    const file = path.join(dir, "restart.json");
    const first = await start(["--state", file]);
    const session = await rpc(first.url, "session.login_with_password", ["root", "xapi-sim"]);
    const halted = (await vms(first.url)).filter((vm) => !vm.is_a_template && vm.power_state === "Halted");
    const [toRun, toPause] = halted;
    if (toRun === undefined || toPause === undefined) throw new Error("the fixture needs two halted VMs");
    await rpc(first.url, "VM.start", [session, toRun.ref, false, false]);
    await rpc(first.url, "VM.start", [session, toPause.ref, true, false]);
    const before = identity(await vms(first.url));
    expect(await stop(first.child)).toBe(0);
    // Act
    const second = await start(["--state", file]);
    const after = identity(await vms(second.url));
    await stop(second.child);
    // Assert
    expect(after).toEqual(before);
    expect(after.find((vm) => vm.uuid === toRun.uuid)?.power_state).toBe("Running");
    expect(after.find((vm) => vm.uuid === toPause.uuid)?.power_state).toBe("Paused");
  });

  it("keeps the profile in the state file and refuses another --profile for it", async () => {
    const file = path.join(dir, "profiled.json");
    const first = await start(["--state", file, "--profile", "xenapi-1.0"]);
    await stop(first.child);
    const again = await start(["--state", file]);
    const res = await fetch(`${again.url}/_sim/config`);
    const { result } = (await res.json()) as { result: Record<string, unknown> };
    await stop(again.child);
    const { code, stderr } = await run(["--port", "0", "--state", file, "--profile", "current"]);
    expect(result).toMatchObject({ profile: "xenapi-1.0", crashedCompat: true });
    expect(code).toBe(1);
    expect(stderr).toContain('the state belongs to profile "xenapi-1.0", not "current"');
  });

  it("reports a corrupt state file by name, exits 1 and leaves it untouched", async () => {
    // Arrange
    const file = path.join(dir, "corrupt.json");
    fs.writeFileSync(file, '{"format": "xapi-sim-state", "version": 1, "state": ');
    const bytes = fs.readFileSync(file);
    const { mtimeMs } = fs.statSync(file);
    // Act
    const { code, stdout, stderr } = await run(["--port", "0", "--state", file]);
    // Assert
    expect([code, stdout]).toEqual([1, ""]);
    expect(stderr).toContain(file);
    expect(stderr).toMatch(/Corrupt xapi-sim state file .*: invalid JSON/);
    expect(fs.readFileSync(file).equals(bytes)).toBe(true);
    expect(fs.statSync(file).mtimeMs).toBe(mtimeMs);
  });

  it("reports a state the model rejects as corrupt and leaves it untouched", async () => {
    const file = path.join(dir, "rejected.json");
    const text = JSON.stringify({ format: "xapi-sim-state", version: 1, state: { vms: "not a list" } });
    fs.writeFileSync(file, text);
    const { code, stderr } = await run(["--port", "0", "--state", file]);
    expect(code).toBe(1);
    expect(stderr).toContain(
      `Corrupt xapi-sim state file (left untouched; fix or delete it to start from the fixture) ${file}:`,
    );
    expect(fs.readFileSync(file, "utf8")).toBe(text);
  });

  it("reports a file that is not a xapi-sim state file", async () => {
    const file = path.join(dir, "foreign.json");
    fs.writeFileSync(file, '{"hello": "world"}');
    const { code, stderr } = await run(["--port", "0", "--state", file]);
    expect(code).toBe(1);
    expect(stderr.replace(file, "<file>")).toMatchInlineSnapshot(`
      "xapi-sim: Corrupt xapi-sim state file (left untouched; fix or delete it to start from the fixture) <file>: expected "format": "xapi-sim-state", found nothing
      "
    `);
  });

  it("reports an unreadable state file", async () => {
    const file = path.join(dir, "a-directory.json");
    fs.mkdirSync(file);
    const { code, stderr } = await run(["--port", "0", "--state", file]);
    expect(code).toBe(1);
    expect(stderr.replace(file, "<file>")).toMatchInlineSnapshot(`
      "xapi-sim: Cannot read xapi-sim state file <file>: it is a directory (EISDIR)
      "
    `);
  });
});
