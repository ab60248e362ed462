/**
 * The GitHub Actions workflow of examples/pull-requests (`.github/workflows/xapi.yml`): its structure, then its
 * jobs run here, step by step as a runner would, against xapi-sim with the real Pulumi CLI.
 *
 * What is GitHub's is replaced, nothing else: `${{ }}` expressions and `if:` conditions are evaluated over a
 * made-up event (a small evaluator below: paths, literals, ==, !=, &&, ||, !, success()/failure()/always());
 * `uses:` steps by their local equivalents (the checkout is a copy of the example directory; Node is this one;
 * the Pulumi CLI is scripts/pulumi-cli.sh's); `npm ci` by what it leaves behind (node_modules/.bin/xapi-review,
 * here a shim to dist/provider/cli/review.js, the package's `bin`); `gh` by a fake that records the comment.
 * Every `run:` script runs as GitHub runs it (`bash --noprofile --norc -eo pipefail`), with GITHUB_OUTPUT,
 * GITHUB_PATH, GITHUB_STEP_SUMMARY and RUNNER_TEMP.
 *
 * The story, on one stack: the first apply (a push to main), a pull request's preview and comment, the same
 * pull request without XAPI_PASSWORD (planned from the recorded inputs; the comment is updated, not added), a
 * fork's pull request, a pull request whose preview fails, the merge, the drift check clean and after a VM
 * is stopped behind Pulumi's back.
 *
 * Needs `npm run build` (the Pulumi program loads dist/) and the Pulumi CLI (scripts/pulumi-cli.sh).
 */
import { spawn } from "node:child_process";
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../simulator";
import { locatePulumiCli, REPO_ROOT, TEST_PASSPHRASE } from "./e2e/harness";

// js-yaml comes with @pulumi/pulumi (a dependency); it has no type declarations of its own.
const yaml = require("js-yaml") as { load(text: string): unknown };

const EXAMPLE = path.join(REPO_ROOT, "examples", "pull-requests");
const WORKFLOW = path.join(EXAMPLE, ".github", "workflows", "xapi.yml");
const PASSWORD = "gitops-Pw-5e21";
const REPOSITORY = "acme/vms";
const POOL = "5a1f0000-0000-4000-8000-0000000000a1";

//////////////////////////////
////   the workflow file  ////
//////////////////////////////

interface Step {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}

interface Job {
  name?: string;
  if?: string;
  "runs-on": string;
  permissions?: Record<string, string>;
  environment?: string;
  env?: Record<string, string>;
  steps: Step[];
}

interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  env: Record<string, string>;
  defaults?: { run?: { shell?: string } };
  jobs: Record<string, Job>;
}

async function loadWorkflow(): Promise<Workflow> {
  return yaml.load(await readFile(WORKFLOW, "utf8")) as Workflow;
}

function job(wf: Workflow, name: string): Job {
  const j = wf.jobs[name];
  if (j === undefined) throw new Error(`no job ${name}`);
  return j;
}

function scripts(j: Job): string {
  return j.steps.map((s) => s.run ?? "").join("\n");
}

