/**
 * The VM lifecycle calls (docs/simulator-behaviour.md#lifecycle-calls): start, pause, suspend, resume,
 * shutdowns, reboots, reset,
 * destroy, clone, copy, provision — each under XAPI's `with_vm_operation`, each also as `Async.VM.…`, each
 * leaving XAPI's VM_* message (pool-objects.ts `vmMessage`).
 */
import { XapiFault, type XValue } from "../../api";
import { crashActionError, deriveDomainType } from "../boot";
import { type Engine, type OpContext, ocamlFloat } from "../engine";
import { bool, str } from "../params";
import { VmMessage, vmMessage } from "../pool-objects";
import { checksPcpus, pcpuError, startSizingError } from "../sizing";
import { ErrorCode, NULL_REF, SimPowerState } from "../vocabulary";
import type { Call, Def } from "./registry";

const { Halted, Paused, Running, Suspended, Crashed } = SimPowerState;

type Run = (call: Call, ctx: OpContext, ref: string) => Promise<XValue>;

function ctxOf(call: Call): OpContext {
  if (!call.ctx) throw new XapiFault(ErrorCode.internalError, [`${call.wireName} needs a task context`]);
  return call.ctx;
}

/** Registers `VM.<name>`: an async-capable call on a VM, run with its task context. */
function lifecycleOf(def: Def): (name: string, params: readonly string[], run: Run) => void {
  return (name, params, run) => {
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
}

/**
 * Builds a new domain from the VM's current config and disks (docs/simulator-behaviour.md#boot-records); a
 * config that cannot boot
 * (invalid fields, no bootable device, a bootloader failure) leaves the VM Halted.
 */
function rebuild(e: Engine, ref: string, via: string): void {
  try {
    e.vmState.enter(ref, Running, { newDomain: true, host: e.vm(ref).resident_on, build: via });
  } catch (error) {
    e.vmState.enter(ref, Halted);
    throw error;
  }
}

/**
 * `start` / `start_on` (from Halted: builds a new domain from the VM's current config and disks) and
 * `resume` / `resume_on` (from Suspended: restores the saved domain, so no boot is recorded; see
 * docs/simulator-behaviour.md#boot-records), on `host` or the master, paused or running.
 */
async function newDomain(
  e: Engine,
  ctx: OpContext,
  ref: string,
  op: "start" | "start_on" | "resume" | "resume_on",
  paused: boolean,
  host?: string,
): Promise<void> {
  const resuming = op === "resume" || op === "resume_on";
  await e.vmState.withVmOperation(ctx, ref, op, async () => {
    if (resuming) assertSuspendImage(e, ref);
    else prepareStart(e, ref, host ?? e.masterRef);
    await e.clock.sleep(e.opMs(op), ctx.signal);
    e.vmState.expect(ref, [resuming ? Suspended : Halted]);
    e.vmState.enter(ref, paused ? Paused : Running, {
      newDomain: true,
      host: host ?? e.masterRef,
      ...(resuming ? { clearSuspendVdi: true } : { build: op }),
    });
  });
}

/**
 * What a start checks before its work: the domain type it builds, xapi's `assert_can_boot_here` on `host`
 * (vCPU and memory validation, actions_after_crash, then the host's pCPUs;
 * docs/simulator-behaviour.md#sizing), and what the build would meet.
 */
function prepareStart(e: Engine, ref: string, host: string): void {
  // ensure_domain_type_is_specified (docs/simulator-behaviour.md#domain-type); before kolkata
  // HVM_boot_policy decides at every start.
  if (e.profile.domainType && e.vm(ref).domain_type === "unspecified") {
    e.vmState.update(ref, (vm) => {
      vm.domain_type = deriveDomainType(vm.HVM_boot_policy);
    });
  }
  const vm = e.vm(ref);
  const pcpus = checksPcpus(e.profile) ? pcpuError(vm, e.host(host).cpu_info) : undefined;
  const basic = startSizingError(vm) ?? crashActionError(vm) ?? pcpus;
  if (basic) throw basic;
  // Fail fast on what the build would meet (docs/simulator-behaviour.md#booting); the build checks again.
  const boot = e.storage.bootOf(ref);
  if (!boot.ok) throw boot.error;
}

/** Resume with no suspend VDI resets the VM to Halted (docs/simulator-behaviour.md#lifecycle-calls). */
function assertSuspendImage(e: Engine, ref: string): void {
  if (e.vm(ref).suspend_VDI !== NULL_REF) return;
  e.vmState.enter(ref, Halted);
  throw new XapiFault(ErrorCode.vmHasNoSuspendVdi, ["VM", ref]);
}

/**
 * A clean shutdown/reboot request to a guest that ignores it: VM_SHUTDOWN_TIMEOUT after the timeout
 * (docs/simulator-behaviour.md#lifecycle-calls).
 */
async function guestIgnores(e: Engine, ctx: OpContext, ref: string): Promise<never> {
  await e.clock.sleep(e.config.cleanShutdownTimeoutMs, ctx.signal);
  throw new XapiFault(ErrorCode.vmShutdownTimeout, [ref, ocamlFloat(e.config.cleanShutdownTimeoutMs / 1000)]);
}

export function registerVmLifecycle(def: Def, e: Engine): void {
  registerStartAndPause(def, e);
  registerSuspendAndResume(def, e);
  registerShutdowns(def, e);
  registerRebootsAndReset(def, e);
  registerCopies(def, e);
}

/**
 * `VM.<op>(vm, start_paused, force)` and `VM.<op>_on(vm, host, start_paused, force)`: builds or restores
 * the domain (on `host` for the `_on` form), then the VM message is posted.
 */
function registerStartLike(
  def: Def,
  e: Engine,
  op: "start" | "resume",
  message: VmMessage,
  what: string,
): void {
  const lifecycle = lifecycleOf(def);
  lifecycle(op, ["vm", "start_paused", "force"], async ({ args }, ctx, ref) => {
    const paused = bool(args, 1, "start_paused");
    bool(args, 2, "force");
    await newDomain(e, ctx, ref, op, paused);
    vmMessage(e, ref, message, what, true);
    return "";
  });
  lifecycle(`${op}_on`, ["vm", "host", "start_paused", "force"], async ({ args }, ctx, ref) => {
    const host = str(args, 1, "host");
    const paused = bool(args, 2, "start_paused");
    bool(args, 3, "force");
    e.vm(ref);
    e.host(host);
    await newDomain(e, ctx, ref, `${op}_on`, paused, host);
    vmMessage(e, ref, message, what, true);
    return "";
  });
}

/** `VM.pause` (Running → Paused) and `VM.unpause` (Paused → Running); XAPI posts their messages since 8.3. */
function registerPauseLike(def: Def, e: Engine, op: "pause" | "unpause", message: VmMessage): void {
  const [from, to] = op === "pause" ? [Running, Paused] : [Paused, Running];
  lifecycleOf(def)(op, ["vm"], async (_call, ctx, ref) => {
    await e.vmState.withVmOperation(ctx, ref, op, async () => {
      await e.clock.sleep(e.opMs(op), ctx.signal);
      e.vmState.expect(ref, [from]);
      e.vmState.enter(ref, to);
    });
    if (e.profile.release === null) vmMessage(e, ref, message, `${op}d`);
    return "";
  });
}

function registerStartAndPause(def: Def, e: Engine): void {
  registerStartLike(def, e, "start", VmMessage.started, "started");
  registerPauseLike(def, e, "pause", VmMessage.paused);
  registerPauseLike(def, e, "unpause", VmMessage.unpaused);
}

function registerSuspendAndResume(def: Def, e: Engine): void {
  lifecycleOf(def)("suspend", ["vm"], async (_call, ctx, ref) => {
    await e.vmState.withVmOperation(ctx, ref, "suspend", async () => {
      await e.clock.sleep(e.opMs("suspend"), ctx.signal);
      e.vmState.expect(ref, [Running]);
      // suspend creates the suspend VDI and sets suspend_VDI (docs/simulator-behaviour.md#lifecycle-calls).
      e.vmState.enter(ref, Suspended, { newSuspendVdi: true });
    });
    vmMessage(e, ref, VmMessage.suspended, "suspended");
    return "";
  });
  registerStartLike(def, e, "resume", VmMessage.resumed, "resumed");
}

function registerShutdowns(def: Def, e: Engine): void {
  const lifecycle = lifecycleOf(def);
  lifecycle("clean_shutdown", ["vm"], async (_call, ctx, ref) => {
    await e.vmState.withVmOperation(ctx, ref, "clean_shutdown", async () => {
      if (e.vmState.simOf(ref).guest.ignoresCleanShutdown) await guestIgnores(e, ctx, ref);
      await e.clock.sleep(e.opMs("clean_shutdown"), ctx.signal);
      e.vmState.expect(ref, [Running]);
      e.vmState.enter(ref, Halted);
    });
    vmMessage(e, ref, VmMessage.shutdown, "shutdown");
    return "";
  });
  lifecycle("hard_shutdown", ["vm"], async (_call, ctx, ref) => {
    await e.vmState.withVmOperation(ctx, ref, "hard_shutdown", async () => {
      await e.clock.sleep(e.opMs("hard_shutdown"), ctx.signal);
      e.vmState.expect(ref, [Paused, Suspended, Running, Crashed]);
      // From Suspended the suspend VDI is destroyed and suspend_VDI cleared
      // (docs/simulator-behaviour.md#lifecycle-calls).
      e.vmState.enter(ref, Halted, { clearSuspendVdi: true });
    });
    vmMessage(e, ref, VmMessage.shutdown, "shutdown forcibly");
    return "";
  });
  // VM.shutdown: clean first, hard on any failure; Suspended goes straight to hard
  // (docs/simulator-behaviour.md#lifecycle-calls).
  lifecycle("shutdown", ["vm"], async (_call, ctx, ref) => {
    await e.vmState.withVmOperation(ctx, ref, "shutdown", async () => {
      const vm = e.vm(ref);
      const sim = e.vmState.simOf(ref);
      if (vm.power_state === Running) {
        const view = e.vmState.view(ref, vm);
        const lacksFeature = !view.bootedPvLike && !view.pvDrivers;
        if (!lacksFeature && sim.guest.ignoresCleanShutdown)
          await e.clock.sleep(e.config.cleanShutdownTimeoutMs, ctx.signal);
      } else if (vm.power_state === Paused) {
        // A paused guest cannot acknowledge: xenopsd waits for the ack timeout, then hard-shuts
        // (docs/simulator-behaviour.md#lifecycle-calls).
        await e.clock.sleep(e.config.cleanShutdownTimeoutMs, ctx.signal);
      }
      await e.clock.sleep(e.opMs("shutdown"), ctx.signal);
      e.vmState.expect(ref, [Paused, Suspended, Running]);
      e.vmState.enter(ref, Halted, { clearSuspendVdi: true });
    });
    vmMessage(e, ref, VmMessage.shutdown, "shutdown");
    return "";
  });
}

function registerRebootsAndReset(def: Def, e: Engine): void {
  const lifecycle = lifecycleOf(def);
  lifecycle("clean_reboot", ["vm"], async (_call, ctx, ref) => {
    await e.vmState.withVmOperation(ctx, ref, "clean_reboot", async () => {
      if (e.vmState.simOf(ref).guest.ignoresCleanShutdown) await guestIgnores(e, ctx, ref);
      await e.clock.sleep(e.opMs("clean_reboot"), ctx.signal);
      e.vmState.expect(ref, [Running]);
      rebuild(e, ref, "clean_reboot");
    });
    vmMessage(e, ref, VmMessage.rebooted, "rebooted cleanly");
    return "";
  });
  lifecycle("hard_reboot", ["vm"], async (_call, ctx, ref) => {
    await e.vmState.withVmOperation(ctx, ref, "hard_reboot", async () => {
      await e.clock.sleep(e.opMs("hard_reboot"), ctx.signal);
      e.vmState.expect(ref, [Paused, Running]);
      rebuild(e, ref, "hard_reboot");
    });
    vmMessage(e, ref, VmMessage.rebooted, "rebooted forcibly");
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
    // force_state_reset Halted; a Suspended VM keeps its suspend_VDI
    // (docs/simulator-behaviour.md#lifecycle-calls).
    e.vmState.enter(ref, Halted);
    return "";
  });
}

function registerCopies(def: Def, e: Engine): void {
  const lifecycle = lifecycleOf(def);
  lifecycle("destroy", ["self"], async (_call, ctx, ref) => {
    await e.vmState.withVmOperation(ctx, ref, "destroy", async () => {
      await e.clock.sleep(e.opMs("destroy"), ctx.signal);
      e.vmState.expect(ref, [Halted, Suspended]);
    });
    e.vmObjects.remove(ref);
    return "";
  });
  lifecycle("clone", ["vm", "new_name"], async ({ args }, ctx, ref) => {
    const newName = str(args, 1, "new_name");
    let created = "";
    await e.vmState.withVmOperation(ctx, ref, "clone", async () => {
      await e.clock.sleep(e.opMs("clone"), ctx.signal);
      created = e.vmObjects.clone(ref, newName);
    });
    return created;
  });
  lifecycle("copy", ["vm", "new_name", "sr"], async ({ args }, ctx, ref) => {
    const newName = str(args, 1, "new_name");
    str(args, 2, "sr");
    let created = "";
    await e.vmState.withVmOperation(ctx, ref, "copy", async () => {
      await e.clock.sleep(e.opMs("copy"), ctx.signal);
      created = e.vmObjects.clone(ref, newName);
    });
    return created;
  });
  // provision: creates the disks the template's other_config "disks" describes, then drops the key.
  lifecycle("provision", ["vm"], async (_call, ctx, ref) => {
    await e.vmState.withVmOperation(ctx, ref, "provision", async () => {
      await e.clock.sleep(e.opMs("provision"), ctx.signal);
      e.vmObjects.provision(ref);
    });
    return "";
  });
}
