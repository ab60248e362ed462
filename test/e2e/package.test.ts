/**
 * The published package as a user gets it: `npm pack` of this checkout, `npm install` of the tarball into a
 * new project OUTSIDE the repository (under os.tmpdir(), so nothing resolves through the checkout's
 * node_modules or its link), then `pulumi up` of a small TypeScript program there against xapi-sim (in
 * process), with the real CLI on a private PULUMI_HOME, a local file backend and a passphrase secrets
 * provider (what test/e2e/harness.ts does for programs inside the repository).
 *
 * The program is compiled as in a user's project: type-checked (no transpile-only) by the project's own
 * TypeScript, with examples/quickstart/tsconfig.json copied unchanged.
 *
 * Cost: `npm pack` takes seconds (dist/ is built by `pretest`; prepack builds only a stale dist/); `npm
 * install` needs the npm registry (the npm cache is used first, --prefer-offline: ~20 s on the 2-core
 * machine, more on a cold cache); `pulumi up` 10-20 s. About a minute in all. Without a Pulumi CLI the
 * `pulumi up` test fails, like every e2e test (run `bash scripts/pulumi-cli.sh`).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../../simulator";
import { locatePulumiCli, REPO_ROOT } from "./harness";

const PASSWORD = "package-Pw-71c2e9";
const PASSPHRASE = "package-passphrase";
/** The set-aside file of scripts/pack-manifest.js: present only between prepack and postpack. */
const SET_ASIDE = path.join(REPO_ROOT, ".tmp", "pack", "scripts-set-aside.json");
const TIMEOUT = { timeout: 300_000 };

interface Manifest {
  name: string;
  version: string;
  bin?: Record<string, string>;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

const repoManifest = readJson<Manifest>(path.join(REPO_ROOT, "package.json"));
/** The versions this checkout pins and has installed (so npm finds them in its cache). */
const PINNED = {
  pulumi: repoManifest.dependencies?.["@pulumi/pulumi"] ?? "",
  typescript: readJson<Manifest>(path.join(REPO_ROOT, "node_modules", "typescript", "package.json")).version,
  typesNode: readJson<Manifest>(path.join(REPO_ROOT, "node_modules", "@types", "node", "package.json"))
    .version,
};

interface Run {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a child npm or pulumi: without the npm_* variables of a surrounding `npm test` (npm
 * would take npm_config_local_prefix for the project to install into), keeping those that say where the
 * cache and registry are and how to reach them; without variables of a surrounding Pulumi run.
 */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = /^npm_config_(cache|registry|userconfig|proxy|https_proxy|noproxy|strict_ssl|cafile)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) && !keep.test(key)) continue;
    if (key === "INIT_CWD" || /^PULUMI_/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: "1", FORCE_COLOR: "0", ...extra };
}

/** Runs a command (argv, no shell) in its own process group, killed with its children after the timeout. */
function run(
  command: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
) {
  const line = `${command} ${args.join(" ")}`;
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
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
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ command: line, code, stdout, stderr });
    });
  });
}

async function runOk(...args: Parameters<typeof run>): Promise<Run> {
  const result = await run(...args);
  if (result.code !== 0) {
    throw new Error(
      `\`${result.command}\` exited ${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`,
    );
  }
  return result;
}

/** Files under `dir`, relative, with "/" separators. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
    .sort();
}

/** npm's warnings and errors (one per line) that concern this package, its scripts or missing files. */
function warningsAboutUs(output: string): string[] {
  return output
    .split("\n")
    .filter((line) => /^npm (warn|error)/i.test(line))
    .filter((line) => /pulumi-xapi|prepare|prepack|link-self|ENOENT|no such file|missing/i.test(line));
}

let scratch: string;
let sim: RunningSimulator;
let tarball: string;
let project: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), "pulumi-xapi-package-"));
  project = path.join(scratch, "a-user-project");
  sim = await startSimulator({ port: 0, member: false, users: { root: PASSWORD } });
});

