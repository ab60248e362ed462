#!/usr/bin/env node
/**
 * `xapi-plan`: prints the XenAPI calls the planner would make for one transition, for reviewers to run
 * next to a pull request. It performs no calls.
 *
 *   xapi-plan --from Running --to Running --boot-change
 *   xapi-plan --from Suspended --to Halted --shutdown hard --allow-discard-suspended --json
 *
 * Exit codes: 0 plan printed; 2 bad flags (usage on stderr) or impossible request (reason on stderr).
 */
import { parseArgs } from "node:util";
import type { XapiBootFields } from "../model/boot";
import type { Policy } from "../model/plan";
import { BootChangeMode, PowerState, ShutdownMode } from "../model/vocabulary";
import { DEFAULT_POLICY, describePlan, planTransition } from "../planner";

export const USAGE = `Usage: xapi-plan --from <State> --to <State> [--boot-change]
                 [--shutdown clean|clean-then-hard|hard] [--allow-discard-suspended]
                 [--boot-changes restart|next-boot] [--json]

  --from <State>               observed power state: ${Object.values(PowerState).join(", ")}
  --to <State>                 declared power state: Halted, Paused, Running, Suspended
  --boot-change                the declared boot config differs from the one the VM runs
                               (modelled as HVM boot order "cd" → "dc")
  --shutdown <mode>            how shutdowns and reboots are done (default: clean)
  --allow-discard-suspended    with --shutdown hard: a Suspended VM may be hard-shut-down,
                               discarding its memory image
  --boot-changes <mode>        restart: apply a boot change now (default); next-boot: leave it pending
  --json                       print {"steps":[…],"lifecycleCalls":n,"bootChangePending":b}
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

class UsageError extends Error {
  override name = "UsageError";
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
  });
  if (!result.ok) {
    io.err(`xapi-plan: ${result.failure.code}: ${result.failure.reason}`);
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
      }),
    );
    return 0;
  }
  const p = opts.policy;
  io.out(
    `Plan ${opts.from} → ${opts.to}${opts.bootChange ? " with a boot change" : ""} (shutdown: ${p.shutdown}, bootChanges: ${p.bootChanges}, allowDiscardSuspendedState: ${p.allowDiscardSuspendedState})`,
  );
  if (plan.steps.length === 0) io.out(`  No calls: the VM is already ${opts.to}.`);
  for (const line of describePlan(plan)) io.out(`  ${line}`);
  const setters = plan.steps.length - plan.lifecycleCalls;
  const lifecycle = `${plan.lifecycleCalls} lifecycle call${plan.lifecycleCalls === 1 ? "" : "s"}`;
  io.out(setters === 0 ? `${lifecycle}.` : `${lifecycle} and ${setters} setter${setters === 1 ? "" : "s"}.`);
  if (plan.bootChangePending) {
    io.out("Boot change pending: the VM ends with a domain or suspend image built from the old config.");
  }
  return 0;
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
  };
  return { from, to, policy, bootChange: values["boot-change"], json: values.json };
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
