/**
 * A VM's vCPUs and memory: the six XAPI fields, what a user declares, what the guest and the pool allow,
 * and the one check of a resolved target (docs/xapi-vcpus-memory.md, "Constraints and error codes").
 * When each field can change is the table of `sizing-rules.ts`. Pure: no calls.
 */
import { invalid, shown } from "./wording";

/** The VM record's vCPU and memory fields (wire names; memory in bytes, XAPI int64). */
export interface SizingFields {
  readonly VCPUs_max: number;
  readonly VCPUs_at_startup: number;
  readonly memory_static_min: number;
  readonly memory_static_max: number;
  readonly memory_dynamic_min: number;
  readonly memory_dynamic_max: number;
}

/** The fields of {@link SizingFields}, in record order. */
export const SIZING_FIELDS = [
  "VCPUs_max",
  "VCPUs_at_startup",
  "memory_static_min",
  "memory_static_max",
  "memory_dynamic_min",
  "memory_dynamic_max",
] as const satisfies readonly (keyof SizingFields)[];

/** The property a user writes for each field (`memory_static_min` is never declared: it keeps the VM's). */
export const SIZING_PROPERTY: Readonly<Record<keyof SizingFields, string>> = {
  VCPUs_max: "vcpus.max",
  VCPUs_at_startup: "vcpus.atStartup",
  memory_static_min: "memory.staticMin",
  memory_static_max: "memory.staticMax",
  memory_dynamic_min: "memory.dynamicMin",
  memory_dynamic_max: "memory.dynamicMax",
};

/** What a user declares, memory already parsed to bytes. An omitted field keeps the VM's value. */
export interface DeclaredSizing {
  readonly vcpus?: { readonly atStartup: number; readonly max?: number | undefined } | undefined;
  readonly memory?:
    | {
        readonly staticMax?: number | undefined;
        readonly dynamicMin?: number | undefined;
        readonly dynamicMax: number;
      }
    | undefined;
}

/** Whether `VM.set_VCPUs_number_live` can succeed on this VM (docs/xapi-vcpus-memory.md §4). */
export interface GuestAbilities {
  /** The guest acts on vCPU hotplug (PV/PVH, PV drivers, or `feature-vcpu-hotplug`); else `VM_LACKS_FEATURE`. */
  readonly vcpuHotplug: boolean;
  /** The pool's licence has `Live_set_vcpus`; else `LICENCE_RESTRICTION`. */
  readonly liveVcpusLicensed: boolean;
}

/** The fields the VM must end with: each declared value overlaid on the observed one. */
export function resolveSizing(declared: DeclaredSizing, observed: SizingFields): SizingFields {
  const v = declared.vcpus;
  const m = declared.memory;
  return {
    VCPUs_max: v?.max ?? observed.VCPUs_max,
    VCPUs_at_startup: v?.atStartup ?? observed.VCPUs_at_startup,
    memory_static_min: observed.memory_static_min,
    memory_static_max: m?.staticMax ?? observed.memory_static_max,
    memory_dynamic_min: m?.dynamicMin ?? observed.memory_dynamic_min,
    memory_dynamic_max: m?.dynamicMax ?? observed.memory_dynamic_max,
  };
}

/**
 * Why a resolved target cannot be written, or `undefined` when it can: whole numbers, `1 ≤
 * VCPUs_at_startup ≤ VCPUs_max` (`INVALID_VALUE` in XAPI) and `static_min ≤ dynamic_min ≤ dynamic_max ≤
 * static_max` (`MEMORY_CONSTRAINT_VIOLATION_ORDER`). `declared` tells which side of a pair the user wrote,
 * so that the reason blames a declared property and names the VM's value it clashes with.
 */
export function validateSizing(target: SizingFields, declared?: DeclaredSizing): string | undefined {
  for (const field of SIZING_FIELDS) {
    const value = target[field];
    const least = field.startsWith("VCPUs") ? 1 : 0;
    if (!Number.isSafeInteger(value) || value < least) {
      return invalid(
        `Invalid ${SIZING_PROPERTY[field]}`,
        least === 1 ? "a whole number of vCPUs, at least 1" : "a whole number of bytes",
        value,
      );
    }
  }
  const pairs: readonly (readonly [keyof SizingFields, keyof SizingFields])[] = [
    ["VCPUs_at_startup", "VCPUs_max"],
    ["memory_static_min", "memory_dynamic_min"],
    ["memory_dynamic_min", "memory_dynamic_max"],
    ["memory_dynamic_max", "memory_static_max"],
  ];
  for (const [low, high] of pairs) {
    if (target[low] <= target[high]) continue;
    return orderReason(target, low, high, declaredFields(declared));
  }
  return undefined;
}

/**
 * The sizing fields of a VM record, or `undefined` when one is missing or not a number. XAPI's JSON-RPC
 * sends int64 as numbers; an XML-RPC answer carries them as decimal strings, read here too.
 */
export function sizingOf(record: Readonly<Record<string, unknown>>): SizingFields | undefined {
  const out: Partial<Record<keyof SizingFields, number>> = {};
  for (const field of SIZING_FIELDS) {
    const raw = record[field];
    const value = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof value !== "number" || !Number.isSafeInteger(value)) return undefined;
    out[field] = value;
  }
  return out as SizingFields;
}

/** `4294967296 (4 GiB)`: bytes with the largest binary unit that divides them exactly. */
export function formatBytes(bytes: number): string {
  const units = ["TiB", "GiB", "MiB", "KiB"] as const;
  for (const [i, unit] of units.entries()) {
    const size = 1024 ** (units.length - i);
    if (bytes >= size && bytes % size === 0) return `${bytes} (${bytes / size} ${unit})`;
  }
  return String(bytes);
}

//////////////////////////////
////   helpers            ////
//////////////////////////////

function declaredFields(d: DeclaredSizing | undefined): Set<keyof SizingFields> {
  const out = new Set<keyof SizingFields>();
  if (d?.vcpus !== undefined) out.add("VCPUs_at_startup");
  if (d?.vcpus?.max !== undefined) out.add("VCPUs_max");
  if (d?.memory?.staticMax !== undefined) out.add("memory_static_max");
  if (d?.memory?.dynamicMin !== undefined) out.add("memory_dynamic_min");
  if (d?.memory !== undefined) out.add("memory_dynamic_max");
  return out;
}

function show(field: keyof SizingFields, value: number): string {
  return field.startsWith("VCPUs") ? String(value) : formatBytes(value);
}

/** `low` exceeds `high`: blame the declared side (the low one when both are), name the other and its origin. */
function orderReason(
  t: SizingFields,
  low: keyof SizingFields,
  high: keyof SizingFields,
  declared: ReadonlySet<keyof SizingFields>,
): string {
  const blameLow = declared.has(low) || !declared.has(high);
  const [blamed, other] = blameLow ? [low, high] : [high, low];
  const origin = declared.has(other) ? "declared" : "the VM's";
  const bound = blameLow ? "at most" : "at least";
  const hint = declared.has(other)
    ? undefined
    : `Declare ${SIZING_PROPERTY[other]} too: an omitted field keeps the VM's value.`;
  return invalid(
    `Invalid declared ${SIZING_PROPERTY[blamed]}`,
    `${bound} ${SIZING_PROPERTY[other]} (${show(other, t[other])}, ${origin})`,
    shown(show(blamed, t[blamed])),
    hint === undefined
      ? "XAPI requires 1 ≤ vcpus.atStartup ≤ vcpus.max and staticMin ≤ dynamicMin ≤ dynamicMax ≤ staticMax."
      : hint,
  );
}
