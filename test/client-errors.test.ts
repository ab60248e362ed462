/** Error shapes on the real wire: XAPI failures, transport failures with their cause, bad answers. */
import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { closeAllConnections, getConnection, XapiError, XapiTransportError } from "../provider/client";
import type { RunningSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model/fixture";
import { control, ROOT, startSim } from "./client-sim";

let sim: RunningSimulator | undefined;

afterEach(async () => {
  await closeAllConnections();
  await sim?.close();
  sim = undefined;
});

async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("XAPI failures", () => {
  it("become XapiError with code, params and call", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, ...ROOT });
    const error = await conn.call("VM.start", FIXTURE.web.ref, false, false).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(XapiError);
    expect((error as XapiError).message).toMatchInlineSnapshot(
      `"VM_BAD_POWER_STATE(OpaqueRef:5a1f0000-0000-4000-8000-000000000041, halted, running) in VM.start"`,
    );
  });

  it("reports a wrong password as SESSION_AUTHENTICATION_FAILED", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, username: "root", password: "wrong" });
    await expect(conn.call("pool.get_all")).rejects.toMatchObject({
      code: "SESSION_AUTHENTICATION_FAILED",
      call: "session.login_with_password",
    });
  });
});

describe("transport failures", () => {
  it("keep the socket error as cause (connection refused)", async () => {
    const port = await closedPort();
    const conn = getConnection({ url: `http://127.0.0.1:${port}`, ...ROOT });
    const error = (await conn.call("pool.get_all").catch((e: unknown) => e)) as XapiTransportError;
    expect([
      error instanceof XapiTransportError,
      error.code,
      (error.cause as NodeJS.ErrnoException).code,
    ]).toEqual([true, "ECONNREFUSED", "ECONNREFUSED"]);
  });

  it("keep the cause when XAPI drops the connection of a non-idempotent call", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, ...ROOT });
    await conn.call("VM.get_power_state", FIXTURE.db.ref);
    await control(sim, "faults", { method: "VM.start", drop: true, count: 1 });
    const error = (await conn
      .call("VM.start", FIXTURE.db.ref, false, false)
      .catch((e: unknown) => e)) as XapiTransportError;
    expect([error.code, error.call, error.cause instanceof Error]).toEqual(["ECONNRESET", "VM.start", true]);
  });

  it("retry an idempotent read after a dropped connection", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, ...ROOT });
    await conn.call("VM.get_power_state", FIXTURE.db.ref);
    await control(sim, "faults", { method: "VM.get_power_state", drop: true, count: 1 });
    await expect(conn.call("VM.get_power_state", FIXTURE.db.ref)).resolves.toBe("Halted");
  });

  it("report an HTTP error status with the status", async () => {
    sim = await startSim();
    // A path prefix the simulator serves as XML-RPC: a JSON body is a malformed XML-RPC request (HTTP 500).
    const conn = getConnection({ url: `${sim.url}/xmlrpc-only`, ...ROOT });
    await expect(conn.call("pool.get_all")).rejects.toMatchObject({
      name: "XapiTransportError",
      code: "HTTP_STATUS",
      status: 500,
    });
  });

  it("reject a malformed URL with a TypeError", () => {
    expect(() => getConnection({ url: "http://", ...ROOT })).toThrowErrorMatchingInlineSnapshot(
      `[TypeError: Invalid XAPI url: expected e.g. "https://xcp-host", received "http://"]`,
    );
  });
});
