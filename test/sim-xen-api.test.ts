/**
 * Conformance: the unmodified npm `xen-api` client (Vates, 4.7.6) against xapi-sim, over JSON-RPC and
 * XML-RPC, with its event loop on (xapi-clients.md §2.10 "Mode A").
 *
 * Covers connect, lookup by uuid (RPC and the event-fed cache), every lifecycle transition of
 * xapi-semantics §2.1 both synchronously and as `Async.*` tasks awaited through events (`callAsync`),
 * VM_BAD_POWER_STATE with its parameters, SESSION_INVALID re-login, the HOST_IS_SLAVE redirect and
 * disconnect.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../simulator";
import { haltedVm as sharedHaltedVm, control as simControl, type VmSummary } from "./client-sim";

/** The slice of xen-api's `Xapi` class these tests use (the package ships no types). */
interface Xapi {
  readonly status: "connected" | "connecting" | "disconnected";
  readonly pool: { $ref: string; master: string };
  readonly objectsFetched: Promise<void>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  call(method: string, ...args: unknown[]): Promise<unknown>;
  callAsync(method: string, ...args: unknown[]): Promise<unknown>;
  getObjectByUuid(uuid: string, defaultValue?: unknown): Record<string, unknown> | undefined;
  getObject(idOrUuidOrRef: string, defaultValue?: unknown): Record<string, unknown> | undefined;
}
type CreateClient = (options: Record<string, unknown>) => Xapi;
type Transport = "json-rpc" | "xml-rpc";

const USER = "root";
const PASSWORD = "xapi-sim";

let createClient: CreateClient;
let sim: RunningSimulator;
const clients: Xapi[] = [];

beforeAll(async () => {
  // xen-api is ESM-only; a computed specifier keeps TypeScript from wanting its (absent) types.
  const specifier: string = "xen-api";
  ({ createClient } = (await import(specifier)) as { createClient: CreateClient });
  sim = await startSimulator({ port: 0, defaultOperationMs: 2 });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.disconnect().catch(() => undefined)));
  await sim.close();
});

function client(transport: Transport, url = sim.url): Xapi {
  // debounce: the pause between event.from polls (default 200 ms); shorter keeps the async walk quick.
  const xapi = createClient({
    url,
    auth: { user: USER, password: PASSWORD },
    transport,
    allowUnauthorized: true,
    debounce: 20,
  });
  clients.push(xapi);
  return xapi;
}

function control<T>(name: string, body: Record<string, unknown> = {}): Promise<T> {
  return simControl<T>(sim, name, body);
}

function haltedVm(): Promise<VmSummary> {
  return sharedHaltedVm(sim);
}

