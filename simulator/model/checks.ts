/**
 * XAPI's `check_operation_error` and `allowed_operations`, as pure functions of a VM's state
 * (docs/simulator-behaviour.md#operation-checks). No I/O, no clocks: the engine calls these and raises what
 * they return.
 */
import { XapiFault } from "../api";
import { ErrorCode, IGNORED_OPS, SimPowerState, VM_OPERATIONS, type VmOperation } from "./vocabulary";

/** What the checks need to know about one VM. */
export interface VmCheckView {
  readonly ref: string;
  readonly power_state: SimPowerState;
  readonly is_a_template: boolean;
  readonly is_default_template: boolean;
  readonly is_a_snapshot: boolean;
  readonly is_control_domain: boolean;
  readonly domid: number;
  readonly blocked_operations: Readonly<Record<string, string>>;
  /** task ref → op name. */
  readonly current_operations: Readonly<Record<string, string>>;
  /** The guest has PV drivers (feature-shutdown, feature-reboot, feature-suspend, …). */
  readonly pvDrivers: boolean;
  /** The live domain was built PV, PVH or PV-in-PVH (VM_metrics.current_domain_type). */
  readonly bootedPvLike: boolean;
  /** VM_guest_metrics.other (the agent's `control/*` flags), `undefined` when the VM has no guest metrics. */
  readonly guestOther?: Readonly<Record<string, string>> | undefined;
  /** The VM uses nested virtualisation (VM_metrics.nested_virt, else `platform:nested-virt`). */
  readonly nestedVirt?: boolean;
}

/** Switches that change the checks. */
export interface CheckOptions {
  /** XenAPI 1.0 mode: `Crashed` is a state, left only by `hard_shutdown` (or a DB reset). */
  readonly crashedCompat: boolean;
}

const { Halted, Paused, Running, Suspended, Crashed } = SimPowerState;
const ALL_FOUR: readonly SimPowerState[] = [Halted, Paused, Suspended, Running];

/**
 * `allowed_power_states` (docs/simulator-behaviour.md#operation-checks), in the code's order; that order is
 * also the
 * order of the "expected" parameter of VM_BAD_POWER_STATE (docs/simulator-behaviour.md#error-parameters).
 */
export function allowedPowerStates(op: VmOperation, vm: VmCheckView, options: CheckOptions): SimPowerState[] {
  const base = basePowerStates(op, vm);
  // XenAPI 1.0: "a hardShutdown will move the VM to the powered down state" (seed); ops legal in every state
  // stay legal.
  if (options.crashedCompat && (op === "hard_shutdown" || base.length === ALL_FOUR.length)) {
    return [...base, Crashed];
  }
  return base;
}

function basePowerStates(op: VmOperation, vm: VmCheckView): SimPowerState[] {
  switch (op) {
    case "import":
      return [];
    case "changing_VCPUs":
    case "changing_static_range":
    case "changing_memory_limits":
      return vm.is_control_domain ? [Halted, Running] : [Halted];
    case "changing_shadow_memory":
    case "changing_NVRAM":
    case "make_into_template":
    case "provision":
    case "start":
    case "start_on":
    case "create_vtpm":
      return [Halted];
    case "unpause":
      return [Paused];
    case "csvm":
    case "resume":
    case "resume_on":
      return [Suspended];
    case "awaiting_memory_live":
    case "call_plugin":
    case "clean_reboot":
    case "clean_shutdown":
    case "changing_memory_live":
    case "changing_shadow_memory_live":
    case "changing_VCPUs_live":
    case "data_source_op":
    case "pause":
    case "pool_migrate":
    case "send_sysrq":
    case "send_trigger":
    case "snapshot_with_quiesce":
    case "sysprep":
    case "suspend":
      return [Running];
    case "changing_dynamic_range":
      return [Halted, Running];
    case "clone":
    case "copy":
      return vm.is_a_snapshot ? [Halted, Suspended] : [Halted];
    case "create_template":
    case "destroy":
    case "export":
      return [Halted, Suspended];
    case "hard_reboot":
      return [Paused, Running];
    case "checkpoint":
    case "get_boot_record":
    case "shutdown":
    case "hard_shutdown":
      return [Paused, Suspended, Running];
    case "migrate_send":
      return [Halted, Suspended, Running];
    case "assert_operation_valid":
    case "metadata_export":
    case "power_state_reset":
    case "revert":
    case "reverting":
    case "snapshot":
    case "update_allowed_operations":
    case "query_services":
      return [...ALL_FOUR];
  }
}

