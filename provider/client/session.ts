/**
 * One XAPI session for one (url, username): lazy single-flight login, re-login once on
 * SESSION_INVALID, HOST_IS_SLAVE redirect to the coordinator (remembered), retry of idempotent reads
 * and of the login after transient network failures (briefly while the host has never answered; up to
 * `outageToleranceMs` once it has: a coordinator restart is waited out), and logout.
 *
 * The password lives in a private field: it is sent in `session.login_with_password` and nowhere
 * else, and never appears in errors, logs, `JSON.stringify` or `util.inspect` output.
 */
import * as util from "node:util";
import type { SessionRef } from "../model/vocabulary";
import { type Backoff, backoffDelay, sleep } from "./backoff";
import { isTransientTransportError, isXapiError, XapiErrorCode } from "./errors";
import { createJsonRpcTransport, type Transport, type TransportOptions } from "./jsonrpc";
import type { TlsOptions } from "./tls";

/** Sent as `originator` so XAPI's session records (and `xe session-list`) show who logged in. */
export const ORIGINATOR = "pulumi-xapi";
/** API version string passed at login (XAPI accepts and ignores it; 2.21 = XCP-ng 8.2/8.3 era). */
export const LOGIN_API_VERSION = "2.21";

const LOGIN = "session.login_with_password";
const EVENT_FROM = "event.from";
/** How many HOST_IS_SLAVE hops a single call may follow (a pool has one coordinator; 2 covers a failover). */
const MAX_REDIRECTS = 2;
/**
 * Retries of an idempotent read (or of the login) after a transient network failure, while the host has
 * never answered: an address that refuses from the start is a setting to fix (or, in a preview, a pool to
 * plan without), so it fails in under a second.
 */
const FIRST_CONTACT_RETRIES = 3;
/**
 * Once the host has answered, a transient failure is an outage (a coordinator restart takes tens of
 * seconds): reads and the re-login are retried with backoff for this long before the failure is reported.
 */
export const DEFAULT_OUTAGE_TOLERANCE_MS = 120_000;
const READ_RETRY_BACKOFF: Backoff = { initialMs: 100, maxMs: 5000, factor: 2, jitter: 0.2 };

/** Options of a {@link XapiSession} (everything but the password). */
export interface SessionOptions extends TlsOptions {
  readonly url: string;
  readonly username: string;
  /** @default 60000 */
  readonly requestTimeoutMs?: number | undefined;
  /** How long an outage of a host that has answered before is waited out. @default 120000 */
  readonly outageToleranceMs?: number | undefined;
}

/** Counters of one session holder (wire requests, successful logins). */
export interface SessionStats {
  calls: number;
  logins: number;
}

/**
 * Why: `get_*` reads, and destroying/cancelling a task, can be sent twice without changing the
 * outcome (a second `task.destroy` answers HANDLE_INVALID, which callers treat as done).
 */
export function isIdempotentCall(method: string): boolean {
  return /^[^.]+\.get_/.test(method) || method === "task.destroy" || method === "task.cancel";
}

/**
 * Why: HOST_IS_SLAVE carries only the coordinator's address; the npm `xen-api` client (node_modules/xen-api/index.mjs,
 * its HOST_IS_SLAVE retry) keeps the scheme and port of the URL it was given, and so do we. IPv6 addresses need brackets.
 */
export function coordinatorUrl(current: string, address: string): string {
  const url = new URL(current);
  url.hostname = address.includes(":") && !address.startsWith("[") ? `[${address}]` : address;
  return url.href.replace(/\/$/, "");
}

export class XapiSession {
  readonly username: string;
  readonly stats: SessionStats = { calls: 0, logins: 0 };
  #password: string;
  #tls: TlsOptions;
  #requestTimeoutMs: number | undefined;
  #url: string;
  #transport: Transport;
  #ref: SessionRef | undefined;
  #loggingIn: Promise<SessionRef> | undefined;
  /** The host has answered at least once (a failure since is an outage, not a wrong address). */
  #reached = false;
  readonly #outageToleranceMs: number;

  constructor(options: SessionOptions, password: string) {
    this.username = options.username;
    this.#outageToleranceMs = options.outageToleranceMs ?? DEFAULT_OUTAGE_TOLERANCE_MS;
    this.#password = password;
    this.#tls = { caCert: options.caCert, fingerprint: options.fingerprint, insecure: options.insecure };
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#transport = this.#makeTransport(options.url);
    this.#url = this.#transport.endpoint.replace(/\/jsonrpc$/, "");
  }

  /** The host currently talked to (the coordinator after a HOST_IS_SLAVE redirect). */
  get url(): string {
    return this.#url;
  }

  /** True while a session ref is held. */
  get loggedIn(): boolean {
    return this.#ref !== undefined;
  }

  /** Replace the password used by the next login (the current session stays valid). */
  setPassword(password: string): void {
    this.#password = password;
  }

