/**
 * The peer baseline: Ansible's `community.general.xenserver_guest_powerstate` module (PyPI `ansible`,
 * with the Python `XenAPI` binding; test/requirements.txt), unmodified, driving the workload's power
 * transitions against xapi-sim over plain HTTP, through `ansible-playbook`.
 *
 * What Ansible can express: each job whose plan (the planner's, under the default policy) is a sequence
 * of calls the module makes for one of its states, the module run once per call in a loop:
 *   VM.start / VM.resume / VM.unpause → `powered-on`, VM.clean_shutdown → `shutdown-guest`,
 *   VM.suspend → `suspended`, VM.hard_shutdown → `powered-off`, VM.clean_reboot → `reboot-guest`,
 *   VM.hard_reboot → `restarted`;
 * a job with nothing to do runs the module once with the state it should be in (`powered-on`,
 * `powered-off`, `suspended`: what a playbook declares; the module then only reads).
 * Skipped, with the reason in the results: jobs declaring `Paused` (the module has no such state) and
 * jobs changing the boot order (the module sets no VM field).
 *
 * The playbook: one inventory host per VM (`connection: local`), `--forks` = the executor's concurrency,
 * so both sides have as many VMs in flight. Ansible's CPU time is that of the whole command and all its
 * descendants (bash's `times` after it exits: every module process is waited for).
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import type { PlanStep } from "../provider/model/plan";
import { runMeasured } from "./proc";
import type { Job } from "./workload";

const REPO_ROOT = path.join(__dirname, "..", "..");
const MODULE = "community.general.xenserver_guest_powerstate";

const STATE_OF_CALL: Readonly<Record<string, string>> = {
  "VM.start": "powered-on",
  "VM.resume": "powered-on",
  "VM.unpause": "powered-on",
  "VM.clean_shutdown": "shutdown-guest",
  "VM.suspend": "suspended",
  "VM.hard_shutdown": "powered-off",
  "VM.clean_reboot": "reboot-guest",
  "VM.hard_reboot": "restarted",
};
const STATE_AT_REST: Readonly<Record<string, string>> = {
  Running: "powered-on",
  Halted: "powered-off",
  Suspended: "suspended",
};

/** The module states that take a VM through `job`'s plan, or why Ansible cannot express it. */
export function ansibleStates(
  job: Job,
  steps: readonly Pick<PlanStep, "call" | "args">[],
): { states: string[] } | { skipped: string } {
  if (job.boot !== undefined)
    return { skipped: "boot-order change: xenserver_guest_powerstate sets no VM field" };
  if (job.to === "Paused")
    return { skipped: "declared Paused: xenserver_guest_powerstate has no paused state" };
  if (steps.length === 0) {
    const state = STATE_AT_REST[job.to];
    return state === undefined ? { skipped: `no module state for ${job.to}` } : { states: [state] };
  }
  const states: string[] = [];
  for (const step of steps) {
    const state = STATE_OF_CALL[step.call];
    if (state === undefined || (step.args as { start_paused?: boolean }).start_paused === true) {
      return { skipped: `${step.call}: no module state makes this call` };
    }
    states.push(state);
  }
  return { states };
}

export interface AnsibleRun {
  wallMs: number;
  /** CPU time of ansible-playbook and all its descendants (ms). */
  cpuMs: number;
  /** Module runs (loop items) made, and those that failed. */
  moduleRuns: number;
  failedHosts: number;
  /** The first failure's message, if any. */
  firstFailure?: string;
}

/** `ansible-playbook --version`'s first line, or undefined when Ansible is not installed. */
export function ansibleVersion(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile("ansible-playbook", ["--version"], { timeout: 60_000 }, (error, stdout) => {
      resolve(error === null ? stdout.split("\n")[0]?.trim() : undefined);
    });
  });
}

