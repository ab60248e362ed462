/**
 * A `Vm`'s vCPUs and memory, between the declaration and XAPI's fields:
 * - the `vcpus` and `memory` blocks as declared, their validation (one formula, the property named:
 *   `provider/model/wording.ts`) and their value in XAPI's units (memory in bytes: `provider/model/size.ts`);
 * - what the pool allows, read from records the provider reads anyway (no call of its own): whether its
 *   licence lets XAPI change vCPUs live, and which sizing setters its API version has (the guest's side,
 *   `changing_VCPUs_live` in the VM's `allowed_operations`, the executor reads from the VM record);
 * - the `observed.vcpus` / `observed.memory` outputs, and the declaration as the VM stands (refresh).
 *
 * The XAPI facts behind it, with their sources: docs/xapi-vcpus-memory.md.
 */
import { z } from "zod";
import { formatSize, parseSize, type Size, shownSize } from "../model/size";
import type { DeclaredSizing, SizingFields } from "../model/sizing";
import { PowerState, SizingCall } from "../model/vocabulary";
import { invalid } from "../model/wording";
import { type ApiVersion, atLeast } from "./api-version";

/** The `vcpus` block as declared. */
export interface VcpusDeclaration {
  /** vCPUs the VM runs with (`VCPUs_at_startup`; on a Running VM changed live where the guest can). */
  readonly atStartup: number;
  /** The most vCPUs the VM can have (`VCPUs_max`; changes only while Halted). Omitted: the VM's. */
  readonly max?: number | undefined;
}

/** The `memory` block as declared (sizes as written: bytes, or a binary unit such as "4GiB"). */
export interface MemoryDeclaration {
  /** `memory_static_max`: the domain's ceiling, fixed when it is built. Omitted: the VM's. */
  readonly staticMax?: Size | undefined;
  /** `memory_dynamic_min`: the least the balloon driver may shrink the guest to. Omitted: the VM's. */
  readonly dynamicMin?: Size | undefined;
  /** `memory_dynamic_max`: the memory the guest gets (live on a Running VM with a balloon driver). */
  readonly dynamicMax: Size;
}

/** The sizing part of a declaration. */
export interface SizingDeclaration {
  readonly vcpus?: VcpusDeclaration | undefined;
  readonly memory?: MemoryDeclaration | undefined;
}

/** The `observed.vcpus` output. */
export interface ObservedVcpus {
  readonly atStartup: number;
  readonly max: number;
}

/** The `observed.memory` output, in bytes. */
export interface ObservedMemory {
  readonly staticMin: number;
  readonly staticMax: number;
  readonly dynamicMin: number;
  readonly dynamicMax: number;
}

//////////////////////////////
////   validation         ////
//////////////////////////////

/** XAPI's vCPU rule, quoted in every vCPU failure (`set_VCPUs_at_startup`, `validate_vcpus`). */
const VCPU_RULE = "XAPI requires 1 ≤ VCPUs_at_startup ≤ VCPUs_max.";
/** XAPI's memory order, quoted in every ordering failure (`are_valid` in vm_memory_constraints.ml). */
const MEMORY_RULE = "XAPI requires static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max.";

/** Why `value` is not a vCPU count for `property`, or `undefined` when it is one. */
export function vcpuCountFailure(value: unknown, property: string): string | undefined {
  const expected = "a whole number of vCPUs, at least 1";
  if (value === undefined) {
    return invalid(`Missing ${property}`, expected, value, "Write e.g. vcpus: { atStartup: 2 }.");
  }
  if (typeof value !== "number") {
    const hint = typeof value === "string" ? `Write it as a number: ${Number(value) || 2}.` : undefined;
    return invalid(`Invalid type of ${property}`, expected, value, hint);
  }
  if (!Number.isSafeInteger(value) || value < 1) return invalid(`Invalid ${property}`, expected, value);
  return undefined;
}

/** A count field of `vcpus`: its own failure reported on its path, the value passed through as declared. */
function countSchema(name: string) {
  return z
    .unknown()
    .superRefine((value, ctx) => {
      const reason = vcpuCountFailure(value, `vcpus.${name}`);
      if (reason !== undefined) ctx.addIssue({ code: "custom", input: value, message: reason });
    })
    .transform((value) => value as number);
}