  /**
   * Call `method(session, ...args)`. Logs in on first use; on SESSION_INVALID logs in again and
   * retries once; on HOST_IS_SLAVE moves to the coordinator; retries idempotent reads after a
   * transient network failure.
   */
  async call(method: string, args: readonly unknown[]): Promise<unknown> {
    let relogins = 0;
    let redirects = 0;
    let readRetries = 0;
    let outageSince: number | undefined;
    for (;;) {
      let session: SessionRef | undefined;
      let sent = false;
      try {
        session = await this.#session();
        sent = true;
        return await this.#send(method, [session, ...args]);
      } catch (error) {
        // A failed login never sent `method`: retrying it is safe whatever the method is.
        if (isTransientTransportError(error) && (!sent || isIdempotentCall(method))) {
          const now = Date.now();
          outageSince ??= now;
          const retry = this.#reached
            ? now - outageSince < this.#outageToleranceMs
            : readRetries < FIRST_CONTACT_RETRIES;
          if (retry) {
            await sleep(backoffDelay(READ_RETRY_BACKOFF, readRetries++));
            continue;
          }
        }
        if (isXapiError(error, XapiErrorCode.SESSION_INVALID) && session !== undefined && relogins === 0) {
          relogins++;
          this.#forget(session);
          continue;
        }
        if (
          isXapiError(error, XapiErrorCode.HOST_IS_SLAVE) &&
          session !== undefined &&
          redirects < MAX_REDIRECTS
        ) {
          // A session call on a member: the pool coordinator moved. Follow it with a fresh login.
          redirects++;
          this.#redirect(error.params[0]);
          // Sessions live in the pool database: log the old one out at the coordinator, do not leak it.
          if (this.#forget(session)) await this.#send("session.logout", [session]).catch(() => undefined);
          continue;
        }
        throw error;
      }
    }
  }

  /** Log out (errors ignored: the session may already be gone) and close idle sockets. */
  async logout(): Promise<void> {
    const pending = this.#loggingIn;
    this.#loggingIn = undefined;
    const ref = this.#ref ?? (await pending?.catch(() => undefined));
    this.#ref = undefined;
    if (ref !== undefined) await this.#send("session.logout", [ref]).catch(() => undefined);
    this.#transport.close();
  }

  /** Never serialise the password (nor the session ref, which is a bearer credential). */
  toJSON(): { url: string; username: string } {
    return { url: this.#url, username: this.username };
  }

  [util.inspect.custom](): string {
    return `XapiSession { url: '${this.#url}', username: '${this.username}', loggedIn: ${this.loggedIn} }`;
  }

  #session(): Promise<SessionRef> {
    if (this.#ref !== undefined) return Promise.resolve(this.#ref);
    // Single flight: concurrent first calls share one login.
    this.#loggingIn ??= this.#login().finally(() => {
      this.#loggingIn = undefined;
    });
    return this.#loggingIn;
  }

  async #login(): Promise<SessionRef> {
    for (let redirects = 0; ; redirects++) {
      try {
        const ref = (await this.#send(LOGIN, [
          this.username,
          this.#password,
          LOGIN_API_VERSION,
          ORIGINATOR,
        ])) as SessionRef;
        this.stats.logins++;
        this.#ref = ref;
        return ref;
      } catch (error) {
        if (isXapiError(error, XapiErrorCode.HOST_IS_SLAVE) && redirects < MAX_REDIRECTS) {
          this.#redirect(error.params[0]);
          continue;
        }
        throw error;
      }
    }
  }

  /** Drop `session` if it is the current one; true when this call dropped it. */
  #forget(session: SessionRef): boolean {
    // Only the holder of the current ref drops it; a caller with an older ref just retries.
    if (this.#ref !== session) return false;
    this.#ref = undefined;
    return true;
  }

  #redirect(address: string | undefined): void {
    if (address === undefined || address === "") return;
    const next = coordinatorUrl(this.#url, address);
    if (next === this.#url) return;
    this.#transport.close();
    this.#transport = this.#makeTransport(next);
    this.#url = next;
  }

  #makeTransport(url: string): Transport {
    const options: TransportOptions = {
      ...this.#tls,
      url,
      requestTimeoutMs: this.#requestTimeoutMs,
      // A repeated login costs at most one extra session (rare race); failing it would fail the operation.
      // `event.from` only reads (the same token answers the same); it is not retried through an outage, though:
      // its waiter falls back to polling, which is.
      resendOnStaleSocket: (method) => isIdempotentCall(method) || method === LOGIN || method === EVENT_FROM,
    };
    return createJsonRpcTransport(options);
  }

  async #send(method: string, params: readonly unknown[]): Promise<unknown> {
    this.stats.calls++;
    try {
      const result = await this.#transport(method, params);
      this.#reached = true;
      return result;
    } catch (error) {
      // An answer, even an error, means the host is there.
      if (!isTransientTransportError(error)) this.#reached = true;
      throw error;
    }
  }
}
