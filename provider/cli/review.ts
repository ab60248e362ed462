#!/usr/bin/env node
/**
 * `xapi-review`: turns `pulumi preview --json` into a Markdown comment for a pull request.
 *
 *   pulumi preview --json | xapi-review > comment.md
 *   xapi-review preview.json
 *
 * It reads what the provider put in the preview (`.steps[].newState.inputs.__xapiPlan`, and the human
 * `plannedCalls` when a VM could not be planned from the pool) and the engine's diagnostics; it makes no
 * call and plans nothing itself. {@link renderReview} is the pure part (parsed JSON in, Markdown out).
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
 *
 * Exit codes: 0 comment written (also for a failed preview: the comment lists its errors); 2 unreadable
 * input or bad arguments (the reason on stderr); 1 a bug.
 */
import { readFileSync } from "node:fs";

/** The resource type of a `Vm` in the engine's state. */
export const VM_TYPE = "pulumi-nodejs:dynamic/xapi:Vm";

/** A hidden marker ending every comment, so a workflow can find and update its previous comment. */
export const COMMENT_MARKER = "<!-- xapi-review -->";

export const USAGE = `Usage: pulumi preview --json | xapi-review [-]
       xapi-review <preview.json>

Writes a Markdown review of the XenAPI calls a \`pulumi preview --json\` plans for every
pulumi-xapi VM: a one-line summary (VMs that change, restarts, hard stops), then per VM
a table of the planned calls with hard, destructive and image-discarding calls flagged,
what \`pulumi up\` does to deleted VMs, and the preview's errors.

Exit codes: 0 written; 2 unreadable input or bad arguments.`;

/** The input is not the output of `pulumi preview --json`. */
export class ReviewInputError extends Error {
  override readonly name = "ReviewInputError";
}

//////////////////////////////
////   input shapes       ////
//////////////////////////////

/** One planned call (`__xapiPlan.steps[]`, provider/resource/preview.ts `PlannedStep`). */
export interface PlanStep {
  readonly vm: "existing" | "new" | "replaced";
  readonly call: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly reason?: string | undefined;
  readonly hard: boolean;
  readonly destructive: boolean;
  readonly passesThroughRunning: boolean;
}

/** `__xapiPlan` (provider/resource/preview.ts `PlanData`). */
export interface Plan {
  readonly source: "pool" | "recorded-inputs" | "deferred";
  readonly pool?: string | undefined;
  readonly reason?: string | undefined;
  readonly steps: readonly PlanStep[];
}

type Bag = Readonly<Record<string, unknown>>;

interface EngineState {
  readonly type?: string;
  readonly inputs?: Bag;
  readonly outputs?: Bag;
}

interface EngineStep {
  readonly op: string;
  readonly urn: string;
  readonly oldState?: EngineState;
  readonly newState?: EngineState;
  readonly replaceReasons?: readonly string[];
}

interface Diagnostic {
  readonly urn?: string;
  readonly message: string;
  readonly severity: string;
}

/** Steps that change nothing. */
const UNCHANGED_OPS = new Set(["same", "refresh", "read"]);
/** The steps of a replacement (a preview shows `replace`; an update's log the other two as well). */
const REPLACE_OPS = new Set(["replace", "create-replacement", "delete-replaced"]);

//////////////////////////////
////   the model          ////
//////////////////////////////

/** What the review says about one VM resource. */
interface VmChange {
  readonly name: string;
  readonly op: string;
  readonly plan: Plan | undefined;
  /** The human lines (`plannedCalls`), for plans without call data. */
  readonly lines: readonly string[];
  readonly oldInputs: Bag;
  readonly oldOutputs: Bag;
  readonly newInputs: Bag;
  readonly replaceReasons: readonly string[];
}

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

//////////////////////////////
////   reading the input  ////
//////////////////////////////

