/**
 * The XAPI messages xapi-sim implements: session, pool, host, VM, task, event, system.
 * Each entry declares its parameters (after `session_id`), how many trailing ones have defaults,
 * whether it takes a session and whether it has an `Async.` form (xapi-semantics §3, §8.4–§8.8).
 */
import type { XValue } from "../api";
import { XapiFault, XDateTime, XInt32 } from "../api";
import { deriveDomainType, deriveHvmBootPolicy } from "./boot";
import { registerHostMetrics } from "./classes/host-metrics";
import { registerMessage } from "./classes/message";
import { registerPbd } from "./classes/pbd";
import { registerPif } from "./classes/pif";
import {
  type Call,
  lookups as classLookups,
  mapSetters as classMapSetters,
  definer,
  type MethodSpec,
} from "./classes/registry";
import type { Table } from "./db";
import { type Engine, type OpContext, ocamlFloat } from "./engine";
import { bool, enumValue, num, str, strList, strMap } from "./params";
import { VmMessage, vmMessage } from "./pool-objects";
import { messageRemoved, servesField, servesMessage } from "./profiles";
import {
  CLASS_FIELDS,
  defaultGuestMetricsRecord,
  defaultHostRecord,
  defaultNetworkRecord,
  defaultPoolRecord,
  defaultSrRecord,
  defaultVbdRecord,
  defaultVdiRecord,
  defaultVifRecord,
  defaultVmMetricsRecord,
  defaultVmRecord,
  NEVER,
  newRef,
  newUuid,
  type StringMap,
  xapiDate,
} from "./records";
import {
  CrashAction,
  DOMAIN_TYPES,
  ErrorCode,
  NormalExitAction,
  NULL_REF,
  parseVmOperation,
  SimPowerState,
  type VmOperation,
} from "./vocabulary";

export type { Call, MethodSpec } from "./classes/registry";

const { Halted, Paused, Running, Suspended, Crashed } = SimPowerState;

function ctxOf(call: Call): OpContext {
  if (!call.ctx) throw new XapiFault(ErrorCode.internalError, [`${call.wireName} needs a task context`]);
  return call.ctx;
}

