#!/usr/bin/env node
/**
 * `xapi-plan`: prints the XenAPI calls the planner would make for one transition, for reviewers to run
 * next to a pull request. It performs no calls.
 *
 *   xapi-plan --from Running --to Running --boot-change
 *   xapi-plan --from Suspended --to Halted --shutdown hard --allow-discard-suspended --json
 *   xapi-plan --from Running --to Running --memory-static-max 8GiB --memory-dynamic-max 8GiB --power-cycle allow
 *
 * Exit codes: 0 plan printed; 2 bad flags (usage on stderr) or impossible request (reason on stderr).
 */
import { parseArgs } from "node:util";
import type { XapiBootFields } from "../model/boot";
import type { Policy } from "../model/plan";
import { BootChangeMode, PowerCycleMode, PowerState, ShutdownMode } from "../model/vocabulary";
import { DEFAULT_POLICY, describePlan, planTransition } from "../planner";
import { parseSizingFlags, SIZING_OPTIONS, SIZING_USAGE, UsageError } from "./plan-sizing-flags";

export const USAGE = `Usage: xapi-plan --from <State> --to <State> [--boot-change]
                 [--shutdown clean|clean-then-hard|hard] [--allow-discard-suspended]
                 [--boot-changes restart|next-boot] [--vcpus <n>[/<max>]]
                 [--memory-dynamic-max <size> [--memory-dynamic-min <size>] [--memory-static-max <size>]]
                 [--observed-vcpus <n>/<max>] [--observed-memory <sMin>/<dMin>/<dMax>/<sMax>]
                 [--vcpu-hotplug] [--live-vcpus-licensed] [--power-cycle refuse|allow] [--json]

  --from <State>               observed power state: ${Object.values(PowerState).join(", ")}
  --to <State>                 declared power state: Halted, Paused, Running, Suspended
  --boot-change                the declared boot config differs from the one the VM runs
                               (modelled as HVM boot order "cd" → "dc")
  --shutdown <mode>            how shutdowns and reboots are done (default: clean)
  --allow-discard-suspended    with --shutdown hard: a Suspended VM may be hard-shut-down,
                               discarding its memory image
  --boot-changes <mode>        restart: apply a boot change now (default); next-boot: leave it pending
                               (also a vCPU count that cannot change live)
${SIZING_USAGE}
  --json                       print {"steps":[…],"lifecycleCalls":n,"bootChangePending":b,"sizingPending":b}
                               (sizingPending: a vCPU count is written but waits for the next domain build)
  -h, --help                   show this help`;

/** The boot fields the CLI models a "boot change" with: only the HVM boot order differs. */
export const CLI_OBSERVED_BOOT: XapiBootFields = {
  domain_type: "hvm",
  HVM_boot_policy: "BIOS order",
  HVM_boot_params: { order: "cd" },
  PV_bootloader: "",
  PV_kernel: "",
  PV_ramdisk: "",
  PV_args: "",
  PV_bootloader_args: "",
};

