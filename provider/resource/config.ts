/**
 * The provider's connection settings: read once by `configure` from the stack configuration, with
 * environment fallbacks, and kept in the provider process only. They never become a resource
 * property, never enter the serialized provider, and the password never reaches a log line or an
 * error message (see {@link scrubSecrets}).
 */
import { DEFAULT_MAX_CONCURRENT_OPERATIONS } from "../client/limit";
import { invalid } from "../model/wording";
import { ProviderError, ProviderErrorCode } from "./errors";

/**
 * Stack configuration keys and their environment fallbacks. Configuration wins over the
 * environment; an empty value counts as unset.
 */
export const CONNECTION_SETTINGS = {
  url: { config: "xapi:url", env: "XAPI_URL" },
  username: { config: "xapi:username", env: "XAPI_USERNAME" },
  password: { config: "xapi:password", env: "XAPI_PASSWORD" },
  caCert: { config: "xapi:caCert", env: "XAPI_CA_CERT" },
  fingerprint: { config: "xapi:fingerprint", env: "XAPI_FINGERPRINT" },
  insecure: { config: "xapi:insecure", env: "XAPI_INSECURE" },
  maxConcurrentOperations: { config: "xapi:maxConcurrentOperations", env: "XAPI_MAX_CONCURRENT_OPERATIONS" },
} as const;
export type ConnectionSettingName = keyof typeof CONNECTION_SETTINGS;

/**
 * Configuration key naming an environment variable that holds the password (`xapi:passwordEnv`), used when
 * `xapi:password` and `XAPI_PASSWORD` are unset; what `new xapi.Pool(…, { passwordEnv })` sets.
 */
export const PASSWORD_ENV_KEY = "xapi:passwordEnv";

/** The username used when neither `xapi:username` nor `XAPI_USERNAME` is set (XAPI's admin user). */
export const DEFAULT_USERNAME = "root";

/** Where the connection comes from, as {@link readConnectionSettings} resolved it. */
export interface ConnectionSettings {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly caCert?: string;
  readonly fingerprint?: string;
  readonly insecure?: boolean;
  /**
   * How many XAPI tasks (lifecycle calls, clones, provisions) this provider process runs at once against
   * the pool; more wait in the process (client/limit.ts says why the default is 4, about 4 per host).
   * Unset: the client's default ({@link DEFAULT_MAX_CONCURRENT_OPERATIONS}).
   */
  readonly maxConcurrentOperations?: number;
}

/**
 * Resolves the connection from a config getter (`req.config.get` of the dynamic provider's
 * `configure`) and an environment. Returns the settings, or the typed error that explains what is
 * missing or malformed (thrown later, by the first operation that needs XAPI: `check` and `diff`
 * never do, so a preview works without credentials).
 *
 * The returned object hides the password from `JSON.stringify` and `util.inspect`.
 */
export function readConnectionSettings(
  get: (key: string) => string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): ConnectionSettings | ProviderError {
  const value = (name: ConnectionSettingName): string | undefined => {
    const { config, env: variable } = CONNECTION_SETTINGS[name];
    const fromConfig = get(config);
    if (fromConfig !== undefined && fromConfig !== "") return fromConfig;
    const fromEnv = env[variable];
    return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
  };

  const url = value("url");
  // An explicit provider per pool can name its own variable, so that no password enters the state.
  const passwordEnv = get(PASSWORD_ENV_KEY);
  const password =
    value("password") ??
    (passwordEnv === undefined || passwordEnv === "" || env[passwordEnv] === ""
      ? undefined
      : env[passwordEnv]);
  const missing = [url === undefined ? "url" : undefined, password === undefined ? "password" : undefined]
    .filter((name): name is ConnectionSettingName => name !== undefined)
    .map((name) => `${CONNECTION_SETTINGS[name].config} (or ${CONNECTION_SETTINGS[name].env})`);
  if (url === undefined || password === undefined) {
    return new ProviderError(
      ProviderErrorCode.MISSING_CONFIG,
      invalid(
        "Missing XAPI connection settings",
        missing.join(" and "),
        undefined,
        "Try `pulumi config set xapi:url https://<pool-coordinator>` and " +
          "`pulumi config set --secret xapi:password <password>`.",
      ),
    );
  }
  if (!/^https?:\/\/[^/]/i.test(url)) {
    return new ProviderError(
      ProviderErrorCode.INVALID_CONFIG,
      invalid("Invalid xapi:url", "an http:// or https:// URL", url),
    );
  }
  const insecureText = value("insecure");
  const insecure = insecureText === undefined ? undefined : parseBoolean(insecureText);
  if (insecure === null) {
    return new ProviderError(
      ProviderErrorCode.INVALID_CONFIG,
      invalid("Invalid xapi:insecure", '"true" or "false"', insecureText),
    );
  }

  const limitText = value("maxConcurrentOperations");
  const maxConcurrentOperations = limitText === undefined ? undefined : parseCount(limitText);
  if (maxConcurrentOperations === null) {
    return new ProviderError(
      ProviderErrorCode.INVALID_CONFIG,
      invalid(
        "Invalid xapi:maxConcurrentOperations (or XAPI_MAX_CONCURRENT_OPERATIONS)",
        `a whole number from 1 to ${MAX_CONCURRENT_OPERATIONS}`,
        limitText,
        `Try \`pulumi config set xapi:maxConcurrentOperations ${DEFAULT_MAX_CONCURRENT_OPERATIONS}\` (the default; about ${DEFAULT_MAX_CONCURRENT_OPERATIONS} per host of the pool).`,
      ),
    );
  }

  const caCert = value("caCert");
  const fingerprint = value("fingerprint");
  return hidePassword({
    url,
    username: value("username") ?? DEFAULT_USERNAME,
    password,
    ...(caCert === undefined ? {} : { caCert }),
    ...(fingerprint === undefined ? {} : { fingerprint }),
    ...(insecure === undefined ? {} : { insecure }),
    ...(maxConcurrentOperations === undefined ? {} : { maxConcurrentOperations }),
  });
}

