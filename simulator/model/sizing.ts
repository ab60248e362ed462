/**
 * XAPI's rules for a VM's vCPU and memory fields, as pure functions (docs/simulator-behaviour.md#sizing):
 * the range checks of the setters, the memory constraints (`ocaml/xapi/xapi_vm_memory_constraints.ml`,
 * `ocaml/xapi/vm_memory_constraints.ml`), the start-time validation (`ocaml/xapi/xapi_vm_helpers.ml`
 * `validate_vcpus`, `validate_memory`, `assert_enough_pcpus`), the pool licence flags
 * (`ocaml/xapi-types/features.ml`) and squeezed's choice of a balloon target. No I/O.
 */
import { XapiFault } from "../api";
import { releaseIsAfter, type SimProfile } from "./profiles";
import type { StringMap, VmRecord } from "./records";
import { ErrorCode } from "./vocabulary";

/** The five memory values XAPI checks together (`Vm_memory_constraints.t`), in bytes. */
export interface MemoryConstraints {
  readonly static_min: number;
  readonly dynamic_min: number;
  readonly target: number;
  readonly dynamic_max: number;
  readonly static_max: number;
}

/** The INVALID_VALUE "field" of both vCPU setters (`set_VCPUs_max`, `set_VCPUs_at_startup` in xapi_vm.ml). */
export const VCPU_RANGE_RULE = "VCPU values must satisfy: 0 < VCPUs_at_startup ≤ VCPUs_max";

/** The INVALID_VALUE "field" of a live vCPU change xenopsd refused (`set_vcpus` in xapi_xenops.ml). */
export const LIVE_VCPU_RULE = "VCPU values must satisfy: 0 < VCPUs ≤ VCPUs_max";

/** The constraint texts of MEMORY_CONSTRAINT_VIOLATION before xapi 1.230.0 (xapi_vm_memory_constraints.ml). */
const ORDER_RULE = "Memory limits must satisfy: static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max";
const PINNED_RULE = "Memory limits must satisfy: static_min ≤ dynamic_min = dynamic_max = static_max";

/**
 * The xapi release that split MEMORY_CONSTRAINT_VIOLATION [constraint] into `_ORDER []` and
 * `_MAXPIN [reason]` (xen-api commit d6990bdf07, 2020-03-13).
 */
export const MEMORY_ERRORS_SPLIT_IN = "1.230.0";

/** True when the profile's XAPI predates the split: its memory setters raise MEMORY_CONSTRAINT_VIOLATION. */
export function legacyMemoryErrors(profile: SimProfile): boolean {
  return profile.release !== null && releaseIsAfter(MEMORY_ERRORS_SPLIT_IN, profile.release);
}

/** `are_valid`: static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max. */
export function constraintsInOrder(c: MemoryConstraints): boolean {
  return c.static_min <= c.dynamic_min && c.dynamic_min <= c.dynamic_max && c.dynamic_max <= c.static_max;
}

/** `are_valid_and_pinned_at_static_max`: static_min ≤ dynamic_min = dynamic_max = static_max. */
function pinnedAtStaticMax(c: MemoryConstraints): boolean {
  return c.static_min <= c.dynamic_min && c.dynamic_min === c.dynamic_max && c.dynamic_max === c.static_max;
}

/** What `assert_valid_for_current_context` reads besides the constraints. */
export interface ConstraintContext {
  /** The pool's DMC feature is enabled (`restrict_dmc` is "false"). */
  readonly dmc: boolean;
  readonly controlDomain: boolean;
  /** The VM uses nested virtualisation (VM_metrics.nested_virt, else `platform:nested-virt`). */
  readonly nestedVirt: boolean;
  /** The profile's XAPI predates 1.230.0 (one code, a text parameter). */
  readonly legacy: boolean;
}

/**
 * `assert_valid_for_current_context`: without DMC, for a control domain or a nested-virt VM the dynamic
 * range must be pinned at static_max (MEMORY_CONSTRAINT_VIOLATION_MAXPIN [reason]); otherwise in order
 * (MEMORY_CONSTRAINT_VIOLATION_ORDER []). Before 1.230.0 both were MEMORY_CONSTRAINT_VIOLATION [text].
 */
