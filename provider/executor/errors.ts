/**
 * How a stopped run is told: {@link ExecutionError} (the VM, the step, the code, what was done, what was
 * restored) and the hints its message ends with. Hints are chosen from error codes of the vocabularies
 * (`provider/client/errors.ts`) and what the run knows about the VM, never from message text.
 */
import { XapiError, XapiErrorCode, XapiTimeoutError, XapiTransportError } from "../client/errors";
import { ELILOADER, isPvLike, type ObservedDisk, PYGRUB, type XapiBootFields } from "../model/boot";
import { rebuildsDomain } from "../model/lifecycle";
import type { PlanStep } from "../model/plan";
import { type LifecycleCall, PowerState } from "../model/vocabulary";
import type { ExecutedStep } from "./index";

/** Codes an {@link ExecutionError} can carry besides XAPI's and the client's. */
export const ExecutionErrorCode = {
  STEP_LIMIT: "STEP_LIMIT",
  REPLAN_LIMIT: "REPLAN_LIMIT",
  /** XAPI refused a call from a state the executor also observes: they disagree; stopping is safer. */
  STATE_CONFLICT: "STATE_CONFLICT",
  /** A `VBD.set_bootable` step names a userdevice the VM has no VBD at (the disks changed under the run). */
  UNKNOWN_DISK: "UNKNOWN_DISK",
} as const;
export type ExecutionErrorCode = (typeof ExecutionErrorCode)[keyof typeof ExecutionErrorCode];

/**
 * How a stopped run put back a state the VM only passed through (module doc of `index.ts`, "Restore").
 * `restored` false: the VM is left where the failure left it (`why` says why).
 */
export interface RestoreOutcome {
  /** The state the VM was in before this run lifted it to Running (Paused or Suspended). */
  readonly state: PowerState;
  /** The restore call (`VM.pause`, `VM.suspend`). */
  readonly call: LifecycleCall;
  readonly restored: boolean;
  /** Why restoring failed (the error's message); only when `restored` is false. */
  readonly why?: string;
}

/**
 * The run stopped. The message names the VM, the step, the code, what was already done and, when
 * the run put back a state the VM only passed through, what it restored ({@link ExecutionError.restore}).
 * `code` is the XAPI code (e.g. `VM_LACKS_FEATURE`), a client code (`TASK_TIMEOUT`, `ECONNREFUSED`), a
 * planner failure code (`NO_LEGAL_PATH`, …) or an {@link ExecutionErrorCode}: always the failure's,
 * never the restore's.
 */
export class ExecutionError extends Error {
  override readonly name = "ExecutionError";
  readonly vm: { readonly uuid: string; readonly ref?: string };
  readonly step?: PlanStep;
  readonly code: string;
  /** Steps completed (the VM may have moved), the restore step last when one was made. */
  readonly done: ExecutedStep[];
  /** Set when the run tried to put back the state the VM had before it (module doc, "Restore"). */
  readonly restore?: RestoreOutcome;
  readonly #args: ExecutionErrorArgs;

  constructor(args: ExecutionErrorArgs) {
    const where = args.step === undefined ? "" : `${formatStep(args.step)} failed: `;
    const done =
      args.done.length === 0
        ? "Nothing was done before."
        : `Done before: ${args.done.map((s, i) => `${i + 1}. ${formatStep(s)}${s.skipped ? " (skipped, already set)" : ""}`).join("; ")}.`;
    const restore = args.restore === undefined ? "" : ` ${restoreText(args.restore.outcome)}`;
    super(
      `VM ${args.vm.uuid}: ${where}${args.detail} ${done}${args.hint === undefined ? "" : ` ${args.hint}`}${restore}`,
      args.cause === undefined ? undefined : { cause: args.cause },
    );
    this.#args = args;
    this.vm = args.vm.ref === undefined ? { uuid: args.vm.uuid } : { uuid: args.vm.uuid, ref: args.vm.ref };
    this.code = args.code;
    this.done = [...args.done, ...(args.restore?.steps ?? [])];
    if (args.step !== undefined) this.step = args.step;
    if (args.restore !== undefined) this.restore = args.restore.outcome;
  }

