/**
 * The VM's vCPU and memory setters (docs/simulator-behaviour.md#sizing), as message_forwarding.ml and
 * xapi_vm.ml run them: the lifecycle check of their VM operation first (`with_vm_operation`; none for
 * set_VCPUs_at_startup), then the licence, range and memory-constraint checks, then the database writes
 * and, on a Running VM, the change to its domain (engine/domain.ts). The single-bound memory setters are
 * rewritten into the range setters with the other bound read from the record, as the forwarding layer does.
 */
import { randomUUID } from "node:crypto";
import { XapiFault } from "../../api";
import type { Engine, OpContext } from "../engine";
import { num, str } from "../params";
import {
  type ConstraintContext,
  constraintsOf,
  featureEnabled,
  LIVE_VCPU_RULE,
  LicenceFlag,
  legacyMemoryErrors,
  type MemoryConstraints,
  memoryConstraintError,
  VCPU_RANGE_RULE,
} from "../sizing";
import { ErrorCode, NULL_REF, SimPowerState, type VmOperation } from "../vocabulary";
import type { Call, Def } from "./registry";

const { Halted, Running } = SimPowerState;

/** An int64 parameter: a whole number, or the decimal string of one (what XML-RPC clients send). */
function int64(args: readonly unknown[], i: number, name: string): number {
  const raw = args[i];
  if (typeof raw === "string" && !/^[+-]?\d+$/.test(raw.trim()))
    throw new XapiFault(ErrorCode.fieldTypeError, [name]);
  const v = num(args, i, name);
  if (!Number.isSafeInteger(v)) throw new XapiFault(ErrorCode.fieldTypeError, [name]);
  return v;
}

/**
 * A session-only message (no `Async.` form) runs under a context with a dummy task that is not in the
 * database (`Context.of_http_req` in ocaml/xapi/context.ml, `Ref.make_dummy` in ocaml/xapi-types/ref.ml):
 * `DummyRef:|<uuid>|<call>` is what it leaves in `current_operations`.
 */
function contextOf(call: Call): OpContext {
  const task = `DummyRef:|${randomUUID()}|${call.wireName}`;
  return call.ctx ?? { task, signal: new AbortController().signal };
}

/** The first pool's restrictions (`Pool_features`). */
function restrictions(e: Engine): Readonly<Record<string, string>> {
  return e.pools.values()[0]?.restrictions ?? {};
}

/** What `assert_valid_for_current_context` reads of the pool, the VM and the profile. */
function constraintContext(e: Engine, ref: string): ConstraintContext {
  const vm = e.vm(ref);
  return {
    dmc: featureEnabled(restrictions(e), LicenceFlag.dmc),
    controlDomain: vm.is_control_domain,
    nestedVirt: e.vmState.view(ref, vm).nestedVirt === true,
    legacy: legacyMemoryErrors(e.profile),
  };
}

function assertConstraints(e: Engine, ref: string, c: MemoryConstraints): void {
  const error = memoryConstraintError(c, constraintContext(e, ref));
  if (error) throw error;
}

/** dom0 is the control domain with domid 0 (`Helpers.is_domain_zero`). */
function isDomainZero(e: Engine, ref: string): boolean {
  const vm = e.vm(ref);
  return vm.is_control_domain && vm.domid === 0;
}

/** A running control domain takes static changes at its next boot and says so (`requires_reboot`). */
function flagControlDomainReboot(e: Engine, ref: string): void {
  const vm = e.vm(ref);
  if (!vm.is_control_domain || vm.power_state !== Running) return;
  e.vmState.update(ref, (v) => {
    v.requires_reboot = true;
  });
}

export function registerVmSizing(def: Def, e: Engine): void {
  registerVcpuSetters(def, e);
  registerDynamicRange(def, e);
  registerStaticAndLimits(def, e);
}

/** Runs `body` under XAPI's `with_vm_operation` for `op`. */
async function underOp(
  e: Engine,
  call: Call,
  ref: string,
  op: VmOperation,
  body: (ctx: OpContext) => void | Promise<void>,
): Promise<""> {
  const ctx = contextOf(call);
  await e.vmState.withVmOperation(ctx, ref, op, async () => {
    await body(ctx);
  });
  return "";
}

