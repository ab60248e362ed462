/**
 * The executor's side of vCPU and memory steps: what the run knows of the VM's sizing, the wire form of
 * a sizing setter (plain calls with XAPI's positional parameters, numbers as JSON-RPC int64), whether one
 * is already done, and how a refused one is told. Pure except for what it is handed.
 */
import { XapiError, XapiErrorCode } from "../client/errors";
import { rebuildsDomain } from "../model/lifecycle";
import type { PlanInput, PlanStep } from "../model/plan";
import {
  type DeclaredSizing,
  formatBytes,
  type GuestAbilities,
  SIZING_PROPERTY,
  type SizingFields,
  sizingOf,
} from "../model/sizing";
import { ruleOf, SizingEffect } from "../model/sizing-rules";
import { PowerState, SizingCall } from "../model/vocabulary";
import { invalid, shown } from "../model/wording";
import type { ConvergeResult } from "./index";

/** The VM operation XAPI lists in `allowed_operations` when `VM.set_VCPUs_number_live` would pass its checks. */
const LIVE_VCPUS_OPERATION = "changing_VCPUs_live";

/**
 * The arguments of a sizing setter after the VM ref, in XAPI's order (`SIZING_RULES` params).
 * @throws TypeError on a missing, extra or non-integer argument
 */
export function sizingArgs(step: PlanStep): number[] {
  const params = ruleOf(step.call).params;
  const extra = Object.keys(step.args).filter((k) => !params.includes(k));
  if (extra.length > 0) throw new TypeError(`${step.call}: unexpected plan arguments ${extra.join(", ")}`);
  return params.map((name) => {
    const value = step.args[name];
    if (typeof value !== "number" || !Number.isSafeInteger(value)) {
      throw new TypeError(`${step.call}: argument ${name} must be an integer, got ${String(value)}`);
    }
    return value;
  });
}

/** The record fields after `step` succeeded (`set_VCPUs_number_live` writes `VCPUs_at_startup` too). */
export function applySizingStep(fields: SizingFields, step: PlanStep): SizingFields {
  const rule = ruleOf(step.call);
  const args = sizingArgs(step);
  const out: Record<string, number> = { ...fields };
  rule.fields.forEach((field, i) => {
    out[field] = args[i] ?? out[field] ?? 0;
  });
  return out as unknown as SizingFields;
}

/**
 * True when the record already holds what `step` writes, so it is skipped. Never for
 * `set_VCPUs_number_live`: it is about the running domain, which the record does not show.
 */
export function sizingAlreadySet(fields: SizingFields | undefined, step: PlanStep): boolean {
  if (fields === undefined || step.call === SizingCall.setVcpusNumberLive) return false;
  const after = applySizingStep(fields, step);
  return ruleOf(step.call).fields.every((f) => after[f] === fields[f]);
}

/** A sizing write on a live VM that its domain only gets at the next build (`set_VCPUs_at_startup`). */
export function waitsForBuild(step: PlanStep): boolean {
  return ruleOf(step.call).effect === SizingEffect.nextBuild && step.from !== PowerState.Halted;
}

/**
 * What the run tracks of the VM's sizing: the fields (as read, plus what the run wrote) and whether the
 * live domain runs an older vCPU count than the record.
 */
export class SizingKnowledge {
  fields: SizingFields | undefined;
  /** The live domain runs another vCPU count than `fields.VCPUs_at_startup`. */
  stale = false;
  /** `changing_VCPUs_live` was in the record's `allowed_operations` at the last read. */
  #hotplug = false;

  constructor(private readonly override: Partial<GuestAbilities> | undefined) {}

  /** After a `VM.get_record`. */
  read(record: Readonly<Record<string, unknown>>): void {
    this.fields = sizingOf(record);
    const ops = Array.isArray(record.allowed_operations) ? record.allowed_operations : [];
    this.#hotplug = ops.includes(LIVE_VCPUS_OPERATION);
  }

  /**
   * The guest's abilities for the planner: the caller's, else hotplug as the record's
   * `allowed_operations` says (a Running VM only) and the licence as not granted.
   */
  guest(): GuestAbilities {
    return {
      vcpuHotplug: this.override?.vcpuHotplug ?? this.#hotplug,
      liveVcpusLicensed: this.override?.liveVcpusLicensed ?? false,
    };
  }

  /** The planner's sizing inputs. */
  planInput(
    declared: DeclaredSizing | undefined,
    available: ReadonlySet<SizingCall> | undefined,
  ): Pick<
    PlanInput,
    "observedSizing" | "declaredSizing" | "guest" | "liveDomainSizingStale" | "availableSizingCalls"
  > {
    return {
      observedSizing: this.fields,
      declaredSizing: declared,
      guest: this.guest(),
      liveDomainSizingStale: this.stale,
      availableSizingCalls: available,
    };
  }

  /** The run's result fields: `sizingPending` when sizing is managed, `observedSizing` when read. */
  outcome(managed: boolean, power: PowerState): Pick<ConvergeResult, "sizingPending" | "observedSizing"> {
    return {
      ...(managed ? { sizingPending: power !== PowerState.Halted && this.stale } : {}),
      ...(this.fields === undefined ? {} : { observedSizing: this.fields }),
    };
  }

