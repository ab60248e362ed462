/**
 * The plan a preview shows when it cannot read the pool (`preview.ts`): planned from the recorded inputs,
 * the previous declaration taken as the VM's state. Pure: no call.
 */
import type { ObservedDisk } from "../model/boot";
import type { Policy } from "../model/plan";
import { type DeclarablePowerState, PowerState } from "../model/vocabulary";
import { describePlan, planTransition } from "../planner";
import { assumedBootFields, type BootDeclaration, declaredBootWithDisks, UNKNOWN_BOOT } from "./boot";
import type { SizingDeclaration } from "./sizing";
import type { VmDeclared } from "./types";

/** What `check` knows about the new inputs. */
export interface PlannedInputs extends BootDeclaration, SizingDeclaration {
  readonly template?: string | undefined;
  readonly uuid?: string | undefined;
  readonly nameLabel?: string | undefined;
  readonly nameDescription?: string | undefined;
  readonly powerState: DeclarablePowerState;
  readonly bootableDisks?: readonly string[] | undefined;
  readonly policy: Policy;
  readonly restartTrigger?: string | undefined;
  readonly deleteAdopted?: boolean | undefined;
}

/** The top-level inputs the plan depends on; if one is unknown the plan is deferred to apply time. */
const PLAN_INPUTS = [
  "template",
  "uuid",
  "powerState",
  "pv",
  "hvm",
  "bootableDisks",
  "vcpus",
  "memory",
  "policy",
  "restartTrigger",
] as const;

/** The inputs the plan depends on that are still unknown (dot paths in `unknowns`). */
export function deferredInputs(unknowns: readonly string[]): string[] {
  return PLAN_INPUTS.filter((key) => unknowns.some((u) => u === key || u.startsWith(`${key}.`)));
}

/**
 * The new declaration names the VM the previous one did: the same adopted uuid, or the same template for
 * a created VM.
 */
export function sameIdentity(
  old: VmDeclared,
  news: { template?: string | undefined; uuid?: string | undefined },
): boolean {
  return news.uuid !== undefined
    ? old.uuid === news.uuid
    : old.uuid === undefined && old.template === news.template;
}

/**
 * The calls a create or update would make, as numbered human lines, or `[]` when nothing would be
 * called. `olds` are the previous inputs (`{}` for a new resource); `unknowns` are the dot paths
 * still unknown in this preview.
 */
export function plannedCalls(
  olds: Readonly<Record<string, unknown>>,
  news: PlannedInputs,
  unknowns: readonly string[],
): string[] {
  const pending = deferredInputs(unknowns);
  if (pending.length > 0) {
    return [
      `(the calls depend on ${pending.join(", ")}, known only during the update; they are planned then)`,
    ];
  }
  const old = readOldDeclaration(olds);
  const lines =
    old === undefined || !sameIdentity(old, news) ? createLines(news, old) : updateLines(old, news);
  return lines.map((line, i) => `${i + 1}. ${line}`);
}

/** The lines of a create (and, for a replacement, the release or destruction of the old VM). */
function createLines(news: PlannedInputs, old: VmDeclared | undefined): string[] {
  const lines: string[] = [];
  if (news.uuid !== undefined) {
    lines.push(
      `adopt VM ${news.uuid}: the lifecycle calls to ${news.powerState} are planned from its live state during the update`,
    );
    if (news.nameLabel !== undefined)
      lines.push(`VM.set_name_label(value: ${JSON.stringify(news.nameLabel)}) if it differs`);
  } else {
    lines.push(
      `VM.clone(template: ${JSON.stringify(news.template)}, new_name: ${JSON.stringify(news.nameLabel ?? "")}) (→ Halted): copy the template`,
      "VM.provision (Halted → Halted): create the disks the template describes",
      "VM.set_is_a_template(value: false) (Halted → Halted): turn the copy into a VM",
    );
    if (news.nameDescription !== undefined && news.nameDescription !== "") {
      lines.push(`VM.set_name_description(value: ${JSON.stringify(news.nameDescription)}) (Halted → Halted)`);
    }
    const plan = planTransition({
      observedPowerState: PowerState.Halted,
      observedBoot: UNKNOWN_BOOT,
      declaredPowerState: news.powerState,
      declaredBoot: declaredBootWithDisks(news),
      policy: news.policy,
    });
    if (plan.ok) lines.push(...stripNumbers(describePlan(plan.plan)).map(markSetterConditional));
    else lines.push(`no legal plan from Halted: ${plan.failure.reason}`);
    lines.push(...sizingLines(undefined, news));
  }
  if (old !== undefined) lines.push(...releaseLines(old, news));
  return lines;
}

