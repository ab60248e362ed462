/**
 * The provider object that `pulumi.dynamic.Resource` closure-serializes into the state (`__provider`).
 *
 * It is deliberately thin: every method loads the real implementation ({@link ./impl}) with a
 * `require` **inside the method**, so the serialized text contains these few lines and nothing
 * else: no credentials, no client, no socket, no copy of the planner. The implementation, the
 * session cache and the connection settings live in the provider process (the Pulumi engine's
 * `pulumi-resource-pulumi-nodejs` host), which deserializes this text with `require-from-string`
 * and the program's directory as working directory.
 *
 * How `require` finds the implementation there (see {@link loadImplementation}):
 * 1. as the package `pulumi-xapi`, looked up from the working directory upwards like any
 *    `require` — true for a user's project that ran `npm install pulumi-xapi`, and for programs
 *    inside this repository, where `npm install`/`npm ci` (the `prepare` script) links
 *    `node_modules/pulumi-xapi` to the repository itself;
 * 2. failing that, from the nearest enclosing directory whose `package.json` is named
 *    `pulumi-xapi` (a checkout whose link is missing).
 *
 * Never import this module's methods' dependencies at the top of the file: anything captured by
 * the closure is serialized by value (pulumi/pulumi#8090, #13960).
 */
import type * as pulumi from "@pulumi/pulumi";
import type * as Impl from "./impl";

/**
 * Loads `dist/provider/resource/impl.js` of the installed `pulumi-xapi` package. Runs in the
 * provider process; everything it needs is required here, at call time.
 */
function loadImplementation(): typeof Impl {
  try {
    return require("pulumi-xapi/dist/provider/resource/impl");
  } catch (error) {
    if ((error as { code?: unknown }).code !== "MODULE_NOT_FOUND") throw error;
    // No `pulumi-xapi` package reachable: look for an enclosing pulumi-xapi checkout.
    const path: typeof import("node:path") = require("node:path");
    const fs: typeof import("node:fs") = require("node:fs");
    for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
      const manifest = path.join(dir, "package.json");
      if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, "utf8")).name === "pulumi-xapi") {
        return require(path.join(dir, "dist", "provider", "resource", "impl"));
      }
      if (path.dirname(dir) === dir) {
        throw new Error(
          `pulumi-xapi: cannot load the provider implementation from ${process.cwd()}: expected the package ` +
            `"pulumi-xapi" to be installed in the Pulumi program's project. Try \`npm install pulumi-xapi\` ` +
            "(or `npm install` in a pulumi-xapi checkout, which builds dist/ and links it).",
        );
      }
    }
  }
}

/**
 * The `Vm` resource provider. Each method forwards to the implementation module loaded in the
 * provider process; see `provider/resource/impl.ts` for the behaviour of each.
 */
export const vmProvider: pulumi.dynamic.ResourceProvider = {
  async configure(req) {
    return loadImplementation().configure(req);
  },
  async check(olds, news) {
    return loadImplementation().check(olds, news);
  },
  async diff(id, olds, news) {
    return loadImplementation().diff(id, olds, news);
  },
  async create(inputs) {
    return loadImplementation().create(inputs);
  },
  async read(id, props) {
    return loadImplementation().read(id, props);
  },
  async update(id, olds, news) {
    return loadImplementation().update(id, olds, news);
  },
  async delete(id, props) {
    return loadImplementation().delete(id, props);
  },
};
