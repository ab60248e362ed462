/** The wire form of a lifecycle call: plain or as a task, and its arguments. */
import { LifecycleCall } from "../model/vocabulary";

/** XAPI's wire parameter order after the VM ref, per call (the plan names them, the wire is positional). */
const POSITIONAL_ARGS: Readonly<Record<string, readonly string[]>> = {
  [LifecycleCall.start]: ["start_paused", "force"],
  [LifecycleCall.resume]: ["start_paused", "force"],
};

/** The plan's named arguments of `call` in wire order. @throws TypeError on an argument the call does not take */
export function positionalArgs(call: string, args: Readonly<Record<string, unknown>>): unknown[] {
  const order = POSITIONAL_ARGS[call] ?? [];
  const unknown = Object.keys(args).filter((name) => !order.includes(name));
  if (unknown.length > 0) throw new TypeError(`${call}: unexpected plan arguments ${unknown.join(", ")}`);
  return order.map((name) => args[name] ?? false);
}

/**
 * Lifecycle calls sent as plain calls, not as `Async.*` tasks: pausing and unpausing only stop and
 * restart the scheduling of the domain's vCPUs: one hypercall, no guest involvement, no memory copy
 * (`pause`/`unpause` are `Xenctrl.domain_pause`/`domain_unpause` in xen-api's `ocaml/xenopsd/xc/domain.ml`),
 * so XAPI answers within the call and a task would only add its `event.from` share and `task.destroy`.
 */
export const PLAIN_CALLS: ReadonlySet<LifecycleCall> = new Set([LifecycleCall.pause, LifecycleCall.unpause]);
