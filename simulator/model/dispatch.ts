/**
 * XAPI's server dispatch, in the order of docs/simulator-behaviour.md#wire-and-dispatch: `Async.` prefix
 * strip and name
 * lookup (MESSAGE_METHOD_UNKNOWN), arity (MESSAGE_PARAMETER_COUNT_MISMATCH), session check
 * (SESSION_INVALID, HOST_IS_SLAVE on the member), the no-async-mode fault, then the call, as a
 * task for async-capable messages. Also the simulator's counters, call log and fault injection.
 */
import { type CallMeta, DropConnection, XapiFault, type XValue } from "../api";
import type { Engine } from "./engine";
import type { MethodSpec } from "./methods";
import { ErrorCode } from "./vocabulary";

/** An injected fault: fail (or drop) the next `remaining` calls of `method`. */
export interface InjectedFault {
  /**
   * Wire name ("VM.start" matches "VM.start", "Async.VM.start" and "VM_start"; "Async.VM.start" only the
   * async form).
   */
  readonly method: string;
  readonly code?: string;
  readonly params?: readonly string[];
  readonly drop?: boolean;
  remaining: number;
}

/** One line of the call log (control op `callLog`). */
export interface CallLogEntry {
  readonly seq: number;
  readonly method: string;
  /** UUID of the VM the call names, if any. */
  readonly vm?: string;
  /** Parameters without the session (login passwords masked). */
  readonly params: readonly unknown[];
  readonly ok: boolean;
  /** XAPI error code, "DROPPED" for an injected drop, or "INTERNAL_ERROR". */
  readonly error?: string;
  readonly host: CallMeta["host"];
  readonly transport: CallMeta["transport"];
  /** For `Async.` calls: the task the call returned. */
  readonly task?: string;
}

/**
 * Errors XAPI returns directly even for `Async.` calls (they happen before the task exists,
 * docs/simulator-behaviour.md#tasks).
 */
const EARLY_CODES: ReadonlySet<string> = new Set([
  ErrorCode.sessionInvalid,
  ErrorCode.hostIsSlave,
  ErrorCode.messageMethodUnknown,
  ErrorCode.messageParameterCountMismatch,
  ErrorCode.sessionAuthenticationFailed,
  "RBAC_PERMISSION_DENIED",
]);

const MAX_LOG = 10_000;

/**
 * A hook around every XAPI call (control op `hold`, `control.ts`): `before` is awaited before the call
 * is counted, logged or run; `answered` after it ran and was logged, before its answer (or error) is
 * returned. Either may throw a {@link DropConnection} to close the connection instead of answering.
 */
export interface CallGate {
  before(method: string): Promise<void>;
  answered(entry: CallLogEntry): Promise<void>;
}

function toFault(error: unknown): XapiFault {
  if (error instanceof XapiFault) return error;
  return new XapiFault(ErrorCode.internalError, [error instanceof Error ? error.message : String(error)]);
}

export class Dispatcher {
  faults: InjectedFault[] = [];
  calls: Record<string, number> = {};
  logins = 0;
  logouts = 0;
  log: CallLogEntry[] = [];
  /** Set by control op `hold`. */
  gate: CallGate | undefined;
  private seq = 0;

  constructor(
    private readonly e: Engine,
    private readonly methods: ReadonlyMap<string, MethodSpec>,
  ) {}

  /** Clears counters, the call log and faults (control op `reset`). */
  clear(): void {
    this.faults = [];
    this.calls = {};
    this.logins = 0;
    this.logouts = 0;
    this.log = [];
  }

  readonly dispatch = async (method: string, params: readonly unknown[], meta: CallMeta): Promise<XValue> => {
    if (this.gate !== undefined) await this.gate.before(method);
    const seq = ++this.seq;
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    const base = {
      seq,
      method,
      params: this.loggable(method, params),
      host: meta.host,
      transport: meta.transport,
    };
    const vm = this.vmOf(params);
    const entry = vm === undefined ? base : { ...base, vm };
    let result: XValue;
    try {
      result = await this.run(method, params, meta);
    } catch (error) {
      const code =
        error instanceof XapiFault
          ? error.code
          : error instanceof DropConnection
            ? "DROPPED"
            : ErrorCode.internalError;
      const failed: CallLogEntry = { ...entry, ok: false, error: code };
      this.record(failed);
      if (this.gate !== undefined) await this.gate.answered(failed);
      throw error;
    }
    if (method.endsWith("session.login_with_password")) this.logins += 1;
    if (method.endsWith("session.logout")) this.logouts += 1;
    const done: CallLogEntry =
      method.startsWith("Async.") && typeof result === "string"
        ? { ...entry, ok: true, task: result }
        : { ...entry, ok: true };
    this.record(done);
    if (this.gate !== undefined) await this.gate.answered(done);
    return result;
  };

