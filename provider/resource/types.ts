/**
 * The plain shapes of the `Vm` resource's properties as they travel through the Pulumi engine and
 * sit in the state. Shared by the program-side class (`vm.ts`, which wraps them in `pulumi.Input`)
 * and the provider-side implementation (`impl.ts`, which never loads `@pulumi/pulumi` at run time).
 */
import type {
  BootChangeMode,
  DeclarablePowerState,
  PowerCycleMode,
  PowerState,
  ShutdownMode,
} from "../model/vocabulary";
import type { MemoryDeclaration, ObservedMemory, ObservedVcpus, VcpusDeclaration } from "./sizing";

export type { MemoryDeclaration, ObservedMemory, ObservedVcpus, VcpusDeclaration };

/**
 * PV boot, also for `pvh` and `pv_in_pvh` (docs/xapi-facts.md, "PVH and PV-in-PVH boot a PV kernel"):
 * `bootloader` "pygrub" (or a control-domain path), or a direct kernel (`bootloader` "").
 */
export interface PvBoot {
  readonly bootloader?: string | undefined;
  readonly kernel?: string | undefined;
  readonly ramdisk?: string | undefined;
  readonly args?: string | undefined;
  readonly bootloaderArgs?: string | undefined;
  /** "pv", "pvh" or "pv_in_pvh"; omitted: a PV-like VM keeps its own, an HVM VM becomes "pv". */
  readonly domainType?: "pv" | "pvh" | "pv_in_pvh" | undefined;
}

/** HVM boot: policy "BIOS order" with QEMU's boot `order` (e.g. "cd", "dc", "ncd") and firmware. */
export interface HvmBoot {
  readonly bootParams: {
    readonly order: string;
    readonly firmware?: "bios" | "uefi" | undefined;
  };
}

/** Which calls the lifecycle plan may use; see `Policy` in `provider/model/plan.ts`. */
export interface VmPolicy {
  /** @default "clean" */
  readonly shutdown?: ShutdownMode | undefined;
  /** @default "restart" */
  readonly bootChanges?: BootChangeMode | undefined;
  /** @default false */
  readonly allowDiscardSuspendedState?: boolean | undefined;
  /** May a vCPU or memory change shut the VM down and start it again? @default "refuse" */
  readonly powerCycle?: PowerCycleMode | undefined;
}

/** Per-operation limits. */
export interface VmTimeouts {
  /** Longest wait for one XAPI lifecycle task (start, clean_shutdown, …) before it is cancelled. */
  readonly operationSeconds?: number | undefined;
}

/** The declared properties a `Vm` exposes as outputs of the same name (read back as declared). */
export const ECHOED_KEYS = [
  "template",
  "uuid",
  "nameLabel",
  "nameDescription",
  "powerState",
  "pv",
  "hvm",
  "bootableDisks",
  "vcpus",
  "memory",
  "policy",
  "timeouts",
] as const;

/** The user-declared properties, in the order they are echoed into the outputs. */
export const DECLARED_KEYS = [...ECHOED_KEYS, "restartTrigger", "deleteAdopted", "takeOver"] as const;

/** The user-declared properties (what `check` validates). */
export interface VmDeclared {
  readonly template?: string | undefined;
  readonly uuid?: string | undefined;
  readonly nameLabel?: string | undefined;
  readonly nameDescription?: string | undefined;
  readonly powerState?: DeclarablePowerState | undefined;
  readonly pv?: PvBoot | undefined;
  readonly hvm?: HvmBoot | undefined;
  /** userdevices of the disks (VBDs) that must be bootable; the others are made non-bootable. */
  readonly bootableDisks?: readonly string[] | undefined;
  /** vCPUs at start and at most (`provider/resource/sizing.ts`). */
  readonly vcpus?: VcpusDeclaration | undefined;
  /** Memory bounds, each a number of bytes or a size such as "4GiB" (`provider/model/size.ts`). */
  readonly memory?: MemoryDeclaration | undefined;
  readonly policy?: VmPolicy | undefined;
  readonly timeouts?: VmTimeouts | undefined;
  readonly restartTrigger?: string | undefined;
  readonly deleteAdopted?: boolean | undefined;
  /** With `uuid`: adopt the VM even when another Pulumi resource owns it. */
  readonly takeOver?: boolean | undefined;
}

/**
 * Synthetic input keys, as the operations see them (flat form). The engine stores them in one `__xapi`
 * object without the prefix (`stored.ts`); keys starting with `__` are never shown in a diff and are
 * ignored by this provider's `diff`.
 */
