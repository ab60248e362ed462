/** xapi-sim sessions (xapi-semantics §8.5): login, users, originator, failures, logout, invalidation. */
import { describe, expect, it } from "vitest";
import { createModel } from "../simulator/model";
import { harness, MASTER, MEMBER } from "./sim-model-helpers";

describe("session.login_with_password", () => {
  it("records the originator on the session", async () => {
    const h = await harness();
    const s = (await h.model.dispatch(
      "session.login_with_password",
      ["root", "xapi-sim", "2.21", "my-tool"],
      MASTER,
    )) as string;
    expect(await h.model.dispatch("session.get_originator", [s, s], MASTER)).toBe("my-tool");
  });

  it("accepts only the configured users", async () => {
    const model = createModel({ users: { alice: "s3cret" } });
    expect(await model.dispatch("session.login_with_password", ["alice", "s3cret"], MASTER)).toMatch(
      /^OpaqueRef:/,
    );
    await expect(
      model.dispatch("session.login_with_password", ["root", "xapi-sim"], MASTER),
    ).rejects.toMatchObject({
      code: "SESSION_AUTHENTICATION_FAILED",
    });
  });

  it("fails a wrong password with SESSION_AUTHENTICATION_FAILED [uname, msg]", async () => {
    const h = await harness();
    await expect(
      h.model.dispatch("session.login_with_password", ["root", "nope"], MASTER),
    ).rejects.toMatchObject({
      code: "SESSION_AUTHENTICATION_FAILED",
      params: ["root", "Authentication failure"],
    });
  });

  it("delays a failed login by authFailureDelayMs", async () => {
    const h = await harness({ authFailureDelayMs: 80 });
    const started = Date.now();
    await expect(
      h.model.dispatch("session.login_with_password", ["root", "nope"], MASTER),
    ).rejects.toBeDefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
  });

  it("answers HOST_IS_SLAVE [master address] on the member", async () => {
    const h = await harness({ masterAddress: "192.0.2.10" });
    await expect(
      h.model.dispatch("session.login_with_password", ["root", "xapi-sim"], MEMBER),
    ).rejects.toMatchObject({
      code: "HOST_IS_SLAVE",
      params: ["192.0.2.10"],
    });
  });

  it("creates a session record with XAPI's fields", async () => {
    const h = await harness();
    const record = (await h.call("session.get_record", h.session)) as Record<string, unknown>;
    expect(Object.keys(record).sort()).toEqual(
      [
        "uuid",
        "this_host",
        "this_user",
        "last_active",
        "pool",
        "other_config",
        "is_local_superuser",
        "subject",
        "validation_time",
        "auth_user_sid",
        "auth_user_name",
        "rbac_permissions",
        "tasks",
        "parent",
        "originator",
        "client_certificate",
      ].sort(),
    );
    expect(record.is_local_superuser).toBe(true);
  });
});

describe("session.logout and invalidation", () => {
  it("makes the session invalid after logout", async () => {
    const h = await harness();
    expect(await h.call("session.logout")).toBe("");
    await expect(h.call("VM.get_all")).rejects.toMatchObject({
      code: "SESSION_INVALID",
      params: [h.session],
    });
  });

  it("invalidates every session on the invalidateSessions control op", async () => {
    const h = await harness();
    expect(await h.control("invalidateSessions")).toEqual({ invalidated: 1 });
    await expect(h.call("VM.get_all")).rejects.toMatchObject({ code: "SESSION_INVALID" });
  });

  it("counts logins, logouts and live sessions", async () => {
    const h = await harness();
    await h.model.dispatch("session.login_with_password", ["root", "xapi-sim"], MASTER);
    await h.call("session.logout");
    expect(await h.control("counters")).toMatchObject({ logins: 2, logouts: 1, liveSessions: 1 });
  });
});
