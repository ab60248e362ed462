/**
 * Test harness for running the real Pulumi CLI against xapi-sim.
 *
 * Every {@link PulumiProject} lives in its own directory under `<repo>/.tmp/` (gitignored): a generated
 * `Pulumi.yaml` whose `main` points at a program in the repository, a private `PULUMI_HOME`, a local file
 * backend and a passphrase secrets provider. Nothing touches `~/.pulumi`, the network or the repository's
 * own `Pulumi.yaml`. The directory sits inside the repository so that the language host and the
 * dynamic-provider plugin resolve `@pulumi/pulumi` and `pulumi-xapi` from its `node_modules`.
 */

import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";

/** Absolute path of the repository root. */
export const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** Passphrase of the passphrase secrets provider used by every test stack. */
export const TEST_PASSPHRASE = "e2e-passphrase";

/** Why {@link locatePulumiCli} found no CLI. */
export const CliMissingCode = {
  /** No usable `pulumi` on PATH and none built by scripts/pulumi-cli.sh on this machine. */
  NotBuilt: "NOT_BUILT",
  /** scripts/pulumi-cli.sh failed for another reason. */
  ScriptFailed: "SCRIPT_FAILED",
} as const;
export type CliMissingCode = (typeof CliMissingCode)[keyof typeof CliMissingCode];

