#!/usr/bin/env node
/**
 * Writes a fixture of test/e2e/upgrade.test.ts: a stack state and the pool it describes, both written
 * by an earlier release (or commit) of pulumi-xapi, so that the test can upgrade them in place with this
 * one.
 *
 *   node test/e2e/upgrade/make-fixture.js <old package dir> <out dir>
 *
 * `<old package dir>` is an installed copy of the earlier release (its package.json and dist/), or the
 * same made from an earlier commit: its package.json and the dist/provider and dist/simulator that its
 * `npx tsc -p tsconfig.build.json` wrote (test/fixtures/upgrade-0.2-objects/SOURCE.md). The script
 * makes a scratch project under .tmp/ whose node_modules/pulumi-xapi is that copy, starts that
 * release's xapi-sim with a state file, runs the earlier release's `pulumi up` twice with the real CLI
 * (second run: a boot change under policy `next-boot`, so a pending change is recorded), then writes
 * `<out dir>/stack.json` (`pulumi stack export`) and `<out dir>/pool.json` (the simulator's state file).
 * The program is `program.js` next to this file; the project is named `xapi-upgrade`, stack `old`.
 */
const { execFile, execFileSync } = require("node:child_process");
const { promisify } = require("node:util");
const fs = require("node:fs");
const path = require("node:path");

const REPO = path.resolve(__dirname, "..", "..", "..");
const [oldPackage, outDir] = process.argv.slice(2);
if (!oldPackage || !outDir) {
  console.error("usage: make-fixture.js <old package dir> <out dir>");
  process.exit(2);
}

/** The VMs of the fixture, one per kind of output the earlier release wrote: `first` up, then `second`. */
const { first: VMS, second: SECOND } = require("./declared.json");
const PASSWORD = "upgrade-Pw-41d2";

async function main() {
  const bin = execFileSync("bash", [
    path.join(REPO, "scripts", "pulumi-cli.sh"),
    "--print-bin-dir",
    "--no-build",
  ])
    .toString()
    .trim();
  const root = fs.mkdtempSync(path.join(REPO, ".tmp", "upgrade-fixture-"));
  const project = path.join(root, "project");
  fs.mkdirSync(path.join(project, "node_modules"), { recursive: true });
  fs.cpSync(oldPackage, path.join(project, "node_modules", "pulumi-xapi"), { recursive: true });
  // Its dependencies: this checkout's (the same lock file then).
  for (const entry of fs.readdirSync(path.join(REPO, "node_modules"))) {
    if (entry === "pulumi-xapi" || entry === ".bin") continue;
    fs.symlinkSync(path.join(REPO, "node_modules", entry), path.join(project, "node_modules", entry));
  }
  fs.copyFileSync(path.join(__dirname, "program.js"), path.join(project, "index.js"));
  fs.writeFileSync(
    path.join(project, "Pulumi.yaml"),
    "name: xapi-upgrade\nruntime: nodejs\nmain: index.js\n",
  );
  for (const dir of ["home", "backend"]) fs.mkdirSync(path.join(root, dir));

  const { startSimulator } = require(path.join(project, "node_modules", "pulumi-xapi", "dist", "simulator"));
  const stateFile = path.join(root, "pool.json");
  const sim = await startSimulator({ stateFile, member: false, users: { root: PASSWORD } });
  const env = {
    ...process.env,
    PATH: `${bin}${path.delimiter}${process.env.PATH}`,
    PULUMI_HOME: path.join(root, "home"),
    PULUMI_BACKEND_URL: `file://${path.join(root, "backend")}`,
    PULUMI_CONFIG_PASSPHRASE: "e2e-passphrase",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
  // Asynchronous: the simulator serves from this process's event loop.
  const pulumi = async (...args) =>
    (
      await promisify(execFile)("pulumi", [...args, "--non-interactive", "--color", "never"], {
        cwd: project,
        env,
      })
    ).stdout;
  try {
    await pulumi("stack", "init", "old");
    await pulumi("config", "set", "xapi:url", sim.url);
    await pulumi("config", "set", "xapi:username", "root");
    await pulumi("config", "set", "--secret", "xapi:password", PASSWORD);
    await pulumi("config", "set", "e2e:vms", JSON.stringify(VMS));
    await pulumi("up", "--yes", "--skip-preview");
    await pulumi("config", "set", "e2e:vms", JSON.stringify(SECOND));
    await pulumi("up", "--yes", "--skip-preview");
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, "stack.json"), await pulumi("stack", "export"));
  } finally {
    await sim.close();
  }
  fs.copyFileSync(stateFile, path.join(outDir, "pool.json"));
  const version = JSON.parse(fs.readFileSync(path.join(oldPackage, "package.json"), "utf8")).version;
  // An unreleased commit's package.json still names the release before it.
  console.log(
    `wrote ${outDir}/stack.json and pool.json with the pulumi-xapi at ${oldPackage} ` +
      `(package.json: ${version}); scratch: ${root}`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
