/**
 * Xen Orchestra on the same pool as pulumi-xapi, through the real Pulumi CLI against xapi-sim: a Pulumi
 * program manages a VM while a watching client — the npm `xen-api` library with its event-driven object
 * cache, as Xen Orchestra uses it — changes the VM out of band (suspends it, then changes its HVM boot
 * order). `pulumi preview --refresh` shows the change and plans it back; `pulumi up --refresh` makes the
 * calls; the watching client sees them as events (the VM Running again with its declared boot order, the
 * suspend image gone, XAPI's VM_RESUMED message).
 *
 * What the provider did is read from the preview's planned calls (`steps[].newState.inputs.plannedCalls`),
 * the simulator's call log and state, and the client's cache — not from stack outputs.
 *
 * Without a Pulumi CLI these tests fail (run `bash scripts/pulumi-cli.sh` once per machine).
 */

import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningSimulator } from "../../simulator";
import type { SimSnapshot } from "../../simulator/model/snapshot";
import { PulumiProject } from "./harness";
import { startRig } from "./rig";
import { lastSeq, simControl, writesSince } from "./sim-log";

const PASSWORD = "xo-e2e-Pw-41d7c2";
const PROGRAM = path.join(__dirname, "program-xo", "index.ts");
const HVM = "Other install media";
const NULL = "OpaqueRef:NULL";
const DECLARED = {
  app: {
    template: HVM,
    nameLabel: "app-01",
    powerState: "Running",
    hvm: { bootParams: { order: "cd" } },
    policy: { bootChanges: "restart" },
  },
};

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
  getObjectByUuid(uuid: string, defaultValue?: unknown): XapiObject | undefined;
}
type CreateClient = (options: Record<string, unknown>) => Xapi;

let binDir: string | undefined;
let cliMissing: unknown;
let sim: RunningSimulator;
let xo: Xapi;
let project: PulumiProject;

async function control<T>(op: string, body: Record<string, unknown> = {}): Promise<T> {
  return simControl<T>(sim, op, body);
}

/** The VM's record in the simulator's state. */
async function simRecord(name: string): Promise<SimSnapshot["vms"][number]["record"]> {
  const state = await control<SimSnapshot>("state");
  const vm = state.vms.find((v) => v.record.name_label === name);
  if (vm === undefined) throw new Error(`no VM named ${name} in the simulator`);
  return vm.record;
}

/** The planned calls of `pulumi preview --refresh --json`, e.g. "1. VM.resume (Suspended → Running): …". */
async function plannedCalls(): Promise<string[]> {
  const json = JSON.parse((await project.pulumiOk(["preview", "--refresh", "--json"])).stdout) as {
    steps?: { newState?: { inputs?: { plannedCalls?: string[] } } }[];
  };
  return (json.steps ?? []).flatMap((s) => s.newState?.inputs?.plannedCalls ?? []);
}

/** "2. VM.set_HVM_boot_params (…): …" → "VM.set_HVM_boot_params". */
function methodOf(line: string): string {
  return /^\s*\d+\.\s+([A-Za-z_]+\.\w+)/.exec(line)?.[1] ?? line;
}

async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The app VM as Xen Orchestra's client has it in its cache. */
function cached(): XapiObject {
  const vm = Object.values(xo.objects.all).find((o) => o.$type === "VM" && o.name_label === "app-01");
  if (vm === undefined) throw new Error("app-01 is not in the xen-api cache");
  return vm;
}

beforeAll(async () => {
  ({ binDir, cliMissing, sim } = await startRig(PASSWORD));
  // xen-api is ESM-only; a computed specifier keeps TypeScript from wanting its (absent) types.
  const specifier: string = "xen-api";
  const { createClient } = (await import(specifier)) as { createClient: CreateClient };
  xo = createClient({ url: sim.url, auth: { user: "root", password: PASSWORD }, allowUnauthorized: true });
  await xo.connect();
  await xo.objectsFetched;
}, 60_000);

afterAll(async () => {
  await xo?.disconnect().catch(() => undefined);
  await project?.dispose();
  await sim?.close();
});