afterAll(async () => {
  await sim?.close();
  // A pack that failed between prepack and postpack leaves package.json without its prepare script.
  if (existsSync(SET_ASIDE)) {
    await run(process.execPath, ["scripts/pack-manifest.js", "restore"], REPO_ROOT, childEnv(), 10_000);
  }
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

describe("the packed package, installed in a project outside the repository", TIMEOUT, () => {
  it("npm pack: dist/provider and dist/simulator without source maps, the docs the README links, no checkout-only scripts", async () => {
    const packDir = path.join(scratch, "pack");
    await mkdir(packDir);
    const pack = await runOk("npm", ["pack", "--pack-destination", packDir], REPO_ROOT, childEnv(), 180_000);
    const [name] = (await readdir(packDir)).filter((f) => f.endsWith(".tgz"));
    tarball = path.join(packDir, name ?? "(no tarball)");
    const unpacked = path.join(scratch, "unpacked");
    await mkdir(unpacked);
    await runOk("tar", ["xzf", tarball, "-C", unpacked], scratch, childEnv(), 60_000);
    const root = path.join(unpacked, "package");
    const files = await filesUnder(root);

    const readme = await readFile(path.join(root, "README.md"), "utf8");
    const linkedDocs = [...readme.matchAll(/\]\(((?:docs|simulator)\/[^)#\s]+)(?:#[^)]*)?\)/g)].flatMap(
      (m) => (m[1] === undefined ? [] : [m[1]]),
    );
    const packed = readJson<Manifest>(path.join(root, "package.json"));
    const jsWithMapUrl: string[] = [];
    for (const file of files.filter((f) => f.endsWith(".js"))) {
      if ((await readFile(path.join(root, file), "utf8")).includes("sourceMappingURL"))
        jsWithMapUrl.push(file);
    }
    expect({
      warnings: warningsAboutUs(pack.stdout + pack.stderr),
      hasEntryPoints: [
        "dist/provider/index.js",
        "dist/provider/index.d.ts",
        "dist/provider/resource/impl.js",
      ].map((f) => files.includes(f)),
      bins: Object.values(packed.bin ?? {}).filter((f) => !files.includes(f.replace(/^\.\//, ""))),
      readmeLinksDocs: linkedDocs.length > 0,
      linkedDocsMissing: linkedDocs.filter((f) => !files.includes(f)),
      sourceMaps: files.filter((f) => f.endsWith(".map")),
      jsWithMapUrl,
      outsideDistAndDocs: files.filter(
        (f) =>
          !/^(dist\/(provider|simulator)\/|docs\/[^/]+\.md$|simulator\/README\.md$|README\.md$|package\.json$)/.test(
            f,
          ),
      ),
      lifecycleScripts: Object.keys(packed.scripts ?? {}).filter((s) =>
        /^(pre|post)?(install|prepare|pack)$/.test(s),
      ),
      // postpack put the checkout's scripts back.
      checkoutPrepare: [
        readJson<Manifest>(path.join(REPO_ROOT, "package.json")).scripts?.prepare,
        existsSync(SET_ASIDE),
      ],
    }).toEqual({
      warnings: [],
      hasEntryPoints: [true, true, true],
      bins: [],
      readmeLinksDocs: true,
      linkedDocsMissing: [],
      sourceMaps: [],
      jsWithMapUrl: [],
      outsideDistAndDocs: [],
      lifecycleScripts: [],
      checkoutPrepare: [repoManifest.scripts?.prepare, false],
    });
  });

  it(`npm install <tarball> @pulumi/pulumi@${PINNED.pulumi} typescript: no npm warning about pulumi-xapi, a prepare script or missing files`, async () => {
    expect(tarball, "the npm pack test must pass first").toMatch(/\.tgz$/);
    await mkdir(project);
    await writeFile(
      path.join(project, "package.json"),
      `${JSON.stringify({ name: "a-user-project", version: "0.0.0", private: true }, null, 2)}\n`,
    );
    const install = await runOk(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        tarball,
        `@pulumi/pulumi@${PINNED.pulumi}`,
        `typescript@${PINNED.typescript}`,
        `@types/node@${PINNED.typesNode}`,
      ],
      project,
      childEnv(),
      240_000,
    );
    const installed = readJson<Manifest>(path.join(project, "node_modules", "pulumi-xapi", "package.json"));
    expect({
      warnings: warningsAboutUs(install.stdout + install.stderr),
      installed: [installed.name, installed.version, installed.scripts?.prepare],
      docs: ["README.md", "simulator/README.md", "docs/lifecycle.md"].map((f) =>
        existsSync(path.join(project, "node_modules", "pulumi-xapi", f)),
      ),
    }).toEqual({
      warnings: [],
      installed: [repoManifest.name, repoManifest.version, undefined],
      docs: [true, true, true],
    });
  });

  it("pulumi up of a TypeScript program there (the quickstart's tsconfig.json, type-checked) creates the VM in xapi-sim", async () => {
    expect(
      existsSync(path.join(project, "node_modules", "pulumi-xapi")),
      "the npm install test must pass first",
    ).toBe(true);
    const binDir = await locatePulumiCli();
    await copyFile(
      path.join(REPO_ROOT, "examples", "quickstart", "tsconfig.json"),
      path.join(project, "tsconfig.json"),
    );
    await writeFile(
      path.join(project, "Pulumi.yaml"),
      [
        "name: a-user-project",
        "runtime:",
        "  name: nodejs",
        "  options:",
        "    typescript: true",
        "main: index.ts",
        "",
      ].join("\n"),
    );
    await writeFile(
      path.join(project, "index.ts"),
      [
        'import * as xapi from "pulumi-xapi";',
        "",
        'const vm = new xapi.Vm("packaged", {',
        '  template: "Other install media",',
        '  nameLabel: "packaged-vm",',
        '  powerState: "Running",',
        '  hvm: { bootParams: { order: "dc" } },',
        "});",
        "",
        "export const uuid = vm.uuid;",
        "export const observedPowerState = vm.observedPowerState;",
        "// Where this program found pulumi-xapi: the project's node_modules.",
        'export const packageJson = require.resolve("pulumi-xapi/package.json");',
        "",
      ].join("\n"),
    );
    const home = path.join(scratch, "pulumi-home");
    const backend = path.join(scratch, "backend");
    await Promise.all([mkdir(home), mkdir(backend)]);
    const env = childEnv({
      PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ""}`,
      PULUMI_HOME: home,
      PULUMI_BACKEND_URL: `file://${backend}`,
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    });
    const pulumi = (args: readonly string[], timeoutMs = 120_000) =>
      runOk("pulumi", [...args, "--non-interactive", "--color", "never"], project, env, timeoutMs);

    await pulumi(["stack", "init", "e2e", "--secrets-provider", "passphrase"]);
    await pulumi([
      "config",
      "set-all",
      "--plaintext",
      `xapi:url=${sim.url}`,
      "--plaintext",
      "xapi:username=root",
      "--secret",
      `xapi:password=${PASSWORD}`,
    ]);
    await pulumi(["up", "--yes"], 240_000);
    const outputs = JSON.parse((await pulumi(["stack", "output", "--json"])).stdout) as Record<
      string,
      string
    >;
    const vms = (await sim.model.control.vms?.({})) as {
      uuid: string;
      name_label: string;
      power_state: string;
    }[];
    expect({
      packageJson: outputs.packageJson,
      observedPowerState: outputs.observedPowerState,
      vm: vms.filter((v) => v.name_label === "packaged-vm").map((v) => [v.uuid, v.power_state]),
    }).toEqual({
      packageJson: await realpath(path.join(project, "node_modules", "pulumi-xapi", "package.json")),
      observedPowerState: "Running",
      vm: [[outputs.uuid, "Running"]],
    });
    // An installed package: the state holds the provider as one require of it, not serialized code.
    const exported = JSON.parse((await pulumi(["stack", "export"])).stdout) as {
      deployment: { resources: { type: string; inputs: { __provider?: string } }[] };
    };
    const vm = exported.deployment.resources.find((r) => r.type === "pulumi-nodejs:dynamic/xapi:Vm");
    expect(vm?.inputs.__provider).toContain('require("pulumi-xapi/dist/provider/resource/impl.js")');
    expect(vm?.inputs.__provider?.length).toBeLessThan(400);
  });
});