describe("xapi.yml: triggers and jobs", () => {
  let wf: Workflow;
  beforeAll(async () => {
    wf = await loadWorkflow();
  });

  it("runs on pull requests to main, pushes to main, a daily schedule and by hand", () => {
    expect(Object.keys(wf.on).sort()).toEqual(["pull_request", "push", "schedule", "workflow_dispatch"]);
    expect(wf.on.pull_request).toEqual({ branches: ["main"] });
    expect(wf.on.push).toEqual({ branches: ["main"] });
    const [schedule] = wf.on.schedule as { cron: string }[];
    // minute hour * * *: once a day
    expect(schedule?.cron).toMatch(/^\d{1,2} \d{1,2} \* \* \*$/);
  });

  it("three jobs, each for its events", () => {
    expect(Object.keys(wf.jobs)).toEqual(["preview", "up", "drift"]);
    const on = (event: string, ref = "refs/heads/main") =>
      Object.entries(wf.jobs)
        .filter(([, j]) => truthy(evaluate(j.if ?? "true", context({ event_name: event, ref }))))
        .map(([name]) => name);
    expect(on("pull_request", "refs/pull/7/merge")).toEqual(["preview"]);
    expect(on("push")).toEqual(["up"]);
    expect(on("push", "refs/heads/other")).toEqual([]);
    expect(on("schedule")).toEqual(["drift"]);
    expect(on("workflow_dispatch")).toEqual(["drift"]);
  });

  it("preview: pulumi preview --json into xapi-review, a comment, the job fails when the preview failed", () => {
    const preview = job(wf, "preview");
    expect(scripts(preview)).toMatch(/pulumi preview --stack "\$STACK" --json[^\n]*\\\n\s*\| xapi-review >/);
    expect(scripts(preview)).toContain("gh pr comment");
    expect(scripts(preview)).toContain("<!-- xapi-review -->"); // COMMENT_MARKER of provider/cli/review.ts
    expect(preview.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    expect(preview.environment).toBeUndefined();
    expect(preview.steps.at(-1)?.name).toBe("Fail if the preview failed");
  });

  it("up: pulumi up --yes on main; drift: pulumi preview --refresh --expect-no-changes", () => {
    expect(scripts(job(wf, "up"))).toMatch(/pulumi up --stack "\$STACK" --yes/);
    expect(scripts(job(wf, "drift"))).toMatch(
      /pulumi preview --stack "\$STACK" --refresh --expect-no-changes/,
    );
  });

  it("least privilege: read-only by default; the password a secret; every action pinned to a major version", () => {
    expect(wf.permissions).toEqual({ contents: "read" });
    expect(wf.env.XAPI_PASSWORD).toBe(`\${{ secrets.XAPI_PASSWORD }}`);
    for (const j of Object.values(wf.jobs)) {
      for (const s of j.steps) if (s.uses !== undefined) expect(s.uses).toMatch(/^[\w-]+\/[\w-]+@v\d+$/);
      // Expressions stay out of scripts (the scripts run unchanged here).
      for (const s of j.steps) expect(s.run ?? "").not.toContain("${{");
    }
  });

  it("the example's README explains every secret and variable the workflow reads", async () => {
    const readme = await readFile(path.join(EXAMPLE, "README.md"), "utf8");
    const text = await readFile(WORKFLOW, "utf8");
    const names = [...text.matchAll(/\$\{\{ (?:secrets|vars)\.(\w+) \}\}/g)].map((m) => m[1] ?? "");
    expect(names.length).toBeGreaterThan(5);
    for (const name of names) expect(readme, name).toContain(`| \`${name}\` |`);
  });
});

//////////////////////////////
////   expressions        ////
//////////////////////////////

type Value = string | number | boolean | null;

interface Context {
  github: Record<string, unknown>;
  secrets: Record<string, string>;
  vars: Record<string, string>;
  steps: Record<string, { outputs: Record<string, string> }>;
  /** The job's status so far, for success() and failure(). */
  failed: boolean;
}

function context(github: Record<string, unknown>, more: Partial<Context> = {}): Context {
  return { github, secrets: {}, vars: {}, steps: {}, failed: false, ...more };
}

/** Evaluates a GitHub Actions expression (the subset the workflow uses; anything else throws). */
function evaluate(source: string, ctx: Context): Value {
  const tokens = source.match(/'(?:[^']|'')*'|==|!=|&&|\|\||[!(),]|[A-Za-z_][\w.-]*|\d+|\S/g) ?? [];
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const next = (): string => {
    const t = tokens[i++];
    if (t === undefined) throw new Error(`unexpected end of ${JSON.stringify(source)}`);
    return t;
  };
  const or = (): Value => {
    let left = and();
    while (peek() === "||") {
      next();
      const right = and();
      left = truthy(left) ? left : right;
    }
    return left;
  };
  const and = (): Value => {
    let left = comparison();
    while (peek() === "&&") {
      next();
      const right = comparison();
      left = truthy(left) ? right : left;
    }
    return left;
  };
  const comparison = (): Value => {
    const left = unary();
    const op = peek();
    if (op !== "==" && op !== "!=") return left;
    next();
    const equal = looselyEqual(left, unary());
    return op === "==" ? equal : !equal;
  };
  const unary = (): Value => {
    if (peek() === "!") {
      next();
      return !truthy(unary());
    }
    return primary();
  };
  const primary = (): Value => {
    const t = next();
    if (t === "(") {
      const v = or();
      if (next() !== ")") throw new Error(`expected ) in ${source}`);
      return v;
    }
    if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
    if (/^\d+$/.test(t)) return Number(t);
    if (t === "true" || t === "false") return t === "true";
    if (t === "null") return null;
    if (peek() === "(") {
      next();
      if (next() !== ")") throw new Error(`functions take no arguments here: ${source}`);
      const fns: Record<string, boolean> = {
        success: !ctx.failed,
        failure: ctx.failed,
        always: true,
        cancelled: false,
      };
      const v = fns[t];
      if (v === undefined) throw new Error(`unsupported function ${t} in ${source}`);
      return v;
    }
    const [root = "", ...rest] = t.split(".");
    const roots: Record<string, unknown> = {
      github: ctx.github,
      secrets: ctx.secrets,
      vars: ctx.vars,
      steps: ctx.steps,
    };
    if (!(root in roots)) throw new Error(`unsupported context ${root} in ${source}`);
    let v: unknown = roots[root];
    for (const key of rest)
      v = typeof v === "object" && v !== null ? (v as Record<string, unknown>)[key] : undefined;
    // A secret or variable that is not set is the empty string; any other missing property null.
    if (v === undefined) return root === "secrets" || root === "vars" ? "" : null;
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
    throw new Error(`${t} is not a value`);
  };
  const value = or();
  if (i !== tokens.length) throw new Error(`unexpected ${tokens[i]} in ${source}`);
  return value;
}

