/** xapi-sim persistence: exportState() / options.state round trip, InvalidStateError, onChange. */
import { describe, expect, it } from "vitest";
import { createModel, InvalidStateError } from "../simulator/model";
import { FIXTURE, harness, MASTER } from "./sim-model-helpers";

/** Exports through JSON, as a state file would, and loads it into a fresh model. */
async function restart(h: Awaited<ReturnType<typeof harness>>) {
  const state = JSON.parse(JSON.stringify(h.model.exportState()));
  h.model.close();
  return harness({ state });
}

describe("exportState / options.state", () => {
  it("keeps VMs, templates and power states across a restart", async () => {
    const h = await harness();
    await h.call("VM.start", FIXTURE.db.ref, false, false);
    const clone = (await h.call("VM.clone", FIXTURE.pvTemplate.ref, "kept")) as string;
    const before = (await h.control("vms")) as unknown[];
    const h2 = await restart(h);
    expect(await h2.control("vms")).toEqual(before);
    expect(await h2.call("VM.get_is_a_template", clone)).toBe(true);
  });

  it("keeps a Running VM running with its domid and host", async () => {
    const h = await harness();
    await h.call("VM.start_on", FIXTURE.db.ref, FIXTURE.member.ref, false, false);
    const domid = await h.call("VM.get_domid", FIXTURE.db.ref);
    const h2 = await restart(h);
    expect(await h2.powerState(FIXTURE.db.ref)).toBe("Running");
    expect(await h2.call("VM.get_domid", FIXTURE.db.ref)).toBe(domid);
    expect(await h2.call("VM.get_resident_on", FIXTURE.db.ref)).toBe(FIXTURE.member.ref);
  });

  it("halts a Crashed VM loaded without crashedCompat, which has no way out of Crashed", async () => {
    const h = await harness({ crashedCompat: true });
    await h.control("crashGuest", { uuid: FIXTURE.web.uuid });
    const state = JSON.parse(JSON.stringify(h.model.exportState()));
    const compat = await harness({ state, crashedCompat: true });
    const plain = await harness({ state });
    expect([await compat.powerState(FIXTURE.web.ref), await plain.powerState(FIXTURE.web.ref)]).toEqual([
      "Crashed",
      "Halted",
    ]);
    expect(await plain.call("VM.get_domid", FIXTURE.web.ref)).toBe(-1);
  });

  it("keeps boot fields, guest settings and boot records", async () => {
    const h = await harness();
    await h.call("VM.set_PV_args", FIXTURE.web.ref, "pending-args");
    await h.control("setGuest", { uuid: FIXTURE.web.uuid, ignoresCleanShutdown: true });
    const boot = await h.control("bootRecord", { uuid: FIXTURE.web.uuid });
    const h2 = await restart(h);
    expect(await h2.call("VM.get_PV_args", FIXTURE.web.ref)).toBe("pending-args");
    expect(await h2.control("bootRecord", { uuid: FIXTURE.web.uuid })).toEqual(boot);
    expect((await h2.fault("VM.clean_shutdown", FIXTURE.web.ref)).code).toBe("VM_SHUTDOWN_TIMEOUT");
  });

  it("issues new domids above the persisted ones", async () => {
    const h = await harness();
    const h2 = await restart(h);
    const domids = await Promise.all(
      [FIXTURE.web.ref, FIXTURE.pv.ref, FIXTURE.stubborn.ref].map((ref) => h2.call("VM.get_domid", ref)),
    );
    await h2.call("VM.start", FIXTURE.db.ref, false, false);
    expect(domids).not.toContain(await h2.call("VM.get_domid", FIXTURE.db.ref));
  });

  it("does not persist sessions", async () => {
    const h = await harness();
    const state = h.model.exportState();
    const model = createModel({ state });
    await expect(model.dispatch("VM.get_all", [h.session], MASTER)).rejects.toMatchObject({
      code: "SESSION_INVALID",
    });
  });

  it("resets to the loaded state, not the built-in fixture", async () => {
    const h = await harness();
    await h.call("VM.destroy", FIXTURE.legacy.ref);
    const h2 = await restart(h);
    await h2.control("reset");
    expect(await h2.call("VM.get_by_name_label", "legacy-01")).toEqual([]);
  });
});

describe("InvalidStateError", () => {
  it("rejects a value that is not a snapshot", () => {
    expect(() => createModel({ state: { hello: "world" } })).toThrowErrorMatchingInlineSnapshot(
      `[InvalidStateError: Invalid xapi-sim state: Invalid input: expected "xapi-sim-state" at format. Expected a value previously returned by exportState() (format "xapi-sim-state", version 1).]`,
    );
  });

  it("names the bad path inside a snapshot", async () => {
    const h = await harness();
    const state = JSON.parse(JSON.stringify(h.model.exportState()));
    state.vms[3].record.power_state = "Exploded";
    expect(() => createModel({ state })).toThrow(InvalidStateError);
    expect(() => createModel({ state })).toThrow(/at vms\.3\.record\.power_state/);
  });

  it.each([
    ["a VM map", "vms", "blocked_operations", null],
    ["a VM int", "vms", "memory_static_max", "8 GiB"],
    ["a VM set", "vms", "tags", "web"],
    ["a VBD flag", "vbds", "currently_attached", "yes"],
    ["a VDI map", "vdis", "sm_config", 1],
  ])("names %s of the wrong type instead of failing later", async (_what, table, field, value) => {
    const h = await harness();
    const state = JSON.parse(JSON.stringify(h.model.exportState()));
    state[table][1].record[field] = value;
    expect(() => createModel({ state })).toThrow(InvalidStateError);
    expect(() => createModel({ state })).toThrow(`at ${table}.1.record.${field}`);
  });
});

describe("onChange", () => {
  it("fires after a persistent change and stops after unsubscribe", async () => {
    const h = await harness();
    let calls = 0;
    const off = h.model.onChange(() => {
      calls += 1;
    });
    await h.call("VM.set_PV_args", FIXTURE.db.ref, "x");
    expect(calls).toBeGreaterThan(0);
    off();
    const seen = calls;
    await h.call("VM.set_PV_args", FIXTURE.db.ref, "y");
    expect(calls).toBe(seen);
  });

  it("does not fire for sessions", async () => {
    const h = await harness();
    let calls = 0;
    h.model.onChange(() => {
      calls += 1;
    });
    await h.model.dispatch("session.login_with_password", ["root", "xapi-sim"], MASTER);
    expect(calls).toBe(0);
  });
});
