/**
 * `xapi.Vm`: a Xen VM managed through the XenAPI, as a Pulumi dynamic resource
 * (type token `pulumi-nodejs:dynamic/xapi:Vm`).
 */
import * as pulumi from "@pulumi/pulumi";
import type { DeclarablePowerState, PowerState } from "../model/vocabulary";
import { providerForState } from "./provider";
import { INTERNAL_KEY, OBSERVED_KEY, observedOfStored } from "./stored";
import {
  type CustomTimeoutStrings,
  ECHOED_KEYS,
  type EffectiveBoot,
  type HvmBoot,
  type MemoryDeclaration,
  type ObservedMemory,
  type ObservedVcpus,
  type PvBoot,
  type VcpusDeclaration,
  type VmCallRecord,
  type VmObserved,
  type VmPolicy,
  type VmTimeouts,
} from "./types";

/** `pv` block of {@link VmArgs}. */
export interface PvBootArgs {
  /** "pygrub" (indirect boot through the guest's grub config), "eliloader" or a control-domain path. */
  bootloader?: pulumi.Input<string>;
  /** Direct kernel boot: a dom0 path (under /var/lib/xcp/guest/ on current XAPI). */
  kernel?: pulumi.Input<string>;
  ramdisk?: pulumi.Input<string>;
  /** Kernel command line (appended to the guest's grub arguments under pygrub). */
  args?: pulumi.Input<string>;
  bootloaderArgs?: pulumi.Input<string>;
  /**
   * How XAPI builds the domain of this PV kernel: "pv", "pvh" (XCP-ng 8.x, XenServer 8; needs XAPI API
   * 2.10+) or "pv_in_pvh". Omitted: a PV-like VM keeps its own type, an HVM VM becomes "pv".
   */
  domainType?: pulumi.Input<"pv" | "pvh" | "pv_in_pvh">;
}

/** `hvm` block of {@link VmArgs}. */
export interface HvmBootArgs {
  bootParams: pulumi.Input<{
    /** QEMU boot order over drives a–d and n (network), e.g. "cd" (the XAPI default), "dc", "ncd". */
    order: pulumi.Input<string>;
    /** @default "bios" */
    firmware?: pulumi.Input<"bios" | "uefi">;
  }>;
}

/** `policy` block of {@link VmArgs}: which calls a plan may use. */
export interface VmPolicyArgs {
  /**
   * `"clean"`: graceful shutdowns/reboots only; `"clean-then-hard"`: graceful, escalated to the hard
   * twin when the guest cannot or does not comply; `"hard"`: hard shutdowns/reboots.
   * @default "clean"
   */
  shutdown?: pulumi.Input<"clean" | "clean-then-hard" | "hard">;
  /**
   * `"restart"`: a boot-config change reaches a live domain in the same run, with one restart;
   * `"next-boot"`: write the fields only and report the change in `pendingBootChanges`.
   * @default "restart"
   */
  bootChanges?: pulumi.Input<"restart" | "next-boot">;
  /** Allow `VM.hard_shutdown` of a Suspended VM, which discards its saved memory image. @default false */
  allowDiscardSuspendedState?: pulumi.Input<boolean>;
  /**
   * `"refuse"`: a `vcpus` or `memory` change XAPI only makes on a Halted VM (`vcpus.max`,
   * `memory.staticMax`; a dynamic range on a Paused or Suspended VM) fails the preview; `"allow"`: the
   * cheapest legal power cycle (under `shutdown`), shared with boot changes: one restart in all.
   * @default "refuse"
   */
  powerCycle?: pulumi.Input<"refuse" | "allow">;
}

/** `vcpus` block of {@link VmArgs}. */
export interface VcpusArgs {
  /** vCPUs the VM runs with (`VCPUs_at_startup`); on a Running VM changed live when the guest can. */
  atStartup: pulumi.Input<number>;
  /** The most vCPUs (`VCPUs_max`); XAPI changes it only on a Halted VM. Omitted: the VM's. */
  max?: pulumi.Input<number>;
}

/**
 * `memory` block of {@link VmArgs}: each a number of bytes or a string with a binary unit, `"512MiB"`,
 * `"4GiB"` (KiB, MiB, GiB, TiB).
 */
