/**
 * VM_metrics and VM_guest_metrics: every VM has a VM_metrics object; a running guest with the agent
 * gets VM_guest_metrics, which a new domain build drops.
 */
import { guestFeatures, guestReport } from "../guest";
import {
  defaultVmMetricsRecord,
  newRef,
  newUuid,
  type VmMetricsRecord,
  type VmRecord,
  xapiDate,
} from "../records";
import type { VmSimState } from "../snapshot";
import { NULL_REF, SimPowerState } from "../vocabulary";
import type { Engine } from ".";
import { guestCooperation } from "./domain";

const { Halted, Running } = SimPowerState;

/**
 * `derive_domain_type` applied to a VM whose domain_type is unspecified (`ocaml/xapi/xapi_vm_helpers.ml`).
 */
export function effectiveDomainTypeOf(vm: Pick<VmRecord, "domain_type" | "HVM_boot_policy">): string {
  return vm.domain_type === "unspecified" ? (vm.HVM_boot_policy === "" ? "pv" : "hvm") : vm.domain_type;
}

export class Metrics {
  constructor(private readonly e: Engine) {}

  /**
   * Gives a VM whose `metrics` is NULL or names no object a fresh VM_metrics, as xapi does for every VM at
   * start (`ocaml/xapi/dbsync_master.ml`, `ensure_vm_metrics_records_exist`).
   */
  ensure(vmRef: string): string {
    const e = this.e;
    const vm = e.vm(vmRef);
    if (e.vmMetrics.has(vm.metrics)) return vm.metrics;
    const ref = newRef();
    e.vmMetrics.insert(ref, defaultVmMetricsRecord({ uuid: newUuid(), VCPUs_utilisation: {} }));
    e.vms.update(vmRef, (v) => {
      v.metrics = ref;
    });
    // The domain a live or suspended VM runs was built from its boot record (`ocaml/xapi/xapi_db_upgrade.ml`,
    // `upgrade_domain_type`, also sets current_domain_type of VMs that are not Halted).
    if (vm.power_state !== Halted) {
      const sim = e.vmState.simOf(vmRef);
      e.vmMetrics.update(ref, (m) => {
        m.current_domain_type = sim.lastBoot?.domain_type ?? effectiveDomainTypeOf(vm);
      });
    }
    return ref;
  }

  /** Changes the VM's VM_metrics (created first if missing). */
  update(vmRef: string, mutate: (m: VmMetricsRecord) => void): void {
    const ref = this.ensure(vmRef);
    this.e.vmMetrics.update(ref, mutate);
  }

  /**
   * XAPI's `create_guest_metrics_if_needed` (`ocaml/xapi/xapi_xenops.ml`): a Running VM whose guest runs the
   * agent (PV drivers) and has no guest metrics gets them, created from the agent's report
   * (`create_and_set_guest_metrics`). A guest that lost its drivers keeps its object, with
   * PV_drivers_detected and PV_drivers_up_to_date false.
   */
  syncGuest(vmRef: string): void {
    const e = this.e;
    const vm = e.vms.get(vmRef);
    if (!vm || vm.is_control_domain) return;
    const sim = e.vmState.simOf(vmRef);
    const gm = e.guestMetrics.get(vm.guest_metrics);
    if (gm === undefined) {
      if (vm.power_state !== Running || !sim.guest.pvDrivers) return;
      const ref = newRef();
      const vifs = e.network.vifsOf(vmRef).map(([, v]) => v);
      const report = guestReport(sim.agent, vifs, e.clock.now(), guestCooperation(sim));
      e.guestMetrics.insert(ref, { uuid: newUuid(), ...report });
      e.vms.update(vmRef, (v) => {
        v.guest_metrics = ref;
      });
      return;
    }
    if (vm.power_state !== Running) return;
    if (gm.PV_drivers_detected !== sim.guest.pvDrivers) {
      e.guestMetrics.update(vm.guest_metrics, (g) => {
        g.PV_drivers_detected = sim.guest.pvDrivers;
        g.PV_drivers_up_to_date = sim.guest.pvDrivers;
      });
    }
    this.syncFeatures(vm.guest_metrics, gm.other, sim);
  }

  /**
   * The agent's `control/feature-balloon` and `control/feature-vcpu-hotplug` follow the guest: xapi copies
   * every `control/*` key into `other` (xapi_guest_agent.ml) when it changes.
   */
  private syncFeatures(gmRef: string, other: Readonly<Record<string, string>>, sim: VmSimState): void {
    const wanted = guestFeatures(guestCooperation(sim));
    const keys = ["feature-balloon", "feature-vcpu-hotplug"] as const;
    if (keys.every((k) => other[k] === wanted[k])) return;
    this.e.guestMetrics.update(gmRef, (g) => {
      const next = { ...g.other };
      for (const k of keys) {
        const v = wanted[k];
        if (v === undefined) delete next[k];
        else next[k] = v;
      }
      g.other = next;
      g.last_updated = xapiDate(this.e.clock.now());
    });
  }

  /** `Xapi_vm_helpers.delete_guest_metrics`: VM.guest_metrics ← NULL and the object destroyed. */
  deleteGuest(vmRef: string): void {
    const e = this.e;
    const vm = e.vms.get(vmRef);
    if (!vm || vm.guest_metrics === NULL_REF) return;
    const gm = vm.guest_metrics;
    e.vms.update(vmRef, (v) => {
      v.guest_metrics = NULL_REF;
    });
    e.guestMetrics.remove(gm);
  }
}
