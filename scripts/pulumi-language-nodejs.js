#!/usr/bin/env node
/**
 * A minimal Pulumi Node.js language host (`pulumi-language-nodejs`), for machines where the official
 * Go language host cannot be had.
 *
 * Why it exists: the Go module `github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3`
 * is not served by the Go module proxy these machines reach (403 "not available" for every version),
 * while the CLI itself (`pkg/v3`) is. scripts/pulumi-cli.sh builds the real CLI and installs this
 * file next to it. It implements the part of the `LanguageRuntime` gRPC service that
 * `pulumi preview/up/refresh/destroy` use, following the official host of the same version (3.248):
 *
 * - prints its port on stdout, serves on 127.0.0.1 only;
 * - `Run` spawns `node [nodeargs] <@pulumi/pulumi/cmd/run> --monitor … <entry point>` in the program
 *   directory with `PULUMI_CONFIG`, `PULUMI_CONFIG_SECRET_KEYS` and `PULUMI_NODEJS_TYPESCRIPT`,
 *   and maps exit code 32 ("already reported to the user") to `bail`;
 * - `GetRequiredPackages` reports no packages: only bundled plugins (such as the dynamic-provider
 *   plugin) are supported, which is all a program of dynamic resources needs;
 * - `GetPluginInfo`, `Handshake` and `Cancel`; every other method answers UNIMPLEMENTED.
 *
 * Not supported (unlike the official host): synchronous invokes (`--sync` pipes), `pulumi about`,
 * `pulumi install`, plugins of other packages, debugging, bun. Its gRPC and protobuf modules are the
 * ones that the project's `@pulumi/pulumi` uses, resolved from the working directory the CLI starts it in.
 */

const { spawn } = require("node:child_process");
const { createRequire } = require("node:module");

const HOST_VERSION = "3.248.0";
/** Exit code of `@pulumi/pulumi/cmd/run` meaning "the error was already shown to the user". */
const EXIT_ALREADY_REPORTED = 32;

/** Requires a module the way the project's `@pulumi/pulumi` would (from the CLI's working directory). */
function sdkRequire() {
  let pkgJson;
  try {
    pkgJson = require.resolve("@pulumi/pulumi/package.json", { paths: [process.cwd()] });
  } catch {
    process.stderr.write(
      `pulumi-language-nodejs: cannot find @pulumi/pulumi from ${process.cwd()}; have you run npm install?\n`,
    );
    process.exit(1);
  }
  return createRequire(pkgJson);
}

const req = sdkRequire();
const grpc = req("@grpc/grpc-js");
const languageGrpc = req("./proto/language_grpc_pb");
const languagePb = req("./proto/language_pb");
const pluginPb = req("./proto/plugin_pb");
const emptyPb = req("google-protobuf/google/protobuf/empty_pb");

/** The engine address: the last positional argument (flags such as `-tracing x` may precede it). */
function engineAddressFromArgs(argv) {
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-tracing" || a === "--tracing" || a === "-runtime" || a === "--runtime") {
      i++; // flag with a value
    } else if (!a.startsWith("-")) {
      positional.push(a);
    }
  }
  return positional[0] ?? "";
}

const state = {
  engineAddress: engineAddressFromArgs(process.argv.slice(2)),
  /** @type {Set<import("node:child_process").ChildProcess>} */
  children: new Set(),
};

/** Splits `nodeargs` the way a shell would for simple quoting ("a b" 'c d' e). */
function splitArgs(text) {
  const out = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out.push(m[1] ?? m[2] ?? m[3] ?? "");
  }
  return out;
}

/** `project:name` → `project:config:name`, as the official host presents config to the SDK. */
function transformConfigKey(key) {
  const parts = key.split(":");
  if (parts.length === 3 && parts[1] === "config") return key;
  const i = key.indexOf(":");
  return i < 0 ? key : `${key.slice(0, i)}:config:${key.slice(i + 1)}`;
}

