/**
 * `xapi-review`'s input: the output of `pulumi preview --json`, read leniently into the VM resources that
 * change, each with its plan (`__xapiPlan`, `provider/resource/plan-data.ts`) and its human lines
 * (`plannedCalls`). Pure: text or parsed JSON in, data out.
 */
import type { PlanData, PlannedStep } from "../resource/plan-data";
import { unpack } from "../resource/stored";

/** The resource type of a `Vm` in the engine's state. */
export const VM_TYPE = "pulumi-nodejs:dynamic/xapi:Vm";

/** The input is not the output of `pulumi preview --json`. */
export class ReviewInputError extends Error {
  override readonly name = "ReviewInputError";
}

/** One planned call (`__xapiPlan.steps[]`). */
export type PlanStep = PlannedStep;

/** `__xapiPlan`. */
export type Plan = PlanData;

export type Bag = Readonly<Record<string, unknown>>;

interface EngineState {
  readonly type?: string;
  /** The resource id: a VM's uuid, which its stored outputs leave out. */
  readonly id?: string;
  readonly inputs?: Bag;
  readonly outputs?: Bag;
}

export interface EngineStep {
  readonly op: string;
  readonly urn: string;
  readonly oldState?: EngineState;
  readonly newState?: EngineState;
  readonly replaceReasons?: readonly string[];
}

export interface Diagnostic {
  readonly urn?: string;
  readonly message: string;
  readonly severity: string;
}

/** Steps that change nothing. */
const UNCHANGED_OPS = new Set(["same", "refresh", "read"]);
/** The steps of a replacement (a preview shows `replace`; an update's log the other two as well). */
const REPLACE_OPS = new Set(["replace", "create-replacement", "delete-replaced"]);

/** What the review says about one VM resource. */
export interface VmChange {
  readonly name: string;
  readonly op: string;
  readonly plan: Plan | undefined;
  /** The human lines (`plannedCalls`), for plans without call data. */
  readonly lines: readonly string[];
  readonly oldInputs: Bag;
  readonly oldOutputs: Bag;
  readonly newInputs: Bag;
  readonly replaceReasons: readonly string[];
}

