/**
 * The plan: the data the pure planner returns and the executor runs. No I/O lives here.
 */
import type {
  BootChangeMode,
  LifecycleCall,
  PowerCycleMode,
  PowerState,
  SetterCall,
  ShutdownMode,
  SizingCall,
} from "./vocabulary";

/** The declared policy that bounds which calls a plan may use (`provider/planner/policy.ts`). */
export interface Policy {
  /** @default "clean" */
  readonly shutdown: ShutdownMode;
  /**
   * Only when true, and `shutdown` is "hard", may a Suspended VM be hard-shut-down (its memory image is
   * discarded). Under "clean" / "clean-then-hard" it changes nothing: they never plan a hard call.
   * @default false
   */
  readonly allowDiscardSuspendedState: boolean;
  /**
   * When a declared vCPU or memory change takes effect (`bootChanges` governs `vcpus.atStartup` when it
   * cannot change live): "restart" in this run, with the one domain rebuild the plan has or adds;
   * "next-boot" written only, reported pending (`Plan.sizingPending`).
   * @default "restart"
   */
  readonly bootChanges: BootChangeMode;
  /**
   * Whether a vCPU or memory change XAPI only accepts on a Halted VM (`vcpus.max`, `memory.staticMax`), or
   * a dynamic memory change on a Paused or Suspended VM, may shut down (or unpause, resume) and restart a
   * VM that is not declared Halted. "refuse": such a plan is a `NEEDS_POWER_CYCLE` failure. Absent means
   * "refuse" (older callers build a `Policy` without it).
   * @default "refuse"
   */
  readonly powerCycle?: PowerCycleMode | undefined;
}

export const DEFAULT_POLICY: Policy = {
  shutdown: "clean",
  allowDiscardSuspendedState: false,
  bootChanges: "restart",
  powerCycle: "refuse",
};

/**
 * One XAPI call of a plan. `args` are named after the XAPI parameters (after `session_id` and the
 * VM ref), e.g. `{ start_paused: false, force: false }` for `VM.start`, `{ value: "pygrub" }` for a
 * setter. Setter steps do not change the power state (`from === to`).
 */
export interface PlanStep {
  readonly kind: "set" | "lifecycle";
  readonly call: LifecycleCall | SetterCall | SizingCall;
  readonly args: Readonly<Record<string, unknown>>;
  /** Power state the VM must be in before the call. */
  readonly from: PowerState;
  /** Power state the VM is expected to be in after the call. */
  readonly to: PowerState;
  /** One line, for humans: why this step is in the plan. */
  readonly reason: string;
}

/** A successful plan. */
export interface Plan {
  readonly steps: readonly PlanStep[];
  /** Number of lifecycle steps (the quantity the planner minimises). */
  readonly lifecycleCalls: number;
  /**
   * True when the declared boot config has been (or will be) written but the VM ends with a domain
   * or suspend image built from the old one: policy `next-boot`, or a Suspended target (its saved image
   * is not rebuilt; see provider/planner.ts). Reported to users as "pending".
   */
  readonly bootChangePending: boolean;
  /**
   * True when declared vCPUs are written but the VM ends with a domain or suspend image built with the
   * old count (policy `next-boot`, a Suspended target, or a guest that cannot hotplug vCPUs). Present
   * exactly when the input manages sizing (`declaredSizing` set or `liveDomainSizingStale` true).
   */
  readonly sizingPending?: boolean;
}

