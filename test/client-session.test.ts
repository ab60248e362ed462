/** Sessions against xapi-sim over real HTTP: one login reused, re-login once, HOST_IS_SLAVE, logout, secrecy. */
import * as util from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { closeAllConnections, getConnection, type XapiError } from "../provider/client";
import type { RunningSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model/fixture";
import { callLog, control, counters, ROOT, startSim } from "./client-sim";

let sim: RunningSimulator | undefined;

afterEach(async () => {
  await closeAllConnections();
  await sim?.close();
  sim = undefined;
});

describe("session reuse", () => {
  it("logs in once for many calls", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, ...ROOT });
    for (let i = 0; i < 10; i++) await conn.call("VM.get_power_state", FIXTURE.web.ref);
    expect((await counters(sim)).logins).toBe(1);
  });

  it("shares one login between concurrent first calls", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, ...ROOT });
    await Promise.all(Array.from({ length: 20 }, () => conn.call("VM.get_power_state", FIXTURE.web.ref)));
    expect([(await counters(sim)).logins, conn.stats.logins]).toEqual([1, 1]);
  });

  it("returns the same connection for the same url and username", async () => {
    sim = await startSim();
    const a = getConnection({ url: sim.url, ...ROOT });
    const b = getConnection({ url: `${sim.url}/`, ...ROOT });
    expect(a).toBe(b);
  });

  it("sends originator pulumi-xapi at login", async () => {
    sim = await startSim();
    await getConnection({ url: sim.url, ...ROOT }).call("VM.get_power_state", FIXTURE.web.ref);
    const login = (await callLog(sim)).find((entry) => entry.method === "session.login_with_password");
    expect(login?.params.at(-1)).toBe("pulumi-xapi");
  });
});

describe("SESSION_INVALID", () => {
  it("logs in again once and the call succeeds", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, ...ROOT });
    await conn.call("VM.get_power_state", FIXTURE.web.ref);
    await control(sim, "invalidateSessions");
    await expect(conn.call("VM.get_power_state", FIXTURE.web.ref)).resolves.toBe("Running");
    expect((await counters(sim)).logins).toBe(2);
  });

  it("gives up when the session is invalid again right after the re-login", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, ...ROOT });
    await control(sim, "faults", {
      method: "VM.get_power_state",
      code: "SESSION_INVALID",
      params: ["x"],
      count: 2,
    });
    const error = await conn.call("VM.get_power_state", FIXTURE.web.ref).catch((e: unknown) => e);
    expect([(error as XapiError).code, (await counters(sim)).logins]).toEqual(["SESSION_INVALID", 2]);
  });
});

describe("HOST_IS_SLAVE", () => {
  it("follows the member to the master, keeping scheme and port, and remembers it", async () => {
    sim = await startSim({ member: true });
    const memberUrl = sim.memberUrl ?? "";
    const conn = getConnection({ url: memberUrl, ...ROOT });
    await conn.call("VM.get_power_state", FIXTURE.web.ref);
    await conn.call("VM.get_power_state", FIXTURE.web.ref);
    const logins = (await callLog(sim)).filter((entry) => entry.method === "session.login_with_password");
    expect([conn.url, logins.map((entry) => entry.ok)]).toEqual([sim.url, [false, true]]);
  });

  it("hands the redirected connection out for the coordinator's URL too (one session per pool and user)", async () => {
    sim = await startSim({ member: true });
    const viaMember = getConnection({ url: sim.memberUrl ?? "", ...ROOT });
    await viaMember.call("pool.get_all");
    expect(getConnection({ url: sim.url, ...ROOT })).toBe(viaMember);
  });
});

describe("logout", () => {
  it("closeAllConnections logs every session out", async () => {
    sim = await startSim();
    await getConnection({ url: sim.url, ...ROOT }).call("VM.get_power_state", FIXTURE.web.ref);
    await getConnection({ url: sim.url, username: "root", password: ROOT.password }).call("pool.get_all");
    await closeAllConnections();
    const c = await counters(sim);
    expect([c.logouts, c.liveSessions]).toEqual([1, 0]);
  });
});

describe("password secrecy", () => {
  it("never shows the password in JSON, inspect output or an authentication error", async () => {
    sim = await startSim();
    const secret = "not-the-password-4711";
    const conn = getConnection({ url: sim.url, username: "root", password: secret });
    const error = await conn.call("pool.get_all").catch((e: unknown) => e);
    const shown = [
      JSON.stringify(conn),
      util.inspect(conn, { showHidden: true, depth: 9 }),
      String(error),
      JSON.stringify(error),
      util.inspect(error, { depth: 9 }),
    ];
    expect([(error as XapiError).code, shown.some((text) => text.includes(secret))]).toEqual([
      "SESSION_AUTHENTICATION_FAILED",
      false,
    ]);
  });
});

describe("refused methods", () => {
  it("refuses session.logout through call()", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, ...ROOT });
    await expect(conn.call("session.logout")).rejects.toThrowErrorMatchingInlineSnapshot(
      `[TypeError: session.logout is managed by the connection; it cannot be called through call()]`,
    );
  });
});

describe("outages", () => {
  it("waits out a host that answered before and then drops more reads than a first contact would retry", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, ...ROOT });
    await conn.call("VM.get_power_state", FIXTURE.web.ref);
    // Six dropped answers in a row: a coordinator restart, not a wrong address.
    await control(sim, "faults", { method: "VM.get_power_state", drop: true, count: 6 });
    await expect(conn.call("VM.get_power_state", FIXTURE.web.ref)).resolves.toBe("Running");
    const sent = (await callLog(sim)).filter((e) => e.method === "VM.get_power_state").length;
    expect(sent).toBe(8);
  });

  it("gives up after the short first-contact retries when the host never answered", async () => {
    sim = await startSim();
    await control(sim, "faults", { method: "session.login_with_password", drop: true, count: 10 });
    const conn = getConnection({ url: sim.url, ...ROOT });
    await expect(conn.call("VM.get_power_state", FIXTURE.web.ref)).rejects.toMatchObject({
      name: "XapiTransportError",
    });
    const logins = (await callLog(sim)).filter((e) => e.method === "session.login_with_password").length;
    expect(logins).toBe(4);
  });
});
