/** Control ops on VMs: out-of-band power states and fields, crashes, the VM list and boot records. */
import { XapiFault } from "../../api";
import { bootIsStale } from "../boot";
import type { Engine } from "../engine";
import { servesField } from "../profiles";
import { defaultVmRecord } from "../records";
import { DOMAIN_TYPES, NULL_REF, SimPowerState } from "../vocabulary";

import { type ControlOp, fail, optNumber, summary, vmRef } from "./body";

const MAP_FIELDS = new Set([
  "HVM_boot_params",
  "other_config",
  "platform",
  "xenstore_data",
  "VCPUs_params",
  "blocked_operations",
]);
const READONLY_FIELDS = new Set(["uuid", "allowed_operations", "current_operations", "power_state"]);

function setPowerState(e: Engine, body: Record<string, unknown>): unknown {
  const ref = vmRef(e, body);
  const target = body.powerState;
  const states = Object.values(SimPowerState) as string[];
  if (typeof target !== "string" || !states.includes(target))
    fail(`"powerState" must be one of ${states.join(", ")}`);
  const state = target as SimPowerState;
  if (state === "Crashed" && !e.config.crashedCompat)
    fail('"powerState" Crashed exists only with crashedCompat (POST /_sim/config {"crashedCompat": true})');
  const vm = e.vm(ref);
  const live = (s: SimPowerState): boolean => s === "Running" || s === "Paused" || s === "Crashed";
  if (state === "Halted") e.vmState.enter(ref, state, { clearSuspendVdi: true });
  else if (state === "Suspended") e.vmState.enter(ref, state, { newSuspendVdi: vm.suspend_VDI === NULL_REF });
  else if (live(vm.power_state)) {
    e.vmState.update(ref, (v) => {
      v.power_state = state;
    });
    e.vmState.afterPowerChange(ref);
  } else if (vm.power_state === "Suspended") {
    e.vmState.enter(ref, state, { newDomain: true, clearSuspendVdi: true });
  } else {
    try {
      e.vmState.enter(ref, state, { newDomain: true, build: "out-of-band" });
    } catch (error) {
      if (!(error instanceof XapiFault)) throw error;
      fail(`VM ${vm.uuid} cannot boot: ${error.code} [${error.params.join(", ")}]`);
    }
  }
  return summary(e, ref);
}

function setFields(e: Engine, body: Record<string, unknown>): unknown {
  const ref = vmRef(e, body);
  const fields = body.fields;
  if (fields === null || typeof fields !== "object" || Array.isArray(fields))
    fail('expected "fields": {name: value}');
  const template = defaultVmRecord({ uuid: "", name_label: "" }) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(fields)) {
    if (!Object.hasOwn(template, k)) fail(`unknown VM field "${k}"`);
    if (READONLY_FIELDS.has(k))
      fail(`field "${k}" cannot be set here${k === "power_state" ? "; use setPowerState" : ""}`);
    const expected = template[k];
    const ok = MAP_FIELDS.has(k)
      ? v !== null &&
        typeof v === "object" &&
        !Array.isArray(v) &&
        Object.values(v).every((x) => typeof x === "string")
      : Array.isArray(expected)
        ? Array.isArray(v) && v.every((x) => typeof x === typeof (expected[0] ?? x))
        : typeof v === typeof expected;
    if (!ok) fail(`field "${k}" has the wrong type`);
    if (!servesField(e.profile, "VM", k))
      fail(`profile "${e.config.profile}" has no VM field "${k}" (it appeared in a later XAPI)`);
    if (k === "domain_type" && !(DOMAIN_TYPES as readonly unknown[]).includes(v)) {
      fail(`"domain_type" must be one of ${DOMAIN_TYPES.join(", ")}`);
    }
  }
  // A raw DB write: no domain_type ↔ HVM_boot_policy coupling (that is what the setters do).
  e.vmState.update(ref, (vm) => {
    Object.assign(vm as unknown as Record<string, unknown>, structuredClone(fields));
  });
  e.vmState.syncResidents();
  return summary(e, ref);
}

export function vmOps(
  e: Engine,
): Record<"crashGuest" | "setPowerState" | "setFields" | "vms" | "bootRecord", ControlOp> {
  return {
    crashGuest: (body) => {
      const ref = vmRef(e, body);
      e.vmState.crash(ref, optNumber(body, "secondsSinceStart"));
      return summary(e, ref);
    },
    setPowerState: (body) => setPowerState(e, body),
    setFields: (body) => setFields(e, body),
    vms: () =>
      e.vms.entries().map(([ref, vm]) => ({
        uuid: vm.uuid,
        ref,
        name_label: vm.name_label,
        power_state: vm.power_state,
        is_a_template: vm.is_a_template,
        is_control_domain: vm.is_control_domain,
        ...(e.profile.domainType ? { domain_type: vm.domain_type } : {}),
        guest: { ...e.vmState.simOf(ref).guest },
      })),
    bootRecord: (body) => {
      const ref = vmRef(e, body);
      const vm = e.vm(ref);
      const sim = e.vmState.simOf(ref);
      const live = vm.power_state !== "Halted";
      return {
        uuid: vm.uuid,
        name_label: vm.name_label,
        power_state: vm.power_state,
        domid: vm.domid,
        bootCount: sim.bootCount,
        lastBoot: sim.lastBoot,
        // True when the live (or suspended) domain runs an older config than the record holds
        // (docs/simulator-behaviour.md#boot-records).
        pendingBootChange:
          live && sim.lastBoot ? bootIsStale(vm, sim.lastBoot, e.storage.bootableUserdevices(ref)) : null,
      };
    },
  };
}