/** Parses the text of `pulumi preview --json`. @throws ReviewInputError */
export function parsePreviewText(text: string, source = "the input"): unknown {
  if (text.trim() === "") {
    throw new ReviewInputError(
      `${source} is empty: expected the output of \`pulumi preview --json\` (did the preview start? its errors are on its stderr).`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const start = text.trimStart().slice(0, 60).replace(/\s+/g, " ").trim();
    throw new ReviewInputError(
      `${source} is not JSON (${(error as Error).message.replace(/\s+/g, " ")}): expected the output of \`pulumi preview --json\`, received ${JSON.stringify(start)}${text.trimStart().length > 60 ? "…" : ""}. Was --json given?`,
    );
  }
}

function isBag(v: unknown): v is Bag {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function readPreview(json: unknown): { steps: EngineStep[]; diagnostics: Diagnostic[] } {
  const expected = 'expected the output of `pulumi preview --json`: an object with "steps" or "diagnostics"';
  if (!isBag(json)) {
    throw new ReviewInputError(`${expected}, received ${Array.isArray(json) ? "an array" : typeof json}.`);
  }
  if (!Array.isArray(json.steps) && !Array.isArray(json.diagnostics)) {
    const keys = Object.keys(json).slice(0, 6).join(", ");
    throw new ReviewInputError(`${expected}, received an object with ${keys === "" ? "no keys" : keys}.`);
  }
  const steps: EngineStep[] = [];
  for (const [i, s] of (Array.isArray(json.steps) ? json.steps : []).entries()) {
    if (!isBag(s) || typeof s.op !== "string" || typeof s.urn !== "string") {
      throw new ReviewInputError(`${expected}; steps[${i}] has no "op" and "urn".`);
    }
    const state = (v: unknown): EngineState | undefined =>
      isBag(v)
        ? {
            ...(typeof v.type === "string" ? { type: v.type } : {}),
            ...(isBag(v.inputs) ? { inputs: v.inputs } : {}),
            ...(isBag(v.outputs) ? { outputs: v.outputs } : {}),
          }
        : undefined;
    const oldState = state(s.oldState);
    const newState = state(s.newState);
    steps.push({
      op: s.op,
      urn: s.urn,
      ...(oldState === undefined ? {} : { oldState }),
      ...(newState === undefined ? {} : { newState }),
      replaceReasons: Array.isArray(s.replaceReasons)
        ? s.replaceReasons.filter((r) => typeof r === "string")
        : [],
    });
  }
  const diagnostics: Diagnostic[] = [];
  for (const d of Array.isArray(json.diagnostics) ? json.diagnostics : []) {
    if (!isBag(d) || typeof d.message !== "string") continue;
    const urn = str(d.urn);
    diagnostics.push({
      message: d.message,
      severity: str(d.severity) ?? "error",
      ...(urn === undefined ? {} : { urn }),
    });
  }
  return { steps, diagnostics };
}

/** The resource name: the URN's last `::` part. */
export function nameOf(urn: string): string {
  return urn.split("::").at(-1) ?? urn;
}

function isVmStep(step: EngineStep): boolean {
  const type = step.newState?.type ?? step.oldState?.type;
  if (type !== undefined) return type === VM_TYPE;
  // urn:pulumi:<stack>::<project>::<parent types $>type::name
  const parts = step.urn.split("::");
  return (parts.at(-2) ?? "").split("$").at(-1) === VM_TYPE;
}

function readPlan(inputs: Bag | undefined): Plan | undefined {
  const p = inputs?.__xapiPlan;
  if (!isBag(p)) return undefined;
  const source =
    p.source === "pool" || p.source === "recorded-inputs" || p.source === "deferred" ? p.source : undefined;
  if (source === undefined) return undefined;
  const steps: PlanStep[] = [];
  for (const s of Array.isArray(p.steps) ? p.steps : []) {
    if (!isBag(s) || typeof s.call !== "string") continue;
    steps.push({
      vm: s.vm === "new" || s.vm === "replaced" ? s.vm : "existing",
      call: s.call,
      args: isBag(s.args) ? s.args : {},
      from: str(s.from),
      to: str(s.to),
      reason: str(s.reason),
      hard: s.hard === true,
      destructive: s.destructive === true,
      passesThroughRunning: s.passesThroughRunning === true,
    });
  }
  return { source, pool: str(p.pool), reason: str(p.reason), steps };
}

/**
 * The VM resources that change, in the preview's order, one per URN. (`--json` lists no `same` step
 * but the stack's, so unchanged VMs are not seen at all.)
 */
function vmChanges(steps: readonly EngineStep[]): VmChange[] {
  const byUrn = new Map<string, EngineStep[]>();
  for (const step of steps.filter(isVmStep)) byUrn.set(step.urn, [...(byUrn.get(step.urn) ?? []), step]);
  const changes: VmChange[] = [];
  for (const [urn, group] of byUrn) {
    const changing = group.filter((s) => !UNCHANGED_OPS.has(s.op));
    if (changing.length === 0) continue;
    const op = changing.some((s) => REPLACE_OPS.has(s.op)) ? "replace" : (changing[0]?.op ?? "update");
    const withPlan = changing.find((s) => readPlan(s.newState?.inputs) !== undefined) ?? changing[0];
    const withOld = changing.find((s) => s.oldState !== undefined);
    const lines = withPlan?.newState?.inputs?.plannedCalls;
    changes.push({
      name: nameOf(urn),
      op,
      plan: readPlan(withPlan?.newState?.inputs),
      lines: Array.isArray(lines) ? lines.filter((l): l is string => typeof l === "string") : [],
      oldInputs: withOld?.oldState?.inputs ?? {},
      oldOutputs: withOld?.oldState?.outputs ?? {},
      newInputs: withPlan?.newState?.inputs ?? {},
      replaceReasons: changing.flatMap((s) => s.replaceReasons ?? []),
    });
  }
  return changes;
}

//////////////////////////////
////   Markdown           ////
//////////////////////////////

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

/** What `pulumi up` does to a VM removed from the program (provider/resource/operations.ts `deleteVm`). */
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

  // The counts, over the plans with call data.
  let restarts = 0;
  let hardStops = 0;
  const fallback = new Map<string, string[]>(); // reason → VM names
  const deferred: string[] = [];
  let destroyed = 0;
  const pools = new Set<string>();
  const rowsByVm = new Map<VmChange, Row[]>();
  const kinds = new Map<ChangeKind, number>();
  for (const c of changes) {
    const kind = kindOf(c);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    if (c.op === "delete") {
      if (kind === "destroyed") destroyed++;
    } else if (c.plan?.source === "pool") {
      const rows = rowsOf(c.plan.steps);
      rowsByVm.set(c, rows);
      restarts += rows.filter((r) => r.restart).length;
      hardStops += rows.filter((r) => r.hard).length;
      if (c.plan.pool !== undefined) pools.add(c.plan.pool);
    } else if (c.plan?.source === "deferred") deferred.push(c.name);
    else {
      const reason = c.plan?.reason ?? "no plan in the preview";
      fallback.set(reason, [...(fallback.get(reason) ?? []), c.name]);
    }
  }
  const notCounted = [
    ...(fallback.size > 0
      ? [`${plural([...fallback.values()].flat().length, "VM")} planned from the recorded inputs`]
      : []),
    ...(deferred.length > 0 ? [`${plural(deferred.length, "VM")} planned during the update`] : []),
    ...(destroyed > 0 ? [`the shutdown of ${plural(destroyed, "deleted VM")}`] : []),
  ];

  // The summary line.
  const failed =
    errors > 0 ? `**❌ The preview failed: ${plural(errors, "error")}.** Before it stopped: ` : "";
  let summary: string;
  if (changes.length === 0) {
    const none = "no VM changes.";
    summary = errors > 0 ? `${failed}${none}` : `**N${none.slice(1)}**`;
  } else {
    const main = `${plural(changes.length, "VM")} ${changes.length === 1 ? "changes" : "change"}: ${plural(restarts, "restart")}, ${plural(hardStops, "hard stop")}`;
    const breakdown = [...kinds]
      .sort(([a], [b]) => rank(a) - rank(b))
      .map(([kind, n]) => `${n} ${kind}`)
      .join(", ");
    summary =
      `${failed}${errors > 0 ? main : `**${main}**`}` +
      `${notCounted.length > 0 ? ` (not counted: ${notCounted.join("; ")})` : ""} — ${breakdown}.`;
  }
  const out = [summary, ""];

  for (const [reason, names] of fallback) {
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
  if (pools.size > 0) where.push(`planned from the live state of pool ${[...pools].map(code).join(", ")}`);
  if (where.length > 0) out.push(`${where.join("; ")}.`.replace(/^p/, "P"), "");

  const used = new Set<Marker>();
  for (const c of changes) {
    const kind = kindOf(c);
    const adopted = kind === "adopted" ? ` ${code(str(c.newInputs.uuid) ?? "")}` : "";
    out.push(`#### ${code(c.name)}: ${kind}${adopted}`, "");
    if (c.replaceReasons.length > 0) {
      out.push(`Replaced because ${c.replaceReasons.map(code).join(", ")} changed.`, "");
    }
    if (c.op === "delete") {
      out.push(...deleteText(c, used), "");
      continue;
    }
    const plan = c.plan;
    if (plan === undefined || plan.source === "recorded-inputs") {
      out.push("⚠ **Planned from the recorded inputs** (above):", "");
      const lines = c.lines.filter((l) => !l.startsWith("(planned from the recorded inputs"));
      out.push(...(lines.length > 0 ? linesBlock(lines) : ["No calls.", ""]));
      continue;
    }
    if (plan.source === "deferred") {
      out.push("**Planned during the update:** the calls depend on values known only then.", "");
      out.push(...linesBlock(c.lines));
      continue;
    }
    const rows = rowsByVm.get(c) ?? [];
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
  }

  if (problems.length > 0) {
    out.push(`#### ${errors > 0 ? "Errors" : "Warnings"}`, "");
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
  }

  const legend = (Object.keys(MARKERS) as Marker[]).filter((m) => used.has(m));
  if (legend.length > 0) {
    out.push(`<sub>${legend.map((m) => `${MARKERS[m].mark}: ${MARKERS[m].legend}`).join(" · ")}</sub>`, "");
  }
  out.push(COMMENT_MARKER);
  return `${out.join("\n")}\n`;
}

/** The stack and project, from the first URN (`urn:pulumi:<stack>::<project>::…`). */
function stackOf(steps: readonly EngineStep[]): { stack: string; project: string } | undefined {
  const m = /^urn:pulumi:([^:]+)::([^:]+)::/.exec(steps[0]?.urn ?? "");
  return m?.[1] === undefined || m[2] === undefined ? undefined : { stack: m[1], project: m[2] };
}

function rank(kind: ChangeKind): number {
  const i = KIND_ORDER.indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
}

function range(from: number, to: number): string {
  return from === to ? `step ${from}` : `steps ${from}–${to}`;
}

//////////////////////////////
////   the CLI            ////
//////////////////////////////

/** Output sinks and the input source, so tests and other callers can drive the CLI. */
export interface ReviewIo {
  readonly out: (text: string) => void;
  readonly err: (line: string) => void;
  /** The whole of stdin; `undefined` when stdin is a terminal (nothing piped). */
  readonly stdin: () => Promise<string | undefined>;
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io: ReviewIo): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  const unknown = argv.find((a) => a.startsWith("-") && a !== "-");
  if (unknown !== undefined || argv.length > 1) {
    io.err(
      `xapi-review: ${unknown === undefined ? "expected at most one file" : `unknown option ${unknown}`}`,
    );
    io.err(USAGE);
    return 2;
  }
  const file = argv[0] === undefined || argv[0] === "-" ? undefined : argv[0];
  try {
    let input: string;
    if (file === undefined) {
      const piped = await io.stdin();
      if (piped === undefined) {
        throw new ReviewInputError(
          "nothing on stdin: pipe `pulumi preview --json` into xapi-review, or give the file it wrote.",
        );
      }
      input = piped;
    } else {
      try {
        input = readFileSync(file, "utf8");
      } catch (error) {
        throw new ReviewInputError(`cannot read ${file}: ${(error as Error).message}`);
      }
    }
    io.out(renderReview(parsePreviewText(input, file ?? "stdin")));
    return 0;
  } catch (error) {
    if (error instanceof ReviewInputError) {
      io.err(`xapi-review: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

/**
 * All of stdin. Read as a stream: `readFileSync(0)` fails with EAGAIN when the pipe is non-blocking and the
 * writer (`pulumi preview`) has not written yet.
 */
async function readStdin(): Promise<string | undefined> {
  if (process.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}

if (require.main === module) {
  main(process.argv.slice(2), {
    out: (t) => process.stdout.write(t),
    err: (line) => process.stderr.write(`${line}\n`),
    stdin: readStdin,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `xapi-review: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
