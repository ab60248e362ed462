/**
 * Closed vocabularies shared by the planner, the executor, the provider and the tests.
 *
 * Each vocabulary is a `const` object plus a union type of the same name, so values are both
 * enumerable at run time (`Object.values(PowerState)`) and checked at compile time.
 */

/**
 * A VM power state. `Halted`, `Paused`, `Running` and `Suspended` are the four values of current
 * XAPI (`vm_power_state` in `ocaml/idl/datamodel_vm.ml`). `Crashed` is the XenAPI 1.0 state of the seed: it can be *observed*
 * (xapi-sim's compatibility switch reports it) but never declared and never entered by a call.
 */
export const PowerState = {
  Halted: "Halted",
  Paused: "Paused",
  Running: "Running",
  Suspended: "Suspended",
  Crashed: "Crashed",
} as const;
export type PowerState = (typeof PowerState)[keyof typeof PowerState];

/** The power states a user may declare (Crashed is observed-only). */
export const DECLARABLE_POWER_STATES = [
  PowerState.Halted,
  PowerState.Paused,
  PowerState.Running,
  PowerState.Suspended,
] as const;
export type DeclarablePowerState = (typeof DECLARABLE_POWER_STATES)[number];

/** The XenAPI VM lifecycle calls the planner may emit (wire names). */
export const LifecycleCall = {
  start: "VM.start",
  pause: "VM.pause",
  unpause: "VM.unpause",
  suspend: "VM.suspend",
  resume: "VM.resume",
  cleanShutdown: "VM.clean_shutdown",
  hardShutdown: "VM.hard_shutdown",
  shutdown: "VM.shutdown",
  cleanReboot: "VM.clean_reboot",
  hardReboot: "VM.hard_reboot",
} as const;
export type LifecycleCall = (typeof LifecycleCall)[keyof typeof LifecycleCall];

/**
 * The boot-field setter calls the planner may emit (wire names, `ocaml/idl/datamodel_vm.ml`), and
 * `VBD.set_bootable`, which marks one of the VM's disks bootable (args `{ userdevice, value }`).
 */
export const SetterCall = {
  setDomainType: "VM.set_domain_type",
  setHvmBootPolicy: "VM.set_HVM_boot_policy",
  setHvmBootParams: "VM.set_HVM_boot_params",
  setPvBootloader: "VM.set_PV_bootloader",
  setPvKernel: "VM.set_PV_kernel",
  setPvRamdisk: "VM.set_PV_ramdisk",
  setPvArgs: "VM.set_PV_args",
  setPvBootloaderArgs: "VM.set_PV_bootloader_args",
  setVbdBootable: "VBD.set_bootable",
} as const;
export type SetterCall = (typeof SetterCall)[keyof typeof SetterCall];

/**
 * The vCPU and memory setter calls the planner may emit (wire names, `ocaml/idl/datamodel_vm.ml`); when each
 * is legal and what it reaches is the table `SIZING_RULES` (`provider/model/sizing-rules.ts`).
 */
export const SizingCall = {
  setVcpusMax: "VM.set_VCPUs_max",
  setVcpusAtStartup: "VM.set_VCPUs_at_startup",
  setVcpusNumberLive: "VM.set_VCPUs_number_live",
  setMemoryDynamicRange: "VM.set_memory_dynamic_range",
  setMemoryLimits: "VM.set_memory_limits",
} as const;
export type SizingCall = (typeof SizingCall)[keyof typeof SizingCall];

/** `VM.domain_type` values (`domain_type` in xen-api's `ocaml/idl/datamodel_vm.ml`). */
export const DomainType = {
  hvm: "hvm",
  pv: "pv",
  pvInPvh: "pv_in_pvh",
  pvh: "pvh",
  unspecified: "unspecified",
} as const;
export type DomainType = (typeof DomainType)[keyof typeof DomainType];

/** How shutdowns and reboots are performed (`provider/planner/policy.ts`). */
export const ShutdownMode = {
  clean: "clean",
  cleanThenHard: "clean-then-hard",
  hard: "hard",
} as const;
export type ShutdownMode = (typeof ShutdownMode)[keyof typeof ShutdownMode];

/** When a declared boot-config change reaches a live domain. */
export const BootChangeMode = {
  /** Apply in this run with the cheapest restart that really rebuilds the domain. */
  restart: "restart",
  /** Set the fields only; the change is reported as pending until the next boot. */
  nextBoot: "next-boot",
} as const;
export type BootChangeMode = (typeof BootChangeMode)[keyof typeof BootChangeMode];

/**
 * Whether a plan may shut a VM down and start it again only because a vCPU or memory change needs a
 * Halted VM (or a Running one, for a Paused or Suspended VM's dynamic memory range).
 */
export const PowerCycleMode = {
  /** Never: such a change is a `NEEDS_POWER_CYCLE` plan failure. */
  refuse: "refuse",
  /** The cheapest legal cycle the shutdown policy allows, which is also the restart window of boot changes. */
  allow: "allow",
} as const;
export type PowerCycleMode = (typeof PowerCycleMode)[keyof typeof PowerCycleMode];

/** A XAPI object reference (`OpaqueRef:<uuid>`), branded so it cannot be mixed with a uuid. */
export type Ref<Class extends string> = string & { readonly __ref: Class };
export type VmRef = Ref<"VM">;
export type SessionRef = Ref<"session">;
export type TaskRef = Ref<"task">;
export type VbdRef = Ref<"VBD">;

/** XAPI's null reference. */
export const NULL_REF = "OpaqueRef:NULL";
