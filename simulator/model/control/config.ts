import type { Engine, SimConfig } from "../engine";
import { PROFILES } from "../profiles";
import { SimPowerState } from "../vocabulary";

import { type ControlOp, fail, optBool, optNumber } from "./body";

/** The public config view (users are not echoed). */
export function configView(c: SimConfig): Record<string, unknown> {
  const p = PROFILES[c.profile];
  return {
    profile: c.profile,
    profileDescription: p.description,
    apiVersion: `${p.apiVersionMajor}.${p.apiVersionMinor}`,
    crashedCompat: c.crashedCompat,
    defaultOperationMs: c.defaultOperationMs,
    operationMs: { ...c.operationMs },
    cleanShutdownTimeoutMs: c.cleanShutdownTimeoutMs,
    operationWaitMs: c.operationWaitMs,
    authFailureDelayMs: c.authFailureDelayMs,
    latencyMs: c.latencyMs,
    masterAddress: c.masterAddress,
    memberAddress: c.memberAddress,
  };
}

/** The ops that change the configuration. */
export function configOps(e: Engine): { config: ControlOp } {
  const setCrashedCompat = (on: boolean): void => {
    if (e.config.crashedCompat === on) return;
    e.config.crashedCompat = on;
    for (const [ref, vm] of e.vms.entries()) {
      // Leaving compat mode: a Crashed VM is treated as destroyed by its crash (documented deviation).
      if (!on && vm.power_state === SimPowerState.Crashed) e.vmState.enter(ref, SimPowerState.Halted);
      else e.vmState.update(ref, () => undefined);
    }
  };

  const config = (body: Record<string, unknown>): Record<string, unknown> => {
    if (body.profile !== undefined && body.profile !== e.config.profile)
      fail(
        `"profile" is fixed when xapi-sim starts (--profile, or the state file's); this one plays "${e.config.profile}"`,
      );
    const crashedCompat = optBool(body, "crashedCompat");
    const numbers = [
      "defaultOperationMs",
      "cleanShutdownTimeoutMs",
      "operationWaitMs",
      "authFailureDelayMs",
      "latencyMs",
    ] as const;
    const values = numbers.map((k) => [k, optNumber(body, k)] as const);
    const opMs = body.operationMs;
    if (opMs !== undefined) {
      if (opMs === null || typeof opMs !== "object" || Array.isArray(opMs))
        fail('"operationMs" must be an object {op: ms}');
      for (const [k, v] of Object.entries(opMs)) {
        if (typeof v !== "number" || v < 0) fail(`"operationMs.${k}" must be a non-negative number`);
      }
    }
    for (const [k, v] of values) if (v !== undefined) e.config[k] = v;
    if (opMs !== undefined)
      e.config.operationMs = { ...e.config.operationMs, ...(opMs as Record<string, number>) };
    if (crashedCompat !== undefined) setCrashedCompat(crashedCompat);
    return configView(e.config);
  };

  return { config };
}
