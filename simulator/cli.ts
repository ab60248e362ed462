#!/usr/bin/env node
/**
 * The `xapi-sim` command: start the simulator and keep it running until SIGINT/SIGTERM.
 *
 * Prints one line, `xapi-sim listening on <url>`, once it accepts connections (with `--port 0`
 * the URL carries the port the OS picked); with `--tls` a second line,
 * `xapi-sim certificate SHA-256 fingerprint <AA:BB:…>`, the value to pin in `xapi:fingerprint`. Exit codes: 0
 * after a clean shutdown, 1 when it cannot start
 * (e.g. a corrupt state file), 2 for bad command-line flags.
 */

import { parseArgs } from "node:util";
import { PROFILE_NAMES, type ProfileName, type StartOptions, startSimulator } from "./index";

const USAGE = `Usage: xapi-sim [options]

  --port N            TCP port (default 0 = pick a free port and print it)
  --host ADDR         bind address of the master (default 127.0.0.1)
  --state FILE        persist VMs to FILE (JSON, atomic writes); created from the fixture if missing
  --tls               serve HTTPS with a generated self-signed certificate
  --user U            login user name (with --password; default root / xapi-sim)
  --password P        login password
  --no-member         do not listen as the pool member on 127.0.0.2
  --profile NAME      XAPI generation to play: current (XCP-ng 8.3, API 2.21; the default),
                      xenserver-7 (XenServer 7.2, API 2.7, no domain_type) or xenapi-1.0
                      (API 1.0, no domain_type, power state Crashed); a --state file keeps its own
  --crashed-compat    report crashed guests as power_state "Crashed" (XenAPI 1.0 behaviour)
  --op-ms N           simulated duration of each lifecycle operation in ms (default 20)
  -h, --help          show this help
`;

/** A command-line problem: usage goes to stderr and the exit code is 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * Turn argv (without `node` and the script) into start options.
 *
 * @returns the options, or `"help"` for `--help`.
 * @throws UsageError for unknown flags, missing values, bad numbers, or `--user` without `--password`.
 */
export function parseCliArgs(argv: readonly string[]): StartOptions | "help" {
  let values: ReturnType<typeof parse>["values"];
  try {
    ({ values } = parse(argv));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return "help";
  const options: StartOptions = {};
  if (values.port !== undefined) options.port = parseInteger("--port", values.port, 0, 65535);
  if (values.host !== undefined) options.host = values.host;
  if (values.state !== undefined) options.stateFile = values.state;
  if (values.tls) options.tls = true;
  if ((values.user === undefined) !== (values.password === undefined)) {
    throw new UsageError("--user and --password go together");
  }
  if (values.user !== undefined && values.password !== undefined)
    options.users = { [values.user]: values.password };
  if (values["no-member"]) options.member = false;
  if (values["crashed-compat"]) options.crashedCompat = true;
  if (values.profile !== undefined) {
    if (!(PROFILE_NAMES as readonly string[]).includes(values.profile)) {
      throw new UsageError(
        `--profile expects one of ${PROFILE_NAMES.join(", ")}, received "${values.profile}"`,
      );
    }
    options.profile = values.profile as ProfileName;
  }
  if (values["op-ms"] !== undefined) {
    options.defaultOperationMs = parseInteger("--op-ms", values["op-ms"], 0, 3_600_000);
  }
  return options;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      state: { type: "string" },
      tls: { type: "boolean" },
      user: { type: "string" },
      password: { type: "string" },
      "no-member": { type: "boolean" },
      "crashed-compat": { type: "boolean" },
      profile: { type: "string" },
      "op-ms": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

function parseInteger(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(`${flag} expects an integer from ${min} to ${max}, received "${text}"`);
  }
  return value;
}

async function main(): Promise<void> {
  let options: StartOptions | "help";
  try {
    options = parseCliArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`xapi-sim: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === "help") {
    process.stdout.write(USAGE);
    return;
  }
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  try {
    sim = await startSimulator(options);
  } catch (error) {
    process.stderr.write(`xapi-sim: ${(error as Error).message}\n`);
    process.exit(1);
  }
  const shutdown = () => {
    process.off("SIGINT", shutdown);
    process.off("SIGTERM", shutdown);
    sim.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`xapi-sim: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  process.stdout.write(`xapi-sim listening on ${sim.url}\n`);
  // What a client pins (pulumi config set xapi:fingerprint …) to trust the generated self-signed certificate.
  if (sim.certFingerprint256 !== undefined) {
    process.stdout.write(`xapi-sim certificate SHA-256 fingerprint ${sim.certFingerprint256}\n`);
  }
}

if (require.main === module) void main();