export interface MemoryArgs {
  /** `memory_static_max`, the domain's ceiling; XAPI changes it only on a Halted VM. Omitted: the VM's. */
  staticMax?: pulumi.Input<number | string>;
  /** `memory_dynamic_min`, the least the balloon may leave the guest. Omitted: the VM's. */
  dynamicMin?: pulumi.Input<number | string>;
  /** `memory_dynamic_max`, the memory the guest gets; live on a Running VM. */
  dynamicMax: pulumi.Input<number | string>;
}

/** `timeouts` block of {@link VmArgs}. */
export interface VmTimeoutsArgs {
  /** Longest wait for one XAPI lifecycle task before it is cancelled. */
  operationSeconds?: pulumi.Input<number>;
}

/**
 * Arguments of {@link Vm}. Give exactly one identity: `template` (create a VM by cloning and
 * provisioning that template; changing it replaces the VM) or `uuid` (adopt an existing VM;
 * deleting the resource then releases the VM unless `deleteAdopted` is true).
 */
export interface VmArgs {
  /** name_label of the template to clone. Changing it replaces the VM. */
  template?: pulumi.Input<string>;
  /** uuid of an existing VM to adopt. Changing it replaces (releases the old, adopts the new). */
  uuid?: pulumi.Input<string>;
  /** The VM's name_label. @default the resource name, for a VM created from a template */
  nameLabel?: pulumi.Input<string>;
  nameDescription?: pulumi.Input<string>;
  /** The power state to converge to. @default "Running" */
  powerState?: pulumi.Input<DeclarablePowerState>;
  /** PV boot configuration (mutually exclusive with `hvm`). */
  pv?: pulumi.Input<PvBootArgs>;
  /** HVM boot configuration (mutually exclusive with `pv`). */
  hvm?: pulumi.Input<HvmBootArgs>;
  /**
   * The `userdevice` of every disk (VBD) that must be bootable, e.g. `["0"]`; the VM's other VBDs are
   * made non-bootable. A PV bootloader (pygrub) gets the paths of all bootable disks. Omitted = not managed.
   */
  bootableDisks?: pulumi.Input<pulumi.Input<string>[]>;
  /** vCPUs (see README "vCPUs and memory"). Omitted = not managed; an omitted field keeps the VM's value. */
  vcpus?: pulumi.Input<VcpusArgs>;
  /** Memory (see README "vCPUs and memory"). Omitted = not managed; an omitted field keeps the VM's value. */
  memory?: pulumi.Input<MemoryArgs>;
  policy?: pulumi.Input<VmPolicyArgs>;
  timeouts?: pulumi.Input<VmTimeoutsArgs>;
  /** Any change of this value restarts a live VM exactly once. */
  restartTrigger?: pulumi.Input<string>;
  /** For an adopted VM (`uuid`): destroy it when the resource is deleted. @default false */
  deleteAdopted?: pulumi.Input<boolean>;
  /**
   * For an adopted VM (`uuid`): adopt it even when another Pulumi resource (another stack) owns it, as its
   * `other_config["pulumi-xapi:urn"]` says. That resource's next preview then fails, saying it lost the VM.
   * @default false
   */
  takeOver?: pulumi.Input<boolean>;
}

/**
 * A Xen VM whose power state and boot configuration Pulumi converges with the fewest legal XenAPI
 * lifecycle calls. `pulumi preview` lists those calls (`plannedCalls`); `pulumi up` makes them and
 * records them in `lastCalls`; `pulumi refresh` reads the VM back.
 *
 * The connection comes from stack configuration (`xapi:url`, `xapi:username`, `xapi:password` as a
 * secret, `xapi:caCert` / `xapi:fingerprint` / `xapi:insecure`) or the environment (`XAPI_URL`, …);
 * it never becomes a property of the resource.
 *
 * `customTimeouts` (`create`, `update`, `delete`) bound the whole operation: each lifecycle task
 * gets at most the time left, and the operation fails once the deadline has passed.
 *
 * @example
 * ```ts
 * import * as xapi from "pulumi-xapi";
 * const web = new xapi.Vm("web", {
 *   template: "Debian Bookworm 12",
 *   powerState: "Running",
 *   hvm: { bootParams: { order: "cd", firmware: "uefi" } },
 * });
 * export const uuid = web.uuid;
 * ```
 */
