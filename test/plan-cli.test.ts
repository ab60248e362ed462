/**
 * `xapi-plan` as users run it: the built bin (`dist/provider/cli/plan.js`, package.json `bin.xapi-plan`),
 * one child process at a time. `npm test` builds dist/ first (the `pretest` script); run `npm run build`
 * before running this file on its own. No run has a wall-clock limit of its own: a busy machine only makes
 * it slower (vitest's testTimeout is there for hangs).
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..");
const BIN = join(ROOT, "dist", "provider", "cli", "plan.js");

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function xapiPlan(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const callsOf = (run: Run) =>
  (JSON.parse(run.stdout) as { steps: { call: string }[] }).steps.map((s) => s.call);

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does).`);
});

describe("xapi-plan", () => {
  it("prints the steps as JSON with --json", async () => {
    const run = await xapiPlan("--from", "Halted", "--to", "Running", "--json");
    expect([run.code, run.stderr]).toEqual([0, ""]);
    expect(JSON.parse(run.stdout)).toMatchObject({
      steps: [
        { call: "VM.start", args: { start_paused: false, force: false }, from: "Halted", to: "Running" },
      ],
    });
  });

  it("puts the setter step of --boot-change before the lifecycle calls", async () => {
    const run = await xapiPlan("--from", "Running", "--to", "Running", "--boot-change", "--json");
    expect(callsOf(run)).toEqual(["VM.set_HVM_boot_params", "VM.clean_reboot"]);
  });

  it("lists the steps with their reasons for humans", async () => {
    const run = await xapiPlan("--from", "Paused", "--to", "Halted");
    expect(run.stdout).toMatchInlineSnapshot(`
      "Plan Paused → Halted (shutdown: clean, bootChanges: restart, allowDiscardSuspendedState: false)
        1. VM.unpause (Paused → Running): unpause the VM, on the way to Halted
        2. VM.clean_shutdown (Running → Halted): shut the guest down cleanly (declared Halted)
      2 lifecycle calls.
      "
    `);
  });

  it("passes --shutdown hard and --allow-discard-suspended to the planner", async () => {
    const run = await xapiPlan(
      "--from",
      "Suspended",
      "--to",
      "Halted",
      "--shutdown",
      "hard",
      "--allow-discard-suspended",
      "--json",
    );
    expect(callsOf(run)).toEqual(["VM.hard_shutdown"]);
  });

  it("does not hard-shut-down under the default clean policy, even with --allow-discard-suspended", async () => {
    const run = await xapiPlan(
      "--from",
      "Suspended",
      "--to",
      "Halted",
      "--allow-discard-suspended",
      "--json",
    );
    expect(callsOf(run)).toEqual(["VM.resume", "VM.clean_shutdown"]);
  });

  it("reports a boot change left pending under --boot-changes next-boot", async () => {
    const run = await xapiPlan(
      "--from",
      "Running",
      "--to",
      "Running",
      "--boot-change",
      "--boot-changes",
      "next-boot",
      "--json",
    );
    expect(JSON.parse(run.stdout)).toMatchObject({ lifecycleCalls: 0, bootChangePending: true });
  });

  it("exits 2 with the reason on stderr for an impossible request", async () => {
    const run = await xapiPlan("--from", "Running", "--to", "Crashed");
    expect(run).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "xapi-plan: TARGET_NOT_DECLARABLE: Invalid target power state: expected one of "Halted", "Paused", "Running", "Suspended", received "Crashed". Crashed can be observed but not declared.
      ",
        "stdout": "",
      }
    `);
  });

  it("exits 2 with the error for an unknown flag", async () => {
    const run = await xapiPlan("--from", "Running", "--to", "Halted", "--force");
    expect([run.code, run.stdout, run.stderr.split("\n")[0]]).toMatchInlineSnapshot(`
      [
        2,
        "",
        "xapi-plan: Unknown option '--force'",
      ]
    `);
  });

  it("prints the usage after the error for an unknown flag", async () => {
    const run = await xapiPlan("--from", "Running", "--to", "Halted", "--force");
    expect(run.stderr).toContain("Usage: xapi-plan --from <State> --to <State>");
  });

  it("exits 2 with the expected states for an invalid state", async () => {
    const run = await xapiPlan("--from", "Stopped", "--to", "Halted");
    expect([run.code, run.stderr.split("\n")[0]]).toMatchInlineSnapshot(`
      [
        2,
        "xapi-plan: invalid --from: expected one of Halted, Paused, Running, Suspended, Crashed, received "Stopped"",
      ]
    `);
  });

  it("exits 2 when --to is missing", async () => {
    const run = await xapiPlan("--from", "Halted");
    expect([run.code, run.stderr.split("\n")[0]]).toMatchInlineSnapshot(`
      [
        2,
        "xapi-plan: missing --to",
      ]
    `);
  });

  it("prints the usage on --help and exits 0", async () => {
    const run = await xapiPlan("--help");
    expect([run.code, run.stdout.startsWith("Usage: xapi-plan")]).toEqual([0, true]);
  });

  it("is the package's xapi-plan bin", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      bin: Record<string, string>;
    };
    expect(join(ROOT, pkg.bin["xapi-plan"] ?? "")).toBe(BIN);
  });

  it("starts with a node shebang, so npm can link it as a command", () => {
    expect(readFileSync(BIN, "utf8").split("\n")[0]).toBe("#!/usr/bin/env node");
  });

  it("reads state names in any case, as a user types them", async () => {
    const run = await xapiPlan("--from", "paused", "--to", "HALTED");
    expect([run.code, run.stdout.split("\n")[0]]).toEqual([
      0,
      "Plan Paused → Halted (shutdown: clean, bootChanges: restart, allowDiscardSuspendedState: false)",
    ]);
  });

  it("suggests the state a misspelt one was meant to be", async () => {
    const run = await xapiPlan("--from", "Runing", "--to", "Halted");
    expect([run.code, run.stderr.split("\n")[0]]).toMatchInlineSnapshot(`
      [
        2,
        "xapi-plan: invalid --from: expected one of Halted, Paused, Running, Suspended, Crashed, received "Runing". Did you mean "Running"?",
      ]
    `);
  });

  it("counts the setters of a boot change in the summary line", async () => {
    const run = await xapiPlan("--from", "Running", "--to", "Running", "--boot-change");
    expect(run.stdout.trim().split("\n").at(-1)).toBe("1 lifecycle call and 1 setter.");
  });
});
