/**
 * The pending-boot note. XAPI applies a boot field to a VM's domain only when the domain is rebuilt
 * (docs/xapi-facts.md, "A boot change reaches a live domain only when the domain is rebuilt"), and does
 * not say whether the running domain was built from the current fields ("XAPI does not say whether the
 * running domain was built from the current fields"). So a run that leaves a domain on an older boot
 * configuration notes it on the VM itself, in `other_config["pulumi-xapi:pending-boot"]`
 * (`{"domid":…,"paths":[…]}`), where a preview, another stack or `xe vm-param-list` sees it (the paths
 * also name a vCPU count written for the next domain build, `vcpus.atStartup`: `sizing.ts`):
 * - written (`VM.remove_from_other_config` of an older value, then `VM.add_to_other_config`, since adding an
 *   existing key fails: docs/xapi-facts.md, "other_config keys") before a boot field of a live domain is
 *   written, and at the end of a run that leaves the change pending;
 * - removed when a run rebuilds the domain or halts the VM;
 * - applies while the VM is not Halted and still runs the domain it names. A note written while Suspended
 *   (domid -1) holds until the VM is seen Halted or rebuilt: a resume keeps the old configuration.
 */
import type { XapiConnection } from "../client";
import { bootFieldsOf, type ConvergeOptions, type ExecutedStep, type VmRecord } from "../executor";
import { transitionsFrom } from "../model/lifecycle";
import { sizingOf } from "../model/sizing";
import { PowerState } from "../model/vocabulary";
import { changedBootPaths } from "./boot";
import { addKey, executedSetters, removeKey } from "./call-record";
import { type Bag, stringArray } from "./property-bag";
import { isSizingPath, sizingPathsOf } from "./sizing";
import type { VmCallRecord } from "./types";
import { domidOf } from "./vm-reads";

/** The `other_config` key holding a pending boot change (module comment). */
export const PENDING_KEY = "pulumi-xapi:pending-boot";

/** The pending-boot note of a VM record (module comment). */
export interface PendingMarker {
  /** The domain the note is about; -1 when written while Suspended. */
  readonly domid: number;
  readonly paths: readonly string[];
}

/** The note on the VM, or `undefined` (absent or unreadable: a human may have edited it). */
export function pendingMarkerOf(record: VmRecord): PendingMarker | undefined {
  const text = rawMarker(record);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as { domid?: unknown; paths?: unknown };
    if (typeof parsed.domid !== "number" || !Array.isArray(parsed.paths)) return undefined;
    return { domid: parsed.domid, paths: parsed.paths.filter((p): p is string => typeof p === "string") };
  } catch {
    return undefined;
  }
}

function rawMarker(record: VmRecord): string | undefined {
  const other = record.other_config as Record<string, unknown> | undefined;
  const text = other?.[PENDING_KEY];
  return typeof text === "string" ? text : undefined;
}

/** A pending change recorded by an older version in the outputs only (no note on the VM). */
export function legacyMarker(props: Bag): PendingMarker | undefined {
  const paths = stringArray(props.pendingBootChanges);
  return paths.length > 0 && typeof props.observedDomid === "number"
    ? { domid: props.observedDomid, paths }
    : undefined;
}

/** The note still describes the VM's domain (module comment). */
export function markerApplies(marker: PendingMarker | undefined, record: VmRecord): boolean {
  if (marker === undefined || record.power_state === PowerState.Halted) return false;
  // A suspend image keeps the domain it saved; a new domid means the domain was rebuilt since.
  if (record.power_state === PowerState.Suspended) return true;
  return marker.domid === -1 || marker.domid === domidOf(record);
}

/**
 * The paths still pending after a run: the boot paths when the boot change is pending, the vCPU and
 * memory paths (`sizing.ts`) when the sizing change is, each with those pending before it.
 */
export function pendingAfter(
  result: { bootChangePending: boolean; sizingPending?: boolean | undefined; steps: readonly ExecutedStep[] },
  stillPending: readonly string[],
  before: VmRecord,
): string[] {
  const written = afterLastRebuild(executedSetters(result.steps), result.steps);
  const boot = result.bootChangePending
    ? [...stillPending.filter((p) => !isSizingPath(p)), ...changedBootPaths(written, bootFieldsOf(before))]
    : [];
  const sizing =
    result.sizingPending === true
      ? [...stillPending.filter(isSizingPath), ...sizingPathsOf(written, sizingOf(before))]
      : [];
  return [...new Set([...boot, ...sizing])].sort();
}

