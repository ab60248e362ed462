/** A process that used the client and then ends naturally logs its session out (the beforeExit hook). */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningSimulator } from "../simulator";
import { counters, ROOT, startSim } from "./client-sim";

const run = promisify(execFile);
let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSim();
});

afterAll(async () => {
  await sim.close();
});

describe("logout at exit", () => {
  it("logs the session out when the process runs out of work", async () => {
    const client = path.join(__dirname, "..", "provider", "client");
    const script = `
      const { getConnection } = require(${JSON.stringify(client)});
      getConnection({ url: ${JSON.stringify(sim.url)}, username: "${ROOT.username}", password: "${ROOT.password}" })
        .call("pool.get_all")
        .then((pools) => console.log(pools.length));`;
    const { stdout } = await run(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
      cwd: path.join(__dirname, ".."),
    });
    const c = await counters(sim);
    expect([stdout.trim(), c.logins, c.logouts, c.liveSessions]).toEqual(["1", 1, 1, 0]);
  });
});
