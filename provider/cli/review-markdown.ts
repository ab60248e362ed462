/**
 * `xapi-review`'s output: the Markdown comment for the VM changes of a preview (`review-input.ts`).
 *
 * The first line is the summary, `N VMs change: R restarts, H hard stops`:
 * - a VM **changes** when its step is anything but `same` (or a `refresh`/`read`): create (a new or an
 *   adopted VM), update, replace, delete; the VMs of a replacement's several steps count once;
 * - a **restart** is a planned call that stops a guest and runs it again: `VM.clean_reboot`,
 *   `VM.hard_reboot`, and a `VM.start` after the same VM was shut down from Running or Paused earlier in
 *   its plan. A resume (`VM.resume`, `VM.unpause`) continues the same guest and is not one;
 * - a **hard stop** is a planned call flagged `hard`: `VM.hard_shutdown`, `VM.hard_reboot` (the
 *   toolstack ends the domain without asking the guest).
 * Only plans made from the pool have call data: a VM planned from the recorded inputs (or deferred) and
 * a deleted VM (the engine asks the provider nothing in a preview) are not counted, and the line says so.
 */
import {
  type Diagnostic,
  isBag,
  nameOf,
  type PlanStep,
  readPreview,
  stackOf,
  str,
  type VmChange,
  vmChanges,
} from "./review-input";

/** A hidden marker ending every comment, so a workflow can find and update its previous comment. */
export const COMMENT_MARKER = "<!-- xapi-review -->";

/** A planned call with what the review derives from it. */
interface Row extends PlanStep {
  readonly n: number;
  readonly restart: boolean;
  readonly discardsImage: boolean;
  readonly destroys: boolean;
}

const SHUTDOWNS = new Set(["VM.clean_shutdown", "VM.hard_shutdown", "VM.shutdown"]);
const REBOOTS = new Set(["VM.clean_reboot", "VM.hard_reboot"]);

/** Numbers the steps and marks restarts (see the module comment), image discards and destroys. */
export function rowsOf(steps: readonly PlanStep[]): Row[] {
  const stoppedLive = new Set<string>(); // the `vm` groups shut down from Running or Paused so far
  return steps.map((s, i) => {
    const restart = REBOOTS.has(s.call) || (s.call === "VM.start" && stoppedLive.has(s.vm));
    if (SHUTDOWNS.has(s.call) && (s.from === "Running" || s.from === "Paused")) stoppedLive.add(s.vm);
    if (s.call === "VM.start") stoppedLive.delete(s.vm);
    return {
      ...s,
      n: i + 1,
      restart,
      discardsImage: (s.call === "VM.hard_shutdown" || s.call === "VM.shutdown") && s.from === "Suspended",
      destroys: s.call.endsWith(".destroy"),
    };
  });
}