/** The setters among `setters` that no later step of `steps` rebuilt the domain after. */
function afterLastRebuild(setters: readonly ExecutedStep[], steps: readonly ExecutedStep[]): ExecutedStep[] {
  const rebuild = lastRebuild(steps);
  return rebuild < 0 ? [...setters] : setters.filter((s) => steps.indexOf(s) > rebuild);
}

/** The index of the last step that built a new domain, or -1. */
function lastRebuild(steps: readonly ExecutedStep[]): number {
  let last = -1;
  steps.forEach((step, i) => {
    const row = transitionsFrom(step.from).find((t) => t.call === step.call);
    if (row?.rebuildsDomain === true) last = i;
  });
  return last;
}

/**
 * The boot changes a stopped run leaves pending: those still pending before it, plus the fields it wrote,
 * unless a later step rebuilt the domain or the VM is now Halted.
 */
export function unbuiltBootChanges(
  done: readonly ExecutedStep[],
  before: VmRecord,
  now: VmRecord,
  stillPending: readonly string[],
): string[] {
  if (now.power_state === PowerState.Halted) return [];
  const rebuild = lastRebuild(done);
  const written = done.slice(rebuild + 1).filter((s) => s.kind === "set" && s.skipped === undefined);
  // A live change (vCPUs plugged, a dynamic range on a Running VM) is never pending (`sizingPathsOf`).
  const paths = [
    ...changedBootPaths(written, bootFieldsOf(before)),
    ...sizingPathsOf(written, sizingOf(before)),
  ];
  return [...new Set([...(rebuild >= 0 ? [] : stillPending), ...paths])].sort();
}

/**
 * The executor's `beforeLiveBootWrite` hook: notes on the VM, before a boot field of its live domain is
 * written, that the domain will run an older configuration until the restart that applies it. A run
 * stopped in between (killed, crashed) leaves the change pending for the next run, instead of lost; the
 * run's end removes the note when the restart happened.
 */
export function notePendingFirst(
  conn: XapiConnection,
  ref: string,
  record: VmRecord,
  stillPending: readonly string[],
  calls: VmCallRecord[],
): { hook: NonNullable<ConvergeOptions["beforeLiveBootWrite"]>; fired: () => boolean } {
  let fired = false;
  return {
    hook: async (setters, power) => {
      const written = [
        ...changedBootPaths(setters, bootFieldsOf(record)),
        ...sizingPathsOf(setters, sizingOf(record)),
      ];
      const paths = [...new Set([...stillPending, ...written])].sort();
      if (paths.length === 0) return;
      fired = true;
      await recordPending(conn, ref, { ...record, power_state: power }, paths, calls);
    },
    fired: () => fired,
  };
}

/** Brings the VM's note in line with `pending` (no call when it already is). */
export async function recordPending(
  conn: XapiConnection,
  ref: string,
  record: VmRecord,
  pending: readonly string[],
  calls: VmCallRecord[],
): Promise<void> {
  const current = rawMarker(record);
  const domid = record.power_state === PowerState.Suspended ? -1 : domidOf(record);
  const wanted = pending.length === 0 ? undefined : JSON.stringify({ domid, paths: pending });
  if (current === wanted) return;
  const power = record.power_state;
  if (current !== undefined) {
    const reason =
      wanted === undefined
        ? "the domain now runs the VM's boot configuration: clear the pending-boot note"
        : "replace the pending-boot note";
    await removeKey(conn, calls, ref, power, PENDING_KEY, reason);
  }
  if (wanted !== undefined) {
    const reason = `note on the VM that its domain still runs the previous boot configuration (${pending.join(", ")})`;
    // The line shows the paths; the value (with the domain id) is in the VM's other_config.
    await addKey(conn, calls, ref, power, PENDING_KEY, wanted, reason, { paths: [...pending] });
  }
}
