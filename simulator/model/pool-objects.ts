/**
 * The pool's infrastructure objects and how they follow the VMs: each host's `host_metrics`, its
 * management `PIF` (with `PIF_metrics`), the `PBD`s through which hosts reach SRs, suspend images
 * (VDIs of type `suspend`) and the `message`s XAPI raises for VM lifecycle calls. See
 * docs/simulator-object-model.md for the XAPI sources of each rule.
 */
import { XapiFault } from "../api";
import type { Engine } from "./engine";
import {
  defaultHostMetricsRecord,
  defaultMessageRecord,
  defaultPbdRecord,
  defaultPifMetricsRecord,
  defaultPifRecord,
  type MessageClass,
  type PifRecord,
} from "./pool-records";
import { defaultNetworkRecord, defaultVdiRecord, newRef, newUuid, type VmRecord, xapiDate } from "./records";
import { allEnabledRestrictions } from "./sizing";
import { ErrorCode, NULL_REF, SimPowerState } from "./vocabulary";

const GiB = 1024 * 1024 * 1024;

/** The physical memory of each simulated host (`host_metrics.memory_total`). */
export const HOST_MEMORY_BYTES = 64 * GiB;

/** XAPI's `Xapi_globs.message_limit`: older messages are garbage-collected beyond it. */
const MESSAGE_LIMIT = 10_000;

const same = (a: readonly string[], b: readonly string[]): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Creates what a pool's database always holds but a state file may lack (one written before these
 * classes existed), as xapi's dbsync does at start: a `host_metrics` per host, a management PIF per host
 * on the management network (with its PIF_metrics), a PBD per SR and host that sees it, each host's
 * suspend-image SR, and the suspend image of every Suspended VM. Then recomputes the derived ref lists.
 */
export function ensurePoolObjects(e: Engine): void {
  for (const [ref, host] of e.hosts.entries()) {
    if (e.hostMetrics.has(host.metrics)) continue;
    const metrics = newRef();
    e.hostMetrics.insert(
      metrics,
      defaultHostMetricsRecord({
        uuid: newUuid(),
        memory_total: HOST_MEMORY_BYTES,
        last_updated: xapiDate(e.clock.now()),
      }),
    );
    e.hosts.update(ref, (h) => {
      h.metrics = metrics;
    });
  }
  ensureManagementPifs(e);
  for (const [ref, pif] of e.pifs.entries()) {
    if (e.pifMetrics.has(pif.metrics)) continue;
    const metrics = newRef();
    e.pifMetrics.insert(metrics, nicMetrics(e, pif.device));
    e.pifs.update(ref, (p) => {
      p.metrics = metrics;
    });
  }
  ensurePbds(e);
  syncPoolLinks(e);
  for (const [ref, vm] of e.vms.entries()) {
    if (vm.power_state !== SimPowerState.Suspended || e.vdis.has(vm.suspend_VDI)) continue;
    const image = createSuspendImage(e, ref, {
      fallback: true,
      ref: vm.suspend_VDI === NULL_REF ? undefined : vm.suspend_VDI,
    });
    e.vms.update(ref, (v) => {
      v.suspend_VDI = image;
    });
  }
  ensureRestrictions(e);
  syncHostMemory(e);
}

/**
 * xapi recomputes `pool.restrictions` from the hosts' licences at every start (`Pool_features_helpers`);
 * xapi-sim's hosts are licensed for everything: the flags the pool lacks are filled in as enabled (one
 * set by the control op `licence` is kept).
 */
function ensureRestrictions(e: Engine): void {
  const enabled = allEnabledRestrictions(e.profile);
  for (const [ref, pool] of e.pools.entries()) {
    if (Object.keys(enabled).every((k) => Object.hasOwn(pool.restrictions, k))) continue;
    e.pools.update(ref, (p) => {
      p.restrictions = { ...enabled, ...p.restrictions };
    });
  }
}

/** What the pool's NICs report now. */
export function nicMetrics(e: Engine, device: string, uuid: string = newUuid()) {
  return nicMetricsRecord(uuid, device, e.clock.now());
}

/** What the fixture's NICs report: an Intel 82599 link at 10 Gbit/s, full duplex, carrier up. */
export function nicMetricsRecord(uuid: string, device: string, nowMs: number) {
  return defaultPifMetricsRecord({
    uuid,
    carrier: true,
    vendor_id: "8086",
    vendor_name: "Intel Corporation",
    device_id: "10fb",
    device_name: "82599ES 10-Gigabit SFI/SFP+ Network Connection",
    speed: 10000,
    duplex: true,
    pci_bus_path: `0000:0${device === "eth0" ? 1 : 2}:00.0`,
    last_updated: xapiDate(nowMs),
  });
}

