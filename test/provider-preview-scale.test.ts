/**
 * Acceptance: a preview of 1,000 up-to-date VMs on one pool makes at most 25 XAPI calls in all (login
 * and logout included) and no state-changing call; one drifted VM among them is planned (and only it).
 *
 * How the pool is seeded without 1,000 real creates: one VM is created for real through the provider
 * (gRPC, the engine's dynamic-provider host) on a first xapi-sim; its exported state (VM record, guest,
 * VBDs, VDIs) is then copied 999 times, each copy with its own refs, uuid, domid, name and owner tag
 * (`other_config["pulumi-xapi:urn"]` = its resource's URN), into the state a second xapi-sim starts from.
 * The inputs and outputs a previous `pulumi up` would have stored for each resource are the prototype's,
 * with the same substitutions, in the stored form (`__xapi.urn`, `observed.domid`; no `uuid`: it is the id).
 *
 * Then, as the engine does in `pulumi preview`, every resource runs Check (olds = its stored inputs,
 * news = its declaration with `__xapi.preview`) then Diff (olds = its stored outputs), all 1,000
 * concurrently, against a provider host started for the measurement (so its login counts); the host is
 * stopped as the engine stops it (SIGINT: the provider logs its session out) before the simulator's
 * counters are read. No wall-clock limit is asserted.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { URN_KEY } from "../provider/resource/snapshot";
import { type RunningSimulator, startSimulator } from "../simulator";
import {
  type Bag,
  buildProviderPackage,
  type CheckResponse,
  type DiffResponse,
  disposeProviderPackage,
  ProviderHost,
  type ProviderPackage,
  serializeProvider,
} from "./fixtures/provider-harness";

const N = 1000;
const MAX_CALLS = 25;
const PASSWORD = "scale-Pw-5b0e81d3";
const TEMPLATE = "Other install media";
/** The Suspended VM of the drift test (any index but the prototype's). */
const DRIFTED = 617;

const urnOf = (i: number) => `urn:pulumi:scale::pulumi-xapi-scale::pulumi-nodejs:dynamic/xapi:Vm::vm-${i}`;

/** What the `Vm` of resource `i` sends (stored form): the declaration, its URN, and in a preview `preview`. */
function declared(i: number, preview = false): Bag {
  return {
    template: TEMPLATE,
    nameLabel: `scale-${i}`,
    powerState: "Running",
    hvm: { bootParams: { order: "cd" } },
    __xapi: preview ? { preview: true, urn: urnOf(i) } : { urn: urnOf(i) },
  };
}

/** One resource as a previous `pulumi up` left it in the state. */
interface StoredResource {
  readonly index: number;
  readonly id: string;
  readonly inputs: Bag;
  readonly outputs: Bag;
}

interface Counters {
  calls: Record<string, number>;
  logins: number;
  logouts: number;
  liveSessions: number;
}

type SimState = {
  vms: { ref: string; record: Record<string, unknown>; sim: { lastBoot: { domid: number } | null } }[];
  vbds: { ref: string; record: Record<string, unknown> }[];
  vdis: { ref: string; record: Record<string, unknown>; content: unknown }[];
  nextDomid: number;
} & Record<string, unknown>;

let pkg: ProviderPackage;
let providerText: string;
/** The simulator state with the N VMs (the prototype and its copies). */
let seededState: SimState;
let stored: StoredResource[];

beforeAll(async () => {
  pkg = await buildProviderPackage();
  providerText = (await serializeProvider(pkg)).text;

  // The prototype: one VM created for real, the way `pulumi up` creates it.
  const sim = await startSimulator({
    port: 0,
    member: false,
    users: { root: PASSWORD },
    defaultOperationMs: 1,
  });
  const host = await ProviderHost.start(providerText, pkg.programDir);
  try {
    await host.configure({ "xapi:url": sim.url, "xapi:username": "root", "xapi:password": PASSWORD });
    const checked = await host.check({}, declared(0));
    expect(checked.failures).toEqual([]);
    const created = await host.create(checked.inputs);
    const prototype: StoredResource = {
      index: 0,
      id: created.id,
      inputs: checked.inputs,
      outputs: created.outs,
    };
    ({ state: seededState, stored } = copyPrototype(sim.model.exportState() as SimState, prototype, N));
  } finally {
    await host.close();
    await sim.close();
  }
}, 180_000);

