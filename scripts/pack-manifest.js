#!/usr/bin/env node
/**
 * Keeps the checkout's `prepare` (and `prepack`/`postpack`) scripts out of the packed package.json:
 * `prepack` runs `strip`, `postpack` runs `restore` (pinst does the same for husky's `postinstall`).
 *
 * Why: in a checkout, `prepare` (run by `npm ci` / `npm install`) links node_modules/pulumi-xapi to the
 * checkout and builds dist/ (scripts/link-self.js). In a user's project it has nothing to do, and its
 * script is not in the package: npm ≥ 11 lists the `prepare` of a package installed from a tarball or
 * git among the "install scripts not yet covered by allowScripts", and running it there would fail.
 *
 * `strip` sets those scripts aside in .tmp/pack/scripts-set-aside.json and removes them from
 * package.json; `restore` puts them back where they were. Both change only those keys, keep the file's
 * format and write it atomically (temporary file + rename): a concurrent reader never sees half a file.
 * After a failed `npm pack` (npm skips `postpack` then), run `node scripts/pack-manifest.js restore`;
 * `npm pack --ignore-scripts` runs neither, so its package.json keeps the checkout's scripts.
 */
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const manifestPath = path.join(root, "package.json");
const asidePath = path.join(root, ".tmp", "pack", "scripts-set-aside.json");
/** Lifecycle scripts of the checkout only (npm keeps running `postpack` from the manifest it read first). */
const SET_ASIDE = ["prepare", "prepack", "postpack"];

function readManifest() {
  return JSON.parse(fs.readFileSync(manifestPath, "utf8"));
}

function writeManifest(manifest) {
  const tmp = `${manifestPath}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  fs.renameSync(tmp, manifestPath);
}

function strip() {
  const manifest = readManifest();
  const names = Object.keys(manifest.scripts ?? {});
  const aside = SET_ASIDE.filter((name) => names.includes(name)).map((name) => ({
    name,
    value: manifest.scripts[name],
    index: names.indexOf(name),
  }));
  if (aside.length === 0) {
    console.log("pack-manifest: nothing to set aside in package.json");
    return;
  }
  fs.mkdirSync(path.dirname(asidePath), { recursive: true });
  fs.writeFileSync(asidePath, `${JSON.stringify(aside)}\n`);
  for (const { name } of aside) delete manifest.scripts[name];
  writeManifest(manifest);
  console.log(
    `pack-manifest: ${aside.map((a) => a.name).join(", ")} left out of the package (postpack restores)`,
  );
}

function restore() {
  if (!fs.existsSync(asidePath)) {
    console.log("pack-manifest: nothing set aside; package.json unchanged");
    return;
  }
  const aside = JSON.parse(fs.readFileSync(asidePath, "utf8"));
  const manifest = readManifest();
  const entries = Object.entries(manifest.scripts ?? {});
  let changed = false;
  for (const { name, value, index } of [...aside].sort((a, b) => a.index - b.index)) {
    if (entries.some(([n]) => n === name)) continue;
    entries.splice(Math.min(index, entries.length), 0, [name, value]);
    changed = true;
  }
  if (changed) {
    manifest.scripts = Object.fromEntries(entries);
    writeManifest(manifest);
  }
  fs.rmSync(asidePath);
  console.log(`pack-manifest: ${aside.map((a) => a.name).join(", ")} restored in package.json`);
}

const command = process.argv[2];
if (command === "strip") strip();
else if (command === "restore") restore();
else {
  console.error("usage: node scripts/pack-manifest.js strip|restore");
  process.exit(2);
}
