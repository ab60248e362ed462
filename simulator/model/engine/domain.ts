/**
 * The simulated domain of a VM (docs/simulator-behaviour.md#sizing): built by xenopsd from the VM record at
 * start and reboot (`vcpus = VCPUs_at_startup`, `vcpu_max = VCPUs_max`, maxmem `memory_static_max`, the
 * dynamic range, a balloon target squeezed picks), restored as it was by resume, gone when the VM halts.
 * Live changes reach it through `set_VCPUs_number_live` (vCPUs plugged) and a Running
 * `set_memory_dynamic_range` (a new range; the memory moves only for a guest with a balloon driver).
 * VM_metrics.VCPUs_number and memory_actual show it.
 */
import type { VmRecord } from "../records";
import { squeezedTarget } from "../sizing";
import type { SimDomain, VmSimState } from "../snapshot";
import { NULL_REF, SimPowerState } from "../vocabulary";
import type { Engine } from ".";

/** What a guest does with the cooperation flags it may lack; an unset flag follows its PV drivers. */
export function guestCooperation(sim: VmSimState): { vcpuHotplug: boolean; balloon: boolean } {
  const g = sim.guest;
  return { vcpuHotplug: g.vcpuHotplug ?? g.pvDrivers, balloon: g.balloon ?? g.pvDrivers };
}

export class Domains {
  constructor(private readonly e: Engine) {}

  /**
   * The VM's domain, or `null` when it has none (Halted). A live or suspended VM of a state written before
   * domains were modelled gets one from its record and metrics.
   */
  of(ref: string): SimDomain | null {
    const e = this.e;
    const vm = e.vm(ref);
    const sim = e.vmState.simOf(ref);
    if (vm.power_state === SimPowerState.Halted) return null;
    if (sim.domain) return sim.domain;
    const m = e.vmMetrics.get(vm.metrics);
    const vcpus = m && m.VCPUs_number > 0 ? m.VCPUs_number : vm.VCPUs_at_startup;
    const actual = m && m.memory_actual > 0 ? m.memory_actual : vm.memory_dynamic_max;
    sim.domain = {
      vcpusMax: Math.max(vm.VCPUs_max, vcpus, 1),
      vcpusAtBuild: Math.max(vcpus, 1),
      vcpus: Math.max(vcpus, 1),
      staticMax: vm.memory_static_max,
      dynamicMin: vm.memory_dynamic_min,
      dynamicMax: vm.memory_dynamic_max,
      target: actual,
      actual,
    };
    return sim.domain;
  }

  /**
   * xenopsd's build from the record on `host`: all VCPUs_at_startup online, the memory squeezed grants
   * (dynamic_max when the host has room, never below dynamic_min).
   */
  build(vm: VmRecord, vmRef: string, host: string): SimDomain {
    const target = squeezedTarget(vm.memory_dynamic_min, vm.memory_dynamic_max, this.room(host, vmRef));
    return {
      vcpusMax: vm.VCPUs_max,
      vcpusAtBuild: vm.VCPUs_at_startup,
      vcpus: vm.VCPUs_at_startup,
      staticMax: vm.memory_static_max,
      dynamicMin: vm.memory_dynamic_min,
      dynamicMax: vm.memory_dynamic_max,
      target,
      actual: target,
    };
  }

  /** xenopsd plugs or unplugs vCPUs up to `n` (`VM.set_vcpus`); xapi sets VM_metrics.VCPUs_number. */
  setVcpus(ref: string, n: number): void {
    const domain = this.of(ref);
    if (domain) domain.vcpus = n;
    this.e.metrics.update(ref, (m) => {
      m.VCPUs_number = n;
    });
  }

  /**
   * xenopsd writes the new range into the domain's xenstore and squeezed rebalances: a guest with a
   * balloon driver gets a new target within the range and reaches it; without one squeezed sets no target
   * and the domain keeps its memory.
   */
  setDynamicRange(ref: string, min: number, max: number): void {
    const domain = this.of(ref);
    if (!domain) return;
    domain.dynamicMin = min;
    domain.dynamicMax = max;
    this.rebalance(ref);
  }

  /**
   * squeezed's pass over a live domain: with a balloon driver it gets a target within its range and
   * reaches it; without one it is left as it is (also when a guest's driver appears later).
   */
  rebalance(ref: string): void {
    const e = this.e;
    const domain = this.of(ref);
    const vm = e.vm(ref);
    const live = vm.power_state === SimPowerState.Running || vm.power_state === SimPowerState.Paused;
    if (!domain || !live || !guestCooperation(e.vmState.simOf(ref)).balloon) return;
    const target = squeezedTarget(domain.dynamicMin, domain.dynamicMax, this.room(vm.resident_on, ref));
    if (target === domain.target && target === domain.actual) return;
    domain.target = target;
    domain.actual = target;
    e.metrics.update(ref, (m) => {
      m.memory_actual = target;
    });
    e.vmState.syncResidents();
  }

  /** What squeezed can give `vmRef` on `host`: the host's memory less what its other domains hold. */
  private room(host: string, vmRef: string): number {
    const e = this.e;
    const metrics = e.hostMetrics.get(e.hosts.get(host)?.metrics ?? NULL_REF);
    if (metrics === undefined) return Number.MAX_SAFE_INTEGER;
    let used = 0;
    for (const [ref, vm] of e.vms.entries()) {
      if (ref === vmRef || vm.resident_on !== host) continue;
      const actual = e.vmMetrics.get(vm.metrics)?.memory_actual ?? 0;
      used += actual > 0 ? actual : vm.memory_dynamic_max;
    }
    return metrics.memory_total - used;
  }
}
