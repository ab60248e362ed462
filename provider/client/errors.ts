/**
 * The client's error family. Callers branch on `code`, never on message text.
 *
 * - {@link XapiError}: XAPI answered with a failure (`ErrorDescription = [code, ...params]`), either
 *   directly or as the `error_info` of a finished task.
 * - {@link XapiTransportError}: the request never produced a XAPI answer (socket, TLS, HTTP status,
 *   malformed body). The original failure is kept as `cause`.
 * - {@link XapiTimeoutError}: an asynchronous task did not finish within the per-operation timeout
 *   (the client has asked XAPI to cancel it).
 *
 * None of them ever carries a password: errors name the call (`VM.start`), not its arguments.
 */

/**
 * The XAPI error codes this project branches on (defined in xen-api ocaml/xapi-consts/api_errors.ml). Other codes still arrive as
 * `XapiError` with their wire code; they are just not named here.
 */
export const XapiErrorCode = {
  /** The session ref is unknown or expired: log in again (once). */
  SESSION_INVALID: "SESSION_INVALID",
  /** Login (or a session call) hit a pool member; `params[0]` is the coordinator's address. */
  HOST_IS_SLAVE: "HOST_IS_SLAVE",
  /** Another operation holds the VM; retried with bounded backoff. */
  OTHER_OPERATION_IN_PROGRESS: "OTHER_OPERATION_IN_PROGRESS",
  /** The VM is not in a state the call accepts: the world changed under the plan. */
  VM_BAD_POWER_STATE: "VM_BAD_POWER_STATE",
  /** The guest cannot do a clean shutdown/reboot (no PV drivers). Escalated under `clean-then-hard`. */
  VM_LACKS_FEATURE: "VM_LACKS_FEATURE",
  /** The guest ignored a clean shutdown/reboot. Escalated under `clean-then-hard`. */
  VM_SHUTDOWN_TIMEOUT: "VM_SHUTDOWN_TIMEOUT",
  /** The guest never acknowledged a clean shutdown request. Escalated under `clean-then-hard`. */
  VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT: "VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT",
  /** A task ended because `task.cancel` was called (status `cancelled`). */
  TASK_CANCELLED: "TASK_CANCELLED",
  /** The object is gone: `task.destroy` of a task already destroyed counts as done. */
  HANDLE_INVALID: "HANDLE_INVALID",
  /** `VM.get_by_uuid` found no VM (the resource's read treats the VM as gone). */
  UUID_INVALID: "UUID_INVALID",
  /** `add_to_<map>` of a key the map already has. */
  MAP_DUPLICATE_KEY: "MAP_DUPLICATE_KEY",
  /** `session.login_with_password` refused the username or password. */
  SESSION_AUTHENTICATION_FAILED: "SESSION_AUTHENTICATION_FAILED",
  /** The host's API has no such message (e.g. `event.from` before API 1.9): use the older way. */
  MESSAGE_METHOD_UNKNOWN: "MESSAGE_METHOD_UNKNOWN",
  /** XAPI's catch-all (xenopsd failures such as `No_bootable_device` arrive as this, with text only). */
  INTERNAL_ERROR: "INTERNAL_ERROR",
  /** The PV bootloader (pygrub) failed, e.g. found no kernel on the bootable disks. */
  BOOTLOADER_FAILED: "BOOTLOADER_FAILED",
  /** `VM.set_VCPUs_number_live`: the pool's licence lacks `Live_set_vcpus` (XAPI spells it LICENCE). */
  LICENCE_RESTRICTION: "LICENCE_RESTRICTION",
  /** A memory setter broke the bounds' order (XAPI before v1.230.0: `[constraint]` text). */
  MEMORY_CONSTRAINT_VIOLATION: "MEMORY_CONSTRAINT_VIOLATION",
  /** A memory setter broke `static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max`. */
  MEMORY_CONSTRAINT_VIOLATION_ORDER: "MEMORY_CONSTRAINT_VIOLATION_ORDER",
  /** Memory must be pinned at static_max (DMC not licensed, nested virt, SR-IOV vGPU); `params[0]` says why. */
  MEMORY_CONSTRAINT_VIOLATION_MAXPIN: "MEMORY_CONSTRAINT_VIOLATION_MAXPIN",
  /** A value out of range, e.g. a vCPU count outside `1 ≤ VCPUs_at_startup ≤ VCPUs_max`. */
  INVALID_VALUE: "INVALID_VALUE",
  /** Raising a Running VM's dynamic minimum needs more memory than its host has free. */
  HOST_NOT_ENOUGH_FREE_MEMORY: "HOST_NOT_ENOUGH_FREE_MEMORY",
  /** A start with `VCPUs_max` above the host's physical CPUs. */
  HOST_NOT_ENOUGH_PCPUS: "HOST_NOT_ENOUGH_PCPUS",
} as const;
export type XapiErrorCode = (typeof XapiErrorCode)[keyof typeof XapiErrorCode];

