/**
 * vCPUs and memory through the real Pulumi CLI against xapi-sim: what `pulumi preview` names for a
 * `vcpus` / `memory` change is what `pulumi up` sends, and each change costs what XAPI makes it cost
 * (docs/xapi-vcpus-memory.md):
 * - a vCPU increase on a Running VM is one `VM.set_VCPUs_number_live`, no restart, and the simulated
 *   domain runs the new count;
 * - a dynamic memory change on a Running VM is one `VM.set_memory_dynamic_range`, no restart;
 * - a `memory.staticMax` change on a Running VM needs a Halted VM: refused by the preview under the
 *   default policy, with the reason on the property; one shutdown/start cycle with
 *   `policy.powerCycle: "allow"`;
 * - a boot-order change and a `vcpus.max` change together cost one restart, not two.
 *
 * One stack walks through rounds: each round sets the declarations (`e2e:vms`, test/e2e/program-sizing),
 * previews with `--json`, applies, and compares per VM the preview's planned steps (`__xapiPlan`) with the
 * state-changing calls the simulator logged for that VM during `up`, in order, with their arguments.
 * Expected costs (which calls, how many domain builds) are written by hand from XAPI's rules, never
 * taken from the provider.
 *
 * Without a Pulumi CLI these tests fail (run `bash scripts/pulumi-cli.sh` once per machine).
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningSimulator } from "../../simulator";
import type { SimSnapshot } from "../../simulator/model/snapshot";
import { json } from "./call-key";
import { PulumiProject, type PulumiResult } from "./harness";
import { startRig } from "./rig";
import { type CallLogEntry, lastSeq, simControl, stateChangingSince, syncName } from "./sim-log";

const PASSWORD = "sizing-Pw-5c03a9e1";
const PROGRAM = path.join(__dirname, "program-sizing", "index.ts");
const TEMPLATE = "Other install media";
const GiB = 2 ** 30;
const MiB = 2 ** 20;
/** A round runs three CLI commands of a few seconds each. */
const TIMEOUT = { timeout: 300_000 };

/** XAPI's parameter names of each call after the VM ref, in wire order (docs/xapi-vcpus-memory.md §3). */
const PARAMS: Readonly<Record<string, readonly string[]>> = {
  "VM.set_VCPUs_max": ["value"],
  "VM.set_VCPUs_at_startup": ["value"],
  "VM.set_VCPUs_number_live": ["nvcpu"],
  "VM.set_memory_dynamic_range": ["min", "max"],
  "VM.set_memory_limits": ["static_min", "static_max", "dynamic_min", "dynamic_max"],
  "VM.set_HVM_boot_params": ["value"],
  "VM.start": ["start_paused", "force"],
  "VM.resume": ["start_paused", "force"],
  // The note's value carries a domain id the preview cannot know; the key is compared.
  "VM.add_to_other_config": ["key"],
  "VM.remove_from_other_config": ["key"],
};

/** The lifecycle calls that build a new domain for a VM (a start or a reboot; a resume restores one). */
const DOMAIN_BUILDS = new Set(["VM.start", "VM.clean_reboot", "VM.hard_reboot"]);

/** A Vm declaration as JSON (the program passes it to `new xapi.Vm` unchanged). */
type VmDecl = Readonly<Record<string, unknown>>;

/** One step of `__xapiPlan`. */
interface PlannedStep {
  vm: "existing" | "new" | "replaced";
  call: string;
  args: Record<string, unknown>;
}

/** What program-sizing exports per VM. */
interface VmOutputs {
  uuid: string;
  observed: {
    powerState: string;
    vcpus?: { atStartup: number; max: number };
    memory?: { staticMin: number; staticMax: number; dynamicMin: number; dynamicMax: number };
  };
}

/** The simulated domain of a VM (control op `domain`); memory in bytes. */
interface SimDomain {
  vcpus: number;
  vcpusMax: number;
  memory: { staticMax: number; dynamicMin: number; dynamicMax: number };
}

/** One VM's part of a round: the planned steps and the logged calls as comparable lines. */
interface VmRound {
  planned: string[];
  logged: string[];
  outputs: VmOutputs;
  record: SimSnapshot["vms"][number]["record"] | undefined;
  /** Its domain as the simulator runs it, `null` when it has none. */
  domain: SimDomain | null;
}

let binDir: string | undefined;
let cliMissing: unknown;
let sim: RunningSimulator;
let project: PulumiProject;

beforeAll(async () => {
  ({ binDir, cliMissing, sim } = await startRig(PASSWORD));
});

afterAll(async () => {
  await project?.dispose();
  await sim?.close();
});

