/**
 * The preview's model of XAPI writes (provider/resource/dry-run.ts) against xapi-sim, our stand-in for
 * XAPI. Each sequence of calls runs twice from the same pool state: first through a `DryRunConnection`
 * over a fresh `PoolSnapshot`, then through the real connection. The two runs must agree on every call's
 * outcome (success, or the same XAPI error code) and, at every checkpoint, on what plans read of the VM:
 * power state, boot fields, template flag, names, `other_config`, its VBDs as (userdevice, bootable,
 * type), whether `domid` is -1 and whether it changed since the previous checkpoint.
 *
 * The simulator is the reference: no expected value here is computed by the dry run. Where a test also
 * asserts something about the real run, it only checks that the sequence exercises what it claims to
 * (a refusal really is refused, a tour step really succeeds).
 *
 * Error parameters are not compared, only codes. They agree except for the `VM_BAD_POWER_STATE` of a
 * lifecycle call: the dry run sends `[vm, "", "Halted"]` where XAPI lists the allowed states and names
 * the actual one in lower case (`[vm, "running", "halted"]`), and for the refs of VMs the dry run made.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { closeAllConnections, getConnection, isXapiError, type XapiConnection } from "../provider/client";
import type { VmRecord } from "../provider/executor";
import { TRANSITIONS, type Transition } from "../provider/model/lifecycle";
import { PowerState } from "../provider/model/vocabulary";
import { DryRunConnection } from "../provider/resource/dry-run";
import { PoolSnapshot, URN_KEY } from "../provider/resource/snapshot";
import type { RunningSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model/fixture";
import { control, ROOT, startSim } from "./client-sim";

let sim: RunningSimulator;
let conn: XapiConnection;

beforeAll(async () => {
  sim = await startSim({ defaultOperationMs: 2, cleanShutdownTimeoutMs: 20, crashedCompat: false });
  conn = getConnection({ url: sim.url, ...ROOT, taskPoll: { initialMs: 2, maxMs: 20, factor: 2 } });
});

afterAll(async () => {
  await closeAllConnections();
  await sim.close();
});

// Every sequence starts from the fixture pool.
beforeEach(async () => {
  await control(sim, "reset");
});

//////////////////////////////
////   harness            ////
//////////////////////////////

/** One call's outcome: `ok`, or the XAPI error code it failed with. */
interface Outcome {
  readonly call: string;
  readonly result: string;
}

/** What plans read of a VM at a checkpoint, or the code `VM.get_record` failed with. */
type View =
  | { readonly fields: Readonly<Record<string, unknown>>; readonly domid: unknown }
  | { readonly gone: string };

/** The VM fields the comparison covers (besides the VBDs and `domid`). */
const FIELDS = [
  "power_state",
  "domain_type",
  "HVM_boot_policy",
  "HVM_boot_params",
  "PV_bootloader",
  "PV_kernel",
  "PV_ramdisk",
  "PV_args",
  "PV_bootloader_args",
  "is_a_template",
  "name_label",
  "name_description",
  "other_config",
] as const;

/** One side's run of a sequence: the connection, each call's outcome, each checkpoint's view. */
class Run {
  readonly outcomes: Outcome[] = [];
  readonly views: View[] = [];

  constructor(
    readonly conn: XapiConnection,
    readonly side: "dry run" | "xapi-sim",
  ) {}

  /** `conn.call`; a XAPI error is recorded as the outcome and gives `undefined`. */
  call<T = unknown>(method: string, ...args: unknown[]): Promise<T | undefined> {
    return this.#attempt(method, () => this.conn.call<T>(method, ...args));
  }

  /** `conn.callAsync`, as the provider sends lifecycle calls, clone and provision. */
  callAsync<T = unknown>(method: string, args: unknown[]): Promise<T | undefined> {
    return this.#attempt(method, () => this.conn.callAsync<T>(method, args));
  }

  /** Records a value the sequence read, to be compared like an outcome. */
  note(call: string, value: unknown): void {
    this.outcomes.push({ call, result: JSON.stringify(value) });
  }

  /** A call the sequence cannot go on without (a lookup, a clone): it must succeed on this side. */
  async must<T>(result: Promise<T | undefined>, what: string): Promise<T> {
    const value = await result;
    if (value === undefined) {
      throw new Error(`${this.side}: ${what} failed: ${JSON.stringify(this.outcomes.at(-1))}`);
    }
    return value;
  }

