/**
 * The XAPI API version of the pool the provider talks to, and what it means for the calls a plan may
 * make. One place owns the version rules; docs/xapi-facts.md ("XAPI generations") has the table.
 *
 * | API version | products | PV vs HVM is decided by | `VM.set_domain_type` |
 * |---|---|---|---|
 * | 1.x (XenAPI 1.0, xend) | Xen 3.x `xm` | `HVM_boot_policy` ("" ⇒ PV) | absent |
 * | 2.0 – 2.9 | XenServer 6.x – 7.4 | `HVM_boot_policy` ("" ⇒ PV) | absent |
 * | 2.10 and later | XenServer 7.5 – 8, XCP-ng 7.5 – 8.3 | `domain_type` (incl. `pvh`, `pv_in_pvh`) | present |
 */
import type { XapiConnection } from "../client";

/** `host.API_version_major` / `API_version_minor` of the pool's coordinator. */
export interface ApiVersion {
  readonly major: number;
  readonly minor: number;
}

/** The first API version with `VM.domain_type` and `VM.set_domain_type` (XenServer 7.5, "kolkata"). */
export const DOMAIN_TYPE_SINCE: ApiVersion = { major: 2, minor: 10 };

/** True when `v` is `since` or later. */
export function atLeast(v: ApiVersion, since: ApiVersion): boolean {
  return v.major > since.major || (v.major === since.major && v.minor >= since.minor);
}

/** The pool's XAPI has `VM.set_domain_type`: a plan may write the domain type. */
export function hasDomainType(v: ApiVersion): boolean {
  return atLeast(v, DOMAIN_TYPE_SINCE);
}

/** Two reads of the coordinator's host record fields (`host.get_API_version_major` / `_minor`). */
export async function readApiVersion(conn: XapiConnection, master: string): Promise<ApiVersion> {
  const [major, minor] = await Promise.all([
    conn.call<string | number>("host.get_API_version_major", master),
    conn.call<string | number>("host.get_API_version_minor", master),
  ]);
  return { major: Number(major), minor: Number(minor) };
}
