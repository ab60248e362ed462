/**
 * A VM's power state and what follows it: the runtime fields, device attachment, metrics and host
 * residents; `allowed_operations` after every change; XAPI's `with_vm_operation` bookkeeping; guest
 * crashes. The rules are in docs/simulator-behaviour.md ("Power states", "Operations", "Crashes").
 */
import { XapiFault } from "../../api";
import { type BootResult, bootRecordOf, isPvLike } from "../boot";
import { allowedOperations, checkOperationError, type VmCheckView } from "../checks";
import { createSuspendImage, syncHostMemory } from "../pool-objects";
import { type VmRecord, xapiDate } from "../records";
import { platformFlag } from "../sizing";
import type { VmSimState } from "../snapshot";
import { ErrorCode, NULL_REF, SimPowerState, type VmOperation } from "../vocabulary";
import type { Engine, OpContext } from ".";
import { effectiveDomainTypeOf } from "./metrics";
import { sameRefs, syncChildren } from "./storage";

const { Halted, Paused, Running, Suspended, Crashed } = SimPowerState;

/** How {@link VmState.enter} changes the domain. */
export interface EnterOptions {
  /** A new domain (new domid, start time); otherwise the current one is kept. */
  newDomain?: boolean;
  /** The host the new domain runs on (default: where the VM was, else the master). */
  host?: string;
  /** Records a boot with this reason (start, reboot…), after checking the VM can boot. */
  build?: string;
  /** Discards the suspend image when the VM leaves Suspended. */
  clearSuspendVdi?: boolean;
  /** Writes a new suspend image. */
  newSuspendVdi?: boolean;
}

/** The ops hard_shutdown and hard_reboot cancel (`ocaml/xapi/message_forwarding.ml`). */
const SUPERSEDED: Partial<Record<VmOperation, readonly string[]>> = {
  hard_shutdown: [
    "clean_shutdown",
    "clean_reboot",
    "hard_reboot",
    "pool_migrate",
    "call_plugin",
    "shutdown",
    "suspend",
  ],
  hard_reboot: ["clean_shutdown", "clean_reboot", "pool_migrate", "call_plugin", "suspend"],
};

const isLive = (state: SimPowerState): boolean => state === Running || state === Paused;

export class VmState {
  /** Simulator-only state per VM ref (guest model, boots). */
  readonly sim = new Map<string, VmSimState>();

  constructor(private readonly e: Engine) {}

  /** The VM's simulator-only state (created with the defaults on first use). */
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