/** Free text: no HTML (a `<password>` would vanish), no table breaks, one line. */
function text(s: string): string {
  // Code spans (`…`) keep their text: entities are not decoded inside them.
  return s
    .replace(/\s*\n\s*/g, " ")
    .trim()
    .split(/(`[^`]*`)/)
    .map((part, i) =>
      i % 2 === 1
        ? part.replace(/\|/g, "\\|")
        : part.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\|/g, "\\|"),
    )
    .join("");
}

/** A code span that survives backticks in `s`, and `|` inside a table. */
function code(s: string): string {
  const longest = Math.max(0, ...(s.match(/`+/g) ?? []).map((m) => m.length));
  const fence = "`".repeat(longest + 1);
  const inner = s.replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|");
  const pad = inner.startsWith("`") || inner.endsWith("`") ? " " : "";
  return `${fence}${pad}${inner}${pad}${fence}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Longest shown argument value; longer ones end in "…" (the full value is in `plannedCalls`). */
const MAX_ARG = 60;

/** `VM.start(start_paused: false, force: false)`: the form of `plannedCalls` and `xapi-plan`. */
export function callText(step: Pick<PlanStep, "call" | "args">): string {
  const entries = Object.entries(step.args);
  if (entries.length === 0) return step.call;
  const show = (v: unknown): string => {
    const json = JSON.stringify(v) ?? String(v);
    return json.length > MAX_ARG ? `${json.slice(0, MAX_ARG - 1)}…` : json;
  };
  return `${step.call}(${entries.map(([k, v]) => `${k}: ${show(v)}`).join(", ")})`;
}

function statesText(step: PlanStep): string {
  if (step.from !== undefined && step.to !== undefined) return `${step.from} → ${step.to}`;
  if (step.to !== undefined) return `→ ${step.to}`;
  if (step.from !== undefined) return step.from;
  return "";
}

/** The markers, in legend order. */
const MARKERS = {
  restart: { mark: "↻ restart", legend: "the guest is stopped and runs again (counted as a restart)" },
  hard: {
    mark: "⚠ hard",
    legend: "the toolstack ends the domain without asking the guest (counted as a hard stop)",
  },
  destructive: {
    mark: "⚠ destructive",
    legend: "guest state is lost: the running memory or a suspend image",
  },
  discardsImage: {
    mark: "⚠ discards the suspend image",
    legend:
      "`VM.hard_shutdown` of a Suspended VM: the saved memory image is deleted, the guest cold-boots next time",
  },
  throughRunning: {
    mark: "⤴ through Running",
    legend: "the VM runs on the way, although it is not declared Running",
  },
  destroys: { mark: "✖ destroys", legend: "a VM or a disk is deleted" },
} as const;
type Marker = keyof typeof MARKERS;

function markersOf(row: Row): Marker[] {
  const out: Marker[] = [];
  if (row.restart) out.push("restart");
  if (row.hard) out.push("hard");
  if (row.destructive) out.push("destructive");
  if (row.discardsImage) out.push("discardsImage");
  if (row.passesThroughRunning) out.push("throughRunning");
  if (row.destroys) out.push("destroys");
  return out;
}

function table(rows: readonly Row[], withVm: boolean, used: Set<Marker>): string[] {
  const head = withVm
    ? "| # | VM | Call | From → To | Reason | Flags |"
    : "| # | Call | From → To | Reason | Flags |";
  const rule = withVm ? "|--:|---|---|---|---|---|" : "|--:|---|---|---|---|";
  const out = [head, rule];
  for (const row of rows) {
    const markers = markersOf(row);
    for (const m of markers) used.add(m);
    const cells = [
      String(row.n),
      ...(withVm ? [row.vm === "replaced" ? "old" : "new"] : []),
      code(callText(row)),
      statesText(row),
      text(row.reason ?? ""),
      markers.map((m) => MARKERS[m].mark).join(", "),
    ];
    out.push(`| ${cells.join(" | ")} |`);
  }
  return out;
}

/**
 * What the change does to the VM, in one word (the summary's breakdown and the VM's heading): created,
 * adopted, updated, replaced, destroyed, released; another engine op as it is.
 */
type ChangeKind = string;

function kindOf(change: VmChange): ChangeKind {
  switch (change.op) {
    case "create":
      return str(change.newInputs.uuid) === undefined ? "created" : "adopted";
    case "update":
      return "updated";
    case "replace":
      return "replaced";
    case "delete":
      return releasedOnDelete(change) ? "released" : "destroyed";
    default:
      return change.op;
  }
}

/** A deleted adopted VM is released (its owner tag removed), unless `deleteAdopted`. */
function releasedOnDelete(change: VmChange): boolean {
  const outs = { ...change.oldInputs, ...change.oldOutputs };
  const adopted = outs.adopted === true || str(change.oldInputs.uuid) !== undefined;
  return adopted && outs.deleteAdopted !== true;
}

const KIND_ORDER = ["created", "adopted", "updated", "replaced", "destroyed", "released"];

/** What `pulumi up` does to a VM removed from the program (provider/resource/delete.ts). */
function deleteText(change: VmChange, used: Set<Marker>): string[] {
  const outs = { ...change.oldInputs, ...change.oldOutputs };
  const uuid = str(outs.uuid);
  const power = str(outs.observedPowerState);
  const vm = uuid === undefined ? "the VM" : `VM ${code(uuid)}`;
  const lines = [
    "Removed from the program. In a preview the engine deletes a resource without asking the provider, so there is " +
      `no call list; \`pulumi up\` will (power state at the last update or refresh: ${power === undefined ? "unknown" : code(power)}):`,
    "",
  ];
  if (releasedOnDelete(change)) {
    lines.push(
      `- **release** ${vm}, which this stack adopted: remove its owner tag ` +
        `(${code('VM.remove_from_other_config(key: "pulumi-xapi:urn")')}); the VM itself is left as it is, running or not.`,
    );
    return lines;
  }
  const policy = isBag(outs.policy) ? outs.policy : {};
  const shutdown = str(policy.shutdown) ?? "clean";
  const discard = policy.allowDiscardSuspendedState === true ? ", allowDiscardSuspendedState" : "";
  const adopted = outs.adopted === true || str(change.oldInputs.uuid) !== undefined;
  used.add("destroys");
  lines.push(
    `- shut ${vm} down as its recorded policy says (shutdown ${code(shutdown)}${discard}), unless it is Halted;`,
    `- ✖ **destroy** it (${code("VM.destroy")})` +
      (adopted
        ? "; it was adopted with deleteAdopted: its disks are kept."
        : `, then each disk it was created with (${code("VDI.destroy")}).`),
  );
  return lines;
}