/** A size field of `memory`: its own failure reported on its path, the value kept as declared. */
function sizeSchema(name: string) {
  return z
    .unknown()
    .superRefine((value, ctx) => {
      if (value === undefined) {
        const missing = invalid(
          `Missing memory.${name}`,
          'a size such as "4GiB" or a number of bytes',
          value,
          'A memory block declares at least dynamicMax, e.g. memory: { dynamicMax: "4GiB" }.',
        );
        ctx.addIssue({ code: "custom", input: value, message: missing });
        return;
      }
      const parsed = parseSize(value, `memory.${name}`);
      if (!parsed.ok) ctx.addIssue({ code: "custom", input: value, message: parsed.reason });
    })
    .transform((value) => value as Size);
}

/**
 * `vcpus`: `atStartup` (required) and `max`, whole numbers ≥ 1 with `atStartup ≤ max` when both are declared.
 * The values stay as declared.
 */
export const VcpusSchema = z
  .strictObject({ atStartup: countSchema("atStartup"), max: countSchema("max").optional() })
  .superRefine((vcpus, ctx) => {
    const { atStartup, max } = vcpus as { atStartup: unknown; max: unknown };
    if (vcpuCountFailure(atStartup, "") !== undefined || max === undefined) return;
    if (vcpuCountFailure(max, "") !== undefined || (atStartup as number) <= (max as number)) return;
    ctx.addIssue({
      code: "custom",
      path: ["atStartup"],
      input: atStartup,
      params: { siblings: ["max"] },
      message: invalid(
        "Invalid vcpus.atStartup",
        `at most vcpus.max (${max as number})`,
        atStartup,
        `${VCPU_RULE} Raise vcpus.max or lower vcpus.atStartup.`,
      ),
    });
  });

/** The `memory` keys in XAPI's order, smallest first. */
const MEMORY_ORDER = ["dynamicMin", "dynamicMax", "staticMax"] as const;

/**
 * `memory`: `dynamicMax` (required), `dynamicMin` and `staticMax`, each a size (`provider/model/size.ts`),
 * ordered `dynamicMin ≤ dynamicMax ≤ staticMax` among those declared. The values stay as declared.
 */
export const MemorySchema = z
  .strictObject({
    staticMax: sizeSchema("staticMax").optional(),
    dynamicMin: sizeSchema("dynamicMin").optional(),
    dynamicMax: sizeSchema("dynamicMax"),
  })
  .superRefine((memory, ctx) => {
    const declared = memory as Record<string, unknown>;
    // Each declared, valid size against the next larger declared one.
    const sizes = MEMORY_ORDER.flatMap((key) => {
      const parsed = declared[key] === undefined ? undefined : parseSize(declared[key], key);
      return parsed?.ok === true ? [{ key, raw: declared[key], bytes: parsed.bytes }] : [];
    });
    for (let i = 0; i + 1 < sizes.length; i++) {
      const [low, high] = [sizes[i], sizes[i + 1]];
      if (low === undefined || high === undefined || low.bytes <= high.bytes) continue;
      ctx.addIssue({
        code: "custom",
        path: [low.key],
        input: low.raw,
        params: { siblings: [high.key] },
        message: invalid(
          `Invalid memory.${low.key}`,
          `at most memory.${high.key}, which is ${shownSize(high.raw, high.bytes).text}`,
          shownSize(low.raw, low.bytes),
          `${MEMORY_RULE} Raise memory.${high.key} or lower memory.${low.key}.`,
        ),
      });
    }
  });

/** The declared sizing in XAPI's units; `undefined` when neither block is declared. Inputs already validated. */
export function declaredSizingOf(decl: SizingDeclaration): DeclaredSizing | undefined {
  if (decl.vcpus === undefined && decl.memory === undefined) return undefined;
  const memory = decl.memory;
  return {
    ...(decl.vcpus === undefined
      ? {}
      : {
          vcpus: {
            atStartup: decl.vcpus.atStartup,
            ...(decl.vcpus.max === undefined ? {} : { max: decl.vcpus.max }),
          },
        }),
    ...(memory === undefined
      ? {}
      : {
          memory: {
            ...(memory.staticMax === undefined ? {} : { staticMax: bytesOf(memory.staticMax, "staticMax") }),
            ...(memory.dynamicMin === undefined
              ? {}
              : { dynamicMin: bytesOf(memory.dynamicMin, "dynamicMin") }),
            dynamicMax: bytesOf(memory.dynamicMax, "dynamicMax"),
          },
        }),
  };
}

