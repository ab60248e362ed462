/**
 * The control API for tests and demos (sim-contract "Control operations"; documented in
 * simulator/README.md). Each operation takes a JSON body and returns a JSON-serialisable value;
 * a bad body throws an Error whose message says what was expected.
 */
import { DropConnection, XapiFault } from "../api";
import { bootIsStale } from "./boot";
import type { CallLogEntry, Dispatcher, InjectedFault } from "./dispatch";
import type { Engine, SimConfig } from "./engine";
import { DEFAULT_OS_VERSION, DEFAULT_PV_DRIVERS_VERSION } from "./guest";
import { PROFILES, servesField } from "./profiles";
import { defaultVmRecord, type VmRecord, xapiDate } from "./records";
import type { SimSnapshot } from "./snapshot";
import { DOMAIN_TYPES, ErrorCode, NULL_REF, SimPowerState } from "./vocabulary";

export type ControlOp = (body: Record<string, unknown>) => unknown;

function fail(message: string): never {
  throw new Error(message);
}

function optNumber(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) fail(`"${key}" must be a non-negative number`);
  return v;
}

function optStringMap(body: Record<string, unknown>, key: string): Record<string, string> | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (
    v === null ||
    typeof v !== "object" ||
    Array.isArray(v) ||
    !Object.values(v).every((x) => typeof x === "string")
  )
    fail(`"${key}" must be an object of strings`);
  return { ...(v as Record<string, string>) };
}

function optBool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") fail(`"${key}" must be true or false`);
  return v;
}

/** Finds the VM a body names by `uuid` (or `ref`); returns its ref. */
function vmRef(e: Engine, body: Record<string, unknown>): string {
  const { uuid, ref } = body;
  if (typeof ref === "string" && e.vms.has(ref)) return ref;
  if (typeof uuid !== "string") fail('expected "uuid" (a VM uuid) in the body');
  const hit = e.vms.entries().find(([, vm]) => vm.uuid === uuid);
  if (!hit) fail(`no VM with uuid ${uuid}; see GET /_sim/vms`);
  return hit[0];
}

/** The public config view (users are not echoed). */
function configView(c: SimConfig): Record<string, unknown> {
  const p = PROFILES[c.profile];
  return {
    profile: c.profile,
    profileDescription: p.description,
    apiVersion: `${p.apiVersionMajor}.${p.apiVersionMinor}`,
    crashedCompat: c.crashedCompat,
    defaultOperationMs: c.defaultOperationMs,
    operationMs: { ...c.operationMs },
    cleanShutdownTimeoutMs: c.cleanShutdownTimeoutMs,
    operationWaitMs: c.operationWaitMs,
    authFailureDelayMs: c.authFailureDelayMs,
    latencyMs: c.latencyMs,
    masterAddress: c.masterAddress,
    memberAddress: c.memberAddress,
  };
}

const MAP_FIELDS = new Set([
  "HVM_boot_params",
  "other_config",
  "platform",
  "xenstore_data",
  "VCPUs_params",
  "blocked_operations",
]);
const READONLY_FIELDS = new Set(["uuid", "allowed_operations", "current_operations", "power_state"]);