export function memoryConstraintError(c: MemoryConstraints, ctx: ConstraintContext): XapiFault | undefined {
  const pinReason = !ctx.dmc
    ? "DMC disabled"
    : ctx.controlDomain
      ? "control domain"
      : ctx.nestedVirt
        ? "nested virt"
        : undefined;
  if (pinReason === undefined) {
    if (constraintsInOrder(c)) return undefined;
    return ctx.legacy
      ? new XapiFault(ErrorCode.memoryConstraintViolation, [ORDER_RULE])
      : new XapiFault(ErrorCode.memoryConstraintViolationOrder, []);
  }
  if (pinnedAtStaticMax(c)) return undefined;
  return ctx.legacy
    ? new XapiFault(ErrorCode.memoryConstraintViolation, [PINNED_RULE])
    : new XapiFault(ErrorCode.memoryConstraintViolationMaxpin, [pinReason]);
}

/** The VM's current constraints (`Vm_memory_constraints.get`), with some values replaced. */
export function constraintsOf(vm: VmRecord, change: Partial<MemoryConstraints> = {}): MemoryConstraints {
  return {
    static_min: vm.memory_static_min,
    dynamic_min: vm.memory_dynamic_min,
    target: vm.memory_target,
    dynamic_max: vm.memory_dynamic_max,
    static_max: vm.memory_static_max,
    ...change,
  };
}

/** True when `platform[key]` is true the way `Vm_platform.is_true` reads it ("true" or "1", any case). */
export function platformFlag(platform: Readonly<StringMap>, key: string): boolean {
  const v = platform[key]?.toLowerCase();
  return v === "true" || v === "1";
}

/**
 * Start-time vCPU and memory validation (`validate_vcpus`, then `validate_memory`): INVALID_VALUE
 * ["VCPUs_max" | "VCPUs-at-startup"; value], VALUE_NOT_SUPPORTED ["VCPUs-at-startup"; value; "value greater
 * than VCPUs-max"], MEMORY_CONSTRAINT_VIOLATION [] when no coercion makes the memory values valid
 * (`transform`: static_max < static_min or dynamic_max < dynamic_min).
 */
export function startSizingError(vm: VmRecord): XapiFault | undefined {
  if (vm.VCPUs_max < 1) return new XapiFault(ErrorCode.invalidValue, ["VCPUs_max", String(vm.VCPUs_max)]);
  if (vm.VCPUs_at_startup < 1)
    return new XapiFault(ErrorCode.invalidValue, ["VCPUs-at-startup", String(vm.VCPUs_at_startup)]);
  if (vm.VCPUs_at_startup > vm.VCPUs_max) {
    return new XapiFault(ErrorCode.valueNotSupported, [
      "VCPUs-at-startup",
      String(vm.VCPUs_at_startup),
      "value greater than VCPUs-max",
    ]);
  }
  if (vm.memory_static_max < vm.memory_static_min || vm.memory_dynamic_max < vm.memory_dynamic_min)
    return new XapiFault(ErrorCode.memoryConstraintViolation, []);
  return undefined;
}

/** The xapi release that added `assert_enough_pcpus` (xen-api commit deb7035beb, CP-28936, 2018-07-25). */
export const PCPU_CHECK_SINCE = "1.110.0";

/** True when the profile's XAPI refuses to start more vCPUs than the host has pCPUs (falcon does not). */
export function checksPcpus(profile: SimProfile): boolean {
  return profile.release === null || !releaseIsAfter(PCPU_CHECK_SINCE, profile.release);
}

/**
 * `assert_enough_pcpus`: VCPUs_max above the host's `cpu_info.cpu_count` fails with HOST_NOT_ENOUGH_PCPUS
 * [vcpus; pcpus] unless `platform:vcpu-unrestricted` is true.
 */
