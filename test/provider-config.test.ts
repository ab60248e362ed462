/** Connection settings of the provider process: stack config, environment fallbacks, secrecy. */
import * as util from "node:util";
import { describe, expect, it } from "vitest";
import { type ConnectionSettings, readConnectionSettings, scrubSecrets } from "../provider/resource/config";
import { ProviderError } from "../provider/resource/errors";

const config =
  (values: Record<string, string>) =>
  (key: string): string | undefined =>
    values[key];

function settings(result: ConnectionSettings | ProviderError): ConnectionSettings {
  if (result instanceof ProviderError) throw result;
  return result;
}

describe("readConnectionSettings", () => {
  it("takes stack config over the environment", () => {
    const s = settings(
      readConnectionSettings(config({ "xapi:url": "https://pool", "xapi:password": "from-config" }), {
        XAPI_URL: "https://other",
        XAPI_PASSWORD: "from-env",
      }),
    );
    expect([s.url, s.password]).toEqual(["https://pool", "from-config"]);
  });

  it("falls back to the environment for unset or empty keys", () => {
    const s = settings(
      readConnectionSettings(config({ "xapi:url": "" }), {
        XAPI_URL: "https://env-pool",
        XAPI_USERNAME: "admin",
        XAPI_PASSWORD: "pw-env",
        XAPI_FINGERPRINT: "AA:BB",
        XAPI_INSECURE: "false",
      }),
    );
    expect({ ...s, password: s.password }).toEqual({
      url: "https://env-pool",
      username: "admin",
      password: "pw-env",
      fingerprint: "AA:BB",
      insecure: false,
    });
  });

  it("defaults the username to root", () => {
    const s = settings(readConnectionSettings(config({ "xapi:url": "http://h", "xapi:password": "p" }), {}));
    expect(s.username).toBe("root");
  });

  it("reports what is missing, with the commands to set it", () => {
    const result = readConnectionSettings(config({}), {});
    expect([
      result instanceof ProviderError && result.code,
      (result as Error).message,
    ]).toMatchInlineSnapshot(`
      [
        "MISSING_CONFIG",
        "Missing XAPI connection settings: expected xapi:url (or XAPI_URL) and xapi:password (or XAPI_PASSWORD), received nothing. Try \`pulumi config set xapi:url https://<pool-coordinator>\` and \`pulumi config set --secret xapi:password <password>\`.",
      ]
    `);
  });

  it("rejects a URL that is not http(s)", () => {
    const result = readConnectionSettings(config({ "xapi:url": "pool.example", "xapi:password": "p" }), {});
    expect((result as ProviderError).code).toBe("INVALID_CONFIG");
  });

  it.each([
    ["true", true],
    ["YES", true],
    ["0", false],
    ["no", false],
  ])("reads xapi:insecure %j as %j", (text, expected) => {
    const s = settings(
      readConnectionSettings(
        config({ "xapi:url": "https://h", "xapi:password": "p", "xapi:insecure": text }),
        {},
      ),
    );
    expect(s.insecure).toBe(expected);
  });

  it("rejects an unreadable xapi:insecure", () => {
    const result = readConnectionSettings(
      config({ "xapi:url": "https://h", "xapi:password": "p", "xapi:insecure": "maybe" }),
      {},
    );
    expect((result as ProviderError).message).toMatchInlineSnapshot(
      `"Invalid xapi:insecure: expected "true" or "false", received "maybe"."`,
    );
  });

  it("keeps the password readable but out of JSON and util.inspect", () => {
    const s = settings(
      readConnectionSettings(config({ "xapi:url": "https://h", "xapi:password": "s3cr3t-pw" }), {}),
    );
    expect([
      s.password,
      JSON.stringify(s).includes("s3cr3t-pw"),
      util.inspect(s).includes("s3cr3t-pw"),
    ]).toEqual(["s3cr3t-pw", false, false]);
  });
});

describe("scrubSecrets", () => {
  it("replaces every occurrence of each secret", () => {
    expect(scrubSecrets("login pw1234 failed; pw1234 again; tok9", ["pw1234", "tok9", undefined])).toBe(
      "login *** failed; *** again; ***",
    );
  });

  it("leaves secrets shorter than three characters alone (they would shred ordinary words)", () => {
    expect(scrubSecrets("a bad day", ["a"])).toBe("a bad day");
  });
});
