/**
 * TLS policy for the XAPI transport: verification on by default, an optional CA bundle, an optional
 * SHA-256 certificate pin, and an explicit `insecure` switch.
 *
 * The pin is checked in the agent's `createConnection`, after the handshake and BEFORE the socket is
 * handed to the HTTP request, so not one byte of a request (the login carries the password) reaches
 * a server whose certificate does not match.
 */
import * as http from "node:http";
import * as https from "node:https";
import type { Duplex } from "node:stream";
import * as tls from "node:tls";
import { ClientErrorCode } from "./errors";

/** How the transport verifies the server (see `ConnectionOptions`). */
export interface TlsOptions {
  /** PEM bundle of trusted CAs (replaces the system store for this connection). */
  readonly caCert?: string | undefined;
  /** SHA-256 fingerprint of the server certificate, `AA:BB:…` or plain hex (case-insensitive). */
  readonly fingerprint?: string | undefined;
  /** Accept any certificate. Warns once per process. */
  readonly insecure?: boolean | undefined;
}

/** A TLS failure detected by this module (the pin check); carries a code like Node's TLS errors. */
export class TlsPolicyError extends Error {
  override readonly name = "TlsPolicyError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Normalise a SHA-256 fingerprint to Node's `fingerprint256` form: upper-case hex pairs joined by `:`.
 * Accepts `AA:BB:…`, `aabb…` and an optional `sha256:`/`SHA256 Fingerprint=` prefix (openssl output).
 * @throws TypeError when it is not 32 bytes of hex.
 */
export function normalizeFingerprint(fingerprint: string): string {
  const hex = fingerprint
    .trim()
    .replace(/^sha256( fingerprint)?[:=]/i, "")
    .replace(/[:\s]/g, "")
    .toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) {
    throw new TypeError(
      `Invalid fingerprint: expected a SHA-256 fingerprint (64 hex digits, e.g. "AA:BB:…"), received ${JSON.stringify(fingerprint)}. ` +
        "Try: openssl x509 -noout -fingerprint -sha256 -in cert.pem",
    );
  }
  return hex.match(/../g)?.join(":") ?? hex;
}

let insecureWarned = false;

/** Why: turning verification off must never be silent, but one warning per process is enough. */
function warnInsecureOnce(url: string): void {
  if (insecureWarned) return;
  insecureWarned = true;
  process.emitWarning(
    `TLS certificate verification is disabled for ${url} (insecure: true). ` +
      "Pin the host certificate with `fingerprint` instead: it is just as easy and not vulnerable to interception.",
    { code: "PULUMI_XAPI_INSECURE_TLS" },
  );
}

/** Check that the TLS options make sense together and for the URL's scheme. */
export function validateTlsOptions(url: URL, options: TlsOptions): void {
  if (options.insecure === true && (options.caCert !== undefined || options.fingerprint !== undefined)) {
    throw new TypeError(
      "Conflicting TLS options: `insecure: true` disables verification, so `caCert` / `fingerprint` would be ignored. Remove one of them.",
    );
  }
  if (url.protocol === "http:" && (options.caCert !== undefined || options.fingerprint !== undefined)) {
    throw new TypeError(
      `TLS options given for a plain-HTTP URL (${url.origin}): use an https:// URL or drop caCert/fingerprint.`,
    );
  }
  if (options.fingerprint !== undefined) normalizeFingerprint(options.fingerprint);
}

/**
 * How long a kept-alive socket may sit idle before the client closes it. Servers close idle sockets on their
 * own clock (Node's HTTP server, and so xapi-sim, after 5 s); a request written to a socket the server is
 * closing at that moment fails with ECONNRESET, and a call that is not safe to repeat (an `Async.VM.clone`)
 * cannot be re-sent. Closing first, well inside that window, leaves no such race. A request's own timeout
 * replaces this one while it is in flight, so long-polls are not cut.
 */
export const IDLE_SOCKET_MS = 2_000;

/**
 * Build the keep-alive agent for one endpoint. For `https:` the agent applies the TLS policy;
 * `http:` gets a plain keep-alive agent.
 */
export function createAgent(url: URL, options: TlsOptions): http.Agent {
  const common = { keepAlive: true, maxSockets: 64, scheduling: "lifo" as const, timeout: IDLE_SOCKET_MS };
  if (url.protocol !== "https:") return new http.Agent(common);
  if (options.insecure === true) warnInsecureOnce(url.origin);
  const pin = options.fingerprint === undefined ? undefined : normalizeFingerprint(options.fingerprint);
  // A pin without a CA accepts the pinned certificate even if it is self-signed (that is its point).
  const rejectUnauthorized = options.insecure !== true && (pin === undefined || options.caCert !== undefined);
  return new PolicyAgent({
    ...common,
    rejectUnauthorized,
    ...(options.caCert === undefined ? {} : { ca: options.caCert }),
    pin,
  });
}

type ConnectCallback = (error: Error | null, socket: Duplex) => void;

/** An https.Agent whose sockets are handed to requests only after the handshake and the pin check. */
class PolicyAgent extends https.Agent {
  readonly #pin: string | undefined;

  constructor(options: https.AgentOptions & { pin: string | undefined }) {
    const { pin, ...agentOptions } = options;
    super(agentOptions);
    this.#pin = pin;
  }

  // Node's Agent accepts an asynchronous createConnection: return nothing, call back when ready.
  override createConnection(options: https.RequestOptions, callback?: ConnectCallback): undefined {
    let settled = false;
    const socket = tls.connect(options as tls.ConnectionOptions);
    const settle = (error: Error | null) => {
      if (settled) return;
      settled = true;
      callback?.(error, socket);
    };
    // Stays attached (a no-op once settled): the HTTP client adds its own handlers a tick later.
    socket.on("error", (error) => settle(error));
    socket.once("secureConnect", () => {
      const failure = this.#checkPin(socket);
      if (failure !== undefined) {
        socket.destroy();
        settle(failure);
        return;
      }
      settle(null);
    });
    return undefined;
  }

  #checkPin(socket: tls.TLSSocket): Error | undefined {
    if (this.#pin === undefined) return undefined;
    const seen = socket.getPeerCertificate().fingerprint256;
    if (seen === this.#pin) return undefined;
    return new TlsPolicyError(
      ClientErrorCode.CERT_FINGERPRINT_MISMATCH,
      `Certificate fingerprint mismatch: expected ${this.#pin}, received ${seen ?? "no certificate"}`,
    );
  }
}
