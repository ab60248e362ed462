/**
 * The XAPI messages xapi-sim implements. Each XAPI class registers its messages in its own file of
 * `classes/` (how a message is declared: `classes/registry.ts`); this file assembles them, keeps what the
 * profile serves and adds `system.listMethods`.
 */
import { XapiFault } from "../api";
import { registerEvent } from "./classes/event";
import { registerHost } from "./classes/host";
import { registerHostMetrics } from "./classes/host-metrics";
import { registerMessage } from "./classes/message";
import { registerPbd } from "./classes/pbd";
import { registerPif } from "./classes/pif";
import { registerPool } from "./classes/pool";
import { definer, type MethodSpec } from "./classes/registry";
import { registerSession } from "./classes/session";
import { registerStorage } from "./classes/storage";
import { registerTask } from "./classes/task";
import { registerVm } from "./classes/vm";
import { registerVmDevices } from "./classes/vm-devices";
import { registerVmLifecycle } from "./classes/vm-lifecycle";
import type { Engine } from "./engine";
import { messageRemoved, servesField, servesMessage } from "./profiles";
import { CLASS_FIELDS } from "./records";
import { ErrorCode } from "./vocabulary";

export { collectEvents, formatToken, parseToken, validRefCounts } from "./classes/event";
export type { Call, MethodSpec } from "./classes/registry";

/** Builds the method table over an engine: every class's messages, then what the profile serves. */
export function buildMethods(e: Engine): Map<string, MethodSpec> {
  const methods = new Map<string, MethodSpec>();
  const def = definer(methods);
  registerSession(def, e);
  registerPool(def, e);
  registerHost(def, e);
  registerTask(def, e);
  registerVm(def, e);
  registerVmLifecycle(def, e);
  registerStorage(def, e);
  registerVmDevices(def, e);
  registerHostMetrics(def, e);
  registerPif(def, e);
  registerPbd(def, e);
  registerMessage(def, e);
  registerEvent(def, e);
  restrictToProfile(methods, e);
  def("system.listMethods", [], () => [...methods.keys()], { session: false });
  return methods;
}

/**
 * Messages newer than the profile's release do not exist (MESSAGE_METHOD_UNKNOWN, not listed); removed
 * ones stay listed and answer MESSAGE_REMOVED after the session check (gen_server.ml).
 */
function restrictToProfile(methods: Map<string, MethodSpec>, e: Engine): void {
  const accessorOfHiddenField = (name: string): boolean => {
    const m = /^([A-Za-z_]+)\.(?:get|set|add_to|remove_from)_(.+)$/.exec(name);
    const cls = m?.[1] ?? "";
    const field = m?.[2] ?? "";
    return (CLASS_FIELDS[cls] ?? []).includes(field) && !servesField(e.profile, cls, field);
  };
  for (const [name, spec] of [...methods]) {
    if (!servesMessage(e.profile, name) || accessorOfHiddenField(name)) methods.delete(name);
    else if (messageRemoved(e.profile, name)) {
      methods.set(name, {
        ...spec,
        impl: () => {
          throw new XapiFault(ErrorCode.messageRemoved, []);
        },
      });
    }
  }
}