/**
 * Lower-case power-state name, as `check_operation_error` prints it
 * (docs/simulator-behaviour.md#error-parameters).
 */
export function lowerState(state: SimPowerState): string {
  return state.toLowerCase();
}

/**
 * VM_BAD_POWER_STATE from `check_operation_error`: lower case, `", "`-joined
 * (docs/simulator-behaviour.md#error-parameters).
 */
export function badPowerState(
  vmRef: string,
  expected: readonly SimPowerState[],
  actual: SimPowerState,
): XapiFault {
  return new XapiFault(ErrorCode.vmBadPowerState, [
    vmRef,
    expected.map(lowerState).join(", "),
    lowerState(actual),
  ]);
}

const CLONE_LIKE: ReadonlySet<string> = new Set(["clone", "copy", "export"]);
const SNAPSHOT_LIKE: ReadonlySet<string> = new Set(["snapshot", "checkpoint"]);

/**
 * Whether `op` may start while `running` ops are in `current_operations`
 * (docs/simulator-behaviour.md#concurrent-operations).
 */
export function allowedConcurrently(op: VmOperation, running: readonly string[]): boolean {
  if (running.length === 0) return true;
  const all = [op, ...running];
  if (all.every((o) => CLONE_LIKE.has(o))) return true;
  if (all.every((o) => SNAPSHOT_LIKE.has(o))) return true;
  if (all.every((o) => o === "get_boot_record")) return true;
  if (op === "hard_shutdown") return !running.includes("hard_shutdown");
  if (op === "hard_reboot") return !running.some((o) => o === "hard_shutdown" || o === "hard_reboot");
  if (running.length === 1 && running[0] === "snapshot_with_quiesce" && op === "snapshot") return true;
  if (
    running.length === 1 &&
    running[0] === "migrate_send" &&
    (op === "metadata_export" || op === "clean_shutdown" || op === "clean_reboot")
  ) {
    return true;
  }
  return false;
}

/**
 * OTHER_OPERATION_IN_PROGRESS ["VM", vm, op(s), task(s)]; several become `{a,b}`
 * (docs/simulator-behaviour.md#operation-checks).
 */
export function otherOperationInProgress(
  vmRef: string,
  current: Readonly<Record<string, string>>,
): XapiFault {
  const tasks = Object.keys(current);
  const ops = Object.values(current);
  const join = (xs: string[]): string => (xs.length === 1 ? (xs[0] ?? "") : `{${xs.join(",")}}`);
  return new XapiFault(ErrorCode.otherOperationInProgress, ["VM", vmRef, join(ops), join(tasks)]);
}

const TEMPLATE_OPS: ReadonlySet<VmOperation> = new Set<VmOperation>([
  "changing_dynamic_range",
  "changing_static_range",
  "changing_memory_limits",
  "changing_shadow_memory",
  "changing_VCPUs",
  "changing_NVRAM",
  "clone",
  "copy",
  "export",
  "metadata_export",
  "provision",
]);

const SNAPSHOT_OPS: ReadonlySet<VmOperation> = new Set<VmOperation>([
  "revert",
  "clone",
  "copy",
  "export",
  "destroy",
  "hard_shutdown",
  "metadata_export",
]);

const CONTROL_DOMAIN_OPS: ReadonlySet<VmOperation> = new Set<VmOperation>([
  "data_source_op",
  "changing_memory_live",
  "awaiting_memory_live",
  "metadata_export",
  "changing_dynamic_range",
  "changing_memory_limits",
  "changing_static_range",
  "start",
  "start_on",
  "changing_VCPUs",
  "destroy",
]);

const SUSPEND_LIKE: ReadonlySet<VmOperation> = new Set<VmOperation>([
  "suspend",
  "checkpoint",
  "pool_migrate",
  "migrate_send",
]);

function isLive(state: SimPowerState): boolean {
  return state === Running || state === Paused;
}

/**
 * The guest-feature rules of docs/simulator-behaviour.md#operation-checks (strict mode, as every lifecycle
 * call uses).
 * "Implicit support": not live, or booted PV-like, or PV drivers present.
 */
