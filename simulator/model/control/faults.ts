import type { Dispatcher, InjectedFault } from "../dispatch";
import type { Engine } from "../engine";

import { type ControlOp, fail, optNumber } from "./body";

export function faultOps(e: Engine, d: Dispatcher): { faults: ControlOp } {
  const faults = (body: Record<string, unknown>): unknown => {
    if (body.clear === true) {
      d.faults = [];
      e.config.latencyMs = 0;
      return { faults: [], latencyMs: 0 };
    }
    const latencyMs = optNumber(body, "latencyMs");
    if (latencyMs !== undefined) e.config.latencyMs = latencyMs;
    if (body.method !== undefined) {
      if (typeof body.method !== "string" || body.method === "") fail('"method" must be a wire method name');
      const count = body.count === undefined ? 1 : body.count;
      if (typeof count !== "number" || !Number.isInteger(count) || count < 1)
        fail('"count" must be a positive integer');
      let fault: InjectedFault;
      if (body.drop === true) {
        fault = { method: body.method, drop: true, remaining: count };
      } else {
        if (typeof body.code !== "string" || body.code === "")
          fail('expected "code" (a XAPI error code) or "drop": true');
        const params = body.params ?? [];
        if (!Array.isArray(params) || !params.every((p) => typeof p === "string"))
          fail('"params" must be an array of strings');
        fault = { method: body.method, code: body.code, params: params as string[], remaining: count };
      }
      d.faults.push(fault);
    } else if (latencyMs === undefined && Object.keys(body).length > 0) {
      fail(
        "expected {method, code, params?, count?}, {method, drop: true, count?}, {latencyMs} or {clear: true}",
      );
    }
    return { faults: d.faults.map((f) => ({ ...f })), latencyMs: e.config.latencyMs };
  };

  return { faults };
}