function truthy(v: Value): boolean {
  return !(v === false || v === null || v === "" || v === 0 || Number.isNaN(v));
}

/** GitHub's ==: strings case-insensitively; different types compared as numbers (null, '' and false are 0). */
function looselyEqual(a: Value, b: Value): boolean {
  if (typeof a === "string" && typeof b === "string") return a.toLowerCase() === b.toLowerCase();
  if (typeof a === typeof b) return a === b;
  const num = (v: Value): number => (v === null ? 0 : typeof v === "boolean" ? Number(v) : Number(v));
  return num(a) === num(b);
}

/** `${{ … }}` in a string. */
function interpolate(text: string, ctx: Context): string {
  return text.replace(/\$\{\{(.*?)\}\}/g, (_m, expr: string) => {
    const v = evaluate(expr, ctx);
    return v === null ? "" : String(v);
  });
}

describe("the expression evaluator", () => {
  const ctx = context(
    {
      event_name: "pull_request",
      repository: "a/b",
      event: { pull_request: { head: { repo: { full_name: "a/b" } } } },
    },
    { steps: { p: { outputs: { code: "0" } } }, secrets: { S: "x" } },
  );
  it.each([
    ["github.event_name == 'pull_request'", true],
    ["github.event_name == 'PULL_REQUEST'", true],
    ["github.event.pull_request.head.repo.full_name == github.repository", true],
    ["steps.p.outputs.code != '0'", false],
    ["steps.p.outputs.missing != ''", false],
    ["secrets.S", "x"],
    ["secrets.NONE", ""],
    ["github.event_name == 'push' || github.event_name == 'pull_request' && !failure()", true],
    ["always()", true],
  ])("%s", (expr, expected) => {
    expect(evaluate(expr, ctx)).toBe(expected);
  });
});

//////////////////////////////
////   the runner         ////
//////////////////////////////

/** What a job run left: each step's outcome, the summary, and what the steps printed. */
interface JobRun {
  outcomes: Record<string, "success" | "failure" | "skipped">;
  summary: string;
  log: string;
  failed: boolean;
}