/** What happens to the VM a replacement leaves behind (after the new one exists). */
function releaseLines(old: VmDeclared, news: PlannedInputs): string[] {
  const what =
    old.uuid !== undefined ? `VM ${old.uuid}` : `the VM cloned from ${JSON.stringify(old.template)}`;
  if (old.uuid !== undefined && old.deleteAdopted !== true)
    return [`release ${what} (replaced; no call, the VM is kept)`];
  // The previous inputs of a created VM do not hold its uuid: it may be the VM adopted now (diff,
  // which sees the uuid, then makes this an in-place adoption, not a replacement).
  const unlessSame =
    old.uuid === undefined && news.uuid !== undefined
      ? ` (unless VM ${news.uuid} is that VM: then it is adopted in place and kept)`
      : "";
  return [`replace: then shut down ${what} per its policy and VM.destroy it${unlessSame}`];
}

/** The lines of an update: name setters, then the lifecycle plan from the previous declaration. */
function updateLines(old: VmDeclared, news: PlannedInputs): string[] {
  const lines: string[] = [];
  if (news.nameLabel !== undefined && news.nameLabel !== old.nameLabel) {
    lines.push(`VM.set_name_label(value: ${JSON.stringify(news.nameLabel)})`);
  }
  if (news.nameDescription !== undefined && news.nameDescription !== old.nameDescription) {
    lines.push(`VM.set_name_description(value: ${JSON.stringify(news.nameDescription)})`);
  }
  const observed = old.powerState as PowerState | undefined;
  if (observed === undefined || !Object.values(PowerState).includes(observed)) return lines;
  const plan = planTransition({
    observedPowerState: observed,
    observedBoot: assumedBootFields(old),
    declaredPowerState: news.powerState,
    declaredBoot: declaredBootWithDisks(news),
    observedDisks: assumedDisks(old.bootableDisks, news.bootableDisks),
    forceRestart: news.restartTrigger !== undefined && news.restartTrigger !== old.restartTrigger,
    policy: news.policy,
  });
  if (plan.ok) lines.push(...stripNumbers(describePlan(plan.plan)));
  else lines.push(`no legal plan from ${observed}: ${plan.failure.reason}`);
  return [...lines, ...sizingLines(old, news)];
}

/**
 * The line for a declared vCPU / memory change: without the pool the VM's own values are unknown, and they
 * decide the calls (live, at a restart, or a power cycle), so the line says so instead of guessing.
 */
function sizingLines(old: SizingDeclaration | undefined, news: SizingDeclaration): string[] {
  const changed = (["vcpus", "memory"] as const).filter(
    (key) => news[key] !== undefined && JSON.stringify(news[key]) !== JSON.stringify(old?.[key]),
  );
  if (changed.length === 0) return [];
  return [
    `${changed.join(" and ")}: the calls depend on the VM's own values, read during the update (live where XAPI allows, else at a restart or, with policy.powerCycle "allow", a power cycle)`,
  ];
}

/** The previous inputs, read leniently (they may come from `read`, e.g. powerState "Crashed"). */
export function readOldDeclaration(olds: Readonly<Record<string, unknown>>): VmDeclared | undefined {
  const template = typeof olds.template === "string" ? olds.template : undefined;
  const uuid = typeof olds.uuid === "string" ? olds.uuid : undefined;
  if (template === undefined && uuid === undefined) return undefined;
  const text = (key: string) => (typeof olds[key] === "string" ? (olds[key] as string) : undefined);
  const object = (key: string) =>
    typeof olds[key] === "object" && olds[key] !== null ? (olds[key] as never) : undefined;
  const declared: Record<string, unknown> = {
    template,
    uuid,
    nameLabel: text("nameLabel"),
    nameDescription: text("nameDescription"),
    powerState: text("powerState"),
    pv: object("pv"),
    hvm: object("hvm"),
    bootableDisks: Array.isArray(olds.bootableDisks)
      ? olds.bootableDisks.filter((d): d is string => typeof d === "string")
      : undefined,
    restartTrigger: text("restartTrigger"),
    deleteAdopted: olds.deleteAdopted === true,
    vcpus: object("vcpus"),
    memory: object("memory"),
  };
  return declared as VmDeclared;
}

function stripNumbers(lines: readonly string[]): string[] {
  return lines.map((line) => line.replace(/^\d+\.\s*/, ""));
}

/**
 * The disks an update preview assumes: the previous declaration achieved (its disks bootable, the
 * newly declared ones not). `undefined` when bootable disks are not declared now, or were not before
 * (then the VM's other disks are unknown until apply).
 */
function assumedDisks(
  old: readonly string[] | undefined,
  news: readonly string[] | undefined,
): ObservedDisk[] | undefined {
  if (news === undefined || old === undefined) return undefined;
  const all = [...new Set([...old, ...news])];
  return all.map((userdevice) => ({ userdevice, bootable: old.includes(userdevice) }));
}

// On a fresh clone the template's own boot fields are not known before apply: a setter may be skipped.
function markSetterConditional(line: string): string {
  if (!line.startsWith("VM.set_") && !line.startsWith("VBD.set_")) return line;
  const at = line.indexOf("): ");
  return at < 0 ? line : `${line.slice(0, at + 1)}: unless the template already has this value`;
}