/** Where the calls of a VM come from when not from the pool (`plannedCalls` lines; no call data). */
function linesBlock(lines: readonly string[]): string[] {
  return lines.length === 0 ? [] : ["```text", ...lines, "```", ""];
}

/**
 * The review comment for a parsed `pulumi preview --json`.
 * @throws ReviewInputError when `preview` is not such an output
 */
export function renderReview(preview: unknown): string {
  const { steps, diagnostics } = readPreview(preview);
  const changes = vmChanges(steps);
  const problems = diagnostics.filter((d) => d.severity === "error" || d.severity === "warning");
  const errors = problems.filter((d) => d.severity === "error").length;
  const counts = countChanges(changes);
  const out = [summaryLine(changes, counts, errors), ""];
  for (const [reason, names] of counts.fallback) {
    out.push(
      "> [!WARNING]",
      `> **Planned from the recorded inputs, not from the pool:** ${text(reason)}`,
      ">",
      `> For ${names.map(code).join(", ")} the calls are what the inputs of the last update imply; ` +
        "`pulumi up` plans again from the live VMs and may make other calls.",
      "",
    );
  }
  const stack = stackOf(steps);
  const where = stack === undefined ? [] : [`Stack ${code(stack.stack)} of project ${code(stack.project)}`];
  if (counts.pools.size > 0)
    where.push(`planned from the live state of pool ${[...counts.pools].map(code).join(", ")}`);
  if (where.length > 0) out.push(`${where.join("; ")}.`.replace(/^p/, "P"), "");

  const used = new Set<Marker>();
  for (const c of changes) out.push(...vmSection(c, counts.rowsByVm.get(c) ?? [], used));
  out.push(...problemsSection(problems, errors));
  const legend = (Object.keys(MARKERS) as Marker[]).filter((m) => used.has(m));
  if (legend.length > 0) {
    out.push(`<sub>${legend.map((m) => `${MARKERS[m].mark}: ${MARKERS[m].legend}`).join(" · ")}</sub>`, "");
  }
  out.push(COMMENT_MARKER);
  return `${out.join("\n")}\n`;
}

/** The counts of the summary, over the plans with call data, and what is not counted. */
interface Counts {
  restarts: number;
  hardStops: number;
  /** reason → VM names, for the VMs planned from the recorded inputs. */
  readonly fallback: Map<string, string[]>;
  readonly deferred: string[];
  destroyed: number;
  readonly pools: Set<string>;
  readonly rowsByVm: Map<VmChange, Row[]>;
  readonly kinds: Map<ChangeKind, number>;
}

function countChanges(changes: readonly VmChange[]): Counts {
  const counts: Counts = {
    restarts: 0,
    hardStops: 0,
    fallback: new Map(),
    deferred: [],
    destroyed: 0,
    pools: new Set(),
    rowsByVm: new Map(),
    kinds: new Map(),
  };
  for (const c of changes) {
    const kind = kindOf(c);
    counts.kinds.set(kind, (counts.kinds.get(kind) ?? 0) + 1);
    if (c.op === "delete") {
      if (kind === "destroyed") counts.destroyed++;
    } else if (c.plan?.source === "pool") {
      const rows = rowsOf(c.plan.steps);
      counts.rowsByVm.set(c, rows);
      counts.restarts += rows.filter((r) => r.restart).length;
      counts.hardStops += rows.filter((r) => r.hard).length;
      if (c.plan.pool !== undefined) counts.pools.add(c.plan.pool);
    } else if (c.plan?.source === "deferred") counts.deferred.push(c.name);
    else {
      const reason = c.plan?.reason ?? "no plan in the preview";
      counts.fallback.set(reason, [...(counts.fallback.get(reason) ?? []), c.name]);
    }
  }
  return counts;
}

