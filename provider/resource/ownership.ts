/**
 * The owner tag: a VM this provider manages carries its resource's URN in
 * `other_config["pulumi-xapi:urn"]` (`URN_KEY`), so a preview (which sees only inputs), another stack or
 * `xe vm-param-list` can tell whose it is. A VM another resource owns is refused unless `takeOver`; a
 * released VM loses only our tag.
 */
import type { XapiConnection } from "../client";
import type { VmRecord } from "../executor";
import { addKey, removeKey } from "./call-record";
import { ProviderError, ProviderErrorCode } from "./errors";
import { URN_KEY } from "./snapshot";
import type { VmCallRecord } from "./types";

/** The owner tag's reason, in every line that writes it. */
export const OWNER_REASON = "record on the VM its owner, this resource's URN";

/** The Pulumi resource (URN) a VM's `other_config` names as its owner, if any. */
export function ownerOf(record: VmRecord): string | undefined {
  const owner = (record.other_config as Record<string, unknown> | undefined)?.[URN_KEY];
  return typeof owner === "string" ? owner : undefined;
}

/**
 * Refuses a VM another Pulumi resource owns, unless `takeOver`: to adopt it (`"adopt"`), or to update a VM
 * whose owner tag now names another resource (`"update"`: it was taken over by that resource, or copied
 * under this resource's feet; `takeOver` on this adopting resource takes it back).
 * @throws ProviderError OWNED_ELSEWHERE
 */
export function assertOwnable(
  uuid: string,
  record: VmRecord,
  urn: string | undefined,
  takeOver: boolean,
  operation: "adopt" | "update",
): void {
  const owner = ownerOf(record);
  if (owner === undefined || urn === undefined || owner === urn || takeOver) return;
  const tag = `other_config["${URN_KEY}"]`;
  const message =
    operation === "adopt"
      ? `VM ${uuid} is managed by another Pulumi resource: expected a VM no other resource owns, received one whose ` +
        `${tag} is ${JSON.stringify(owner)}. Remove it from that stack (pulumi state delete), ` +
        "or set takeOver: true on this resource to take it over."
      : `VM ${uuid} is no longer this resource's: expected its ${tag} to name ${JSON.stringify(urn)}, ` +
        `received ${JSON.stringify(owner)} (another stack took it over). Remove this resource without touching the VM ` +
        "(pulumi state delete <urn>), or take it back with takeOver: true on an adopting resource.";
  throw new ProviderError(ProviderErrorCode.OWNED_ELSEWHERE, message);
}

/** Writes this resource as the VM's owner (replacing another owner: `takeOver` was checked before). */
export async function claim(
  conn: XapiConnection,
  ref: string,
  record: VmRecord,
  urn: string | undefined,
  calls: VmCallRecord[],
): Promise<void> {
  const owner = ownerOf(record);
  if (urn === undefined || owner === urn) return;
  const power = record.power_state;
  if (owner !== undefined) {
    await removeKey(conn, calls, ref, power, URN_KEY, `take the VM over from ${owner} (takeOver)`);
  }
  await addKey(conn, calls, ref, power, URN_KEY, urn, OWNER_REASON);
}

/** Removes this resource's owner tag from a VM it releases (another owner's tag stays). */
export async function release(
  conn: XapiConnection,
  ref: string,
  record: VmRecord,
  urn: string | undefined,
  calls: VmCallRecord[],
): Promise<void> {
  if (urn === undefined || ownerOf(record) !== urn) return;
  const reason = "release the VM: this resource no longer owns it";
  await removeKey(conn, calls, ref, record.power_state, URN_KEY, reason);
}
