/**
 * `xapi-review` (provider/cli/review.ts): the Markdown comment for each REAL `pulumi preview --json` of
 * test/fixtures/previews (captured from the Pulumi CLI against xapi-sim by capture.ts there; README.md
 * there says how and what was normalised). The expected comments are inline snapshots, each read and
 * checked by hand against the fixture; a change of the renderer or of what a preview carries shows up
 * here as a diff to review, never as a silent update.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main, type PlanStep, parsePreviewText, renderReview, rowsOf } from "../provider/cli/review";

const ROOT = join(__dirname, "..");
const FIXTURES = join(__dirname, "fixtures", "previews");

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8"));
}

function review(name: string): string {
  return renderReview(fixture(name));
}

describe("the comment for each captured preview", () => {
  it("a create", () => {
    expect(review("create")).toMatchInlineSnapshot(`
      "**1 VM changes: 0 restarts, 0 hard stops** — 1 created.

      Stack \`pr\` of project \`xapi-review\`; planned from the live state of pool \`5a1f0000-0000-4000-8000-0000000000a1\`.

      #### \`app\`: created

      | # | Call | From → To | Reason | Flags |
      |--:|---|---|---|---|
      | 1 | \`VM.clone(new_name: "pulumi-xapi:creating:687a1e8cc488b5b0", template: "Other install media")\` | → Halted | copy the template |  |
      | 2 | \`VM.add_to_other_config(key: "pulumi-xapi:urn")\` | Halted → Halted | record on the VM its owner, this resource's URN |  |
      | 3 | \`VM.provision\` | Halted → Halted | create the disks the template describes |  |
      | 4 | \`VM.set_is_a_template(value: false)\` | Halted → Halted | turn the copy into a VM |  |
      | 5 | \`VM.start(force: false, start_paused: false)\` | Halted → Running | start the VM (declared Running) |  |
      | 6 | \`VM.set_name_label(value: "app-01")\` | Running → Running | the declared name |  |

      <!-- xapi-review -->
      "
    `);
  });

  it("no changes", () => {
    expect(review("unchanged")).toMatchInlineSnapshot(`
      "**No VM changes.**

      Stack \`pr\` of project \`xapi-review\`.

      <!-- xapi-review -->
      "
    `);
  });

  it("a boot change under bootChanges: restart (a clean reboot, counted as a restart)", () => {
    expect(review("update-boot-restart")).toMatchInlineSnapshot(`
      "**1 VM changes: 1 restart, 0 hard stops** — 1 updated.

      Stack \`pr\` of project \`xapi-review\`; planned from the live state of pool \`5a1f0000-0000-4000-8000-0000000000a1\`.

      #### \`app\`: updated

      | # | Call | From → To | Reason | Flags |
      |--:|---|---|---|---|
      | 1 | \`VM.add_to_other_config(key: "pulumi-xapi:pending-boot", paths: ["hvm.bootParams.order"])\` | Running → Running | note on the VM that its domain still runs the previous boot configuration (hvm.bootParams.order) |  |
      | 2 | \`VM.set_HVM_boot_params(value: {"order":"dc"})\` | Running → Running | HVM_boot_params is {"order":"cd"}, declared {"order":"dc"} |  |
      | 3 | \`VM.clean_reboot\` | Running → Running | clean reboot so the domain runs the declared boot config | ↻ restart |
      | 4 | \`VM.remove_from_other_config(key: "pulumi-xapi:pending-boot")\` | Running → Running | the domain now runs the VM's boot configuration: clear the pending-boot note |  |

      <sub>↻ restart: the guest is stopped and runs again (counted as a restart)</sub>

      <!-- xapi-review -->
      "
    `);
  });

  it("Suspended → Halted under the default policy: the resume passes through Running", () => {
    expect(review("power-through-running")).toMatchInlineSnapshot(`
      "**1 VM changes: 0 restarts, 0 hard stops** — 1 updated.

      Stack \`pr\` of project \`xapi-review\`; planned from the live state of pool \`5a1f0000-0000-4000-8000-0000000000a1\`.

      #### \`worker\`: updated

      | # | Call | From → To | Reason | Flags |
      |--:|---|---|---|---|
      | 1 | \`VM.resume(force: false, start_paused: false)\` | Suspended → Running | resume the saved domain, on the way to Halted | ⤴ through Running |
      | 2 | \`VM.clean_shutdown\` | Running → Halted | shut the guest down cleanly (declared Halted) |  |

      <sub>⤴ through Running: the VM runs on the way, although it is not declared Running</sub>

      <!-- xapi-review -->
      "
    `);
  });

  it("Suspended → Halted under shutdown hard with allowDiscardSuspendedState: the image is discarded", () => {
    expect(review("image-discard")).toMatchInlineSnapshot(`
      "**1 VM changes: 0 restarts, 1 hard stop** — 1 updated.

      Stack \`pr\` of project \`xapi-review\`; planned from the live state of pool \`5a1f0000-0000-4000-8000-0000000000a1\`.

      #### \`worker\`: updated

      | # | Call | From → To | Reason | Flags |
      |--:|---|---|---|---|
      | 1 | \`VM.hard_shutdown\` | Suspended → Halted | discard the suspended memory image, as allowDiscardSuspendedState permits (declared Halted) | ⚠ hard, ⚠ destructive, ⚠ discards the suspend image |

      <sub>⚠ hard: the toolstack ends the domain without asking the guest (counted as a hard stop) · ⚠ destructive: guest state is lost: the running memory or a suspend image · ⚠ discards the suspend image: \`VM.hard_shutdown\` of a Suspended VM: the saved memory image is deleted, the guest cold-boots next time</sub>

      <!-- xapi-review -->
      "
    `);
  });

  it("a replacement: the new VM's calls, then the old VM's", () => {
    expect(review("replace")).toMatchInlineSnapshot(`
      "**1 VM changes: 0 restarts, 0 hard stops** — 1 replaced.

      Stack \`pr\` of project \`xapi-review\`; planned from the live state of pool \`5a1f0000-0000-4000-8000-0000000000a1\`.

      #### \`app\`: replaced

      Replaced because \`template\` changed.

      \`pulumi up\` makes the new VM first (steps 1–6), then removes the old one, \`00000000-0000-4000-8000-000000000001\` (steps 7–9).

      | # | VM | Call | From → To | Reason | Flags |
      |--:|---|---|---|---|---|
      | 1 | new | \`VM.clone(new_name: "pulumi-xapi:creating:687a1e8cc488b5b0", template: "Generic PV (pygrub)")\` | → Halted | copy the template |  |
      | 2 | new | \`VM.add_to_other_config(key: "pulumi-xapi:urn")\` | Halted → Halted | record on the VM its owner, this resource's URN |  |
      | 3 | new | \`VM.provision\` | Halted → Halted | create the disks the template describes |  |
      | 4 | new | \`VM.set_is_a_template(value: false)\` | Halted → Halted | turn the copy into a VM |  |
      | 5 | new | \`VM.start(force: false, start_paused: false)\` | Halted → Running | start the VM (declared Running) |  |
      | 6 | new | \`VM.set_name_label(value: "app-01")\` | Running → Running | the declared name |  |
      | 7 | old | \`VM.clean_shutdown\` | Running → Halted | shut the guest down cleanly (declared Halted) |  |
      | 8 | old | \`VM.destroy\` | Halted | delete the VM | ✖ destroys |
      | 9 | old | \`VDI.destroy(userdevice: "0")\` |  | delete the disk the VM was created with | ✖ destroys |

      <sub>✖ destroys: a VM or a disk is deleted</sub>

      <!-- xapi-review -->
      "
    `);
  });

  it("an adoption (db-01, Halted, declared Running)", () => {
    expect(review("adopt")).toMatchInlineSnapshot(`
      "**1 VM changes: 0 restarts, 0 hard stops** — 1 adopted.

      Stack \`pr\` of project \`xapi-review\`; planned from the live state of pool \`5a1f0000-0000-4000-8000-0000000000a1\`.

      #### \`db\`: adopted \`5a1f0000-0000-4000-8000-0000000000e2\`

      | # | Call | From → To | Reason | Flags |
      |--:|---|---|---|---|
      | 1 | \`VM.add_to_other_config(key: "pulumi-xapi:urn")\` | Halted → Halted | record on the VM its owner, this resource's URN |  |
      | 2 | \`VM.start(force: false, start_paused: false)\` | Halted → Running | start the VM (declared Running) |  |

      <!-- xapi-review -->
      "
    `);
  });

  it("deletions: a created VM is destroyed, an adopted one released", () => {
    expect(review("delete")).toMatchInlineSnapshot(`
      "**2 VMs change: 0 restarts, 0 hard stops** (not counted: the shutdown of 1 deleted VM) — 1 destroyed, 1 released.

      Stack \`pr\` of project \`xapi-review\`.

      #### \`app\`: destroyed

      Removed from the program. In a preview the engine deletes a resource without asking the provider, so there is no call list; \`pulumi up\` will (power state at the last update or refresh: \`Running\`):

      - shut VM \`00000000-0000-4000-8000-000000000001\` down as its recorded policy says (shutdown \`clean\`), unless it is Halted;
      - ✖ **destroy** it (\`VM.destroy\`), then each disk it was created with (\`VDI.destroy\`).

      #### \`db\`: released

      Removed from the program. In a preview the engine deletes a resource without asking the provider, so there is no call list; \`pulumi up\` will (power state at the last update or refresh: \`Running\`):

      - **release** VM \`5a1f0000-0000-4000-8000-0000000000e2\`, which this stack adopted: remove its owner tag (\`VM.remove_from_other_config(key: "pulumi-xapi:urn")\`); the VM itself is left as it is, running or not.

      <sub>✖ destroys: a VM or a disk is deleted</sub>

      <!-- xapi-review -->
      "
    `);
  });

  it("several VMs at once", () => {
    expect(review("mixed")).toMatchInlineSnapshot(`
      "**5 VMs change: 1 restart, 1 hard stop** — 1 created, 1 adopted, 2 updated, 1 released.

      Stack \`pr\` of project \`xapi-review\`; planned from the live state of pool \`5a1f0000-0000-4000-8000-0000000000a1\`.

      #### \`app\`: updated

      | # | Call | From → To | Reason | Flags |
      |--:|---|---|---|---|
      | 1 | \`VM.add_to_other_config(key: "pulumi-xapi:pending-boot", paths: ["hvm.bootParams.order"])\` | Running → Running | note on the VM that its domain still runs the previous boot configuration (hvm.bootParams.order) |  |
      | 2 | \`VM.set_HVM_boot_params(value: {"order":"cdn"})\` | Running → Running | HVM_boot_params is {"order":"dc"}, declared {"order":"cdn"} |  |
      | 3 | \`VM.clean_reboot\` | Running → Running | clean reboot so the domain runs the declared boot config | ↻ restart |
      | 4 | \`VM.remove_from_other_config(key: "pulumi-xapi:pending-boot")\` | Running → Running | the domain now runs the VM's boot configuration: clear the pending-boot note |  |

      #### \`batch\`: adopted \`5a1f0000-0000-4000-8000-0000000000e4\`

      | # | Call | From → To | Reason | Flags |
      |--:|---|---|---|---|
      | 1 | \`VM.add_to_other_config(key: "pulumi-xapi:urn")\` | Suspended → Suspended | record on the VM its owner, this resource's URN |  |
      | 2 | \`VM.hard_shutdown\` | Suspended → Halted | discard the suspended memory image, as allowDiscardSuspendedState permits (declared Halted) | ⚠ hard, ⚠ destructive, ⚠ discards the suspend image |

      #### \`worker\`: updated

      | # | Call | From → To | Reason | Flags |
      |--:|---|---|---|---|
      | 1 | \`VM.resume(force: false, start_paused: false)\` | Suspended → Running | resume the saved domain (declared Running) |  |

      #### \`web\`: created

      | # | Call | From → To | Reason | Flags |
      |--:|---|---|---|---|
      | 1 | \`VM.clone(new_name: "pulumi-xapi:creating:a787d25a6569b975", template: "Other install media")\` | → Halted | copy the template |  |
      | 2 | \`VM.add_to_other_config(key: "pulumi-xapi:urn")\` | Halted → Halted | record on the VM its owner, this resource's URN |  |
      | 3 | \`VM.provision\` | Halted → Halted | create the disks the template describes |  |
      | 4 | \`VM.set_is_a_template(value: false)\` | Halted → Halted | turn the copy into a VM |  |
      | 5 | \`VM.set_name_label(value: "web-02")\` | Halted → Halted | the declared name |  |

      #### \`db\`: released

      Removed from the program. In a preview the engine deletes a resource without asking the provider, so there is no call list; \`pulumi up\` will (power state at the last update or refresh: \`Running\`):

      - **release** VM \`5a1f0000-0000-4000-8000-0000000000e2\`, which this stack adopted: remove its owner tag (\`VM.remove_from_other_config(key: "pulumi-xapi:urn")\`); the VM itself is left as it is, running or not.

      <sub>↻ restart: the guest is stopped and runs again (counted as a restart) · ⚠ hard: the toolstack ends the domain without asking the guest (counted as a hard stop) · ⚠ destructive: guest state is lost: the running memory or a suspend image · ⚠ discards the suspend image: \`VM.hard_shutdown\` of a Suspended VM: the saved memory image is deleted, the guest cold-boots next time</sub>

      <!-- xapi-review -->
      "
    `);
  });

  it("the pool unreachable: planned from the recorded inputs, said first", () => {
    expect(review("fallback")).toMatchInlineSnapshot(`
      "**1 VM changes: 0 restarts, 0 hard stops** (not counted: 1 VM planned from the recorded inputs) — 1 updated.

      > [!WARNING]
      > **Planned from the recorded inputs, not from the pool:** the pool at http://127.0.0.1:40001 cannot be reached (ECONNREFUSED)
      >
      > For \`app\` the calls are what the inputs of the last update imply; \`pulumi up\` plans again from the live VMs and may make other calls.

      Stack \`pr\` of project \`xapi-review\`.

      #### \`app\`: updated

      ⚠ **Planned from the recorded inputs** (above):

      \`\`\`text
      1. VM.set_HVM_boot_params(value: {"order":"cd"}) (Running → Running): HVM_boot_params is {"order":"dc"}, declared {"order":"cd"}
      2. VM.clean_reboot (Running → Running): clean reboot so the domain runs the declared boot config
      \`\`\`

      <!-- xapi-review -->
      "
    `);
  });

  it("an unknown template: the preview's error", () => {
    expect(review("error")).toMatchInlineSnapshot(`
      "**❌ The preview failed: 1 error.** Before it stopped: no VM changes.

      Stack \`pr\` of project \`xapi-review\`.

      #### Errors

      - ❌ \`web\`: property template value {web-golden-2024} has a problem: Template "web-golden-2024" not found: expected a VM template with this name_label, found none. List them with \`xe template-list params=name-label\`.

      <!-- xapi-review -->
      "
    `);
  });
});

describe("the counts", () => {
  const step = (call: string, from: string, to: string, more: Partial<PlanStep> = {}): PlanStep => ({
    vm: "existing",
    call,
    args: {},
    from,
    to,
    hard: false,
    destructive: false,
    passesThroughRunning: false,
    ...more,
  });

  it("a restart: a reboot, or a start after a shutdown of a live guest of the same VM", () => {
    const rows = rowsOf([
      step("VM.clean_shutdown", "Running", "Halted"),
      step("VM.set_HVM_boot_policy", "Halted", "Halted"),
      step("VM.start", "Halted", "Running"),
      step("VM.hard_reboot", "Paused", "Running", { hard: true, destructive: true }),
      step("VM.clean_reboot", "Running", "Running"),
    ]);
    expect(rows.map((r) => r.restart)).toEqual([false, false, true, true, true]);
  });

  it("not a restart: a start of a Halted VM, a resume, an unpause, a start on another VM", () => {
    const rows = rowsOf([
      step("VM.start", "Halted", "Running"),
      step("VM.resume", "Suspended", "Running"),
      step("VM.unpause", "Paused", "Running"),
      step("VM.clean_shutdown", "Running", "Halted", { vm: "replaced" }),
      step("VM.start", "Halted", "Running", { vm: "new" }),
      // A Suspended VM shut down has no live guest to restart.
      step("VM.hard_shutdown", "Suspended", "Halted", { hard: true, destructive: true }),
      step("VM.start", "Halted", "Running"),
    ]);
    expect(rows.map((r) => r.restart)).toEqual([false, false, false, false, false, false, false]);
    expect(rows.map((r) => r.discardsImage)).toEqual([false, false, false, false, false, true, false]);
  });

  it("a summary over several VMs: restarts and hard stops added up, deletes not counted", () => {
    const vm = (name: string, op: string, steps: PlanStep[]) => ({
      op,
      urn: `urn:pulumi:prod::infra::pulumi-nodejs:dynamic/xapi:Vm::${name}`,
      newState: {
        type: "pulumi-nodejs:dynamic/xapi:Vm",
        inputs: { __xapiPlan: { source: "pool", pool: "p", steps } },
      },
    });
    const text = renderReview({
      steps: [
        vm("a", "update", [step("VM.clean_reboot", "Running", "Running")]),
        vm("b", "update", [step("VM.hard_reboot", "Running", "Running", { hard: true, destructive: true })]),
        vm("c", "update", [step("VM.hard_shutdown", "Running", "Halted", { hard: true, destructive: true })]),
        {
          op: "delete",
          urn: "urn:pulumi:prod::infra::pulumi-nodejs:dynamic/xapi:Vm::d",
          oldState: { type: "pulumi-nodejs:dynamic/xapi:Vm", inputs: {}, outputs: { uuid: "u" } },
        },
      ],
    });
    expect(text.split("\n")[0]).toBe(
      "**4 VMs change: 2 restarts, 2 hard stops** (not counted: the shutdown of 1 deleted VM) — 3 updated, 1 destroyed.",
    );
  });

  it("a VM under a component resource is found by its type", () => {
    const text = renderReview({
      steps: [
        {
          op: "update",
          urn: "urn:pulumi:prod::infra::my:Web$pulumi-nodejs:dynamic/xapi:Vm::web-1",
          newState: {
            type: "pulumi-nodejs:dynamic/xapi:Vm",
            inputs: {
              __xapiPlan: { source: "pool", steps: [step("VM.clean_reboot", "Running", "Running")] },
            },
          },
        },
      ],
    });
    expect(text).toContain("#### `web-1`: updated");
  });

  it("table cells keep `|`, HTML and backticks harmless", () => {
    const text = renderReview({
      steps: [
        {
          op: "update",
          urn: "urn:pulumi:prod::infra::pulumi-nodejs:dynamic/xapi:Vm::x",
          newState: {
            type: "pulumi-nodejs:dynamic/xapi:Vm",
            inputs: {
              __xapiPlan: {
                source: "pool",
                steps: [
                  step("VM.set_PV_args", "Halted", "Halted", {
                    args: { value: "a|b `c`" },
                    reason: "PV_args is <x|y>",
                  }),
                ],
              },
            },
          },
        },
      ],
    });
    expect(text).toContain(
      '| 1 | ``VM.set_PV_args(value: "a\\|b `c`")`` | Halted → Halted | PV_args is &lt;x\\|y&gt; |  |',
    );
  });
});

describe("input that is not a preview", () => {
  async function run(
    argv: string[],
    stdin: string | undefined,
  ): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const code = await main(argv, {
      out: (t) => {
        out += t;
      },
      err: (line) => {
        err += `${line}\n`;
      },
      stdin: async () => stdin,
    });
    return { code, out, err };
  }

  it("empty stdin: exit 2 and why", async () => {
    expect(await run([], "")).toMatchInlineSnapshot(`
      {
        "code": 2,
        "err": "xapi-review: stdin is empty: expected the output of \`pulumi preview --json\` (did the preview start? its errors are on its stderr).
      ",
        "out": "",
      }
    `);
  });

  it("an array: exit 2 and why", async () => {
    expect(await run([], "[1]")).toMatchInlineSnapshot(`
      {
        "code": 2,
        "err": "xapi-review: expected the output of \`pulumi preview --json\`: an object with "steps" or "diagnostics", received an array.
      ",
        "out": "",
      }
    `);
  });

  it("another object: exit 2 and why", async () => {
    expect(await run([], '{"version":3,"deployment":{}}')).toMatchInlineSnapshot(`
      {
        "code": 2,
        "err": "xapi-review: expected the output of \`pulumi preview --json\`: an object with "steps" or "diagnostics", received an object with version, deployment.
      ",
        "out": "",
      }
    `);
  });

  it("a step without a URN: exit 2 and why", async () => {
    expect(await run([], '{"steps":[{"op":"create"}]}')).toMatchInlineSnapshot(`
      {
        "code": 2,
        "err": "xapi-review: expected the output of \`pulumi preview --json\`: an object with "steps" or "diagnostics"; steps[0] has no "op" and "urn".
      ",
        "out": "",
      }
    `);
  });

  it("the human output: exit 2, what was received, and a hint", async () => {
    const { code, out, err } = await run([], "Previewing update (dev):\n     Type   Name\n");
    expect([code, out]).toEqual([2, ""]);
    // Between the parentheses: JSON.parse's message, which differs between Node versions.
    expect(err).toMatch(
      /^xapi-review: stdin is not JSON \(.+\): expected the output of `pulumi preview --json`, received "Previewing update \(dev\): Type Name"\. Was --json given\?\n$/,
    );
  });

  it("nothing piped (stdin a terminal): exit 2", async () => {
    expect(await run([], undefined)).toMatchInlineSnapshot(`
      {
        "code": 2,
        "err": "xapi-review: nothing on stdin: pipe \`pulumi preview --json\` into xapi-review, or give the file it wrote.
      ",
        "out": "",
      }
    `);
  });

  it("a missing file: exit 2 and the read error", async () => {
    const result = await run(["/nonexistent/preview.json"], "");
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^xapi-review: cannot read \/nonexistent\/preview\.json: ENOENT/);
  });

  it("an unknown option: exit 2, nothing on stdout", async () => {
    expect(await run(["--title", "x"], "{}")).toMatchObject({ code: 2, out: "" });
  });

  it("two files: exit 2, at most one file", async () => {
    const result = await run(["a.json", "b.json"], "{}");
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^xapi-review: expected at most one file\n/);
  });

  it("a file argument is read instead of stdin", async () => {
    const file = join(FIXTURES, "create.json");
    expect(await run([file], undefined)).toEqual({ code: 0, out: review("create"), err: "" });
  });

  it("`-` reads stdin", async () => {
    const file = join(FIXTURES, "create.json");
    expect(await run(["-"], readFileSync(file, "utf8"))).toEqual({ code: 0, out: review("create"), err: "" });
  });

  it("parsePreviewText names the source", () => {
    expect(() => parsePreviewText("  \n", "preview.json")).toThrow(/^preview\.json is empty/);
  });
});

describe("the bin", () => {
  // What users run: the build (`npm test` builds dist/ first; run `npm run build` before this file alone),
  // one process at a time, with no wall-clock limit of its own (a busy machine only makes it slower).
  const BIN = join(ROOT, "dist", "provider", "cli", "review.js");

  function bin(args: string[], stdin: string): Promise<{ code: number; stdout: string; stderr: string }> {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does).`);
    return new Promise((resolve) => {
      const child = execFile(process.execPath, [BIN, ...args], { cwd: ROOT }, (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      });
      child.stdin?.end(stdin);
    });
  }

  it("package.json names dist/provider/cli/review.js", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      bin: Record<string, string>;
    };
    expect(join(ROOT, pkg.bin["xapi-review"] ?? "")).toBe(BIN);
  });

  it("starts with a node shebang, so npm can link it as a command", () => {
    expect(readFileSync(BIN, "utf8")).toMatch(/^#!\/usr\/bin\/env node\n/);
  });

  it("reads a preview on stdin and writes the comment on stdout, exit 0", async () => {
    const ok = await bin([], readFileSync(join(FIXTURES, "update-boot-restart.json"), "utf8"));
    expect(ok).toEqual({ code: 0, stdout: review("update-boot-restart"), stderr: "" });
  });

  it("exits 2 on unreadable input, with the reason on stderr and nothing on stdout", async () => {
    const bad = await bin([], "not json");
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/^xapi-review: stdin is not JSON/);
  });
});