/**
 * The most `xapi:maxConcurrentOperations` accepts (a bound against typos): the client's HTTP agent opens at
 * most 64 sockets per host (client/tls.ts), so more tasks could not even be sent at once.
 */
const MAX_CONCURRENT_OPERATIONS = 64;

/** "8" → 8; anything but a whole number from 1 to {@link MAX_CONCURRENT_OPERATIONS} → null. */
function parseCount(text: string): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n >= 1 && n <= MAX_CONCURRENT_OPERATIONS ? n : null;
}

/** "true"/"1"/"yes" → true, "false"/"0"/"no" → false, anything else → null. */
function parseBoolean(text: string): boolean | null {
  const t = text.trim().toLowerCase();
  if (t === "true" || t === "1" || t === "yes") return true;
  if (t === "false" || t === "0" || t === "no") return false;
  return null;
}

/** Makes `password` non-enumerable, so neither JSON nor `util.inspect` ever prints it. */
function hidePassword(settings: ConnectionSettings): ConnectionSettings {
  const { password, ...rest } = settings;
  const hidden = { ...rest } as ConnectionSettings;
  Object.defineProperty(hidden, "password", { value: password, enumerable: false });
  return hidden;
}

/** Secrets shorter than this are not scrubbed from text (they would shred ordinary words). */
const MIN_SCRUB_LENGTH = 3;

/**
 * Replaces every occurrence of each secret in `text` with `***`. Applied to every error message and
 * reason the provider hands to the engine, as a second line of defence behind the client (which
 * never puts credentials in errors in the first place).
 */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= MIN_SCRUB_LENGTH) out = out.split(secret).join("***");
  }
  return out;
}

/**
 * A login refused by XAPI, told with the setting to fix; any other error is returned as it is.
 * (`SESSION_AUTHENTICATION_FAILED` carries the username XAPI saw, never the password.)
 */
export function explainLoginFailure(error: unknown, conn: { url: string; username: string }): unknown {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code !== "SESSION_AUTHENTICATION_FAILED") return error;
  return new ProviderError(
    ProviderErrorCode.AUTHENTICATION_FAILED,
    `Logging in to ${conn.url} as ${JSON.stringify(conn.username)} failed: expected XAPI to accept the password, ` +
      "received SESSION_AUTHENTICATION_FAILED. Check xapi:username and xapi:password (or XAPI_USERNAME and " +
      "XAPI_PASSWORD): `pulumi config set --secret xapi:password <password>`. If you just changed them: " +
      "`pulumi refresh` and `pulumi destroy` use the settings stored at the last deployment; run " +
      "`pulumi refresh --run-program` (or `pulumi up --refresh`) to use the new ones.",
    { cause: error },
  );
}

/** Node's codes for a certificate it could not verify, and the client's pin mismatch. */
const TLS_TRUST_CODES: ReadonlySet<string> = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_FINGERPRINT_MISMATCH",
]);

/**
 * A certificate the client refused, told with what to do: the SHA-256 fingerprint the host presents (read
 * with a second TLS handshake that sends nothing) and the settings that trust it. Other errors pass through.
 */
export async function explainTlsFailure(error: unknown, url: string): Promise<unknown> {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== "string" || !TLS_TRUST_CODES.has(code)) return error;
  const seen = await peerFingerprint(url).catch(() => undefined);
  const presented = seen === undefined ? "a certificate" : `a certificate with SHA-256 fingerprint ${seen}`;
  const pin =
    seen === undefined
      ? "`pulumi config set xapi:fingerprint <SHA-256 of the pool's certificate>`"
      : `\`pulumi config set xapi:fingerprint ${seen}\``;
  return new ProviderError(
    ProviderErrorCode.INVALID_CONFIG,
    `TLS connection to ${url} refused: expected a certificate this provider trusts, received ${presented} (${code}). ` +
      `If it is your pool's certificate (XCP-ng hosts use self-signed ones), pin it: ${pin} (or XAPI_FINGERPRINT), ` +
      "or trust its CA with xapi:caCert; compare the fingerprint on the host first (openssl x509 -noout -fingerprint -sha256 -in /etc/xensource/xapi-ssl.pem).",
    { cause: error },
  );
}

/** The SHA-256 fingerprint of the certificate `url`'s host presents (`AA:BB:…`); no HTTP request is sent. */
async function peerFingerprint(url: string): Promise<string> {
  const tls: typeof import("node:tls") = await import("node:tls");
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      {
        host: target.hostname,
        port: Number(target.port || 443),
        servername: /^[\d.]+$|:/.test(target.hostname) ? undefined : target.hostname,
        rejectUnauthorized: false,
      },
      () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      },
    );
    socket.setTimeout(10_000, () => socket.destroy(new Error("timeout")));
    socket.on("error", reject);
  });
}
