/**
 * The stateful core of xapi-sim's model: the tables, the simulated clock (cancellable sleeps),
 * tasks, and XAPI's `with_vm_operation` bookkeeping (xapi-semantics §4.4, §8.6). The call
 * implementations (`methods.ts`), dispatch (`dispatch.ts`) and control API (`control.ts`) use it.
 */
import { randomBytes } from "node:crypto";
import { XapiFault, type XValue } from "../api";
import { encodeXmlRpcValue } from "../wire/xmlrpc";
import {
  type BootDiskInput,
  type BootResult,
  bootConfigError,
  bootOutcome,
  bootRecordOf,
  byUserdevice,
  isPvLike,
} from "./boot";
import { allowedOperations, type CheckOptions, checkOperationError, type VmCheckView } from "./checks";
import { clampDelay, Db, type Table } from "./db";
import { guestReport } from "./guest";
import { createSuspendImage, ensurePoolObjects, syncHostMemory } from "./pool-objects";
import type {
  HostMetricsRecord,
  MessageRecord,
  PbdRecord,
  PifMetricsRecord,
  PifRecord,
} from "./pool-records";
import { fieldsOf, PROFILES, type ProfileName, type SimProfile } from "./profiles";
import {
  CLASS_FIELDS,
  defaultVbdRecord,
  defaultVdiRecord,
  defaultVmMetricsRecord,
  defaultVmRecord,
  type GuestMetricsRecord,
  type HostRecord,
  NEVER,
  type NetworkRecord,
  newRef,
  newUuid,
  type PoolRecord,
  type SessionRecord,
  type SrRecord,
  type TaskRecord,
  toWire,
  userdeviceNumber,
  type VbdRecord,
  type VdiRecord,
  type VifRecord,
  type VmMetricsRecord,
  type VmRecord,
  xapiDate,
} from "./records";
import type { GuestDiskContent, SimSnapshot, VmSimState } from "./snapshot";
import { ErrorCode, NULL_REF, SimPowerState, type VmOperation } from "./vocabulary";

/** Run-time knobs (the `config` control op changes them). */
export interface SimConfig {
  /** The XAPI generation played (fixed for the model's life; `config` shows it). */
  readonly profile: ProfileName;
  users: Record<string, string>;
  masterAddress: string;
  memberAddress: string;
  defaultOperationMs: number;
  operationMs: Partial<Record<string, number>>;
  cleanShutdownTimeoutMs: number;
  /** How long a lifecycle call blocks and retries on OTHER_OPERATION_IN_PROGRESS (XAPI: up to 2 h, §4.4). */
  operationWaitMs: number;
  authFailureDelayMs: number;
  crashedCompat: boolean;
  /** Added to every call (fault injection). */
  latencyMs: number;
}

/** The per-call context a task-running implementation receives. */
export interface OpContext {
  /** The task the call runs as (sync calls to async-capable messages get one too, §8.6). */
  readonly task: string;
  /** Aborted when the task is cancelled (reason: TASK_CANCELLED) or the model closes. */
  readonly signal: AbortSignal;
}

interface TaskRuntime {
  readonly controller: AbortController;
  readonly session: string | undefined;
}

/** The fault a sleep rejects with when the model closes under it. */
export function closedFault(): XapiFault {
  return new XapiFault(ErrorCode.internalError, ["xapi-sim is shutting down"]);
}

/** OCaml's `string_of_float`, which XAPI uses for timeouts in error params ("1200." for 1200). */
export function ocamlFloat(value: number): string {
  if (Number.isInteger(value)) return `${value}.`;
  return String(Number(value.toPrecision(12)));
}

const { Halted, Paused, Running, Suspended, Crashed } = SimPowerState;

/** Completed tasks older than this are garbage-collected, as XAPI's DB GC does (§8.6). */
const TASK_GC_MS = 60 * 60 * 1000;
/** At most this many completed tasks are kept. */
const MAX_COMPLETED_TASKS = 2_000;

export class Engine {
  readonly db = new Db();
  readonly vms: Table<VmRecord>;
  readonly pools: Table<PoolRecord>;
  readonly hosts: Table<HostRecord>;
  readonly sessions: Table<SessionRecord>;
  readonly tasks: Table<TaskRecord>;
  readonly srs: Table<SrRecord>;
  readonly vdis: Table<VdiRecord>;
  readonly vbds: Table<VbdRecord>;
  readonly vmMetrics: Table<VmMetricsRecord>;
  readonly guestMetrics: Table<GuestMetricsRecord>;
  readonly vifs: Table<VifRecord>;
  readonly networks: Table<NetworkRecord>;
  readonly hostMetrics: Table<HostMetricsRecord>;
  readonly pifs: Table<PifRecord>;
  readonly pifMetrics: Table<PifMetricsRecord>;
  readonly pbds: Table<PbdRecord>;
  readonly messages: Table<MessageRecord>;
  /** Simulator-only: what each VDI holds for a bootloader (menu.lst, kernels), keyed by VDI ref. */
  readonly vdiContent = new Map<string, GuestDiskContent>();
  /** Simulator-only state per VM ref (guest model, boots). */
  readonly sim = new Map<string, VmSimState>();
  readonly taskRuntime = new Map<string, TaskRuntime>();
  /** Completion time (epoch ms) of each completed task, oldest first, for the task GC. */
  private readonly completedAt = new Map<string, number>();
  nextDomid = 1;
  closed = false;
  private readonly closers = new Set<() => void>();

  constructor(
    readonly config: SimConfig,
    readonly now: () => number = () => Date.now(),
  ) {
    this.sessions = this.db.table<SessionRecord>("session");
    this.pools = this.db.table<PoolRecord>("pool");
    this.hosts = this.db.table<HostRecord>("host");
    this.vms = this.db.table<VmRecord>("VM");
    this.tasks = this.db.table<TaskRecord>("task");
    this.srs = this.db.table<SrRecord>("SR");
    this.vdis = this.db.table<VdiRecord>("VDI");
    this.vbds = this.db.table<VbdRecord>("VBD");
    this.vmMetrics = this.db.table<VmMetricsRecord>("VM_metrics");
    this.guestMetrics = this.db.table<GuestMetricsRecord>("VM_guest_metrics");
    this.vifs = this.db.table<VifRecord>("VIF");
    this.networks = this.db.table<NetworkRecord>("network");
    this.hostMetrics = this.db.table<HostMetricsRecord>("host_metrics");
    this.pifs = this.db.table<PifRecord>("PIF");
    this.pifMetrics = this.db.table<PifMetricsRecord>("PIF_metrics");
    this.pbds = this.db.table<PbdRecord>("PBD");
    this.messages = this.db.table<MessageRecord>("message");
  }

