/**
 * The `Vm`'s property bags in the flat form the operations work on (`stored.ts` packs and unpacks the
 * stored form): which keys are declared, which only the provider writes, and the lenient readers of a bag
 * (bags may come from older states or from a preview's recorded inputs).
 */
import { type VmInputs, validateVmInputs } from "../inputs";
import type { Policy } from "../model/plan";
import { DEFAULT_POLICY } from "../model/plan";
import type { BootDeclaration } from "./boot";
import { ProviderError, ProviderErrorCode } from "./errors";
import { DECLARED_KEYS, InternalKey, PLANNED_CALLS_KEY } from "./types";

/** A property bag as the dynamic-provider host passes it (plain JSON). */
export type Bag = Record<string, unknown>;

export { DECLARED_KEYS };

/** Properties only the provider writes. */
export const OUTPUT_KEYS = [
  "adopted",
  "poolUuid",
  "observedPowerState",
  "effectiveBoot",
  "pendingBootChanges",
  "observedDomid",
  "lastCalls",
  "observedVcpus",
  "observedMemory",
] as const;

/** Keys `check` never validates as user input. */
export const NOT_USER_INPUT: readonly string[] = [...OUTPUT_KEYS, PLANNED_CALLS_KEY];

/** The declared properties of a bag, without the provider's. */
export function pickDeclared(bag: Bag): Bag {
  const out: Bag = {};
  for (const key of DECLARED_KEYS) if (bag[key] !== undefined) out[key] = bag[key];
  return out;
}

/** The `pv` / `hvm` block of a property bag (read leniently: bags may come from older states). */
export function bootDeclarationOf(bag: Bag): BootDeclaration {
  const isObject = (v: unknown): boolean => typeof v === "object" && v !== null;
  if (isObject(bag.pv)) return { pv: bag.pv as BootDeclaration["pv"] };
  if (isObject(bag.hvm)) return { hvm: bag.hvm as BootDeclaration["hvm"] };
  return {};
}

/** Validated, normalized inputs, or INVALID_INPUTS (check normally rejects them first). */
export function validated(bag: Bag): VmInputs {
  const validation = validateVmInputs(bag, { ignoreKeys: NOT_USER_INPUT });
  if (validation.ok && validation.unknowns.length === 0) return validation.value;
  // Each failure's reason is already "what: expected …, received …"; unknowns are told the same way.
  const reasons = validation.ok
    ? [`expected known values, received unknown values in ${validation.unknowns.join(", ")}`]
    : validation.failures.map((f) => `${f.property}: ${f.reason}`);
  throw new ProviderError(
    ProviderErrorCode.INVALID_INPUTS,
    `Invalid Vm inputs: ${reasons.join("; ")}. \`pulumi preview\` lists the failures per property.`,
  );
}

/** The declared policy with the defaults for what it leaves out. */
export function policyOf(policy: Partial<Policy> | undefined): Policy {
  return { ...DEFAULT_POLICY, ...(policy ?? {}) };
}

/** The resource's URN (the `Vm` class passes it), or `undefined` for a caller that does not. */
export function urnOf(bag: Bag): string | undefined {
  const urn = bag[InternalKey.urn];
  return typeof urn === "string" ? urn : undefined;
}

/**
 * A VM created from a template is named after its resource unless `nameLabel` says otherwise; the
 * resource name is the last segment of the URN the program sent.
 */
export function withDefaultName(news: Bag): Bag {
  const urn = news[InternalKey.urn];
  if (news.nameLabel !== undefined || news.template === undefined || typeof urn !== "string") return news;
  return { ...news, nameLabel: urn.slice(urn.lastIndexOf("::") + 2) };
}

/** The strings of a list read leniently (`[]` for anything else). */
export function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** Removes `undefined` everywhere: protobuf's Struct cannot encode it. */
export function stripUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripUndefined);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, stripUndefined(v)]),
    );
  }
  return value;
}