/** Resolves `@pulumi/pulumi/cmd/run` from the program directory, like `require.resolve` there. */
function locateRunScript(programDir) {
  const override = process.env.PULUMI_LANGUAGE_NODEJS_RUN_PATH;
  const mod = override && override.length > 0 ? override : "@pulumi/pulumi/cmd/run";
  try {
    return require.resolve(mod, { paths: [programDir] });
  } catch {
    throw new Error("It looks like the Pulumi SDK has not been installed. Have you run pulumi install?");
  }
}

function runProgram(request) {
  const info = request.getInfo();
  const programDir = info?.getProgramDirectory() || request.getPwd() || process.cwd();
  const entryPoint = info?.getEntryPoint() || request.getProgram() || ".";
  const options = info?.getOptions()?.toJavaScript() ?? {};

  const runPath = locateRunScript(programDir);
  const config = {};
  for (const [k, v] of request.getConfigMap().entries()) config[transformConfigKey(k)] = v;

  const env = {
    ...process.env,
    PULUMI_CONFIG: JSON.stringify(config),
    PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(request.getConfigsecretkeysList()),
  };
  if (options.typescript !== false) env.PULUMI_NODEJS_TYPESCRIPT = "true";
  if (typeof options.tsconfig === "string" && options.tsconfig !== "") {
    env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;
  }

  const args = typeof options.nodeargs === "string" ? splitArgs(options.nodeargs) : [];
  args.push(runPath);
  const flag = (name, value) => {
    if (value !== undefined && value !== "") args.push(`--${name}`, String(value));
  };
  flag("monitor", request.getMonitorAddress());
  flag("engine", state.engineAddress);
  flag("organization", request.getOrganization());
  flag("project", request.getProject());
  flag("root-directory", info?.getRootDirectory());
  flag("stack", request.getStack());
  flag("pwd", programDir);
  if (request.getDryrun()) args.push("--dry-run");
  flag("parallel", request.getParallel());
  args.push(entryPoint, ...request.getArgsList());

  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: programDir,
      env,
      stdio: ["ignore", "inherit", "inherit"],
    });
    state.children.add(child);
    child.on("error", (err) => {
      state.children.delete(child);
      resolve({ error: `Problem executing program (could not run language executor): ${err.message}` });
    });
    child.on("exit", (code, signal) => {
      state.children.delete(child);
      if (code === 0) resolve({ error: "" });
      else if (code === EXIT_ALREADY_REPORTED) resolve({ error: "", bail: true });
      else if (code !== null) resolve({ error: `Program exited with non-zero exit code: ${code}` });
      else resolve({ error: `Program exited unexpectedly: signal ${signal}` });
    });
  });
}

const implementation = {
  getRequiredPackages(_call, callback) {
    callback(null, new languagePb.GetRequiredPackagesResponse());
  },
  run(call, callback) {
    let pending;
    try {
      pending = runProgram(call.request);
    } catch (err) {
      callback(null, new languagePb.RunResponse().setError(err instanceof Error ? err.message : String(err)));
      return;
    }
    pending.then((r) =>
      callback(null, new languagePb.RunResponse().setError(r.error).setBail(r.bail === true)),
    );
  },
  getPluginInfo(_call, callback) {
    callback(null, new pluginPb.PluginInfo().setVersion(HOST_VERSION));
  },
  handshake(call, callback) {
    state.engineAddress = call.request.getEngineAddress() || state.engineAddress;
    callback(null, new languagePb.LanguageHandshakeResponse());
  },
  cancel(_call, callback) {
    for (const child of state.children) child.kill("SIGINT");
    callback(null, new emptyPb.Empty());
  },
};

const server = new grpc.Server();
// grpc-js answers UNIMPLEMENTED for every method without a handler here.
server.addService(languageGrpc.LanguageRuntimeService, implementation);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`pulumi-language-nodejs: could not start the RPC server: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${port}\n`);
});

function shutdown() {
  for (const child of state.children) child.kill("SIGINT");
  server.forceShutdown();
  process.exit(0);
}
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
// The engine normally kills its plugins; exit by ourselves if it died without doing so.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown();
}, 1000).unref();
