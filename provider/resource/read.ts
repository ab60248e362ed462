/**
 * `read` (refresh): the VM's observed state as outputs and as inputs. Calls: `pool.get_all_records` once
 * per connection (`pool-identity.ts`), `VM.get_by_uuid`, `VM.get_record`, and one `VBD.get_record` per VBD
 * when `bootableDisks` is declared.
 */
import { isXapiError, type XapiConnection, XapiErrorCode } from "../client";
import { bootFieldsOf, type VmRecord } from "../executor";
import { sizingOf } from "../model/sizing";
import { bootableOf, effectiveBootOf, observedDeclaration } from "./boot";
import { inDeclaredOrder, observedSizingOutputs, withBootableDisks } from "./outputs";
import { legacyMarker, markerApplies, pendingMarkerOf } from "./pending-boot";
import { assertSamePool, poolInfoOf } from "./pool-identity";
import { type Bag, bootDeclarationOf, pickDeclared, stripUndefined } from "./property-bag";
import { observedSizingDeclaration, type SizingDeclaration } from "./sizing";
import { InternalKey } from "./types";
import { domidOf, readDisks, recordOf, stringField } from "./vm-reads";

/** What `read` returns: the outputs, and the observed state as inputs. */
export interface ReadState {
  readonly id: string;
  readonly props: Bag;
  readonly inputs: Bag;
}

/** Reads the VM back; `undefined` when it is gone. @throws ProviderError POOL_MISMATCH */
export async function readVmState(
  conn: XapiConnection,
  id: string,
  props: Bag,
): Promise<ReadState | undefined> {
  const { uuid: pool } = await poolInfoOf(conn);
  assertSamePool(conn, props, pool, id);
  let ref: string;
  try {
    ref = await conn.call<string>("VM.get_by_uuid", id);
  } catch (error) {
    if (isXapiError(error, XapiErrorCode.UUID_INVALID)) return undefined;
    throw error;
  }
  const record = await recordOf(conn, ref);
  const old = pickDeclared(props);
  const observed = observedDeclarationOf(old, record);
  // Managed bootable disks are read back (one VBD.get_record per VBD) so a drift shows up.
  const disks = old.bootableDisks === undefined ? undefined : await readDisks(conn, record);
  if (disks !== undefined) observed.bootableDisks = inDeclaredOrder(bootableOf(disks), old.bootableDisks);

  const marker = pendingMarkerOf(record) ?? legacyMarker(props);
  const adopted = props.adopted === true;
  const outs = stripUndefined({
    ...observed,
    uuid: record.uuid,
    adopted,
    poolUuid: pool,
    observedPowerState: record.power_state,
    effectiveBoot: withBootableDisks(effectiveBootOf(bootFieldsOf(record)), disks),
    pendingBootChanges: markerApplies(marker, record) ? (marker?.paths ?? []) : [],
    observedDomid: domidOf(record),
    lastCalls: Array.isArray(props.lastCalls) ? props.lastCalls : [],
    ...observedSizingOutputs(record),
    [InternalKey.customTimeouts]: props[InternalKey.customTimeouts],
    // The owner's URN stays recorded: a release after this refresh removes the tag only if it is ours.
    [InternalKey.urn]: props[InternalKey.urn],
  }) as Bag;
  return { id: record.uuid, props: outs, inputs: inputsOf(outs, props, adopted, record.uuid) };
}

/** The declaration as the VM now stands: the recorded one with what the record shows in its place. */
function observedDeclarationOf(old: Bag, record: VmRecord): Bag {
  const observed: Bag = {
    ...old,
    powerState: record.power_state,
    ...(old.nameLabel === undefined ? {} : { nameLabel: record.name_label }),
    ...(old.nameDescription === undefined
      ? {}
      : { nameDescription: stringField(record, "name_description") }),
  };
  delete observed.pv;
  delete observed.hvm;
  Object.assign(observed, observedDeclaration(bootDeclarationOf(old), bootFieldsOf(record)));
  const sizing = sizingOf(record);
  // The declared vcpus / memory as the VM has them, in the declared shape.
  if (sizing !== undefined)
    Object.assign(observed, observedSizingDeclaration(old as SizingDeclaration, sizing));
  return observed;
}

/** The observed state as inputs, for the engine's diff after a refresh. */
function inputsOf(outs: Bag, props: Bag, adopted: boolean, uuid: string): Bag {
  const inputs = pickDeclared(outs);
  if (!adopted) delete inputs.uuid;
  // The VM's uuid travels in the inputs too, so that a preview (which sees only inputs) finds the VM.
  inputs[InternalKey.vm] = uuid;
  for (const key of [InternalKey.customTimeouts, InternalKey.urn]) {
    if (props[key] !== undefined) inputs[key] = props[key];
  }
  return inputs;
}
