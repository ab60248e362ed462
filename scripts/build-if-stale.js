#!/usr/bin/env node
/**
 * Runs `npm run build` unless dist/ is already up to date; used by `npm run demo` and by `npm pack`
 * (the `prepack` script), so neither spends half a minute recompiling what is already compiled.
 *
 * Up to date means: every source of the package (provider/ and simulator/, tests excluded) has its
 * dist/ `.js` and `.d.ts`, and each is newer than that source and than the build's configuration
 * (tsconfig.json, tsconfig.build.json, the installed TypeScript). tsc rewrites every output on each
 * build, so a checkout, an edit or a `git pull` makes the comparison fail and the build run.
 *
 * Also deletes the outputs under dist/provider and dist/simulator whose source no longer exists (tsc
 * never removes them, and they would be packed). Prints one line saying what it did; exit code: the
 * build's. `--check` only reports (exit 1 when a build is needed).
 */
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const SOURCE_DIRS = ["provider", "simulator"];
const CONFIG_FILES = ["tsconfig.json", "tsconfig.build.json", "node_modules/typescript/package.json"];

/** Relative paths of the files under `dir` (relative to the repository root) whose name passes `keep`. */
function filesUnder(dir, keep) {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return [];
  return fs
    .readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && keep(e.name))
    .map((e) => path.relative(root, path.join(e.parentPath ?? e.path, e.name)));
}

function mtimeMs(rel) {
  return fs.statSync(path.join(root, rel), { throwIfNoEntry: false })?.mtimeMs;
}

/** Why dist/ must be rebuilt, or undefined when it is up to date. */
function staleReason(sources) {
  const configTime = Math.max(...CONFIG_FILES.map((f) => mtimeMs(f) ?? 0));
  for (const source of sources) {
    const stem = path.join("dist", source.slice(0, -".ts".length));
    const sourceTime = Math.max(mtimeMs(source) ?? 0, configTime);
    for (const output of [`${stem}.js`, `${stem}.d.ts`]) {
      const outputTime = mtimeMs(output);
      if (outputTime === undefined) return `${output} is missing`;
      if (outputTime < sourceTime) return `${output} is older than ${source} or the build configuration`;
    }
  }
  return undefined;
}

/** Deletes dist/ outputs of sources that were deleted or renamed; returns how many. */
function removeOrphans(sources) {
  const expected = new Set(sources.map((s) => path.join("dist", s.slice(0, -".ts".length))));
  let removed = 0;
  for (const dir of SOURCE_DIRS) {
    for (const output of filesUnder(path.join("dist", dir), () => true)) {
      const stem = output.replace(/(\.d\.ts|\.js\.map|\.js)$/, "");
      if (!expected.has(stem)) {
        fs.rmSync(path.join(root, output), { force: true });
        removed++;
      }
    }
  }
  return removed;
}

const sources = SOURCE_DIRS.flatMap((dir) =>
  filesUnder(dir, (name) => name.endsWith(".ts") && !name.endsWith(".d.ts") && !name.endsWith(".test.ts")),
);
const reason = staleReason(sources);
if (process.argv.includes("--check")) {
  console.log(reason === undefined ? "dist/ is up to date" : `dist/ is stale: ${reason}`);
  process.exit(reason === undefined ? 0 : 1);
}
const orphans = removeOrphans(sources);
const note = orphans > 0 ? ` (removed ${orphans} outputs of deleted sources)` : "";
if (reason === undefined) {
  console.log(`dist/ is up to date with its ${sources.length} sources: no build${note}`);
  process.exit(0);
}
console.log(`building dist/: ${reason}${note}`);
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const build = spawnSync(npm, ["run", "--silent", "build"], {
  cwd: root,
  stdio: "inherit",
  shell: process.platform === "win32",
});
process.exit(build.status ?? 1);