  /** A checkpoint: reads the VM (and its VBDs) the way plans do, through this side's connection. */
  async view(ref: string): Promise<void> {
    let record: VmRecord;
    try {
      record = await this.conn.call<VmRecord>("VM.get_record", ref);
    } catch (error) {
      if (!isXapiError(error)) throw error;
      this.views.push({ gone: error.code });
      return;
    }
    const fields: Record<string, unknown> = {};
    for (const field of FIELDS) fields[field] = record[field];
    const vbds: string[] = [];
    for (const vbd of (record.VBDs as string[] | undefined) ?? []) {
      const r = await this.conn.call<Record<string, unknown>>("VBD.get_record", vbd);
      vbds.push(`userdevice ${String(r.userdevice)}, bootable ${String(r.bootable)}, type ${String(r.type)}`);
    }
    fields.VBDs = vbds.sort();
    this.views.push({ fields, domid: record.domid });
  }

  /** The VM's VBD refs, read through this side's connection. */
  async vbdsOf(ref: string): Promise<Map<string, string>> {
    const record = await this.conn.call<VmRecord>("VM.get_record", ref);
    const byDevice = new Map<string, string>();
    for (const vbd of (record.VBDs as string[] | undefined) ?? []) {
      const r = await this.conn.call<Record<string, unknown>>("VBD.get_record", vbd);
      byDevice.set(String(r.userdevice), vbd);
    }
    return byDevice;
  }

  async #attempt<T>(call: string, send: () => Promise<T>): Promise<T | undefined> {
    try {
      const value = await send();
      this.outcomes.push({ call, result: "ok" });
      return value;
    } catch (error) {
      if (!isXapiError(error)) throw error;
      this.outcomes.push({ call, result: error.code });
      return undefined;
    }
  }
}

/** A sequence of calls, written once and run on both sides. */
type Sequence = (run: Run) => Promise<void>;

/**
 * Runs `sequence` through the dry run over a snapshot of the current pool, then through xapi-sim, and
 * expects both to agree (module comment). Returns both runs for the test's own checks.
 */
async function compare(sequence: Sequence): Promise<{ dry: Run; real: Run }> {
  const snapshot = new PoolSnapshot(conn, Date.now());
  // Read every class now: the real run must not change what the dry run plans from.
  await Promise.all([snapshot.pool(), snapshot.vms(), snapshot.vbds()]);
  const dry = new Run(new DryRunConnection(snapshot), "dry run");
  await sequence(dry);
  const real = new Run(conn, "xapi-sim");
  await sequence(real);

  expect(dry.outcomes, "each call's outcome").toEqual(real.outcomes);
  const fieldsOf = (v: View) => ("gone" in v ? v : v.fields);
  expect(dry.views.map(fieldsOf), "the VM at each checkpoint").toEqual(real.views.map(fieldsOf));
  expect(domidFacts(dry.views), "domid at each checkpoint").toEqual(domidFacts(real.views));
  expect(real.views.length).toBeGreaterThan(0);
  return { dry, real };
}

/**
 * Per checkpoint: the JSON type of `domid` (XAPI's int64 arrives as a number), whether it is -1, and
 * whether it differs from the previous checkpoint's. The values themselves differ by design: the dry
 * run hands out its own domain ids.
 */
function domidFacts(views: readonly View[]): { type: string; none: boolean; changed: boolean | null }[] {
  return views.map((v, i) => {
    const before = views[i - 1];
    if ("gone" in v) return { type: "gone", none: true, changed: null };
    return {
      type: typeof v.domid,
      none: Number(v.domid) === -1,
      changed: before === undefined || "gone" in before ? null : Number(before.domid) !== Number(v.domid),
    };
  });
}

/** The codes of the outcomes of `call` in a run. */
function resultsOf(run: Run, call: string): string[] {
  return run.outcomes.filter((o) => o.call === call).map((o) => o.result);
}

//////////////////////////////
////   lifecycle tour     ////
//////////////////////////////

/** The table's arguments of a lifecycle call after the VM ref. */
function argsOf(t: Pick<Transition, "args">): unknown[] {
  return t.args.start_paused === undefined ? [] : [t.args.start_paused, t.args.force ?? false];
}

const label = (t: Pick<Transition, "call" | "args">): string =>
  t.args.start_paused === undefined ? t.call : `${t.call}(start_paused: ${t.args.start_paused})`;

/**
 * A walk from Halted that takes every row of the lifecycle table leaving a non-Crashed state at least
 * once: from the current state, the shortest way (breadth first, table order) to an untaken row.
 */
