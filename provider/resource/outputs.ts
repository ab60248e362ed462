/**
 * The outputs of an operation: the declaration echoed, plus what was observed and done (`observed`,
 * once packed by `stored.ts`). To add an output: write it here (and in `read.ts`, which builds the same
 * bag from a refresh), list it in `OUTPUT_KEYS` (`property-bag.ts`), and give it a place in the stored
 * form (`stored.ts`, `VmObserved` in `types.ts`).
 */
import { bootFieldsOf, type VmRecord } from "../executor";
import type { VmInputs } from "../inputs";
import type { ObservedDisk } from "../model/boot";
import { sameDisk } from "../model/device-number";
import { sizingOf } from "../model/sizing";
import { bootableOf, effectiveBootOf } from "./boot";
import { type Bag, stripUndefined } from "./property-bag";
import { observedMemoryOf, observedVcpusOf } from "./sizing";
import { type EffectiveBoot, InternalKey, type VmCallRecord } from "./types";
import { domidOf } from "./vm-reads";

/** What an operation knows besides the VM's record. */
export interface OperationFacts {
  readonly adopted: boolean;
  readonly pool: string;
  readonly pending: readonly string[];
  readonly calls: readonly VmCallRecord[];
  /** The operation's input bag (its internal keys are kept: `delete` only receives the outputs). */
  readonly bag: Bag;
  /** The VM's disks as the executor left them (only when `bootableDisks` is declared). */
  readonly disks?: readonly ObservedDisk[] | undefined;
}

/**
 * The outputs: the declaration echoed, plus what was observed and done. The internal keys
 * (`customTimeouts`, the URN) are kept too: `delete` only receives the outputs.
 */
export function outputsOf(value: VmInputs, record: VmRecord, facts: OperationFacts): Bag {
  return stripUndefined({
    ...declaredOf(value, facts.bag),
    [InternalKey.customTimeouts]: facts.bag[InternalKey.customTimeouts],
    [InternalKey.urn]: facts.bag[InternalKey.urn],
    uuid: record.uuid,
    adopted: facts.adopted,
    poolUuid: facts.pool,
    observedPowerState: record.power_state,
    effectiveBoot: withBootableDisks(effectiveBootOf(bootFieldsOf(record)), facts.disks),
    pendingBootChanges: [...facts.pending],
    observedDomid: domidOf(record),
    lastCalls: [...facts.calls],
    ...observedSizingOutputs(record),
  }) as Bag;
}

/** `observedVcpus` and `observedMemory` of a record (none when it lacks the fields). */
export function observedSizingOutputs(record: VmRecord): Bag {
  const fields = sizingOf(record);
  if (fields === undefined) return {};
  return { observedVcpus: observedVcpusOf(fields), observedMemory: observedMemoryOf(fields) };
}

/** The outputs when the VM could not be read: the declaration, the id and the calls made. */
export function unreadOutputs(value: VmInputs, uuid: string, facts: OperationFacts): Bag {
  return stripUndefined({
    ...declaredOf(value, facts.bag),
    uuid,
    adopted: facts.adopted,
    poolUuid: facts.pool,
    lastCalls: facts.calls,
  }) as Bag;
}

/**
 * The declared properties as validated, without the defaults validation filled in for what the bag does
 * not declare (the stored state holds only what was declared; defaults are applied where it is read).
 */
function declaredOf(value: VmInputs, bag: Bag): Partial<VmInputs> {
  return Object.fromEntries(Object.entries(value).filter(([key]) => bag[key] !== undefined));
}

/** `effectiveBoot` plus the observed `bootableDisks`, when the disks were read. */
export function withBootableDisks(
  effective: EffectiveBoot,
  disks: readonly ObservedDisk[] | undefined,
): EffectiveBoot {
  return disks === undefined ? effective : { ...effective, bootableDisks: bootableOf(disks) };
}

/**
 * The observed bootable userdevices, in the declared order when they are the same set: the order is
 * not meaningful, and echoing XAPI's order would make a refresh look like a change of the declaration.
 */
export function inDeclaredOrder(observed: string[], declared: unknown): string[] {
  if (!Array.isArray(declared) || declared.length !== observed.length) return observed;
  // The declared spelling is kept too ("xvda" for a VBD whose userdevice is "0"): the same disk for XAPI.
  return declared.every((d) => typeof d === "string" && observed.some((o) => sameDisk(o, d)))
    ? (declared as string[])
    : observed;
}
