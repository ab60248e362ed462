/**
 * The model's database: one {@link Table} per XAPI class the simulator serves, in a stable order, and
 * the lookups that fail as XAPI does for an unknown reference (HANDLE_INVALID [class; ref]).
 */
import { XapiFault } from "../../api";
import { Db, type Table } from "../db";
import type {
  HostMetricsRecord,
  MessageRecord,
  PbdRecord,
  PifMetricsRecord,
  PifRecord,
} from "../pool-records";
import type {
  GuestMetricsRecord,
  HostRecord,
  NetworkRecord,
  PoolRecord,
  SessionRecord,
  SrRecord,
  TaskRecord,
  VbdRecord,
  VdiRecord,
  VifRecord,
  VmMetricsRecord,
  VmRecord,
} from "../records";
import { ErrorCode, NULL_REF } from "../vocabulary";

export class Tables {
  readonly db = new Db();
  readonly sessions = this.db.table<SessionRecord>("session");
  readonly pools = this.db.table<PoolRecord>("pool");
  readonly hosts = this.db.table<HostRecord>("host");
  readonly vms = this.db.table<VmRecord>("VM");
  readonly tasks = this.db.table<TaskRecord>("task");
  readonly srs = this.db.table<SrRecord>("SR");
  readonly vdis = this.db.table<VdiRecord>("VDI");
  readonly vbds = this.db.table<VbdRecord>("VBD");
  readonly vmMetrics = this.db.table<VmMetricsRecord>("VM_metrics");
  readonly guestMetrics = this.db.table<GuestMetricsRecord>("VM_guest_metrics");
  readonly vifs = this.db.table<VifRecord>("VIF");
  readonly networks = this.db.table<NetworkRecord>("network");
  readonly hostMetrics = this.db.table<HostMetricsRecord>("host_metrics");
  readonly pifs = this.db.table<PifRecord>("PIF");
  readonly pifMetrics = this.db.table<PifMetricsRecord>("PIF_metrics");
  readonly pbds = this.db.table<PbdRecord>("PBD");
  readonly messages = this.db.table<MessageRecord>("message");

  /** Every table, in a stable order (events and valid_ref_counts walk them). */
  get tables(): Table<unknown>[] {
    return [
      this.sessions,
      this.pools,
      this.hosts,
      this.vms,
      this.tasks,
      this.srs,
      this.vdis,
      this.vbds,
      this.vmMetrics,
      this.guestMetrics,
      this.vifs,
      this.networks,
      this.hostMetrics,
      this.pifs,
      this.pifMetrics,
      this.pbds,
      this.messages,
    ] as Table<unknown>[];
  }

  get masterRef(): string {
    return this.pools.values()[0]?.master ?? NULL_REF;
  }

  get memberRef(): string {
    const master = this.masterRef;
    return this.hosts.entries().find(([ref]) => ref !== master)?.[0] ?? NULL_REF;
  }

  /** The VM record, or HANDLE_INVALID ["VM", ref] (every XAPI call on an unknown reference). */
  vm(ref: string): VmRecord {
    return existing(this.vms, "VM", ref);
  }

  /** The host record, or HANDLE_INVALID ["host", ref]. */
  host(ref: string): HostRecord {
    return existing(this.hosts, "host", ref);
  }

  /** The VBD record, or HANDLE_INVALID ["VBD", ref]. */
  vbd(ref: string): VbdRecord {
    return existing(this.vbds, "VBD", ref);
  }

  /** The VDI record, or HANDLE_INVALID ["VDI", ref]. */
  vdi(ref: string): VdiRecord {
    return existing(this.vdis, "VDI", ref);
  }

  /** The VIF record, or HANDLE_INVALID ["VIF", ref]. */
  vif(ref: string): VifRecord {
    return existing(this.vifs, "VIF", ref);
  }
}

function existing<T>(table: Table<T>, cls: string, ref: string): T {
  const row = table.get(ref);
  if (!row) throw new XapiFault(ErrorCode.handleInvalid, [cls, ref]);
  return row;
}
