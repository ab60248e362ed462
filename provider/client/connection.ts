/**
 * The public face of the client: {@link getConnection} hands out ONE connection (and so one XAPI
 * session) per (url, username) per process, shared by every operation, and
 * {@link closeAllConnections} logs them all out.
 *
 * Why one session: XAPI keeps at most a few hundred sessions per user and destroys the OLDEST past
 * that cap, so a client that logs in per operation logs other tools (Xen Orchestra, xe) out.
 *
 * Logout at exit: the first connection registers a `beforeExit` hook that logs every session out.
 * Limits: `beforeExit` does not run on `process.exit()`, on an uncaught exception or when the
 * process is killed by a signal (how the Pulumi engine usually ends a provider). Sessions left
 * behind that way expire on the XAPI side (idle-session timeout); call `closeAllConnections()`
 * explicitly where a clean logout matters.
 */
import * as util from "node:util";
import type { TaskRef } from "../model/vocabulary";
import type { Backoff } from "./backoff";
import { XapiSession } from "./session";
import { DEFAULT_TASK_POLL, waitForTask } from "./task";

/** How to reach and authenticate to a XAPI host (a pool coordinator or any member). */
export interface ConnectionOptions {
  /** `https://host[:port][/prefix]`; a bare host name means https. A member is followed to its coordinator. */
  url: string;
  username: string;
  /** Sent in `session.login_with_password` only; never logged, serialised or put in errors. */
  password: string;
  /** PEM bundle of trusted CA certificates. */
  caCert?: string | undefined;
  /**
   * SHA-256 fingerprint of the host certificate (`AA:BB:…` or hex). The safe way to trust a
   * self-signed XCP-ng certificate: only that exact certificate is accepted.
   */
  fingerprint?: string | undefined;
  /** Accept any certificate. Warns once per process. Prefer `fingerprint`. @default false */
  insecure?: boolean | undefined;
  /** Per-request (socket inactivity) timeout. @default 60000 */
  requestTimeoutMs?: number | undefined;
  /**
   * How long reads and the re-login wait out an outage of a host that has answered before (a coordinator
   * restart); a host that never answered fails within a second. @default 120000
   */
  outageToleranceMs?: number | undefined;
  /** Task polling schedule of `callAsync`. @default { initialMs: 20, maxMs: 2000, factor: 2 } */
  taskPoll?: Backoff | undefined;
}

/** A shared, session-holding XAPI connection. */
export interface XapiConnection {
  /**
   * `method(session, ...args)`; resolves with the result. Logs in on first use and again once on
   * SESSION_INVALID; follows HOST_IS_SLAVE; retries idempotent reads after transient network errors.
   * `session.*` login/logout methods are refused: the connection owns its session.
   * @throws XapiError | XapiTransportError
   */
  call<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
  /**
   * `Async.<method>(session, ...args)`, then waits for the task (polling with backoff), always
   * destroys it, and resolves with the decoded task result (`""` for void calls).
   * @param opts.timeoutMs per-operation timeout: the task is cancelled and XapiTimeoutError thrown.
   * @throws XapiError (the task's error_info) | XapiTimeoutError | XapiTransportError
   */
  callAsync<T = unknown>(
    method: string,
    args: unknown[],
    opts?: { timeoutMs?: number | undefined },
  ): Promise<T>;
  /** Wire requests sent and successful logins, since the connection was created. */
  readonly stats: { calls: number; logins: number };
  /** The host currently talked to (the coordinator after a HOST_IS_SLAVE redirect). */
  readonly url: string;
  readonly username: string;
}

class Connection implements XapiConnection {
  readonly #session: XapiSession;
  #taskPoll: Backoff;

  constructor(options: ConnectionOptions) {
    this.#session = new XapiSession(
      {
        url: options.url,
        username: options.username,
        caCert: options.caCert,
        fingerprint: options.fingerprint,
        insecure: options.insecure,
        requestTimeoutMs: options.requestTimeoutMs,
        outageToleranceMs: options.outageToleranceMs,
      },
      options.password,
    );
    this.#taskPoll = options.taskPoll ?? DEFAULT_TASK_POLL;
  }

  get stats(): { calls: number; logins: number } {
    return this.#session.stats;
  }

  get url(): string {
    return this.#session.url;
  }

  get username(): string {
    return this.#session.username;
  }

  call<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    if (/^session\.(login|logout|slave_local)/.test(method)) {
      return Promise.reject(
        new TypeError(`${method} is managed by the connection; it cannot be called through call()`),
      );
    }
    return this.#session.call(method, args) as Promise<T>;
  }

  async callAsync<T = unknown>(
    method: string,
    args: unknown[],
    opts?: { timeoutMs?: number | undefined },
  ): Promise<T> {
    const bare = method.replace(/^Async\./, "");
    const task = (await this.#session.call(`Async.${bare}`, args)) as TaskRef;
    const call = (m: string, a: readonly unknown[]) => this.#session.call(m, a);
    return (await waitForTask(call, task, bare, { timeoutMs: opts?.timeoutMs, poll: this.#taskPoll })) as T;
  }

  /** Adopt a changed password for the next login (same url and username). */
  update(options: ConnectionOptions): void {
    this.#session.setPassword(options.password);
    if (options.taskPoll !== undefined) this.#taskPoll = options.taskPoll;
  }

  close(): Promise<void> {
    return this.#session.logout();
  }

  toJSON(): { url: string; username: string } {
    return this.#session.toJSON();
  }

  [util.inspect.custom](): string {
    return `XapiConnection { url: '${this.url}', username: '${this.username}', calls: ${this.stats.calls}, logins: ${this.stats.logins} }`;
  }
}

const connections = new Map<string, Connection>();
let exitHookInstalled = false;

/** Why: `https://Host:443/` and `host` name the same endpoint; the cache must see one key. */
function normalizeUrl(url: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`;
  try {
    return new URL(withScheme).href.replace(/\/+$/, "");
  } catch {
    // Left as given: the transport reports the malformed URL with a proper message.
    return withScheme;
  }
}

function cacheKey(url: string, username: string): string {
  return `${normalizeUrl(url)}\u0000${username}`;
}

/**
 * The connection for (url, username), created on first use and cached for the life of the process.
 * Later calls with the same key return the same object (also when `url` is the coordinator a
 * connection was redirected to); a changed password is adopted for the next login. TLS options are
 * fixed by the first call.
 * @throws TypeError for a malformed URL or contradictory TLS options.
 */
export function getConnection(opts: ConnectionOptions): XapiConnection {
  const key = cacheKey(opts.url, opts.username);
  // A connection given a member's URL moved to the coordinator: asking for the coordinator gets it too.
  const existing =
    connections.get(key) ?? [...connections.values()].find((c) => cacheKey(c.url, c.username) === key);
  if (existing !== undefined) {
    existing.update(opts);
    return existing;
  }
  const connection = new Connection(opts);
  connections.set(key, connection);
  installExitHook();
  return connection;
}

/** Log out every cached session and forget the connections (used at exit and in tests). */
export async function closeAllConnections(): Promise<void> {
  const all = [...connections.values()];
  connections.clear();
  await Promise.all(all.map((connection) => connection.close()));
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // beforeExit fires again after async work; with the cache empty the second run does nothing.
  process.on("beforeExit", () => {
    if (connections.size > 0) void closeAllConnections();
  });
}
