/**
 * xapi-sim's object model: the XAPI classes (session, pool, host, VM, task, event, system) with
 * XAPI's semantics, a guest model per VM, fault injection, counters and persistence.
 * The wire layer (`simulator/server.ts`) decodes requests and calls {@link SimModel.dispatch}.
 *
 * @example
 * ```ts
 * const model = createModel({ defaultOperationMs: 5 });
 * const session = await model.dispatch("session.login_with_password", ["root", "xapi-sim"], meta);
 * const [vm] = (await model.dispatch("VM.get_by_name_label", [session, "db-01"], meta)) as string[];
 * await model.dispatch("VM.start", [session, vm, false, false], meta);
 * model.close();
 * ```
 */
import type { Dispatch } from "../api";
import { buildControl, type ControlOp } from "./control";
import { Dispatcher } from "./dispatch";
import { Engine, type SimConfig } from "./engine";
import { createFixture } from "./fixture";
import { buildMethods } from "./methods";
import { DEFAULT_PROFILE, PROFILES, type ProfileName } from "./profiles";
import { parseSnapshot, type SimSnapshot } from "./snapshot";

export { FIXTURE } from "./fixture";
export { PROFILE_NAMES, type ProfileName } from "./profiles";
export { InvalidStateError } from "./snapshot";

export interface SimModelOptions {
  /**
   * The XAPI generation to play: "current" (XCP-ng 8.3, API 2.21), "xenserver-7" (XenServer 7.2, API 2.7,
   * no domain_type) or "xenapi-1.0" (XenAPI 1.0: no domain_type, Crashed). With `state`, the state's
   * own profile is used, and a different one here is refused. @default the state's, else "current"
   */
  profile?: ProfileName;
  /** Accepted user names and passwords. @default { root: "xapi-sim" } */
  users?: Record<string, string>;
  /** The master's address: the parameter of HOST_IS_SLAVE. @default "127.0.0.1" */
  masterAddress?: string;
  /** The pool member's address (its host record). @default "127.0.0.2" */
  memberAddress?: string;
  /** Simulated duration of each lifecycle op, in ms. @default 20 */
  defaultOperationMs?: number;
  /** Per-op durations, keyed by XAPI op name ("start", "clean_shutdown", "clone", …). */
  operationMs?: Partial<Record<string, number>>;
  /** A guest that ignores clean shutdown → VM_SHUTDOWN_TIMEOUT after this many ms. @default 1500 */
  cleanShutdownTimeoutMs?: number;
  /**
   * How long a lifecycle call blocks and retries while another op holds the VM before it fails
   * with OTHER_OPERATION_IN_PROGRESS. Real XAPI retries for up to 2 hours
   * (docs/simulator-behaviour.md#concurrent-operations).
   * @default 2000
   */
  operationWaitMs?: number;
  /** Delay before SESSION_AUTHENTICATION_FAILED. XAPI waits ~5 s. @default 0 */
  authFailureDelayMs?: number;
  /**
   * XenAPI 1.0 compatibility: a crashed guest shows power_state "Crashed". @default the profile's (true for
   * xenapi-1.0)
   */
  crashedCompat?: boolean;
  /** A value previously returned by exportState(). */
  state?: unknown;
}

export interface SimModel {
  dispatch: Dispatch;
  /** Control operations, keyed by name; the wire layer exposes each as POST/GET /_sim/<name>. */
  control: Record<string, (body: Record<string, unknown>) => unknown | Promise<unknown>>;
  /** JSON-serialisable snapshot of persistent objects (not sessions/tasks). */
  exportState(): unknown;
  /** Called after any persistent change (for --state persistence); returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
  /** Clears timers and ends long-polls; in-flight ops fail with INTERNAL_ERROR. */
  close(): void;
}

/** Tables whose changes are persistent (sessions and tasks are not). */
const PERSISTENT_TABLES: ReadonlySet<string> = new Set([
  "VM",
  "pool",
  "host",
  "SR",
  "VDI",
  "VBD",
  "VM_metrics",
  "VM_guest_metrics",
  "VIF",
  "network",
]);

/**
 * Creates a model with the fixture pool (or `options.state`).
 * @throws InvalidStateError when `options.state` is not a valid snapshot (or belongs to another profile).
 * @throws RangeError for an unknown `options.profile`.
 */
export function createModel(options: SimModelOptions = {}): SimModel {
  if (options.profile !== undefined && !Object.hasOwn(PROFILES, options.profile)) {
    throw new RangeError(
      `Unknown xapi-sim profile "${String(options.profile)}"; expected one of ${Object.keys(PROFILES).join(", ")}.`,
    );
  }
  const parsed = options.state === undefined ? undefined : parseSnapshot(options.state, options.profile);
  const profile = PROFILES[parsed?.profile ?? options.profile ?? DEFAULT_PROFILE];
  const config: SimConfig = {
    profile: profile.name,
    users: { ...(options.users ?? { root: "xapi-sim" }) },
    masterAddress: options.masterAddress ?? "127.0.0.1",
    memberAddress: options.memberAddress ?? "127.0.0.2",
    defaultOperationMs: options.defaultOperationMs ?? 20,
    operationMs: { ...(options.operationMs ?? {}) },
    cleanShutdownTimeoutMs: options.cleanShutdownTimeoutMs ?? 1500,
    operationWaitMs: options.operationWaitMs ?? 2000,
    authFailureDelayMs: options.authFailureDelayMs ?? 0,
    crashedCompat: options.crashedCompat ?? profile.crashedCompat,
    latencyMs: 0,
  };
  const initial: SimSnapshot =
    parsed ??
    createFixture({
      masterAddress: config.masterAddress,
      memberAddress: config.memberAddress,
      nowMs: Date.now(),
      profile: profile.name,
    });
  const engine = new Engine(config);
  engine.persistence.load(initial);
  const dispatcher = new Dispatcher(engine, buildMethods(engine));
  const control: Record<string, ControlOp> = buildControl(engine, dispatcher, {
    initial: structuredClone(initial),
    initialConfig: structuredClone(config),
  });
  const listeners = new Set<() => void>();
  engine.db.onChange((table) => {
    if (!PERSISTENT_TABLES.has(table)) return;
    for (const listener of listeners) {
      try {
        listener();
      } catch {
        // A listener's failure must not break the call that changed the state.
      }
    }
  });
  return {
    dispatch: dispatcher.dispatch,
    control,
    exportState: () => engine.persistence.dump(),
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => engine.close(),
  };
}
