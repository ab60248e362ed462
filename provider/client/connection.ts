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
 *
 * Tasks: each connection waits for its `callAsync` tasks with one `event.from` long-poll (client/task.ts),
 * and every connection to the same pool URL shares one bound on tasks run at once (client/limit.ts).
 */
import * as util from "node:util";
import type { TaskRef } from "../model/vocabulary";
import type { Backoff } from "./backoff";
import { DEFAULT_MAX_CONCURRENT_OPERATIONS, OperationSlots } from "./limit";
import { XapiSession } from "./session";
import { DEFAULT_TASK_POLL, EVENT_TIMEOUT_S, TaskWatcher } from "./task";

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
  /**
   * Task waiting schedule of `callAsync`: the polls where `event.from` is missing, the delay before the first
   * look at a task, and the pauses between long-poll answers that ended nothing.
   * @default { initialMs: 20, maxMs: 2000, factor: 2 }
   */
  taskPoll?: Backoff | undefined;
  /**
   * How many `callAsync` tasks this process runs at once against this pool (every connection to the same
   * URL shares them); more wait in a first-come-first-served queue, and a task's `timeoutMs` starts only
   * when it is sent (client/limit.ts says why 4). @default 4
   */
  maxConcurrentOperations?: number | undefined;
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
   * `Async.<method>(session, ...args)` once one of the pool's operation slots is free, then waits for the
   * task (the session's one `event.from` long-poll, or polling where there is none), always destroys it,
   * and resolves with the decoded task result (`""` for void calls).
   * @param opts.timeoutMs per-operation timeout, counted from the task's creation (not the wait for a
   *   slot): the task is cancelled and XapiTimeoutError thrown.
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
  readonly #tasks: TaskWatcher;
  readonly #slots: OperationSlots;

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
    // The long-poll must answer well within the transport's request (socket inactivity) timeout.
    const timeoutS = Math.min(EVENT_TIMEOUT_S, (options.requestTimeoutMs ?? 60_000) / 2000);
    this.#tasks = new TaskWatcher(
      (m, a) => this.#session.call(m, a),
      options.taskPoll ?? DEFAULT_TASK_POLL,
      timeoutS,
    );
    this.#slots = slotsOf(options);
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
    const start = () => this.#session.call(`Async.${bare}`, args) as Promise<TaskRef>;
    // The slot is free once the task has ended: the next operation starts while this task is destroyed.
    return (await this.#slots.run((release) =>
      this.#tasks.run(start, bare, { timeoutMs: opts?.timeoutMs, onEnded: release }),
    )) as T;
  }

  /** Adopt a changed password for the next login (same url and username), and a changed schedule or limit. */
  update(options: ConnectionOptions): void {
    this.#session.setPassword(options.password);
    if (options.taskPoll !== undefined) this.#tasks.poll = options.taskPoll;
    if (options.maxConcurrentOperations !== undefined) this.#slots.limit = options.maxConcurrentOperations;
  }

  close(): Promise<void> {
    this.#tasks.close();
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
/** The operation slots of each pool, by normalized URL: shared by every username's connection to it. */
const poolSlots = new Map<string, OperationSlots>();
let exitHookInstalled = false;

/** The slots of `options.url`'s pool, created with the given (or default) limit; a given limit is adopted. */
function slotsOf(options: ConnectionOptions): OperationSlots {
  const key = normalizeUrl(options.url);
  const limit = options.maxConcurrentOperations;
  const existing = poolSlots.get(key);
  if (existing !== undefined) {
    if (limit !== undefined) existing.limit = limit;
    return existing;
  }
  const slots = new OperationSlots(limit ?? DEFAULT_MAX_CONCURRENT_OPERATIONS);
  poolSlots.set(key, slots);
  return slots;
}

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
  poolSlots.clear();
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
