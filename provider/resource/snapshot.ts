/**
 * A read-only picture of the pool for `check` and `diff`: the records a preview plans from, read in
 * batches so that a preview of N VMs costs a handful of XAPI calls, not N round trips.
 *
 * Why `<class>.get_all_records` (one call per class) rather than `get_all_records_where` or an
 * `event.from` snapshot: a stack usually manages a good part of its pool's VMs, so one call returning
 * every VM costs about what a filtered one does, with no expression language to get right across XAPI
 * versions; `event.from` would return every class of the pool (messages, metrics, tasks, …) and ties the
 * preview to the event machinery. `get_all_records` exists for VM, VBD and pool in every XAPI
 * (XenAPI 1.0 onwards).
 *
 * Classes are read lazily and at most once per snapshot: `pool` always (the pool's uuid), `VM` when a
 * resource needs a VM or a template, `VBD` only when a plan looks at disks (declared `bootableDisks`,
 * or the disks a deletion destroys). A snapshot is shared by every `check` and `diff` of the provider
 * process and renewed after {@link SNAPSHOT_MAX_AGE_MS}: a `diff` never plans from an old picture of a
 * long `pulumi up`, and the real operations (create, update, delete, read) never use it at all: they
 * read the VM live. A VM this process has written or read live since the snapshot was taken ({@link markStale}),
 * or one the snapshot does not hold, is looked up in a new snapshot: in one Pulumi command each resource
 * is diffed before it is written, so this costs nothing there, and it keeps a long-lived provider
 * process truthful.
 */
import type { XapiConnection } from "../client";
import type { VmRecord } from "../executor";
import { type ApiVersion, readApiVersion } from "./api-version";
import { onlyPool } from "./pool-identity";

/** How long a snapshot serves `check` and `diff` before the pool is read again. */
export const SNAPSHOT_MAX_AGE_MS = 30_000;

/** The `other_config` key under which the provider records which Pulumi resource owns a VM it created. */
export const URN_KEY = "pulumi-xapi:urn";

/** A VBD record, as far as plans read it. */
export interface VbdRecord {
  readonly userdevice: string;
  readonly bootable: boolean;
  readonly type?: string;
  readonly VDI?: string;
  readonly VM?: string;
  readonly [field: string]: unknown;
}

/** The records of one pool, read in batches. */
export class PoolSnapshot {
  readonly #conn: XapiConnection;
  readonly takenAt: number;
  /** uuids (and resource URNs) of the VMs this process wrote or read live after the snapshot was taken: their records here are old. */
  readonly stale = new Set<string>();
  #pool: Promise<{ uuid: string; master: string }> | undefined;
  #api: Promise<ApiVersion> | undefined;
  #vms: Promise<ReadonlyMap<string, VmRecord>> | undefined;
  #vbds: Promise<ReadonlyMap<string, VbdRecord>> | undefined;
  #byUuid: Promise<ReadonlyMap<string, string>> | undefined;
  /** Owner URN → the VMs tagged with it: one pass over the VMs, not one per resource checked. */
  #byOwner: Promise<ReadonlyMap<string, { ref: string; record: VmRecord }[]>> | undefined;
  /** uuid → ref, once the VMs have been read (refs never change over a VM's life). */
  #refs: ReadonlyMap<string, string> | undefined;

  constructor(conn: XapiConnection, now: number) {
    this.#conn = conn;
    this.takenAt = now;
  }

  /** The connection the snapshot reads through (its URL names the pool in messages). */
  get connection(): XapiConnection {
    return this.#conn;
  }

  /** The pool's own record (one `pool.get_all_records`: a XAPI pool has exactly one pool object). */
  pool(): Promise<{ uuid: string; master: string }> {
    this.#pool ??= this.#conn
      .call<Record<string, { uuid: string; master: string }>>("pool.get_all_records")
      .then((all) => onlyPool(all, this.#conn.url));
    return this.#pool;
  }

  /** The coordinator's XAPI API version (two calls, once per snapshot). */
  apiVersion(): Promise<ApiVersion> {
    this.#api ??= this.pool().then(({ master }) => readApiVersion(this.#conn, master));
    return this.#api;
  }

  /** Every VM record of the pool (templates and snapshots included), by ref. */
  vms(): Promise<ReadonlyMap<string, VmRecord>> {
    this.#vms ??= this.#conn.call<Record<string, VmRecord>>("VM.get_all_records").then((all) => {
      this.#refs = new Map(Object.entries(all).map(([ref, record]) => [record.uuid, ref]));
      return new Map(Object.entries(all));
    });
    return this.#vms;
  }

