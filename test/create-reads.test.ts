/**
 * The reads of `create` (provider/resource/create.ts, "Calls") against xapi-sim, through the provider's own
 * client: a clone born with its birth name is not asked its uuid (the record read once it is born says
 * it), and a VM a stopped create left finished is taken with the record its search read.
 */
import { afterEach, describe, expect, it } from "vitest";
import { closeAllConnections, getConnection } from "../provider/client";
import { createVm } from "../provider/resource/create";
import { InternalKey } from "../provider/resource/types";
import type { RunningSimulator } from "../simulator";
import { callLog, control, ROOT, startSim, type VmSummary } from "./client-sim";

const URN = "urn:pulumi:reads::test::pulumi-nodejs:dynamic/xapi:Vm::reads-vm";

let sim: RunningSimulator | undefined;

afterEach(async () => {
  await closeAllConnections();
  await sim?.close();
  sim = undefined;
});

/** The calls after `since`, task waiting left out (its number depends on timing). */
async function callsSince(since: number): Promise<string[]> {
  if (sim === undefined) throw new Error("no simulator");
  return (await callLog(sim, since))
    .map((c) => c.method)
    .filter((m) => m !== "event.from" && m !== "task.destroy" && m !== "session.login_with_password");
}

async function lastSeq(): Promise<number> {
  if (sim === undefined) throw new Error("no simulator");
  return (await callLog(sim)).at(-1)?.seq ?? 0;
}

const declared = {
  template: "Other install media",
  nameLabel: "reads-vm",
  powerState: "Halted",
  [InternalKey.urn]: URN,
};

describe("create's reads", () => {
  it("a clone born with its birth name is not asked its uuid: the record read once it is born gives the id", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, ...ROOT });
    const since = await lastSeq();
    const { id } = await createVm(conn, { ...declared });
    const made = await callsSince(since);
    const named = (await control<VmSummary[]>(sim, "vms")).filter((v) => v.name_label === "reads-vm");
    expect({
      getUuid: made.filter((m) => m === "VM.get_uuid").length,
      ids: named.map((v) => v.uuid),
    }).toEqual({
      getUuid: 0,
      ids: [id],
    });
  });

  it("a VM a stopped create left finished is taken, not cloned, and read once (by its search)", async () => {
    sim = await startSim();
    const conn = getConnection({ url: sim.url, ...ROOT });
    // The first create finished on XAPI; the engine never saved it (killed after its last call).
    const { id: left } = await createVm(conn, { ...declared });
    const since = await lastSeq();
    const { id } = await createVm(conn, { ...declared, [InternalKey.leftovers]: "named" });
    const made = await callsSince(since);
    expect({ id, made }).toEqual({
      id: left,
      // The pool's identity was read by the first create (once per connection); Halted: nothing to converge.
      made: ["VM.get_by_name_label", "VM.get_by_name_label", "VM.get_record"],
    });
  });
});
