/** The search for a VM an earlier, stopped create of this resource left behind (`birth.ts`). */
import type { XapiConnection } from "../client";
import type { VmRecord } from "../executor";
import type { VmInputs } from "../inputs";
import { type Birth, birthName, pendingDisks } from "./birth";
import { ProviderError, ProviderErrorCode } from "./errors";
import { ownerOf } from "./ownership";
import type { Bag } from "./property-bag";
import { URN_KEY } from "./snapshot";
import { InternalKey } from "./types";
import { recordOf } from "./vm-reads";

/**
 * A VM an earlier, stopped create of this resource left behind: one still bearing the birth name (a create
 * renames the VM last), or — when `check` read the pool and said which VM the resource already has
 * (`__xapiLeftovers`) — a finished VM with the declared name and this resource's tag that is neither that VM
 * nor the one a replacement is about to delete (a create killed after its last call, before the engine
 * saved it). Two such VMs (a copy keeps name and tag) are refused: which one is meant is unknown.
 * @throws ProviderError AMBIGUOUS_OWNER
 */
export async function findLeftover(
  conn: XapiConnection,
  value: VmInputs,
  urn: string,
  inputs: Bag,
): Promise<Birth | undefined> {
  const found = await leftoverCandidates(conn, value, urn, inputs);
  if (found.length > 1) {
    throw new ProviderError(
      ProviderErrorCode.AMBIGUOUS_OWNER,
      `Several VMs are left by an earlier create of this resource: expected at most one, found ${found.length} (${found.map((f) => f.record.uuid).join(", ")}). ` +
        `Destroy the extra copies (xe vm-uninstall uuid=…) or remove their other_config key ${URN_KEY}, then run pulumi up again.`,
    );
  }
  const [left] = found;
  if (left === undefined) return undefined;
  return {
    ref: left.ref,
    uuid: left.record.uuid,
    isTemplate: left.record.is_a_template === true,
    tagged: ownerOf(left.record) === urn,
    provisionDue: pendingDisks(left.record),
    record: left.record,
  };
}

/** The VMs bearing the birth name, or (when the pool was read in `check`) the declared name and our tag. */
async function leftoverCandidates(
  conn: XapiConnection,
  value: VmInputs,
  urn: string,
  inputs: Bag,
): Promise<{ ref: string; record: VmRecord }[]> {
  const found: { ref: string; record: VmRecord }[] = [];
  const seen = new Set<string>();
  const named = inputs[InternalKey.leftovers] === "named";
  const recorded = new Set(
    [inputs[InternalKey.vm], inputs[InternalKey.replaces]].filter((u) => typeof u === "string"),
  );
  const names = named ? [birthName(urn), value.nameLabel ?? value.template ?? ""] : [birthName(urn)];
  for (const name of names) {
    for (const ref of await conn.call<string[]>("VM.get_by_name_label", name)) {
      if (seen.has(ref)) continue;
      seen.add(ref);
      const record = await recordOf(conn, ref);
      if (record.is_a_snapshot === true || recorded.has(record.uuid)) continue;
      if (name === birthName(urn) || ownerOf(record) === urn) found.push({ ref, record });
    }
  }
  return found;
}