afterAll(async () => {
  await disposeProviderPackage(pkg);
});

/**
 * The state with `n - 1` copies of the prototype's VM (and of its VBDs and VDIs) added, and what the
 * Pulumi state would hold for each of the `n` resources.
 */
function copyPrototype(
  state: SimState,
  prototype: StoredResource,
  n: number,
): { state: SimState; stored: StoredResource[] } {
  const out = structuredClone(state);
  const vm = out.vms.find((v) => v.record.uuid === prototype.id);
  if (vm === undefined) throw new Error(`the prototype VM ${prototype.id} is not in the exported state`);
  const vbds = out.vbds.filter((b) => b.record.VM === vm.ref);
  const vdiRefs = new Set(vbds.map((b) => String(b.record.VDI)));
  const vdis = out.vdis.filter((d) => vdiRefs.has(d.ref));
  const all: StoredResource[] = [prototype];
  for (let i = 1; i < n; i++) {
    const ref = `OpaqueRef:${randomUUID()}`;
    const uuid = randomUUID();
    const domid = out.nextDomid++;
    const vdiCopies = new Map(vdis.map((d) => [d.ref, `OpaqueRef:${randomUUID()}`]));
    for (const d of vdis) {
      out.vdis.push({
        ref: vdiCopies.get(d.ref) as string,
        record: { ...structuredClone(d.record), uuid: randomUUID(), VBDs: [] },
        content: structuredClone(d.content),
      });
    }
    const vbdRefs: string[] = [];
    for (const b of vbds) {
      const vbdRef = `OpaqueRef:${randomUUID()}`;
      vbdRefs.push(vbdRef);
      const vdi = vdiCopies.get(String(b.record.VDI)) ?? b.record.VDI; // an empty CD keeps OpaqueRef:NULL
      out.vbds.push({
        ref: vbdRef,
        record: { ...structuredClone(b.record), uuid: randomUUID(), VM: ref, VDI: vdi },
      });
    }
    const record = structuredClone(vm.record);
    const sim = structuredClone(vm.sim);
    if (sim.lastBoot !== null) sim.lastBoot.domid = domid;
    out.vms.push({
      ref,
      record: {
        ...record,
        uuid,
        name_label: `scale-${i}`,
        domid,
        VBDs: vbdRefs,
        other_config: { ...(record.other_config as Record<string, string>), [URN_KEY]: urnOf(i) },
      },
      sim,
    });
    all.push({
      index: i,
      id: uuid,
      inputs: {
        ...prototype.inputs,
        nameLabel: `scale-${i}`,
        __xapi: { ...(prototype.inputs.__xapi as Bag), urn: urnOf(i) },
      },
      outputs: {
        ...prototype.outputs,
        nameLabel: `scale-${i}`,
        observed: { ...(prototype.outputs.observed as Bag), domid },
        __xapi: { ...(prototype.outputs.__xapi as Bag), urn: urnOf(i) },
      },
    });
  }
  return { state: out, stored: all };
}

interface PreviewRun {
  results: { index: number; checked: CheckResponse; diff: DiffResponse }[];
  /** XAPI calls by method during the preview, login and logout included. */
  calls: Record<string, number>;
  total: number;
  logins: number;
  logouts: number;
}

/**
 * A preview of every stored resource against a simulator started from `state`: a fresh provider host
 * (so the snapshot and the session are this preview's), Check then Diff per resource, all concurrently.
 */
