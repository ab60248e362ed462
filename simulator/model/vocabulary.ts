/**
 * Closed vocabularies of xapi-sim's object model, as XAPI spells them on the wire.
 *
 * Each vocabulary is a `const` object (or tuple) plus a same-named union type.
 */

/**
 * The power states xapi-sim can store. The first four are current XAPI
 * (docs/simulator-behaviour.md#power-states);
 * `Crashed` exists only while the XenAPI 1.0 compatibility switch (`crashedCompat`) is on.
 */
export const SimPowerState = {
  Halted: "Halted",
  Paused: "Paused",
  Running: "Running",
  Suspended: "Suspended",
  Crashed: "Crashed",
} as const;
export type SimPowerState = (typeof SimPowerState)[keyof typeof SimPowerState];

/**
 * Every `vm_operations` enum value of XAPI, in the datamodel's order
 * (docs/simulator-behaviour.md#operation-checks).
 * `allowed_operations` is computed over this list minus {@link IGNORED_OPS}.
 */
export const VM_OPERATIONS = [
  "snapshot",
  "clone",
  "copy",
  "create_template",
  "revert",
  "checkpoint",
  "snapshot_with_quiesce",
  "provision",
  "start",
  "start_on",
  "pause",
  "unpause",
  "clean_shutdown",
  "clean_reboot",
  "hard_shutdown",
  "power_state_reset",
  "hard_reboot",
  "suspend",
  "csvm",
  "resume",
  "resume_on",
  "pool_migrate",
  "migrate_send",
  "get_boot_record",
  "send_sysrq",
  "send_trigger",
  "query_services",
  "shutdown",
  "call_plugin",
  "changing_memory_live",
  "awaiting_memory_live",
  "changing_dynamic_range",
  "changing_static_range",
  "changing_memory_limits",
  "changing_shadow_memory",
  "changing_shadow_memory_live",
  "changing_VCPUs",
  "changing_VCPUs_live",
  "changing_NVRAM",
  "assert_operation_valid",
  "data_source_op",
  "update_allowed_operations",
  "make_into_template",
  "import",
  "export",
  "metadata_export",
  "reverting",
  "destroy",
  "create_vtpm",
  "sysprep",
] as const;
export type VmOperation = (typeof VM_OPERATIONS)[number];

/**
 * Parses a `vm_operations` enum value; XAPI lower-cases incoming enums before matching
 * (docs/simulator-behaviour.md#power-states).
 */
export function parseVmOperation(value: string): VmOperation | undefined {
  const lower = value.toLowerCase();
  return VM_OPERATIONS.find((op) => op.toLowerCase() === lower);
}

/**
 * Ops `allowed_operations` never lists, although some are legal
 * (docs/simulator-behaviour.md#operation-checks).
 */
export const IGNORED_OPS: ReadonlySet<VmOperation> = new Set<VmOperation>([
  "create_template",
  "power_state_reset",
  "csvm",
  "get_boot_record",
  "send_sysrq",
  "send_trigger",
  "query_services",
  "shutdown",
  "call_plugin",
  "changing_memory_live",
  "awaiting_memory_live",
  "changing_memory_limits",
  "changing_shadow_memory_live",
  "changing_VCPUs",
  "assert_operation_valid",
  "data_source_op",
  "update_allowed_operations",
  "import",
  "reverting",
]);

/**
 * The lifecycle calls of docs/simulator-behaviour.md#lifecycle-calls, keyed by the XAPI operation each runs
 * as.
 */
export const LIFECYCLE_OPS = [
  "start",
  "start_on",
  "pause",
  "unpause",
  "suspend",
  "resume",
  "resume_on",
  "clean_shutdown",
  "hard_shutdown",
  "shutdown",
  "clean_reboot",
  "hard_reboot",
] as const;
export type LifecycleOp = (typeof LIFECYCLE_OPS)[number];

/**
 * `VM.actions_after_crash` values (`on_crash_behaviour`,
 * docs/simulator-behaviour.md#guest-actions-and-crashes).
 */
export const CrashAction = {
  destroy: "destroy",
  coredumpAndDestroy: "coredump_and_destroy",
  restart: "restart",
  coredumpAndRestart: "coredump_and_restart",
  preserve: "preserve",
  renameRestart: "rename_restart",
} as const;
export type CrashAction = (typeof CrashAction)[keyof typeof CrashAction];

/** `on_normal_exit` values for `actions_after_shutdown` / `actions_after_reboot`. */
export const NormalExitAction = { destroy: "destroy", restart: "restart" } as const;
export type NormalExitAction = (typeof NormalExitAction)[keyof typeof NormalExitAction];

/** `VM.domain_type` values (docs/simulator-behaviour.md#setters). */
export const DOMAIN_TYPES = ["hvm", "pv", "pv_in_pvh", "pvh", "unspecified"] as const;
export type SimDomainType = (typeof DOMAIN_TYPES)[number];

