/**
 * Shared helpers for the xapi-sim model tests: a model with fast timings, a logged-in session,
 * and small wrappers that call `dispatch` the way a client would.
 */
import type { CallMeta, XValue } from "../simulator/api";
import { XapiFault } from "../simulator/api";
import { createModel, FIXTURE, type SimModel, type SimModelOptions } from "../simulator/model";

export const MASTER: CallMeta = { host: "master", transport: "jsonrpc" };
export const MEMBER: CallMeta = { host: "member", transport: "xmlrpc" };

/** One event record as `event.from` and `event.next` return it. */
export interface SimEvent {
  id: string;
  timestamp: string;
  class: string;
  operation: string;
  ref: string;
  snapshot?: Record<string, unknown>;
}

export interface Harness {
  readonly model: SimModel;
  readonly session: string;
  call(method: string, ...args: unknown[]): Promise<XValue>;
  /** Calls and returns the XapiFault it throws (fails the test if it succeeds). */
  fault(method: string, ...args: unknown[]): Promise<XapiFault>;
  control(name: string, body?: Record<string, unknown>): Promise<unknown>;
  powerState(vm: string): Promise<string>;
  /** Waits until a task leaves `pending` and returns its record. */
  settle(task: string): Promise<Record<string, unknown>>;
}

/** A model with 1 ms ops and short timeouts, plus a root session on the master. */
export async function harness(options: SimModelOptions = {}): Promise<Harness> {
  const model = createModel({
    defaultOperationMs: 1,
    cleanShutdownTimeoutMs: 40,
    operationWaitMs: 200,
    ...options,
  });
  const session = (await model.dispatch(
    "session.login_with_password",
    ["root", "xapi-sim"],
    MASTER,
  )) as string;
  const call = (method: string, ...args: unknown[]): Promise<XValue> =>
    model.dispatch(method, [session, ...args], MASTER);
  const h: Harness = {
    model,
    session,
    call,
    fault: async (method, ...args) => {
      try {
        await call(method, ...args);
      } catch (error) {
        if (error instanceof XapiFault) return error;
        throw error;
      }
      throw new Error(`${method} succeeded; a XAPI fault was expected`);
    },
    control: async (name, body = {}) => {
      const op = model.control[name];
      if (!op) throw new Error(`no control op ${name}`);
      return op(body);
    },
    powerState: async (vm) => (await call("VM.get_power_state", vm)) as string,
    settle: async (task) => {
      for (let i = 0; i < 2000; i++) {
        const record = (await call("task.get_record", task)) as Record<string, unknown>;
        if (record.status !== "pending") return record;
        await new Promise((r) => setTimeout(r, 2));
      }
      throw new Error(`task ${task} never settled`);
    },
  };
  return h;
}

export { FIXTURE };
