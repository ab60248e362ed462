/**
 * pulumi-xapi: Xen VMs over the XenAPI as a Pulumi resource whose preview shows the exact lifecycle
 * calls an update will make.
 *
 * ```ts
 * import * as xapi from "pulumi-xapi";
 * const vm = new xapi.Vm("web", { template: "Debian Bookworm 12", powerState: "Running" });
 * ```
 *
 * The planner and vocabularies are exported too, for tools that want to compute plans themselves.
 */
export type { DeclaredBootFields, XapiBootFields } from "./model/boot";
export type { Plan, PlanFailure, PlanInput, PlanResult, PlanStep, Policy } from "./model/plan";
export { DEFAULT_POLICY } from "./model/plan";
export type { Size } from "./model/size";
export {
  BootChangeMode,
  DECLARABLE_POWER_STATES,
  type DeclarablePowerState,
  LifecycleCall,
  PowerCycleMode,
  PowerState,
  SetterCall,
  ShutdownMode,
  SizingCall,
} from "./model/vocabulary";
export { describePlan, planTransition } from "./planner";
export { CONNECTION_SETTINGS, DEFAULT_USERNAME } from "./resource/config";
export { ProviderError, ProviderErrorCode, VmOperationError } from "./resource/errors";
export { Pool, type PoolArgs } from "./resource/pool";
export type {
  EffectiveBoot,
  HvmBoot,
  MemoryDeclaration,
  ObservedMemory,
  ObservedVcpus,
  PvBoot,
  VcpusDeclaration,
  VmCallRecord,
  VmPolicy,
  VmTimeouts,
} from "./resource/types";
export {
  type HvmBootArgs,
  type MemoryArgs,
  type PvBootArgs,
  type VcpusArgs,
  Vm,
  type VmArgs,
  type VmPolicyArgs,
  type VmTimeoutsArgs,
} from "./resource/vm";