/** `N VMs change: R restarts, H hard stops (not counted: …) — breakdown.`, or that the preview failed. */
function summaryLine(changes: readonly VmChange[], counts: Counts, errors: number): string {
  const notCounted = [
    ...(counts.fallback.size > 0
      ? [`${plural([...counts.fallback.values()].flat().length, "VM")} planned from the recorded inputs`]
      : []),
    ...(counts.deferred.length > 0
      ? [`${plural(counts.deferred.length, "VM")} planned during the update`]
      : []),
    ...(counts.destroyed > 0 ? [`the shutdown of ${plural(counts.destroyed, "deleted VM")}`] : []),
  ];
  const failed =
    errors > 0 ? `**❌ The preview failed: ${plural(errors, "error")}.** Before it stopped: ` : "";
  if (changes.length === 0) {
    const none = "no VM changes.";
    return errors > 0 ? `${failed}${none}` : `**N${none.slice(1)}**`;
  }
  const main = `${plural(changes.length, "VM")} ${changes.length === 1 ? "changes" : "change"}: ${plural(counts.restarts, "restart")}, ${plural(counts.hardStops, "hard stop")}`;
  const breakdown = [...counts.kinds]
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([kind, n]) => `${n} ${kind}`)
    .join(", ");
  return (
    `${failed}${errors > 0 ? main : `**${main}**`}` +
    `${notCounted.length > 0 ? ` (not counted: ${notCounted.join("; ")})` : ""} — ${breakdown}.`
  );
}

/** One VM's heading and its calls (a table, the recorded-input lines, or what a delete does). */
function vmSection(c: VmChange, rows: readonly Row[], used: Set<Marker>): string[] {
  const kind = kindOf(c);
  const adopted = kind === "adopted" ? ` ${code(str(c.newInputs.uuid) ?? "")}` : "";
  const out = [`#### ${code(c.name)}: ${kind}${adopted}`, ""];
  if (c.replaceReasons.length > 0) {
    out.push(`Replaced because ${c.replaceReasons.map(code).join(", ")} changed.`, "");
  }
  if (c.op === "delete") return [...out, ...deleteText(c, used), ""];
  const plan = c.plan;
  if (plan === undefined || plan.source === "recorded-inputs") {
    out.push("⚠ **Planned from the recorded inputs** (above):", "");
    const lines = c.lines.filter((l) => !l.startsWith("(planned from the recorded inputs"));
    return [...out, ...(lines.length > 0 ? linesBlock(lines) : ["No calls.", ""])];
  }
  if (plan.source === "deferred") {
    out.push("**Planned during the update:** the calls depend on values known only then.", "");
    return [...out, ...linesBlock(c.lines)];
  }
  if (rows.length === 0) out.push("No XAPI calls.", "");
  else {
    const replaced = rows.filter((r) => r.vm === "replaced");
    if (replaced.length > 0) {
      const oldUuid = str(c.oldOutputs.uuid);
      const first = replaced[0]?.n ?? 0;
      out.push(
        `\`pulumi up\` makes the new VM first (${range(1, first - 1)}), then removes the old one` +
          `${oldUuid === undefined ? "" : `, ${code(oldUuid)}`} (${range(first, rows.length)}).`,
        "",
      );
    }
    out.push(...table(rows, replaced.length > 0, used), "");
  }
  // Notes after the calls, e.g. "then fails: …" or a replaced VM not found.
  for (const note of c.lines.filter((l) => !/^\d+\. /.test(l))) {
    out.push("> [!WARNING]", `> ${text(note)}`, "");
  }
  return out;
}

/** The preview's errors and warnings. */
function problemsSection(problems: readonly Diagnostic[], errors: number): string[] {
  if (problems.length === 0) return [];
  const out = [`#### ${errors > 0 ? "Errors" : "Warnings"}`, ""];
  for (const d of problems) {
    const where = d.urn === undefined || d.urn === "" ? "" : `${code(nameOf(d.urn))}: `;
    // "error: pulumi-nodejs:dynamic/xapi:Vm resource 'web': property …": the name is given already.
    const message = d.message
      .replace(/^(error|warning): /, "")
      .replace(/^[\w:/.$-]+ resource '[^']*': /, "")
      .trim();
    out.push(`- ${d.severity === "warning" ? "⚠" : "❌"} ${where}${text(message)}`);
  }
  out.push("");
  return out;
}

function rank(kind: ChangeKind): number {
  const i = KIND_ORDER.indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
}

function range(from: number, to: number): string {
  return from === to ? `step ${from}` : `steps ${from}–${to}`;
}
