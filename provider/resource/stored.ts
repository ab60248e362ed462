/**
 * The `Vm`'s property bags as the Pulumi engine carries and stores them ("stored form"), and the flat
 * form the operations work on.
 *
 * Stored form, written since 0.2: the declared inputs at the top level (the dynamic-provider host gives
 * `diff`, `update`, `read` and `delete` only the recorded outputs, so the outputs must echo what the next
 * diff compares and what a delete needs); the provider's internal keys in one `__xapi` object; the
 * observations in one `observed` object; the VM's uuid is the resource id, repeated as `uuid` only when
 * declared (an adopted VM). Fewer top-level keys mean fewer properties the program registers and fewer
 * bytes the engine checkpoints per resource.
 *
 * Flat form: every key at the top level (`__xapiUrn`, `observedPowerState`, `uuid`, …), which is also
 * what release 0.1 stored. {@link unpack} reads both forms, so a stack written by 0.1 refreshes, updates
 * and deletes unchanged; {@link pack} writes the stored form.
 */
import type { Bag } from "./property-bag";
import type { VmObserved } from "./types";

/** The one top-level key holding the provider's internal keys (hidden from diffs: it starts with `__`). */
export const INTERNAL_KEY = "__xapi";
/** The one top-level key holding what the provider observed. */
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
} as const satisfies Record<string, keyof VmObserved>;

type FlatObservedKey = keyof typeof OBSERVED_FIELDS;
const FLAT_OBSERVED = Object.keys(OBSERVED_FIELDS) as FlatObservedKey[];

/**
 * The flat form of a bag in either form. `id` (the resource id, the VM's uuid) restores `uuid` for a VM
 * whose stored outputs leave it out.
 */
export function unpack(bag: Bag, id?: string): Bag {
  const flat: Bag = {};
  for (const [key, value] of Object.entries(bag)) {
    if (key === INTERNAL_KEY && isRecord(value)) {
      for (const [name, inner] of Object.entries(value)) flat[flatInternalKey(name)] = inner;
    } else if (key === OBSERVED_KEY && isRecord(value)) {
      for (const flatKey of FLAT_OBSERVED) {
        const inner = value[OBSERVED_FIELDS[flatKey]];
        if (inner !== undefined) flat[flatKey] = flatKey === "lastCalls" ? callsOfStored(inner) : inner;
      }
    } else {
      flat[key] = value;
    }
  }
  if (flat.uuid === undefined && id !== undefined && isRecord(bag[OBSERVED_KEY])) flat.uuid = id;
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
      observed[OBSERVED_FIELDS[key as FlatObservedKey]] = key === "lastCalls" ? storedCalls(value) : value;
    } else {
      stored[key] = value;
    }
  }
  // An observed VM's uuid is the resource id; it stays only when declared (adoption).
  if (Object.keys(observed).length > 0) {
    stored[OBSERVED_KEY] = observed;
    if (observed.adopted !== true) delete stored.uuid;
  }
  if (Object.keys(internal).length > 0) stored[INTERNAL_KEY] = internal;
  return stored;
}

/**
 * The stored `lastCalls`: the JSON text of the calls, each without its reason (the preview's plan showed
 * it). One string instead of a tree of a few dozen values: the engine converts every value of every
 * resource each time it writes the checkpoint, once per step of a run.
 */
function storedCalls(calls: unknown): unknown {
  if (!Array.isArray(calls)) return calls;
  return JSON.stringify(
    calls.map((call: unknown) => {
      if (!isRecord(call)) return call;
      const { reason: _, ...rest } = call;
      return rest;
    }),
  );
}

/** The calls of a stored `lastCalls`: parsed from its JSON text (an array, as 0.1.0 stored it, as is). */
export function callsOfStored(stored: unknown): unknown {
  if (typeof stored !== "string") return stored;
  try {
    return JSON.parse(stored) as unknown;
  } catch {
    return [];
  }
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