export class Vm extends pulumi.dynamic.Resource {
  /** The VM's uuid (the resource id). */
  declare public readonly uuid: pulumi.Output<string>;
  /** What the provider observed of the VM after the last operation or refresh (stored as one JSON text). */
  declare public readonly observed: pulumi.Output<VmObserved>;
  declare public readonly template: pulumi.Output<string | undefined>;
  declare public readonly nameLabel: pulumi.Output<string | undefined>;
  declare public readonly nameDescription: pulumi.Output<string | undefined>;
  /** The declared power state. */
  declare public readonly powerState: pulumi.Output<DeclarablePowerState>;
  declare public readonly pv: pulumi.Output<PvBoot | undefined>;
  declare public readonly hvm: pulumi.Output<HvmBoot | undefined>;
  /** The declared bootable disks (userdevices); `effectiveBoot.bootableDisks` has the observed ones. */
  declare public readonly bootableDisks: pulumi.Output<string[] | undefined>;
  /** The declared vCPUs; `observedVcpus` has the VM's. */
  declare public readonly vcpus: pulumi.Output<VcpusDeclaration | undefined>;
  /** The declared memory, as written; `observedMemory` has the VM's, in bytes. */
  declare public readonly memory: pulumi.Output<MemoryDeclaration | undefined>;
  declare public readonly policy: pulumi.Output<VmPolicy | undefined>;
  declare public readonly timeouts: pulumi.Output<VmTimeouts | undefined>;

  /** The power state read back after the last operation or refresh (may be "Crashed"): `observed.powerState`. */
  get observedPowerState(): pulumi.Output<PowerState> {
    return this.observed.apply((o) => o.powerState);
  }
  /** The boot configuration the VM has (domain type and the `pv` or `hvm` block): `observed.effectiveBoot`. */
  get effectiveBoot(): pulumi.Output<EffectiveBoot> {
    return this.observed.apply((o) => o.effectiveBoot);
  }
  /** Declared boot changes written but not yet running in the domain: `observed.pendingBootChanges`. */
  get pendingBootChanges(): pulumi.Output<string[]> {
    return this.observed.apply((o) => [...o.pendingBootChanges]);
  }
  /** The XenAPI calls the last create or update made, in order: `observed.lastCalls`. */
  get lastCalls(): pulumi.Output<VmCallRecord[]> {
    return this.observed.apply((o) => [...o.lastCalls]);
  }
  /** The uuid of the pool the VM is in (a stack pointed at another pool fails instead of losing its VMs). */
  get poolUuid(): pulumi.Output<string> {
    return this.observed.apply((o) => o.poolUuid);
  }
  /** The VM's vCPUs as read back (`VCPUs_at_startup`, `VCPUs_max`): `observed.vcpus`. */
  get observedVcpus(): pulumi.Output<ObservedVcpus | undefined> {
    return this.observed.apply((o) => o.vcpus);
  }
  /** The VM's memory bounds in bytes as read back: `observed.memory`. */
  get observedMemory(): pulumi.Output<ObservedMemory | undefined> {
    return this.observed.apply((o) => o.memory);
  }
  /** True when this resource adopted an existing VM (`uuid`). */
  get adopted(): pulumi.Output<boolean> {
    return this.observed.apply((o) => o.adopted);
  }

  constructor(name: string, args: VmArgs, opts?: pulumi.CustomResourceOptions) {
    const customTimeouts: CustomTimeoutStrings | undefined = opts?.customTimeouts
      ? dropUndefined({
          create: opts.customTimeouts.create,
          update: opts.customTimeouts.update,
          delete: opts.customTimeouts.delete,
        })
      : undefined;
    // Only what the user declared, one internal object and `observed`: each registered property
    // costs the program several promises per resource.
    const declared = Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined));
    const restore = plainStackFormatting();
    try {
      super(
        providerForState(),
        name,
        {
          ...declared,
          [INTERNAL_KEY]: {
            // `check` plans and shows the calls only in previews.
            ...(pulumi.runtime.isDryRun() ? { preview: true } : {}),
            customTimeouts,
            // The URN the engine will give this resource: recorded on the VM it creates, so that a preview finds it.
            urn: urnOf(name, opts?.parent),
          },
          [OBSERVED_KEY]: undefined,
        },
        opts,
        "xapi",
        "Vm",
      );
    } finally {
      restore();
    }
    DEFAULTS.set(this, { nameLabel: args.template !== undefined ? name : undefined, powerState: "Running" });
  }
}