/** Gives every host without a management PIF one on the first network (creating it if the pool has none). */
function ensureManagementPifs(e: Engine): void {
  const hostsWithout = e.hosts
    .entries()
    .filter(([ref]) => !e.pifs.values().some((p) => p.host === ref && p.management));
  if (hostsWithout.length === 0) return;
  let network = e.networks.entries()[0]?.[0];
  if (network === undefined) {
    network = newRef();
    e.networks.insert(
      network,
      defaultNetworkRecord({
        uuid: newUuid(),
        name_label: "Pool-wide network associated with eth0",
        bridge: "xenbr0",
        other_config: { automatic: "true" },
      }),
    );
  }
  for (const [ref, host] of hostsWithout) {
    e.pifs.insert(
      newRef(),
      managementPifRecord(newUuid(), { ref, uuid: host.uuid, address: host.address }, network),
    );
  }
}

/** A host's management PIF: eth0 on `network`, statically configured with the host's address. */
export function managementPifRecord(
  uuid: string,
  host: { ref: string; uuid: string; address: string },
  network: string,
  metrics?: string,
): PifRecord {
  return defaultPifRecord({
    uuid,
    device: "eth0",
    network,
    host: host.ref,
    MAC: hostMac(host.uuid),
    ...(metrics === undefined ? {} : { metrics }),
    management: true,
    ip_configuration_mode: "Static",
    IP: host.address,
    netmask: "255.255.255.0",
    properties: { gro: "on" },
    igmp_snooping_status: "disabled",
  });
}

/** A stable MAC for a host's NIC, from its uuid. */
export function hostMac(hostUuid: string): string {
  const hex = hostUuid.replaceAll("-", "").slice(-8).padStart(8, "0");
  return `00:1b:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}`;
}

/**
 * A PBD for every SR that has none: a shared SR is seen by every host, a local one by the host whose
 * `suspend_image_sr`/`crash_dump_sr`/`local_cache_sr` names it, else by the master. Plugged, as at boot.
 */
function ensurePbds(e: Engine): void {
  for (const [srRef, sr] of e.srs.entries()) {
    if (e.pbds.values().some((p) => p.SR === srRef)) continue;
    const owner =
      e.hosts
        .entries()
        .find(([, h]) => [h.suspend_image_sr, h.crash_dump_sr, h.local_cache_sr].includes(srRef))?.[0] ??
      e.masterRef;
    const hosts = sr.shared ? [...e.hosts.rows.keys()] : [owner];
    for (const host of hosts) {
      e.pbds.insert(
        newRef(),
        defaultPbdRecord({
          uuid: newUuid(),
          host,
          SR: srRef,
          device_config:
            sr.type === "iso" ? { location: "/var/opt/xen/iso_import", legacy_mode: "true" } : {},
          currently_attached: true,
        }),
      );
    }
  }
}

/** Recomputes host.PIFs, host.PBDs, SR.PBDs and network.PIFs from the PIF and PBD tables. */
export function syncPoolLinks(e: Engine): void {
  for (const [ref, host] of e.hosts.entries()) {
    const pifs = e.pifs
      .entries()
      .filter(([, p]) => p.host === ref)
      .map(([r]) => r);
    const pbds = e.pbds
      .entries()
      .filter(([, p]) => p.host === ref)
      .map(([r]) => r);
    if (!same(host.PIFs, pifs) || !same(host.PBDs, pbds))
      e.hosts.update(ref, (h) => {
        h.PIFs = pifs;
        h.PBDs = pbds;
      });
  }
  for (const [ref, sr] of e.srs.entries()) {
    const pbds = e.pbds
      .entries()
      .filter(([, p]) => p.SR === ref)
      .map(([r]) => r);
    if (!same(sr.PBDs, pbds))
      e.srs.update(ref, (s) => {
        s.PBDs = pbds;
      });
  }
  for (const [ref, network] of e.networks.entries()) {
    const pifs = e.pifs
      .entries()
      .filter(([, p]) => p.network === ref)
      .map(([r]) => r);
    if (!same(network.PIFs, pifs))
      e.networks.update(ref, (n) => {
        n.PIFs = pifs;
      });
  }
}

/**
 * `host_metrics.memory_free`: the host's memory less what its resident domains hold (their
 * `VM_metrics.memory_actual`), as xapi's memory monitor writes it (monitor_mem_host.ml).
 */
export function syncHostMemory(e: Engine): void {
  for (const host of e.hosts.values()) {
    const metrics = e.hostMetrics.get(host.metrics);
    if (metrics === undefined) continue;
    const used = host.resident_VMs.reduce((sum, vm) => {
      const record = e.vms.get(vm);
      const actual = e.vmMetrics.get(record?.metrics ?? NULL_REF)?.memory_actual ?? 0;
      return sum + (actual > 0 ? actual : (record?.memory_dynamic_max ?? 0));
    }, 0);
    const free = Math.max(0, metrics.memory_total - used);
    if (free !== metrics.memory_free || !metrics.live)
      e.hostMetrics.update(host.metrics, (m) => {
        m.memory_free = free;
        m.live = true;
        m.last_updated = xapiDate(e.clock.now());
      });
  }
}