/** Builds the method table over an engine. */
export function buildMethods(e: Engine): Map<string, MethodSpec> {
  const methods = new Map<string, MethodSpec>();
  const def = definer(methods);
  const lookups = <T extends object>(
    cls: string,
    table: Table<T>,
    sample: T,
    o: { byName?: boolean; all?: boolean } = {},
  ): void => classLookups(def, e, cls, table, sample, o);
  const mapSetters = <T extends object>(cls: string, table: Table<T>, field: keyof T & string): void =>
    classMapSetters(def, cls, table, field);

  // ------------------------------------------------------------ session (§8.5)
  def(
    "session.login_with_password",
    ["uname", "pwd", "version", "originator"],
    async ({ args, meta }) => {
      const uname = str(args, 0, "uname");
      const pwd = str(args, 1, "pwd");
      str(args, 2, "version", "1.1");
      const originator = str(args, 3, "originator", "");
      if (meta.host === "member") throw new XapiFault(ErrorCode.hostIsSlave, [e.config.masterAddress]);
      if (!Object.hasOwn(e.config.users, uname) || e.config.users[uname] !== pwd) {
        // XAPI delays a failed login by ~5 s (xapi_session.ml); the simulator's delay is configurable.
        if (e.config.authFailureDelayMs > 0) await e.sleep(e.config.authFailureDelayMs);
        throw new XapiFault(ErrorCode.sessionAuthenticationFailed, [uname, "Authentication failure"]);
      }
      const ref = newRef();
      const now = xapiDate(e.now());
      e.sessions.insert(ref, {
        uuid: newUuid(),
        this_host: e.masterRef,
        this_user: NULL_REF,
        last_active: now,
        pool: false,
        other_config: {},
        is_local_superuser: uname === "root",
        subject: NULL_REF,
        validation_time: now,
        auth_user_sid: "",
        auth_user_name: uname,
        rbac_permissions: [],
        tasks: [],
        parent: NULL_REF,
        originator,
        client_certificate: false,
      });
      return ref;
    },
    { session: false, defaults: 2 },
  );
  def("session.logout", [], ({ session }) => {
    if (session) e.sessions.remove(session);
    return "";
  });
  def("session.get_all_subject_identifiers", [], () => []);
  // No get_all / get_all_records for sessions in XAPI's datamodel.
  lookups(
    "session",
    e.sessions,
    {
      uuid: "",
      this_host: "",
      this_user: "",
      last_active: NEVER,
      pool: false,
      other_config: {},
      is_local_superuser: false,
      subject: "",
      validation_time: NEVER,
      auth_user_sid: "",
      auth_user_name: "",
      rbac_permissions: [],
      tasks: [],
      parent: "",
      originator: "",
      client_certificate: false,
    },
    { all: false },
  );

  // ------------------------------------------------------------ pool (no get_by_name_label in XAPI)
  lookups("pool", e.pools, defaultPoolRecord({ uuid: "", master: "" }));
  const poolMap = (field: "other_config" | "gui_config" | "health_check_config"): void => {
    const pool = (ref: string) => {
      if (!e.pools.has(ref)) throw new XapiFault(ErrorCode.handleInvalid, ["pool", ref]);
      return ref;
    };
    def(`pool.set_${field}`, ["self", "value"], ({ args }) => {
      const value = strMap(args, 1, "value");
      e.pools.update(pool(str(args, 0, "self")), (p) => {
        p[field] = value;
      });
      return "";
    });
    def(`pool.add_to_${field}`, ["self", "key", "value"], ({ args }) => {
      const ref = pool(str(args, 0, "self"));
      const key = str(args, 1, "key");
      const value = str(args, 2, "value");
      if (Object.hasOwn(e.pools.get(ref)?.[field] ?? {}, key)) {
        throw new XapiFault(ErrorCode.mapDuplicateKey, ["pool", field, ref, key]);
      }
      e.pools.update(ref, (p) => {
        p[field] = { ...p[field], [key]: value };
      });
      return "";
    });
    def(`pool.remove_from_${field}`, ["self", "key"], ({ args }) => {
      const ref = pool(str(args, 0, "self"));
      const key = str(args, 1, "key");
      e.pools.update(ref, (p) => {
        const { [key]: _, ...rest } = p[field];
        p[field] = rest;
      });
      return "";
    });
  };
  poolMap("other_config");
  poolMap("gui_config");
  poolMap("health_check_config");
  for (const field of ["name_label", "name_description"] as const) {
    def(`pool.set_${field}`, ["self", "value"], ({ args }) => {
      const ref = str(args, 0, "self");
      if (!e.pools.has(ref)) throw new XapiFault(ErrorCode.handleInvalid, ["pool", ref]);
      const value = str(args, 1, "value");
      e.pools.update(ref, (p) => {
        p[field] = value;
      });
      return "";
    });
  }

  // ------------------------------------------------------------ host
  lookups(
    "host",
    e.hosts,
    defaultHostRecord({ uuid: "", name_label: "", address: "", hostname: "", controlDomain: "" }),
    { byName: true },
  );
  def("host.get_servertime", ["host"], ({ args }) => {
    e.host(str(args, 0, "host"));
    return new XDateTime(xapiDate(e.now()));
  });
  def("host.get_server_localtime", ["host"], ({ args }) => {
    e.host(str(args, 0, "host"));
    return new XDateTime(xapiDate(e.now()));
  });

  // ------------------------------------------------------------ task (§8.6)
  lookups(
    "task",
    e.tasks,
    {
      uuid: "",
      name_label: "",
      name_description: "",
      allowed_operations: [],
      current_operations: {},
      created: NEVER,
      finished: NEVER,
      status: "",
      resident_on: "",
      progress: 0,
      type: "",
      result: "",
      error_info: [],
      other_config: {},
      subtask_of: "",
      subtasks: [],
      backtrace: "",
    },
    { byName: true },
  );
  const taskRef = (ref: string): string => {
    if (!e.tasks.has(ref)) throw new XapiFault(ErrorCode.handleInvalid, ["task", ref]);
    return ref;
  };
  // Best effort and never refused for the task's status: a finished task stays as it is (xapi_task.ml
  // `cancel`: "it might actually have completed, we don't care").
  def("task.cancel", ["task"], ({ args }) => {
    const ref = taskRef(str(args, 0, "task"));
    e.cancelTask(ref);
    return "";
  });
  def("task.destroy", ["self"], ({ args }) => {
    const ref = taskRef(str(args, 0, "self"));
    const task = e.tasks.get(ref);
    if (task?.status === "pending") {
      // Deferred: the task is deleted when it completes (xapi_task.ml:37-44).
      e.tasks.update(ref, (t) => {
        t.current_operations = { ...t.current_operations, task: "destroy" };
      });
    } else {
      e.destroyTask(ref);
    }
    return "";
  });
  def("task.set_status", ["self", "value"], ({ args }) => {
    taskRef(str(args, 0, "self"));
    throw new XapiFault(ErrorCode.operationNotAllowed, ["task.set_status is not supported by xapi-sim"]);
  });
  def("task.add_to_other_config", ["self", "key", "value"], ({ args }) => {
    const ref = taskRef(str(args, 0, "self"));
    const key = str(args, 1, "key");
    const value = str(args, 2, "value");
    e.tasks.update(ref, (t) => {
      t.other_config = { ...t.other_config, [key]: value };
    });
    return "";
  });
  def("task.remove_from_other_config", ["self", "key"], ({ args }) => {
    const ref = taskRef(str(args, 0, "self"));
    const key = str(args, 1, "key");
    e.tasks.update(ref, (t) => {
      const { [key]: _, ...rest } = t.other_config;
      t.other_config = rest;
    });
    return "";
  });

  // ------------------------------------------------------------ VM: lookups and setters (§7)
  lookups("VM", e.vms, defaultVmRecord({ uuid: "", name_label: "" }), { byName: true });
  def("VM.get_boot_record", ["self"], ({ args }) => e.wire("VM", e.vm(str(args, 0, "self"))));

  const setter = (field: string, impl: (ref: string, args: readonly unknown[]) => void): void => {
    def(
      `VM.${field}`,
      field.startsWith("add_to")
        ? ["self", "key", "value"]
        : field.startsWith("remove_from")
          ? ["self", "key"]
          : ["self", "value"],
      ({ args }) => {
        const ref = str(args, 0, "self");
        e.vm(ref);
        impl(ref, args);
        return "";
      },
    );
  };
  // Generated RW setters: DB writes with no power-state check (§7.1).
  for (const field of [
    "name_label",
    "name_description",
    "PV_bootloader",
    "PV_kernel",
    "PV_ramdisk",
    "PV_args",
    "PV_bootloader_args",
    "PV_legacy_args",
    "ha_restart_priority",
    "suspend_SR",
    "affinity",
  ] as const) {
    setter(`set_${field}`, (ref, args) => {
      const value = str(args, 1, "value");
      e.updateVm(ref, (vm) => {
        vm[field] = value;
      });
    });
  }
  for (const field of ["start_delay", "shutdown_delay", "order", "user_version"] as const) {
    setter(`set_${field}`, (ref, args) => {
      const value = num(args, 1, "value");
      e.updateVm(ref, (vm) => {
        vm[field] = value;
      });
    });
  }
  setter("set_ha_always_run", (ref, args) => {
    const value = bool(args, 1, "value");
    e.updateVm(ref, (vm) => {
      vm.ha_always_run = value;
    });
  });
  const mapFields = ["HVM_boot_params", "other_config", "platform", "xenstore_data", "VCPUs_params"] as const;
  for (const field of mapFields) {
    setter(`set_${field}`, (ref, args) => {
      const value = strMap(args, 1, "value");
      e.updateVm(ref, (vm) => {
        vm[field] = value;
      });
    });
    setter(`add_to_${field}`, (ref, args) => {
      const key = str(args, 1, "key");
      const value = str(args, 2, "value");
      if (Object.hasOwn(e.vm(ref)[field], key)) {
        throw new XapiFault(ErrorCode.mapDuplicateKey, ["VM", field, ref, key]);
      }
      e.updateVm(ref, (vm) => {
        vm[field] = { ...vm[field], [key]: value };
      });
    });
    setter(`remove_from_${field}`, (ref, args) => {
      const key = str(args, 1, "key");
      e.updateVm(ref, (vm) => {
        const { [key]: _, ...rest } = vm[field] as StringMap;
        vm[field] = rest;
      });
    });
  }
  // blocked_operations: keys are vm_operations (OPERATION_BLOCKED, §4.2 item 1).
  const opKey = (value: string): VmOperation => {
    const op = parseVmOperation(value);
    if (!op) throw new XapiFault(ErrorCode.invalidValue, ["key", value]);
    return op;
  };
  setter("set_blocked_operations", (ref, args) => {
    const value = strMap(args, 1, "value");
    const clean: StringMap = {};
    for (const [k, v] of Object.entries(value)) clean[opKey(k)] = v;
    e.updateVm(ref, (vm) => {
      vm.blocked_operations = clean;
    });
  });
  setter("add_to_blocked_operations", (ref, args) => {
    const key = opKey(str(args, 1, "key"));
    const value = str(args, 2, "value");
    if (Object.hasOwn(e.vm(ref).blocked_operations, key)) {
      throw new XapiFault(ErrorCode.mapDuplicateKey, ["VM", "blocked_operations", ref, key]);
    }
    e.updateVm(ref, (vm) => {
      vm.blocked_operations = { ...vm.blocked_operations, [key]: value };
    });
  });
  setter("remove_from_blocked_operations", (ref, args) => {
    const key = opKey(str(args, 1, "key"));
    e.updateVm(ref, (vm) => {
      const { [key]: _, ...rest } = vm.blocked_operations;
      vm.blocked_operations = rest;
    });
  });
  // The domain_type ↔ HVM_boot_policy coupling (§7.3): each setter rewrites the other field.
  setter("set_domain_type", (ref, args) => {
    const value = enumValue(args, 1, "value", DOMAIN_TYPES);
    if (value === "unspecified") throw new XapiFault(ErrorCode.invalidValue, ["domain_type", "unspecified"]);
    e.updateVm(ref, (vm) => {
      vm.domain_type = value;
      vm.HVM_boot_policy = deriveHvmBootPolicy(value);
    });
  });
  setter("set_HVM_boot_policy", (ref, args) => {
    const value = str(args, 1, "value");
    e.updateVm(ref, (vm) => {
      // Before kolkata the setter is a plain field write: there is no domain_type to keep in step.
      if (e.profile.domainType) vm.domain_type = deriveDomainType(value);
      vm.HVM_boot_policy = value;
    });
  });
  setter("set_actions_after_crash", (ref, args) => {
    const value = enumValue(args, 1, "value", Object.values(CrashAction));
    e.updateVm(ref, (vm) => {
      vm.actions_after_crash = value;
    });
  });
  for (const field of ["actions_after_shutdown", "actions_after_reboot"] as const) {
    setter(`set_${field}`, (ref, args) => {
      const value = enumValue(args, 1, "value", Object.values(NormalExitAction));
      e.updateVm(ref, (vm) => {
        vm[field] = value;
      });
    });
  }
  setter("set_actions_after_softreboot", (ref, args) => {
    const value = enumValue(args, 1, "value", ["soft_reboot", "destroy", "restart", "preserve"]);
    e.updateVm(ref, (vm) => {
      vm.actions_after_softreboot = value;
    });
  });
  // set_is_a_template(true) runs as op make_into_template (Halted only); false is unrestricted (§7.2).
  setter("set_is_a_template", (ref, args) => {
    const value = bool(args, 1, "value");
    if (value) {
      const error = e.checkOp(ref, "make_into_template");
      if (error) throw error;
    }
    e.updateVm(ref, (vm) => {
      vm.is_a_template = value;
      if (!value) vm.is_default_template = false;
    });
    // "We define a 'set_is_a_template false' as 'install time'" (xapi_vm_helpers.ml `set_is_a_template`).
    if (!value) {
      const metrics = e.ensureMetrics(ref);
      e.vmMetrics.update(metrics, (m) => {
        m.install_time = xapiDate(e.now());
      });
    }
  });
  setter("set_tags", (ref, args) => {
    const value = strList(args, 1, "value");
    e.updateVm(ref, (vm) => {
      vm.tags = value;
    });
  });
  def("VM.add_tags", ["self", "value"], ({ args }) => {
    const ref = str(args, 0, "self");
    const tag = str(args, 1, "value");
    e.vm(ref);
    e.updateVm(ref, (vm) => {
      if (!vm.tags.includes(tag)) vm.tags = [...vm.tags, tag];
    });
    return "";
  });
  def("VM.remove_tags", ["self", "value"], ({ args }) => {
    const ref = str(args, 0, "self");
    const tag = str(args, 1, "value");
    e.vm(ref);
    e.updateVm(ref, (vm) => {
      vm.tags = vm.tags.filter((t) => t !== tag);
    });
    return "";
  });

  def("VM.assert_operation_valid", ["self", "op"], ({ args }) => {
    const ref = str(args, 0, "self");
    const raw = str(args, 1, "op");
    e.vm(ref);
    const op = parseVmOperation(raw);
    if (!op) throw new XapiFault(ErrorCode.invalidValue, ["op", raw]);
    const error = e.checkOp(ref, op);
    if (error) throw error;
    return "";
  });
  def(
    "VM.update_allowed_operations",
    ["self"],
    ({ args }) => {
      const ref = str(args, 0, "self");
      e.vm(ref);
      e.updateVm(ref, () => undefined);
      return "";
    },
    { async: true },
  );

  // ------------------------------------------------------------ VM lifecycle (§2.1)
  const lifecycle = (
    name: string,
    params: readonly string[],
    run: (call: Call, ctx: OpContext, ref: string) => Promise<XValue>,
  ): void => {
    def(
      `VM.${name}`,
      params,
      (call) => {
        const ctx = ctxOf(call);
        const ref = str(call.args, 0, params[0] ?? "vm");
        return run(call, ctx, ref);
      },
      { async: true },
    );
  };

  /**
   * Builds a new domain from the VM's current config and disks (§7.6); a config that cannot boot
   * (invalid fields, no bootable device, a bootloader failure) leaves the VM Halted.
   */
  const rebuild = (ref: string, via: string): void => {
    try {
      e.enterState(ref, Running, { newDomain: true, host: e.vm(ref).resident_on, build: via });
    } catch (error) {
      e.enterState(ref, Halted);
      throw error;
    }
  };

  const start = async (
    ctx: OpContext,
    ref: string,
    op: VmOperation,
    paused: boolean,
    host?: string,
  ): Promise<void> => {
    await e.withVmOperation(ctx, ref, op, async () => {
      // ensure_domain_type_is_specified (§7.3); before kolkata HVM_boot_policy decides at every start.
      if (e.profile.domainType && e.vm(ref).domain_type === "unspecified") {
        e.updateVm(ref, (vm) => {
          vm.domain_type = deriveDomainType(vm.HVM_boot_policy);
        });
      }
      // Fail fast on what the build would meet (§7.4); enterState checks again at build time.
      const boot = e.bootOf(ref);
      if (!boot.ok) throw boot.error;
      await e.sleep(e.opMs(op), ctx.signal);
      e.expectState(ref, [Halted]);
      e.enterState(ref, paused ? Paused : Running, { newDomain: true, host: host ?? e.masterRef, build: op });
    });
  };
  lifecycle("start", ["vm", "start_paused", "force"], async ({ args }, ctx, ref) => {
    const paused = bool(args, 1, "start_paused");
    bool(args, 2, "force");
    await start(ctx, ref, "start", paused);
    vmMessage(e, ref, VmMessage.started, "started", true);
    return "";
  });
  lifecycle("start_on", ["vm", "host", "start_paused", "force"], async ({ args }, ctx, ref) => {
    const host = str(args, 1, "host");
    const paused = bool(args, 2, "start_paused");
    bool(args, 3, "force");
    e.vm(ref);
    e.host(host);
    await start(ctx, ref, "start_on", paused, host);
    vmMessage(e, ref, VmMessage.started, "started", true);
    return "";
  });
  lifecycle("pause", ["vm"], async (_call, ctx, ref) => {
    await e.withVmOperation(ctx, ref, "pause", async () => {
      await e.sleep(e.opMs("pause"), ctx.signal);
      e.expectState(ref, [Running]);
      e.enterState(ref, Paused);
    });
    if (e.profile.release === null) vmMessage(e, ref, VmMessage.paused, "paused");
    return "";
  });
  lifecycle("unpause", ["vm"], async (_call, ctx, ref) => {
    await e.withVmOperation(ctx, ref, "unpause", async () => {
      await e.sleep(e.opMs("unpause"), ctx.signal);
      e.expectState(ref, [Paused]);
      e.enterState(ref, Running);
    });
    if (e.profile.release === null) vmMessage(e, ref, VmMessage.unpaused, "unpaused");
    return "";
  });
  lifecycle("suspend", ["vm"], async (_call, ctx, ref) => {
    await e.withVmOperation(ctx, ref, "suspend", async () => {
      await e.sleep(e.opMs("suspend"), ctx.signal);
      e.expectState(ref, [Running]);
      // suspend creates the suspend VDI and sets suspend_VDI (§2.1 row 6).
      e.enterState(ref, Suspended, { newSuspendVdi: true });
    });
    vmMessage(e, ref, VmMessage.suspended, "suspended");
    return "";
  });
  const resume = async (
    ctx: OpContext,
    ref: string,
    op: VmOperation,
    paused: boolean,
    host?: string,
  ): Promise<void> => {
    await e.withVmOperation(ctx, ref, op, async () => {
      if (e.vm(ref).suspend_VDI === NULL_REF) {
        // Resume with no suspend VDI resets the VM to Halted (§5.2).
        e.enterState(ref, Halted);
        throw new XapiFault(ErrorCode.vmHasNoSuspendVdi, ["VM", ref]);
      }
      await e.sleep(e.opMs(op), ctx.signal);
      e.expectState(ref, [Suspended]);
      // A resume restores the saved domain: no boot is recorded (§7.6).
      e.enterState(ref, paused ? Paused : Running, {
        newDomain: true,
        host: host ?? e.masterRef,
        clearSuspendVdi: true,
      });
    });
  };
  lifecycle("resume", ["vm", "start_paused", "force"], async ({ args }, ctx, ref) => {
    const paused = bool(args, 1, "start_paused");
    bool(args, 2, "force");
    await resume(ctx, ref, "resume", paused);
    vmMessage(e, ref, VmMessage.resumed, "resumed", true);
    return "";
  });
  lifecycle("resume_on", ["vm", "host", "start_paused", "force"], async ({ args }, ctx, ref) => {
    const host = str(args, 1, "host");
    const paused = bool(args, 2, "start_paused");
    bool(args, 3, "force");
    e.vm(ref);
    e.host(host);
    await resume(ctx, ref, "resume_on", paused, host);
    vmMessage(e, ref, VmMessage.resumed, "resumed", true);
    return "";
  });

  /** A clean shutdown/reboot request to a guest that ignores it: VM_SHUTDOWN_TIMEOUT after the timeout (§5.2). */
  const guestIgnores = async (ctx: OpContext, ref: string): Promise<never> => {
    await e.sleep(e.config.cleanShutdownTimeoutMs, ctx.signal);
    throw new XapiFault(ErrorCode.vmShutdownTimeout, [
      ref,
      ocamlFloat(e.config.cleanShutdownTimeoutMs / 1000),
    ]);
  };
  lifecycle("clean_shutdown", ["vm"], async (_call, ctx, ref) => {
    await e.withVmOperation(ctx, ref, "clean_shutdown", async () => {
      if (e.simOf(ref).guest.ignoresCleanShutdown) await guestIgnores(ctx, ref);
      await e.sleep(e.opMs("clean_shutdown"), ctx.signal);
      e.expectState(ref, [Running]);
      e.enterState(ref, Halted);
    });
    vmMessage(e, ref, VmMessage.shutdown, "shutdown");
    return "";
  });
  lifecycle("clean_reboot", ["vm"], async (_call, ctx, ref) => {
    await e.withVmOperation(ctx, ref, "clean_reboot", async () => {
      if (e.simOf(ref).guest.ignoresCleanShutdown) await guestIgnores(ctx, ref);
      await e.sleep(e.opMs("clean_reboot"), ctx.signal);
      e.expectState(ref, [Running]);
      rebuild(ref, "clean_reboot");
    });
    vmMessage(e, ref, VmMessage.rebooted, "rebooted cleanly");
    return "";
  });
  lifecycle("hard_shutdown", ["vm"], async (_call, ctx, ref) => {
    await e.withVmOperation(ctx, ref, "hard_shutdown", async () => {
      await e.sleep(e.opMs("hard_shutdown"), ctx.signal);
      e.expectState(ref, [Paused, Suspended, Running, Crashed]);
      // From Suspended the suspend VDI is destroyed and suspend_VDI cleared (§2.1 row 13).
      e.enterState(ref, Halted, { clearSuspendVdi: true });
    });
    vmMessage(e, ref, VmMessage.shutdown, "shutdown forcibly");
    return "";
  });
  lifecycle("hard_reboot", ["vm"], async (_call, ctx, ref) => {
    await e.withVmOperation(ctx, ref, "hard_reboot", async () => {
      await e.sleep(e.opMs("hard_reboot"), ctx.signal);
      e.expectState(ref, [Paused, Running]);
      rebuild(ref, "hard_reboot");
    });
    vmMessage(e, ref, VmMessage.rebooted, "rebooted forcibly");
    return "";
  });
  // VM.shutdown: clean first, hard on any failure; Suspended goes straight to hard (§2.1 rows 14-16).
  lifecycle("shutdown", ["vm"], async (_call, ctx, ref) => {
    await e.withVmOperation(ctx, ref, "shutdown", async () => {
      const vm = e.vm(ref);
      const sim = e.simOf(ref);
      if (vm.power_state === Running) {
        const view = e.view(ref, vm);
        const lacksFeature = !view.bootedPvLike && !view.pvDrivers;
        if (!lacksFeature && sim.guest.ignoresCleanShutdown)
          await e.sleep(e.config.cleanShutdownTimeoutMs, ctx.signal);
      } else if (vm.power_state === Paused) {
        // A paused guest cannot acknowledge: xenopsd waits for the ack timeout, then hard-shuts (§2.1 row 15).
        await e.sleep(e.config.cleanShutdownTimeoutMs, ctx.signal);
      }
      await e.sleep(e.opMs("shutdown"), ctx.signal);
      e.expectState(ref, [Paused, Suspended, Running]);
      e.enterState(ref, Halted, { clearSuspendVdi: true });
    });
    vmMessage(e, ref, VmMessage.shutdown, "shutdown");
    return "";
  });
  lifecycle("power_state_reset", ["vm"], async (_call, _ctx, ref) => {
    const vm = e.vm(ref);
    if (vm.is_control_domain) throw new XapiFault(ErrorCode.cannotResetControlDomain, [ref]);
    if (vm.power_state === Running || vm.power_state === Paused) {
      // The simulated domain always exists: resident here → DOMAIN_EXISTS, on the live member → HOST_IS_LIVE.
      if (vm.resident_on !== NULL_REF && vm.resident_on !== e.masterRef) {
        throw new XapiFault(ErrorCode.hostIsLive, [vm.resident_on]);
      }
      throw new XapiFault(ErrorCode.domainExists, [ref]);
    }
    // force_state_reset Halted; a Suspended VM keeps its suspend_VDI (§2.1 row 22).
    e.enterState(ref, Halted);
    return "";
  });
  lifecycle("destroy", ["self"], async (_call, ctx, ref) => {
    await e.withVmOperation(ctx, ref, "destroy", async () => {
      await e.sleep(e.opMs("destroy"), ctx.signal);
      e.expectState(ref, [Halted, Suspended]);
    });
    e.removeVm(ref);
    return "";
  });
  lifecycle("clone", ["vm", "new_name"], async ({ args }, ctx, ref) => {
    const newName = str(args, 1, "new_name");
    let created = "";
    await e.withVmOperation(ctx, ref, "clone", async () => {
      await e.sleep(e.opMs("clone"), ctx.signal);
      created = e.cloneVm(ref, newName);
    });
    return created;
  });
  lifecycle("copy", ["vm", "new_name", "sr"], async ({ args }, ctx, ref) => {
    const newName = str(args, 1, "new_name");
    str(args, 2, "sr");
    let created = "";
    await e.withVmOperation(ctx, ref, "copy", async () => {
      await e.sleep(e.opMs("copy"), ctx.signal);
      created = e.cloneVm(ref, newName);
    });
    return created;
  });
  // provision: creates the disks the template's other_config "disks" describes, then drops the key.
  lifecycle("provision", ["vm"], async (_call, ctx, ref) => {
    await e.withVmOperation(ctx, ref, "provision", async () => {
      await e.sleep(e.opMs("provision"), ctx.signal);
      e.provisionDisks(ref);
    });
    return "";
  });

  // ------------------------------------------------------------ storage: SR, VDI, VBD (issue #7)
  lookups("SR", e.srs, defaultSrRecord({ uuid: "", name_label: "" }), { byName: true });
  lookups("VDI", e.vdis, defaultVdiRecord({ uuid: "", name_label: "" }), { byName: true });
  lookups("VBD", e.vbds, defaultVbdRecord({ uuid: "", VM: "", userdevice: "0" }));

  for (const field of ["name_label", "name_description"] as const) {
    def(`VDI.set_${field}`, ["self", "value"], ({ args }) => {
      const ref = str(args, 0, "self");
      e.vdi(ref);
      const value = str(args, 1, "value");
      e.vdis.update(ref, (v) => {
        v[field] = value;
      });
      return "";
    });
  }
  // VDI.destroy: refused while a VBD of it is attached to a live VM; otherwise its VBDs go too.
  def(
    "VDI.destroy",
    ["self"],
    async ({ args, ctx }) => {
      const ref = str(args, 0, "self");
      const vdi = e.vdi(ref);
      if (vdi.VBDs.some((vbd) => e.vbds.get(vbd)?.currently_attached === true)) {
        throw new XapiFault(ErrorCode.vdiInUse, [ref, "destroy"]);
      }
      await e.sleep(e.opMs("vdi_destroy"), ctx?.signal);
      e.destroyVdi(ref);
      return "";
    },
    { async: true },
  );

  const vbdRef = (args: readonly unknown[]): string => {
    const ref = str(args, 0, "self");
    e.vbd(ref);
    return ref;
  };
  // Generated RW setters of VBD fields: DB writes with no power-state check (§7.1). `bootable` is
  // read at the next domain build (start or reboot), like the VM's boot fields (§7.6).
  def("VBD.set_bootable", ["self", "value"], ({ args }) => {
    const ref = vbdRef(args);
    const value = bool(args, 1, "value");
    e.vbds.update(ref, (b) => {
      b.bootable = value;
    });
    return "";
  });
  def("VBD.set_mode", ["self", "value"], ({ args }) => {
    const ref = vbdRef(args);
    const value = enumValue(args, 1, "value", ["RO", "RW"] as const);
    e.vbds.update(ref, (b) => {
      b.mode = value;
    });
    return "";
  });
  def("VBD.set_other_config", ["self", "value"], ({ args }) => {
    const ref = vbdRef(args);
    const value = strMap(args, 1, "value");
    e.vbds.update(ref, (b) => {
      b.other_config = value;
    });
    return "";
  });
  def("VBD.add_to_other_config", ["self", "key", "value"], ({ args }) => {
    const ref = vbdRef(args);
    const key = str(args, 1, "key");
    const value = str(args, 2, "value");
    if (Object.hasOwn(e.vbd(ref).other_config, key)) {
      throw new XapiFault(ErrorCode.mapDuplicateKey, ["VBD", "other_config", ref, key]);
    }
    e.vbds.update(ref, (b) => {
      b.other_config = { ...b.other_config, [key]: value };
    });
    return "";
  });
  def("VBD.remove_from_other_config", ["self", "key"], ({ args }) => {
    const ref = vbdRef(args);
    const key = str(args, 1, "key");
    e.vbds.update(ref, (b) => {
      const { [key]: _, ...rest } = b.other_config;
      b.other_config = rest;
    });
    return "";
  });

  // ------------------------------------------------------------ VM_metrics, VM_guest_metrics, VIF, network
  lookups("VM_metrics", e.vmMetrics, defaultVmMetricsRecord({ uuid: "" }));
  lookups("VM_guest_metrics", e.guestMetrics, defaultGuestMetricsRecord({ uuid: "" }));
  lookups("VIF", e.vifs, defaultVifRecord({ uuid: "", VM: "", network: "", device: "0", MAC: "" }));
  lookups("network", e.networks, defaultNetworkRecord({ uuid: "", name_label: "" }), { byName: true });
  mapSetters("VM_metrics", e.vmMetrics, "other_config");
  mapSetters("VM_guest_metrics", e.guestMetrics, "other_config");
  mapSetters("VIF", e.vifs, "other_config");
  mapSetters("network", e.networks, "other_config");
  for (const field of ["name_label", "name_description"] as const) {
    def(`network.set_${field}`, ["self", "value"], ({ args }) => {
      const ref = str(args, 0, "self");
      if (!e.networks.has(ref)) throw new XapiFault(ErrorCode.handleInvalid, ["network", ref]);
      const value = str(args, 1, "value");
      e.networks.update(ref, (n) => {
        n[field] = value;
      });
      return "";
    });
  }

  // ------------------------------------------------------------ host_metrics, PIF, PIF_metrics, PBD, message
  registerHostMetrics(def, e);
  registerPif(def, e);
  registerPbd(def, e);
  registerMessage(def, e);

  // ------------------------------------------------------------ event (§8.7)
  def("event.inject", ["class", "ref"], ({ args }) => {
    const cls = str(args, 0, "class");
    const ref = str(args, 1, "ref");
    // The ref's table must be exactly `class` ("VM", "pool", "task"; xapi_event.ml `inject`).
    const table = e.tables.find((t) => t.name === cls);
    if (!table?.has(ref)) throw new XapiFault(ErrorCode.handleInvalid, [cls, ref]);
    const before = e.db.gen;
    table.touch(ref);
    return formatToken(before);
  });
  def("event.from", ["classes", "token", "timeout"], async ({ args }) => {
    const classes = strList(args, 0, "classes");
    const token = str(args, 1, "token");
    const timeout = eventTimeoutSeconds(args);
    let since = parseToken(token);
    const subs = classes.map(parseSubscription);
    const deadline = e.now() + timeout * 1000;
    for (;;) {
      const { events, last } = collectEvents(e, since, subs);
      if (events.length > 0 || e.now() >= deadline || e.closed) {
        return { events, valid_ref_counts: validRefCounts(e), token: formatToken(last) };
      }
      // Nothing relevant fell out: the client is up to date to `last` (xapi_event.ml).
      since = last;
      await e.db.waitForChange(deadline - e.now());
    }
  });
  def("event.get_current_id", [], () => String(e.db.gen));

  // ------------------------------------------------------------ the profile's API
  // Messages newer than the profile's release do not exist (MESSAGE_METHOD_UNKNOWN, not listed);
  // removed ones stay listed and answer MESSAGE_REMOVED after the session check (gen_server.ml).
  const accessorOfHiddenField = (name: string): boolean => {
    const m = /^([A-Za-z_]+)\.(?:get|set|add_to|remove_from)_(.+)$/.exec(name);
    const cls = m?.[1] ?? "";
    const field = m?.[2] ?? "";
    return (CLASS_FIELDS[cls] ?? []).includes(field) && !servesField(e.profile, cls, field);
  };
  for (const [name, spec] of [...methods]) {
    if (!servesMessage(e.profile, name) || accessorOfHiddenField(name)) methods.delete(name);
    else if (messageRemoved(e.profile, name)) {
      methods.set(name, {
        ...spec,
        impl: () => {
          throw new XapiFault(ErrorCode.messageRemoved, []);
        },
      });
    }
  }

  // ------------------------------------------------------------ system
  def("system.listMethods", [], () => [...methods.keys()], { session: false });

  return methods;
}