  /** What a sizing setter sends after its method name, whether it is already done, and the bookkeeping after it. */
  write(
    step: PlanStep,
    ref: string | undefined,
    power: () => PowerState,
  ): { args: unknown[]; already: boolean; commit: () => void } {
    const args = [ref, ...sizingArgs(step)];
    return { args, already: sizingAlreadySet(this.fields, step), commit: () => this.wrote(step, power()) };
  }

  /** After a sizing setter succeeded in `power`. */
  wrote(step: PlanStep, power: PowerState): void {
    if (this.fields !== undefined) this.fields = applySizingStep(this.fields, step);
    const live = ruleOf(step.call).effect === SizingEffect.live;
    if (step.call === SizingCall.setVcpusNumberLive) this.stale = false;
    else if (!live && step.call === SizingCall.setVcpusAtStartup && power !== PowerState.Halted)
      this.stale = true;
  }

  /** After a lifecycle call completed: a new domain, or none, runs the record's values. */
  moved(call: string, to: PowerState): void {
    if (rebuildsDomain(call) || to === PowerState.Halted) this.stale = false;
  }
}

/**
 * How a refused sizing setter is told: the failure as what failed, expected vs received, and a hint; or
 * `undefined` for a code with nothing to add.
 */
export function sizingFailure(error: unknown, step: PlanStep): string | undefined {
  if (!(error instanceof XapiError)) return undefined;
  const received = shown(`${error.code}${error.params.length > 0 ? `(${error.params.join(", ")})` : ""}`);
  const nvcpu = step.args.nvcpu;
  switch (error.code) {
    case XapiErrorCode.VM_LACKS_FEATURE:
      return invalid(
        `${step.call} could not set vcpus.atStartup ${String(nvcpu)} live`,
        "a guest that can hotplug vCPUs",
        received,
        'The guest no longer offers vCPU hotplug (changing_VCPUs_live left the VM\'s allowed operations): run again, and the next plan writes vcpus.atStartup for the next domain build (a reboot under bootChanges "restart", pending under "next-boot"); or check the guest\'s tools (PV drivers, vCPU hotplug).',
      );
    case XapiErrorCode.LICENCE_RESTRICTION:
      return invalid(
        `${step.call} could not set vcpus.atStartup ${String(nvcpu)} live`,
        "a pool licensed for live vCPU changes (Live_set_vcpus)",
        received,
        'The pool\'s licence does not allow live vCPU changes: run again, and the next plan writes vcpus.atStartup for the next domain build (a reboot under bootChanges "restart", pending under "next-boot"); or license the pool.',
      );
    case XapiErrorCode.MEMORY_CONSTRAINT_VIOLATION:
    case XapiErrorCode.MEMORY_CONSTRAINT_VIOLATION_ORDER:
    case XapiErrorCode.MEMORY_CONSTRAINT_VIOLATION_MAXPIN:
      return invalid(
        `${step.call} refused the memory bounds ${describeArgs(step)}`,
        error.code === XapiErrorCode.MEMORY_CONSTRAINT_VIOLATION_MAXPIN
          ? "dynamicMin = dynamicMax = staticMax (this VM's memory is pinned)"
          : "staticMin ≤ dynamicMin ≤ dynamicMax ≤ staticMax",
        received,
        error.code === XapiErrorCode.MEMORY_CONSTRAINT_VIOLATION_MAXPIN
          ? "Declare memory.dynamicMin and memory.dynamicMax equal to memory.staticMax."
          : "Declare the memory bounds in that order.",
      );
    case XapiErrorCode.INVALID_VALUE:
      return invalid(
        `${step.call} refused ${describeArgs(step)}`,
        "1 ≤ vcpus.atStartup ≤ vcpus.max (of the running domain, for a live change)",
        received,
        "Declare vcpus.max at least vcpus.atStartup.",
      );
    case XapiErrorCode.HOST_NOT_ENOUGH_FREE_MEMORY:
      return invalid(
        `${step.call} could not grow the running VM's memory to ${describeArgs(step)}`,
        "enough free memory on its host",
        received,
        "Free memory on the host, or lower memory.dynamicMin.",
      );
    default:
      return undefined;
  }
}

/** The hint for a domain build refused for the vCPU count (`HOST_NOT_ENOUGH_PCPUS`), else `undefined`. */
export function sizingBuildHint(error: unknown): string | undefined {
  if (!(error instanceof XapiError) || error.code !== XapiErrorCode.HOST_NOT_ENOUGH_PCPUS) return undefined;
  return `The VM's ${SIZING_PROPERTY.VCPUs_max} (${error.params[0] ?? "?"}) exceeds the host's physical CPUs (${error.params[1] ?? "?"}): lower vcpus.max, or set platform vcpu-unrestricted.`;
}

function describeArgs(step: PlanStep): string {
  return Object.entries(step.args)
    .map(
      ([k, v]) =>
        `${k} ${typeof v === "number" && !k.includes("cpu") && k !== "value" ? formatBytes(v) : String(v)}`,
    )
    .join(", ");
}