/** True when the host has a PBD for the SR (helpers.ml `host_has_pbd_for_sr`). */
function hostSeesSr(e: Engine, host: string, sr: string): boolean {
  return e.srs.has(sr) && e.pbds.values().some((p) => p.host === host && p.SR === sr);
}

/**
 * The SR a VM's suspend image goes to (helpers.ml `choose_suspend_sr`): the VM's `suspend_SR`, else the
 * pool's `suspend_image_SR`, else the `suspend_image_sr` of the host the VM runs on — the first one that
 * host has a PBD for. `undefined` when none qualifies (XAPI: VM_NO_SUSPEND_SR).
 */
export function chooseSuspendSr(e: Engine, vm: VmRecord): string | undefined {
  const host = vm.resident_on !== NULL_REF ? vm.resident_on : e.masterRef;
  const pool = e.pools.values()[0];
  const hostSr = e.hosts.get(host)?.suspend_image_sr ?? NULL_REF;
  return [vm.suspend_SR, pool?.suspend_image_SR ?? NULL_REF, hostSr].find((sr) => hostSeesSr(e, host, sr));
}

/**
 * Creates a VM's suspend image as xapi_xenops.ml `suspend` does: a VDI "Suspend image" of type `suspend`
 * on {@link chooseSuspendSr}'s SR, sized for the VM's memory (static max × 1.2 × 1.05 + 100 MiB), with the
 * `vmhint` and `initial_allocation` sm_config keys. Returns its ref.
 * @throws XapiFault VM_NO_SUSPEND_SR [vm] when no SR qualifies (unless `fallback`: then the pool's default
 *   SR, or no SR at all, for a state file loaded without storage).
 */
export function createSuspendImage(
  e: Engine,
  vmRef: string,
  o: { fallback?: boolean; ref?: string | undefined } = {},
): string {
  const vm = e.vm(vmRef);
  let sr = chooseSuspendSr(e, vm);
  if (sr === undefined) {
    if (!o.fallback) throw new XapiFault(ErrorCode.vmNoSuspendSr, [vmRef]);
    const fallback = e.pools.values()[0]?.default_SR ?? NULL_REF;
    sr = e.srs.has(fallback) ? fallback : (e.srs.entries()[0]?.[0] ?? NULL_REF);
  }
  const size = Math.floor(vm.memory_static_max * 1.2 * 1.05) + 104_857_600;
  const uuid = newUuid();
  return e.storage.createVdi(
    {
      ...defaultVdiRecord({
        uuid,
        name_label: "Suspend image",
        name_description: "Suspend image",
        SR: sr,
        virtual_size: size,
        physical_utilisation: size,
        type: "suspend",
        sm_config: { vmhint: vm.uuid, initial_allocation: String(size) },
      }),
    },
    { menuLst: null, files: [] },
    o.ref ?? newRef(),
  );
}

/**
 * Adds a message about an object, as `Xapi_message.create` does for the lifecycle calls of
 * message_forwarding.ml (`create_vm_message`); the oldest go beyond XAPI's limit of 10,000.
 */
export function addMessage(
  e: Engine,
  o: { name: string; priority: number; cls: MessageClass; objUuid: string; body: string },
): string {
  const ref = newRef();
  e.messages.insert(
    ref,
    defaultMessageRecord({
      uuid: newUuid(),
      name: o.name,
      priority: o.priority,
      cls: o.cls,
      obj_uuid: o.objUuid,
      timestamp: xapiDate(e.clock.now()),
      body: o.body,
    }),
  );
  while (e.messages.size > MESSAGE_LIMIT) {
    const oldest = e.messages.rows.keys().next().value;
    if (oldest === undefined) break;
    e.messages.remove(oldest);
  }
  return ref;
}

/** The VM lifecycle messages (ocaml/xapi-consts/api_messages.ml), all of priority 5. */
export const VmMessage = {
  started: "VM_STARTED",
  shutdown: "VM_SHUTDOWN",
  rebooted: "VM_REBOOTED",
  suspended: "VM_SUSPENDED",
  resumed: "VM_RESUMED",
  paused: "VM_PAUSED",
  unpaused: "VM_UNPAUSED",
} as const;
export type VmMessage = (typeof VmMessage)[keyof typeof VmMessage];

/**
 * The message a lifecycle call leaves on its VM (message_forwarding.ml): `what` completes the body
 * "VM '<name>' (uuid: <uuid>) <what>"; `onHost` appends " on host: <name> (uuid: <uuid>)" for the host the
 * VM now runs on (start, resume).
 */
export function vmMessage(e: Engine, vmRef: string, name: VmMessage, what: string, onHost = false): void {
  const vm = e.vms.get(vmRef);
  if (vm === undefined) return;
  let body = `VM '${vm.name_label}' (uuid: ${vm.uuid}) ${what}`;
  const host = e.hosts.get(vm.resident_on);
  if (onHost && host !== undefined) body += ` on host: ${host.name_label} (uuid: ${host.uuid})`;
  addMessage(e, { name, priority: 5, cls: "VM", objUuid: vm.uuid, body });
}