let binDir: string;
let sim: RunningSimulator;
let scratch: string;
let checkout: string;
/** The environment a runner adds to every step, beyond the workflow's: a private Pulumi home, PATH, CI. */
let runnerEnv: NodeJS.ProcessEnv;

const FAKE_GH = `#!/usr/bin/env node
// A fake gh: records its arguments, keeps the pull request's comments in a JSON file.
const fs = require("node:fs");
const args = process.argv.slice(2);
const statePath = process.env.FAKE_GH_STATE;
const state = fs.existsSync(statePath) ? JSON.parse(fs.readFileSync(statePath, "utf8")) : { calls: [], comments: [] };
state.calls.push({ args, repo: process.env.GH_REPO, token: process.env.GH_TOKEN !== undefined && process.env.GH_TOKEN !== "" });
const save = () => fs.writeFileSync(statePath, JSON.stringify(state, null, 2));
const bodyOf = (file) => fs.readFileSync(file, "utf8");
if (args[0] === "api" && args.includes("--method")) {
  const id = Number(args.find((a) => a.startsWith("repos/")).split("/").at(-1));
  const field = args[args.indexOf("-F") + 1];
  state.comments.find((c) => c.id === id).body = bodyOf(field.slice("body=@".length));
} else if (args[0] === "api") {
  // The jq filter of the workflow: the last comment containing the marker.
  const found = state.comments.filter((c) => c.body.includes("<!-- xapi-review -->")).at(-1);
  if (found) process.stdout.write(found.id + "\\n");
} else if (args[0] === "pr" && args[1] === "comment") {
  state.comments.push({ id: 1000 + state.comments.length, pr: args[2], body: bodyOf(args[args.indexOf("--body-file") + 1]) });
} else {
  process.stderr.write("fake gh: unexpected " + args.join(" ") + "\\n");
  process.exit(1);
}
save();
`;