function featureError(op: VmOperation, vm: VmCheckView): XapiFault | undefined {
  const implicit = !isLive(vm.power_state) || vm.bootedPvLike || vm.pvDrivers;
  if (implicit) return undefined;
  if (SUSPEND_LIKE.has(op) || op === "clean_shutdown" || op === "clean_reboot") {
    return new XapiFault(ErrorCode.vmLacksFeature, [vm.ref]);
  }
  // Without implicit support a live vCPU change needs the agent's feature-vcpu-hotplug = "1"
  // (`check_op_for_feature`, whether strict or not).
  if (op === "changing_VCPUs_live" && vm.guestOther?.["feature-vcpu-hotplug"] !== "1") {
    return new XapiFault(ErrorCode.vmLacksFeature, [vm.ref]);
  }
  return undefined;
}

/**
 * XAPI's `check_operation_error ~strict:true`: the first failing check wins, in the order of
 * docs/simulator-behaviour.md#operation-checks. Returns `undefined` when `op` may run now.
 */
export function checkOperationError(
  vm: VmCheckView,
  op: VmOperation,
  options: CheckOptions,
): XapiFault | undefined {
  // 1. blocked_operations
  const blocked = vm.blocked_operations[op];
  if (blocked !== undefined) return new XapiFault(ErrorCode.operationBlocked, [vm.ref, blocked]);
  // 2. power state
  const allowed = allowedPowerStates(op, vm, options);
  if (!allowed.includes(vm.power_state)) return badPowerState(vm.ref, allowed, vm.power_state);
  // 3. concurrency
  const running = Object.values(vm.current_operations);
  if (!allowedConcurrently(op, running)) return otherOperationInProgress(vm.ref, vm.current_operations);
  // 4. templates (a default template also refuses destroy and migrate_send)
  if (vm.is_a_template && !vm.is_a_snapshot) {
    const okOnTemplate =
      TEMPLATE_OPS.has(op) || (!vm.is_default_template && (op === "destroy" || op === "migrate_send"));
    if (!okOnTemplate) return new XapiFault(ErrorCode.vmIsTemplate, [vm.ref, op]);
  }
  // 5. snapshots
  if (vm.is_a_snapshot && !SNAPSHOT_OPS.has(op)) return new XapiFault(ErrorCode.vmIsSnapshot, [vm.ref, op]);
  // 6. provision / revert
  if (op === "provision" && !vm.is_a_template)
    return new XapiFault(ErrorCode.provisionOnlyAllowedOnTemplate, []);
  if (op === "revert" && !vm.is_a_snapshot) return new XapiFault(ErrorCode.revertOnlyAllowedOnSnapshot, []);
  // 8. a nested-virt VM cannot change its dynamic range (strict mode)
  if (op === "changing_dynamic_range" && vm.nestedVirt === true)
    return new XapiFault(ErrorCode.vmIsUsingNestedVirt, [vm.ref]);
  // 9. control domains
  if (vm.is_control_domain) {
    if (vm.domid === 0 && (op === "changing_VCPUs" || op === "destroy")) {
      return new XapiFault(ErrorCode.operationNotAllowed, ["This operation is not allowed on dom0"]);
    }
    if (!CONTROL_DOMAIN_OPS.has(op)) {
      return new XapiFault(ErrorCode.operationNotAllowed, [
        "This operation is not allowed on a control domain",
      ]);
    }
  }
  // 10. guest features
  const feature = featureError(op, vm);
  if (feature) return feature;
  // 11. VSS quiesced snapshots were removed
  if (op === "snapshot_with_quiesce")
    return new XapiFault(ErrorCode.vmSnapshotWithQuiesceNotSupported, [vm.ref]);
  return undefined;
}

/**
 * `allowed_operations` (docs/simulator-behaviour.md#operation-checks): every op that passes the checks,
 * except the
 * ignored ones (`shutdown` is never listed). Reverse enum order, as XAPI's fold_left prepend
 * produces it; clients must treat it as a set.
 */
export function allowedOperations(vm: VmCheckView, options: CheckOptions): VmOperation[] {
  const out: VmOperation[] = [];
  for (const op of VM_OPERATIONS) {
    if (IGNORED_OPS.has(op)) continue;
    if (checkOperationError(vm, op, options) === undefined) out.unshift(op);
  }
  return out;
}