  /** The same failure, told with what the run did afterwards to restore the VM's earlier state. */
  withRestore(outcome: RestoreOutcome, steps: readonly ExecutedStep[]): ExecutionError {
    return new ExecutionError({ ...this.#args, restore: { outcome, steps } });
  }
}

export interface ExecutionErrorArgs {
  vm: { uuid: string; ref?: string | undefined };
  code: string;
  detail: string;
  /** Steps completed before the failure. */
  done: ExecutedStep[];
  step?: PlanStep | undefined;
  hint?: string | undefined;
  cause?: unknown;
  /** What the run did after the failure, and the steps it recorded doing it. */
  restore?: { outcome: RestoreOutcome; steps: readonly ExecutedStep[] } | undefined;
}

/** The code of a client or XAPI error; "UNEXPECTED" for anything else. */
export function codeOf(error: unknown): string {
  if (
    error instanceof XapiError ||
    error instanceof XapiTransportError ||
    error instanceof XapiTimeoutError
  ) {
    return error.code;
  }
  return "UNEXPECTED";
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The XAPI or client error behind an {@link ExecutionError} (its message without the run's context). */
export function causeOf(error: unknown): unknown {
  return error instanceof ExecutionError && error.cause !== undefined ? error.cause : error;
}

/** `VM.clean_shutdown (Running → Halted)`. */
export function formatStep(step: PlanStep): string {
  return `${step.call} (${step.from} → ${step.to})`;
}

export function escalationHint(twin: string, code: string): string {
  const why =
    code === XapiErrorCode.VM_LACKS_FEATURE
      ? "the guest has no PV drivers / shutdown support"
      : "the guest did not comply in time";
  return `Try policy.shutdown "clean-then-hard" to allow ${twin} when ${why}, or fix the guest.`;
}

export function suspendedEscalationHint(call: string, twin: string): string {
  return `The VM was Suspended when this run began, so ${twin} (which would discard what the guest had saved) is not used in place of ${call}; policy shutdown "hard" with allowDiscardSuspendedState allows it. Or fix the guest's clean shutdown.`;
}

export function stateConflictHint(now: PowerState): string {
  return `XAPI refused the call, yet the VM still reads ${now}; another tool may be operating on it. Retry later.`;
}

/** What the run knows about the VM's boot when a call fails: its boot fields and, when read, its disks. */
export interface BootKnowledge {
  readonly boot: XapiBootFields;
  readonly disks: readonly ObservedDisk[] | undefined;
}

/**
 * What to do about a call that failed while building the domain (start, reboot): chosen from the error
 * code and the VM's boot fields and disks, because XAPI reports a bootloader boot without a bootable disk
 * and an unknown bootloader only as `INTERNAL_ERROR` with text (docs/xapi-facts.md, "Boot failures");
 * `BOOTLOADER_FAILED` is the bootloader finding no kernel.
 */
export function bootFailureHint(error: unknown, call: string, vm: BootKnowledge): string | undefined {
  if (!(error instanceof XapiError) || !rebuildsDomain(call)) return undefined;
  if (error.code === XapiErrorCode.BOOTLOADER_FAILED) {
    return "The bootloader found no kernel on the bootable disks: check the guest's /boot (menu.lst) or pv.kernel.";
  }
  const bootloader = vm.boot.PV_bootloader;
  if (error.code !== XapiErrorCode.INTERNAL_ERROR || !isPvLike(vm.boot.domain_type) || bootloader === "") {
    return undefined;
  }
  if (bootloader !== PYGRUB && bootloader !== ELILOADER) {
    return `XAPI runs a PV bootloader by name only: "${PYGRUB}" or "${ELILOADER}", not ${JSON.stringify(bootloader)}.`;
  }
  const noneBootable =
    'its PV bootloader needs a VBD with bootable=true that is not empty. Declare bootableDisks, e.g. ["0"] for the root disk.';
  if (vm.disks === undefined) return `If no disk of this VM is bootable: ${noneBootable}`;
  return vm.disks.some((d) => d.bootable) ? undefined : `No disk of this VM is bootable: ${noneBootable}`;
}

/** How a lifted state is named in messages: the call that left it, and the call that restores it. */
const RESTORE_WORDS: Readonly<Partial<Record<PowerState, { left: string; back: string }>>> = {
  [PowerState.Paused]: { left: "unpaused", back: "paused again" },
  [PowerState.Suspended]: { left: "resumed", back: "suspended again" },
};

/** The sentence an {@link ExecutionError} ends with when the run tried to restore the VM's earlier state. */
function restoreText(outcome: RestoreOutcome): string {
  const words = RESTORE_WORDS[outcome.state] ?? { left: "moved", back: `put back to ${outcome.state}` };
  const lifted = `This run had ${words.left} the VM only on its way to the declared state`;
  return outcome.restored
    ? `${lifted}: it was ${words.back} (${outcome.call}), ${outcome.state} as before the run.`
    : `${lifted}; it was not ${words.back} (${outcome.call}): ${outcome.why ?? "unknown reason."}`;
}