async function preview(before?: (sim: RunningSimulator) => Promise<void>): Promise<PreviewRun> {
  const sim = await startSimulator({ port: 0, member: false, users: { root: PASSWORD }, state: seededState });
  try {
    await before?.(sim);
    const counters = () => sim.model.control.counters?.({}) as Counters;
    const start = counters();
    const host = await ProviderHost.start(providerText, pkg.programDir);
    let results: PreviewRun["results"];
    try {
      await host.configure({ "xapi:url": sim.url, "xapi:username": "root", "xapi:password": PASSWORD });
      results = await Promise.all(
        stored.map(async (r) => {
          const checked = await host.check(r.inputs, declared(r.index, true));
          const diff = await host.diff(r.id, r.outputs, checked.inputs);
          return { index: r.index, checked, diff };
        }),
      );
    } finally {
      await host.close(); // SIGINT, as the engine stops a provider: the session is logged out
    }
    const end = counters();
    const calls: Record<string, number> = {};
    for (const [method, count] of Object.entries(end.calls)) {
      const delta = count - (start.calls[method] ?? 0);
      if (delta > 0) calls[method] = delta;
    }
    return {
      results,
      calls,
      total: Object.values(calls).reduce((a, b) => a + b, 0),
      logins: end.logins - start.logins,
      logouts: end.logouts - start.logouts,
    };
  } finally {
    await sim.close();
  }
}

/** A call that only reads (a getter of any class) or opens/closes the session. */
function isReadOnly(method: string): boolean {
  return (
    method === "session.login_with_password" ||
    method === "session.logout" ||
    /^(pool|host|VM|VBD|VDI|SR|session)\.get_\w+$/.test(method)
  );
}

describe(`a preview of ${N} VMs on one pool`, () => {
  it(`up to date: at most ${MAX_CALLS} XAPI calls in all, none state-changing; no change, no plannedCalls`, async () => {
    const run = await preview();
    expect(run.results).toHaveLength(N);
    expect(run.total, `XAPI calls ${JSON.stringify(run.calls)}`).toBeLessThanOrEqual(MAX_CALLS);
    // The plans came from the pool (a preview that fell back to the recorded inputs would read nothing).
    expect(run.calls["VM.get_all_records"], JSON.stringify(run.calls)).toBeGreaterThanOrEqual(1);
    expect(Object.keys(run.calls).filter((m) => !isReadOnly(m))).toEqual([]);
    expect({ logins: run.logins, logouts: run.logouts }).toEqual({ logins: 1, logouts: 1 });

    const failures = run.results.filter((r) => r.checked.failures.length > 0);
    expect(failures.map((r) => [r.index, r.checked.failures])).toEqual([]);
    const planned = run.results.filter(
      (r) => "plannedCalls" in r.checked.inputs || "__xapiPlan" in r.checked.inputs,
    );
    expect(planned.map((r) => [r.index, r.checked.inputs.plannedCalls])).toEqual([]);
    const changed = run.results.filter((r) => r.diff.changes !== "none" || r.diff.replaces.length > 0);
    expect(changed.map((r) => [r.index, r.diff])).toEqual([]);
  }, 300_000);

  it(`one VM suspended out of band: only it is planned (VM.resume, changes), still at most ${MAX_CALLS} calls`, async () => {
    const run = await preview(async (sim) => {
      await sim.model.control.setPowerState?.({ uuid: stored[DRIFTED]?.id, powerState: "Suspended" });
    });
    expect(run.total, `XAPI calls ${JSON.stringify(run.calls)}`).toBeLessThanOrEqual(MAX_CALLS);
    expect(Object.keys(run.calls).filter((m) => !isReadOnly(m))).toEqual([]);

    const planned = run.results.filter((r) => "plannedCalls" in r.checked.inputs);
    expect(planned.map((r) => r.index)).toEqual([DRIFTED]);
    const lines = planned[0]?.checked.inputs.plannedCalls as string[];
    expect(planned[0]?.checked.inputs.__xapiPlan).toMatchObject({ source: "pool" });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^1\. VM\.resume\b.*\(Suspended → Running\)/);
    const changed = run.results.filter((r) => r.diff.changes !== "none");
    expect(changed.map((r) => [r.index, r.diff])).toEqual([
      [DRIFTED, { changes: "some", replaces: [], deleteBeforeReplace: false }],
    ]);
  }, 300_000);
});