/** `task.status` values (docs/simulator-behaviour.md#tasks). */
export const TaskStatus = {
  pending: "pending",
  success: "success",
  failure: "failure",
  cancelling: "cancelling",
  cancelled: "cancelled",
} as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

/** XAPI's null reference (docs/simulator-behaviour.md#references). */
export const NULL_REF = "OpaqueRef:NULL";

/** `Date.never`: the epoch, what XAPI shows for unset datetimes. */
export const NEVER = "19700101T00:00:00Z";

/** `Constants.hvm_default_boot_policy` (docs/simulator-behaviour.md#domain-type). */
export const HVM_DEFAULT_BOOT_POLICY = "BIOS order";

/** The bootloader names xenopsd recognises (docs/simulator-behaviour.md#booting). */
export const KNOWN_BOOTLOADERS: ReadonlySet<string> = new Set(["pygrub", "eliloader"]);

/**
 * Where the control domain has each bootloader: xenopsd resolves "pygrub" / "eliloader" on its search
 * path, `/usr/libexec/xen/bin` on XCP-ng 8.3 (xenopsd `resources.ml`). [INFERRED paths]
 */
export const BOOTLOADER_PATHS: Readonly<Record<string, string>> = {
  pygrub: "/usr/libexec/xen/bin/pygrub",
  eliloader: "/usr/bin/eliloader",
};

/** Where direct-boot kernels and ramdisks must live (docs/simulator-behaviour.md#booting). */
export const GUEST_KERNEL_DIR = "/var/lib/xcp/guest/";

/** The XAPI error codes this model raises, so callers branch on constants, not literals. */
export const ErrorCode = {
  sessionAuthenticationFailed: "SESSION_AUTHENTICATION_FAILED",
  sessionInvalid: "SESSION_INVALID",
  hostIsSlave: "HOST_IS_SLAVE",
  messageMethodUnknown: "MESSAGE_METHOD_UNKNOWN",
  messageParameterCountMismatch: "MESSAGE_PARAMETER_COUNT_MISMATCH",
  messageRemoved: "MESSAGE_REMOVED",
  handleInvalid: "HANDLE_INVALID",
  uuidInvalid: "UUID_INVALID",
  operationBlocked: "OPERATION_BLOCKED",
  operationNotAllowed: "OPERATION_NOT_ALLOWED",
  vmBadPowerState: "VM_BAD_POWER_STATE",
  otherOperationInProgress: "OTHER_OPERATION_IN_PROGRESS",
  vmIsTemplate: "VM_IS_TEMPLATE",
  vmIsSnapshot: "VM_IS_SNAPSHOT",
  vmLacksFeature: "VM_LACKS_FEATURE",
  vmShutdownTimeout: "VM_SHUTDOWN_TIMEOUT",
  vmHasNoSuspendVdi: "VM_HAS_NO_SUSPEND_VDI",
  provisionOnlyAllowedOnTemplate: "PROVISION_ONLY_ALLOWED_ON_TEMPLATE",
  revertOnlyAllowedOnSnapshot: "REVERT_ONLY_ALLOWED_ON_SNAPSHOT",
  vmSnapshotWithQuiesceNotSupported: "VM_SNAPSHOT_WITH_QUIESCE_NOT_SUPPORTED",
  cannotResetControlDomain: "CANNOT_RESET_CONTROL_DOMAIN",
  domainExists: "DOMAIN_EXISTS",
  hostIsLive: "HOST_IS_LIVE",
  taskCancelled: "TASK_CANCELLED",
  eventFromTokenParseFailure: "EVENT_FROM_TOKEN_PARSE_FAILURE",
  eventSubscriptionParseFailure: "EVENT_SUBSCRIPTION_PARSE_FAILURE",
  sessionNotRegistered: "SESSION_NOT_REGISTERED",
  eventsLost: "EVENTS_LOST",
  invalidValue: "INVALID_VALUE",
  valueNotSupported: "VALUE_NOT_SUPPORTED",
  mapDuplicateKey: "MAP_DUPLICATE_KEY",
  fieldTypeError: "FIELD_TYPE_ERROR",
  internalError: "INTERNAL_ERROR",
  bootloaderFailed: "BOOTLOADER_FAILED",
  vdiInUse: "VDI_IN_USE",
  vmNoSuspendSr: "VM_NO_SUSPEND_SR",
  vmIsUsingNestedVirt: "VM_IS_USING_NESTED_VIRT",
  licenceRestriction: "LICENCE_RESTRICTION",
  memoryConstraintViolation: "MEMORY_CONSTRAINT_VIOLATION",
  memoryConstraintViolationOrder: "MEMORY_CONSTRAINT_VIOLATION_ORDER",
  memoryConstraintViolationMaxpin: "MEMORY_CONSTRAINT_VIOLATION_MAXPIN",
  hostNotEnoughFreeMemory: "HOST_NOT_ENOUGH_FREE_MEMORY",
  hostNotEnoughPcpus: "HOST_NOT_ENOUGH_PCPUS",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
