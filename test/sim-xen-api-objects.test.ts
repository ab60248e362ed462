/**
 * The pool as Xen Orchestra's XAPI client sees it: the unmodified npm `xen-api` client with its
 * event-driven object cache (it lists the classes with `get_all_records` in system.listMethods, loads
 * them all, then follows `event.from` on all of them), against xapi-sim in every profile.
 *
 * After connecting, the cache holds every class of docs/simulator-object-model.md; no reference XAPI
 * always fills is NULL or empty; no reference of any object resolves to nothing. Changes reach the
 * cache as events: a suspend's image VDI and VM_SUSPENDED message appear, a resume's removal of the
 * image is seen.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model";
import { type CreateClient, connectedClient, loadCreateClient } from "./xen-api-client";

/** The slice of xen-api's `Xapi` class used here (the package ships no types). */
interface XapiObject {
  readonly $type: string;
  readonly $ref: string;
  readonly [field: string]: unknown;
}
interface Xapi {
  readonly objects: { readonly all: Record<string, XapiObject> };
  readonly objectsFetched: Promise<void>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  call(method: string, ...args: unknown[]): Promise<unknown>;
  getObjectByRef(ref: string, defaultValue?: unknown): XapiObject | undefined;
}

const NULL = "OpaqueRef:NULL";
const PROFILES = ["current", "xenserver-7", "xenapi-1.0"] as const;

/** Every class a client that caches the whole pool must find objects of. */
const CLASSES = [
  "pool",
  "host",
  "host_metrics",
  "PIF",
  "PIF_metrics",
  "network",
  "SR",
  "PBD",
  "VDI",
  "VBD",
  "VM",
  "VM_metrics",
  "VM_guest_metrics",
  "VIF",
] as const;

let createClient: CreateClient<Xapi>;

beforeAll(async () => {
  createClient = await loadCreateClient<Xapi>();
});

async function until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Every OpaqueRef a value holds: itself, a set's members, a map's values. */
function refsIn(value: unknown): string[] {
  if (typeof value === "string") return value.startsWith("OpaqueRef:") ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (value !== null && typeof value === "object") return Object.values(value).flatMap(refsIn);
  return [];
}

describe.each(PROFILES)("xen-api's object cache under profile %s", (profile) => {
  let sim: RunningSimulator;
  let xapi: Xapi;
  const objects = (type?: string): XapiObject[] =>
    Object.values(xapi.objects.all).filter((o) => type === undefined || o.$type === type);
  const byRef = (ref: unknown): XapiObject | undefined =>
    typeof ref === "string" ? xapi.getObjectByRef(ref, undefined) : undefined;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, defaultOperationMs: 2, profile });
    xapi = await connectedClient(createClient, sim.url);
  });

  afterAll(async () => {
    await xapi.disconnect().catch(() => undefined);
    await sim.close();
  });

  it("holds objects of every class", () => {
    const types = new Set(objects().map((o) => o.$type));
    expect(CLASSES.filter((cls) => !types.has(cls))).toEqual([]);
  });

  it("watches the message class too (system.listMethods lists message.get_all_records)", async () => {
    const methods = (await xapi.call("system.listMethods")) as string[];
    expect(methods).toContain("message.get_all_records");
  });

  it("resolves every reference of every object to an object of the cache", () => {
    const dangling = objects().flatMap((o) =>
      Object.entries(o)
        .filter(([field]) => !field.startsWith("$") && field !== "current_operations")
        .flatMap(([field, value]) =>
          refsIn(value)
            .filter((ref) => ref !== NULL && byRef(ref) === undefined)
            .map((ref) => `${o.$type}.${field} of ${o.$ref} → ${ref}`),
        ),
    );
    expect(dangling).toEqual([]);
  });

  it("gives every VM and template its VM_metrics", () => {
    const missing = objects("VM").filter((vm) => byRef(vm.metrics)?.$type !== "VM_metrics");
    expect(missing.map((vm) => vm.name_label)).toEqual([]);
  });

  it("gives every Running guest with PV drivers its guest metrics (drivers, OS, networks)", () => {
    const running = objects("VM").filter(
      (vm) => vm.power_state === "Running" && vm.is_control_domain === false,
    );
    expect(running.length).toBeGreaterThan(0);
    for (const vm of running) {
      const gm = byRef(vm.guest_metrics);
      expect(gm?.$type, String(vm.name_label)).toBe("VM_guest_metrics");
      expect(gm?.PV_drivers_version).toMatchObject({ major: expect.any(String) });
      expect(Object.keys((gm?.os_version ?? {}) as object).length).toBeGreaterThan(0);
      expect(Object.keys((gm?.networks ?? {}) as object).length).toBeGreaterThan(0);
    }
  });

  it("gives every host its metrics, PIFs on the management network and PBDs", () => {
    for (const host of objects("host")) {
      expect(byRef(host.metrics)?.$type).toBe("host_metrics");
      const pifs = (host.PIFs as string[]).map(byRef);
      expect(pifs.length).toBeGreaterThan(0);
      expect(pifs.some((pif) => pif?.management === true && byRef(pif.network)?.$type === "network")).toBe(
        true,
      );
      expect((host.PBDs as string[]).length).toBeGreaterThan(0);
    }
  });

  it("gives every SR plugged PBDs, and every PIF its metrics", () => {
    for (const sr of objects("SR")) {
      const pbds = (sr.PBDs as string[]).map(byRef);
      expect(pbds.length, String(sr.name_label)).toBeGreaterThan(0);
      expect(pbds.every((pbd) => pbd?.currently_attached === true)).toBe(true);
    }
    for (const pif of objects("PIF")) expect(byRef(pif.metrics)?.$type).toBe("PIF_metrics");
  });

  it("gives every guest VIFs on networks", () => {
    const guests = objects("VM").filter((vm) => vm.is_a_template === false && vm.is_control_domain === false);
    for (const vm of guests) {
      const vifs = (vm.VIFs as string[]).map(byRef);
      expect(vifs.length, String(vm.name_label)).toBeGreaterThan(0);
      expect(vifs.every((vif) => byRef(vif?.network)?.$type === "network")).toBe(true);
    }
  });

  it("resolves a Suspended VM's suspend_VDI to a VDI of type suspend", () => {
    const suspended = objects("VM").filter((vm) => vm.power_state === "Suspended");
    expect(suspended.length).toBeGreaterThan(0);
    for (const vm of suspended) expect(byRef(vm.suspend_VDI)?.type).toBe("suspend");
  });

  it("sees a suspend's image and message, then the resume's removal of the image, through events", async () => {
    const web = FIXTURE.web.ref;
    await xapi.call("VM.suspend", web);
    await until(() => byRef(xapi.getObjectByRef(web)?.suspend_VDI)?.type === "suspend", "the suspend image");
    const image = xapi.getObjectByRef(web)?.suspend_VDI as string;
    await until(
      () => objects("message").some((m) => m.name === "VM_SUSPENDED" && m.obj_uuid === FIXTURE.web.uuid),
      "the VM_SUSPENDED message",
    );
    await xapi.call("VM.resume", web, false, false);
    await until(() => xapi.getObjectByRef(web)?.power_state === "Running", "the resume");
    await until(() => byRef(image) === undefined, "the image's del event");
    expect(xapi.getObjectByRef(web)?.suspend_VDI).toBe(NULL);
  });
});