/** Runs the module for every VM (`uuid` → its states) against `url`. */
export async function runAnsible(
  url: string,
  credentials: { username: string; password: string },
  vms: readonly { uuid: string; states: readonly string[] }[],
  forks: number,
): Promise<AnsibleRun> {
  const scratch = path.join(REPO_ROOT, ".tmp");
  await mkdir(scratch, { recursive: true });
  const root = await mkdtemp(path.join(scratch, "bench-ansible-"));
  try {
    const hosts = Object.fromEntries(
      vms.map((vm, i) => [`vm-${i}`, { vm_uuid: vm.uuid, vm_states: vm.states }]),
    );
    const inventory = {
      all: {
        children: { vms: { hosts } },
        vars: {
          ansible_connection: "local",
          ansible_python_interpreter: "{{ ansible_playbook_python }}",
          xapi_url: url,
          xapi_username: credentials.username,
          xapi_password: credentials.password,
        },
      },
    };
    const playbook = [
      {
        hosts: "vms",
        gather_facts: false,
        tasks: [
          {
            name: "power state",
            [MODULE]: {
              hostname: "{{ xapi_url }}",
              username: "{{ xapi_username }}",
              password: "{{ xapi_password }}",
              validate_certs: false,
              uuid: "{{ vm_uuid }}",
              state: "{{ item }}",
            },
            loop: "{{ vm_states }}",
          },
        ],
      },
    ];
    // YAML is a superset of JSON: both files are written as JSON.
    await writeFile(path.join(root, "inventory.yml"), JSON.stringify(inventory));
    await writeFile(path.join(root, "playbook.yml"), JSON.stringify(playbook));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ANSIBLE_HOME: path.join(root, "home"),
      ANSIBLE_LOCAL_TEMP: path.join(root, "tmp"),
      ANSIBLE_LOAD_CALLBACK_PLUGINS: "1",
      ANSIBLE_STDOUT_CALLBACK: "json",
      ANSIBLE_LOCALHOST_WARNING: "false",
      ANSIBLE_INVENTORY_UNPARSED_WARNING: "false",
      ANSIBLE_HOST_KEY_CHECKING: "false",
      ANSIBLE_RETRY_FILES_ENABLED: "false",
      ANSIBLE_NOCOLOR: "1",
    };
    // bash's `times` after the command: the CPU time of everything it waited for, descendants included.
    const script = '"$@"; rc=$?; times >&2; exit $rc';
    const result = await runMeasured(
      "bash",
      [
        "-c",
        script,
        "bash",
        "ansible-playbook",
        "-i",
        "inventory.yml",
        "--forks",
        String(forks),
        "playbook.yml",
      ],
      { cwd: root, env },
    );
    const cpuMs = childrenCpuMs(result.stderr);
    let report: { plays?: { tasks?: { hosts?: Record<string, HostResult> }[] }[] } = {};
    try {
      report = JSON.parse(result.stdout) as typeof report;
    } catch {
      throw new Error(
        `ansible-playbook printed no JSON report (exit ${result.code})\n${result.stdout}\n${result.stderr}`,
      );
    }
    const hostResults = Object.values(report.plays?.[0]?.tasks?.[0]?.hosts ?? {});
    let moduleRuns = 0;
    let failedHosts = 0;
    let firstFailure: string | undefined;
    for (const host of hostResults) {
      moduleRuns += host.results?.length ?? 0;
      if (host.failed === true) {
        failedHosts++;
        firstFailure ??= host.results?.find((r) => r.failed === true)?.msg ?? host.msg ?? "failed";
      }
    }
    return {
      wallMs: Math.round(result.wallMs * 10) / 10,
      cpuMs,
      moduleRuns,
      failedHosts,
      ...(firstFailure === undefined ? {} : { firstFailure }),
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

interface HostResult {
  failed?: boolean;
  msg?: string;
  results?: { failed?: boolean; msg?: string }[];
}

/** The children's user + system time of bash's `times` (its last line: "0m1.234s 0m0.567s"). */
function childrenCpuMs(stderr: string): number {
  const lines = stderr.trim().split("\n");
  const last = lines.at(-1) ?? "";
  const times = [...last.matchAll(/(\d+)m([\d.]+)s/g)].map(
    ([, m, s]) => Number(m) * 60_000 + Number(s) * 1000,
  );
  return times.length === 2 ? Math.round((times[0] as number) + (times[1] as number)) : Number.NaN;
}
