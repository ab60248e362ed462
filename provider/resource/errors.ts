/**
 * Errors of the `Vm` provider. Callers (and tests) branch on `code`, never on message text.
 */

/** What went wrong, as a closed vocabulary. */
export const ProviderErrorCode = {
  /** `xapi:url` or `xapi:password` (or their environment fallbacks) is not set. */
  MISSING_CONFIG: "MISSING_CONFIG",
  /** A connection setting is malformed. */
  INVALID_CONFIG: "INVALID_CONFIG",
  /** The properties failed validation (normally caught by `check` before any call). */
  INVALID_INPUTS: "INVALID_INPUTS",
  /** No template has the declared `template` name. */
  TEMPLATE_NOT_FOUND: "TEMPLATE_NOT_FOUND",
  /** Several templates have the declared `template` name. */
  TEMPLATE_AMBIGUOUS: "TEMPLATE_AMBIGUOUS",
  /** The VM to adopt (or to update) does not exist. */
  VM_NOT_FOUND: "VM_NOT_FOUND",
  /** The VM is owned by another Pulumi resource (its `other_config["pulumi-xapi:urn"]`). */
  OWNED_ELSEWHERE: "OWNED_ELSEWHERE",
  /** Several VMs carry this resource's owner tag (a copy of a managed VM keeps it): which one is meant is unknown. */
  AMBIGUOUS_OWNER: "AMBIGUOUS_OWNER",
  /** The recorded VM belongs to another pool than the one the connection reaches now. */
  POOL_MISMATCH: "POOL_MISMATCH",
  /** XAPI refused the username or password. */
  AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED",
  /** The planner found no legal plan under the declared policy. */
  PLAN_FAILED: "PLAN_FAILED",
  /** A `customTimeouts` deadline passed. */
  DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
  /** The executor or a XAPI call failed; `cause` has the details (an `ExecutionError` or `XapiError`). */
  XAPI_FAILED: "XAPI_FAILED",
} as const;
export type ProviderErrorCode = (typeof ProviderErrorCode)[keyof typeof ProviderErrorCode];

/** A failure of the provider itself (configuration, identity, policy), before or around XAPI calls. */
export class ProviderError extends Error {
  override readonly name = "ProviderError";
  readonly code: ProviderErrorCode;

  constructor(code: ProviderErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/**
 * An operation failed after the VM existed (or was adopted). The dynamic-provider host sees `id`
 * and packs the error as `ErrorResourceInitFailed`, so the engine records the VM with `properties`
 * (what was observed, including `lastCalls`) instead of forgetting it; the next `pulumi up` updates
 * it from there.
 */
export class VmOperationError extends Error {
  override readonly name = "VmOperationError";
  readonly code: ProviderErrorCode;
  /** The VM uuid (the resource id). Read by the host. */
  readonly id: string;
  /** The resource's outputs as observed after the failure. Read by the host. */
  readonly properties: Record<string, unknown>;
  /** One line per reason. Read by the host. */
  readonly reasons: string[];

  constructor(
    code: ProviderErrorCode,
    message: string,
    id: string,
    properties: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.id = id;
    this.properties = properties;
    this.reasons = [message];
  }
}