beforeAll(async () => {
  binDir = await locatePulumiCli();
  sim = await startSimulator({ port: 0, member: false, users: { root: PASSWORD } });
  await mkdir(path.join(REPO_ROOT, ".tmp"), { recursive: true });
  // Inside the repository, so that the program resolves pulumi-xapi and @pulumi/pulumi from its node_modules.
  scratch = await mkdtemp(path.join(REPO_ROOT, ".tmp", "review-wf-"));
  checkout = path.join(scratch, "checkout");
  await cp(EXAMPLE, checkout, { recursive: true });
  const tools = path.join(scratch, "tools");
  await mkdir(tools);
  await writeFile(path.join(tools, "gh"), FAKE_GH);
  await chmod(path.join(tools, "gh"), 0o755);
  await mkdir(path.join(scratch, "pulumi-home"));
  await mkdir(path.join(scratch, "backend"));
  runnerEnv = { ...process.env };
  for (const key of Object.keys(runnerEnv))
    if (/^(PULUMI_|XAPI_|GITHUB_|RUNNER_|GH_)/.test(key)) delete runnerEnv[key];
  Object.assign(runnerEnv, {
    PATH: [tools, path.dirname(process.execPath), process.env.PATH ?? ""].join(path.delimiter),
    CI: "true",
    GITHUB_ACTIONS: "true",
    FAKE_GH_STATE: path.join(scratch, "gh-state.json"),
    PULUMI_HOME: path.join(scratch, "pulumi-home"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    NO_COLOR: "1",
    FORCE_COLOR: "0",
  });
  // The stack, as the README's set-up makes it once from a workstation.
  const init = await bash("pulumi stack init prod --secrets-provider passphrase --non-interactive", {
    ...runnerEnv,
    PATH: `${binDir}${path.delimiter}${runnerEnv.PATH}`,
    PULUMI_BACKEND_URL: backendUrl(),
    PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE,
  });
  if (init.code !== 0) throw new Error(`pulumi stack init: ${init.output}`);
}, 120_000);

afterAll(async () => {
  await sim?.close();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

function backendUrl(): string {
  return `file://${path.join(scratch, "backend")}`;
}

function bash(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // GitHub's `shell: bash`: bash --noprofile --norc -eo pipefail {0}
    const child = spawn("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], {
      cwd: checkout,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      output += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The secrets and variables of a repository whose pull requests get them all. */
function repositorySettings(): Pick<Context, "secrets" | "vars"> {
  return {
    secrets: { XAPI_PASSWORD: PASSWORD, PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE },
    vars: { PULUMI_BACKEND_URL: backendUrl(), XAPI_URL: sim.url, XAPI_USERNAME: "root" },
  };
}

function pullRequest(headRepo = REPOSITORY): Record<string, unknown> {
  return {
    event_name: "pull_request",
    ref: "refs/pull/7/merge",
    repository: REPOSITORY,
    token: "ghs_test",
    event: { pull_request: { number: 7, head: { repo: { full_name: headRepo } } } },
  };
}

function push(): Record<string, unknown> {
  return { event_name: "push", ref: "refs/heads/main", repository: REPOSITORY, token: "ghs_test" };
}

/** Runs job `name` of the workflow for the event in `ctx`, as a runner would (module comment). */
async function runJob(name: string, ctx: Context): Promise<JobRun> {
  const wf = await loadWorkflow();
  const j = job(wf, name);
  expect(truthy(evaluate(j.if ?? "true", ctx)), `job ${name} runs on ${String(ctx.github.event_name)}`).toBe(
    true,
  );
  expect(wf.defaults?.run?.shell).toBe("bash");
  const runDir = await mkdtemp(path.join(scratch, `run-${name}-`));
  const temp = path.join(runDir, "temp");
  await mkdir(temp);
  const files = {
    GITHUB_OUTPUT: path.join(runDir, "output"),
    GITHUB_PATH: path.join(runDir, "path"),
    GITHUB_STEP_SUMMARY: path.join(runDir, "summary"),
    GITHUB_ENV: path.join(runDir, "env"),
  };
  for (const f of Object.values(files)) await writeFile(f, "");
  const extraPath: string[] = [];
  const run: JobRun = { outcomes: {}, summary: "", log: "", failed: false };
  const expand = (env: Record<string, string> | undefined): Record<string, string> =>
    Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, interpolate(String(v), ctx)]));
  const env = { ...expand(wf.env), ...expand(j.env) };

  for (const [index, step] of j.steps.entries()) {
    const label = step.id ?? step.name ?? step.uses ?? String(index);
    ctx.failed = run.failed;
    const condition = step.if ?? "success()";
    const gated = /\b(success|failure|always|cancelled)\(/.test(condition)
      ? condition
      : `success() && (${condition})`;
    if (!truthy(evaluate(gated, ctx))) {
      run.outcomes[label] = "skipped";
      continue;
    }
    if (step.uses !== undefined) {
      // The local equivalents of the actions.
      const action = step.uses.replace(/@.*/, "");
      if (action === "pulumi/actions") extraPath.unshift(binDir);
      else if (action !== "actions/checkout" && action !== "actions/setup-node") {
        throw new Error(`no local equivalent for ${step.uses}`);
      }
      run.outcomes[label] = "success";
      continue;
    }
    let script = step.run ?? "";
    if (step.id === "install") {
      // `npm ci` installs the package, whose `bin` links xapi-review in node_modules/.bin.
      expect(script.split("\n")[0]).toBe("npm ci");
      script = script.replace(/^npm ci\n/, "");
      const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, "package.json"), "utf8")) as {
        bin: Record<string, string>;
      };
      const target = path.join(REPO_ROOT, pkg.bin["xapi-review"] ?? "missing-bin");
      const dotBin = path.join(checkout, "node_modules", ".bin");
      await mkdir(dotBin, { recursive: true });
      await writeFile(
        path.join(dotBin, "xapi-review"),
        `#!/bin/sh\nexec node ${JSON.stringify(target)} "$@"\n`,
      );
      await chmod(path.join(dotBin, "xapi-review"), 0o755);
    }
    await writeFile(files.GITHUB_OUTPUT, "");
    const result = await bash(script, {
      ...runnerEnv,
      ...env,
      ...expand(step.env),
      ...files,
      RUNNER_TEMP: temp,
      PATH: [...extraPath, runnerEnv.PATH].join(path.delimiter),
    });
    run.log += `--- ${label} (exit ${result.code})\n${result.output}`;
    const outputs: Record<string, string> = {};
    for (const line of (await readFile(files.GITHUB_OUTPUT, "utf8")).split("\n")) {
      const at = line.indexOf("=");
      if (at > 0) outputs[line.slice(0, at)] = line.slice(at + 1);
    }
    if (step.id !== undefined) ctx.steps[step.id] = { outputs };
    for (const p of (await readFile(files.GITHUB_PATH, "utf8")).split("\n").filter((l) => l !== "")) {
      if (!extraPath.includes(p)) extraPath.unshift(p);
    }
    await writeFile(files.GITHUB_PATH, "");
    run.outcomes[label] = result.code === 0 ? "success" : "failure";
    if (result.code !== 0) run.failed = true;
  }
  run.summary = await readFile(files.GITHUB_STEP_SUMMARY, "utf8");
  return run;
}

