/**
 * The kinds of job of the sizing benchmark (bench/sizing.ts): each VM's starting sizing, what each kind
 * declares, the setters the naive way sends for it (one shutdown/start cycle per setter), and the
 * provider's run of one job through the executor.
 */
import type { XapiConnection } from "../provider/client";
import { type ConvergeTarget, converge, type VmRecord } from "../provider/executor";
import { DEFAULT_POLICY } from "../provider/model/plan";
import type { SizingFields as RecordSizing } from "../provider/model/sizing";
import { PowerCycleMode, PowerState } from "../provider/model/vocabulary";
import { liveVcpusLicensedOf } from "../provider/resource/sizing";

const GiB = 2 ** 30;

/** Every VM's sizing and boot order before its job (set out of band, at no operation cost). */
export const INITIAL: SizingFields = {
  VCPUs_max: 2,
  VCPUs_at_startup: 1,
  memory_static_min: GiB / 2,
  memory_static_max: 2 * GiB,
  memory_dynamic_min: GiB,
  memory_dynamic_max: 2 * GiB,
  HVM_boot_params: { order: "c", firmware: "bios" },
};

/** The record fields a job sets and checks: the VM's sizing and its boot order. */
export interface SizingFields extends RecordSizing {
  readonly HVM_boot_params: { readonly order: string; readonly firmware: string };
}

/** What a job changes on a Running VM. */
export const SizingKind = {
  /** `vcpus.atStartup` 1 → 2 (of at most 2): live. */
  liveVcpus: "live vCPU increase",
  /** `memory.dynamicMax` 2 GiB → 1.5 GiB: live. */
  dynamicMemory: "dynamic memory",
  /** `memory.staticMax` 2 → 4 GiB under `powerCycle: "allow"`: needs a Halted VM. */
  staticMax: "static max (powerCycle allow)",
  /** `vcpus.max` 2 → 4 and the boot order "c" → "dc": needs a Halted VM, and a new domain. */
  maxAndBoot: "vcpus.max + boot order",
} as const;
export type SizingKind = (typeof SizingKind)[keyof typeof SizingKind];

/** One VM's job. */
export interface SizingJob {
  readonly index: number;
  readonly kind: SizingKind;
}

/** The record fields a kind's declaration ends with (the others keep {@link INITIAL}). */
export function wantedOf(kind: SizingKind): Partial<SizingFields> {
  switch (kind) {
    case SizingKind.liveVcpus:
      return { VCPUs_at_startup: 2 };
    case SizingKind.dynamicMemory:
      return { memory_dynamic_max: 1.5 * GiB };
    case SizingKind.staticMax:
      return { memory_static_max: 4 * GiB };
    case SizingKind.maxAndBoot:
      return { VCPUs_max: 4, HVM_boot_params: { order: "dc", firmware: "bios" } };
  }
}

/** One XAPI call of a baseline: the method, then the arguments after the VM ref. */
export type BaselineCall = [string, ...unknown[]];

/** How a baseline applies a kind: the setters, and whether they go inside one shutdown/start cycle. */
export interface BaselineStep {
  readonly cycle: boolean;
  readonly setters: readonly BaselineCall[];
}

/**
 * The naive way's setters for a kind (method, then the arguments after the VM ref): one per changed
 * property, each sent between a shutdown and a start.
 */
export function naiveSettersOf(kind: SizingKind): BaselineCall[] {
  const w = { ...INITIAL, ...wantedOf(kind) };
  switch (kind) {
    case SizingKind.liveVcpus:
      return [["VM.set_VCPUs_at_startup", w.VCPUs_at_startup]];
    case SizingKind.dynamicMemory:
      return [["VM.set_memory_dynamic_range", w.memory_dynamic_min, w.memory_dynamic_max]];
    case SizingKind.staticMax:
      return [
        [
          "VM.set_memory_limits",
          w.memory_static_min,
          w.memory_static_max,
          w.memory_dynamic_min,
          w.memory_dynamic_max,
        ],
      ];
    case SizingKind.maxAndBoot:
      return [
        ["VM.set_VCPUs_max", w.VCPUs_max],
        ["VM.set_HVM_boot_params", w.HVM_boot_params],
      ];
  }
}

/** The per-change way: every changed property in its own shutdown/set/start cycle. */
export function perChangeSteps(kind: SizingKind): BaselineStep[] {
  return naiveSettersOf(kind).map((setter) => ({ cycle: true, setters: [setter] }));
}

/**
 * The Xen Orchestra Terraform provider's rule (vatesfr/terraform-provider-xenorchestra,
 * `xoa/resource_xenorchestra_vm.go` at 89d25e98, the update's `haltForUpdates`): one halt/start cycle around
 * all of a VM's changes when its memory (`memory_max`) changes or its vCPU count goes above the current
 * maximum; a vCPU count within the maximum is set on the running VM. It declares no separate maximum: the
 * job's new `vcpus.max` is a count above the current one there, hence a cycle.
 */
export function xoSteps(kind: SizingKind): BaselineStep[] {
  const setters = naiveSettersOf(kind);
  if (kind === SizingKind.liveVcpus) {
    const w = { ...INITIAL, ...wantedOf(kind) };
    return [{ cycle: false, setters: [["VM.set_VCPUs_number_live", w.VCPUs_at_startup]] }];
  }
  return [{ cycle: true, setters }];
}

/** What a kind declares, as the executor takes it (memory in bytes, boot fields by XAPI name). */
export function targetOf(kind: SizingKind): ConvergeTarget {
  const running = { powerState: PowerState.Running };
  switch (kind) {
    case SizingKind.liveVcpus:
      return { ...running, sizing: { vcpus: { atStartup: 2 } } };
    case SizingKind.dynamicMemory:
      return { ...running, sizing: { memory: { dynamicMax: 1.5 * GiB } } };
    case SizingKind.staticMax:
      return { ...running, sizing: { memory: { staticMax: 4 * GiB, dynamicMax: 2 * GiB } } };
    case SizingKind.maxAndBoot:
      return {
        ...running,
        sizing: { vcpus: { atStartup: 1, max: 4 } },
        boot: { HVM_boot_params: { order: "dc", firmware: "bios" } },
      };
  }
}

/**
 * The provider's run of one job: the executor converges the VM to its kind's declaration under
 * `powerCycle: "allow"`, planning from the record and the pool read in one batch (as the provider does).
 */
export async function convergeSizing(
  conn: XapiConnection,
  uuid: string,
  known: { ref: string; record: VmRecord } | undefined,
  pool: Record<string, unknown> | undefined,
  job: SizingJob,
): Promise<void> {
  await converge(
    conn,
    { uuid, ref: known?.ref },
    targetOf(job.kind),
    { ...DEFAULT_POLICY, powerCycle: PowerCycleMode.allow },
    { record: known?.record, guest: { liveVcpusLicensed: liveVcpusLicensedOf(pool) } },
  );
}
