import type { Engine } from "../engine";
import type { VmRecord } from "../records";

export type ControlOp = (body: Record<string, unknown>) => unknown;

export function fail(message: string): never {
  throw new Error(message);
}

export function optNumber(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) fail(`"${key}" must be a non-negative number`);
  return v;
}

export function optStringMap(body: Record<string, unknown>, key: string): Record<string, string> | undefined {
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

export function optBool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") fail(`"${key}" must be true or false`);
  return v;
}

/** Finds the VM a body names by `uuid` (or `ref`); returns its ref. */
export function vmRef(e: Engine, body: Record<string, unknown>): string {
  const { uuid, ref } = body;
  if (typeof ref === "string" && e.vms.has(ref)) return ref;
  if (typeof uuid !== "string") fail('expected "uuid" (a VM uuid) in the body');
  const hit = e.vms.entries().find(([, vm]) => vm.uuid === uuid);
  if (!hit) fail(`no VM with uuid ${uuid}; see GET /_sim/vms`);
  return hit[0];
}

/** What a VM op answers: the VM's identity and power state. */
export function summary(
  e: Engine,
  ref: string,
): Pick<VmRecord, "uuid" | "power_state" | "domid" | "resident_on"> {
  const vm = e.vm(ref);
  return { uuid: vm.uuid, power_state: vm.power_state, domid: vm.domid, resident_on: vm.resident_on };
}
