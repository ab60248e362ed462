/**
 * Conformance: the unmodified npm `async-xenapi` client (1.0.5) against xapi-sim over HTTPS with the
 * generated self-signed certificate (xapi-clients.md §4.1). The client only speaks HTTPS and sends a
 * random UUID string as every JSON-RPC id.
 *
 * Also checks the certificate itself: valid for 127.0.0.1, 127.0.0.2 and localhost, and the
 * fingerprint `startSimulator` reports is the one served.
 */

import https from "node:https";
import tls from "node:tls";
import { AsyncXenAPISession } from "async-xenapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../simulator";
import { haltedVm as sharedHaltedVm, control as simControl, type VmSummary } from "./client-sim";

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, tls: true, defaultOperationMs: 2 });
});

afterAll(async () => {
  await sim.close();
});

function control<T>(name: string, body: Record<string, unknown> = {}): Promise<T> {
  return simControl<T>(sim, name, body);
}

function haltedVm(): Promise<VmSummary> {
  return sharedHaltedVm(sim);
}

/** A call through the client's own proxy (`session.xenapi.VM.start`), typed for noUncheckedIndexedAccess. */
function xenapi(session: AsyncXenAPISession, dotted: string): (...args: unknown[]) => Promise<unknown> {
  let node: unknown = session.xenapi;
  for (const part of dotted.split(".")) node = (node as Record<string, unknown>)[part];
  return node as (...args: unknown[]) => Promise<unknown>;
}

async function loggedIn(): Promise<AsyncXenAPISession> {
  const session = new AsyncXenAPISession(sim.url);
  await session.login_with_password("root", "xapi-sim");
  return session;
}

/** POST a JSON-RPC body over HTTPS, trusting only the simulator's own certificate. */
function pinnedPost(url: string, body: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = https.request(
      new URL("/jsonrpc", url),
      { method: "POST", ca: sim.certPem, headers: { "content-type": "application/json" } },
      (res) => {
        let data = "";
        res.on("data", (chunk: Buffer) => {
          data += chunk.toString();
        });
        res.on("end", () => resolve(data));
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

describe("async-xenapi over HTTPS", () => {
  let vm: VmSummary;

  beforeAll(async () => {
    await control("reset");
    vm = await haltedVm();
  });

  it("logs in through the self-signed certificate", async () => {
    const session = new AsyncXenAPISession(sim.url);
    expect(await session.login_with_password("root", "xapi-sim")).toMatch(/^OpaqueRef:/);
    await session.logout();
  });

  it("finds a VM by uuid and reads its record", async () => {
    const session = await loggedIn();
    const ref = await xenapi(session, "VM.get_by_uuid")(vm.uuid);
    const record = (await xenapi(session, "VM.get_record")(ref)) as { uuid: string; power_state: string };
    expect([ref, record.uuid, record.power_state]).toEqual([vm.ref, vm.uuid, "Halted"]);
    await session.logout();
  });

  it("starts and cleanly shuts down a VM", async () => {
    const session = await loggedIn();
    await xenapi(session, "VM.start")(vm.ref, false, false);
    const running = await xenapi(session, "VM.get_power_state")(vm.ref);
    await xenapi(session, "VM.clean_shutdown")(vm.ref);
    expect([running, await xenapi(session, "VM.get_power_state")(vm.ref)]).toEqual(["Running", "Halted"]);
    await session.logout();
  });

  it("runs an Async call whose task it polls", async () => {
    // Arrange
    const session = await loggedIn();
    // Act
    const task = await xenapi(session, "Async.VM.start")(vm.ref, true, false);
    while ((await xenapi(session, "task.get_status")(task)) === "pending") {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Assert
    expect(await xenapi(session, "task.get_status")(task)).toBe("success");
    expect(await xenapi(session, "VM.get_power_state")(vm.ref)).toBe("Paused");
    await xenapi(session, "task.destroy")(task);
    await xenapi(session, "VM.hard_shutdown")(vm.ref);
    await session.logout();
  });

  it("surfaces the XAPI v2 error object in its message", async () => {
    const session = await loggedIn();
    const error = await xenapi(session, "VM.unpause")(vm.ref).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      `XAPI VM.unpause failed: {"code":1,"message":"VM_BAD_POWER_STATE","data":["${vm.ref}","paused","halted"]}`,
    );
    await session.logout();
  });

  it("is refused a wrong password", async () => {
    const session = new AsyncXenAPISession(sim.url);
    const error = await session.login_with_password("root", "nope").catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /^Login failed: \{"code":1,"message":"SESSION_AUTHENTICATION_FAILED"/,
    );
  });
});

describe("the generated certificate", () => {
  it("echoes a string id (what async-xenapi sends)", async () => {
    const reply = await pinnedPost(sim.url, {
      jsonrpc: "2.0",
      method: "system.listMethods",
      params: [],
      id: "a-uuid",
    });
    expect(JSON.parse(reply)).toMatchObject({ jsonrpc: "2.0", id: "a-uuid" });
  });

  it("verifies for the member address 127.0.0.2", async () => {
    if (sim.memberUrl === undefined) throw new Error("the simulator has no member listener");
    const reply = await pinnedPost(sim.memberUrl, {
      jsonrpc: "2.0",
      method: "system.listMethods",
      params: [],
      id: 1,
    });
    expect(JSON.parse(reply)).toMatchObject({ id: 1 });
  });

  it("verifies for the name localhost", async () => {
    const reply = await pinnedPost(sim.url.replace("127.0.0.1", "localhost"), {
      jsonrpc: "2.0",
      method: "system.listMethods",
      params: [],
      id: 2,
    });
    expect(JSON.parse(reply)).toMatchObject({ id: 2 });
  });

  it("has the SHA-256 fingerprint startSimulator reports", async () => {
    const { port } = new URL(sim.url);
    const served = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: "127.0.0.1", port: Number(port), rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      });
      socket.on("error", reject);
    });
    expect(served).toBe(sim.certFingerprint256);
  });
});