// ------------------------------------------------------------------ events helpers

/** XAPI's default wait when the timeout is not a span (xapi_event.ml `from`: 24 hours). */
const EVENT_FROM_DEFAULT_S = 24 * 60 * 60;

/**
 * `event.from`'s timeout in seconds, as XAPI reads it: `Mtime.Span.of_float_ns` turns a negative,
 * NaN, infinite or too large value into None, which `from` replaces with 24 hours.
 */
function eventTimeoutSeconds(args: readonly unknown[]): number {
  const raw = args[2];
  const seconds = typeof raw === "number" ? raw : num(args, 2, "timeout");
  return seconds >= 0 && seconds * 1e9 < 2 ** 64 ? seconds : EVENT_FROM_DEFAULT_S;
}

/** `"%020d,%020d"`: the DB generation and the message generation (always 0 here). */
export function formatToken(gen: number): string {
  return `${String(gen).padStart(20, "0")},${"0".repeat(20)}`;
}

/** "" → 0; "N,M" → N; anything else → EVENT_FROM_TOKEN_PARSE_FAILURE [token] (xapi_event.ml `Token.of_string`). */
export function parseToken(token: string): number {
  if (token === "") return 0;
  const m = /^(\d+),(\d+)$/.exec(token);
  if (!m?.[1]) throw new XapiFault(ErrorCode.eventFromTokenParseFailure, [token]);
  return Number(m[1]);
}