/** Parses the text of `pulumi preview --json`. @throws ReviewInputError */
export function parsePreviewText(text: string, source = "the input"): unknown {
  if (text.trim() === "") {
    throw new ReviewInputError(
      `${source} is empty: expected the output of \`pulumi preview --json\` (did the preview start? its errors are on its stderr).`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const start = text.trimStart().slice(0, 60).replace(/\s+/g, " ").trim();
    throw new ReviewInputError(
      `${source} is not JSON (${(error as Error).message.replace(/\s+/g, " ")}): expected the output of \`pulumi preview --json\`, received ${JSON.stringify(start)}${text.trimStart().length > 60 ? "…" : ""}. Was --json given?`,
    );
  }
}

export function isBag(v: unknown): v is Bag {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** The engine's steps and diagnostics. @throws ReviewInputError when `json` is not such an output */
export function readPreview(json: unknown): { steps: EngineStep[]; diagnostics: Diagnostic[] } {
  const expected = 'expected the output of `pulumi preview --json`: an object with "steps" or "diagnostics"';
  if (!isBag(json)) {
    throw new ReviewInputError(`${expected}, received ${Array.isArray(json) ? "an array" : typeof json}.`);
  }
  if (!Array.isArray(json.steps) && !Array.isArray(json.diagnostics)) {
    const keys = Object.keys(json).slice(0, 6).join(", ");
    throw new ReviewInputError(`${expected}, received an object with ${keys === "" ? "no keys" : keys}.`);
  }
  const steps = (Array.isArray(json.steps) ? json.steps : []).map((s, i) => engineStep(s, i, expected));
  const diagnostics: Diagnostic[] = [];
  for (const d of Array.isArray(json.diagnostics) ? json.diagnostics : []) {
    if (!isBag(d) || typeof d.message !== "string") continue;
    const urn = str(d.urn);
    diagnostics.push({
      message: d.message,
      severity: str(d.severity) ?? "error",
      ...(urn === undefined ? {} : { urn }),
    });
  }
  return { steps, diagnostics };
}

/** One engine step. @throws ReviewInputError without `op` and `urn` */
function engineStep(s: unknown, i: number, expected: string): EngineStep {
  if (!isBag(s) || typeof s.op !== "string" || typeof s.urn !== "string") {
    throw new ReviewInputError(`${expected}; steps[${i}] has no "op" and "urn".`);
  }
  const state = (v: unknown): EngineState | undefined =>
    isBag(v)
      ? {
          ...(typeof v.type === "string" ? { type: v.type } : {}),
          ...(typeof v.id === "string" ? { id: v.id } : {}),
          ...(isBag(v.inputs) ? { inputs: v.inputs } : {}),
          ...(isBag(v.outputs) ? { outputs: v.outputs } : {}),
        }
      : undefined;
  const oldState = state(s.oldState);
  const newState = state(s.newState);
  return {
    op: s.op,
    urn: s.urn,
    ...(oldState === undefined ? {} : { oldState }),
    ...(newState === undefined ? {} : { newState }),
    replaceReasons: Array.isArray(s.replaceReasons)
      ? s.replaceReasons.filter((r) => typeof r === "string")
      : [],
  };
}

/** The resource name: the URN's last `::` part. */
export function nameOf(urn: string): string {
  return urn.split("::").at(-1) ?? urn;
}

function isVmStep(step: EngineStep): boolean {
  const type = step.newState?.type ?? step.oldState?.type;
  if (type !== undefined) return type === VM_TYPE;
  // urn:pulumi:<stack>::<project>::<parent types $>type::name
  const parts = step.urn.split("::");
  return (parts.at(-2) ?? "").split("$").at(-1) === VM_TYPE;
}

function readPlan(inputs: Bag | undefined): Plan | undefined {
  const p = inputs?.__xapiPlan;
  if (!isBag(p)) return undefined;
  const source =
    p.source === "pool" || p.source === "recorded-inputs" || p.source === "deferred" ? p.source : undefined;
  if (source === undefined) return undefined;
  const steps: PlanStep[] = [];
  for (const s of Array.isArray(p.steps) ? p.steps : []) {
    if (!isBag(s) || typeof s.call !== "string") continue;
    steps.push({
      vm: s.vm === "new" || s.vm === "replaced" ? s.vm : "existing",
      call: s.call,
      args: isBag(s.args) ? s.args : {},
      from: str(s.from),
      to: str(s.to),
      reason: str(s.reason),
      hard: s.hard === true,
      destructive: s.destructive === true,
      passesThroughRunning: s.passesThroughRunning === true,
    });
  }
  return { source, pool: str(p.pool), reason: str(p.reason), steps };
}

/**
 * The VM resources that change, in the preview's order, one per URN. (`--json` lists no `same` step
 * but the stack's, so unchanged VMs are not seen at all.)
 */
export function vmChanges(steps: readonly EngineStep[]): VmChange[] {
  const byUrn = new Map<string, EngineStep[]>();
  for (const step of steps.filter(isVmStep)) byUrn.set(step.urn, [...(byUrn.get(step.urn) ?? []), step]);
  const changes: VmChange[] = [];
  for (const [urn, group] of byUrn) {
    const changing = group.filter((s) => !UNCHANGED_OPS.has(s.op));
    if (changing.length === 0) continue;
    const op = changing.some((s) => REPLACE_OPS.has(s.op)) ? "replace" : (changing[0]?.op ?? "update");
    const withPlan = changing.find((s) => readPlan(s.newState?.inputs) !== undefined) ?? changing[0];
    const withOld = changing.find((s) => s.oldState !== undefined);
    const lines = withPlan?.newState?.inputs?.plannedCalls;
    changes.push({
      name: nameOf(urn),
      op,
      plan: readPlan(withPlan?.newState?.inputs),
      lines: Array.isArray(lines) ? lines.filter((l): l is string => typeof l === "string") : [],
      // Recorded in the stored form of whichever release wrote them: read flat, as the provider reads them.
      oldInputs: unpack(withOld?.oldState?.inputs ?? {}),
      oldOutputs: unpack(withOld?.oldState?.outputs ?? {}, withOld?.oldState?.id),
      newInputs: withPlan?.newState?.inputs ?? {},
      replaceReasons: changing.flatMap((s) => s.replaceReasons ?? []),
    });
  }
  return changes;
}

/** The stack and project, from the first URN (`urn:pulumi:<stack>::<project>::…`). */
export function stackOf(steps: readonly EngineStep[]): { stack: string; project: string } | undefined {
  const m = /^urn:pulumi:([^:]+)::([^:]+)::/.exec(steps[0]?.urn ?? "");
  return m?.[1] === undefined || m[2] === undefined ? undefined : { stack: m[1], project: m[2] };
}