  /** The XAPI generation this model plays. */
  get profile(): SimProfile {
    return PROFILES[this.config.profile];
  }

  private readonly wireFields = new Map<string, string[]>();

  /** A record as the profile serves it: its published fields (those of the profile's release), typed. */
  wire(cls: string, record: object): { [key: string]: XValue } {
    let fields = this.wireFields.get(cls);
    if (fields === undefined) {
      fields = fieldsOf(this.profile, cls);
      this.wireFields.set(cls, fields);
    }
    return toWire(cls, record, fields.length > 0 ? fields : undefined);
  }

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

  get checkOptions(): CheckOptions {
    return { crashedCompat: this.config.crashedCompat };
  }

  // ---------------------------------------------------------------- clock

  /** Sleeps `ms`; rejects with the signal's reason when aborted, or {@link closedFault} on close. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(closedFault());
      if (signal?.aborted) return reject(signal.reason);
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.closers.delete(onClose);
      };
      const timer = setTimeout(() => {
        done();
        resolve();
      }, clampDelay(ms));
      const onAbort = (): void => {
        done();
        reject(signal?.reason);
      };
      const onClose = (): void => {
        done();
        reject(closedFault());
      };
      signal?.addEventListener("abort", onAbort);
      this.closers.add(onClose);
    });
  }

  /** Waits for the next DB change (or `ms`); rejects like {@link sleep} on abort or close. */
  async waitForChange(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) throw closedFault();
    if (signal?.aborted) throw signal.reason;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal?.reason);
      signal?.addEventListener("abort", onAbort);
    });
    aborted.catch(() => undefined);
    try {
      await Promise.race([this.db.waitForChange(ms), aborted]);
    } finally {
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
    if (this.closed) throw closedFault();
  }

  /** Ends every sleep and wakes every waiter (model `close()`). */
  close(): void {
    this.closed = true;
    for (const close of [...this.closers]) close();
    this.closers.clear();
    for (const rt of this.taskRuntime.values()) rt.controller.abort(closedFault());
    this.db.wakeAll();
  }

  /** Simulated duration of an op. */
  opMs(op: string): number {
    return this.config.operationMs[op] ?? this.config.defaultOperationMs;
  }

  // ---------------------------------------------------------------- loading

  /** Replaces pool, hosts and VMs with a snapshot's content (refs kept; events as adds/mods/dels). */
  load(snapshot: SimSnapshot): void {
    const replace = <T extends object>(table: Table<T>, rows: { ref: string; record: T }[]): void => {
      const keep = new Set(rows.map((r) => r.ref));
      for (const ref of table.rows.keys()) if (!keep.has(ref)) table.remove(ref);
      for (const { ref, record } of rows) {
        const copy = structuredClone(record);
        if (table.has(ref)) table.update(ref, (v) => Object.assign(v, copy));
        else table.insert(ref, copy);
      }
    };
    this.sim.clear();
    for (const vm of snapshot.vms) this.sim.set(vm.ref, structuredClone(vm.sim));
    replace(this.pools, [snapshot.pool]);
    // A host's address comes from the options; its API version and software_version from the profile, as
    // xapi rewrites them at every start (dbsync_slave.ml: `create_software_version`, the API version).
    const p = this.profile;
    const hosts = snapshot.hosts.map((h, i) => ({
      ref: h.ref,
      record: {
        ...h.record,
        address: i === 0 ? this.config.masterAddress : this.config.memberAddress,
        API_version_major: p.apiVersionMajor,
        API_version_minor: p.apiVersionMinor,
        API_version_vendor: p.apiVersionVendor,
        software_version: p.softwareVersion(h.record.hostname),
      },
    }));
    replace(this.hosts, hosts);
    replace(
      this.vms,
      snapshot.vms.map((vm) => ({
        ref: vm.ref,
        record: { ...vm.record, allowed_operations: [], current_operations: {} },
      })),
    );
    replace(this.srs, snapshot.srs);
    replace(
      this.vdis,
      snapshot.vdis.map((v) => ({ ref: v.ref, record: v.record })),
    );
    replace(this.vbds, snapshot.vbds);
    replace(this.networks, snapshot.networks);
    replace(this.vifs, snapshot.vifs);
    replace(this.vmMetrics, snapshot.vmMetrics);
    replace(this.guestMetrics, snapshot.guestMetrics);
    replace(this.hostMetrics, snapshot.hostMetrics);
    replace(this.pifs, snapshot.pifs);
    replace(this.pifMetrics, snapshot.pifMetrics);
    replace(this.pbds, snapshot.pbds);
    // Messages live outside xapi's database and are not part of the state (see simulator/README.md).
    for (const ref of [...this.messages.rows.keys()]) this.messages.remove(ref);
    this.vdiContent.clear();
    for (const v of snapshot.vdis) this.vdiContent.set(v.ref, structuredClone(v.content));
    this.nextDomid = snapshot.nextDomid;
    this.syncStorageLinks();
    this.syncNetworkLinks();
    this.syncManagementAddresses();
    for (const ref of this.vms.rows.keys()) this.ensureMetrics(ref);
    ensurePoolObjects(this);
    for (const ref of this.vms.rows.keys()) this.updateVm(ref, () => undefined);
    for (const ref of this.vms.rows.keys()) this.afterPowerChange(ref);
    // Outside XenAPI 1.0 mode nothing leaves Crashed: halt such VMs, as leaving compat mode does.
    if (!this.config.crashedCompat) {
      for (const [ref, vm] of this.vms.entries())
        if (vm.power_state === Crashed) this.enterState(ref, Halted);
    }
  }

  /** Recomputes the derived ref lists (VM.VBDs, VDI.VBDs, SR.VDIs) from the VBD and VDI tables. */
  private syncStorageLinks(): void {
    const same = (a: readonly string[], b: readonly string[]) => JSON.stringify(a) === JSON.stringify(b);
    for (const [ref, vm] of this.vms.entries()) {
      const vbds = this.vbdsOf(ref).map(([r]) => r);
      if (!same(vm.VBDs, vbds))
        this.vms.update(ref, (v) => {
          v.VBDs = vbds;
        });
    }
    for (const [ref, vdi] of this.vdis.entries()) {
      const vbds = this.vbds
        .entries()
        .filter(([, b]) => b.VDI === ref)
        .map(([r]) => r);
      if (!same(vdi.VBDs, vbds))
        this.vdis.update(ref, (v) => {
          v.VBDs = vbds;
        });
    }
    for (const [ref, sr] of this.srs.entries()) {
      const vdis = this.vdis
        .entries()
        .filter(([, v]) => v.SR === ref)
        .map(([r]) => r);
      if (!same(sr.VDIs, vdis))
        this.srs.update(ref, (x) => {
          x.VDIs = vdis;
        });
    }
  }

  /** Recomputes the derived ref lists VM.VIFs (by device) and network.VIFs from the VIF table. */
  private syncNetworkLinks(): void {
    const same = (a: readonly string[], b: readonly string[]) => JSON.stringify(a) === JSON.stringify(b);
    for (const [ref, vm] of this.vms.entries()) {
      const vifs = this.vifsOf(ref).map(([r]) => r);
      if (!same(vm.VIFs, vifs))
        this.vms.update(ref, (v) => {
          v.VIFs = vifs;
        });
    }
    for (const [ref, network] of this.networks.entries()) {
      const vifs = this.vifs
        .entries()
        .filter(([, v]) => v.network === ref)
        .map(([r]) => r);
      if (!same(network.VIFs, vifs))
        this.networks.update(ref, (n) => {
          n.VIFs = vifs;
        });
    }
  }

  /** A management PIF's IP is its host's address (which the options set at every load). */
  private syncManagementAddresses(): void {
    for (const [ref, pif] of this.pifs.entries()) {
      const address = this.hosts.get(pif.host)?.address;
      if (pif.management && address !== undefined && pif.IP !== address)
        this.pifs.update(ref, (p) => {
          p.IP = address;
        });
    }
  }

  /** The persistent state as a JSON-serialisable snapshot. */
  snapshot(): SimSnapshot {
    const [pool] = this.pools.entries();
    if (!pool) throw new Error("xapi-sim has no pool");
    // Records as a host of the profile's generation dumps them: without the fields it lacks (a load
    // fills them back per profile); unknown fields a loaded file had are kept.
    const dump = <T extends object>(cls: string, table: Table<T>) =>
      table.entries().map(([ref, record]) => ({ ref, record: this.dumpRecord(cls, record) }));
    return structuredClone({
      format: "xapi-sim-state",
      version: 1,
      pool: { ref: pool[0], record: this.dumpRecord("pool", pool[1]) },
      hosts: dump("host", this.hosts),
      vms: this.vms.entries().map(([ref, record]) => ({
        ref,
        record: this.dumpRecord("VM", { ...record, allowed_operations: [], current_operations: {} }),
        sim: this.simOf(ref),
      })),
      srs: dump("SR", this.srs),
      vdis: this.vdis.entries().map(([ref, record]) => ({
        ref,
        record: this.dumpRecord("VDI", record),
        content: this.contentOf(ref),
      })),
      vbds: dump("VBD", this.vbds),
      networks: dump("network", this.networks),
      vifs: dump("VIF", this.vifs),
      vmMetrics: dump("VM_metrics", this.vmMetrics),
      guestMetrics: dump("VM_guest_metrics", this.guestMetrics),
      hostMetrics: dump("host_metrics", this.hostMetrics),
      pifs: dump("PIF", this.pifs),
      pifMetrics: dump("PIF_metrics", this.pifMetrics),
      pbds: dump("PBD", this.pbds),
      nextDomid: this.nextDomid,
      profile: this.config.profile,
    }) as SimSnapshot;
  }

  /** A record without the published fields the profile does not serve. */
  private dumpRecord<T extends object>(cls: string, record: T): T {
    const served = new Set(fieldsOf(this.profile, cls));
    const all = CLASS_FIELDS[cls] ?? [];
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) if (served.has(k) || !all.includes(k)) out[k] = v;
    return out as T;
  }

  // ---------------------------------------------------------------- storage

  /** The VM's VBDs, `[ref, record]`, sorted by userdevice. */
  vbdsOf(vmRef: string): [string, VbdRecord][] {
    return this.vbds
      .entries()
      .filter(([, vbd]) => vbd.VM === vmRef)
      .sort(([, a], [, b]) => byUserdevice(a, b));
  }

  /** What a VDI holds for a bootloader (an unknown VDI: a blank disk). */
  contentOf(vdiRef: string): GuestDiskContent {
    return this.vdiContent.get(vdiRef) ?? { menuLst: null, files: [] };
  }

  /** The VBD record, or HANDLE_INVALID ["VBD", ref]. */
  vbd(ref: string): VbdRecord {
    const vbd = this.vbds.get(ref);
    if (!vbd) throw new XapiFault(ErrorCode.handleInvalid, ["VBD", ref]);
    return vbd;
  }

  /** The VDI record, or HANDLE_INVALID ["VDI", ref]. */
  vdi(ref: string): VdiRecord {
    const vdi = this.vdis.get(ref);
    if (!vdi) throw new XapiFault(ErrorCode.handleInvalid, ["VDI", ref]);
    return vdi;
  }

  /** Creates a VDI in `sr` (NULL allowed) with `content`; keeps SR.VDIs in step. */
  createVdi(record: Omit<VdiRecord, "VBDs">, content: GuestDiskContent, ref: string = newRef()): string {
    this.vdiContent.set(ref, structuredClone(content));
    this.vdis.insert(ref, { ...structuredClone(record), VBDs: [] });
    if (this.srs.has(record.SR))
      this.srs.update(record.SR, (sr) => {
        sr.VDIs = [...sr.VDIs, ref];
      });
    return ref;
  }

  /** Creates a VBD; keeps VM.VBDs and VDI.VBDs in step; attached if the VM has a domain. */
  createVbd(record: VbdRecord, ref: string = newRef()): string {
    const vm = this.vm(record.VM);
    const live = vm.power_state === Running || vm.power_state === Paused;
    this.vbds.insert(ref, { ...structuredClone(record), currently_attached: live });
    this.vms.update(record.VM, (v) => {
      v.VBDs = this.vbdsOf(record.VM).map(([r]) => r);
    });
    if (this.vdis.has(record.VDI))
      this.vdis.update(record.VDI, (v) => {
        v.VBDs = [...v.VBDs, ref];
      });
    return ref;
  }

  /** Deletes a VBD and unlinks it from its VM and VDI. */
  destroyVbd(ref: string): void {
    const vbd = this.vbds.get(ref);
    if (!vbd) return;
    this.vbds.remove(ref);
    if (this.vms.has(vbd.VM))
      this.vms.update(vbd.VM, (v) => {
        v.VBDs = v.VBDs.filter((r) => r !== ref);
      });
    if (this.vdis.has(vbd.VDI))
      this.vdis.update(vbd.VDI, (v) => {
        v.VBDs = v.VBDs.filter((r) => r !== ref);
      });
  }

  /** Deletes a VDI, the VBDs that point at it (xapi_vdi.ml destroys them at once) and its content. */
  destroyVdi(ref: string): void {
    const vdi = this.vdis.get(ref);
    if (!vdi) return;
    for (const vbd of [...vdi.VBDs]) this.destroyVbd(vbd);
    this.vdis.remove(ref);
    this.vdiContent.delete(ref);
    if (this.srs.has(vdi.SR))
      this.srs.update(vdi.SR, (sr) => {
        sr.VDIs = sr.VDIs.filter((r) => r !== ref);
      });
  }

  /** VBD and VIF currently_attached follow the VM's domain: true while Running or Paused (or Crashed). */
  syncAttachment(vmRef: string): void {
    const vm = this.vms.get(vmRef);
    if (!vm) return;
    const live = vm.power_state === Running || vm.power_state === Paused || vm.power_state === Crashed;
    for (const [ref, vbd] of this.vbdsOf(vmRef)) {
      if (vbd.currently_attached !== live)
        this.vbds.update(ref, (b) => {
          b.currently_attached = live;
        });
    }
    for (const [ref, vif] of this.vifsOf(vmRef)) {
      const ops = this.vifAllowedOperations(vif, vm, live);
      if (vif.currently_attached !== live || JSON.stringify(ops) !== JSON.stringify(vif.allowed_operations))
        this.vifs.update(ref, (v) => {
          v.currently_attached = live;
          v.allowed_operations = ops;
        });
    }
  }

  /** What follows a power-state change: device attachment, guest metrics, host residents. */
  afterPowerChange(vmRef: string): void {
    this.syncGuestMetrics(vmRef);
    this.syncAttachment(vmRef);
    this.syncResidents();
  }

  // ---------------------------------------------------------------- VIFs, VM_metrics, VM_guest_metrics

  /** The VM's VIFs, `[ref, record]`, sorted by device. */
  vifsOf(vmRef: string): [string, VifRecord][] {
    return this.vifs
      .entries()
      .filter(([, vif]) => vif.VM === vmRef)
      .sort(([, a], [, b]) => Number(a.device) - Number(b.device));
  }

  /**
   * `VIF.allowed_operations` (xapi_vif_helpers.ml `valid_operations`): `attach` always; `plug` / `unplug`
   * only while the VM is Running, by whether the VIF is attached, and for an HVM domain only with PV drivers.
   */
  private vifAllowedOperations(vif: VifRecord, vm: VmRecord, attached: boolean): string[] {
    if (Object.keys(vif.current_operations).length > 0) return [];
    const ops = ["attach"];
    if (vm.power_state !== Running || vm.is_control_domain) return ops;
    const sim = this.simOf(vif.VM);
    const hvm = sim.lastBoot === null ? effectiveHvm(vm) : sim.lastBoot.domain_type === "hvm";
    if (hvm && !sim.guest.pvDrivers) return ops;
    ops.push(attached ? "unplug" : "plug");
    return ops;
  }

  /** The VIF record, or HANDLE_INVALID ["VIF", ref]. */
  vif(ref: string): VifRecord {
    const vif = this.vifs.get(ref);
    if (!vif) throw new XapiFault(ErrorCode.handleInvalid, ["VIF", ref]);
    return vif;
  }

  /** Creates a VIF; keeps VM.VIFs and network.VIFs in step; attached if the VM has a domain. */
  createVif(record: VifRecord, ref: string = newRef()): string {
    this.vifs.insert(ref, { ...structuredClone(record), currently_attached: false, allowed_operations: [] });
    this.vms.update(record.VM, (v) => {
      v.VIFs = this.vifsOf(record.VM).map(([r]) => r);
    });
    if (this.networks.has(record.network))
      this.networks.update(record.network, (n) => {
        n.VIFs = [...n.VIFs, ref];
      });
    this.syncAttachment(record.VM);
    return ref;
  }

  /** Deletes a VIF and unlinks it from its VM and network. */
  destroyVif(ref: string): void {
    const vif = this.vifs.get(ref);
    if (!vif) return;
    this.vifs.remove(ref);
    if (this.vms.has(vif.VM))
      this.vms.update(vif.VM, (v) => {
        v.VIFs = v.VIFs.filter((r) => r !== ref);
      });
    if (this.networks.has(vif.network))
      this.networks.update(vif.network, (n) => {
        n.VIFs = n.VIFs.filter((r) => r !== ref);
      });
  }

  /**
   * Gives a VM whose `metrics` is NULL or names no object a fresh VM_metrics, as xapi does for every VM at
   * start (dbsync_master.ml `ensure_vm_metrics_records_exist`).
   */
  ensureMetrics(vmRef: string): string {
    const vm = this.vm(vmRef);
    if (this.vmMetrics.has(vm.metrics)) return vm.metrics;
    const ref = newRef();
    this.vmMetrics.insert(ref, defaultVmMetricsRecord({ uuid: newUuid(), VCPUs_utilisation: {} }));
    this.vms.update(vmRef, (v) => {
      v.metrics = ref;
    });
    // The domain a live or suspended VM runs was built from its boot record (xapi_db_upgrade.ml
    // `upgrade_domain_type` also sets current_domain_type of VMs that are not Halted).
    if (vm.power_state !== Halted) {
      const sim = this.simOf(vmRef);
      this.vmMetrics.update(ref, (m) => {
        m.current_domain_type = sim.lastBoot?.domain_type ?? effectiveDomainTypeOf(vm);
      });
    }
    return ref;
  }

  private updateMetrics(vmRef: string, mutate: (m: VmMetricsRecord) => void): void {
    const ref = this.ensureMetrics(vmRef);
    this.vmMetrics.update(ref, mutate);
  }

  /**
   * XAPI's `create_guest_metrics_if_needed` (xapi_xenops.ml): a Running VM whose guest runs the agent
   * (PV drivers) and has no guest metrics gets them, created from the agent's report
   * (`create_and_set_guest_metrics`). A guest that lost its drivers keeps its object, with
   * PV_drivers_detected and PV_drivers_up_to_date false.
   */
  syncGuestMetrics(vmRef: string): void {
    const vm = this.vms.get(vmRef);
    if (!vm || vm.is_control_domain) return;
    const sim = this.simOf(vmRef);
    const gm = this.guestMetrics.get(vm.guest_metrics);
    if (gm === undefined) {
      if (vm.power_state !== Running || !sim.guest.pvDrivers) return;
      const ref = newRef();
      const report = guestReport(
        sim.agent,
        this.vifsOf(vmRef).map(([, v]) => v),
        this.now(),
      );
      this.guestMetrics.insert(ref, { uuid: newUuid(), ...report });
      this.vms.update(vmRef, (v) => {
        v.guest_metrics = ref;
      });
      return;
    }
    if (vm.power_state === Running && gm.PV_drivers_detected !== sim.guest.pvDrivers) {
      this.guestMetrics.update(vm.guest_metrics, (g) => {
        g.PV_drivers_detected = sim.guest.pvDrivers;
        g.PV_drivers_up_to_date = sim.guest.pvDrivers;
      });
    }
  }

  /** `Xapi_vm_helpers.delete_guest_metrics`: VM.guest_metrics ← NULL and the object destroyed. */
  deleteGuestMetrics(vmRef: string): void {
    const vm = this.vms.get(vmRef);
    if (!vm || vm.guest_metrics === NULL_REF) return;
    const gm = vm.guest_metrics;
    this.vms.update(vmRef, (v) => {
      v.guest_metrics = NULL_REF;
    });
    this.guestMetrics.remove(gm);
  }

  /** The VM's disks as a boot sees them (§7.4): VBD facts, the VDI's dom0 path and content. */
  bootDisks(vmRef: string): BootDiskInput[] {
    return this.vbdsOf(vmRef).map(([, vbd]) => {
      const vdi = vbd.empty ? undefined : this.vdis.get(vbd.VDI);
      const sr = vdi ? this.srs.get(vdi.SR) : undefined;
      return {
        userdevice: vbd.userdevice,
        device: vbd.device,
        type: vbd.type,
        bootable: vbd.bootable,
        empty: vbd.empty || vdi === undefined,
        vdi: vdi?.uuid ?? null,
        // The block device xenopsd attaches in dom0 and hands to the bootloader (SM's backend path).
        path: vdi ? `/dev/sm/backend/${sr?.uuid ?? "no-sr"}/${vdi.uuid}` : null,
        content: vdi ? this.contentOf(vbd.VDI) : null,
      };
    });
  }

  /** userdevices of the VM's bootable VBDs, sorted numerically. */
  bootableUserdevices(vmRef: string): string[] {
    return this.vbdsOf(vmRef)
      .filter(([, vbd]) => vbd.bootable)
      .map(([, vbd]) => vbd.userdevice);
  }

  /**
   * What a domain build of the VM would boot now, or the XAPI fault that stops it: the field checks
   * (`bootConfigError`), then the disk-dependent outcome (`bootOutcome`), xapi-semantics §7.4.
   */
  bootOf(ref: string): BootResult {
    const vm = this.vm(ref);
    const error = bootConfigError(vm);
    if (error) return { ok: false, error };
    return bootOutcome(vm, ref, this.bootDisks(ref));
  }

  // ---------------------------------------------------------------- VMs

  simOf(ref: string): VmSimState {
    let s = this.sim.get(ref);
    if (!s) {
      s = {
        guest: { pvDrivers: true, ignoresCleanShutdown: false },
        bootCount: 0,
        lastBoot: null,
        startedAtMs: null,
      };
      this.sim.set(ref, s);
    }
    return s;
  }

  /** The VM record, or HANDLE_INVALID ["VM", ref] (§8.8). */
  vm(ref: string): VmRecord {
    const vm = this.vms.get(ref);
    if (!vm) throw new XapiFault(ErrorCode.handleInvalid, ["VM", ref]);
    return vm;
  }

  /** The host record, or HANDLE_INVALID ["host", ref]. */
  host(ref: string): HostRecord {
    const host = this.hosts.get(ref);
    if (!host) throw new XapiFault(ErrorCode.handleInvalid, ["host", ref]);
    return host;
  }

  view(ref: string, vm: VmRecord): VmCheckView {
    const sim = this.simOf(ref);
    return {
      ref,
      power_state: vm.power_state,
      is_a_template: vm.is_a_template,
      is_default_template: vm.is_default_template,
      is_a_snapshot: vm.is_a_snapshot,
      is_control_domain: vm.is_control_domain,
      domid: vm.domid,
      blocked_operations: vm.blocked_operations,
      current_operations: vm.current_operations,
      pvDrivers: sim.guest.pvDrivers,
      bootedPvLike: sim.lastBoot !== null && isPvLike(sim.lastBoot.domain_type),
    };
  }

  /** Mutates a VM and recomputes its allowed_operations (§4.5: after every change). */
  updateVm(ref: string, mutate: (vm: VmRecord, sim: VmSimState) => void): void {
    const sim = this.simOf(ref);
    this.vms.update(ref, (vm) => {
      mutate(vm, sim);
      vm.allowed_operations = allowedOperations(this.view(ref, vm), this.checkOptions);
    });
  }

  checkOp(ref: string, op: VmOperation): XapiFault | undefined {
    return checkOperationError(this.view(ref, this.vm(ref)), op, this.checkOptions);
  }

  /** Keeps each host's `resident_VMs` in step with the VMs' `resident_on`. */
  syncResidents(): void {
    for (const [hostRef, host] of this.hosts.entries()) {
      const residents = this.vms
        .entries()
        .filter(([, vm]) => vm.resident_on === hostRef)
        .map(([ref]) => ref);
      if (JSON.stringify(residents) !== JSON.stringify(host.resident_VMs)) {
        this.hosts.update(hostRef, (h) => {
          h.resident_VMs = residents;
        });
      }
    }
    syncHostMemory(this);
  }

  /**
   * Sets a power state and the runtime fields that follow it (xapi-semantics §1.2):
   * domid −1 and resident_on NULL when not live, a new domid for a new domain, requires_reboot
   * cleared on Halted, VBDs attached while live. `build` records a boot (start/reboot, never
   * resume: §7.6) from the VM's current config and disks.
   * @throws XapiFault (before changing anything) when `build` is given and the VM cannot boot.
   */
  enterState(
    ref: string,
    state: SimPowerState,
    o: {
      newDomain?: boolean;
      host?: string;
      build?: string;
      clearSuspendVdi?: boolean;
      newSuspendVdi?: boolean;
    } = {},
  ): void {
    const boot =
      o.build === undefined || !(state === Running || state === Paused) ? undefined : this.bootOf(ref);
    if (boot !== undefined && !boot.ok) throw boot.error;
    const before = this.vm(ref);
    // The suspend image is written before the domain goes (xapi_xenops.ml `suspend`); it is discarded only
    // when the VM leaves Suspended (resumed, or halted by hard_shutdown), never by a reset.
    const image = o.newSuspendVdi ? createSuspendImage(this, ref) : undefined;
    const discarded =
      o.clearSuspendVdi && before.power_state === Suspended && state !== Suspended
        ? before.suspend_VDI
        : NULL_REF;
    this.updateVm(ref, (vm, sim) => {
      vm.power_state = state;
      if (state === Halted || state === Suspended) {
        vm.domid = -1;
        vm.resident_on = NULL_REF;
        vm.scheduled_to_be_resident_on = NULL_REF;
        sim.startedAtMs = null;
      }
      if (state === Halted) vm.requires_reboot = false;
      if (discarded !== NULL_REF) vm.suspend_VDI = NULL_REF;
      if (image !== undefined) vm.suspend_VDI = image;
      if ((state === Running || state === Paused) && o.newDomain) {
        vm.domid = this.nextDomid++;
        vm.resident_on = o.host ?? (vm.resident_on !== NULL_REF ? vm.resident_on : this.masterRef);
        sim.startedAtMs = this.now();
        if (o.build !== undefined && boot?.ok) {
          sim.bootCount += 1;
          sim.lastBoot = bootRecordOf(vm, boot.outcome, o.build, vm.domid, sim.bootCount, this.now());
        }
      }
    });
    if (discarded !== NULL_REF) this.destroyVdi(discarded);
    const vm = this.vm(ref);
    const sim = this.simOf(ref);
    if ((state === Running || state === Paused) && o.newDomain) {
      // A new domain: its start time and type (xapi_xenops.ml `update_vm`: last_start_time, domain_type).
      const domainType = sim.lastBoot?.domain_type ?? effectiveDomainTypeOf(vm);
      const now = xapiDate(this.now());
      this.updateMetrics(ref, (m) => {
        m.start_time = now;
        m.last_updated = now;
        m.current_domain_type = domainType;
        m.hvm = domainType === "hvm";
        m.memory_actual = vm.memory_dynamic_max;
        m.VCPUs_number = vm.VCPUs_at_startup;
      });
      // A start or reboot clears the previous guest's metrics (xapi_vm.ml `start`; xapi_xenops.ml drops
      // metrics older than the new start time); a resume keeps them.
      if (o.build !== undefined) this.deleteGuestMetrics(ref);
    } else if (state === Halted) {
      this.updateMetrics(ref, (m) => {
        m.current_domain_type = "unspecified";
      });
    }
    this.afterPowerChange(ref);
  }

  /**
   * The state guard an op applies when its simulated work finishes: if the VM changed power
   * state under it (crash, out-of-band change), fail the way xenopsd's errors reach the API:
   * VM_BAD_POWER_STATE with capitalised states (§5.1, third row).
   */
  expectState(ref: string, expected: readonly SimPowerState[]): VmRecord {
    const vm = this.vm(ref);
    if (!expected.includes(vm.power_state)) {
      throw new XapiFault(ErrorCode.vmBadPowerState, [ref, expected[0] ?? "", vm.power_state]);
    }
    return vm;
  }

  /** A new VM record in the table (clone, provision), with its VM_metrics. */
  insertVm(ref: string, record: VmRecord, sim: VmSimState): void {
    this.sim.set(ref, sim);
    this.vms.insert(ref, record);
    this.ensureMetrics(ref);
    this.updateVm(ref, () => undefined);
  }

  /**
   * Deletes a VM with its VBDs, VIFs, VM_metrics and VM_guest_metrics; its VDIs stay
   * (xapi_vm_helpers.ml `destroy`).
   */
  removeVm(ref: string): void {
    const vm = this.vm(ref);
    for (const [vbd] of this.vbdsOf(ref)) this.destroyVbd(vbd);
    for (const [vif] of this.vifsOf(ref)) this.destroyVif(vif);
    this.vms.remove(ref);
    this.vmMetrics.remove(vm.metrics);
    this.guestMetrics.remove(vm.guest_metrics);
    this.sim.delete(ref);
    this.syncResidents();
  }

  /**
   * `VM.clone` / `VM.copy`: a new VM with a new identity and halted runtime fields, the guest model
   * copied, and its disks copied: each Disk VBD gets a new VBD on a new VDI (same name, size, SR and
   * content); a CD VBD gets a new VBD on the same ISO (or empty). Returns the new VM's ref.
   */
  cloneVm(ref: string, newName: string): string {
    const src = this.vm(ref);
    const copy = structuredClone(src);
    const record = defaultVmRecord({
      ...copy,
      uuid: newUuid(),
      name_label: newName,
      is_default_template: false,
      power_state: Halted,
      domid: -1,
      resident_on: NULL_REF,
      suspend_VDI: NULL_REF,
      allowed_operations: [],
      current_operations: {},
      VBDs: [],
      VIFs: [],
      metrics: NULL_REF,
      guest_metrics: NULL_REF,
      consoles: [],
      snapshots: [],
      children: [],
      parent: NULL_REF,
      other_config: Object.fromEntries(
        Object.entries(copy.other_config).filter(([k]) => k !== "default_template"),
      ),
    });
    const srcSim = this.simOf(ref);
    const newVm = newRef();
    this.insertVm(newVm, record, {
      guest: { ...srcSim.guest },
      bootCount: 0,
      lastBoot: null,
      startedAtMs: null,
    });
    for (const [, vbd] of this.vbdsOf(ref)) {
      let vdi = vbd.VDI;
      const source = this.vdis.get(vbd.VDI);
      if (vbd.type === "Disk" && source !== undefined) {
        const { VBDs: _, ...rest } = source;
        vdi = this.createVdi(
          { ...rest, uuid: newUuid(), location: "", snapshots: [], snapshot_of: NULL_REF },
          this.contentOf(vbd.VDI),
        );
        this.vdis.update(vdi, (v) => {
          v.location = v.uuid;
        });
      }
      this.createVbd({ ...vbd, uuid: newUuid(), VM: newVm, VDI: vdi, currently_attached: false });
    }
    // xapi_vm_clone.ml: the metrics and guest metrics are copies (`copy_metrics`, `copy_guest_metrics`);
    // each VIF is copied with a newly generated MAC (xapi_vif_helpers.ml `copy`: the MAC is kept only for
    // snapshots; XAPI derives it from the clone's mac_seed, xapi-sim picks a random one).
    const srcMetrics = this.vmMetrics.get(src.metrics);
    const newMetrics = this.vm(newVm).metrics;
    if (srcMetrics !== undefined)
      this.vmMetrics.update(newMetrics, (m) => {
        Object.assign(m, { ...structuredClone(srcMetrics), uuid: m.uuid });
      });
    const srcGuest = this.guestMetrics.get(src.guest_metrics);
    if (srcGuest !== undefined) {
      const gm = newRef();
      this.guestMetrics.insert(gm, { ...structuredClone(srcGuest), uuid: newUuid() });
      this.vms.update(newVm, (v) => {
        v.guest_metrics = gm;
      });
    }
    for (const [, vif] of this.vifsOf(ref)) {
      this.createVif({
        ...structuredClone(vif),
        uuid: newUuid(),
        VM: newVm,
        MAC: randomMac(),
        MAC_autogenerated: true,
        current_operations: {},
      });
    }
    return newVm;
  }

  /** `VM.provision`: creates the disks `other_config["disks"]` describes, then drops the key. */
  provisionDisks(ref: string): void {
    const vm = this.vm(ref);
    const spec = vm.other_config.disks;
    if (spec === undefined) return;
    const taken = new Set(this.vbdsOf(ref).map(([, b]) => userdeviceNumber(b.userdevice)));
    const defaultSr = this.pools.values()[0]?.default_SR ?? NULL_REF;
    for (const disk of parseProvisionDisks(spec)) {
      if (taken.has(Number(disk.device))) continue;
      const sr = this.srs.has(disk.sr) ? disk.sr : defaultSr;
      const vdi = this.createVdi(
        defaultVdiRecord({
          uuid: newUuid(),
          name_label: `${vm.name_label} ${disk.device}`,
          SR: sr,
          virtual_size: disk.size,
          type: disk.type,
        }),
        { menuLst: null, files: [] },
      );
      this.createVbd(
        defaultVbdRecord({
          uuid: newUuid(),
          VM: ref,
          VDI: vdi,
          userdevice: disk.device,
          bootable: disk.bootable,
        }),
      );
    }
    this.updateVm(ref, (v) => {
      const { disks: _, ...rest } = v.other_config;
      v.other_config = rest;
    });
  }

  // ---------------------------------------------------------------- tasks

  /** Creates a pending task (xapi-semantics §8.6 fields). */
  createTask(label: string, session: string | undefined): string {
    this.collectTasks();
    const ref = newRef();
    const now = xapiDate(this.now());
    this.tasks.insert(ref, {
      uuid: newUuid(),
      name_label: label,
      name_description: "",
      allowed_operations: ["cancel"],
      current_operations: {},
      created: now,
      finished: NEVER,
      status: "pending",
      resident_on: this.masterRef,
      progress: 0,
      type: "<none/>",
      result: "",
      error_info: [],
      other_config: {},
      subtask_of: NULL_REF,
      subtasks: [],
      backtrace: "()",
    });
    this.taskRuntime.set(ref, { controller: new AbortController(), session });
    if (session && this.sessions.has(session)) {
      this.sessions.update(session, (s) => {
        s.tasks = [...s.tasks, ref];
      });
    }
    return ref;
  }

  /** The signal that aborts when `task` is cancelled. */
  taskSignal(task: string): AbortSignal {
    const rt = this.taskRuntime.get(task);
    if (rt) return rt.controller.signal;
    return new AbortController().signal;
  }

  /** Marks a task finished: success with the XML-RPC-encoded result, or failure/cancelled (§8.6). */
  finishTask(ref: string, outcome: { ok: true; value: XValue } | { ok: false; error: XapiFault }): void {
    const task = this.tasks.get(ref);
    this.taskRuntime.delete(ref);
    if (task?.status !== "pending") return;
    this.tasks.update(ref, (t) => {
      t.progress = 1;
      t.finished = xapiDate(this.now());
      t.allowed_operations = [];
      const deferred = Object.values(t.current_operations).includes("destroy");
      t.current_operations = deferred ? { task: "destroy" } : {};
      if (outcome.ok) {
        t.status = "success";
        t.result = xmlRpcValue(outcome.value);
      } else {
        t.status = outcome.error.code === ErrorCode.taskCancelled ? "cancelled" : "failure";
        t.error_info = [outcome.error.code, ...outcome.error.params];
      }
    });
    this.completedAt.set(ref, this.now());
    // A destroy that arrived while the task was pending runs now (xapi_task.ml:37-44).
    if (Object.values(this.tasks.get(ref)?.current_operations ?? {}).includes("destroy"))
      this.destroyTask(ref);
  }

  /** Deletes completed tasks that clients never destroyed: older than an hour, or beyond the cap. */
  private collectTasks(): void {
    const cutoff = this.now() - TASK_GC_MS;
    for (const [ref, at] of this.completedAt) {
      if (at >= cutoff && this.completedAt.size <= MAX_COMPLETED_TASKS) break;
      this.destroyTask(ref);
    }
  }

  destroyTask(ref: string): void {
    const rt = this.taskRuntime.get(ref);
    this.taskRuntime.delete(ref);
    this.completedAt.delete(ref);
    rt?.controller.abort(new XapiFault(ErrorCode.taskCancelled, [ref]));
    this.tasks.remove(ref);
    for (const [sref, s] of this.sessions.entries()) {
      if (s.tasks.includes(ref)) {
        this.sessions.update(sref, (x) => {
          x.tasks = x.tasks.filter((t) => t !== ref);
        });
      }
    }
  }

  /** Cancels a pending task: its op ends with TASK_CANCELLED [task] (best effort, §8.6). */
  cancelTask(ref: string): void {
    const rt = this.taskRuntime.get(ref);
    const task = this.tasks.get(ref);
    if (!task || !rt || task.status !== "pending") return;
    this.tasks.update(ref, (t) => {
      t.current_operations = { ...t.current_operations, [newRef()]: "cancel" };
    });
    rt.controller.abort(new XapiFault(ErrorCode.taskCancelled, [ref]));
  }

  // ---------------------------------------------------------------- with_vm_operation

  /**
   * XAPI's `with_vm_operation` (xapi-semantics §4.4): check (blocking and retrying while another
   * op is in progress, up to `operationWaitMs`), cancel what this op supersedes, record
   * `current_operations[task] = op`, run, and always remove the entry.
   */
  async withVmOperation<T>(ctx: OpContext, ref: string, op: VmOperation, body: () => Promise<T>): Promise<T> {
    this.vm(ref);
    const deadline = this.now() + this.config.operationWaitMs;
    for (;;) {
      const error = this.checkOp(ref, op);
      if (!error) break;
      const remaining = deadline - this.now();
      if (error.code !== ErrorCode.otherOperationInProgress || remaining <= 0) throw error;
      await this.waitForChange(Math.min(remaining, 250), ctx.signal);
      this.vm(ref);
    }
    this.cancelSuperseded(ref, op);
    this.updateVm(ref, (vm) => {
      vm.current_operations = { ...vm.current_operations, [ctx.task]: op };
    });
    try {
      return await body();
    } finally {
      if (this.vms.has(ref)) {
        this.updateVm(ref, (vm) => {
          const { [ctx.task]: _, ...rest } = vm.current_operations;
          vm.current_operations = rest;
        });
      }
    }
  }

  /** hard_shutdown and hard_reboot cancel the in-flight ops they supersede (message_forwarding.ml, §4.4). */
  private cancelSuperseded(ref: string, op: VmOperation): void {
    const victims =
      op === "hard_shutdown"
        ? [
            "clean_shutdown",
            "clean_reboot",
            "hard_reboot",
            "pool_migrate",
            "call_plugin",
            "shutdown",
            "suspend",
          ]
        : op === "hard_reboot"
          ? ["clean_shutdown", "clean_reboot", "pool_migrate", "call_plugin", "suspend"]
          : [];
    if (victims.length === 0) return;
    for (const [task, running] of Object.entries(this.vm(ref).current_operations)) {
      if (victims.includes(running)) this.cancelTask(task);
    }
  }

  // ---------------------------------------------------------------- crash handling

  /**
   * A guest crash (xapi-semantics §2.2): by `actions_after_crash`, with the "<120 s after start
   * never restarts" rule; in XenAPI 1.0 compat mode the VM shows `Crashed` instead.
   */
  crash(ref: string, secondsSinceStart?: number): SimPowerState {
    const vm = this.vm(ref);
    if (vm.power_state !== Running) {
      throw new Error(`crashGuest: VM ${vm.uuid} is ${vm.power_state}; only a Running guest can crash`);
    }
    if (this.config.crashedCompat) {
      this.updateVm(ref, (v) => {
        v.power_state = Crashed;
      });
      return Crashed;
    }
    const sim = this.simOf(ref);
    const uptime =
      secondsSinceStart ?? (sim.startedAtMs === null ? Infinity : (this.now() - sim.startedAtMs) / 1000);
    const action = vm.actions_after_crash;
    const restart = action === "restart" || action === "coredump_and_restart";
    if (action === "preserve") {
      this.enterState(ref, Paused);
      return Paused;
    }
    if (restart && uptime >= 120) {
      try {
        this.enterState(ref, Running, { newDomain: true, host: vm.resident_on, build: "crash-restart" });
        return Running;
      } catch (error) {
        // The restarted domain cannot boot (§7.4): the VM ends Halted.
        if (!(error instanceof XapiFault)) throw error;
      }
    }
    this.enterState(ref, Halted);
    return Halted;
  }
}