/** Why no plan exists: a typed failure, never a partial plan. */
export interface PlanFailure {
  /**
   * `TARGET_NOT_DECLARABLE`: the declared power state is not Halted/Paused/Running/Suspended (e.g. Crashed).
   * `INVALID_DECLARED_BOOT`: declared boot fields XAPI's setters cannot reach together (e.g. domain_type
   * "hvm" with an empty HVM_boot_policy, or "unspecified"). `NO_LEGAL_PATH`: the policy allows no path.
   * `SEARCH_LIMIT`: the bounded search gave up (a bug, or a too small `searchLimit`).
   * `INVALID_DECLARED_SIZING`: the declared vCPUs / memory overlaid on the VM's break
   * `1 ≤ atStartup ≤ max` or `staticMin ≤ dynamicMin ≤ dynamicMax ≤ staticMax` (the reason names the
   * property and both values). `NEEDS_POWER_CYCLE`: a sizing change needs a Halted (or Running) VM the
   * plan would not otherwise pass through, and `policy.powerCycle` is not "allow".
   */
  readonly code:
    | "TARGET_NOT_DECLARABLE"
    | "INVALID_DECLARED_BOOT"
    | "NO_LEGAL_PATH"
    | "SEARCH_LIMIT"
    | "INVALID_DECLARED_SIZING"
    | "NEEDS_POWER_CYCLE";
  readonly reason: string;
}

export type PlanResult =
  | { readonly ok: true; readonly plan: Plan }
  | { readonly ok: false; readonly failure: PlanFailure };

/** Everything the pure planner needs. It performs no calls. */
export interface PlanInput {
  readonly observedPowerState: PowerState;
  readonly observedBoot: import("./boot").XapiBootFields;
  /** Must be declarable; Crashed (or anything else) yields a `TARGET_NOT_DECLARABLE` failure. */
  readonly declaredPowerState: PowerState;
  /** The boot fields the user declares; `undefined` = boot config not managed. */
  readonly declaredBoot?: import("./boot").DeclaredBootFields | undefined;
  /**
   * The VM's VBDs (userdevice and bootable flag), needed when `declaredBoot.bootableUserdevices` is
   * set. `undefined` = not read (a preview before the VM exists): the plan then sets every declared
   * disk bootable and cannot know which others to clear.
   */
  readonly observedDisks?: readonly import("./boot").ObservedDisk[] | undefined;
  /**
   * True when the live domain (Running, Paused, Suspended) was built from an older boot config
   * than `observedBoot` (e.g. a `next-boot` change set in an earlier run). @default false
   */
  readonly liveDomainBootStale?: boolean | undefined;
  /** `restartTrigger` changed: the plan must contain exactly one restart of the domain. @default false */
  readonly forceRestart?: boolean | undefined;
  readonly policy: Policy;
  /**
   * False on a pool whose XAPI has no `VM.set_domain_type` (API before 2.10): PV vs HVM is then written
   * with `VM.set_HVM_boot_policy` alone, and a declared pvh / pv_in_pvh is refused. @default true
   */
  readonly canSetDomainType?: boolean | undefined;
  /**
   * The VM's vCPU and memory fields as read. `undefined` = not read: declared sizing is then not planned
   * (a preview without a readable pool).
   */
  readonly observedSizing?: import("./sizing").SizingFields | undefined;
  /** The declared vCPUs / memory in bytes (already parsed); `undefined` = sizing not managed. */
  readonly declaredSizing?: import("./sizing").DeclaredSizing | undefined;
  /**
   * What the guest and the pool let `VM.set_VCPUs_number_live` do. @default no hotplug, not licensed
   * (vCPU changes then wait for a domain build)
   */
  readonly guest?: import("./sizing").GuestAbilities | undefined;
  /**
   * True when the live domain (Running, Paused, Suspended) runs another vCPU count than
   * `observedSizing.VCPUs_at_startup` (a `next-boot` change of an earlier run). @default false
   */
  readonly liveDomainSizingStale?: boolean | undefined;
  /** The sizing calls the pool's XAPI has (`SizingCall`). @default all of them */
  readonly availableSizingCalls?: ReadonlySet<SizingCall> | undefined;
  /** Bound on the lifecycle calls the search explores; hitting it is a `SEARCH_LIMIT` failure. @default 8 */
  readonly searchLimit?: number | undefined;
}