function registerVcpuSetters(def: Def, e: Engine): void {
  def("VM.set_VCPUs_max", ["self", "value"], (call) => {
    const ref = str(call.args, 0, "self");
    const value = int64(call.args, 1, "value");
    e.vm(ref);
    return underOp(e, call, ref, "changing_VCPUs", () => {
      if (value < 1 || value < e.vm(ref).VCPUs_at_startup)
        throw new XapiFault(ErrorCode.invalidValue, [VCPU_RANGE_RULE, String(value)]);
      e.vmState.update(ref, (vm) => {
        vm.VCPUs_max = value;
      });
      flagControlDomainReboot(e, ref);
    });
  });
  // No operation check at all: the forwarding layer calls the implementation directly.
  def("VM.set_VCPUs_at_startup", ["self", "value"], ({ args }) => {
    const ref = str(args, 0, "self");
    const value = int64(args, 1, "value");
    e.vm(ref);
    if (isDomainZero(e, ref))
      throw new XapiFault(ErrorCode.operationNotAllowed, ["set_VCPUs_at_startup is not allowed on dom0"]);
    if (value < 1 || value > e.vm(ref).VCPUs_max)
      throw new XapiFault(ErrorCode.invalidValue, [VCPU_RANGE_RULE, String(value)]);
    e.vmState.update(ref, (vm) => {
      vm.VCPUs_at_startup = value;
    });
    return "";
  });
  def(
    "VM.set_VCPUs_number_live",
    ["self", "nvcpu"],
    (call) => {
      const ref = str(call.args, 0, "self");
      const nvcpu = int64(call.args, 1, "nvcpu");
      e.vm(ref);
      return underOp(e, call, ref, "changing_VCPUs_live", async (ctx) => {
        if (!featureEnabled(restrictions(e), LicenceFlag.liveSetVcpus))
          throw new XapiFault(ErrorCode.licenceRestriction, ["Live_set_vcpus"]);
        // xenopsd refuses a count outside 1..vcpu_max of the domain's build, naming that maximum.
        const vcpusMax = e.domains.of(ref)?.vcpusMax ?? e.vm(ref).VCPUs_max;
        if (nvcpu <= 0 || nvcpu > vcpusMax)
          throw new XapiFault(ErrorCode.invalidValue, [LIVE_VCPU_RULE, String(vcpusMax)]);
        await e.clock.sleep(e.opMs("changing_VCPUs_live"), ctx.signal);
        e.vmState.expect(ref, [Running]);
        e.domains.setVcpus(ref, nvcpu);
        // On success xapi also records the count as the startup value.
        e.vmState.update(ref, (vm) => {
          vm.VCPUs_at_startup = nvcpu;
        });
      });
    },
    { async: true },
  );
}

/**
 * `reserve_memory_for_dynamic_change` (message_forwarding.ml): raising dynamic_min on a Running VM needs
 * the host's free memory with every resident domain at its dynamic_min (plus overheads) to stay
 * non-negative, else HOST_NOT_ENOUGH_FREE_MEMORY [needed KiB; available KiB].
 */
function reserveForDynamicChange(e: Engine, ref: string, newMin: number): void {
  const vm = e.vm(ref);
  const host = e.hosts.get(vm.resident_on);
  const metrics = e.hostMetrics.get(host?.metrics ?? NULL_REF);
  if (host === undefined || metrics === undefined) return;
  let used = 0;
  for (const other of e.vms.values()) {
    if (other.resident_on === vm.resident_on || other.scheduled_to_be_resident_on === vm.resident_on)
      used += other.memory_dynamic_min + other.memory_overhead;
  }
  const available = Math.max(0, metrics.memory_total - host.memory_overhead - used);
  const change = vm.memory_dynamic_min - newMin;
  if (available + change < 0) {
    throw new XapiFault(ErrorCode.hostNotEnoughFreeMemory, [
      String(Math.trunc(-change / 1024)),
      String(Math.trunc(available / 1024)),
    ]);
  }
}

/** `set_memory_dynamic_range` on the master (Halted: a database write) or the VM's host (Running: live). */
async function dynamicRange(e: Engine, ctx: OpContext, ref: string, min: number, max: number): Promise<void> {
  const running = e.vm(ref).power_state === Running;
  if (!running && e.vm(ref).power_state !== Halted) {
    throw new XapiFault(ErrorCode.internalError, [
      "assertion_failure: set_memory_dynamic_range: power_state should be Halted or Running",
    ]);
  }
  if (running) reserveForDynamicChange(e, ref, min);
  assertConstraints(e, ref, constraintsOf(e.vm(ref), { dynamic_min: min, target: min, dynamic_max: max }));
  // "memory_target is now unused but setting it equal to dynamic_min avoids tripping validation code."
  e.vmState.update(ref, (vm) => {
    vm.memory_target = min;
    vm.memory_dynamic_min = min;
    vm.memory_dynamic_max = max;
  });
  if (!running) return;
  await e.clock.sleep(e.opMs("changing_dynamic_range"), ctx.signal);
  e.vmState.expect(ref, [Running]);
  e.domains.setDynamicRange(ref, min, max);
}