interface GhState {
  calls: { args: string[]; repo: string; token: boolean }[];
  comments: { id: number; pr: string; body: string }[];
}

async function gh(): Promise<GhState> {
  try {
    return JSON.parse(await readFile(path.join(scratch, "gh-state.json"), "utf8")) as GhState;
  } catch {
    return { calls: [], comments: [] };
  }
}

/** Edits the checkout's index.ts as a pull request would; every `from` must be there. */
async function edit(...changes: [from: string, to: string][]): Promise<void> {
  const file = path.join(checkout, "index.ts");
  let text = await readFile(file, "utf8");
  for (const [from, to] of changes) {
    expect(text, `index.ts contains ${from}`).toContain(from);
    text = text.replace(from, to);
  }
  await writeFile(file, text);
}

/** The VM of resource `name` of this stack, by the owner tag the provider writes (xapi-sim has VMs of its own). */
async function vmRecord(name: string): Promise<Record<string, unknown> | undefined> {
  const state = sim.model.exportState() as { vms: { record: Record<string, unknown> }[] };
  const urn = `urn:pulumi:prod::xapi-fleet::pulumi-nodejs:dynamic/xapi:Vm::${name}`;
  return state.vms.find((v) => (v.record.other_config as Record<string, string>)?.["pulumi-xapi:urn"] === urn)
    ?.record;
}

const APP01_CD =
  '"app-01": {\n    template: "Other install media",\n    powerState: "Running",\n    hvm: { bootParams: { order: "cd" } },';
const APP01_DC = APP01_CD.replace('order: "cd"', 'order: "dc"');
const BUILD01_HALTED = '"build-01": {\n    template: "Other install media",\n    powerState: "Halted",';
const BUILD01_RUNNING = BUILD01_HALTED.replace('"Halted"', '"Running"');

