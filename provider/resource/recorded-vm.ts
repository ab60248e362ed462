/**
 * Which VM the previous inputs stand for, as `check` learns it from the pool: the VM a preview plans an
 * update of, and the VMs a create must not take for one an earlier create left behind (`leftovers.ts`).
 * Also the previous inputs a replacement's second `check` no longer receives.
 */
import type { ConnectionSource } from "./connection";
import { ProviderError } from "./errors";
import type { Bag } from "./property-bag";
import { type PlannedInputs, readOldDeclaration, sameIdentity } from "./recorded-plan";
import { type PoolSnapshot, snapshotFor } from "./snapshot";
import { InternalKey } from "./types";

/**
 * The VM the previous inputs stand for: the adopted uuid, the uuid a refresh recorded, or the VM whose
 * owner tag names this resource's URN.
 */
export async function ownVm(
  snapshot: PoolSnapshot,
  olds: Bag,
  inputs: Bag,
): Promise<{ uuid: string } | undefined> {
  for (const key of ["uuid", InternalKey.vm] as const) {
    const uuid = olds[key];
    if (typeof uuid === "string") {
      const found = await snapshot.vmByUuid(uuid);
      if (found !== undefined) return { uuid };
    }
  }
  const urn = inputs[InternalKey.urn] ?? olds[InternalKey.urn];
  if (typeof urn !== "string") return undefined;
  // Several tagged VMs (a copy keeps the tag): which one is this resource's is not known here.
  const owned = await snapshot.vmsOwnedBy(urn);
  return owned.length === 1 && owned[0] !== undefined ? { uuid: owned[0].record.uuid } : undefined;
}

/**
 * What `create` must know to take a VM a stopped create left behind (`leftovers.ts`): the VM the previous
 * inputs stand for (never a leftover: it is recorded, or a replacement is about to delete it), and whether
 * the pool could be read to say so. Sets `__xapiVm` (same identity), `__xapiReplaces` (identity changed)
 * and `__xapiLeftovers: "named"` (the pool was read: a finished VM with this resource's name and tag that
 * is neither of these is a leftover). Reads only, through the shared snapshot.
 */
export async function markRecordedVm(
  connection: ConnectionSource,
  olds: Bag,
  inputs: Bag,
  value: PlannedInputs,
): Promise<void> {
  const conn = connection();
  if (conn instanceof ProviderError) return;
  const old = readOldDeclaration(olds);
  let own: { uuid: string } | undefined;
  try {
    const snapshot = snapshotFor(conn, [inputs[InternalKey.urn], olds.uuid, olds[InternalKey.vm]]);
    await snapshot.pool();
    own = old === undefined ? undefined : await ownVm(snapshot, olds, inputs);
  } catch {
    return; // unreadable now: create then takes only a VM still bearing its birth name
  }
  inputs[InternalKey.leftovers] = "named";
  if (own === undefined || old === undefined) return;
  inputs[sameIdentity(old, value) ? InternalKey.vm : InternalKey.replaces] = own.uuid;
}

/**
 * The previous inputs of each resource whose `check` saw its identity change (a replacement), by URN.
 * On a replacement the engine calls `check` a second time, without the olds, and shows THAT result
 * (pulumi/pulumi pkg/resource/deploy/step_generator.go: "If we are going to perform a replacement, we
 * need to recompute the default values"); the second call plans from the olds kept here, so the preview
 * still lists the replaced VM's calls.
 */
const replacedOlds = new Map<string, Bag>();

/** The previous inputs to plan from: `olds`, or on a replacement's second `check` those of the first. */
export function replacementOlds(olds: Bag, inputs: Bag, value: PlannedInputs): Bag {
  const urn = inputs[InternalKey.urn];
  if (typeof urn !== "string") return olds;
  const old = readOldDeclaration(olds);
  // No previous declaration (the host may still pass its own `__provider`): the engine's second check.
  if (old === undefined) {
    const kept = replacedOlds.get(urn);
    replacedOlds.delete(urn);
    return kept ?? olds;
  }
  if (!sameIdentity(old, value)) replacedOlds.set(urn, olds);
  else replacedOlds.delete(urn);
  return olds;
}