/** The bytes of a validated size. */
function bytesOf(size: Size, key: string): number {
  const parsed = parseSize(size, `memory.${key}`);
  if (!parsed.ok)
    throw new Error(`pulumi-xapi: an unvalidated size reached the plan (a bug): ${parsed.reason}`);
  return parsed.bytes;
}

//////////////////////////////
////   observation        ////
//////////////////////////////

function intOf(value: unknown): number | undefined {
  const n = typeof value === "string" && /^-?[0-9]+$/.test(value) ? Number(value) : value;
  return typeof n === "number" && Number.isSafeInteger(n) ? n : undefined;
}

/** The pool restriction that, when "true", withholds `Live_set_vcpus` (ocaml/xapi-types/features.ml). */
export const RESTRICT_LIVE_VCPUS = "restrict_set_vcpus_number_live";

/** Ely, the release whose `VM.set_VCPUs_number_live` first checks the pool's licence (datamodel_vm.ml). */
const LIVE_VCPUS_LICENSED_SINCE: ApiVersion = { major: 2, minor: 6 };

/**
 * The pool's licence has `Live_set_vcpus`, from the pool record's `restrictions` (read once per connection
 * anyway), as XAPI reads them (`of_assoc_list` in ocaml/xapi-types/features.ml):
 * `restrict_set_vcpus_number_live` "false" grants it, "true" withholds it (`VM.set_VCPUs_number_live` then
 * fails `LICENCE_RESTRICTION`, docs/xapi-vcpus-memory.md §3), and a missing or unreadable key withholds it
 * too (it is not one of the features XAPI enables when unknown). Before API 2.6 the call checked no licence:
 * then it is granted. `api` unknown: taken as current.
 */
export function liveVcpusLicensedOf(
  pool: Readonly<Record<string, unknown>> | undefined,
  api?: ApiVersion,
): boolean {
  if (api !== undefined && !atLeast(api, LIVE_VCPUS_LICENSED_SINCE)) return true;
  const restrictions = pool?.restrictions;
  const flag =
    typeof restrictions === "object" && restrictions !== null
      ? (restrictions as Record<string, unknown>)[RESTRICT_LIVE_VCPUS]
      : undefined;
  return flag === "false";
}

/** The `observed.vcpus` output. */
export function observedVcpusOf(fields: SizingFields): ObservedVcpus {
  return { atStartup: fields.VCPUs_at_startup, max: fields.VCPUs_max };
}

/** The `observed.memory` output (bytes). */
export function observedMemoryOf(fields: SizingFields): ObservedMemory {
  return {
    staticMin: fields.memory_static_min,
    staticMax: fields.memory_static_max,
    dynamicMin: fields.memory_dynamic_min,
    dynamicMax: fields.memory_dynamic_max,
  };
}

/**
 * The declared sizing as the VM stands, for `read` (refresh), in the shape the user declared so that a
 * refresh shows exactly the drift: only the declared blocks and keys, each with the VM's value; a size
 * keeps its declared spelling while it is the VM's value, and is written in its shortest binary unit
 * otherwise (`formatSize`).
 */
export function observedSizingDeclaration(decl: SizingDeclaration, fields: SizingFields): SizingDeclaration {
  const out: { vcpus?: VcpusDeclaration; memory?: MemoryDeclaration } = {};
  if (decl.vcpus !== undefined) {
    out.vcpus = {
      atStartup: fields.VCPUs_at_startup,
      ...(decl.vcpus.max === undefined ? {} : { max: fields.VCPUs_max }),
    };
  }
  const memory = decl.memory;
  if (memory !== undefined) {
    const asDeclared = (declared: Size | undefined, bytes: number): Size | undefined => {
      if (declared === undefined) return undefined;
      const parsed = parseSize(declared, "memory");
      if (parsed.ok && parsed.bytes === bytes) return declared;
      const text = formatSize(bytes);
      return text.endsWith(" bytes") ? bytes : text;
    };
    const staticMax = asDeclared(memory.staticMax, fields.memory_static_max);
    const dynamicMin = asDeclared(memory.dynamicMin, fields.memory_dynamic_min);
    out.memory = {
      ...(staticMax === undefined ? {} : { staticMax }),
      ...(dynamicMin === undefined ? {} : { dynamicMin }),
      dynamicMax: asDeclared(memory.dynamicMax, fields.memory_dynamic_max) ?? fields.memory_dynamic_max,
    };
  }
  return out;
}

//////////////////////////////
////   pending changes    ////
//////////////////////////////

