/** `diff`'s look at the pool: would the update make a call from the VM's live state? */
import { validateVmInputs } from "../inputs";
import type { ConnectionSource } from "./connection";
import { DryRunConnection } from "./dry-run";
import { ProviderError } from "./errors";
import { callsOf } from "./plan-data";
import { assertSamePool, poolThrough, Unreachable } from "./pool-identity";
import { type Bag, NOT_USER_INPUT } from "./property-bag";
import { snapshotAbout, snapshotOf } from "./snapshot";
import { updateVm } from "./update";

/**
 * `diff`'s answer to "would the update make a call?" from the VM's live state (drift, a pending boot
 * change now due), through the same dry run as the preview. `fallback` decides when the pool cannot be
 * read or the inputs are not all known.
 * @throws ProviderError POOL_MISMATCH, VM_NOT_FOUND; a login failure
 */
export async function liveDiff(
  connection: ConnectionSource,
  id: string,
  olds: Bag,
  news: Bag,
  fallback: () => boolean,
): Promise<boolean> {
  const validation = validateVmInputs(news, { ignoreKeys: NOT_USER_INPUT });
  if (!validation.ok || validation.unknowns.length > 0) return fallback();
  const conn = connection();
  if (conn instanceof ProviderError) return fallback();
  const pool = await poolThrough(snapshotOf(conn), conn);
  if (pool instanceof Unreachable) return fallback();
  assertSamePool(conn, olds, pool, id);
  const current = await snapshotAbout(conn, id);
  const outs = await updateVm(new DryRunConnection(current), id, olds, news);
  return callsOf(outs).some((c) => c.skipped === undefined);
}
