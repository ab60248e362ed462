/**
 * VIFs and the reference lists XAPI keeps in step with them (VM.VIFs, network.VIFs), their attachment
 * and `allowed_operations`, and the management PIFs' addresses.
 */
import { newRef, type VifRecord, type VmRecord } from "../records";
import { SimPowerState } from "../vocabulary";
import type { Engine } from ".";
import { effectiveDomainTypeOf } from "./metrics";
import { linkRef, refsOf, syncChildren, syncRefs, unlinkRef } from "./storage";

const { Running } = SimPowerState;

export class Network {
  constructor(private readonly e: Engine) {}

  /** The VM's VIFs, `[ref, record]`, sorted by device. */
  vifsOf(vmRef: string): [string, VifRecord][] {
    return this.e.vifs
      .entries()
      .filter(([, vif]) => vif.VM === vmRef)
      .sort(([, a], [, b]) => Number(a.device) - Number(b.device));
  }

  /** Creates a VIF; keeps VM.VIFs and network.VIFs in step; attached if the VM has a domain. */
  createVif(record: VifRecord, ref: string = newRef()): string {
    const e = this.e;
    e.vifs.insert(ref, { ...structuredClone(record), currently_attached: false, allowed_operations: [] });
    e.vms.update(record.VM, (v) => {
      v.VIFs = this.vifsOf(record.VM).map(([r]) => r);
    });
    linkRef(e.networks, record.network, "VIFs", ref);
    e.vmState.syncAttachment(record.VM);
    return ref;
  }

  /** Deletes a VIF and unlinks it from its VM and network. */
  destroyVif(ref: string): void {
    const e = this.e;
    const vif = e.vifs.get(ref);
    if (!vif) return;
    e.vifs.remove(ref);
    unlinkRef(e.vms, vif.VM, "VIFs", ref);
    unlinkRef(e.networks, vif.network, "VIFs", ref);
  }

  /**
   * `VIF.allowed_operations` (`ocaml/xapi/xapi_vif_helpers.ml`, `valid_operations`): `attach` always;
   * `plug` / `unplug` only while the VM is Running, by whether the VIF is attached, and for an HVM domain
   * only with PV drivers.
   */
  allowedOperations(vif: VifRecord, vm: VmRecord, attached: boolean): string[] {
    if (Object.keys(vif.current_operations).length > 0) return [];
    const ops = ["attach"];
    if (vm.power_state !== Running || vm.is_control_domain) return ops;
    const sim = this.e.vmState.simOf(vif.VM);
    const hvm =
      sim.lastBoot === null ? effectiveDomainTypeOf(vm) === "hvm" : sim.lastBoot.domain_type === "hvm";
    if (hvm && !sim.guest.pvDrivers) return ops;
    ops.push(attached ? "unplug" : "plug");
    return ops;
  }

  /** Recomputes the derived ref lists VM.VIFs (by device) and network.VIFs from the VIF table. */
  syncLinks(): void {
    const e = this.e;
    for (const vm of e.vms.rows.keys()) syncRefs(e.vms, vm, "VIFs", refsOf(this.vifsOf(vm)));
    syncChildren(e.networks, "VIFs", e.vifs, (vif, network) => vif.network === network);
  }

  /** A management PIF's IP is its host's address (which the options set at every load). */
  syncManagementAddresses(): void {
    const e = this.e;
    for (const [ref, pif] of e.pifs.entries()) {
      const address = e.hosts.get(pif.host)?.address;
      if (pif.management && address !== undefined && pif.IP !== address)
        e.pifs.update(ref, (p) => {
          p.IP = address;
        });
    }
  }
}