function tour(): Transition[] {
  const rows = TRANSITIONS.filter((t) => t.from !== PowerState.Crashed);
  const untaken = new Set(rows);
  const walk: Transition[] = [];
  let at: PowerState = PowerState.Halted;
  while (untaken.size > 0) {
    const seen = new Set<PowerState>([at]);
    let frontier: { state: PowerState; path: Transition[] }[] = [{ state: at, path: [] }];
    let route: Transition[] | undefined;
    while (route === undefined && frontier.length > 0) {
      const next: typeof frontier = [];
      for (const { state, path } of frontier) {
        const row = rows.find((t) => t.from === state && untaken.has(t));
        if (row !== undefined) {
          route = [...path, row];
          break;
        }
        for (const t of rows.filter((r) => r.from === state && !seen.has(r.to))) {
          seen.add(t.to);
          next.push({ state: t.to, path: [...path, t] });
        }
      }
      frontier = next;
    }
    if (route === undefined) throw new Error(`no untaken lifecycle row is reachable from ${at}`);
    for (const t of route) {
      untaken.delete(t);
      walk.push(t);
    }
    at = route.at(-1)?.to ?? at;
  }
  return walk;
}

/** Every distinct lifecycle call of the table (call and `start_paused`), in table order. */
const LIFECYCLE_CALLS: readonly Transition[] = TRANSITIONS.filter(
  (t, i) => TRANSITIONS.findIndex((u) => label(u) === label(t)) === i,
);

/** The table's calls that do not leave `state` (refused there by XAPI, as the simulator answers). */
function refusedFrom(state: PowerState): Transition[] {
  const allowed = new Set(TRANSITIONS.filter((t) => t.from === state).map(label));
  return LIFECYCLE_CALLS.filter((t) => !allowed.has(label(t)));
}

/** Tries every call the state refuses, with a checkpoint after them (nothing may have changed). */
async function tryRefused(run: Run, ref: string, state: PowerState): Promise<void> {
  for (const t of refusedFrom(state)) await run.callAsync(t.call, [ref, ...argsOf(t)]);
  await run.view(ref);
}

/** The tour on one VM: each step, then a checkpoint; the refused calls at each state's first visit. */
function lifecycleTour(ref: string, walk: readonly Transition[]): Sequence {
  return async (run) => {
    await run.view(ref);
    const visited = new Set<PowerState>();
    let at: PowerState = PowerState.Halted;
    for (const t of walk) {
      if (!visited.has(at)) {
        visited.add(at);
        await tryRefused(run, ref, at);
      }
      await run.callAsync(t.call, [ref, ...argsOf(t)]);
      await run.view(ref);
      at = t.to;
    }
    if (!visited.has(at)) await tryRefused(run, ref, at);
  };
}

describe("lifecycle calls", () => {
  const walk = tour();

  it("the tour takes every row of the table that leaves a non-Crashed state", () => {
    const rows = TRANSITIONS.filter((t) => t.from !== PowerState.Crashed);
    expect(new Set(walk)).toEqual(new Set(rows));
    expect(walk[0]?.from).toBe(PowerState.Halted);
    for (let i = 1; i < walk.length; i++) expect(walk[i]?.from).toBe(walk[i - 1]?.to);
  });

  it.each([
    ["db-01 (HVM, PV drivers)", FIXTURE.db],
    ["pvdirect-01 (PV, direct kernel)", FIXTURE.pvDirect],
  ])(
    "a tour of %s: every allowed call succeeds and every refused one is VM_BAD_POWER_STATE in both",
    async (_name, vm) => {
      const { real } = await compare(lifecycleTour(vm.ref, walk));
      const steps = new Set(walk.map((t) => t.call));
      const results = real.outcomes.filter((o) => steps.has(o.call as Transition["call"]));
      // The sim really took every step and really refused every other call.
      expect(results.filter((o) => o.result === "ok")).toHaveLength(walk.length);
      expect(new Set(results.filter((o) => o.result !== "ok").map((o) => o.result))).toEqual(
        new Set(["VM_BAD_POWER_STATE"]),
      );
    },
  );

  it("Crashed (XenAPI 1.0 mode): only VM.hard_shutdown leaves it, to Halted without a domain", async () => {
    await control(sim, "config", { crashedCompat: true });
    await control(sim, "crashGuest", { uuid: FIXTURE.web.uuid });
    const { real } = await compare(async (run) => {
      await run.view(FIXTURE.web.ref);
      await tryRefused(run, FIXTURE.web.ref, PowerState.Crashed);
      await run.callAsync("VM.hard_shutdown", [FIXTURE.web.ref]);
      await run.view(FIXTURE.web.ref);
    });
    expect(real.views[0]).toMatchObject({ fields: { power_state: "Crashed" } });
    expect(resultsOf(real, "VM.hard_shutdown")).toEqual(["ok"]);
  });
});