  /** The ref of the VM with this uuid when the VMs have already been read; never reads. */
  knownRef(uuid: string): string | undefined {
    return this.#refs?.get(uuid);
  }

  /** Every VBD record of the pool, by ref. */
  vbds(): Promise<ReadonlyMap<string, VbdRecord>> {
    this.#vbds ??= this.#conn
      .call<Record<string, VbdRecord>>("VBD.get_all_records")
      .then((all) => new Map(Object.entries(all)));
    return this.#vbds;
  }

  /** The VMs whose `other_config` names this resource's URN as their owner (one, unless a copy kept the tag). */
  async vmsOwnedBy(urn: string): Promise<{ ref: string; record: VmRecord }[]> {
    this.#byOwner ??= this.vms().then((vms) => {
      const byOwner = new Map<string, { ref: string; record: VmRecord }[]>();
      for (const [ref, record] of vms) {
        if (record.is_a_snapshot === true) continue; // a snapshot copies its VM's other_config
        const owner = (record.other_config as Record<string, unknown> | undefined)?.[URN_KEY];
        if (typeof owner !== "string") continue;
        const list = byOwner.get(owner);
        if (list === undefined) byOwner.set(owner, [{ ref, record }]);
        else list.push({ ref, record });
      }
      return byOwner;
    });
    return [...((await this.#byOwner).get(urn) ?? [])];
  }

  /** The VM with this uuid, if any. */
  async vmByUuid(uuid: string): Promise<{ ref: string; record: VmRecord } | undefined> {
    this.#byUuid ??= this.vms().then((vms) => new Map([...vms].map(([ref, record]) => [record.uuid, ref])));
    const ref = (await this.#byUuid).get(uuid);
    const record = ref === undefined ? undefined : (await this.vms()).get(ref);
    return ref === undefined || record === undefined ? undefined : { ref, record };
  }
}

/** The shared snapshot of `conn` if there is one, however old; never reads. */
export function existingSnapshot(conn: XapiConnection): PoolSnapshot | undefined {
  return snapshots.get(conn);
}

/** The snapshot of each connection in this process (one per pool URL and user). */
const snapshots = new WeakMap<XapiConnection, PoolSnapshot>();

/** The current snapshot of the pool behind `conn`, renewed once older than {@link SNAPSHOT_MAX_AGE_MS}. */
export function snapshotOf(conn: XapiConnection, now: number = Date.now()): PoolSnapshot {
  const current = snapshots.get(conn);
  if (current !== undefined && now - current.takenAt < SNAPSHOT_MAX_AGE_MS) return current;
  return renewSnapshot(conn, now);
}

/**
 * A snapshot in which the VM `uuid` is current: the shared one, unless it predates a write of this
 * process to that VM or does not hold the VM at all (created since); then a new one.
 */
export async function snapshotAbout(
  conn: XapiConnection,
  uuid: string,
  now: number = Date.now(),
): Promise<PoolSnapshot> {
  const current = snapshotOf(conn, now);
  const found = (await current.vmByUuid(uuid)) !== undefined;
  if (found ? !current.stale.has(uuid) : current.stale.size === 0) return current;
  return renewSnapshot(conn, now);
}

/**
 * The shared snapshot, or a new one when it predates a write or live read of this process to any of `keys`
 * (VM uuids, resource URNs; {@link markStale}). In one Pulumi command a resource is checked before it is
 * written, so this renews nothing there.
 */
export function snapshotFor(
  conn: XapiConnection,
  keys: readonly unknown[],
  now: number = Date.now(),
): PoolSnapshot {
  const current = snapshotOf(conn, now);
  return keys.some((k) => typeof k === "string" && current.stale.has(k)) ? renewSnapshot(conn, now) : current;
}

/** A new snapshot of the pool behind `conn`, shared from now on. */
export function renewSnapshot(conn: XapiConnection, now: number = Date.now()): PoolSnapshot {
  const fresh = new PoolSnapshot(conn, now);
  snapshots.set(conn, fresh);
  return fresh;
}

/**
 * This process writes the VM `uuid` (create, update, delete) or has just read it live (read): the shared
 * snapshot's record of it is old.
 */
export function markStale(conn: XapiConnection, uuid: string, urn?: unknown): void {
  const current = snapshots.get(conn);
  current?.stale.add(uuid);
  if (typeof urn === "string") current?.stale.add(urn);
}
