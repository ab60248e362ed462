/**
 * The `Vm`'s property bags as the Pulumi engine carries and stores them ("stored form"), and the flat
 * form the operations work on.
 *
 * Stored form, written since 0.2: the declared inputs at the top level (the dynamic-provider host gives
 * `diff`, `update`, `read` and `delete` only the recorded outputs, so the outputs must echo what the next
 * diff compares and what a delete needs); the provider's internal keys as one JSON text under `__xapi`;
 * the observations as one JSON text under `observed`; the VM's uuid is the resource id, repeated as
 * `uuid` only when declared (an adopted VM).
 *
 * Why text: the file backend rewrites the whole checkpoint after every step of a run
 * (`SnapshotManager.saveSnapshot`, pulumi/pulumi `pkg/backend/snapshot.go`), converting, encoding and
 * hashing every value of every resource, so a resource's cost grows with its count of values; one text
 * is one value. The CLI still shows a change of such a text as a structured diff, tagged `(json)`
 * (`printEncodedValueDiff`, `pkg/backend/display/object_diff.go`).
 *
 * Earlier forms still read: 0.2's `__xapi` and `observed` objects (`lastCalls` a text of its own inside),
 * and the flat form. Flat form: every key at the top level (`__xapiUrn`, `observedPowerState`, `uuid`,
 * …), which is what release 0.1 stored and what the operations work on. {@link unpack} reads every form,
 * so a stack written by 0.1 refreshes, updates and deletes unchanged; {@link pack} writes the stored form.
 */
import type { Bag } from "./property-bag";
import type { VmObserved } from "./types";

/** The one top-level key holding the provider's internal keys, as JSON text (hidden from diffs: it starts with `__`). */
export const INTERNAL_KEY = "__xapi";
/** The one top-level key holding what the provider observed, as JSON text. */
export const OBSERVED_KEY = "observed";
/** Flat internal keys start with this; in the stored form they sit in `__xapi` without it. */
const INTERNAL_PREFIX = "__xapi";
/** Internal keys that stay at the top level: the preview's plan, read by `pulumi preview --json` users. */
const TOP_LEVEL_INTERNAL: ReadonlySet<string> = new Set(["__xapiPlan"]);

/** Flat output key → its field in `observed`. */
export const OBSERVED_FIELDS = {
  adopted: "adopted",
  poolUuid: "poolUuid",
  observedPowerState: "powerState",
  effectiveBoot: "effectiveBoot",
  pendingBootChanges: "pendingBootChanges",
  observedDomid: "domid",
  lastCalls: "lastCalls",
  observedVcpus: "vcpus",
  observedMemory: "memory",
} as const satisfies Record<string, keyof VmObserved>;

type FlatObservedKey = keyof typeof OBSERVED_FIELDS;

/** Observations `observed` leaves out when they have this value (most VMs): `unpack` puts them back. */
const OBSERVED_DEFAULTS: Partial<Record<FlatObservedKey, unknown>> = {
  adopted: false,
  pendingBootChanges: [],
};

function isObservedDefault(key: FlatObservedKey, value: unknown): boolean {
  const absent = OBSERVED_DEFAULTS[key];
  return Array.isArray(absent) ? Array.isArray(value) && value.length === 0 : absent === value;
}
const FLAT_OBSERVED = Object.keys(OBSERVED_FIELDS) as FlatObservedKey[];

/**
 * The flat form of a bag in either form. `id` (the resource id, the VM's uuid) restores `uuid` for a VM
 * whose stored outputs leave it out.
 */
export function unpack(bag: Bag, id?: string): Bag {
  const flat: Bag = {};
  let observed = false;
  for (const [key, value] of Object.entries(bag)) {
    const packed = key === INTERNAL_KEY || key === OBSERVED_KEY ? recordOfStored(value) : undefined;
    if (packed !== undefined && key === INTERNAL_KEY) {
      for (const [name, inner] of Object.entries(packed)) flat[flatInternalKey(name)] = inner;
    } else if (packed !== undefined) {
      observed = true;
      for (const [flatKey, inner] of observationsOf(packed)) flat[flatKey] = inner;
    } else {
      flat[key] = value;
    }
  }
  if (flat.uuid === undefined && id !== undefined && observed) flat.uuid = id;
  return flat;
}

/** The stored form of a flat bag (see the module comment). */
export function pack(flat: Bag): Bag {
  const stored: Bag = {};
  const internal: Bag = {};
  const observed: Bag = {};
  for (const [key, value] of Object.entries(flat)) {
    if (value === undefined) continue;
    if (key.startsWith(INTERNAL_PREFIX) && key !== INTERNAL_KEY && !TOP_LEVEL_INTERNAL.has(key)) {
      internal[storedInternalKey(key)] = value;
    } else if (key in OBSERVED_FIELDS) {
      if (isObservedDefault(key as FlatObservedKey, value)) continue;
      observed[OBSERVED_FIELDS[key as FlatObservedKey]] = toStored(key as FlatObservedKey, value);
    } else {
      stored[key] = value;
    }
  }
  // An observed VM's uuid is the resource id; it stays only when declared (adoption).
  if (Object.keys(observed).length > 0) {
    stored[OBSERVED_KEY] = JSON.stringify(observed);
    if (observed.adopted !== true) delete stored.uuid;
  }
  if (Object.keys(internal).length > 0) stored[INTERNAL_KEY] = JSON.stringify(internal);
  return stored;
}

/**
 * `Vm.observed`: the observations of a stored `observed` (JSON text, or 0.2's object) with what the stored
 * form leaves out put back; `undefined` when there is none (a state from 0.1, a failed create).
 */