describe("xapi.yml run against xapi-sim", { timeout: 300_000 }, () => {
  it("the first apply (a push to main) creates the three VMs", async () => {
    const run = await runJob("up", context(push(), repositorySettings()));
    expect(run.outcomes, run.log).toEqual({
      "actions/checkout@v4": "success",
      "actions/setup-node@v4": "success",
      install: "success",
      "Install the Pulumi CLI": "success",
      up: "success",
    });
    expect(run.summary).toContain('"app-01": {');
    for (const [name, power] of [
      ["app-01", "Running"],
      ["app-02", "Running"],
      ["build-01", "Halted"],
    ]) {
      expect((await vmRecord(name ?? ""))?.power_state, name).toBe(power);
    }
  });

  it("a pull request: the preview's review is posted as a comment and shown in the summary", async () => {
    await edit([APP01_CD, APP01_DC], [BUILD01_HALTED, BUILD01_RUNNING]);
    const run = await runJob("preview", context(pullRequest(), repositorySettings()));
    expect(run.outcomes, run.log).toMatchObject({
      install: "success",
      preview: "success",
      "Comment on the pull request": "success",
      "Fail if the preview failed": "skipped",
    });
    const { calls, comments } = await gh();
    expect(calls.map((c) => [c.args[0], c.args[1], c.repo, c.token])).toEqual([
      ["api", `repos/${REPOSITORY}/issues/7/comments`, REPOSITORY, true],
      ["pr", "comment", REPOSITORY, true],
    ]);
    expect(comments).toHaveLength(1);
    const body = comments[0]?.body ?? "";
    expect(run.summary).toBe(body);
    // The engine runs VMs in parallel: the sections' order varies, their text does not.
    expect(body.split("\n").slice(0, 3)).toEqual([
      "**2 VMs change: 1 restart, 0 hard stops** — 2 updated.",
      "",
      `Stack \`prod\` of project \`xapi-fleet\`; planned from the live state of pool \`${POOL}\`.`,
    ]);
    expect(body).toContain(
      [
        "#### `app-01`: updated",
        "",
        "| # | Call | From → To | Reason | Flags |",
        "|--:|---|---|---|---|",
        '| 1 | `VM.add_to_other_config(key: "pulumi-xapi:pending-boot", paths: ["hvm.bootParams.order"])` | Running → Running | note on the VM that its domain still runs the previous boot configuration (hvm.bootParams.order) |  |',
        '| 2 | `VM.set_HVM_boot_params(value: {"order":"dc"})` | Running → Running | HVM_boot_params is {"order":"cd"}, declared {"order":"dc"} |  |',
        "| 3 | `VM.clean_reboot` | Running → Running | clean reboot so the domain runs the declared boot config | ↻ restart |",
        '| 4 | `VM.remove_from_other_config(key: "pulumi-xapi:pending-boot")` | Running → Running | the domain now runs the VM\'s boot configuration: clear the pending-boot note |  |',
      ].join("\n"),
    );
    expect(body).toContain(
      [
        "#### `build-01`: updated",
        "",
        "| # | Call | From → To | Reason | Flags |",
        "|--:|---|---|---|---|",
        "| 1 | `VM.start(force: false, start_paused: false)` | Halted → Running | start the VM (declared Running) |  |",
      ].join("\n"),
    );
    expect(body.endsWith("<!-- xapi-review -->\n")).toBe(true);
  });

  it("the same pull request without XAPI_PASSWORD: planned from the recorded inputs, said first; the comment is updated", async () => {
    const settings = repositorySettings();
    const run = await runJob(
      "preview",
      context(pullRequest(), { ...settings, secrets: { ...settings.secrets, XAPI_PASSWORD: "" } }),
    );
    expect(run.outcomes, run.log).toMatchObject({
      preview: "success",
      "Comment on the pull request": "success",
    });
    const { calls, comments } = await gh();
    expect(calls.slice(2).map((c) => c.args.slice(0, 3))).toEqual([
      ["api", `repos/${REPOSITORY}/issues/7/comments`, "--paginate"],
      ["api", "--method", "PATCH"],
    ]);
    expect(calls[3]?.args[3]).toBe(`repos/${REPOSITORY}/issues/comments/1000`);
    expect(comments).toHaveLength(1);
    const body = comments[0]?.body ?? "";
    expect(body.split("\n").slice(0, 4)).toEqual([
      "**2 VMs change: 0 restarts, 0 hard stops** (not counted: 2 VMs planned from the recorded inputs) — 2 updated.",
      "",
      "> [!WARNING]",
      "> **Planned from the recorded inputs, not from the pool:** Missing XAPI connection settings: expected xapi:password (or XAPI_PASSWORD), received nothing. Try `pulumi config set xapi:url https://<pool-coordinator>` and `pulumi config set --secret xapi:password <password>`.",
    ]);
    expect(body).toContain('1. VM.set_HVM_boot_params(value: {"order":"dc"}) (Running → Running)');
    expect(body).toContain("1. VM.start(start_paused: false, force: false) (Halted → Running)");
  });

  it("a fork's pull request: no secrets, no variables: no preview, said in the summary; no comment; the job passes", async () => {
    const before = (await gh()).calls.length;
    const run = await runJob("preview", context(pullRequest("someone/vms")));
    expect(run.outcomes, run.log).toMatchObject({
      preview: "success",
      "Comment on the pull request": "skipped",
      "Fail if the preview failed": "skipped",
    });
    expect(run.failed).toBe(false);
    expect(run.summary).toMatch(
      /^No state backend \(PULUMI_ACCESS_TOKEN or PULUMI_BACKEND_URL\): no preview\. Pull requests from forks get no secrets/,
    );
    expect(run.log).toContain("::warning::No state backend");
    expect((await gh()).calls.length).toBe(before);
  });

  it("a pull request whose preview fails: the errors are commented, then the job fails", async () => {
    await edit([
      '"build-01": {\n    template: "Other install media"',
      '"build-01": {\n    template: "golden-2025"',
    ]);
    try {
      const run = await runJob("preview", context(pullRequest(), repositorySettings()));
      expect(run.outcomes, run.log).toMatchObject({
        preview: "success",
        "Comment on the pull request": "success",
        "Fail if the preview failed": "failure",
      });
      expect(run.log).toMatch(/pulumi preview exited [1-9]\d* \(its errors are in the comment\)/);
      const body = (await gh()).comments[0]?.body ?? "";
      expect(body.split("\n")[0]).toMatch(/^\*\*❌ The preview failed: 1 error\.\*\* Before it stopped: /);
      expect(body).toContain(
        '- ❌ `build-01`: property template value {golden-2025} has a problem: Template "golden-2025" not found: expected a VM template with this name_label, found none.',
      );
    } finally {
      await edit([
        '"build-01": {\n    template: "golden-2025"',
        '"build-01": {\n    template: "Other install media"',
      ]);
    }
  });

  it("the merge: pulumi up makes the change", async () => {
    const run = await runJob("up", context(push(), repositorySettings()));
    expect(run.outcomes.up, run.log).toBe("success");
    // The value the review named: VM.set_HVM_boot_params(value: {"order":"dc"}).
    expect((await vmRecord("app-01"))?.HVM_boot_params).toEqual({ order: "dc" });
    expect((await vmRecord("build-01"))?.power_state).toBe("Running");
  });

  it("the drift check: clean, then failing with the review of what up would do after a VM is stopped by hand", async () => {
    const schedule = () =>
      context(
        { event_name: "schedule", ref: "refs/heads/main", repository: REPOSITORY },
        repositorySettings(),
      );
    const clean = await runJob("drift", schedule());
    expect(clean.outcomes.drift, clean.log).toBe("success");
    expect(clean.summary).toBe(
      "## Drift: what `pulumi up` would do now\n\n**No VM changes.**\n\nStack `prod` of project `xapi-fleet`.\n\n<!-- xapi-review -->\n",
    );

    const app02 = await vmRecord("app-02");
    await sim.model.control.setPowerState?.({ uuid: app02?.uuid, powerState: "Halted" });
    const drifted = await runJob("drift", schedule());
    expect(drifted.outcomes.drift, drifted.log).toBe("failure");
    expect(drifted.log).toContain("no changes were expected");
    expect(drifted.summary).toContain(
      [
        "## Drift: what `pulumi up` would do now",
        "",
        "**1 VM changes: 0 restarts, 0 hard stops** — 1 updated.",
        "",
        `Stack \`prod\` of project \`xapi-fleet\`; planned from the live state of pool \`${POOL}\`.`,
        "",
        "#### `app-02`: updated",
        "",
        "| # | Call | From → To | Reason | Flags |",
        "|--:|---|---|---|---|",
        "| 1 | `VM.start(force: false, start_paused: false)` | Halted → Running | start the VM (declared Running) |  |",
      ].join("\n"),
    );
  });
});
