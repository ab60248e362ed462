/**
 * xapi-sim for the tests that drive the provider's methods (provider/resource/impl.ts) directly: they reach
 * it as a Pulumi program's provider does, through `XAPI_URL`, `XAPI_USERNAME` and `XAPI_PASSWORD`.
 */
import { afterAll, beforeAll, beforeEach } from "vitest";
import { closeAllConnections } from "../provider/client";
import type { RunningSimulator } from "../simulator";
import { ROOT, control as simControl, startSim } from "./client-sim";

/** The simulator of one test file. */
export interface ProviderSim {
  /** The running simulator (only inside the file's tests and hooks). */
  readonly sim: RunningSimulator;
  /** Runs one control operation of the simulator (`reset`, `state`, `bootRecord`, …). */
  control<T = unknown>(op: string, body?: Record<string, unknown>): Promise<T>;
}

/**
 * Registers the calling file's hooks: before all its tests, start xapi-sim (operations of 2 ms) and point
 * the provider's environment at it; before each test, reset it to its fixture; after all, close the
 * provider's connections, stop it and clear the environment.
 */
export function useProviderSim(): ProviderSim {
  let running: RunningSimulator | undefined;
  const target: ProviderSim = {
    get sim() {
      if (running === undefined) throw new Error("xapi-sim runs only inside the file's tests and hooks");
      return running;
    },
    control: (op, body = {}) => simControl(target.sim, op, body),
  };

  beforeAll(async () => {
    running = await startSim({ defaultOperationMs: 2 });
    process.env.XAPI_URL = running.url;
    process.env.XAPI_USERNAME = ROOT.username;
    process.env.XAPI_PASSWORD = ROOT.password;
  });

  afterAll(async () => {
    await closeAllConnections();
    await target.sim.close();
    delete process.env.XAPI_URL;
    delete process.env.XAPI_USERNAME;
    delete process.env.XAPI_PASSWORD;
  });

  beforeEach(async () => {
    await target.control("reset");
  });

  return target;
}
