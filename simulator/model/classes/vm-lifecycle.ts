/**
 * The VM lifecycle calls (docs/simulator-behaviour.md#lifecycle-calls): start, pause, suspend, resume, shutdowns, reboots, reset,
 * destroy, clone, copy, provision — each under XAPI's `with_vm_operation`, each also as `Async.VM.…`, each
 * leaving XAPI's VM_* message (pool-objects.ts `vmMessage`).
 */
import { XapiFault, type XValue } from "../../api";
import { deriveDomainType } from "../boot";
import { type Engine, type OpContext, ocamlFloat } from "../engine";
import { bool, str } from "../params";
import { VmMessage, vmMessage } from "../pool-objects";
import { ErrorCode, NULL_REF, SimPowerState, type VmOperation } from "../vocabulary";
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
 * Builds a new domain from the VM's current config and disks (docs/simulator-behaviour.md#boot-records); a config that cannot boot
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

async function start(
  e: Engine,
  ctx: OpContext,
  ref: string,
  op: VmOperation,
  paused: boolean,
  host?: string,
): Promise<void> {
  await e.vmState.withVmOperation(ctx, ref, op, async () => {
    // ensure_domain_type_is_specified (docs/simulator-behaviour.md#domain-type); before kolkata HVM_boot_policy decides at every start.
    if (e.profile.domainType && e.vm(ref).domain_type === "unspecified") {
      e.vmState.update(ref, (vm) => {
        vm.domain_type = deriveDomainType(vm.HVM_boot_policy);
      });
    }
    // Fail fast on what the build would meet (docs/simulator-behaviour.md#booting); enterState checks again at build time.
    const boot = e.storage.bootOf(ref);
    if (!boot.ok) throw boot.error;
    await e.clock.sleep(e.opMs(op), ctx.signal);
    e.vmState.expect(ref, [Halted]);
    e.vmState.enter(ref, paused ? Paused : Running, {
      newDomain: true,
      host: host ?? e.masterRef,
      build: op,
    });
  });
}

async function resume(
  e: Engine,
  ctx: OpContext,
  ref: string,
  op: VmOperation,
  paused: boolean,
  host?: string,
): Promise<void> {
  await e.vmState.withVmOperation(ctx, ref, op, async () => {
    if (e.vm(ref).suspend_VDI === NULL_REF) {
      // Resume with no suspend VDI resets the VM to Halted (docs/simulator-behaviour.md#lifecycle-calls).
      e.vmState.enter(ref, Halted);
      throw new XapiFault(ErrorCode.vmHasNoSuspendVdi, ["VM", ref]);
    }
    await e.clock.sleep(e.opMs(op), ctx.signal);
    e.vmState.expect(ref, [Suspended]);
    // A resume restores the saved domain: no boot is recorded (docs/simulator-behaviour.md#boot-records).
    e.vmState.enter(ref, paused ? Paused : Running, {
      newDomain: true,
      host: host ?? e.masterRef,
      clearSuspendVdi: true,
    });
  });
}

/** A clean shutdown/reboot request to a guest that ignores it: VM_SHUTDOWN_TIMEOUT after the timeout (docs/simulator-behaviour.md#lifecycle-calls). */
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

function registerStartAndPause(def: Def, e: Engine): void {
  const lifecycle = lifecycleOf(def);
  lifecycle("start", ["vm", "start_paused", "force"], async ({ args }, ctx, ref) => {
    const paused = bool(args, 1, "start_paused");
    bool(args, 2, "force");
    await start(e, ctx, ref, "start", paused);
    vmMessage(e, ref, VmMessage.started, "started", true);
    return "";
  });
  lifecycle("start_on", ["vm", "host", "start_paused", "force"], async ({ args }, ctx, ref) => {
    const host = str(args, 1, "host");
    const paused = bool(args, 2, "start_paused");
    bool(args, 3, "force");
    e.vm(ref);
    e.host(host);
    await start(e, ctx, ref, "start_on", paused, host);
    vmMessage(e, ref, VmMessage.started, "started", true);
    return "";
  });
  lifecycle("pause", ["vm"], async (_call, ctx, ref) => {
    await e.vmState.withVmOperation(ctx, ref, "pause", async () => {
      await e.clock.sleep(e.opMs("pause"), ctx.signal);
      e.vmState.expect(ref, [Running]);
      e.vmState.enter(ref, Paused);
    });
    if (e.profile.release === null) vmMessage(e, ref, VmMessage.paused, "paused");
    return "";
  });
  lifecycle("unpause", ["vm"], async (_call, ctx, ref) => {
    await e.vmState.withVmOperation(ctx, ref, "unpause", async () => {
      await e.clock.sleep(e.opMs("unpause"), ctx.signal);
      e.vmState.expect(ref, [Paused]);
      e.vmState.enter(ref, Running);
    });
    if (e.profile.release === null) vmMessage(e, ref, VmMessage.unpaused, "unpaused");
    return "";
  });
}

function registerSuspendAndResume(def: Def, e: Engine): void {
  const lifecycle = lifecycleOf(def);
  lifecycle("suspend", ["vm"], async (_call, ctx, ref) => {
    await e.vmState.withVmOperation(ctx, ref, "suspend", async () => {
      await e.clock.sleep(e.opMs("suspend"), ctx.signal);
      e.vmState.expect(ref, [Running]);
      // suspend creates the suspend VDI and sets suspend_VDI (docs/simulator-behaviour.md#lifecycle-calls).
      e.vmState.enter(ref, Suspended, { newSuspendVdi: true });
    });
    vmMessage(e, ref, VmMessage.suspended, "suspended");
    return "";
  });
  lifecycle("resume", ["vm", "start_paused", "force"], async ({ args }, ctx, ref) => {
    const paused = bool(args, 1, "start_paused");
    bool(args, 2, "force");
    await resume(e, ctx, ref, "resume", paused);
    vmMessage(e, ref, VmMessage.resumed, "resumed", true);
    return "";
  });
  lifecycle("resume_on", ["vm", "host", "start_paused", "force"], async ({ args }, ctx, ref) => {
    const host = str(args, 1, "host");
    const paused = bool(args, 2, "start_paused");
    bool(args, 3, "force");
    e.vm(ref);
    e.host(host);
    await resume(e, ctx, ref, "resume_on", paused, host);
    vmMessage(e, ref, VmMessage.resumed, "resumed", true);
    return "";
  });
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
      // From Suspended the suspend VDI is destroyed and suspend_VDI cleared (docs/simulator-behaviour.md#lifecycle-calls).
      e.vmState.enter(ref, Halted, { clearSuspendVdi: true });
    });
    vmMessage(e, ref, VmMessage.shutdown, "shutdown forcibly");
    return "";
  });
  // VM.shutdown: clean first, hard on any failure; Suspended goes straight to hard (docs/simulator-behaviour.md#lifecycle-calls).
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
        // A paused guest cannot acknowledge: xenopsd waits for the ack timeout, then hard-shuts (docs/simulator-behaviour.md#lifecycle-calls).
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
    // force_state_reset Halted; a Suspended VM keeps its suspend_VDI (docs/simulator-behaviour.md#lifecycle-calls).
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