async function until(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One lifecycle call of xapi-semantics §2.1: call, args after the VM ref, power state before and after. */
interface Transition {
  readonly call: string;
  readonly args: readonly unknown[];
  readonly from: string;
  readonly to: string;
}

const HOST = Symbol("the pool master's ref");

/** A walk that takes every row of §2.1 (destroy aside, covered separately) once, in a legal order. */
const JOURNEY: readonly Transition[] = [
  { call: "VM.start", args: [false, false], from: "Halted", to: "Running" },
  { call: "VM.pause", args: [], from: "Running", to: "Paused" },
  { call: "VM.unpause", args: [], from: "Paused", to: "Running" },
  { call: "VM.suspend", args: [], from: "Running", to: "Suspended" },
  { call: "VM.resume", args: [false, false], from: "Suspended", to: "Running" },
  { call: "VM.clean_reboot", args: [], from: "Running", to: "Running" },
  { call: "VM.hard_reboot", args: [], from: "Running", to: "Running" },
  { call: "VM.pause", args: [], from: "Running", to: "Paused" },
  { call: "VM.hard_reboot", args: [], from: "Paused", to: "Running" },
  { call: "VM.clean_shutdown", args: [], from: "Running", to: "Halted" },
  { call: "VM.start", args: [true, false], from: "Halted", to: "Paused" },
  { call: "VM.hard_shutdown", args: [], from: "Paused", to: "Halted" },
  { call: "VM.start_on", args: [HOST, false, false], from: "Halted", to: "Running" },
  { call: "VM.suspend", args: [], from: "Running", to: "Suspended" },
  { call: "VM.resume", args: [true, false], from: "Suspended", to: "Paused" },
  { call: "VM.unpause", args: [], from: "Paused", to: "Running" },
  { call: "VM.suspend", args: [], from: "Running", to: "Suspended" },
  { call: "VM.hard_shutdown", args: [], from: "Suspended", to: "Halted" },
  { call: "VM.start_on", args: [HOST, true, false], from: "Halted", to: "Paused" },
  { call: "VM.shutdown", args: [], from: "Paused", to: "Halted" },
  { call: "VM.start", args: [false, false], from: "Halted", to: "Running" },
  { call: "VM.hard_shutdown", args: [], from: "Running", to: "Halted" },
  { call: "VM.start", args: [false, false], from: "Halted", to: "Running" },
  { call: "VM.shutdown", args: [], from: "Running", to: "Halted" },
  { call: "VM.start", args: [false, false], from: "Halted", to: "Running" },
  { call: "VM.suspend", args: [], from: "Running", to: "Suspended" },
  { call: "VM.resume_on", args: [HOST, false, false], from: "Suspended", to: "Running" },
  { call: "VM.suspend", args: [], from: "Running", to: "Suspended" },
  { call: "VM.shutdown", args: [], from: "Suspended", to: "Halted" },
];

describe.each<Transport>(["json-rpc", "xml-rpc"])("xen-api over %s", (transport) => {
  let xapi: Xapi;
  let vm: VmSummary;

  beforeAll(async () => {
    await control("reset");
    vm = await haltedVm();
    xapi = client(transport);
    await xapi.connect();
    await xapi.objectsFetched;
  });

  it("connects and learns the pool", () => {
    expect(xapi.status).toBe("connected");
    expect(xapi.pool.$ref).toMatch(/^OpaqueRef:/);
  });

  it("finds a VM by uuid with VM.get_by_uuid", async () => {
    expect(await xapi.call("VM.get_by_uuid", vm.uuid)).toBe(vm.ref);
  });

  it("finds a VM by uuid in its event-fed object cache", () => {
    expect(xapi.getObjectByUuid(vm.uuid)?.name_label).toBe(vm.name_label);
  });

  describe.each(["sync", "async"] as const)("every lifecycle transition, %s", (mode) => {
    it.each(JOURNEY)("$call: $from → $to", async ({ call, args, from, to }) => {
      // Arrange
      expect(await xapi.call("VM.get_power_state", vm.ref)).toBe(from);
      const resolved = args.map((arg) => (arg === HOST ? xapi.pool.master : arg));
      // Act: `callAsync` sends Async.<call> and waits for the task through event.from only.
      const result =
        mode === "sync"
          ? await xapi.call(call, vm.ref, ...resolved)
          : await xapi.callAsync(call, vm.ref, ...resolved);
      // Assert
      expect(result).toBe("");
      expect(await xapi.call("VM.get_power_state", vm.ref)).toBe(to);
    });
  });

  it("sees power-state changes through events", async () => {
    await xapi.call("VM.start", vm.ref, false, false);
    await until(() => xapi.getObject(vm.ref)?.power_state === "Running", "a VM mod event");
    await xapi.call("VM.hard_shutdown", vm.ref);
    await until(() => xapi.getObject(vm.ref)?.power_state === "Halted", "a VM mod event");
  });

  it("parses VM_BAD_POWER_STATE with its parameters", async () => {
    const error = await xapi.call("VM.unpause", vm.ref).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "VM_BAD_POWER_STATE", params: [vm.ref, "paused", "halted"] });
  });

  it("rejects callAsync with the task's error_info", async () => {
    const error = await xapi.callAsync("VM.hard_shutdown", vm.ref).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "VM_BAD_POWER_STATE",
      params: [vm.ref, "paused, suspended, running", "halted"],
    });
  });

  it("logs in again after SESSION_INVALID and retries the call", async () => {
    // Arrange
    const before = await control<{ logins: number }>("counters");
    await control("invalidateSessions");
    // Act
    const state = await xapi.call("VM.get_power_state", vm.ref);
    // Assert
    expect(state).toBe("Halted");
    expect((await control<{ logins: number }>("counters")).logins).toBe(before.logins + 1);
  });

  it("follows HOST_IS_SLAVE from the pool member to the master", async () => {
    // Arrange
    const memberUrl = sim.memberUrl;
    if (memberUrl === undefined) throw new Error("the simulator has no member listener");
    const { calls: before } = await control<{ calls: Record<string, number> }>("counters");
    // Act
    const redirected = client(transport, memberUrl);
    await redirected.connect();
    // Assert: two logins (member refused, master accepted), then the client works.
    const { calls } = await control<{ calls: Record<string, number> }>("counters");
    const logins = (calls["session.login_with_password"] ?? 0) - (before["session.login_with_password"] ?? 0);
    expect(logins).toBe(2);
    expect(await redirected.call("VM.get_by_uuid", vm.uuid)).toBe(vm.ref);
    // disconnect() does not wait for its logout; let it land before the next test counts logouts.
    const { logouts } = await control<{ logouts: number }>("counters");
    await redirected.disconnect();
    await until(
      async () => (await control<{ logouts: number }>("counters")).logouts > logouts,
      "session.logout",
    );
  });

  it("logs out on disconnect", async () => {
    const before = await control<{ logouts: number }>("counters");
    await xapi.disconnect();
    expect(xapi.status).toBe("disconnected");
    await until(
      async () => (await control<{ logouts: number }>("counters")).logouts === before.logouts + 1,
      "session.logout",
    );
  });
});