//////////////////////////////
////   create              ////
//////////////////////////////

/** The calls of the provider's create (provider/resource/create.ts), checkpoint after each. */
function createFrom(template: string, name: string): Sequence {
  return async (run) => {
    const [tpl] = await run.must(run.call<string[]>("VM.get_by_name_label", template), "template lookup");
    if (tpl === undefined) throw new Error(`${run.side}: no template "${template}"`);
    const vm = await run.must(run.callAsync<string>("VM.clone", [tpl, name]), "VM.clone");
    await run.view(vm);
    await run.call("VM.add_to_other_config", vm, URN_KEY, `urn:pulumi:test::dry-run::xapi:index:Vm::${name}`);
    await run.view(vm);
    await run.callAsync("VM.provision", [vm]);
    await run.view(vm);
    await run.call("VM.set_is_a_template", vm, false);
    await run.view(vm);
    await run.call("VM.set_name_label", vm, `${name} (renamed)`);
    await run.call("VM.set_name_description", vm, "made by test/dry-run.test.ts");
    await run.view(vm);
    // A second owner tag is refused, then the tag is replaced the way the provider replaces it.
    await run.call("VM.add_to_other_config", vm, URN_KEY, "another owner");
    await run.call("VM.remove_from_other_config", vm, URN_KEY);
    await run.call("VM.add_to_other_config", vm, URN_KEY, "another owner");
    await run.view(vm);
    // The template is left as it was.
    await run.view(tpl);
  };
}

describe("create from a template: clone, owner tag, provision, un-template", () => {
  it('HVM template "Other install media": provision adds the bootable disk of other_config.disks', async () => {
    const { real } = await compare(createFrom("Other install media", "dry-run-hvm"));
    expect(real.outcomes.every((o) => o.result === "ok" || o.result === "MAP_DUPLICATE_KEY")).toBe(true);
    expect(real.views[2]).toMatchObject({
      fields: {
        VBDs: ["userdevice 0, bootable true, type Disk", "userdevice 3, bootable false, type CD"],
      },
    });
  });

  it('PV template "Generic PV (pygrub)": the copied root disk, nothing to provision', async () => {
    const { real } = await compare(createFrom("Generic PV (pygrub)", "dry-run-pv"));
    expect(real.outcomes.every((o) => o.result === "ok" || o.result === "MAP_DUPLICATE_KEY")).toBe(true);
    expect(real.views[2]).toMatchObject({ fields: { VBDs: ["userdevice 0, bootable true, type Disk"] } });
  });
});

//////////////////////////////
////   setters             ////
//////////////////////////////

