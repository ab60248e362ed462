/**
 * The persistent state in and out of the tables: `load` replaces the content with a snapshot's (refs
 * kept, so watchers see adds, mods and dels), `dump` gives the snapshot a state file holds.
 */
import type { Table } from "../db";
import { ensurePoolObjects } from "../pool-objects";
import { fieldsOf } from "../profiles";
import { CLASS_FIELDS, type HostRecord } from "../records";
import type { SimSnapshot } from "../snapshot";
import { SimPowerState } from "../vocabulary";
import type { Engine } from ".";

/** Makes `table` hold exactly `rows`: missing refs removed, existing ones updated, new ones inserted. */
function replace<T extends object>(table: Table<T>, rows: readonly { ref: string; record: T }[]): void {
  const keep = new Set(rows.map((r) => r.ref));
  for (const ref of table.rows.keys()) if (!keep.has(ref)) table.remove(ref);
  for (const { ref, record } of rows) {
    const copy = structuredClone(record);
    if (table.has(ref)) table.update(ref, (v) => Object.assign(v, copy));
    else table.insert(ref, copy);
  }
}

export class Persistence {
  constructor(private readonly e: Engine) {}

  /** Replaces pool, hosts and VMs with a snapshot's content (refs kept; events as adds/mods/dels). */
  load(snapshot: SimSnapshot): void {
    const e = this.e;
    e.vmState.sim.clear();
    for (const vm of snapshot.vms) e.vmState.sim.set(vm.ref, structuredClone(vm.sim));
    this.replaceTables(snapshot);
    // Messages live outside xapi's database and are not part of the state (see simulator/README.md).
    for (const ref of [...e.messages.rows.keys()]) e.messages.remove(ref);
    e.storage.vdiContent.clear();
    for (const v of snapshot.vdis) e.storage.vdiContent.set(v.ref, structuredClone(v.content));
    e.nextDomid = snapshot.nextDomid;
    this.derive();
  }

  private replaceTables(snapshot: SimSnapshot): void {
    const e = this.e;
    replace(e.pools, [snapshot.pool]);
    replace(e.hosts, this.hostsAsStarted(snapshot.hosts));
    replace(
      e.vms,
      snapshot.vms.map((vm) => ({
        ref: vm.ref,
        record: { ...vm.record, allowed_operations: [], current_operations: {} },
      })),
    );
    replace(e.srs, snapshot.srs);
    replace(
      e.vdis,
      snapshot.vdis.map((v) => ({ ref: v.ref, record: v.record })),
    );
    replace(e.vbds, snapshot.vbds);
    replace(e.networks, snapshot.networks);
    replace(e.vifs, snapshot.vifs);
    replace(e.vmMetrics, snapshot.vmMetrics);
    replace(e.guestMetrics, snapshot.guestMetrics);
    replace(e.hostMetrics, snapshot.hostMetrics);
    replace(e.pifs, snapshot.pifs);
    replace(e.pifMetrics, snapshot.pifMetrics);
    replace(e.pbds, snapshot.pbds);
  }

  /**
   * A host's address comes from the options; its API version and software_version from the profile, as
   * xapi rewrites them at every start (`ocaml/xapi/dbsync_slave.ml`: `create_software_version`, the API
   * version).
   */
  private hostsAsStarted(hosts: SimSnapshot["hosts"]): { ref: string; record: HostRecord }[] {
    const { config, profile: p } = this.e;
    return hosts.map((h, i) => ({
      ref: h.ref,
      record: {
        ...h.record,
        address: i === 0 ? config.masterAddress : config.memberAddress,
        API_version_major: p.apiVersionMajor,
        API_version_minor: p.apiVersionMinor,
        API_version_vendor: p.apiVersionVendor,
        software_version: p.softwareVersion(h.record.hostname),
      },
    }));
  }

  /** What a load derives: reference lists, addresses, metrics, pool objects, allowed operations. */
  private derive(): void {
    const e = this.e;
    e.storage.syncLinks();
    e.network.syncLinks();
    e.network.syncManagementAddresses();
    for (const ref of e.vms.rows.keys()) e.metrics.ensure(ref);
    ensurePoolObjects(e);
    for (const ref of e.vms.rows.keys()) e.vmState.update(ref, () => undefined);
    for (const ref of e.vms.rows.keys()) e.vmState.afterPowerChange(ref);
    // Outside XenAPI 1.0 mode nothing leaves Crashed: halt such VMs, as leaving compat mode does.
    if (!e.config.crashedCompat) {
      for (const [ref, vm] of e.vms.entries())
        if (vm.power_state === SimPowerState.Crashed) e.vmState.enter(ref, SimPowerState.Halted);
    }
  }

  /** The persistent state as a JSON-serialisable snapshot. */
  dump(): SimSnapshot {
    const e = this.e;
    const [pool] = e.pools.entries();
    if (!pool) throw new Error("xapi-sim has no pool");
    // Records as a host of the profile's generation dumps them: without the fields it lacks (a load
    // fills them back per profile); unknown fields a loaded file had are kept.
    const dump = <T extends object>(cls: string, table: Table<T>) =>
      table.entries().map(([ref, record]) => ({ ref, record: this.dumpRecord(cls, record) }));
    return structuredClone({
      format: "xapi-sim-state",
      version: 1,
      pool: { ref: pool[0], record: this.dumpRecord("pool", pool[1]) },
      hosts: dump("host", e.hosts),
      vms: e.vms.entries().map(([ref, record]) => ({
        ref,
        record: this.dumpRecord("VM", { ...record, allowed_operations: [], current_operations: {} }),
        sim: e.vmState.simOf(ref),
      })),
      srs: dump("SR", e.srs),
      vdis: e.vdis.entries().map(([ref, record]) => ({
        ref,
        record: this.dumpRecord("VDI", record),
        content: e.storage.contentOf(ref),
      })),
      vbds: dump("VBD", e.vbds),
      networks: dump("network", e.networks),
      vifs: dump("VIF", e.vifs),
      vmMetrics: dump("VM_metrics", e.vmMetrics),
      guestMetrics: dump("VM_guest_metrics", e.guestMetrics),
      hostMetrics: dump("host_metrics", e.hostMetrics),
      pifs: dump("PIF", e.pifs),
      pifMetrics: dump("PIF_metrics", e.pifMetrics),
      pbds: dump("PBD", e.pbds),
      nextDomid: e.nextDomid,
      profile: e.config.profile,
    }) as SimSnapshot;
  }

  /** A record without the published fields the profile does not serve. */
  private dumpRecord<T extends object>(cls: string, record: T): T {
    const served = new Set(fieldsOf(this.e.profile, cls));
    const all = CLASS_FIELDS[cls] ?? [];
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) if (served.has(k) || !all.includes(k)) out[k] = v;
    return out as T;
  }
}