interface Subscription {
  readonly cls: string | "*";
  readonly ref?: string;
}

function parseSubscription(s: string): Subscription {
  if (s === "*") return { cls: "*" };
  const parts = s.split("/");
  if (parts.length === 1 && parts[0]) return { cls: parts[0].toLowerCase() };
  if (parts.length === 2 && parts[0] && parts[1]) return { cls: parts[0].toLowerCase(), ref: parts[1] };
  throw new XapiFault(ErrorCode.eventSubscriptionParseFailure, [s]);
}

function matches(subs: readonly Subscription[], cls: string, ref: string): boolean {
  return subs.some((s) => s.cls === "*" || (s.cls === cls && (s.ref === undefined || s.ref === ref)));
}

/**
 * The events since generation `since`, folded to one per object (add if created since, mod
 * otherwise, del for deleted rows that existed at `since`), in generation order (§8.7).
 */
export function collectEvents(
  e: Engine,
  since: number,
  subs: readonly Subscription[],
): { events: XValue[]; last: number } {
  const found: { gen: number; event: XValue }[] = [];
  for (const table of e.tables) {
    const cls = table.name.toLowerCase();
    for (const row of table.rows.values()) {
      if (row.modified <= since || !matches(subs, cls, row.ref)) continue;
      const operation = row.created > since ? "add" : "mod";
      found.push({
        gen: row.modified,
        event: {
          // XAPI numbers an add with the creation's generation, a mod with the last modification's.
          id: String(operation === "add" ? row.created : row.modified),
          timestamp: "0.0",
          class: cls,
          operation,
          ref: row.ref,
          snapshot: e.wire(table.name, row.value as object),
        },
      });
    }
    for (const tomb of table.deleted.values()) {
      // Created and destroyed since the last update: never seen, not reported (xapi_event.ml).
      if (tomb.deleted <= since || tomb.created > since || !matches(subs, cls, tomb.ref)) continue;
      found.push({
        gen: tomb.deleted,
        event: { id: String(tomb.deleted), timestamp: "0.0", class: cls, operation: "del", ref: tomb.ref },
      });
    }
  }
  found.sort((a, b) => a.gen - b.gen);
  return { events: found.map((f) => f.event), last: e.db.gen };
}

/** Live row counts of every table, lower-case names, as Int32 (§8.7; xen-api needs `task`). */
export function validRefCounts(e: Engine): { [cls: string]: XValue } {
  const out: { [cls: string]: XValue } = {};
  for (const table of e.tables) out[table.name.toLowerCase()] = new XInt32(table.size);
  return out;
}
