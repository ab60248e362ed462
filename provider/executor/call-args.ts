/** The wire form of a lifecycle call's arguments. */
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