export const InternalKey = {
  /** `pulumi.runtime.isDryRun()` of the program: `check` shows the plan only in previews. */
  preview: "__xapiPreview",
  /** The resource's `customTimeouts` option (Go duration strings), which the dynamic-provider host drops. */
  customTimeouts: "__xapiCustomTimeouts",
  /**
   * The resource's URN as the program computes it: written on a VM the provider creates
   * (`other_config["pulumi-xapi:urn"]`) so that a preview, which sees only inputs, finds the VM.
   */
  urn: "__xapiUrn",
  /** The VM's uuid, put in the inputs by `read` (refresh) for a VM created before the URN was recorded. */
  vm: "__xapiVm",
  /** The VM a replacement is about to delete (create never takes it for a left-behind VM). */
  replaces: "__xapiReplaces",
  /** "named": check read the pool, so create may take a finished, tagged VM of this resource as left behind. */
  leftovers: "__xapiLeftovers",
  /**
   * Preview only: the planned steps as structured data (`pulumi preview --json`:
   * `.steps[].newState.inputs.__xapiPlan`). Internal keys are not rendered in the human diff.
   */
  plan: "__xapiPlan",
  /**
   * Preview only: how many lines the plan from the pool has, so that `diff` (which the engine calls next,
   * with these inputs) answers from it instead of planning a second time.
   */
  planned: "__xapiPlanned",
} as const;
export type InternalKey = (typeof InternalKey)[keyof typeof InternalKey];

/** The synthetic input that carries the plan into `pulumi preview` (present only in previews). */
export const PLANNED_CALLS_KEY = "plannedCalls";

/** The resource's `customTimeouts`, as the program gives them. */
export interface CustomTimeoutStrings {
  readonly create?: string | undefined;
  readonly update?: string | undefined;
  readonly delete?: string | undefined;
}

/** One XAPI call the provider made, as recorded in `lastCalls`. */
export interface VmCallRecord {
  /** Wire name, e.g. `VM.clean_reboot`, `VM.set_HVM_boot_params`, `VM.clone`. */
  readonly call: string;
  readonly args?: Readonly<Record<string, unknown>> | undefined;
  readonly from?: PowerState | undefined;
  readonly to?: PowerState | undefined;
  /** Why the plan made the call; in `plannedCalls` and the preview's plan, not kept in the stored `lastCalls`. */
  readonly reason?: string | undefined;
  readonly durationMs?: number | undefined;
  /** Set when a clean call was escalated to its hard twin (policy `clean-then-hard`). */
  readonly escalatedFrom?: string | undefined;
  /** Set when a planned setter found the field already set. */
  readonly skipped?: string | undefined;
}

/** The boot configuration the VM really has, in the resource's own vocabulary. */
export interface EffectiveBoot {
  /** `VM.domain_type`: "hvm", "pv", "pvh", "pv_in_pvh" or "unspecified". */
  readonly domainType: string;
  readonly pv?: PvBoot | undefined;
  readonly hvm?: HvmBoot | undefined;
  /** userdevices of the VM's bootable VBDs as read back; present only when `bootableDisks` is declared. */
  readonly bootableDisks?: readonly string[] | undefined;
}

/**
 * What the provider observed of the VM: `Vm.observed`. The state stores it as one JSON text in a compact
 * encoding (`stored.ts`: the engine rewrites every value of every resource at each checkpoint write, so one
 * text costs it far less than a tree); `Vm.observed` reads it back as this object.
 */
export interface VmObserved {
  /** The power state read back after the last operation or refresh (may be "Crashed"). */
  readonly powerState: PowerState;
  /** The VM's boot fields as read back. */
  readonly effectiveBoot: EffectiveBoot;
  /**
   * Declared boot changes written to the VM but not yet running in its domain (policy `next-boot`,
   * or a Suspended target), as property paths such as `hvm.bootParams.order`; `[]` when none.
   */
  readonly pendingBootChanges: readonly string[];
  /** The calls the last create/update made, in order (their reasons are in the preview's plan). */
  readonly lastCalls: readonly VmCallRecord[];
  /** The uuid of the pool the VM is in. */
  readonly poolUuid: string;
  /** True when the resource adopted an existing VM (`uuid` input) instead of creating one. */
  readonly adopted: boolean;
  /** `VM.domid` when the outputs were recorded; tells whether a pending change was since rebooted into. */
  readonly domid: number;
  /** The VM's `VCPUs_at_startup` and `VCPUs_max` as read back; absent in a state from before 0.2. */
  readonly vcpus?: ObservedVcpus | undefined;
  /** The VM's four memory bounds in bytes as read back; absent in a state from before 0.2. */
  readonly memory?: ObservedMemory | undefined;
}