  /** What the operation checks read of a VM. */
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
      guestOther: this.e.guestMetrics.get(vm.guest_metrics)?.other,
      // `nested_virt` reads VM_metrics.nested_virt, the platform flag only when there are no metrics.
      nestedVirt: this.e.vmMetrics.get(vm.metrics)?.nested_virt ?? platformFlag(vm.platform, "nested-virt"),
    };
  }

  /**
   * Recomputes a VM's allowed_operations after a change outside its record (guest metrics, metrics),
   * writing only when they differ.
   */
  refreshAllowed(ref: string): void {
    const vm = this.e.vms.get(ref);
    if (!vm) return;
    const ops = allowedOperations(this.view(ref, vm), this.e.checkOptions);
    if (!sameRefs(ops, vm.allowed_operations)) this.update(ref, () => undefined);
  }

  /** Mutates a VM and recomputes its allowed_operations (XAPI does so after every change). */
  update(ref: string, mutate: (vm: VmRecord, sim: VmSimState) => void): void {
    const sim = this.simOf(ref);
    this.e.vms.update(ref, (vm) => {
      mutate(vm, sim);
      vm.allowed_operations = allowedOperations(this.view(ref, vm), this.e.checkOptions);
    });
  }

  /** The fault that stops `op` on the VM now, or `undefined`. */
  checkOp(ref: string, op: VmOperation): XapiFault | undefined {
    return checkOperationError(this.view(ref, this.e.vm(ref)), op, this.e.checkOptions);
  }

  /** Keeps each host's `resident_VMs` in step with the VMs' `resident_on`. */
  syncResidents(): void {
    syncChildren(this.e.hosts, "resident_VMs", this.e.vms, (vm, host) => vm.resident_on === host);
    syncHostMemory(this.e);
  }

  /** VBD and VIF currently_attached follow the VM's domain: true while Running or Paused (or Crashed). */
  syncAttachment(vmRef: string): void {
    const e = this.e;
    const vm = e.vms.get(vmRef);
    if (!vm) return;
    const live = isLive(vm.power_state) || vm.power_state === Crashed;
    for (const [ref, vbd] of e.storage.vbdsOf(vmRef)) {
      if (vbd.currently_attached !== live)
        e.vbds.update(ref, (b) => {
          b.currently_attached = live;
        });
    }
    for (const [ref, vif] of e.network.vifsOf(vmRef)) {
      const ops = e.network.allowedOperations(vif, vm, live);
      if (vif.currently_attached !== live || !sameRefs(ops, vif.allowed_operations))
        e.vifs.update(ref, (v) => {
          v.currently_attached = live;
          v.allowed_operations = ops;
        });
    }
  }

  /** What follows a power-state change: device attachment, guest metrics, host residents. */
  afterPowerChange(vmRef: string): void {
    this.e.metrics.syncGuest(vmRef);
    this.syncAttachment(vmRef);
    this.syncResidents();
    this.refreshAllowed(vmRef);
  }

  /**
   * Sets a power state and the runtime fields that follow it: domid −1 and resident_on NULL when not
   * live, a new domid for a new domain, requires_reboot cleared on Halted, VBDs attached while live.
   * `build` records a boot (start/reboot, never resume) from the VM's current config and disks.
   * @throws XapiFault (before changing anything) when `build` is given and the VM cannot boot.
   */
  enter(ref: string, state: SimPowerState, o: EnterOptions = {}): void {
    const boot = o.build === undefined || !isLive(state) ? undefined : this.e.storage.bootOf(ref);
    if (boot !== undefined && !boot.ok) throw boot.error;
    const before = this.e.vm(ref);
    // The domain a live or suspended VM holds now (one loaded from an older state is derived first).
    this.e.domains.of(ref);
    // The suspend image is written before the domain goes (`ocaml/xapi/xapi_xenops.ml`, `suspend`); it is
    // discarded only when the VM leaves Suspended (resumed, or halted by hard_shutdown), never by a reset.
    const image = o.newSuspendVdi ? createSuspendImage(this.e, ref) : undefined;
    const discarded =
      o.clearSuspendVdi && before.power_state === Suspended && state !== Suspended
        ? before.suspend_VDI
        : NULL_REF;
    this.update(ref, (vm, sim) => {
      vm.power_state = state;
      if (state === Halted || state === Suspended) {
        vm.domid = -1;
        vm.resident_on = NULL_REF;
        vm.scheduled_to_be_resident_on = NULL_REF;
        sim.startedAtMs = null;
      }
      if (state === Halted) {
        vm.requires_reboot = false;
        sim.domain = null;
      }
      if (discarded !== NULL_REF) vm.suspend_VDI = NULL_REF;
      if (image !== undefined) vm.suspend_VDI = image;
      if (isLive(state) && o.newDomain) this.newDomain(ref, vm, sim, o, boot);
    });
    if (discarded !== NULL_REF) this.e.storage.destroyVdi(discarded);
    if (isLive(state) && o.newDomain) this.newDomainMetrics(ref, o.build !== undefined);
    else if (state === Halted) {
      this.e.metrics.update(ref, (m) => {
        m.current_domain_type = "unspecified";
      });
    }
    this.afterPowerChange(ref);
  }

  /** The runtime fields of a new domain, and the boot record when it was built. */
  private newDomain(
    ref: string,
    vm: VmRecord,
    sim: VmSimState,
    o: EnterOptions,
    boot: BootResult | undefined,
  ): void {
    const e = this.e;
    vm.domid = e.nextDomid++;
    vm.resident_on = o.host ?? (vm.resident_on !== NULL_REF ? vm.resident_on : e.masterRef);
    sim.startedAtMs = e.clock.now();
    // A build makes a domain from the record; a resume restores the saved one (docs/simulator-behaviour.md#sizing).
    if (o.build !== undefined || !sim.domain) sim.domain = e.domains.build(vm, ref, vm.resident_on);
    if (o.build !== undefined && boot?.ok) {
      sim.bootCount += 1;
      sim.lastBoot = bootRecordOf(vm, boot.outcome, o.build, vm.domid, sim.bootCount, e.clock.now());
    }
  }

  /** A new domain's start time and type (`ocaml/xapi/xapi_xenops.ml`, `update_vm`). */
  private newDomainMetrics(ref: string, built: boolean): void {
    const e = this.e;
    const vm = e.vm(ref);
    const sim = this.simOf(ref);
    const domainType = sim.lastBoot?.domain_type ?? effectiveDomainTypeOf(vm);
    const domain = sim.domain;
    const now = xapiDate(e.clock.now());
    e.metrics.update(ref, (m) => {
      m.start_time = now;
      m.last_updated = now;
      m.current_domain_type = domainType;
      m.hvm = domainType === "hvm";
      m.memory_actual = domain?.actual ?? vm.memory_dynamic_max;
      m.VCPUs_number = domain?.vcpus ?? vm.VCPUs_at_startup;
      // xenopsd reports the built domain's nested-virt flag (`update_vm` in xapi_xenops.ml).
      if (built) m.nested_virt = platformFlag(vm.platform, "nested-virt");
    });
    // A start or reboot clears the previous guest's metrics (`ocaml/xapi/xapi_vm.ml`, `start`;
    // `xapi_xenops.ml` drops metrics older than the new start time); a resume keeps them.
    if (built) e.metrics.deleteGuest(ref);
  }

  /**
   * The state guard an op applies when its simulated work finishes: if the VM changed power state under
   * it (crash, out-of-band change), fail the way xenopsd's errors reach the API: VM_BAD_POWER_STATE with
   * capitalised states.
   */
  expect(ref: string, expected: readonly SimPowerState[]): VmRecord {
    const vm = this.e.vm(ref);
    if (!expected.includes(vm.power_state)) {
      throw new XapiFault(ErrorCode.vmBadPowerState, [ref, expected[0] ?? "", vm.power_state]);
    }
    return vm;
  }

  /**
   * XAPI's `with_vm_operation` (`ocaml/xapi/xapi_vm_lifecycle.ml`, `message_forwarding.ml`): check
   * (blocking and retrying while another op is in progress, up to `operationWaitMs`), cancel what this op
   * supersedes, record `current_operations[task] = op`, run, and always remove the entry.
   */
  async withVmOperation<T>(ctx: OpContext, ref: string, op: VmOperation, body: () => Promise<T>): Promise<T> {
    const e = this.e;
    e.vm(ref);
    const deadline = e.clock.now() + e.config.operationWaitMs;
    for (;;) {
      const error = this.checkOp(ref, op);
      if (!error) break;
      const remaining = deadline - e.clock.now();
      if (error.code !== ErrorCode.otherOperationInProgress || remaining <= 0) throw error;
      await e.clock.waitForChange(Math.min(remaining, 250), ctx.signal);
      e.vm(ref);
    }
    this.cancelSuperseded(ref, op);
    this.update(ref, (vm) => {
      vm.current_operations = { ...vm.current_operations, [ctx.task]: op };
    });
    try {
      return await body();
    } finally {
      if (e.vms.has(ref)) {
        this.update(ref, (vm) => {
          const { [ctx.task]: _, ...rest } = vm.current_operations;
          vm.current_operations = rest;
        });
      }
    }
  }

  /** hard_shutdown and hard_reboot cancel the in-flight ops they supersede. */
  private cancelSuperseded(ref: string, op: VmOperation): void {
    const victims = SUPERSEDED[op] ?? [];
    if (victims.length === 0) return;
    for (const [task, running] of Object.entries(this.e.vm(ref).current_operations)) {
      if (victims.includes(running)) this.e.taskRunner.cancel(task);
    }
  }

  /**
   * A guest crash: by `actions_after_crash`, except that a domain that crashes less than 120 s after it
   * started is never restarted; in XenAPI 1.0 compat mode the VM shows `Crashed` instead.
   */
  crash(ref: string, secondsSinceStart?: number): SimPowerState {
    const e = this.e;
    const vm = e.vm(ref);
    if (vm.power_state !== Running) {
      throw new Error(`crashGuest: VM ${vm.uuid} is ${vm.power_state}; only a Running guest can crash`);
    }
    if (e.config.crashedCompat) {
      this.update(ref, (v) => {
        v.power_state = Crashed;
      });
      return Crashed;
    }
    const sim = this.simOf(ref);
    const uptime =
      secondsSinceStart ?? (sim.startedAtMs === null ? Infinity : (e.clock.now() - sim.startedAtMs) / 1000);
    const action = vm.actions_after_crash;
    const restart = action === "restart" || action === "coredump_and_restart";
    if (action === "preserve") {
      this.enter(ref, Paused);
      return Paused;
    }
    if (restart && uptime >= 120) {
      try {
        this.enter(ref, Running, { newDomain: true, host: vm.resident_on, build: "crash-restart" });
        return Running;
      } catch (error) {
        // The restarted domain cannot boot: the VM ends Halted.
        if (!(error instanceof XapiFault)) throw error;
      }
    }
    this.enter(ref, Halted);
    return Halted;
  }
}
