/**
 * xapi-sim dispatch: the order of checks of xapi-semantics §8.4 and §4.2, name resolution,
 * typed wire values, and allowed_operations (§4.5).
 */
import { describe, expect, it } from "vitest";
import { XDateTime, XFloat, XInt32 } from "../simulator/api";
import { FIXTURE, harness, MASTER, MEMBER } from "./sim-model-helpers";

const BAD_SESSION = "OpaqueRef:00000000-0000-0000-0000-000000000000";

describe("method resolution (§8.1, §8.4 step 2)", () => {
  it("answers MESSAGE_METHOD_UNKNOWN [name] for an unknown method", async () => {
    const h = await harness();
    const fault = await h.fault("VM.frobnicate", FIXTURE.db.ref);
    expect([fault.code, ...fault.params]).toEqual(["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"]);
  });

  it("checks a first parameter as a session before reporting an unknown method (extension forwarding)", async () => {
    const h = await harness();
    await expect(h.model.dispatch("VM.frobnicate", [BAD_SESSION], MASTER)).rejects.toMatchObject({
      code: "SESSION_INVALID",
      params: [BAD_SESSION],
    });
  });

  it("answers MESSAGE_METHOD_UNKNOWN for an unknown method without parameters", async () => {
    const h = await harness();
    await expect(h.model.dispatch("VM.frobnicate", [], MASTER)).rejects.toMatchObject({
      code: "MESSAGE_METHOD_UNKNOWN",
      params: ["VM.frobnicate"],
    });
  });

  it("strips the Async. prefix before reporting an unknown method", async () => {
    const h = await harness();
    const fault = await h.fault("Async.VM.frobnicate", FIXTURE.db.ref);
    expect(fault.params).toEqual(["VM.frobnicate"]);
  });

  it("accepts the Class_method alternative wire name", async () => {
    const h = await harness();
    expect(await h.call("VM_get_power_state", FIXTURE.web.ref)).toBe("Running");
  });

  it("does not accept Class_method together with Async.", async () => {
    const h = await harness();
    const fault = await h.fault("Async.VM_start", FIXTURE.db.ref, false, false);
    expect(fault.code).toBe("MESSAGE_METHOD_UNKNOWN");
  });

  it("answers a message without async mode called as Async. with XAPI's Fault", async () => {
    const h = await harness();
    const fault = await h.fault("Async.VM.set_PV_args", FIXTURE.db.ref, "quiet");
    expect([fault.code, ...fault.params]).toEqual([
      "Fault",
      "No async mode for this operation (rpc: VM.set_PV_args)",
    ]);
  });

  it("lists methods without a session, including every get_all_records clients need", async () => {
    const h = await harness();
    const methods = (await h.model.dispatch("system.listMethods", [], MASTER)) as string[];
    for (const cls of ["pool", "host", "VM", "task", "VIF", "network", "VM_guest_metrics", "VM_metrics"])
      expect(methods).toContain(`${cls}.get_all_records`);
    expect(methods).toContain("event.from");
  });

  it("lists no message XAPI's datamodel lacks: sessions cannot be enumerated, pools have no get_by_name_label", async () => {
    const h = await harness();
    const methods = (await h.model.dispatch("system.listMethods", [], MASTER)) as string[];
    expect(methods.filter((m) => /^session\.get_all(_records)?$|^pool\.get_by_name_label$/.test(m))).toEqual(
      [],
    );
    expect((await h.fault("session.get_all_records")).code).toBe("MESSAGE_METHOD_UNKNOWN");
  });

  it("serves get_all_records for every listed class", async () => {
    const h = await harness();
    const methods = (await h.model.dispatch("system.listMethods", [], MASTER)) as string[];
    const classes = methods.filter((m) => m.endsWith(".get_all_records"));
    for (const m of classes) expect(typeof (await h.call(m))).toBe("object");
  });
});