/**
 * Registering a resource, the SDK reads the stack trace of a new `Error` for each promise it makes (two
 * per resource, four per property: `debuggablePromise` in `@pulumi/pulumi/runtime/debuggable.js`), only
 * to name the promise in its leak report. The program's source-map hook (installed by the Node.js language
 * host) makes each such read cost more than the rest of the registration, so V8's own format serves them.
 * The hook still formats the SDK's read of the resource's source position (`Resource.callsites` in
 * `@pulumi/pulumi/resource.js`, the only read with an unlimited stack) and any error read after the
 * constructor. With `PULUMI_DEBUG_PROMISE_LEAKS` set, nothing changes.
 * @returns the function that puts the hook back
 */
function plainStackFormatting(): () => void {
  const hook = Error.prepareStackTrace;
  if (hook === undefined || process.env.PULUMI_DEBUG_PROMISE_LEAKS !== undefined) return () => {};
  Error.prepareStackTrace = (error, frames) =>
    Error.stackTraceLimit === Number.POSITIVE_INFINITY
      ? hook(error, frames)
      : `${String(error)}${frames.map((frame) => `\n    at ${String(frame)}`).join("")}`;
  return () => {
    Error.prepareStackTrace = hook;
  };
}

/** Each `Vm`'s registered `observed` output (the stored JSON text) and the object read from it. */
const OBSERVED = new WeakMap<Vm, { stored: pulumi.Output<unknown>; read?: pulumi.Output<VmObserved> }>();

function observedOutput(vm: Vm): pulumi.Output<VmObserved> {
  const entry = OBSERVED.get(vm);
  if (entry === undefined)
    throw new Error("pulumi-xapi: Vm.observed read before the resource was registered");
  entry.read ??= entry.stored.apply((stored) => observedOfStored(stored) as VmObserved);
  return entry.read;
}

// The SDK assigns each registered property: `observed` keeps the stored text and reads as the object.
Object.defineProperty(Vm.prototype, OBSERVED_KEY, {
  configurable: true,
  get(this: Vm) {
    return observedOutput(this);
  },
  set(this: Vm, stored: pulumi.Output<unknown>) {
    OBSERVED.set(this, { stored });
  },
});

/** What each `Vm`'s undeclared properties of {@link ECHOED_KEYS} stand for. */
const DEFAULTS = new WeakMap<Vm, Readonly<Record<string, string | undefined>>>();

/**
 * The declared properties a `Vm` exposes as outputs. A declared one is registered (the engine echoes it);
 * an undeclared one is not, and reads as its default.
 */
for (const key of ECHOED_KEYS) {
  Object.defineProperty(Vm.prototype, key, {
    configurable: true,
    get(this: Vm) {
      if (key === "uuid") return this.id;
      // An undeclared property: its default, once the VM exists.
      const value = DEFAULTS.get(this)?.[key];
      return this.observed.apply(() => value);
    },
    // The SDK assigns each registered property: it becomes the instance's own.
    set(this: Vm, value: unknown) {
      Object.defineProperty(this, key, { value, enumerable: true, configurable: true, writable: true });
    },
  });
}

/** The resource's URN as the engine will compute it (synchronously for a top-level resource). */
function urnOf(name: string, parent: pulumi.Resource | undefined): pulumi.Input<string> {
  if (parent !== undefined) return pulumi.createUrn(name, VM_TYPE, parent);
  return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${VM_TYPE}::${name}`;
}

const VM_TYPE = "pulumi-nodejs:dynamic/xapi:Vm";

function dropUndefined(value: Record<string, string | undefined>): CustomTimeoutStrings {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as CustomTimeoutStrings;
}