function registerDynamicRange(def: Def, e: Engine): void {
  def(
    "VM.set_memory_dynamic_range",
    ["self", "min", "max"],
    (call) => {
      const ref = str(call.args, 0, "self");
      const min = int64(call.args, 1, "min");
      const max = int64(call.args, 2, "max");
      e.vm(ref);
      return underOp(e, call, ref, "changing_dynamic_range", (ctx) => dynamicRange(e, ctx, ref, min, max));
    },
    { async: true },
  );
  // Deprecated since midnight-ride: the implementation is a no-op ("Use set_memory_dynamic_range instead").
  def(
    "VM.set_memory_target_live",
    ["self", "target"],
    (call) => {
      const ref = str(call.args, 0, "self");
      int64(call.args, 1, "target");
      e.vm(ref);
      return underOp(e, call, ref, "changing_memory_live", () => undefined);
    },
    { async: true },
  );
  // Waits until the domain holds its balloon target (within 1 MiB), then records memory_actual; the
  // simulated domain is always there.
  def(
    "VM.wait_memory_target_live",
    ["self"],
    (call) => {
      const ref = str(call.args, 0, "self");
      e.vm(ref);
      return underOp(e, call, ref, "awaiting_memory_live", () => {
        const actual = e.domains.of(ref)?.actual;
        if (actual !== undefined)
          e.metrics.update(ref, (m) => {
            m.memory_actual = actual;
          });
      });
    },
    { async: true },
  );
  def("VM.set_memory_dynamic_max", ["self", "value"], (call) => {
    const ref = str(call.args, 0, "self");
    const value = int64(call.args, 1, "value");
    const min = e.vm(ref).memory_dynamic_min;
    return underOp(e, call, ref, "changing_dynamic_range", (ctx) => dynamicRange(e, ctx, ref, min, value));
  });
  def("VM.set_memory_dynamic_min", ["self", "value"], (call) => {
    const ref = str(call.args, 0, "self");
    const value = int64(call.args, 1, "value");
    const max = e.vm(ref).memory_dynamic_max;
    return underOp(e, call, ref, "changing_dynamic_range", (ctx) => dynamicRange(e, ctx, ref, value, max));
  });
}

/** `set_memory_static_range`: the new static pair checked with the current dynamic values, then written. */
function staticRange(e: Engine, ref: string, min: number, max: number): void {
  assertConstraints(e, ref, constraintsOf(e.vm(ref), { static_min: min, static_max: max }));
  e.vmState.update(ref, (vm) => {
    vm.memory_static_min = min;
    vm.memory_static_max = max;
  });
  flagControlDomainReboot(e, ref);
}

/** `set_memory_limits`: all four checked together (target = dynamic_min), then all five written. */
function limits(e: Engine, ref: string, c: Omit<MemoryConstraints, "target">): void {
  const constraints = { ...c, target: c.dynamic_min };
  assertConstraints(e, ref, constraints);
  e.vmState.update(ref, (vm) => {
    vm.memory_static_min = constraints.static_min;
    vm.memory_dynamic_min = constraints.dynamic_min;
    vm.memory_target = constraints.target;
    vm.memory_dynamic_max = constraints.dynamic_max;
    vm.memory_static_max = constraints.static_max;
  });
  flagControlDomainReboot(e, ref);
}

function registerStaticAndLimits(def: Def, e: Engine): void {
  def(
    "VM.set_memory_static_range",
    ["self", "min", "max"],
    (call) => {
      const ref = str(call.args, 0, "self");
      const min = int64(call.args, 1, "min");
      const max = int64(call.args, 2, "max");
      e.vm(ref);
      return underOp(e, call, ref, "changing_static_range", () => staticRange(e, ref, min, max));
    },
    { async: true },
  );
  def("VM.set_memory_static_max", ["self", "value"], (call) => {
    const ref = str(call.args, 0, "self");
    const value = int64(call.args, 1, "value");
    const min = e.vm(ref).memory_static_min;
    return underOp(e, call, ref, "changing_static_range", () => staticRange(e, ref, min, value));
  });
  def("VM.set_memory_static_min", ["self", "value"], (call) => {
    const ref = str(call.args, 0, "self");
    const value = int64(call.args, 1, "value");
    const max = e.vm(ref).memory_static_max;
    return underOp(e, call, ref, "changing_static_range", () => staticRange(e, ref, value, max));
  });
  def(
    "VM.set_memory_limits",
    ["self", "static_min", "static_max", "dynamic_min", "dynamic_max"],
    (call) => {
      const ref = str(call.args, 0, "self");
      const static_min = int64(call.args, 1, "static_min");
      const static_max = int64(call.args, 2, "static_max");
      const dynamic_min = int64(call.args, 3, "dynamic_min");
      const dynamic_max = int64(call.args, 4, "dynamic_max");
      e.vm(ref);
      return underOp(e, call, ref, "changing_memory_limits", () =>
        limits(e, ref, { static_min, static_max, dynamic_min, dynamic_max }),
      );
    },
    { async: true },
  );
  // `set_memory`: static_min kept, static_max = dynamic_min = dynamic_max = value.
  def(
    "VM.set_memory",
    ["self", "value"],
    (call) => {
      const ref = str(call.args, 0, "self");
      const value = int64(call.args, 1, "value");
      e.vm(ref);
      return underOp(e, call, ref, "changing_memory_limits", () => {
        const staticMin = e.vm(ref).memory_static_min;
        limits(e, ref, { static_min: staticMin, static_max: value, dynamic_min: value, dynamic_max: value });
      });
    },
    { async: true },
  );
}