describe("arity (§8.4 step 3)", () => {
  it("counts parameters without the session: VM.start with 2 → [VM.start, 3, 2]", async () => {
    const h = await harness();
    const fault = await h.fault("VM.start", FIXTURE.db.ref, false);
    expect([fault.code, ...fault.params]).toEqual(["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "3", "2"]);
  });

  it("treats defaulted parameters as optional: login takes 2 to 4", async () => {
    const h = await harness();
    for (const params of [
      ["root", "xapi-sim"],
      ["root", "xapi-sim", "1.1"],
      ["root", "xapi-sim", "1.1", "t"],
    ]) {
      expect(await h.model.dispatch("session.login_with_password", params, MASTER)).toMatch(/^OpaqueRef:/);
    }
    await expect(h.model.dispatch("session.login_with_password", ["root"], MASTER)).rejects.toMatchObject({
      code: "MESSAGE_PARAMETER_COUNT_MISMATCH",
      params: ["session.login_with_password", "2", "1"],
    });
    await expect(
      h.model.dispatch("session.login_with_password", ["root", "xapi-sim", "1.1", "t", "extra"], MASTER),
    ).rejects.toMatchObject({ params: ["session.login_with_password", "2", "5"] });
  });

  it("checks arity before the session", async () => {
    const h = await harness();
    await expect(h.model.dispatch("VM.start", [BAD_SESSION, FIXTURE.db.ref], MASTER)).rejects.toMatchObject({
      code: "MESSAGE_PARAMETER_COUNT_MISMATCH",
    });
  });
});

describe("session check (§8.4 step 5)", () => {
  it("answers SESSION_INVALID [ref] for an unknown session", async () => {
    const h = await harness();
    await expect(h.model.dispatch("VM.get_all", [BAD_SESSION], MASTER)).rejects.toMatchObject({
      code: "SESSION_INVALID",
      params: [BAD_SESSION],
    });
  });

  it("checks the session before the object handle", async () => {
    const h = await harness();
    await expect(
      h.model.dispatch("VM.start", [BAD_SESSION, "OpaqueRef:nope", false, false], MASTER),
    ).rejects.toMatchObject({ code: "SESSION_INVALID" });
  });

  it("answers SESSION_INVALID [ref] for an unknown session on the member too", async () => {
    const h = await harness();
    await expect(h.model.dispatch("VM.get_all", [BAD_SESSION], MEMBER)).rejects.toMatchObject({
      code: "SESSION_INVALID",
      params: [BAD_SESSION],
    });
  });

  it("answers HOST_IS_SLAVE [master address] for a session call on the member", async () => {
    const h = await harness({ masterAddress: "10.0.0.1" });
    await expect(h.model.dispatch("VM.get_all", [h.session], MEMBER)).rejects.toMatchObject({
      code: "HOST_IS_SLAVE",
      params: ["10.0.0.1"],
    });
  });
});

describe("object lookups (§8.8)", () => {
  it("answers HANDLE_INVALID [VM, ref] for a dead VM ref", async () => {
    const h = await harness();
    const fault = await h.fault("VM.start", "OpaqueRef:dead", false, false);
    expect([fault.code, ...fault.params]).toEqual(["HANDLE_INVALID", "VM", "OpaqueRef:dead"]);
  });

  it("answers UUID_INVALID [VM, uuid] for an unknown uuid", async () => {
    const h = await harness();
    const fault = await h.fault("VM.get_by_uuid", "no-such-uuid");
    expect([fault.code, ...fault.params]).toEqual(["UUID_INVALID", "VM", "no-such-uuid"]);
  });

  it("finds VMs by uuid and by exact name label (a set)", async () => {
    const h = await harness();
    expect(await h.call("VM.get_by_uuid", FIXTURE.web.uuid)).toBe(FIXTURE.web.ref);
    expect(await h.call("VM.get_by_name_label", "web-01")).toEqual([FIXTURE.web.ref]);
    expect(await h.call("VM.get_by_name_label", "web")).toEqual([]);
  });

  it("lists templates and control domains in VM.get_all", async () => {
    const h = await harness();
    const all = (await h.call("VM.get_all")) as string[];
    expect(all).toEqual(
      expect.arrayContaining([FIXTURE.hvmTemplate.ref, FIXTURE.dom0Master.ref, FIXTURE.web.ref]),
    );
  });

  it("reports the pool master and the hosts' API version and xapi version", async () => {
    const h = await harness();
    const [pool] = (await h.call("pool.get_all")) as string[];
    const master = (await h.call("pool.get_master", pool)) as string;
    expect(await h.call("host.get_API_version_major", master)).toBe(2);
    const record = (await h.call("host.get_record", master)) as Record<string, unknown>;
    expect(record.address).toBe("127.0.0.1");
    expect((record.software_version as Record<string, string>).xapi).toMatch(/^\d+\.\d+$/);
  });
});

describe("typed wire values", () => {
  it("returns int64 as numbers, floats as XFloat, datetimes as XDateTime", async () => {
    const h = await harness();
    const vm = (await h.call("VM.get_record", FIXTURE.web.ref)) as Record<string, unknown>;
    expect(typeof vm.memory_static_max).toBe("number");
    expect(vm.HVM_shadow_multiplier).toBeInstanceOf(XFloat);
    expect(vm.snapshot_time).toBeInstanceOf(XDateTime);
    expect(await h.call("VM.get_HVM_shadow_multiplier", FIXTURE.web.ref)).toEqual(new XFloat(1));
  });

  it("returns valid_ref_counts as XInt32", async () => {
    const h = await harness();
    const from = (await h.call("event.from", ["vm"], "", 0)) as { valid_ref_counts: Record<string, unknown> };
    expect(from.valid_ref_counts.task).toEqual(new XInt32(0));
    expect(from.valid_ref_counts.vm).toBeInstanceOf(XInt32);
  });
});

describe("check_operation_error order (§4.2)", () => {
  it("reports OPERATION_BLOCKED before the power state", async () => {
    const h = await harness();
    await h.call("VM.add_to_blocked_operations", FIXTURE.web.ref, "start", "1011");
    const fault = await h.fault("VM.start", FIXTURE.web.ref, false, false);
    expect([fault.code, ...fault.params]).toEqual(["OPERATION_BLOCKED", FIXTURE.web.ref, "1011"]);
  });

  it("reports the power state before VM_IS_TEMPLATE", async () => {
    const h = await harness();
    const fault = await h.fault("VM.hard_shutdown", FIXTURE.hvmTemplate.ref);
    expect([fault.code, ...fault.params]).toEqual([
      "VM_BAD_POWER_STATE",
      FIXTURE.hvmTemplate.ref,
      "paused, suspended, running",
      "halted",
    ]);
  });

  it("answers VM_IS_TEMPLATE [vm, op] for starting a template", async () => {
    const h = await harness();
    const fault = await h.fault("VM.start", FIXTURE.hvmTemplate.ref, false, false);
    expect([fault.code, ...fault.params]).toEqual(["VM_IS_TEMPLATE", FIXTURE.hvmTemplate.ref, "start"]);
  });

  it("refuses to destroy a default template", async () => {
    const h = await harness();
    const fault = await h.fault("VM.destroy", FIXTURE.pvTemplate.ref);
    expect([fault.code, ...fault.params]).toEqual(["VM_IS_TEMPLATE", FIXTURE.pvTemplate.ref, "destroy"]);
  });

  it("refuses lifecycle ops on a control domain", async () => {
    const h = await harness();
    const fault = await h.fault("VM.hard_shutdown", FIXTURE.dom0Master.ref);
    expect([fault.code, ...fault.params]).toEqual([
      "OPERATION_NOT_ALLOWED",
      "This operation is not allowed on a control domain",
    ]);
  });

  it("answers assert_operation_valid with the check's error, or void", async () => {
    const h = await harness();
    expect(await h.call("VM.assert_operation_valid", FIXTURE.web.ref, "pause")).toBe("");
    const fault = await h.fault("VM.assert_operation_valid", FIXTURE.web.ref, "start");
    expect([fault.code, ...fault.params]).toEqual([
      "VM_BAD_POWER_STATE",
      FIXTURE.web.ref,
      "halted",
      "running",
    ]);
  });
});

describe("allowed_operations (§4.5)", () => {
  const expected = {
    Halted: [
      "snapshot",
      "clone",
      "copy",
      "start",
      "start_on",
      "migrate_send",
      "changing_dynamic_range",
      "changing_static_range",
      "changing_shadow_memory",
      "changing_NVRAM",
      "make_into_template",
      "export",
      "metadata_export",
      "destroy",
      "create_vtpm",
    ],
    Running: [
      "snapshot",
      "checkpoint",
      "pause",
      "clean_shutdown",
      "clean_reboot",
      "hard_shutdown",
      "hard_reboot",
      "suspend",
      "pool_migrate",
      "migrate_send",
      "changing_dynamic_range",
      "changing_VCPUs_live",
      "metadata_export",
      "sysprep",
    ],
    Paused: ["snapshot", "checkpoint", "unpause", "hard_shutdown", "hard_reboot", "metadata_export"],
    Suspended: [
      "snapshot",
      "checkpoint",
      "hard_shutdown",
      "resume",
      "resume_on",
      "migrate_send",
      "export",
      "metadata_export",
      "destroy",
    ],
  } as const;

  it.each(Object.entries(expected))(
    "lists XAPI's set for a plain %s VM with PV drivers",
    async (state, ops) => {
      const h = await harness();
      if (state !== "Halted") await h.control("setPowerState", { uuid: FIXTURE.db.uuid, powerState: state });
      const allowed = (await h.call("VM.get_allowed_operations", FIXTURE.db.ref)) as string[];
      expect([...allowed].sort()).toEqual([...ops].sort());
    },
  );

  it("keeps only hard_shutdown and hard_reboot during a clean_shutdown, and records current_operations", async () => {
    const h = await harness({ operationMs: { clean_shutdown: 200 } });
    const task = (await h.call("Async.VM.clean_shutdown", FIXTURE.web.ref)) as string;
    await new Promise((r) => setTimeout(r, 30));
    const record = (await h.call("VM.get_record", FIXTURE.web.ref)) as Record<string, unknown>;
    expect(record.current_operations).toEqual({ [task]: "clean_shutdown" });
    expect([...(record.allowed_operations as string[])].sort()).toEqual(["hard_reboot", "hard_shutdown"]);
    await h.settle(task);
    expect(await h.call("VM.get_current_operations", FIXTURE.web.ref)).toEqual({});
  });
});
