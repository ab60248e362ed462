import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..");
const CLI = join(ROOT, "provider", "cli", "plan.ts");

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

// The CLI runs as a child process, from source through ts-node (no build step needed).
function xapiPlan(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", CLI, ...args],
      { cwd: ROOT },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

// Every run starts at load time, in parallel; each test awaits its own.
const RUN_CASE = xapiPlan("--from", "paused", "--to", "HALTED");
const RUN_SUGGEST = xapiPlan("--from", "Runing", "--to", "Halted");
const RUN_SETTERS = xapiPlan("--from", "Running", "--to", "Running", "--boot-change");
const RUN_0 = xapiPlan("--from", "Halted", "--to", "Running", "--json");
const RUN_1 = xapiPlan("--from", "Running", "--to", "Running", "--boot-change", "--json");
const RUN_2 = xapiPlan("--from", "Paused", "--to", "Halted");
const RUN_3 = xapiPlan(
  "--from",
  "Suspended",
  "--to",
  "Halted",
  "--shutdown",
  "hard",
  "--allow-discard-suspended",
  "--json",
);
const RUN_4 = xapiPlan(
  "--from",
  "Running",
  "--to",
  "Running",
  "--boot-change",
  "--boot-changes",
  "next-boot",
  "--json",
);
const RUN_5 = xapiPlan("--from", "Running", "--to", "Crashed");
const RUN_6 = xapiPlan("--from", "Running", "--to", "Halted", "--force");
const RUN_7 = xapiPlan("--from", "Stopped", "--to", "Halted");
const RUN_8 = xapiPlan("--from", "Halted");
const RUN_9 = xapiPlan("--help");
const RUN_10 = xapiPlan("--from", "Suspended", "--to", "Halted", "--allow-discard-suspended", "--json");

describe("xapi-plan", () => {
  it("prints the steps as JSON", async () => {
    const run = await RUN_0;
    expect([run.code, run.stderr]).toEqual([0, ""]);
    expect(JSON.parse(run.stdout)).toMatchObject({
      steps: [
        { call: "VM.start", args: { start_paused: false, force: false }, from: "Halted", to: "Running" },
      ],
    });
  });

  it("puts the setter steps of --boot-change first, with calls starting VM.set_", async () => {
    const run = await RUN_1;
    const calls = (JSON.parse(run.stdout) as { steps: { call: string }[] }).steps.map((s) => s.call);
    expect(calls).toEqual(["VM.set_HVM_boot_params", "VM.clean_reboot"]);
  });

  it("lists the steps with their reasons for humans", async () => {
    const run = await RUN_2;
    expect(run.stdout).toMatchInlineSnapshot(`
      "Plan Paused → Halted (shutdown: clean, bootChanges: restart, allowDiscardSuspendedState: false)
        1. VM.unpause (Paused → Running): unpause the VM, on the way to Halted
        2. VM.clean_shutdown (Running → Halted): shut the guest down cleanly (declared Halted)
      2 lifecycle calls.
      "
    `);
  });

  it("passes the policy flags to the planner", async () => {
    const run = await RUN_3;
    expect((JSON.parse(run.stdout) as { steps: { call: string }[] }).steps.map((s) => s.call)).toEqual([
      "VM.hard_shutdown",
    ]);
  });

  it("does not hard-shut-down under the default clean policy, even with --allow-discard-suspended", async () => {
    const run = await RUN_10;
    expect((JSON.parse(run.stdout) as { steps: { call: string }[] }).steps.map((s) => s.call)).toEqual([
      "VM.resume",
      "VM.clean_shutdown",
    ]);
  });

  it("reports a boot change left pending under --boot-changes next-boot", async () => {
    const run = await RUN_4;
    expect(JSON.parse(run.stdout)).toMatchObject({ lifecycleCalls: 0, bootChangePending: true });
  });

  it("exits 2 with the reason on stderr for an impossible request", async () => {
    const run = await RUN_5;
    expect(run).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "xapi-plan: TARGET_NOT_DECLARABLE: Invalid target power state: expected one of "Halted", "Paused", "Running", "Suspended", received "Crashed". Crashed can be observed but not declared.
      ",
        "stdout": "",
      }
    `);
  });

  it("exits 2 with the usage for an unknown flag", async () => {
    const run = await RUN_6;
    expect([run.code, run.stdout, run.stderr.split("\n")[0]]).toMatchInlineSnapshot(`
      [
        2,
        "",
        "xapi-plan: Unknown option '--force'",
      ]
    `);
    expect(run.stderr).toContain("Usage: xapi-plan --from <State> --to <State>");
  });

  it("exits 2 with the usage for an invalid state", async () => {
    const run = await RUN_7;
    expect([run.code, run.stderr.split("\n")[0]]).toMatchInlineSnapshot(`
      [
        2,
        "xapi-plan: invalid --from: expected one of Halted, Paused, Running, Suspended, Crashed, received "Stopped"",
      ]
    `);
  });

  it("exits 2 when --to is missing", async () => {
    const run = await RUN_8;
    expect([run.code, run.stderr.split("\n")[0]]).toEqual([2, "xapi-plan: missing --to"]);
  });

  it("prints the usage on --help and exits 0", async () => {
    const run = await RUN_9;
    expect([run.code, run.stdout.startsWith("Usage: xapi-plan")]).toEqual([0, true]);
  });

  it("is the package's xapi-plan bin, with a node shebang", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      bin: Record<string, string>;
    };
    expect(pkg.bin["xapi-plan"]).toBe("dist/provider/cli/plan.js");
    expect(readFileSync(CLI, "utf8").split("\n")[0]).toBe("#!/usr/bin/env node");
  });

  it("reads state names in any case, as a user types them", async () => {
    const run = await RUN_CASE;
    expect([run.code, run.stdout.split("\n")[0]]).toEqual([
      0,
      "Plan Paused → Halted (shutdown: clean, bootChanges: restart, allowDiscardSuspendedState: false)",
    ]);
  });

  it("suggests the state a misspelt one was meant to be", async () => {
    const run = await RUN_SUGGEST;
    expect([run.code, run.stderr.split("\n")[0]]).toMatchInlineSnapshot(`
      [
        2,
        "xapi-plan: invalid --from: expected one of Halted, Paused, Running, Suspended, Crashed, received "Runing". Did you mean "Running"?",
      ]
    `);
  });

  it("counts the setters of a boot change in the summary line", async () => {
    const run = await RUN_SETTERS;
    expect(run.stdout.trim().split("\n").at(-1)).toBe("1 lifecycle call and 1 setter.");
  });
});