describe("VM setters", () => {
  /** Each setter call, with a checkpoint after it. */
  const setters =
    (ref: string, calls: readonly [string, unknown][]): Sequence =>
    async (run) => {
      await run.view(ref);
      for (const [method, value] of calls) {
        await run.call(method, ref, value);
        await run.view(ref);
      }
    };

  const COUPLING: readonly [string, unknown][] = [
    ["VM.set_HVM_boot_policy", "BIOS order"],
    ["VM.set_domain_type", "pv"],
    ["VM.set_domain_type", "hvm"],
    ["VM.set_HVM_boot_policy", ""],
    ["VM.set_domain_type", "pvh"],
    ["VM.set_HVM_boot_policy", "BIOS order"],
    ["VM.set_domain_type", "pv_in_pvh"],
    ["VM.set_domain_type", "unspecified"],
    ["VM.set_domain_type", "hvm"],
  ];

  it.each([
    ["pvdirect-01 (PV, Halted)", FIXTURE.pvDirect],
    ["db-01 (HVM, Halted)", FIXTURE.db],
    ["web-01 (HVM, Running)", FIXTURE.web],
  ])("domain_type and HVM_boot_policy rewrite each other on %s", async (_name, vm) => {
    await compare(setters(vm.ref, COUPLING));
  });

  it("HVM_boot_params is replaced whole", async () => {
    await compare(
      setters(FIXTURE.db.ref, [
        ["VM.set_HVM_boot_params", { order: "dc", firmware: "uefi" }],
        ["VM.set_HVM_boot_params", { order: "n" }],
        ["VM.set_HVM_boot_params", {}],
      ]),
    );
  });

  it.each([
    ["pvdirect-01 (Halted)", FIXTURE.pvDirect],
    ["pv-01 (Paused)", FIXTURE.pv],
  ])("the PV setters on %s", async (_name, vm) => {
    await compare(
      setters(vm.ref, [
        ["VM.set_PV_bootloader", "pygrub"],
        ["VM.set_PV_kernel", ""],
        ["VM.set_PV_ramdisk", ""],
        ["VM.set_PV_args", "console=hvc0 root=/dev/xvda1"],
        ["VM.set_PV_bootloader_args", "--entry=1"],
        ["VM.set_PV_bootloader", ""],
        ["VM.set_PV_kernel", "/var/lib/xcp/guest/vmlinuz-6.2"],
      ]),
    );
  });

  it("other_config: add of an existing key is MAP_DUPLICATE_KEY, remove of a missing key succeeds", async () => {
    const { real } = await compare(async (run) => {
      const ref = FIXTURE.db.ref;
      await run.view(ref);
      await run.call("VM.add_to_other_config", ref, "dry-run:k", "v1");
      await run.view(ref);
      await run.call("VM.add_to_other_config", ref, "dry-run:k", "v2");
      await run.view(ref);
      await run.call("VM.remove_from_other_config", ref, "dry-run:k");
      await run.call("VM.remove_from_other_config", ref, "dry-run:k");
      await run.call("VM.remove_from_other_config", ref, "never-there");
      await run.view(ref);
      await run.call("VM.add_to_other_config", ref, "dry-run:k", "v3");
      await run.view(ref);
      // A key the template already has.
      await run.call("VM.add_to_other_config", FIXTURE.hvmTemplate.ref, "disks", "<provision/>");
      await run.view(FIXTURE.hvmTemplate.ref);
    });
    expect(resultsOf(real, "VM.add_to_other_config")).toEqual([
      "ok",
      "MAP_DUPLICATE_KEY",
      "ok",
      "MAP_DUPLICATE_KEY",
    ]);
    expect(resultsOf(real, "VM.remove_from_other_config")).toEqual(["ok", "ok", "ok"]);
  });

  it("is_a_template false and the names", async () => {
    await compare(
      setters(FIXTURE.db.ref, [
        ["VM.set_is_a_template", false],
        ["VM.set_name_label", "db-01 renamed"],
        ["VM.set_name_description", ""],
      ]),
    );
  });
});

describe("VBD.set_bootable", () => {
  it.each([
    ["db-01 (Halted)", FIXTURE.db],
    ["web-01 (Running)", FIXTURE.web],
  ])("on %s", async (_name, vm) => {
    await compare(async (run) => {
      const vbds = await run.vbdsOf(vm.ref);
      await run.view(vm.ref);
      for (const [device, value] of [
        ["0", false],
        ["1", true],
        ["1", true],
        ["3", true],
        ["0", true],
      ] as const) {
        const vbd = vbds.get(device);
        if (vbd === undefined) continue;
        await run.call("VBD.set_bootable", vbd, value);
        await run.view(vm.ref);
      }
    });
  });
});

//////////////////////////////
////   destroy             ////
//////////////////////////////

describe("VM.destroy", () => {
  it.each([
    ["legacy-01 (Halted)", FIXTURE.legacy],
    ["batch-01 (Suspended)", FIXTURE.batch],
    ["web-01 (Running)", FIXTURE.web],
    ["pv-01 (Paused)", FIXTURE.pv],
  ])(
    "of %s: allowed from Halted and Suspended only; then the VM and its VBDs are gone",
    async (_name, vm) => {
      const { real } = await compare(async (run) => {
        const vbds = [...(await run.vbdsOf(vm.ref)).values()];
        const record = await run.conn.call<VmRecord>("VM.get_record", vm.ref);
        await run.view(vm.ref);
        await run.call("VM.destroy", vm.ref);
        await run.view(vm.ref);
        await run.call("VM.get_by_uuid", vm.uuid);
        run.note(
          "VMs named so",
          (await run.call<string[]>("VM.get_by_name_label", record.name_label))?.length,
        );
        for (const vbd of vbds) await run.call("VBD.get_record", vbd);
      });
      const halted = vm === FIXTURE.legacy || vm === FIXTURE.batch;
      expect(resultsOf(real, "VM.destroy")).toEqual([halted ? "ok" : "VM_BAD_POWER_STATE"]);
    },
  );

  it("of a clone that is still a template (a create stopped before VM.set_is_a_template)", async () => {
    await compare(async (run) => {
      const vm = await run.must(
        run.callAsync<string>("VM.clone", [FIXTURE.pvTemplate.ref, "half-made"]),
        "clone",
      );
      await run.view(vm);
      await run.call("VM.destroy", vm);
      await run.view(vm);
      run.note("VMs named so", (await run.call<string[]>("VM.get_by_name_label", "half-made"))?.length);
    });
  });
});
