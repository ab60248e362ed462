/**
 * The provider object that `pulumi.dynamic.Resource` closure-serializes into every `Vm`'s state
 * (`__provider`, in both the inputs and the outputs).
 *
 * {@link providerForState} picks it. Normally it stands for the implementation module ({@link ./impl}) of
 * the installed package `pulumi-xapi`: Pulumi's closure serializer writes a value that is the exports of
 * a module under `node_modules` as a `require` of that module (`findNormalizedModuleNameAsync` and
 * `captureModuleAsync` in `@pulumi/pulumi/runtime/closure/createClosure.js`: the first `require.cache`
 * entry holding the value, its path after the first `node_modules` segment), so the serialized provider
 * is one line that requires `pulumi-xapi/dist/provider/resource/impl.js` (about 300 bytes). The provider
 * process (the engine's `pulumi-resource-pulumi-nodejs` host) deserializes it with `require-from-string`
 * in the program's directory, where that `require` finds the same package. The program registers a
 * stand-in under such a path rather than loading the implementation (its client, planner and schemas)
 * only to be named.
 *
 * When the program's directory does not resolve `pulumi-xapi` to this very file (no install, another
 * copy), the resource falls back to {@link vmProvider}: a thin object whose methods load the
 * implementation at call time and search enclosing directories for a pulumi-xapi checkout (about
 * 4 KB of serialized text per copy). Either way nothing else is serialized: no credentials, no client,
 * no socket, no copy of the planner; connection settings and sessions live in the provider process.
 *
 * Never import the methods' dependencies at the top of this file: anything a closure captures is
 * serialized by value (pulumi/pulumi#8090, #13960).
 */
import type * as pulumi from "@pulumi/pulumi";
import type * as Impl from "./impl";

/** How the provider process requires the implementation: the installed package's file. */
const IMPLEMENTATION = "pulumi-xapi/dist/provider/resource/impl";

let chosen: pulumi.dynamic.ResourceProvider | undefined;

/** The provider object every `Vm` of this program serializes (module comment); chosen once. */
export function providerForState(): pulumi.dynamic.ResourceProvider {
  chosen ??= chooseProvider();
  return chosen;
}

function chooseProvider(): pulumi.dynamic.ResourceProvider {
  let self: string;
  let fromProgram: string;
  try {
    self = require.resolve("./impl");
    fromProgram = require.resolve(IMPLEMENTATION, { paths: [process.cwd()] });
  } catch {
    // Not an installed package (e.g. the TypeScript sources under a test runner): the loader finds one.
    return vmProvider;
  }
  if (fromProgram !== self) return vmProvider;
  // A stand-in for the implementation, registered in the module cache under a path that exists nowhere
  // but reads, after its first node_modules segment, as the installed file: the serializer writes that
  // `require`, the provider process resolves it to this very file (checked above), and the program never
  // loads the implementation itself.
  const path: typeof import("node:path") = require("node:path");
  const { Module }: typeof import("node:module") = require("node:module");
  const key = path.join(path.parse(process.cwd()).root, STAND_IN_DIR, "node_modules", `${IMPLEMENTATION}.js`);
  const entry = new Module(key);
  entry.filename = key;
  entry.loaded = true;
  entry.exports = standIn();
  require.cache[key] = entry;
  return entry.exports as pulumi.dynamic.ResourceProvider;
}

/** A directory no program has: the stand-in's module path starts there. */
const STAND_IN_DIR = ".pulumi-xapi-provider-stand-in";

/** The methods of the stand-in: they only ever run in the provider process, from the state's `require`. */
function standIn(): pulumi.dynamic.ResourceProvider {
  const elsewhere = (): never => {
    throw new Error(
      "pulumi-xapi: the Vm provider runs in the Pulumi engine's provider process, not in the program: " +
        `expected require("${IMPLEMENTATION}") there. Run the program with the Pulumi CLI.`,
    );
  };
  return {
    configure: elsewhere,
    check: elsewhere,
    diff: elsewhere,
    create: elsewhere,
    read: elsewhere,
    update: elsewhere,
    delete: elsewhere,
  };
}

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