/** A call with its arguments by XAPI's parameter names, as one comparable line; numbers and strings alike. */
function line(call: string, args: Readonly<Record<string, unknown>>): string {
  const names = PARAMS[call] ?? [];
  const shown = Object.fromEntries(
    names.map((n) => [n, typeof args[n] === "number" ? String(args[n]) : args[n]]),
  );
  return names.length === 0 ? call : `${call}(${json(shown).slice(1, -1)})`;
}

/** The logged call as a line: its positional parameters after the VM ref named as XAPI names them. */
function loggedLine(entry: CallLogEntry): string {
  const call = syncName(entry.method);
  const names = PARAMS[call] ?? [];
  return line(call, Object.fromEntries(names.map((n, i) => [n, entry.params[i + 1]])));
}

/** The `__xapiPlan` steps of each Vm of `pulumi preview --json`, by resource name. */
function plansOf(stdout: string): Map<string, PlannedStep[]> {
  const preview = JSON.parse(stdout) as {
    steps?: { urn: string; newState?: { inputs?: { __xapiPlan?: { steps: PlannedStep[] } } } }[];
  };
  const plans = new Map<string, PlannedStep[]>();
  for (const step of preview.steps ?? []) {
    if (!step.urn.includes("::pulumi-nodejs:dynamic/xapi:Vm::")) continue;
    plans.set(step.urn.split("::").at(-1) ?? "", step.newState?.inputs?.__xapiPlan?.steps ?? []);
  }
  return plans;
}

/** Sets the declarations, previews, applies; each VM's planned and logged calls, outputs and simulator entry. */
async function round(vms: Readonly<Record<string, VmDecl>>): Promise<Record<string, VmRound>> {
  await project.setConfig("e2e:vms", JSON.stringify(vms));
  const plans = plansOf((await project.pulumiOk(["preview", "--json"])).stdout);
  const since = await lastSeq(sim);
  await project.pulumiOk(["up", "--yes"]);
  const log = await stateChangingSince(sim, since);
  const state = await simControl<SimSnapshot>(sim, "state");
  const outputs = (
    JSON.parse((await project.pulumiOk(["stack", "output", "--json"])).stdout) as {
      vms: Record<string, VmOutputs>;
    }
  ).vms;
  const result: Record<string, VmRound> = {};
  for (const name of Object.keys(vms)) {
    const out = outputs[name];
    if (out === undefined) throw new Error(`no outputs for VM ${name}`);
    result[name] = {
      // A create's clone names the template; the rest of its calls name the new VM.
      planned: (plans.get(name) ?? []).filter((s) => s.call !== "VM.clone").map((s) => line(s.call, s.args)),
      logged: log.filter((c) => c.vm === out.uuid).map(loggedLine),
      outputs: out,
      record: state.vms.find((v) => v.record.uuid === out.uuid)?.record,
      domain: (await simControl<{ domain: SimDomain | null }>(sim, "domain", { uuid: out.uuid })).domain,
    };
  }
  return result;
}

