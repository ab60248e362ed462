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

describe("xapi-plan, vCPUs and memory", () => {
  // The modelled VM (--help): 2 vCPUs (max 4), memory staticMin 1GiB, dynamic 2GiB–4GiB, staticMax 4GiB.

  it("plugs a vCPU increase live into a guest that can hotplug on a licensed pool", async () => {
    const run = await xapiPlan(
      "--from",
      "Running",
      "--to",
      "Running",
      "--vcpus",
      "4",
      "--vcpu-hotplug",
      "--live-vcpus-licensed",
    );
    expect([run.code, run.stderr]).toEqual([0, ""]);
    expect(run.stdout).toMatchInlineSnapshot(`
      "Plan Running → Running with a sizing change (shutdown: clean, bootChanges: restart, allowDiscardSuspendedState: false, powerCycle: refuse)
        1. VM.set_VCPUs_number_live(nvcpu: 4) (Running → Running): VCPUs_at_startup is 2, declared 4: plugged live into the running guest
      0 lifecycle calls and 1 setter.
      "
    `);
  });

  it("writes a vCPU count for the next build, and says it is pending, without hotplug under next-boot", async () => {
    const run = await xapiPlan(
      "--from",
      "Running",
      "--to",
      "Running",
      "--vcpus",
      "4",
      "--boot-changes",
      "next-boot",
    );
    expect(run.stdout).toMatchInlineSnapshot(`
      "Plan Running → Running with a sizing change (shutdown: clean, bootChanges: next-boot, allowDiscardSuspendedState: false, powerCycle: refuse)
        1. VM.set_VCPUs_at_startup(value: 4) (Running → Running): VCPUs_at_startup is 2, declared 4; the Running domain keeps 2 vCPUs until it is rebuilt
      0 lifecycle calls and 1 setter.
      vCPU count pending: VCPUs_at_startup is written, but the VM ends with a domain or suspend image built with the old count; the next domain build applies it.
      "
    `);
  });

  it("reboots once for a vCPU count the guest cannot take live, under the default restart", async () => {
    const run = await xapiPlan("--from", "Running", "--to", "Running", "--vcpus", "3", "--json");
    expect(callsOf(run)).toEqual(["VM.set_VCPUs_at_startup", "VM.clean_reboot"]);
  });

  it("refuses a memory.staticMax increase on a Running VM under the default power-cycle policy", async () => {
    const run = await xapiPlan(
      "--from",
      "Running",
      "--to",
      "Running",
      "--memory-static-max",
      "8GiB",
      "--memory-dynamic-max",
      "4GiB",
    );
    expect(run).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "xapi-plan: NEEDS_POWER_CYCLE: Cannot change memory.staticMax of a Running VM declared Running without a power cycle: expected a Halted VM (XAPI accepts VM.set_memory_limits only then), received Running. Declare powerState "Halted", or set policy.powerCycle "allow" to shut the VM down, write, and start it again in this run.
      xapi-plan: here policy.powerCycle is --power-cycle, and the declared powerState is --to.
      ",
        "stdout": "",
      }
    `);
  });

  it("plans shutdown, set_memory_limits, start for a memory.staticMax increase under --power-cycle allow", async () => {
    const run = await xapiPlan(
      "--from",
      "Running",
      "--to",
      "Running",
      "--memory-static-max",
      "8GiB",
      "--memory-dynamic-max",
      "4GiB",
      "--power-cycle",
      "allow",
    );
    expect([run.code, run.stderr]).toEqual([0, ""]);
    expect(run.stdout).toMatchInlineSnapshot(`
      "Plan Running → Running with a sizing change (shutdown: clean, bootChanges: restart, allowDiscardSuspendedState: false, powerCycle: allow)
        1. VM.clean_shutdown (Running → Halted): shut the guest down cleanly: XAPI writes memory.staticMax only on a Halted VM (policy powerCycle "allow"), on the way to Running
        2. VM.set_memory_limits(static_min: 1073741824, static_max: 8589934592, dynamic_min: 2147483648, dynamic_max: 4294967296) (Halted → Halted): memory_static_max is 4294967296 (4 GiB), declared 8589934592 (8 GiB)
        3. VM.start(start_paused: false, force: false) (Halted → Running): start the VM (declared Running)
      2 lifecycle calls and 1 setter.
      "
    `);
  });

  it("sets a dynamic range live on a Running VM", async () => {
    const run = await xapiPlan(
      "--from",
      "Running",
      "--to",
      "Running",
      "--memory-dynamic-min",
      "1GiB",
      "--memory-dynamic-max",
      "3GiB",
      "--json",
    );
    expect([run.code, run.stderr]).toEqual([0, ""]);
    expect(JSON.parse(run.stdout)).toMatchObject({
      steps: [
        {
          call: "VM.set_memory_dynamic_range",
          args: { min: 1073741824, max: 3221225472 },
          from: "Running",
          to: "Running",
          kind: "set",
        },
      ],
      lifecycleCalls: 0,
    });
  });

  it("gives the sizing steps in the same steps list as the lifecycle ones, and sizingPending, with --json", async () => {
    const run = await xapiPlan(
      "--from",
      "Halted",
      "--to",
      "Running",
      "--vcpus",
      "6/8",
      "--observed-vcpus",
      "1/2",
      "--json",
    );
    expect(JSON.parse(run.stdout)).toEqual({
      steps: [
        {
          call: "VM.set_VCPUs_max",
          args: { value: 8 },
          from: "Halted",
          to: "Halted",
          reason: "VCPUs_max is 2, declared 8",
          kind: "set",
        },
        {
          call: "VM.set_VCPUs_at_startup",
          args: { value: 6 },
          from: "Halted",
          to: "Halted",
          reason: "VCPUs_at_startup is 1, declared 6; the next start uses it",
          kind: "set",
        },
        {
          call: "VM.start",
          args: { start_paused: false, force: false },
          from: "Halted",
          to: "Running",
          reason: "start the VM (declared Running)",
          kind: "lifecycle",
        },
      ],
      lifecycleCalls: 1,
      bootChangePending: false,
      sizingPending: false,
    });
  });

  it("reports sizingPending true with --json for a vCPU count left for the next build", async () => {
    const run = await xapiPlan(
      "--from",
      "Paused",
      "--to",
      "Paused",
      "--vcpus",
      "3",
      "--boot-changes",
      "next-boot",
      "--json",
    );
    expect(JSON.parse(run.stdout)).toMatchObject({ lifecycleCalls: 0, sizingPending: true });
  });

  it("reports sizingPending false with --json when no size is declared", async () => {
    const run = await xapiPlan("--from", "Running", "--to", "Running", "--json");
    expect(JSON.parse(run.stdout)).toEqual({
      steps: [],
      lifecycleCalls: 0,
      bootChangePending: false,
      sizingPending: false,
    });
  });

  it("reads the VM's memory from --observed-memory", async () => {
    const run = await xapiPlan(
      "--from",
      "Running",
      "--to",
      "Running",
      "--observed-memory",
      "512MiB/1GiB/2GiB/2GiB",
      "--memory-dynamic-max",
      "2GiB",
    );
    expect(run.stdout).toContain("  No calls: the VM is already Running.");
  });

  it("exits 2 with the planner's reason for dynamicMin above dynamicMax", async () => {
    const run = await xapiPlan(
      "--from",
      "Running",
      "--to",
      "Running",
      "--memory-dynamic-min",
      "3GiB",
      "--memory-dynamic-max",
      "2GiB",
    );
    expect(run).toMatchInlineSnapshot(`
      {
        "code": 2,
        "stderr": "xapi-plan: INVALID_DECLARED_SIZING: Invalid declared memory.dynamicMin: expected at most memory.dynamicMax (2147483648 (2 GiB), declared), received 3221225472 (3 GiB). XAPI requires 1 ≤ vcpus.atStartup ≤ vcpus.max and staticMin ≤ dynamicMin ≤ dynamicMax ≤ staticMax.
      ",
        "stdout": "",
      }
    `);
  });

  it("exits 2 naming the flag and the binary unit to write for a decimal size", async () => {
    const run = await xapiPlan("--from", "Running", "--to", "Running", "--memory-dynamic-max", "4GB");
    expect([run.code, run.stdout, run.stderr.split("\n")[0]]).toMatchInlineSnapshot(`
      [
        2,
        "",
        "xapi-plan: Invalid --memory-dynamic-max: expected a whole number of bytes, or a string with a binary unit such as "512MiB" or "4GiB" (KiB, MiB, GiB, TiB), received "4GB". "GB" is a decimal or ambiguous unit; memory sizes take binary units: write "4GiB" (4294967296 bytes), or the number of bytes.",
      ]
    `);
  });

  it("exits 2 when a memory flag comes without --memory-dynamic-max, as a Vm's memory block", async () => {
    const run = await xapiPlan("--from", "Running", "--to", "Running", "--memory-static-max", "8GiB");
    expect([run.code, run.stderr.split("\n")[0]]).toMatchInlineSnapshot(`
      [
        2,
        "xapi-plan: Missing --memory-dynamic-max: expected a size with --memory-static-max or --memory-dynamic-min, received nothing. A memory declaration always has dynamicMax, as a Vm's memory block: to keep the VM's, add --memory-dynamic-max 4GiB.",
      ]
    `);
  });

  it("exits 2 naming --vcpus for a count that is not one", async () => {
    const run = await xapiPlan("--from", "Running", "--to", "Running", "--vcpus", "four");
    expect([run.code, run.stderr.split("\n")[0]]).toMatchInlineSnapshot(`
      [
        2,
        "xapi-plan: Invalid --vcpus: expected <atStartup> or <atStartup>/<max>, whole numbers of vCPUs, at least 1, received "four". Write e.g. "4" or "4/8".",
      ]
    `);
  });

  it("exits 2 for an unknown --power-cycle mode", async () => {
    const run = await xapiPlan("--from", "Running", "--to", "Running", "--power-cycle", "sometimes");
    expect([run.code, run.stderr.split("\n")[0]]).toMatchInlineSnapshot(`
      [
        2,
        "xapi-plan: invalid --power-cycle: expected one of refuse, allow, received "sometimes"",
      ]
    `);
  });

  it("lists the sizing flags in --help", async () => {
    const run = await xapiPlan("--help");
    for (const flag of [
      "--vcpus",
      "--memory-static-max",
      "--observed-memory",
      "--vcpu-hotplug",
      "--power-cycle",
    ]) {
      expect(run.stdout).toContain(`  ${flag} `);
    }
  });
});