/** A written setter, as the executor reports it. */
interface WrittenSetter {
  readonly call: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly from?: string | undefined;
}

/**
 * The declared properties (`vcpus.atStartup`, `memory.staticMax`, …) that `steps` changed in the VM's
 * record but not in a running domain: every sizing write takes effect at the next domain build except
 * `VM.set_VCPUs_number_live` and `VM.set_memory_dynamic_range` on a Running VM, which reach the domain at
 * once (docs/xapi-vcpus-memory.md §4). For the pending report, next to the boot paths; sorted, no duplicates.
 */
export function sizingPathsOf(steps: readonly WrittenSetter[], before: SizingFields | undefined): string[] {
  const paths = new Set<string>();
  const differs = (field: keyof SizingFields, value: unknown) =>
    before === undefined || intOf(value) !== before[field];
  for (const { call, args, from } of steps) {
    switch (call) {
      case SizingCall.setVcpusMax:
        if (differs("VCPUs_max", args.value)) paths.add("vcpus.max");
        break;
      case SizingCall.setVcpusAtStartup:
        if (differs("VCPUs_at_startup", args.value)) paths.add("vcpus.atStartup");
        break;
      case SizingCall.setMemoryDynamicRange:
        if (from === PowerState.Running) break;
        if (differs("memory_dynamic_min", args.min)) paths.add("memory.dynamicMin");
        if (differs("memory_dynamic_max", args.max)) paths.add("memory.dynamicMax");
        break;
      case SizingCall.setMemoryLimits:
        if (differs("memory_static_max", args.static_max)) paths.add("memory.staticMax");
        if (differs("memory_dynamic_min", args.dynamic_min)) paths.add("memory.dynamicMin");
        if (differs("memory_dynamic_max", args.dynamic_max)) paths.add("memory.dynamicMax");
        break;
      default:
        break;
    }
  }
  return [...paths].sort();
}

/** Midnight Ride, the release of `set_VCPUs_max`, `set_VCPUs_at_startup` and the memory range setters. */
const SIZING_SETTERS_SINCE: ApiVersion = { major: 1, minor: 7 };

/** Which sizing setters the pool's XAPI has: `VM.set_VCPUs_number_live` since 1.1, the others since 1.7. */
export function availableSizingCallsOf(api: ApiVersion): ReadonlySet<SizingCall> {
  if (atLeast(api, SIZING_SETTERS_SINCE)) return new Set(Object.values(SizingCall));
  return new Set([SizingCall.setVcpusNumberLive]);
}

/** True for a pending path that is a sizing property (the pending note holds boot and sizing paths). */
export function isSizingPath(path: string): boolean {
  return path.startsWith("vcpus.") || path.startsWith("memory.");
}

/** The declared sizing properties, those XAPI writes only on a Halted VM first. */
const FAILING_ORDER = [
  ["vcpus.max", (d: DeclaredSizing) => d.vcpus?.max, (o: Observed) => o.vcpus?.max],
  ["memory.staticMax", (d: DeclaredSizing) => d.memory?.staticMax, (o: Observed) => o.memory?.staticMax],
  ["memory.dynamicMax", (d: DeclaredSizing) => d.memory?.dynamicMax, (o: Observed) => o.memory?.dynamicMax],
  ["memory.dynamicMin", (d: DeclaredSizing) => d.memory?.dynamicMin, (o: Observed) => o.memory?.dynamicMin],
  ["vcpus.atStartup", (d: DeclaredSizing) => d.vcpus?.atStartup, (o: Observed) => o.vcpus?.atStartup],
] as const;

/** The observed sizing as the outputs carry it. */
interface Observed {
  readonly vcpus?: Partial<ObservedVcpus> | undefined;
  readonly memory?: Partial<ObservedMemory> | undefined;
}

/**
 * The property a sizing plan failure (`NEEDS_POWER_CYCLE`, `INVALID_DECLARED_SIZING`) is reported on in
 * `check`: the first declared property that differs from the VM's value, those needing a Halted VM first
 * (the failure's reason names every property concerned); the block itself when none differs.
 */
export function failingSizingProperty(declared: DeclaredSizing | undefined, observed: Observed): string {
  for (const [property, want, has] of FAILING_ORDER) {
    const value = declared === undefined ? undefined : want(declared);
    if (value !== undefined && value !== has(observed)) return property;
  }
  return declared?.vcpus === undefined ? "memory" : "vcpus";
}