  private record(entry: CallLogEntry): void {
    this.log.push(entry);
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG);
  }

  private loggable(method: string, params: readonly unknown[]): unknown[] {
    if (method.endsWith("session.login_with_password")) {
      // A "secret" call: XAPI does not log its parameters; keep the user name, mask the password.
      return params.map((p, i) => (i === 1 ? "******" : p));
    }
    const spec = this.resolve(method)?.spec;
    return spec?.session === false ? [...params] : params.slice(1);
  }

  private vmOf(params: readonly unknown[]): string | undefined {
    for (const p of params) {
      if (typeof p !== "string") continue;
      const vm = this.e.vms.get(p);
      if (vm) return vm.uuid;
      if (!p.startsWith("OpaqueRef:")) {
        const byUuid = this.e.vms.values().find((v) => v.uuid === p);
        if (byUuid) return byUuid.uuid;
      }
    }
    return undefined;
  }

  private takeFault(method: string, canonical: string | undefined): InjectedFault | undefined {
    const fault = this.faults.find(
      (f) =>
        f.remaining > 0 &&
        (f.method === method || (!f.method.startsWith("Async.") && f.method === canonical)),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return fault;
  }

  /**
   * The spec for a wire name: `Async.`/`InternalAsync.` stripped, `Class_method` accepted
   * (docs/simulator-behaviour.md#wire-and-dispatch).
   */
  private resolve(
    method: string,
  ): { spec: MethodSpec | undefined; name: string; isAsync: boolean } | undefined {
    let name = method;
    let isAsync = false;
    if (name.startsWith("Async.")) {
      name = name.slice("Async.".length);
      isAsync = true;
    } else if (name.startsWith("InternalAsync.")) {
      name = name.slice("InternalAsync.".length);
      isAsync = true;
    }
    let spec = this.methods.get(name);
    // "X_y api call format does not work with Async" (server_helpers.ml).
    if (!spec && !isAsync && !name.includes(".")) {
      const i = name.indexOf("_");
      if (i > 0) spec = this.methods.get(`${name.slice(0, i)}.${name.slice(i + 1)}`);
    }
    return { spec, name, isAsync };
  }

  /**
   * XAPI's `Session_check.check`: an unknown session is SESSION_INVALID [ref] (on the member too, whose
   * lookup misses the same way); a valid non-pool session on the member is HOST_IS_SLAVE [master].
   */
  private checkSession(s: unknown, meta: CallMeta): void {
    if (typeof s !== "string" || !this.e.sessions.has(s)) {
      throw new XapiFault(ErrorCode.sessionInvalid, [typeof s === "string" ? s : String(s)]);
    }
    if (meta.host === "member") throw new XapiFault(ErrorCode.hostIsSlave, [this.e.config.masterAddress]);
  }

  private async run(method: string, params: readonly unknown[], meta: CallMeta): Promise<XValue> {
    if (this.e.config.latencyMs > 0) await this.e.clock.sleep(this.e.config.latencyMs);
    const resolved = this.resolve(method);
    const spec = resolved?.spec;
    const name = resolved?.name ?? method;
    const isAsync = resolved?.isAsync ?? false;
    const fault = this.takeFault(method, spec?.name);
    if (fault?.drop) throw new DropConnection(`xapi-sim: injected connection drop for ${method}`);
    const injected = fault?.code === undefined ? undefined : new XapiFault(fault.code, fault.params ?? []);
    // Injected lifecycle errors of an Async call surface through its task, like real ones.
    const injectIntoTask =
      injected !== undefined && isAsync && spec?.async === true && !EARLY_CODES.has(injected.code);
    if (injected && !injectIntoTask) throw injected;

    if (!spec) {
      // XAPI forwards an unknown name to its extension mechanism, which session-checks a first parameter
      // first (gen_server.ml `| func ->`, docs/simulator-behaviour.md#wire-and-dispatch): a dead session
      // gives SESSION_INVALID, not this.
      const first = params[0];
      if (typeof first === "string") this.checkSession(first, meta);
      throw new XapiFault(ErrorCode.messageMethodUnknown, [name]);
    }
    const received = params.length - (spec.session ? 1 : 0);
    const mandatory = spec.params.length - spec.defaults;
    if (spec.name !== "system.listMethods" && (received < mandatory || received > spec.params.length)) {
      throw new XapiFault(ErrorCode.messageParameterCountMismatch, [
        name,
        String(mandatory),
        String(received),
      ]);
    }
    let session: string | undefined;
    if (spec.session) {
      const s = params[0];
      this.checkSession(s, meta);
      session = s as string;
    }
    if (isAsync && !spec.async) {
      // API.response_of_fault: ErrorDescription ["Fault"; msg] (server_helpers.ml).
      throw new XapiFault("Fault", [`No async mode for this operation (rpc: ${name})`]);
    }
    const args = spec.session ? params.slice(1) : params;
    if (!spec.async) return spec.impl({ args, session, meta, ctx: undefined, wireName: method });

    const task = this.e.taskRunner.create(method, session);
    const ctx = { task, signal: this.e.taskRunner.signal(task) };
    const exec = async (): Promise<XValue> => {
      if (injectIntoTask && injected) throw injected;
      return spec.impl({ args, session, meta, ctx, wireName: method });
    };
    if (isAsync) {
      exec().then(
        (value) => this.e.taskRunner.finish(task, { ok: true, value }),
        (error: unknown) => this.e.taskRunner.finish(task, { ok: false, error: toFault(error) }),
      );
      return task;
    }
    // A sync call to an async-capable message runs as an internal task, gone when it returns
    // (docs/simulator-behaviour.md#tasks).
    try {
      return await exec();
    } finally {
      this.e.taskRunner.destroy(task);
    }
  }
}
