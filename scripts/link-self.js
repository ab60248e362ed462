#!/usr/bin/env node
/**
 * Links node_modules/pulumi-xapi to this checkout (run by `npm install` / `npm ci` through the
 * `prepare` script, before the build). Checkout only: neither this file nor the `prepare` script is in
 * the published package (`files`; scripts/pack-manifest.js leaves `prepare` out of the packed
 * package.json).
 *
 * Why: the example programs import "pulumi-xapi" as a user's program does, and the Pulumi engine's
 * dynamic-provider host requires "pulumi-xapi/dist/provider/resource/impl" from the program's
 * directory. Both resolve through node_modules, as they do in a user's project after
 * `npm install pulumi-xapi`. npm refuses a package depending on itself, hence this link.
 * Idempotent; a junction on Windows so no privilege is needed.
 */
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const link = path.join(root, "node_modules", "pulumi-xapi");

function currentTarget() {
  try {
    return fs.realpathSync(link);
  } catch {
    return undefined;
  }
}

if (currentTarget() === fs.realpathSync(root)) {
  console.log(`link-self: ${path.relative(root, link)} already points to this checkout`);
} else if (fs.lstatSync(link, { throwIfNoEntry: false })?.isDirectory()) {
  // A real package directory (someone installed pulumi-xapi from a registry): leave it alone.
  console.warn(`link-self: ${path.relative(root, link)} is a directory, not a link; left unchanged`);
} else {
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.rmSync(link, { force: true });
  fs.symlinkSync(path.relative(path.dirname(link), root) || ".", link, "junction");
  console.log(`link-self: linked ${path.relative(root, link)} -> ${root}`);
}
