/**
 * Connection failures as a user meets them with the real CLI: each names what to fix. A wrong password, a
 * self-signed certificate without a pinned fingerprint, and a refresh after a credentials change (the
 * engine refreshes with the settings stored at the last deployment).
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../../simulator";
import { locatePulumiCli, PulumiProject } from "./harness";

const PROGRAM = path.join(__dirname, "program", "index.ts");
const PASSWORD = "conn-Pw-1f07";
const ROTATED = "conn-Pw-rotated-88b2";

let binDir: string;

beforeAll(async () => {
  binDir = await locatePulumiCli();
});

async function stack(name: string, url: string, password: string): Promise<PulumiProject> {
  const project = await PulumiProject.create({ program: PROGRAM, binDir, name });
  await project.initStack();
  await project.setConfig("xapi:url", url);
  await project.setConfig("xapi:username", "root");
  await project.setConfig("xapi:password", password, { secret: true });
  await project.setConfig("e2e:powerState", "Halted");
  return project;
}

/** Everything the CLI printed, on one line per printed line, for `toContain`. */
const printed = (r: { stdout: string; stderr: string }) =>
  `${r.stdout}\n${r.stderr}`.replace(/\s*\n\s*/g, " ");

describe("a wrong password", () => {
  let sim: RunningSimulator;
  let project: PulumiProject;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, member: false, users: { root: PASSWORD } });
    project = await stack("xapi-conn-pw", sim.url, "not-the-password");
  }, 120_000);
  afterAll(async () => {
    await project?.dispose();
    await sim?.close();
  });

  it("fails preview and up with the URL, the user and the settings to fix", async () => {
    const preview = await project.pulumi(["preview"]);
    const up = await project.pulumi(["up", "--yes"]);
    const message = `Logging in to ${sim.url} as "root" failed: expected XAPI to accept the password, received SESSION_AUTHENTICATION_FAILED. Check xapi:username and xapi:password (or XAPI_USERNAME and XAPI_PASSWORD): \`pulumi config set --secret xapi:password <password>\`.`;
    expect({
      failed: [preview.code !== 0, up.code !== 0],
      preview: printed(preview).includes(message),
      up: printed(up).includes(message),
      leak: printed(preview).includes("not-the-password") || printed(up).includes("not-the-password"),
    }).toEqual({ failed: [true, true], preview: true, up: true, leak: false });
  }, 240_000);
});

describe("a self-signed certificate without a pinned fingerprint", () => {
  let sim: RunningSimulator;
  let project: PulumiProject;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, member: false, tls: true, users: { root: PASSWORD } });
    project = await stack("xapi-conn-tls", sim.url, PASSWORD);
  }, 120_000);
  afterAll(async () => {
    await project?.dispose();
    await sim?.close();
  });

  it("fails the preview with the fingerprint it saw and the exact config line; pinning it works", async () => {
    const preview = await project.pulumi(["preview"]);
    const message = `TLS connection to ${sim.url} refused: expected a certificate this provider trusts, received a certificate with SHA-256 fingerprint ${sim.certFingerprint256} (DEPTH_ZERO_SELF_SIGNED_CERT). If it is your pool's certificate (XCP-ng hosts use self-signed ones), pin it: \`pulumi config set xapi:fingerprint ${sim.certFingerprint256}\``;
    await project.setConfig("xapi:fingerprint", sim.certFingerprint256 ?? "");
    const pinned = await project.pulumi(["up", "--yes"]);
    expect({
      failed: preview.code !== 0,
      said: printed(preview).includes(message),
      pinned: pinned.code,
    }).toEqual({
      failed: true,
      said: true,
      pinned: 0,
    });
    await project.pulumi(["destroy", "--yes"]);
  }, 240_000);
});

describe("a refresh after a credentials change", () => {
  let sim: RunningSimulator;
  let project: PulumiProject;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, member: false, users: { root: PASSWORD } });
    project = await stack("xapi-conn-rotate", sim.url, PASSWORD);
    await project.pulumiOk(["up", "--yes"]);
    // The pool's password is rotated: the same pool (state, port) now accepts only the new one.
    const state = await sim.model.control.state?.({});
    const port = Number(new URL(sim.url).port);
    await sim.close();
    sim = await startSimulator({ port, member: false, users: { root: ROTATED }, state });
    await project.setConfig("xapi:password", ROTATED, { secret: true });
  }, 240_000);
  afterAll(async () => {
    await project?.pulumi(["destroy", "--yes"]);
    await project?.dispose();
    await sim?.close();
  });

  it("pulumi refresh still uses the stored password and says how to use the new one; --run-program does", async () => {
    const stale = await project.pulumi(["refresh", "--yes"]);
    const hint =
      "If you just changed them: `pulumi refresh` and `pulumi destroy` use the settings stored at the last deployment; run `pulumi refresh --run-program` (or `pulumi up --refresh`) to use the new ones.";
    const fresh = await project.pulumi(["refresh", "--yes", "--run-program"]);
    expect({ stale: [stale.code !== 0, printed(stale).includes(hint)], fresh: fresh.code }).toEqual({
      stale: [true, true],
      fresh: 0,
    });
  }, 240_000);
});