/** A VM's calls without setters and the provider's notes: lifecycle calls (and a create's `VM.provision`). */
function lifecycle(lines: readonly string[]): string[] {
  return lines
    .map((l) => l.replace(/\(.*$/, ""))
    .filter((c) => !c.startsWith("VM.set_") && !/_other_config$/.test(c));
}

function expectPreviewIsApply(vm: VmRound | undefined, where: string): VmRound {
  if (vm === undefined) throw new Error(`${where}: not in the round`);
  expect(vm.logged, `${where}: calls logged during up vs the preview's steps`).toEqual(vm.planned);
  return vm;
}

/** The round's declarations; later rounds change one thing each (module comment). */
const BASE: Readonly<Record<string, VmDecl>> = {
  cpu: { template: TEMPLATE, powerState: "Running", vcpus: { atStartup: 1, max: 4 } },
  mem: { template: TEMPLATE, powerState: "Running", memory: { dynamicMin: "1GiB", dynamicMax: "2GiB" } },
  big: { template: TEMPLATE, powerState: "Running", memory: { staticMax: "2GiB", dynamicMax: "2GiB" } },
  boot: {
    template: TEMPLATE,
    powerState: "Running",
    hvm: { bootParams: { order: "cd" } },
    vcpus: { atStartup: 2, max: 2 },
  },
};

describe("vCPUs and memory: preview == apply, each change at XAPI's cost", { timeout: 600_000 }, () => {
  let created: Record<string, VmRound>;
  let live: Record<string, VmRound>;

  beforeAll(async () => {
    if (binDir === undefined) throw cliMissing;
    project = await PulumiProject.create({ program: PROGRAM, binDir, name: "xapi-sizing" });
    await project.initStack();
    await project.setConfig("xapi:url", sim.url);
    await project.setConfig("xapi:username", "root");
    await project.setConfig("xapi:password", PASSWORD, { secret: true });
    created = await round(BASE);
  }, 300_000);

  it("a create writes the declared sizing while the clone is Halted, then starts it once", TIMEOUT, () => {
    const cpu = expectPreviewIsApply(created.cpu, "create cpu");
    expect(cpu.outputs.observed.vcpus).toEqual({ atStartup: 1, max: 4 });
    expect(lifecycle(cpu.logged)).toEqual(["VM.provision", "VM.start"]);
  });

  describe("live changes on Running VMs", () => {
    beforeAll(async () => {
      live = await round({
        ...BASE,
        cpu: { ...BASE.cpu, vcpus: { atStartup: 3, max: 4 } },
        mem: { ...BASE.mem, memory: { dynamicMin: "1GiB", dynamicMax: "1536MiB" } },
      });
    }, 300_000);

    it("a vCPU increase is one VM.set_VCPUs_number_live, no restart", TIMEOUT, () => {
      const cpu = expectPreviewIsApply(live.cpu, "live cpu");
      expect(cpu.logged).toEqual(['VM.set_VCPUs_number_live("nvcpu":"3")']);
    });

    it("the simulated domain runs 3 vCPUs, and observed.vcpus says so", TIMEOUT, () => {
      expect([live.cpu?.domain?.vcpus, live.cpu?.outputs.observed.vcpus]).toEqual([
        3,
        { atStartup: 3, max: 4 },
      ]);
    });

    it("a dynamic memory change is one VM.set_memory_dynamic_range, no restart", TIMEOUT, () => {
      const mem = expectPreviewIsApply(live.mem, "live mem");
      expect(mem.logged).toEqual([`VM.set_memory_dynamic_range("max":"${1536 * MiB}","min":"${GiB}")`]);
    });

    it("the simulated domain gets the new range, and observed.memory says so", TIMEOUT, () => {
      expect([live.mem?.domain?.memory.dynamicMax, live.mem?.outputs.observed.memory?.dynamicMax]).toEqual([
        1536 * MiB,
        1536 * MiB,
      ]);
    });

    it("the VMs that did not change got no call", TIMEOUT, () => {
      expect([live.big?.logged, live.boot?.logged]).toEqual([[], []]);
    });
  });

  describe("changes that need a Halted VM", () => {
    let refused: PulumiResult;
    let cycled: Record<string, VmRound>;
    const bigger = { ...BASE.big, memory: { staticMax: "4GiB", dynamicMax: "2GiB" } };
    const rebooted = {
      ...BASE.boot,
      hvm: { bootParams: { order: "dc" } },
      vcpus: { atStartup: 2, max: 4 },
      policy: { powerCycle: "allow" },
    };

    beforeAll(async () => {
      await project.setConfig("e2e:vms", JSON.stringify({ ...BASE, big: bigger }));
      refused = await project.pulumi(["preview", "--json"]);
      cycled = await round({ ...BASE, big: { ...bigger, policy: { powerCycle: "allow" } }, boot: rebooted });
    }, 300_000);

    it(
      "memory.staticMax on a Running VM under the default policy fails the preview, naming the property",
      TIMEOUT,
      () => {
        const output = `${refused.stdout}\n${refused.stderr}`;
        expect({
          failed: refused.code !== 0,
          property: output.includes("memory.staticMax"),
          hint: output.includes("powerCycle"),
        }).toEqual({ failed: true, property: true, hint: true });
      },
    );

    it('with policy.powerCycle "allow" it is one shutdown/start cycle, as previewed', TIMEOUT, () => {
      const big = expectPreviewIsApply(cycled.big, "cycled big");
      expect(lifecycle(big.logged)).toEqual(["VM.clean_shutdown", "VM.start"]);
    });

    it("the VM runs a domain built with the new static max", TIMEOUT, () => {
      expect([cycled.big?.record?.memory_static_max, cycled.big?.domain?.memory.staticMax]).toEqual([
        4 * GiB,
        4 * GiB,
      ]);
    });

    it("a boot-order change and a vcpus.max change together cost one domain build, not two", TIMEOUT, () => {
      const boot = expectPreviewIsApply(cycled.boot, "cycled boot");
      const calls = lifecycle(boot.logged);
      expect({ builds: calls.filter((c) => DOMAIN_BUILDS.has(c)).length, calls }).toEqual({
        builds: 1,
        calls: ["VM.clean_shutdown", "VM.start"],
      });
    });

    it("that domain has the new boot order and 4 vCPUs at most", TIMEOUT, () => {
      expect([cycled.boot?.record?.HVM_boot_params.order, cycled.boot?.domain?.vcpusMax]).toEqual(["dc", 4]);
    });
  });

  it("the next preview plans nothing", TIMEOUT, async () => {
    const plans = plansOf((await project.pulumiOk(["preview", "--json"])).stdout);
    expect([...plans.values()].flat()).toEqual([]);
  });
});