/** Output sinks, so tests and other callers can capture what the CLI prints. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code. */
export function main(argv: readonly string[], io: CliIo): number {
  let opts: ReturnType<typeof parse>;
  try {
    opts = parse(argv);
  } catch (e) {
    io.err(`xapi-plan: ${(e as Error).message}`);
    io.err(USAGE);
    return 2;
  }
  if (opts === "help") {
    io.out(USAGE);
    return 0;
  }
  const result = planTransition({
    observedPowerState: opts.from,
    observedBoot: CLI_OBSERVED_BOOT,
    declaredPowerState: opts.to,
    declaredBoot: opts.bootChange ? { HVM_boot_params: { order: "dc" } } : undefined,
    policy: opts.policy,
    // Without a declared size the planner plans no sizing (the observed values are then unused).
    ...opts.sizing,
  });
  if (!result.ok) {
    io.err(`xapi-plan: ${result.failure.code}: ${result.failure.reason}`);
    // The planner words its hint for a Vm's inputs; say which flags they are here.
    if (result.failure.code === "NEEDS_POWER_CYCLE") {
      io.err("xapi-plan: here policy.powerCycle is --power-cycle, and the declared powerState is --to.");
    }
    return 2;
  }
  const { plan } = result;
  if (opts.json) {
    const steps = plan.steps.map((s) => ({
      call: s.call,
      args: s.args,
      from: s.from,
      to: s.to,
      reason: s.reason,
      kind: s.kind,
    }));
    io.out(
      JSON.stringify({
        steps,
        lifecycleCalls: plan.lifecycleCalls,
        bootChangePending: plan.bootChangePending,
        sizingPending: plan.sizingPending ?? false,
      }),
    );
    return 0;
  }
  io.out(headline(opts));
  if (plan.steps.length === 0) io.out(`  No calls: the VM is already ${opts.to}.`);
  for (const line of describePlan(plan)) io.out(`  ${line}`);
  const setters = plan.steps.length - plan.lifecycleCalls;
  const lifecycle = `${plan.lifecycleCalls} lifecycle call${plan.lifecycleCalls === 1 ? "" : "s"}`;
  io.out(setters === 0 ? `${lifecycle}.` : `${lifecycle} and ${setters} setter${setters === 1 ? "" : "s"}.`);
  if (plan.bootChangePending) {
    io.out("Boot change pending: the VM ends with a domain or suspend image built from the old config.");
  }
  if (plan.sizingPending === true) {
    io.out(
      "vCPU count pending: VCPUs_at_startup is written, but the VM ends with a domain or suspend image built with the old count; the next domain build applies it.",
    );
  }
  return 0;
}

/** `Plan Running → Running with a sizing change (shutdown: clean, …)`: the request and the policy in force. */
function headline(opts: Exclude<ReturnType<typeof parse>, "help">): string {
  const p = opts.policy;
  const sized = opts.sizing.declaredSizing !== undefined;
  const changes = [...(opts.bootChange ? ["a boot change"] : []), ...(sized ? ["a sizing change"] : [])];
  const withWhat = changes.length === 0 ? "" : ` with ${changes.join(" and ")}`;
  // powerCycle only matters, and is only shown, when sizing is declared.
  const cycle = sized ? `, powerCycle: ${p.powerCycle}` : "";
  return `Plan ${opts.from} → ${opts.to}${withWhat} (shutdown: ${p.shutdown}, bootChanges: ${p.bootChanges}, allowDiscardSuspendedState: ${p.allowDiscardSuspendedState}${cycle})`;
}

function parse(argv: readonly string[]) {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      from: { type: "string" },
      to: { type: "string" },
      "boot-change": { type: "boolean", default: false },
      shutdown: { type: "string", default: DEFAULT_POLICY.shutdown },
      "allow-discard-suspended": { type: "boolean", default: false },
      "boot-changes": { type: "string", default: DEFAULT_POLICY.bootChanges },
      ...SIZING_OPTIONS,
      "power-cycle": { type: "string", default: DEFAULT_POLICY.powerCycle },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help" as const;
  const from = oneOf("--from", values.from, Object.values(PowerState));
  // Any power state is accepted here so that "--to Crashed" reaches the planner's typed failure.
  const to = oneOf("--to", values.to, Object.values(PowerState));
  const policy: Policy = {
    shutdown: oneOf("--shutdown", values.shutdown, Object.values(ShutdownMode)),
    bootChanges: oneOf("--boot-changes", values["boot-changes"], Object.values(BootChangeMode)),
    allowDiscardSuspendedState: values["allow-discard-suspended"],
    powerCycle: oneOf("--power-cycle", values["power-cycle"], Object.values(PowerCycleMode)),
  };
  const sizing = parseSizingFlags(values);
  return { from, to, policy, sizing, bootChange: values["boot-change"], json: values.json };
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T {
  if (value === undefined) throw new UsageError(`missing ${flag}`);
  // Case does not matter ("running" is Running), as a user types it.
  const match = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  if (match === undefined) {
    const close = allowed.find((a) => a.toLowerCase().startsWith(value.toLowerCase().slice(0, 3)));
    throw new UsageError(
      `invalid ${flag}: expected one of ${allowed.join(", ")}, received ${JSON.stringify(value)}${close === undefined ? "" : `. Did you mean "${close}"?`}`,
    );
  }
  return match;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