/**
 * XAPI's task `result`: the XML-RPC serialisation of the return value (taskHelper.ml:168-175), with the
 * same encoder the wire uses, so structs, floats and datetimes come out exactly as XAPI writes them.
 */
export function xmlRpcValue(value: XValue): string {
  return encodeXmlRpcValue(value);
}

/** One `<disk>` of a template's `other_config["disks"]` provisioning XML. */
export interface ProvisionDisk {
  readonly device: string;
  readonly size: number;
  readonly sr: string;
  readonly bootable: boolean;
  readonly type: string;
}

/**
 * Parses `<provision><disk device="0" size="10737418240" sr="" bootable="true" type="system"/></provision>`
 * (the template disk description XAPI's provision reads). Unparsable disks are skipped.
 */
export function parseProvisionDisks(xml: string): ProvisionDisk[] {
  const disks: ProvisionDisk[] = [];
  for (const match of xml.matchAll(/<disk\b([^>]*)\/?>/g)) {
    const attrs: Record<string, string> = {};
    for (const a of (match[1] ?? "").matchAll(/(\w+)="([^"]*)"/g)) attrs[a[1] ?? ""] = a[2] ?? "";
    const device = attrs.device ?? "";
    const size = Number(attrs.size);
    if (!/^\d+$/.test(device) || !Number.isFinite(size)) continue;
    disks.push({
      device,
      size,
      sr: attrs.sr ?? "",
      bootable: attrs.bootable === "true",
      type: attrs.type ?? "system",
    });
  }
  return disks;
}

/** `derive_domain_type` applied to a VM whose domain_type is unspecified (xapi_vm_helpers.ml). */
function effectiveDomainTypeOf(vm: Pick<VmRecord, "domain_type" | "HVM_boot_policy">): string {
  return vm.domain_type === "unspecified" ? (vm.HVM_boot_policy === "" ? "pv" : "hvm") : vm.domain_type;
}

function effectiveHvm(vm: Pick<VmRecord, "domain_type" | "HVM_boot_policy">): boolean {
  return effectiveDomainTypeOf(vm) === "hvm";
}

/** A random locally administered unicast MAC (XAPI's `gen_mac` hashes the VM's mac_seed into one). */
export function randomMac(): string {
  const bytes = [...randomBytes(6)];
  bytes[0] = ((bytes[0] ?? 0) & 0xfe) | 0x02;
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}
