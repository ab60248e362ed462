/**
 * scripts/pulumi-language-nodejs.js, the Node.js language host installed next to a Pulumi CLI built by
 * scripts/pulumi-cli.sh, driven over gRPC the way the engine drives it. `PULUMI_LANGUAGE_NODEJS_RUN_PATH`
 * replaces `@pulumi/pulumi/cmd/run` with a fixture that records its command line and environment.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { LanguageRuntimeClient } from "@pulumi/pulumi/proto/language_grpc_pb";
import {
  AboutRequest,
  GetRequiredPackagesRequest,
  type GetRequiredPackagesResponse,
  ProgramInfo,
  RunRequest,
  type RunResponse,
} from "@pulumi/pulumi/proto/language_pb";
import type { PluginInfo } from "@pulumi/pulumi/proto/plugin_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./harness";

const HOST = path.join(REPO_ROOT, "scripts", "pulumi-language-nodejs.js");
const FAKE_RUN = path.join(__dirname, "fixtures", "fake-run.js");

interface FakeRunRecord {
  argv: string[];
  cwd: string;
  config: string | null;
  secretKeys: string | null;
  typescript: string | null;
  tsconfig: string | null;
}

/** A running language host and a client connected to it. */
interface Host {
  child: ChildProcess;
  client: LanguageRuntimeClient;
  outFile: string;
}

async function startHost(env: Record<string, string>): Promise<Host> {
  const scratch = await mkdtemp(path.join(tmpdir(), "langhost-"));
  const outFile = path.join(scratch, "run.json");
  const child = spawn(process.execPath, [HOST, "127.0.0.1:9"], {
    cwd: REPO_ROOT,
    env: { ...process.env, FAKE_RUN_OUT: outFile, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      text += d;
      const line = text.split("\n")[0];
      if (text.includes("\n") && line !== undefined) resolve(line.trim());
    });
    child.on("exit", (code) => reject(new Error(`language host exited ${code} before printing its port`)));
  });
  const client = new LanguageRuntimeClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return { child, client, outFile };
}

function call<Req, Res>(
  method: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(req, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

function runRequest(exitCode: number, options: Record<string, unknown> = {}): RunRequest {
  const info = new ProgramInfo()
    .setRootDirectory(REPO_ROOT)
    .setProgramDirectory(path.join(REPO_ROOT, "test"))
    .setEntryPoint(".")
    .setOptions(Struct.fromJavaScript(options as Record<string, never>));
  const req = new RunRequest()
    .setMonitorAddress("127.0.0.1:7001")
    .setProject("proj")
    .setStack("dev")
    .setOrganization("org")
    .setDryrun(true)
    .setParallel(4)
    .setInfo(info)
    .setArgsList([String(exitCode)])
    .setConfigsecretkeysList(["proj:password"]);
  req.getConfigMap().set("proj:url", "http://x").set("proj:password", "s3cret");
  return req;
}

describe("pulumi-language-nodejs.js", () => {
  let host: Host;

  beforeAll(async () => {
    host = await startHost({ PULUMI_LANGUAGE_NODEJS_RUN_PATH: FAKE_RUN });
  });

  afterAll(async () => {
    host.client.close();
    host.child.kill("SIGTERM");
    await rm(path.dirname(host.outFile), { recursive: true, force: true });
  });

  it("reports the version it mirrors", async () => {
    const info = await call<Empty, PluginInfo>(host.client.getPluginInfo.bind(host.client), new Empty());
    expect(info.getVersion()).toBe("3.248.0");
  });

  it("requires no plugins beyond the bundled ones", async () => {
    const res = await call<GetRequiredPackagesRequest, GetRequiredPackagesResponse>(
      host.client.getRequiredPackages.bind(host.client),
      new GetRequiredPackagesRequest().setInfo(new ProgramInfo().setProgramDirectory(REPO_ROOT)),
    );
    expect(res.getPackagesList()).toEqual([]);
  });

  it("starts the program with the engine's flags, in the program directory", async () => {
    const res = await call<RunRequest, RunResponse>(host.client.run.bind(host.client), runRequest(0));
    expect(res.getError()).toBe("");
    const record = JSON.parse(await readFile(host.outFile, "utf8")) as FakeRunRecord;
    expect(record.argv).toEqual([
      "--monitor",
      "127.0.0.1:7001",
      "--engine",
      "127.0.0.1:9",
      "--organization",
      "org",
      "--project",
      "proj",
      "--root-directory",
      REPO_ROOT,
      "--stack",
      "dev",
      "--pwd",
      path.join(REPO_ROOT, "test"),
      "--dry-run",
      "--parallel",
      "4",
      ".",
      "0",
    ]);
    expect(record.cwd).toBe(path.join(REPO_ROOT, "test"));
  });

  it("passes config in the SDK's key format, with the secret keys", async () => {
    await call<RunRequest, RunResponse>(host.client.run.bind(host.client), runRequest(0));
    const record = JSON.parse(await readFile(host.outFile, "utf8")) as FakeRunRecord;
    expect(JSON.parse(record.config ?? "null")).toEqual({
      "proj:config:url": "http://x",
      "proj:config:password": "s3cret",
    });
    expect(JSON.parse(record.secretKeys ?? "null")).toEqual(["proj:password"]);
  });

  it("turns on TypeScript unless the project says typescript: false", async () => {
    await call<RunRequest, RunResponse>(host.client.run.bind(host.client), runRequest(0));
    const byDefault = JSON.parse(await readFile(host.outFile, "utf8")) as FakeRunRecord;
    await call<RunRequest, RunResponse>(
      host.client.run.bind(host.client),
      runRequest(0, { typescript: false, tsconfig: "tsconfig.e2e.json" }),
    );
    const off = JSON.parse(await readFile(host.outFile, "utf8")) as FakeRunRecord;
    expect([byDefault.typescript, off.typescript, off.tsconfig]).toEqual(["true", null, "tsconfig.e2e.json"]);
  });

  it("bails without a message when the program already reported its error (exit 32)", async () => {
    const res = await call<RunRequest, RunResponse>(host.client.run.bind(host.client), runRequest(32));
    expect([res.getError(), res.getBail()]).toEqual(["", true]);
  });

  it("reports another non-zero exit code as a program error", async () => {
    const res = await call<RunRequest, RunResponse>(host.client.run.bind(host.client), runRequest(3));
    expect([res.getError(), res.getBail()]).toEqual(["Program exited with non-zero exit code: 3", false]);
  });

  it("answers UNIMPLEMENTED for methods it does not support", async () => {
    const err = await call(host.client.about.bind(host.client), new AboutRequest()).catch((e: unknown) => e);
    expect((err as grpc.ServiceError).code).toBe(grpc.status.UNIMPLEMENTED);
  });
});

describe("pulumi-language-nodejs.js without the SDK in reach of the program", () => {
  it("fails Run with the official host's hint", async () => {
    const host = await startHost({});
    const outside = await mkdtemp(path.join(tmpdir(), "no-sdk-"));
    try {
      const req = runRequest(0).setInfo(new ProgramInfo().setProgramDirectory(outside).setEntryPoint("."));
      const res = await call<RunRequest, RunResponse>(host.client.run.bind(host.client), req);
      expect(res.getError()).toMatchInlineSnapshot(
        `"It looks like the Pulumi SDK has not been installed. Have you run pulumi install?"`,
      );
    } finally {
      host.client.close();
      host.child.kill("SIGTERM");
      await rm(outside, { recursive: true, force: true });
      await rm(path.dirname(host.outFile), { recursive: true, force: true });
    }
  });
});