/** Codes the client itself assigns to failures that have no XAPI code. */
export const ClientErrorCode = {
  /** The server answered with an HTTP status other than 200. */
  HTTP_STATUS: "HTTP_STATUS",
  /** The body is not a JSON-RPC response this client can read. */
  BAD_RESPONSE: "BAD_RESPONSE",
  /** No response within the request timeout. */
  REQUEST_TIMEOUT: "REQUEST_TIMEOUT",
  /** TLS: the server's certificate does not match the pinned SHA-256 fingerprint. */
  CERT_FINGERPRINT_MISMATCH: "CERT_FINGERPRINT_MISMATCH",
  /** An asynchronous task outlived the per-operation timeout. */
  TASK_TIMEOUT: "TASK_TIMEOUT",
  /** Any other network failure; the Node error code (ECONNRESET, …) is used when there is one. */
  NETWORK: "NETWORK",
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/**
 * A failure reported by XAPI. `message` is `CODE(p1, p2) in VM.start`.
 *
 * @example
 * ```ts
 * try { await conn.call("VM.start", ref, false, false) }
 * catch (e) { if (e instanceof XapiError && e.code === XapiErrorCode.VM_BAD_POWER_STATE) … }
 * ```
 */
export class XapiError extends Error {
  override readonly name = "XapiError";
  /** The XAPI error code, e.g. `VM_BAD_POWER_STATE`. */
  readonly code: string;
  /** The error parameters as sent by XAPI (strings). */
  readonly params: readonly string[];
  /** The wire method that failed, e.g. `VM.start` (no arguments: they may hold secrets). */
  readonly call: string;
  /** The task whose `error_info` carried this error, for failures of asynchronous calls. */
  readonly task?: string;

  constructor(code: string, params: readonly string[], call: string, task?: string) {
    super(`${code}(${params.join(", ")}) in ${call}`);
    this.code = code;
    this.params = params;
    this.call = call;
    if (task !== undefined) this.task = task;
  }

  /** Build from an `ErrorDescription`-style array (`[code, ...params]`, task `error_info`, JSON-RPC v1). */
  static fromDescription(description: readonly unknown[], call: string, task?: string): XapiError {
    const [code, ...params] = description.map((value) => String(value));
    return new XapiError(code ?? "UNKNOWN_ERROR", params, call, task);
  }
}

/**
 * The request did not produce a XAPI answer. `code` is a {@link ClientErrorCode} or the Node error
 * code of the underlying failure (`ECONNRESET`, `ECONNREFUSED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, …);
 * the original error is `cause`.
 */
export class XapiTransportError extends Error {
  override readonly name = "XapiTransportError";
  readonly code: string;
  /** The wire method that was being sent. */
  readonly call: string;
  /** The endpoint, without credentials. */
  readonly url: string;
  /** HTTP status, for `HTTP_STATUS`. */
  readonly status?: number;

  constructor(
    code: string,
    detail: string,
    call: string,
    url: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(
      `${detail} in ${call} (${url})`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.call = call;
    this.url = url;
    if (options?.status !== undefined) this.status = options.status;
  }
}

/**
 * An asynchronous task did not finish within the per-operation timeout. The client called
 * `task.cancel` (best effort) and `task.destroy` before throwing.
 */
export class XapiTimeoutError extends Error {
  override readonly name = "XapiTimeoutError";
  readonly code = ClientErrorCode.TASK_TIMEOUT;
  readonly call: string;
  readonly task: string;
  readonly timeoutMs: number;

  constructor(call: string, task: string, timeoutMs: number) {
    super(`${call} did not finish within ${timeoutMs} ms; task ${task} was cancelled`);
    this.call = call;
    this.task = task;
    this.timeoutMs = timeoutMs;
  }
}

/** Network failure codes after which the same request may be sent again (nothing was decided). */
const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  ClientErrorCode.REQUEST_TIMEOUT,
]);

/** True for a transport failure that a retry can cure (a dropped or refused connection, a timeout). */
export function isTransientTransportError(error: unknown): error is XapiTransportError {
  return error instanceof XapiTransportError && TRANSIENT_NETWORK_CODES.has(error.code);
}

/** True when `error` is a {@link XapiError} with the given code. */
export function isXapiError(error: unknown, code?: string): error is XapiError {
  return error instanceof XapiError && (code === undefined || error.code === code);
}