export function observedOfStored(stored: unknown): VmObserved | undefined {
  const packed = recordOfStored(stored);
  if (packed === undefined) return undefined;
  const observed = observationsOf(packed).map(([flatKey, inner]) => [OBSERVED_FIELDS[flatKey], inner]);
  return Object.fromEntries(observed) as unknown as VmObserved;
}

/** The observations of a stored `observed` object by flat key, with what the stored form leaves out put back. */
function observationsOf(packed: Record<string, unknown>): [FlatObservedKey, unknown][] {
  const found: [FlatObservedKey, unknown][] = [];
  for (const flatKey of FLAT_OBSERVED) {
    const inner = packed[OBSERVED_FIELDS[flatKey]] ?? OBSERVED_DEFAULTS[flatKey];
    if (inner !== undefined) found.push([flatKey, fromStored(flatKey, inner)]);
  }
  return found;
}

/** The object of a packed key: its JSON text parsed, or 0.2's object as is; `undefined` for anything else. */
function recordOfStored(value: unknown): Record<string, unknown> | undefined {
  if (isRecord(value)) return value;
  if (typeof value !== "string") return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** An observation as `observed` stores it: `lastCalls` as tuples, sizing without its repeated values. */
function toStored(key: FlatObservedKey, value: unknown): unknown {
  if (key === "lastCalls") return storedCalls(value);
  const repeats =
    key === "observedVcpus"
      ? REPEATED_SIZING.vcpus
      : key === "observedMemory"
        ? REPEATED_SIZING.memory
        : undefined;
  if (repeats === undefined || !isRecord(value)) return value;
  const stored = { ...value };
  for (const [field, same] of Object.entries(repeats))
    if (stored[field] === stored[same]) delete stored[field];
  return stored;
}

/** An observation from its stored form ({@link toStored}). */
function fromStored(key: FlatObservedKey, stored: unknown): unknown {
  if (key === "lastCalls") return callsOfStored(stored);
  if (key === "observedVcpus") return sizingOfStored("vcpus", stored);
  if (key === "observedMemory") return sizingOfStored("memory", stored);
  return stored;
}

/**
 * Fields of `observed.vcpus` and `observed.memory` left out when they equal another one (field → that
 * one), as on most VMs: `VCPUs_max` = `VCPUs_at_startup`, `memory_static_max` = `memory_dynamic_min` =
 * `memory_dynamic_max`. Fewer values for the engine to store at each checkpoint write.
 */
const REPEATED_SIZING = {
  vcpus: { max: "atStartup" },
  memory: { staticMax: "dynamicMax", dynamicMin: "dynamicMax" },
} as const satisfies Record<string, Record<string, string>>;

/** A stored `observed.vcpus` or `observed.memory` with the fields it leaves out put back. */
function sizingOfStored(kind: keyof typeof REPEATED_SIZING, stored: unknown): unknown {
  if (!isRecord(stored)) return stored;
  const full: Bag = { ...stored };
  for (const [field, same] of Object.entries(REPEATED_SIZING[kind])) full[field] ??= full[same];
  return full;
}

/**
 * The stored `lastCalls` (inside `observed`'s text): one tuple per call without its reason (the preview's
 * plan showed it):
 * `[call, args, to, durationMs, from, escalatedFrom, skipped]`, `null` for an absent field, trailing
 * absent fields left out, and `from` left out (or `0` when a later field follows) when it is the previous
 * call's `to`, as it nearly always is. A third of the text of named fields.
 */
function storedCalls(calls: unknown): unknown {
  if (!Array.isArray(calls)) return calls;
  let previousTo: unknown;
  const tuples = calls.map((call: unknown) => {
    if (!isRecord(call) || typeof call.call !== "string") return call;
    const from = call.from === previousTo ? SAME_FROM : (call.from ?? null);
    previousTo = call.to;
    const tuple = [
      call.call,
      call.args,
      call.to,
      call.durationMs,
      from,
      call.escalatedFrom,
      call.skipped,
    ].map((field) => field ?? null);
    while (tuple.length > 1 && (tuple.at(-1) === null || (tuple.length === 5 && tuple[4] === SAME_FROM))) {
      tuple.pop();
    }
    return tuple;
  });
  return tuples;
}

/** A tuple's `from` when it is the previous call's `to`. */
const SAME_FROM = 0;

/**
 * The calls of a stored `lastCalls`, in every form written so far: tuples (in `observed`'s text), 0.2's JSON
 * text of tuples or of call objects, or an array of call objects (as 0.1.0 stored it).
 */
export function callsOfStored(stored: unknown): unknown {
  let parsed: unknown = stored;
  if (typeof stored === "string") {
    try {
      parsed = JSON.parse(stored);
    } catch {
      return [];
    }
  }
  if (!Array.isArray(parsed)) return typeof stored === "string" ? [] : stored;
  let previousTo: unknown;
  return parsed.map((entry: unknown) => {
    if (!Array.isArray(entry)) return entry;
    const [call, args, to, durationMs, from = SAME_FROM, escalatedFrom, skipped] = entry as unknown[];
    const record = {
      call,
      args,
      from: from === SAME_FROM ? previousTo : from,
      to,
      durationMs,
      escalatedFrom,
      skipped,
    };
    previousTo = to ?? undefined;
    return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== null && v !== undefined));
  });
}

/** `urn` → `__xapiUrn`. */
function flatInternalKey(name: string): string {
  return `${INTERNAL_PREFIX}${name.charAt(0).toUpperCase()}${name.slice(1)}`;
}

/** `__xapiUrn` → `urn`. */
function storedInternalKey(key: string): string {
  const name = key.slice(INTERNAL_PREFIX.length);
  return `${name.charAt(0).toLowerCase()}${name.slice(1)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
