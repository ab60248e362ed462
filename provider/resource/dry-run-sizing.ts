/**
 * The preview's model of XAPI's vCPU and memory setters (the dry run, `dry-run.ts`, applies the writes a
 * plan makes to its private copy of the records, so that the next read sees them). What each setter
 * checks and writes, as docs/xapi-vcpus-memory.md §1–§3 and §5 read it from xen-api:
 * - `VM.set_VCPUs_max(value)`: Halted only (`changing_VCPUs`); `value ≥ max(1, VCPUs_at_startup)`;
 * - `VM.set_VCPUs_at_startup(value)`: any power state (no operation check); `1 ≤ value ≤ VCPUs_max`;
 * - `VM.set_VCPUs_number_live(nvcpu)`: Running only; `1 ≤ nvcpu ≤ VCPUs_max`; also writes `VCPUs_at_startup`;
 * - `VM.set_memory_dynamic_range(min, max)`: Halted or Running; the constraints with the new dynamic pair;
 *   writes `memory_dynamic_min/max` and `memory_target = min`;
 * - `VM.set_memory_limits(static_min, static_max, dynamic_min, dynamic_max)`: Halted only; the constraints
 *   with all four; writes them and `memory_target = dynamic_min`.
 * A refusal is XAPI's error code and parameters: `VM_BAD_POWER_STATE [vm; allowed; actual]` (lower case),
 * `INVALID_VALUE [rule; value]`, `MEMORY_CONSTRAINT_VIOLATION_ORDER []`. Not modelled: the guest-feature and
 * licence checks of the live vCPU call (the planner only plans it when `allowed_operations` and the pool's
 * restrictions allow it) and the host memory check of a live dynamic range (`HOST_NOT_ENOUGH_FREE_MEMORY`).
 */
import { XapiError, XapiErrorCode } from "../client";
import { PowerState } from "../model/vocabulary";

type MutableRecord = Record<string, unknown>;

/** The INVALID_VALUE "field" of both vCPU setters (`invalid_value` in xapi_vm_helpers.ml puts it there). */
const VCPU_RULE = "VCPU values must satisfy: 0 < VCPUs_at_startup ≤ VCPUs_max";
/** The one a live vCPU change gets (`set_vcpus` in xapi_xenops.ml). */
const LIVE_VCPU_RULE = "VCPU values must satisfy: 0 < VCPUs ≤ VCPUs_max";

/** Each sizing setter's allowed power states, as XAPI names them in `VM_BAD_POWER_STATE`. */
const ALLOWED: Readonly<Record<string, readonly PowerState[]>> = {
  set_VCPUs_max: [PowerState.Halted],
  set_VCPUs_number_live: [PowerState.Running],
  set_memory_dynamic_range: [PowerState.Halted, PowerState.Running],
  set_memory_limits: [PowerState.Halted],
};

/** True for the name (after `VM.`) of a setter this module models. */
export function isSizingSetter(name: string): boolean {
  return name in ALLOWED || name === "set_VCPUs_at_startup";
}

/**
 * Checks `VM.<name>(ref, ...args)` against `record` as XAPI would, and returns the write to apply, or
 * throws XAPI's refusal. The write is returned, not applied, so that the caller records the call first.
 */
export function sizingWrite(
  record: Readonly<MutableRecord>,
  name: string,
  ref: string,
  args: readonly unknown[],
): () => void {
  const method = `VM.${name}`;
  const allowed = ALLOWED[name];
  const power = record.power_state as PowerState;
  if (allowed !== undefined && !allowed.includes(power)) {
    const expected = allowed.map((s) => s.toLowerCase()).join(", ");
    throw new XapiError(XapiErrorCode.VM_BAD_POWER_STATE, [ref, expected, power.toLowerCase()], method);
  }
  const n = (i: number) => Number(args[i]);
  const field = (key: string) => Number(record[key]);
  const set = (fields: MutableRecord) => () => {
    Object.assign(record as MutableRecord, fields);
  };
  switch (name) {
    case "set_VCPUs_max":
      if (n(0) < 1 || n(0) < field("VCPUs_at_startup")) throw invalidValue(VCPU_RULE, args[0], method);
      return set({ VCPUs_max: n(0) });
    case "set_VCPUs_at_startup":
      if (n(0) < 1 || n(0) > field("VCPUs_max")) throw invalidValue(VCPU_RULE, args[0], method);
      return set({ VCPUs_at_startup: n(0) });
    case "set_VCPUs_number_live":
      if (n(0) < 1 || n(0) > field("VCPUs_max")) throw invalidValue(LIVE_VCPU_RULE, args[0], method);
      return set({ VCPUs_at_startup: n(0) });
    case "set_memory_dynamic_range":
      assertOrder([field("memory_static_min"), n(0), n(1), field("memory_static_max")], method);
      return set({ memory_dynamic_min: n(0), memory_dynamic_max: n(1), memory_target: n(0) });
    case "set_memory_limits":
      assertOrder([n(0), n(2), n(3), n(1)], method);
      return set({
        memory_static_min: n(0),
        memory_static_max: n(1),
        memory_dynamic_min: n(2),
        memory_dynamic_max: n(3),
        memory_target: n(2),
      });
    default:
      throw new Error(`pulumi-xapi preview: ${method} is not a sizing setter (a bug)`);
  }
}

function invalidValue(rule: string, value: unknown, method: string): XapiError {
  return new XapiError("INVALID_VALUE", [rule, String(value)], method);
}

/** `static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max`, else XAPI's MEMORY_CONSTRAINT_VIOLATION_ORDER. */
function assertOrder(values: readonly number[], method: string): void {
  for (let i = 0; i + 1 < values.length; i++) {
    if ((values[i] ?? 0) > (values[i + 1] ?? 0)) {
      throw new XapiError("MEMORY_CONSTRAINT_VIOLATION_ORDER", [], method);
    }
  }
}