describe("Xen Orchestra's client watching a pool pulumi-xapi manages", { timeout: 240_000 }, () => {
  beforeAll(async () => {
    if (binDir === undefined) throw cliMissing;
    project = await PulumiProject.create({ program: PROGRAM, binDir, name: "xo-e2e" });
    await project.initStack();
    await project.setConfig("xapi:url", sim.url);
    await project.setConfig("xapi:username", "root");
    await project.setConfig("xapi:password", PASSWORD, { secret: true });
    await project.setConfig("e2e:vms", JSON.stringify(DECLARED));
    await project.pulumiOk(["up", "--yes"]);
  }, 180_000);

  it("sees the VM pulumi created, Running with its declared boot order and its metrics, through events", async () => {
    await until(() => {
      try {
        return cached().power_state === "Running";
      } catch {
        return false;
      }
    }, "app-01 Running in the cache");
    const vm = cached();
    expect({
      order: (vm.HVM_boot_params as Record<string, string>).order,
      metrics: xo.getObjectByRef(vm.metrics as string)?.$type,
      guestMetrics: xo.getObjectByRef(vm.guest_metrics as string)?.$type,
      residentOn: xo.getObjectByRef(vm.resident_on as string)?.$type,
    }).toEqual({
      order: "cd",
      metrics: "VM_metrics",
      guestMetrics: "VM_guest_metrics",
      residentOn: "host",
    });
  });

  it("changes the VM out of band: suspends it (a suspend image appears), then sets another boot order", async () => {
    const vm = cached();
    await xo.call("VM.suspend", vm.$ref);
    await xo.call("VM.set_HVM_boot_params", vm.$ref, { order: "dc" });
    await until(
      () =>
        cached().power_state === "Suspended" &&
        (cached().HVM_boot_params as { order?: string }).order === "dc",
      "the out-of-band change in the cache",
    );
    const image = xo.getObjectByRef(cached().suspend_VDI as string);
    expect([image?.$type, image?.type]).toEqual(["VDI", "suspend"]);
  });

  it("pulumi preview --refresh shows the change and plans the resume and the boot order back", async () => {
    const planned = (await plannedCalls()).map(methodOf);
    expect(planned).toContain("VM.resume");
    expect(planned).toContain("VM.set_HVM_boot_params");
  });

  it("pulumi up --refresh makes the calls it planned; the simulator has the VM Running with order cd", async () => {
    const planned = (await plannedCalls()).map(methodOf);
    const since = await lastSeq(sim);
    await project.pulumiOk(["up", "--refresh", "--yes"]);
    const writes = await writesSince(sim, since);
    const record = await simRecord("app-01");
    expect(writes.filter((w) => w.startsWith("VM.") && !/_other_config$/.test(w))).toEqual(
      planned.filter((w) => !/_other_config$/.test(w)),
    );
    expect([record.power_state, record.HVM_boot_params.order, record.suspend_VDI]).toEqual([
      "Running",
      "cd",
      NULL,
    ]);
  });

  it("the watching client sees the provider's calls as events: Running, order cd, the image gone, VM_RESUMED", async () => {
    await until(() => cached().power_state === "Running", "power_state Running in the cache");
    await until(
      () => (cached().HVM_boot_params as { order?: string }).order === "cd",
      "HVM_boot_params.order cd in the cache",
    );
    const vm = cached();
    const images = Object.values(xo.objects.all).filter(
      (o) =>
        o.$type === "VDI" && o.type === "suspend" && (o.sm_config as { vmhint?: string }).vmhint === vm.uuid,
    );
    const resumed = Object.values(xo.objects.all).filter(
      (o) => o.$type === "message" && o.name === "VM_RESUMED" && o.obj_uuid === vm.uuid,
    );
    expect({ suspendVdi: vm.suspend_VDI, images: images.length, resumed: resumed.length }).toEqual({
      suspendVdi: NULL,
      images: 0,
      resumed: 1,
    });
  });

  it("the next preview --refresh plans nothing", async () => {
    expect(await plannedCalls()).toEqual([]);
  });
});
