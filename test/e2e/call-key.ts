/**
 * One comparable line per XAPI call with its key arguments, shared by the end-to-end tests that compare a
 * preview's plan, `lastCalls` and the simulator's call log (preview-apply.test.ts, profiles.test.ts).
 */

/** Canonical JSON (sorted keys), so equal values print equally. */
export function json(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : typeof v === "object" && v !== null
        ? Object.fromEntries(
            Object.entries(v)
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              .map(([k, x]) => [k, canonical(x)]),
          )
        : v;
  return JSON.stringify(canonical(value)) ?? "undefined";
}

/** A call with its key arguments, in one comparable line (plans, lastCalls and the log all map to it). */
export function callKey(call: string, args: Readonly<Record<string, unknown>>): string {
  if (call === "VM.clone") return `VM.clone(new_name: ${json(args.new_name)})`;
  if (call === "VM.add_to_other_config" || call === "VM.remove_from_other_config")
    return `${call}(key: ${json(args.key)})`;
  if (call === "VBD.set_bootable")
    return `VBD.set_bootable(userdevice: ${json(args.userdevice)}, value: ${json(args.value)})`;
  if (call === "VDI.destroy") return `VDI.destroy(userdevice: ${json(args.userdevice)})`;
  if (call === "VM.start" || call === "VM.resume")
    return `${call}(start_paused: ${json(args.start_paused)}, force: ${json(args.force)})`;
  if (call.startsWith("VM.set_")) return `${call}(value: ${json(args.value)})`;
  return call;
}
