/** Control ops on the simulated guests: their settings and actions, and what their disks hold. */
import { XapiFault } from "../../api";
import type { Engine } from "../engine";
import { DEFAULT_OS_VERSION, DEFAULT_PV_DRIVERS_VERSION } from "../guest";
import { xapiDate } from "../records";

import { type ControlOp, fail, optBool, optNumber, optStringMap, summary, vmRef } from "./body";

function setGuest(e: Engine, body: Record<string, unknown>): unknown {
  const ref = vmRef(e, body);
  const pvDrivers = optBool(body, "pvDrivers");
  const ignoresCleanShutdown = optBool(body, "ignoresCleanShutdown");
  const vcpuHotplug = optBool(body, "vcpuHotplug");
  const balloon = optBool(body, "balloon");
  const osVersion = optStringMap(body, "os_version");
  const driversVersion = optStringMap(body, "PV_drivers_version");
  e.vmState.update(ref, (_vm, sim) => {
    if (pvDrivers !== undefined) sim.guest.pvDrivers = pvDrivers;
    if (ignoresCleanShutdown !== undefined) sim.guest.ignoresCleanShutdown = ignoresCleanShutdown;
    if (vcpuHotplug !== undefined) sim.guest.vcpuHotplug = vcpuHotplug;
    if (balloon !== undefined) sim.guest.balloon = balloon;
    if (osVersion !== undefined || driversVersion !== undefined) {
      sim.agent = {
        os_version: osVersion ?? { ...(sim.agent?.os_version ?? DEFAULT_OS_VERSION) },
        PV_drivers_version: driversVersion ?? {
          ...(sim.agent?.PV_drivers_version ?? DEFAULT_PV_DRIVERS_VERSION),
        },
      };
    }
  });
  // The agent reports what changed: new guest metrics appear once a Running guest has PV drivers; an
  // OS or tools change reaches existing ones (xapi_guest_agent.ml `all` updates changed fields).
  const vm = e.vm(ref);
  const gm = e.guestMetrics.get(vm.guest_metrics);
  if (
    gm !== undefined &&
    (osVersion !== undefined || driversVersion !== undefined) &&
    vm.power_state === "Running"
  ) {
    const agent = e.vmState.simOf(ref).agent;
    e.guestMetrics.update(vm.guest_metrics, (g) => {
      if (agent) {
        g.os_version = { ...agent.os_version };
        g.PV_drivers_version = { ...agent.PV_drivers_version };
      }
      g.last_updated = xapiDate(e.clock.now());
    });
  }
  e.vmState.afterPowerChange(ref);
  // A balloon driver that appears in a live guest lets squeezed move its memory into the range.
  if (balloon === true || pvDrivers === true) e.domains.rebalance(ref);
  const sim = e.vmState.simOf(ref);
  return {
    uuid: vm.uuid,
    guest: { ...sim.guest },
    ...(sim.agent ? { agent: structuredClone(sim.agent) } : {}),
  };
}

function guestAction(e: Engine, body: Record<string, unknown>): unknown {
  const ref = vmRef(e, body);
  const action = body.action;
  const vm = e.vm(ref);
  if (action === "crash") {
    e.vmState.crash(ref, optNumber(body, "secondsSinceStart"));
    return summary(e, ref);
  }
  if (action !== "shutdown" && action !== "reboot") fail('"action" must be "shutdown", "reboot" or "crash"');
  if (vm.power_state !== "Running")
    fail(`guestAction: VM ${vm.uuid} is ${vm.power_state}; only a Running guest acts`);
  // Guest-initiated power-off/reboot follow actions_after_shutdown / actions_after_reboot
  // (docs/simulator-behaviour.md#guest-actions-and-crashes).
  const field = action === "shutdown" ? vm.actions_after_shutdown : vm.actions_after_reboot;
  if (field === "restart") {
    try {
      e.vmState.enter(ref, "Running", { newDomain: true, host: vm.resident_on, build: `guest-${action}` });
    } catch (error) {
      // The new domain cannot boot (docs/simulator-behaviour.md#booting): the VM ends Halted, as a failed
      // reboot does.
      if (!(error instanceof XapiFault)) throw error;
      e.vmState.enter(ref, "Halted");
    }
  } else e.vmState.enter(ref, "Halted");
  return summary(e, ref);
}

/** The disk a body names: `vdi` (a VDI uuid), or `uuid` (a VM) plus `userdevice`. Returns the VDI ref. */
function vdiRefOf(e: Engine, body: Record<string, unknown>): string {
  if (typeof body.vdi === "string") {
    const hit = e.vdis.entries().find(([, v]) => v.uuid === body.vdi);
    if (!hit) fail(`no VDI with uuid ${body.vdi}; see GET /_sim/disks?uuid=<VM uuid>`);
    return hit[0];
  }
  const ref = vmRef(e, body);
  if (typeof body.userdevice !== "string") fail('expected "vdi" (a VDI uuid), or "uuid" and "userdevice"');
  const vbd = e.storage.vbdsOf(ref).find(([, b]) => b.userdevice === body.userdevice);
  if (!vbd) fail(`VM ${e.vm(ref).uuid} has no VBD at userdevice ${body.userdevice}`);
  const vdi = vbd[1].VDI;
  if (!e.vdis.has(vdi)) fail(`the VBD at userdevice ${body.userdevice} is an empty drive`);
  return vdi;
}

/** The VM's disks: VBD facts, VDI identity and what each disk holds. */
function disks(e: Engine, body: Record<string, unknown>): unknown {
  const ref = vmRef(e, body);
  return e.storage.vbdsOf(ref).map(([vbdRef, vbd]) => {
    const vdi = e.vdis.get(vbd.VDI);
    return {
      vbd: vbdRef,
      vbdUuid: vbd.uuid,
      userdevice: vbd.userdevice,
      device: vbd.device,
      type: vbd.type,
      bootable: vbd.bootable,
      empty: vbd.empty,
      mode: vbd.mode,
      currently_attached: vbd.currently_attached,
      vdi: vdi === undefined ? null : { ref: vbd.VDI, uuid: vdi.uuid, name_label: vdi.name_label },
      content: vdi === undefined ? null : e.storage.contentOf(vbd.VDI),
    };
  });
}

/** Out-of-band change of what a disk holds (`menuLst` text or null, `files`). */
function setGuestDisk(e: Engine, body: Record<string, unknown>): unknown {
  const ref = vdiRefOf(e, body);
  const current = e.storage.contentOf(ref);
  const { menuLst, files } = body;
  if (menuLst !== undefined && menuLst !== null && typeof menuLst !== "string")
    fail('"menuLst" must be the text of a menu.lst, or null for none');
  if (files !== undefined && (!Array.isArray(files) || !files.every((f) => typeof f === "string")))
    fail('"files" must be an array of absolute guest paths');
  const next = {
    menuLst: menuLst === undefined ? current.menuLst : (menuLst as string | null),
    files: files === undefined ? current.files : [...(files as string[])],
  };
  e.storage.vdiContent.set(ref, next);
  // Content is simulator-only: touch the VDI so --state persistence and events see the change.
  e.vdis.touch(ref);
  return { vdi: e.vdi(ref).uuid, content: next };
}

export function guestOps(
  e: Engine,
): Record<"setGuest" | "guestAction" | "disks" | "setGuestDisk", ControlOp> {
  return {
    setGuest: (body) => setGuest(e, body),
    guestAction: (body) => guestAction(e, body),
    disks: (body) => disks(e, body),
    setGuestDisk: (body) => setGuestDisk(e, body),
  };
}
