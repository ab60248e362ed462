/**
 * The control API for tests and demos (documented in simulator/README.md, "Control API"). Each operation
 * takes a JSON body and returns a JSON-serialisable value; a bad body throws an Error whose message says
 * what was expected. The ops are grouped by concern: configuration, faults, holds, VMs, guests.
 */
import { XapiFault } from "../../api";
import type { Dispatcher } from "../dispatch";
import type { Engine, SimConfig } from "../engine";
import type { SimSnapshot } from "../snapshot";
import { ErrorCode } from "../vocabulary";

import { type ControlOp, fail } from "./body";
import { configOps } from "./config";
import { faultOps } from "./faults";
import { guestOps } from "./guest";
import { holdOps } from "./hold";
import { sizingOps } from "./sizing";
import { vmOps } from "./vms";

export type { ControlOp } from "./body";

/** Builds the control operations over the engine and dispatcher. */
export function buildControl(
  e: Engine,
  d: Dispatcher,
  o: { initial: SimSnapshot; initialConfig: SimConfig },
): Record<string, ControlOp> {
  const { config } = configOps(e);
  const { faults } = faultOps(e, d);
  const { hold, releaseHold } = holdOps(d);
  const { crashGuest, setPowerState, setFields, vms, bootRecord } = vmOps(e);
  const { setGuest, guestAction, disks, setGuestDisk } = guestOps(e);
  const { domain, licence, hostResources } = sizingOps(e);
  return {
    reset: () => {
      for (const [task, rt] of e.taskRunner.runtime)
        rt.controller.abort(new XapiFault(ErrorCode.taskCancelled, [task]));
      for (const task of [...e.tasks.rows.keys()]) e.taskRunner.destroy(task);
      Object.assign(e.config, structuredClone(o.initialConfig));
      e.persistence.load(o.initial);
      releaseHold();
      d.clear();
      return { vms: e.vms.size };
    },
    counters: () => ({
      calls: { ...d.calls },
      logins: d.logins,
      logouts: d.logouts,
      liveSessions: e.sessions.size,
      liveTasks: e.tasks.size,
    }),
    callLog: (body) => {
      const since = body.since === undefined ? 0 : body.since;
      if (typeof since !== "number") fail('"since" must be a sequence number');
      return d.log.filter((entry) => entry.seq > since).sort((a, b) => a.seq - b.seq);
    },
    faults,
    clearFaults: () => faults({ clear: true }),
    hold,
    invalidateSessions: () => {
      const refs = [...e.sessions.rows.keys()];
      for (const ref of refs) e.sessions.remove(ref);
      return { invalidated: refs.length };
    },
    crashGuest,
    guestAction,
    setPowerState,
    setFields,
    setGuest,
    vms,
    bootRecord,
    disks,
    setGuestDisk,
    domain,
    licence,
    hostResources,
    config,
    tasks: () =>
      e.tasks.entries().map(([ref, t]) => ({
        ref,
        uuid: t.uuid,
        name_label: t.name_label,
        status: t.status,
        error_info: t.error_info,
        result: t.result,
      })),
    state: () => e.persistence.dump(),
  };
}