/** Builds the control operations over the engine and dispatcher. */
export function buildControl(
  e: Engine,
  d: Dispatcher,
  o: { initial: SimSnapshot; initialConfig: SimConfig },
): Record<string, ControlOp> {
  const setCrashedCompat = (on: boolean): void => {
    if (e.config.crashedCompat === on) return;
    e.config.crashedCompat = on;
    for (const [ref, vm] of e.vms.entries()) {
      // Leaving compat mode: a Crashed VM is treated as destroyed by its crash (documented deviation).
      if (!on && vm.power_state === SimPowerState.Crashed) e.vmState.enter(ref, SimPowerState.Halted);
      else e.vmState.update(ref, () => undefined);
    }
  };

  const config = (body: Record<string, unknown>): Record<string, unknown> => {
    if (body.profile !== undefined && body.profile !== e.config.profile)
      fail(
        `"profile" is fixed when xapi-sim starts (--profile, or the state file's); this one plays "${e.config.profile}"`,
      );
    const crashedCompat = optBool(body, "crashedCompat");
    const numbers = [
      "defaultOperationMs",
      "cleanShutdownTimeoutMs",
      "operationWaitMs",
      "authFailureDelayMs",
      "latencyMs",
    ] as const;
    const values = numbers.map((k) => [k, optNumber(body, k)] as const);
    const opMs = body.operationMs;
    if (opMs !== undefined) {
      if (opMs === null || typeof opMs !== "object" || Array.isArray(opMs))
        fail('"operationMs" must be an object {op: ms}');
      for (const [k, v] of Object.entries(opMs)) {
        if (typeof v !== "number" || v < 0) fail(`"operationMs.${k}" must be a non-negative number`);
      }
    }
    for (const [k, v] of values) if (v !== undefined) e.config[k] = v;
    if (opMs !== undefined)
      e.config.operationMs = { ...e.config.operationMs, ...(opMs as Record<string, number>) };
    if (crashedCompat !== undefined) setCrashedCompat(crashedCompat);
    return configView(e.config);
  };

  const faults = (body: Record<string, unknown>): unknown => {
    if (body.clear === true) {
      d.faults = [];
      e.config.latencyMs = 0;
      return { faults: [], latencyMs: 0 };
    }
    const latencyMs = optNumber(body, "latencyMs");
    if (latencyMs !== undefined) e.config.latencyMs = latencyMs;
    if (body.method !== undefined) {
      if (typeof body.method !== "string" || body.method === "") fail('"method" must be a wire method name');
      const count = body.count === undefined ? 1 : body.count;
      if (typeof count !== "number" || !Number.isInteger(count) || count < 1)
        fail('"count" must be a positive integer');
      let fault: InjectedFault;
      if (body.drop === true) {
        fault = { method: body.method, drop: true, remaining: count };
      } else {
        if (typeof body.code !== "string" || body.code === "")
          fail('expected "code" (a XAPI error code) or "drop": true');
        const params = body.params ?? [];
        if (!Array.isArray(params) || !params.every((p) => typeof p === "string"))
          fail('"params" must be an array of strings');
        fault = { method: body.method, code: body.code, params: params as string[], remaining: count };
      }
      d.faults.push(fault);
    } else if (latencyMs === undefined && Object.keys(body).length > 0) {
      fail(
        "expected {method, code, params?, count?}, {method, drop: true, count?}, {latencyMs} or {clear: true}",
      );
    }
    return { faults: d.faults.map((f) => ({ ...f })), latencyMs: e.config.latencyMs };
  };

  const setPowerState = (body: Record<string, unknown>): unknown => {
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
    else if (state === "Suspended")
      e.vmState.enter(ref, state, { newSuspendVdi: vm.suspend_VDI === NULL_REF });
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
  };

  const setFields = (body: Record<string, unknown>): unknown => {
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
  };

  const setGuest = (body: Record<string, unknown>): unknown => {
    const ref = vmRef(e, body);
    const pvDrivers = optBool(body, "pvDrivers");
    const ignoresCleanShutdown = optBool(body, "ignoresCleanShutdown");
    const osVersion = optStringMap(body, "os_version");
    const driversVersion = optStringMap(body, "PV_drivers_version");
    e.vmState.update(ref, (_vm, sim) => {
      if (pvDrivers !== undefined) sim.guest.pvDrivers = pvDrivers;
      if (ignoresCleanShutdown !== undefined) sim.guest.ignoresCleanShutdown = ignoresCleanShutdown;
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
    const sim = e.vmState.simOf(ref);
    return {
      uuid: vm.uuid,
      guest: { ...sim.guest },
      ...(sim.agent ? { agent: structuredClone(sim.agent) } : {}),
    };
  };

  const guestAction = (body: Record<string, unknown>): unknown => {
    const ref = vmRef(e, body);
    const action = body.action;
    const vm = e.vm(ref);
    if (action === "crash") {
      e.vmState.crash(ref, optNumber(body, "secondsSinceStart"));
      return summary(e, ref);
    }
    if (action !== "shutdown" && action !== "reboot")
      fail('"action" must be "shutdown", "reboot" or "crash"');
    if (vm.power_state !== "Running")
      fail(`guestAction: VM ${vm.uuid} is ${vm.power_state}; only a Running guest acts`);
    // Guest-initiated power-off/reboot follow actions_after_shutdown / actions_after_reboot (§2.2).
    const field = action === "shutdown" ? vm.actions_after_shutdown : vm.actions_after_reboot;
    if (field === "restart") {
      try {
        e.vmState.enter(ref, "Running", { newDomain: true, host: vm.resident_on, build: `guest-${action}` });
      } catch (error) {
        // The new domain cannot boot (§7.4): the VM ends Halted, as a failed reboot does.
        if (!(error instanceof XapiFault)) throw error;
        e.vmState.enter(ref, "Halted");
      }
    } else e.vmState.enter(ref, "Halted");
    return summary(e, ref);
  };

  /** The disk a body names: `vdi` (a VDI uuid), or `uuid` (a VM) plus `userdevice`. Returns the VDI ref. */
  const vdiRefOf = (body: Record<string, unknown>): string => {
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
  };

  /** The VM's disks: VBD facts, VDI identity and what each disk holds. */
  const disks = (body: Record<string, unknown>): unknown => {
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
  };

  /** Out-of-band change of what a disk holds (`menuLst` text or null, `files`). */
  const setGuestDisk = (body: Record<string, unknown>): unknown => {
    const ref = vdiRefOf(body);
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
  };

  /**
   * Control op `hold`: once the `after`-th call matching `match` (a regular expression tested on the wire
   * name without `Async.`; every call when absent) has been answered, every later call waits before it
   * runs, and every call still running waits before its answer, until `release` closes their connections
   * (a held call never runs). With `holdAnswer`, the `after`-th call runs but its answer is held too (the
   * client dies not knowing). A test sees `tripped` and `held`, then kills its client at that exact point.
   */
  interface Hold {
    after: number;
    match: RegExp | undefined;
    holdAnswer: boolean;
    answered: number;
    trippedBy: Pick<CallLogEntry, "seq" | "method" | "vm"> | undefined;
    waiting: { method: string; drop: () => void }[];
  }
  let held: Hold | undefined;

  const holdStatus = (): unknown =>
    held === undefined
      ? { armed: false }
      : {
          armed: true,
          after: held.after,
          match: held.match?.source ?? null,
          holdAnswer: held.holdAnswer,
          answered: held.answered,
          tripped: held.trippedBy !== undefined,
          ...(held.trippedBy === undefined ? {} : { trippedBy: held.trippedBy }),
          held: held.waiting.map((w) => w.method),
        };

  const releaseHold = (): number => {
    const waiting = held?.waiting ?? [];
    held = undefined;
    d.gate = undefined;
    for (const w of waiting) w.drop();
    return waiting.length;
  };

  const wait = (state: Hold, method: string): Promise<void> =>
    new Promise((_resolve, reject) => {
      const drop = () =>
        reject(new DropConnection(`xapi-sim: ${method} was held, then dropped (control op hold)`));
      if (held === state) state.waiting.push({ method, drop });
      else drop();
    });

  const holdOp = (body: Record<string, unknown>): unknown => {
    if (body.release === true) {
      const released = releaseHold();
      return { armed: false, released };
    }
    if (body.after !== undefined) {
      const after = body.after;
      if (typeof after !== "number" || !Number.isInteger(after) || after < 1)
        fail('"after" must be a positive integer');
      let match: RegExp | undefined;
      if (body.match !== undefined) {
        if (typeof body.match !== "string") fail('"match" must be a regular expression (a string)');
        try {
          match = new RegExp(body.match);
        } catch (error) {
          fail(`"match" is not a regular expression: ${(error as Error).message}`);
        }
      }
      const holdAnswer = optBool(body, "holdAnswer") ?? false;
      releaseHold();
      const state: Hold = { after, match, holdAnswer, answered: 0, trippedBy: undefined, waiting: [] };
      held = state;
      d.gate = {
        before: (method) => (state.trippedBy === undefined ? Promise.resolve() : wait(state, method)),
        answered: (entry) => {
          if (state.trippedBy !== undefined) return wait(state, entry.method);
          const name = entry.method.replace(/^(Async|InternalAsync)\./, "");
          if (state.match === undefined || state.match.test(name)) state.answered += 1;
          if (state.answered === state.after) {
            state.trippedBy = {
              seq: entry.seq,
              method: entry.method,
              ...(entry.vm === undefined ? {} : { vm: entry.vm }),
            };
            if (state.holdAnswer) return wait(state, entry.method);
          }
          return Promise.resolve();
        },
      };
    } else if (Object.keys(body).length > 0) {
      fail("expected {after, match?, holdAnswer?} to arm, {release: true}, or {} for the status");
    }
    return holdStatus();
  };

  return {
    reset: () => {
      for (const [task, rt] of e.taskRunner.runtime)
        rt.controller.abort(new XapiFault(ErrorCode.taskCancelled, [task]));
      for (const task of [...e.tasks.rows.keys()]) e.taskRunner.destroy(task);
      Object.assign(e.config, structuredClone(o.initialConfig));
      e.persistence.load(o.initial);
      releaseHold();
      d.clear();
      return { vms: e.vms.size };
    },
    counters: () => ({
      calls: { ...d.calls },
      logins: d.logins,
      logouts: d.logouts,
      liveSessions: e.sessions.size,
      liveTasks: e.tasks.size,
    }),
    callLog: (body) => {
      const since = body.since === undefined ? 0 : body.since;
      if (typeof since !== "number") fail('"since" must be a sequence number');
      return d.log.filter((entry) => entry.seq > since).sort((a, b) => a.seq - b.seq);
    },
    faults,
    clearFaults: () => faults({ clear: true }),
    hold: holdOp,
    invalidateSessions: () => {
      const refs = [...e.sessions.rows.keys()];
      for (const ref of refs) e.sessions.remove(ref);
      return { invalidated: refs.length };
    },
    crashGuest: (body) => {
      const ref = vmRef(e, body);
      e.vmState.crash(ref, optNumber(body, "secondsSinceStart"));
      return summary(e, ref);
    },
    guestAction,
    setPowerState,
    setFields,
    setGuest,
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
        // True when the live (or suspended) domain runs an older config than the record holds (§7.6).
        pendingBootChange:
          live && sim.lastBoot ? bootIsStale(vm, sim.lastBoot, e.storage.bootableUserdevices(ref)) : null,
      };
    },
    disks,
    setGuestDisk,
    config,
    tasks: () =>
      e.tasks.entries().map(([ref, t]) => ({
        ref,
        uuid: t.uuid,
        name_label: t.name_label,
        status: t.status,
        error_info: t.error_info,
        result: t.result,
      })),
    state: () => e.persistence.dump(),
  };
}

function summary(e: Engine, ref: string): Pick<VmRecord, "uuid" | "power_state" | "domid" | "resident_on"> {
  const vm = e.vm(ref);
  return { uuid: vm.uuid, power_state: vm.power_state, domid: vm.domid, resident_on: vm.resident_on };
}