/** The Pulumi CLI is not available; the message says how to get it. */
export class PulumiCliMissingError extends Error {
  override readonly name = "PulumiCliMissingError";
  constructor(
    readonly code: CliMissingCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Returns the directory holding `pulumi`, `pulumi-language-nodejs` and `pulumi-resource-pulumi-nodejs`.
 *
 * `PULUMI_XAPI_CLI_BIN` overrides the lookup. Otherwise asks `scripts/pulumi-cli.sh --print-bin-dir
 * --no-build`, which never starts the (minutes-long) build: CI builds it before `npm test`.
 * @throws PulumiCliMissingError when no CLI is available.
 */
export async function locatePulumiCli(): Promise<string> {
  const override = process.env.PULUMI_XAPI_CLI_BIN;
  if (override !== undefined && override !== "") return override;
  const script = path.join(REPO_ROOT, "scripts", "pulumi-cli.sh");
  return new Promise((resolve, reject) => {
    execFile("bash", [script, "--print-bin-dir", "--no-build"], { cwd: REPO_ROOT }, (err, stdout, stderr) => {
      if (err === null) {
        resolve(stdout.trim());
        return;
      }
      const notBuilt = typeof err.code === "number" && err.code === 3;
      reject(
        new PulumiCliMissingError(
          notBuilt ? CliMissingCode.NotBuilt : CliMissingCode.ScriptFailed,
          `The Pulumi CLI is not available: run \`bash scripts/pulumi-cli.sh\` first.\n${stderr.trim()}`,
        ),
      );
    });
  });
}

/** Result of one `pulumi` command. */
export interface PulumiResult {
  /** The command line, for assertion messages. */
  command: string;
  /** Exit code (`null` when killed by a signal or the timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link PulumiProject.create}. */
export interface PulumiProjectOptions {
  /** Directory of the Pulumi program (absolute, or relative to the repository root). */
  program: string;
  /** Directory of the Pulumi CLI (from {@link locatePulumiCli}). */
  binDir: string;
  /** Project name. @default "xapi-e2e" */
  name?: string;
  /** Stack created by {@link PulumiProject.initStack}. @default "e2e" */
  stack?: string;
  /**
   * Let ts-node skip type checking of the program (faster; the program is type-checked by `tsc` anyway).
   * @default true
   */
  transpileOnly?: boolean;
  /** Extra environment for every command. */
  env?: Record<string, string>;
}

/** Options of one {@link PulumiProject.pulumi} call. */
export interface RunOptions {
  /** Kill the command after this long. @default 120_000 */
  timeoutMs?: number;
}

/** An isolated Pulumi project + stack, driven through the real CLI. */
export class PulumiProject {
  private constructor(
    /** Root of this project's scratch directory (removed by {@link dispose}). */
    readonly root: string,
    /** The project directory (holds Pulumi.yaml and the stack config file). */
    readonly dir: string,
    readonly stack: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Creates the scratch directories and the Pulumi.yaml; no CLI command runs yet. */
  static async create(options: PulumiProjectOptions): Promise<PulumiProject> {
    const scratch = path.join(REPO_ROOT, ".tmp");
    await mkdir(scratch, { recursive: true });
    const root = await mkdtemp(path.join(scratch, "e2e-"));
    const dir = path.join(root, "project");
    const home = path.join(root, "pulumi-home");
    const backend = path.join(root, "backend");
    await Promise.all([mkdir(dir), mkdir(home), mkdir(backend)]);
    const program = path.resolve(REPO_ROOT, options.program);
    await writeFile(
      path.join(dir, "Pulumi.yaml"),
      [
        `name: ${options.name ?? "xapi-e2e"}`,
        "runtime:",
        "  name: nodejs",
        "  options:",
        "    typescript: true",
        // An absolute `main` is allowed; it keeps the program in the repo and the stack files here.
        `main: ${JSON.stringify(program)}`,
        "",
      ].join("\n"),
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...options.env,
      PATH: `${options.binDir}${path.delimiter}${process.env.PATH ?? ""}`,
      PULUMI_HOME: home,
      PULUMI_BACKEND_URL: `file://${backend}`,
      PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE,
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_NODEJS_TRANSPILE_ONLY: options.transpileOnly === false ? "false" : "true",
      // Plain text output: no ANSI colours from Node stack traces in the program.
      NO_COLOR: "1",
      FORCE_COLOR: "0",
    };
    // Variables of a surrounding `pulumi` run would redirect this one.
    delete env.PULUMI_ACCESS_TOKEN;
    delete env.PULUMI_STACK;
    return new PulumiProject(root, dir, options.stack ?? "e2e", env);
  }

  /**
   * Runs `pulumi <args> --non-interactive --color never` in the project directory (the two flags go before
   * a `--` in `args`, if any).
   */
  pulumi(args: readonly string[], options: RunOptions = {}): Promise<PulumiResult> {
    const common = ["--non-interactive", "--color", "never"];
    const dashes = args.indexOf("--");
    const fullArgs =
      dashes < 0 ? [...args, ...common] : [...args.slice(0, dashes), ...common, ...args.slice(dashes)];
    const command = `pulumi ${fullArgs.join(" ")}`;
    return new Promise((resolve, reject) => {
      const child = spawn("pulumi", fullArgs, {
        cwd: this.dir,
        env: this.env,
        stdio: ["ignore", "pipe", "pipe"],
        // Own process group, so a timeout can end the language host and plugins too.
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
      const timer = setTimeout(() => {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      }, options.timeoutMs ?? 120_000);
      child.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ command, code, stdout, stderr });
      });
    });
  }

  /** Like {@link pulumi}, but rejects with the full output unless the command exits 0. */
  async pulumiOk(args: readonly string[], options: RunOptions = {}): Promise<PulumiResult> {
    const result = await this.pulumi(args, options);
    if (result.code !== 0) {
      throw new Error(
        `\`${result.command}\` exited ${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`,
      );
    }
    return result;
  }

  /** `pulumi stack init <stack>` (passphrase secrets provider). */
  async initStack(): Promise<void> {
    await this.pulumiOk(["stack", "init", this.stack, "--secrets-provider", "passphrase"]);
  }

  /** `pulumi config set [--secret] -- <key> <value>` (argv, never a shell; values may start with "-"). */
  async setConfig(key: string, value: string, options: { secret?: boolean } = {}): Promise<void> {
    const args = ["config", "set", "--stack", this.stack];
    if (options.secret === true) args.push("--secret");
    await this.pulumiOk([...args, "--", key, value]);
  }

  /** Removes the scratch directory (state, home, config). */
  async dispose(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
