/**
 * Which pool a connection reaches: its uuid (recorded as `poolUuid`, so a stack never mistakes another
 * pool's VMs for its own) and the coordinator's API version (`api-version.ts`), read once per connection.
 */
import { isTransientTransportError, type XapiConnection, XapiError, XapiTransportError } from "../client";
import { invalid, shown } from "../model/wording";
import { type ApiVersion, readApiVersion } from "./api-version";
import { explainLoginFailure, explainTlsFailure } from "./config";
import { ProviderError, ProviderErrorCode } from "./errors";
import type { Bag } from "./property-bag";
import { liveVcpusLicensedOf } from "./sizing";
import type { PoolSnapshot } from "./snapshot";

/** What the provider needs to know of the pool behind a connection. */
export interface PoolInfo {
  readonly uuid: string;
  /** The coordinator's XAPI API version: which boot fields and setters exist (`api-version.ts`). */
  readonly api: ApiVersion;
  /** The pool's licence lets XAPI change vCPUs live (`pool.restrictions`, `sizing.ts`). */
  readonly liveVcpusLicensed: boolean;
}

/** The pool behind each connection (`pool.get_all_records` and the coordinator's API version, once). */
const pools = new WeakMap<XapiConnection, Promise<PoolInfo>>();

/** The pool `conn` talks to. */
export function poolInfoOf(conn: XapiConnection): Promise<PoolInfo> {
  let known = pools.get(conn);
  if (known === undefined) {
    known = conn
      .call<Record<string, { uuid: string; master: string; restrictions?: unknown }>>("pool.get_all_records")
      .then(async (all) => {
        const pool = onlyPool(all, conn.url);
        const api = await readApiVersion(conn, pool.master);
        return { uuid: pool.uuid, api, liveVcpusLicensed: liveVcpusLicensedOf(pool, api) };
      });
    known.catch(() => pools.delete(conn));
    pools.set(conn, known);
  }
  return known;
}

/** The pool object of `pool.get_all_records` (a XAPI pool has exactly one). */
export function onlyPool<T>(all: Record<string, T>, url: string): T {
  const [pool] = Object.values(all);
  if (pool === undefined) {
    const hint = "Check that xapi:url (or XAPI_URL) names a XAPI host.";
    throw new Error(
      invalid(
        `Reading the pool at ${url} failed`,
        "one object from pool.get_all_records",
        shown("none"),
        hint,
      ),
    );
  }
  return pool;
}

/**
 * The recorded pool (`poolUuid` output) is the one `xapi:url` reaches now. Otherwise its VMs would read
 * as gone and the next `up` would create new ones, orphaning the originals.
 * @throws ProviderError POOL_MISMATCH
 */
export function assertSamePool(conn: XapiConnection, props: Bag, pool: string, id: string): void {
  const recorded = props.poolUuid;
  if (typeof recorded !== "string" || recorded === pool) return;
  throw new ProviderError(
    ProviderErrorCode.POOL_MISMATCH,
    `VM ${id} is in another pool: expected pool ${recorded} (where this stack recorded it), received pool ${pool} at ${conn.url}. ` +
      "Point xapi:url (or XAPI_URL) back at a host of pool " +
      `${recorded}, or use a separate stack (or an explicit provider) for pool ${pool}.`,
  );
}

/** The pool cannot be reached at all, and why (a preview then plans from the recorded inputs). */
export class Unreachable {
  constructor(readonly reason: string) {}
}

/**
 * The pool's uuid read through a preview's snapshot, or {@link Unreachable} when the pool cannot be reached
 * at all. A pool that refuses us (a wrong password, an untrusted certificate) fails the preview as `up`
 * would, with the explanation.
 */
export async function poolThrough(
  snapshot: PoolSnapshot,
  conn: XapiConnection,
): Promise<string | Unreachable> {
  try {
    return (await snapshot.pool()).uuid;
  } catch (error) {
    if (
      isTransientTransportError(error) ||
      (error instanceof XapiTransportError && error.code === "ENOTFOUND")
    ) {
      return new Unreachable(`the pool at ${conn.url} cannot be reached (${codeText(error)})`);
    }
    throw await explainTlsFailure(explainLoginFailure(error, conn), conn.url);
  }
}

function codeText(error: unknown): string {
  return error instanceof XapiTransportError || error instanceof XapiError ? error.code : String(error);
}
