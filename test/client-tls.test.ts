/**
 * TLS against xapi-sim's self-signed HTTPS listener: verification on by default, a CA bundle, a
 * SHA-256 pin (match and mismatch: nothing, not even the login, reaches a server that fails it), and
 * `insecure`, which warns once per process.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeAllConnections, getConnection, type XapiTransportError } from "../provider/client";
import type { RunningSimulator } from "../simulator";
import { callLog, control, ROOT, startSim } from "./client-sim";

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSim({ tls: true });
});

afterAll(async () => {
  await closeAllConnections();
  await sim.close();
});

function options(extra: { caCert?: string | undefined; fingerprint?: string | undefined }) {
  const tls = Object.fromEntries(Object.entries(extra).filter(([, value]) => value !== undefined));
  return { url: sim.url, ...ROOT, ...tls };
}

/** Connections are cached per (url, username): drop them so each test builds its own TLS agent. */
async function fresh(): Promise<void> {
  await closeAllConnections();
  await control(sim, "reset");
}

describe("TLS verification", () => {
  it("rejects the self-signed certificate by default, before any request", async () => {
    await fresh();
    const error = (await getConnection(options({}))
      .call("pool.get_all")
      .catch((e: unknown) => e)) as XapiTransportError;
    expect([error.name, error.code, (await callLog(sim)).length]).toEqual([
      "XapiTransportError",
      "DEPTH_ZERO_SELF_SIGNED_CERT",
      0,
    ]);
  });

  it("accepts the certificate given as CA bundle", async () => {
    await fresh();
    const conn = getConnection(options({ caCert: sim.certPem }));
    await expect(conn.call("pool.get_all")).resolves.toHaveLength(1);
  });

  it("accepts a self-signed certificate whose fingerprint is pinned", async () => {
    await fresh();
    const conn = getConnection(options({ fingerprint: sim.certFingerprint256 }));
    await expect(conn.call("pool.get_all")).resolves.toHaveLength(1);
  });

  it("accepts the pin written as lower-case hex", async () => {
    await fresh();
    const fingerprint = (sim.certFingerprint256 ?? "").replaceAll(":", "").toLowerCase();
    await expect(getConnection(options({ fingerprint })).call("pool.get_all")).resolves.toHaveLength(1);
  });

  it("refuses a certificate that does not match the pin, and sends nothing (no login, no password)", async () => {
    await fresh();
    const wrong = "00".repeat(32);
    const error = (await getConnection(options({ fingerprint: wrong }))
      .call("pool.get_all")
      .catch((e: unknown) => e)) as XapiTransportError;
    expect([error.code, error.call, (await callLog(sim)).length]).toEqual([
      "CERT_FINGERPRINT_MISMATCH",
      "session.login_with_password",
      0,
    ]);
  });

  it("rejects contradictory options: insecure together with a pin", () => {
    expect(() =>
      getConnection({ url: "https://127.0.0.1:1", ...ROOT, insecure: true, fingerprint: "00".repeat(32) }),
    ).toThrowErrorMatchingInlineSnapshot(
      `[TypeError: Conflicting TLS options: \`insecure: true\` disables verification, so \`caCert\` / \`fingerprint\` would be ignored. Remove one of them.]`,
    );
  });
});

describe("insecure", () => {
  it("connects and warns exactly once per process", async () => {
    await fresh();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => {
      if ((warning as Error & { code?: string }).code === "PULUMI_XAPI_INSECURE_TLS") warnings.push(warning);
    };
    process.on("warning", onWarning);
    try {
      await getConnection({ ...options({}), insecure: true }).call("pool.get_all");
      await getConnection({ url: sim.url, username: "someone-else", password: "x", insecure: true })
        .call("pool.get_all")
        .catch(() => undefined);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).toHaveLength(1);
  });
});
