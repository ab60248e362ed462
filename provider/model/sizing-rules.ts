/**
 * When XAPI lets a VM's vCPUs and memory change, as data: one row per setter the planner may emit, with
 * the change kinds it makes, the fields it writes, the power states XAPI accepts it in, whether it
 * reaches a running domain, what the guest and the pool must allow, the API version that has it and the
 * xen-api source it is read from (docs/xapi-vcpus-memory.md, "vCPU and memory rules", renders it; cited
 * at xen-api commit e2ee48d6883e0b98c4d219d3f0778a10c6655607).
 *
 * The planner reads only this table (and the lifecycle table) to decide where a write may go. Pure data
 * plus a renderer; no calls.
 */
import type { SizingFields } from "./sizing";
import { type DeclarablePowerState, PowerState, SizingCall } from "./vocabulary";

/** The kinds of change a declaration can ask for; each row makes one or more of them. */
export const SizingChange = {
  vcpusMax: "vcpus-max",
  vcpusAtStartup: "vcpus-at-startup",
  memoryStatic: "memory-static",
  memoryDynamic: "memory-dynamic",
} as const;
export type SizingChange = (typeof SizingChange)[keyof typeof SizingChange];

/** The record fields each change kind is about (a change is due when one of them differs). */
export const CHANGE_FIELDS: Readonly<Record<SizingChange, readonly (keyof SizingFields)[]>> = {
  [SizingChange.vcpusMax]: ["VCPUs_max"],
  [SizingChange.vcpusAtStartup]: ["VCPUs_at_startup"],
  [SizingChange.memoryStatic]: ["memory_static_min", "memory_static_max"],
  [SizingChange.memoryDynamic]: ["memory_dynamic_min", "memory_dynamic_max"],
};

/** When a write reaches the VM's domain. */
export const SizingEffect = {
  /** At once, on the running domain (and in the record, for the next build). */
  live: "live",
  /** In the record only: the next domain build (start, reboot) reads it. */
  nextBuild: "next-build",
} as const;
export type SizingEffect = (typeof SizingEffect)[keyof typeof SizingEffect];

/** What the guest must do for a live write. */
export const GuestCooperation = {
  none: "none",
  /** The guest must act on vCPU hotplug, else XAPI refuses the call (`VM_LACKS_FEATURE`). */
  vcpuHotplug: "vcpu-hotplug",
  /** A balloon driver moves the domain's memory; without one the call succeeds and the domain stays put. */
  balloon: "balloon",
} as const;
export type GuestCooperation = (typeof GuestCooperation)[keyof typeof GuestCooperation];

/** One setter of the table. */
export interface SizingRule {
  readonly call: SizingCall;
  /** The change kinds this call makes. */
  readonly changes: readonly SizingChange[];
  /** The record fields it writes (`set_VCPUs_number_live` also writes `VCPUs_at_startup`). */
  readonly fields: readonly (keyof SizingFields)[];
  /** XAPI's parameter names after the VM ref, in wire order; a plan step's `args` use these names. */
  readonly params: readonly string[];
  /** The VM operation XAPI checks (`allowed_power_states`), or "none" when the call checks no power state. */
  readonly operation: string;
  /** The power states XAPI accepts the call in (for an ordinary guest, not a control domain). */
  readonly states: readonly DeclarablePowerState[];
  /** What it reaches when called on a Running VM (on a Halted one every write waits for the next build). */
  readonly effect: SizingEffect;
  readonly guest: GuestCooperation;
  /** The pool feature the call needs (`LICENCE_RESTRICTION` without it), or "none". */
  readonly licence: "Live_set_vcpus" | "none";
  /** The first XAPI API version that has the call. */
  readonly since: string;
  /** Where this row is read from in xen-api. */
  readonly source: string;
}

const ALL_STATES = [PowerState.Halted, PowerState.Paused, PowerState.Running, PowerState.Suspended] as const;

/**
 * THE sizing table. The order carries no planning meaning: where a write goes is decided by the power
 * states and effects of the rows (`provider/planner/sizing.ts`).
 */