export function pcpuError(vm: VmRecord, hostCpuInfo: Readonly<StringMap>): XapiFault | undefined {
  const pcpus = Number(hostCpuInfo.cpu_count ?? "0");
  if (vm.VCPUs_max <= pcpus || platformFlag(vm.platform, "vcpu-unrestricted")) return undefined;
  return new XapiFault(ErrorCode.hostNotEnoughPcpus, [String(vm.VCPUs_max), String(pcpus)]);
}

/** The pool licence flags this model reads (`props_of_feature` in features.ml). */
export const LicenceFlag = {
  dmc: "restrict_dmc",
  liveSetVcpus: "restrict_set_vcpus_number_live",
} as const;
export type LicenceFlag = (typeof LicenceFlag)[keyof typeof LicenceFlag];

/**
 * `Pool_features.is_enabled` for a "restrict_" flag: enabled only when the pool's restrictions say
 * "false"; a missing or unreadable value means restricted (`of_assoc_list`).
 */
export function featureEnabled(restrictions: Readonly<StringMap>, flag: LicenceFlag): boolean {
  return restrictions[flag] === "false";
}

/**
 * The pool.restrictions of a pool licensed for everything, as xapi computes them at start: every flag of
 * the release's `features.ml` (HEAD for `current`, xapi v1.30.0 for falcon) enabled — "false" for the
 * "restrict_" flags, "true" for the positive `enable_xha`.
 */
export function allEnabledRestrictions(profile: SimProfile): StringMap {
  const flags = profile.release === null ? CURRENT_FLAGS : FALCON_FLAGS;
  return Object.fromEntries(flags.map((f) => [f, f === "enable_xha" ? "true" : "false"]));
}

const COMMON_FLAGS = [
  "restrict_vlan",
  "restrict_qos",
  "restrict_pool_attached_storage",
  "restrict_netapp",
  "restrict_equalogic",
  "restrict_pooling",
  "enable_xha",
  "restrict_marathon",
  "restrict_email_alerting",
  "restrict_historical_performance",
  "restrict_wlb",
  "restrict_rbac",
  "restrict_dmc",
  "restrict_checkpoint",
  "restrict_cpu_masking",
  "restrict_connection",
  "platform_filter",
  "regular_nag_dialog",
  "restrict_vmpr",
  "restrict_vmss",
  "restrict_intellicache",
  "restrict_gpu",
  "restrict_dr",
  "restrict_vif_locking",
  "restrict_storage_xen_motion",
  "restrict_vgpu",
  "restrict_integrated_gpu_passthrough",
  "restrict_vss",
  "restrict_guest_agent_auto_update",
  "restrict_pci_device_for_auto_update",
  "restrict_xen_motion",
  "restrict_guest_ip_setting",
  "restrict_ad",
];

const FALCON_FLAGS = [
  ...COMMON_FLAGS,
  "restrict_ssl_legacy_switch",
  "restrict_nested_virt",
  "restrict_live_patching",
  "restrict_set_vcpus_number_live",
  "restrict_pvs_proxy",
];

const CURRENT_FLAGS = [
  ...COMMON_FLAGS,
  "restrict_nested_virt",
  "restrict_live_patching",
  "restrict_set_vcpus_number_live",
  "restrict_pvs_proxy",
  "restrict_igmp_snooping",
  "restrict_rpu",
  "restrict_pool_size",
  "restrict_cbt",
  "restrict_usb_passthrough",
  "restrict_network_sriov",
  "restrict_corosync",
  "restrict_cluster_address",
  "restrict_zstd_export",
  "restrict_pool_secret_rotation",
  "restrict_certificate_verification",
  "restrict_updates",
  "restrict_internal_repo_access",
  "restrict_vtpm",
  "restrict_vm_groups",
  "restrict_vm_start",
  "restrict_vm_appliance_start",
];

/**
 * squeezed's target for a domain whose range is [min, max]: as much as the host can give up to max
 * (`available` = the host's free memory plus what the domain holds), never below min.
 */
export function squeezedTarget(min: number, max: number, available: number): number {
  return Math.max(min, Math.min(max, available));
}