export const SIZING_RULES: readonly SizingRule[] = [
  {
    call: SizingCall.setVcpusMax,
    changes: [SizingChange.vcpusMax],
    fields: ["VCPUs_max"],
    params: ["value"],
    operation: "changing_VCPUs",
    states: [PowerState.Halted],
    effect: SizingEffect.nextBuild,
    guest: GuestCooperation.none,
    licence: "none",
    since: "1.7",
    source: "ocaml/xapi/xapi_vm_lifecycle.ml allowed_power_states; ocaml/xapi/xapi_vm.ml set_VCPUs_max",
  },
  {
    call: SizingCall.setVcpusNumberLive,
    changes: [SizingChange.vcpusAtStartup],
    fields: ["VCPUs_at_startup"],
    params: ["nvcpu"],
    operation: "changing_VCPUs_live",
    states: [PowerState.Running],
    effect: SizingEffect.live,
    guest: GuestCooperation.vcpuHotplug,
    licence: "Live_set_vcpus",
    since: "1.1",
    source:
      "ocaml/xapi/xapi_vm_lifecycle.ml check_op_for_feature; ocaml/xapi/xapi_vm.ml set_VCPUs_number_live; ocaml/xapi/xapi_xenops.ml set_vcpus",
  },
  {
    call: SizingCall.setVcpusAtStartup,
    changes: [SizingChange.vcpusAtStartup],
    fields: ["VCPUs_at_startup"],
    params: ["value"],
    operation: "none",
    states: ALL_STATES,
    effect: SizingEffect.nextBuild,
    guest: GuestCooperation.none,
    licence: "none",
    since: "1.7",
    source:
      "ocaml/xapi/message_forwarding.ml VM.set_VCPUs_at_startup; ocaml/xapi/xapi_vm.ml set_VCPUs_at_startup",
  },
  {
    call: SizingCall.setMemoryDynamicRange,
    changes: [SizingChange.memoryDynamic],
    fields: ["memory_dynamic_min", "memory_dynamic_max"],
    params: ["min", "max"],
    operation: "changing_dynamic_range",
    states: [PowerState.Halted, PowerState.Running],
    effect: SizingEffect.live,
    guest: GuestCooperation.balloon,
    licence: "none",
    since: "1.7",
    source:
      "ocaml/xapi/message_forwarding.ml VM.set_memory_dynamic_range; ocaml/xapi/xapi_vm.ml set_memory_dynamic_range; ocaml/squeezed/src/squeeze_xen.ml",
  },
  {
    call: SizingCall.setMemoryLimits,
    changes: [SizingChange.memoryStatic, SizingChange.memoryDynamic],
    fields: ["memory_static_min", "memory_static_max", "memory_dynamic_min", "memory_dynamic_max"],
    params: ["static_min", "static_max", "dynamic_min", "dynamic_max"],
    operation: "changing_memory_limits",
    states: [PowerState.Halted],
    effect: SizingEffect.nextBuild,
    guest: GuestCooperation.none,
    licence: "none",
    since: "1.7",
    source: "ocaml/xapi/xapi_vm_lifecycle.ml allowed_power_states; ocaml/xapi/xapi_vm.ml set_memory_limits",
  },
];

/** The row of `call`. @throws TypeError for a call that is not in the table */
export function ruleOf(call: string): SizingRule {
  const rule = SIZING_RULES.find((r) => r.call === call);
  if (rule === undefined) throw new TypeError(`${call}: not a sizing setter`);
  return rule;
}

/** True when `call` is one of the table's setters. */
export function isSizingCall(call: string): call is SizingCall {
  return SIZING_RULES.some((r) => r.call === call);
}

/** The change kinds whose fields differ between `observed` and `target`, in `SizingChange` order. */
export function changesBetween(observed: SizingFields, target: SizingFields): SizingChange[] {
  return Object.values(SizingChange).filter((c) => CHANGE_FIELDS[c].some((f) => observed[f] !== target[f]));
}

/** The table as markdown (docs/xapi-vcpus-memory.md holds the committed copy; a test fails when it drifts). */
export function renderSizingRulesTable(): string {
  const header = [
    "call",
    "changes",
    "fields",
    "operation",
    "states",
    "effect",
    "guest",
    "licence",
    "since",
    "source",
  ];
  const rows = SIZING_RULES.map((r) => [
    `\`${r.call}(${r.params.join(", ")})\``,
    r.changes.join(", "),
    r.fields.join(", "),
    r.operation,
    r.states.join(", "),
    r.effect,
    r.guest,
    r.licence,
    r.since,
    r.source,
  ]);
  const widths = header.map((h, c) => Math.max(3, h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((x, c) => x.padEnd(widths[c] ?? 0)).join(" | ")} |`;
  return `${[line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")}\n`;
}
