/**
 * The VM lifecycle of current XAPI as data: read it like the XAPI lifecycle figure
 * (`xapi-project/xen-api doc/content/xen-api/topics/vm-lifecycle.md`), one block per source power state,
 * one row per call that leaves it.
 *
 * Where current XAPI contradicts the XenAPI 1.0 figure of the seed, this table follows XAPI (the
 * operation checks of `ocaml/xapi/xapi_vm_lifecycle.ml` and the figure above; docs/lifecycle.md holds
 * the rendered table):
 * - `VM.suspend` is legal from Running only (1.0 also drew Paused → Suspended);
 * - Paused → Running is `VM.unpause` (1.0 labels it `resume`);
 * - `VM.hard_reboot` is legal from Paused and ends Running;
 * - `VM.hard_shutdown` is legal from Paused and Suspended (the latter destroys the suspend image).
 *
 * `Crashed` is the seed's observed-only state: no call enters it (every `to` is a declarable state) and
 * only `VM.hard_shutdown` leaves it. `VM.shutdown` (clean, falling back to hard) is listed for
 * completeness and marked `planned: false`: the planner never emits it, because its outcome (clean or
 * hard) is decided at run time by the server, not by the declared policy.
 *
 * This module is pure data plus a renderer; it performs no calls.
 */
import { type DeclarablePowerState, LifecycleCall, PowerState } from "./vocabulary";

/** What a call does to the guest; the planner's policy filter and tie-break read these. */
export const TransitionFlag = {
  /** The guest OS is asked and must cooperate (PV drivers / feature flags, else `VM_LACKS_FEATURE`). */
  graceful: "graceful",
  /** The toolstack acts without the guest's cooperation. */
  hard: "hard",
  /** Guest state that cannot be recovered is lost: the running memory, or the suspend image. */
  destructive: "destructive",
} as const;
export type TransitionFlag = (typeof TransitionFlag)[keyof typeof TransitionFlag];

/** The arguments a lifecycle call takes after `session_id` and the VM ref (`ocaml/idl/datamodel_vm.ml`). */
export interface LifecycleArgs {
  /** `VM.start` / `VM.resume` only: true exactly when the call leads to Paused. */
  readonly start_paused?: boolean;
  /** `VM.start` / `VM.resume` only: always false; the planner never skips XAPI's safety checks. */
  readonly force?: boolean;
}

/** One row of the table, i.e. one edge of the lifecycle figure. */
export interface TransitionRow {
  readonly call: LifecycleCall;
  readonly args: LifecycleArgs;
  /** Resulting power state; always declarable, because no call enters Crashed. */
  readonly to: DeclarablePowerState;
  readonly flags: readonly TransitionFlag[];
  /**
   * True when the call builds a new domain from the VM's current boot fields (start and the reboots;
   * docs/xapi-facts.md, "A boot change reaches a live domain only when the domain is rebuilt").
   * `VM.resume` is false: it restores the saved domain with its old boot config.
   */
  readonly rebuildsDomain: boolean;
  /** False only for `VM.shutdown`: kept for completeness, never emitted by the planner. */
  readonly planned: boolean;
  /** Where the behaviour comes from, or what to know about it. */
  readonly note: string;
}

/** A row together with its source state. */
export interface Transition extends TransitionRow {
  readonly from: PowerState;
}

export type LifecycleTable = { readonly [S in PowerState]: readonly TransitionRow[] };

const START = { start_paused: false, force: false } as const;
const START_PAUSED = { start_paused: true, force: false } as const;
const NO_ARGS = {} as const;

/**
 * THE lifecycle table. Rows within a block are ordered gentlest first; the order carries no planning
 * meaning (the planner's tie-break is explicit, see `provider/planner.ts`).
 */
export const LIFECYCLE: LifecycleTable = {
  Halted: [
    {
      call: LifecycleCall.start,
      args: START,
      to: PowerState.Running,
      flags: [],
      rebuildsDomain: true,
      planned: true,
      note: "queues start then unpause (xapi_xenops.ml:3856)",
    },
    {
      call: LifecycleCall.start,
      args: START_PAUSED,
      to: PowerState.Paused,
      flags: [],
      rebuildsDomain: true,
      planned: true,
      note: "domain built, vCPUs not started",
    },
  ],
  Running: [
    {
      call: LifecycleCall.pause,
      args: NO_ARGS,
      to: PowerState.Paused,
      flags: [],
      rebuildsDomain: false,
      planned: true,
      note: "vCPUs stopped, memory kept",
    },
    {
      call: LifecycleCall.suspend,
      args: NO_ARGS,
      to: PowerState.Suspended,
      flags: [],
      rebuildsDomain: false,
      planned: true,
      note: "Running only in XAPI; needs a suspend SR and no PCI/vGPU/VUSB",
    },
    {
      call: LifecycleCall.cleanReboot,
      args: NO_ARGS,
      to: PowerState.Running,
      flags: [TransitionFlag.graceful],
      rebuildsDomain: true,
      planned: true,
      note: "new domain from the current boot fields",
    },
    {
      call: LifecycleCall.cleanShutdown,
      args: NO_ARGS,
      to: PowerState.Halted,
      flags: [TransitionFlag.graceful],
      rebuildsDomain: false,
      planned: true,
      note: "guest shuts itself down",
    },
    {
      call: LifecycleCall.hardReboot,
      args: NO_ARGS,
      to: PowerState.Running,
      flags: [TransitionFlag.hard, TransitionFlag.destructive],
      rebuildsDomain: true,
      planned: true,
      note: "domain destroyed and rebuilt without asking the guest",
    },
    {
      call: LifecycleCall.hardShutdown,
      args: NO_ARGS,
      to: PowerState.Halted,
      flags: [TransitionFlag.hard, TransitionFlag.destructive],
      rebuildsDomain: false,
      planned: true,
      note: "power cut",
    },
    {
      call: LifecycleCall.shutdown,
      args: NO_ARGS,
      to: PowerState.Halted,
      flags: [TransitionFlag.hard, TransitionFlag.destructive],
      rebuildsDomain: false,
      planned: false,
      note: "clean, falling back to hard on any error (xapi_vm.ml:428)",
    },
  ],
  Paused: [
    {
      call: LifecycleCall.unpause,
      args: NO_ARGS,
      to: PowerState.Running,
      flags: [],
      rebuildsDomain: false,
      planned: true,
      note: "1.0 figure mislabels this edge `resume`",
    },
    {
      call: LifecycleCall.hardReboot,
      args: NO_ARGS,
      to: PowerState.Running,
      flags: [TransitionFlag.hard, TransitionFlag.destructive],
      rebuildsDomain: true,
      planned: true,
      note: "ends Running, not Paused (xenops VM_reboot = shutdown + start + unpause)",
    },
    {
      call: LifecycleCall.hardShutdown,
      args: NO_ARGS,
      to: PowerState.Halted,
      flags: [TransitionFlag.hard, TransitionFlag.destructive],
      rebuildsDomain: false,
      planned: true,
      note: "a paused guest cannot shut down cleanly",
    },
    {
      call: LifecycleCall.shutdown,
      args: NO_ARGS,
      to: PowerState.Halted,
      flags: [TransitionFlag.hard, TransitionFlag.destructive],
      rebuildsDomain: false,
      planned: false,
      note: "waits ~60 s for an ack a paused guest never sends, then hard",
    },
  ],
  Suspended: [
    {
      call: LifecycleCall.resume,
      args: START,
      to: PowerState.Running,
      flags: [],
      rebuildsDomain: false,
      planned: true,
      note: "restores the saved domain with its old boot config",
    },
    {
      call: LifecycleCall.resume,
      args: START_PAUSED,
      to: PowerState.Paused,
      flags: [],
      rebuildsDomain: false,
      planned: true,
      note: "restores the saved domain, vCPUs not started",
    },
    {
      call: LifecycleCall.hardShutdown,
      args: NO_ARGS,
      to: PowerState.Halted,
      flags: [TransitionFlag.hard, TransitionFlag.destructive],
      rebuildsDomain: false,
      planned: true,
      note: "destroys the suspend image",
    },
    {
      call: LifecycleCall.shutdown,
      args: NO_ARGS,
      to: PowerState.Halted,
      flags: [TransitionFlag.hard, TransitionFlag.destructive],
      rebuildsDomain: false,
      planned: false,
      note: "same as hard_shutdown for a suspended VM",
    },
  ],
  Crashed: [
    {
      call: LifecycleCall.hardShutdown,
      args: NO_ARGS,
      to: PowerState.Halted,
      flags: [TransitionFlag.hard],
      rebuildsDomain: false,
      planned: true,
      note: "XenAPI 1.0: the only way out; the guest is already dead",
    },
  ],
};

/** Every transition of the table, in table order (source states in `PowerState` order). */
export const TRANSITIONS: readonly Transition[] = Object.values(PowerState).flatMap((from) =>
  LIFECYCLE[from].map((row) => ({ from, ...row })),
);

/** The transitions that leave `state`, in table order. */
export function transitionsFrom(state: PowerState): readonly Transition[] {
  return TRANSITIONS.filter((t) => t.from === state);
}

/**
 * True when `call` builds a new domain from the VM's current boot fields (the table's `rebuildsDomain`
 * column: start and the reboots; never resume).
 */
export function rebuildsDomain(call: string): boolean {
  return TRANSITIONS.some((t) => t.call === call && t.rebuildsDomain);
}

/** True when the transition carries `flag`. */
export function hasFlag(t: TransitionRow, flag: TransitionFlag): boolean {
  return t.flags.includes(flag);
}

/** The call as written in a plan or a figure: `VM.start(start_paused: true, force: false)`. */
export function formatCall(call: string, args: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(args);
  if (entries.length === 0) return call;
  return `${call}(${entries.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ")})`;
}

/**
 * The lifecycle figure as a mermaid `stateDiagram-v2`, generated from `LIFECYCLE` (docs/lifecycle.md
 * holds the committed copy; `test/diagram.test.ts` fails when it drifts). Edges between the same pair
 * of states are merged into one arrow with the labels joined by " / ", like the XAPI figure.
 */
export function renderMermaid(): string {
  const lines = ["stateDiagram-v2", "  direction LR", `  [*] --> ${PowerState.Halted}`];
  const pairs = new Map<string, { from: PowerState; to: PowerState; labels: string[] }>();
  for (const t of TRANSITIONS) {
    const key = `${t.from}->${t.to}`;
    const pair = pairs.get(key) ?? { from: t.from, to: t.to, labels: [] };
    pair.labels.push(edgeLabel(t));
    pairs.set(key, pair);
  }
  for (const { from, to, labels } of pairs.values()) {
    lines.push(`  ${from} --> ${to} : ${labels.join(" / ")}`);
  }
  lines.push(
    `  note right of ${PowerState.Crashed}`,
    "    observed only (XenAPI 1.0)",
    "    no call enters it",
    "  end note",
    "  classDef observedOnly stroke-dasharray: 5 5",
    `  class ${PowerState.Crashed} observedOnly`,
  );
  return `${lines.join("\n")}\n`;
}

// Mermaid labels must avoid ':' and ';', so arguments are written `start_paused=true`.
function edgeLabel(t: Transition): string {
  const name = t.call.replace(/^VM\./, "");
  const paused = t.args.start_paused === undefined ? "" : `(paused=${t.args.start_paused})`;
  const marks = [
    ...t.flags.filter((f) => f !== TransitionFlag.graceful),
    ...(t.planned ? [] : ["never planned"]),
  ];
  return `${name}${paused}${marks.length > 0 ? ` [${marks.join(", ")}]` : ""}`;
}

/**
 * The table as markdown, one row per transition (for docs/lifecycle.md next to the figure). Columns
 * are padded the way the repository's formatter (biome) lays out markdown tables.
 */
export function renderMarkdownTable(): string {
  const header = ["from", "call", "args", "to", "flags", "rebuilds domain", "planned", "note"];
  const rows = TRANSITIONS.map((t) => [
    t.from,
    `\`${t.call}\``,
    Object.keys(t.args).length === 0 ? "" : `\`${JSON.stringify(t.args)}\``,
    t.to,
    t.flags.join(", "),
    t.rebuildsDomain ? "yes" : "",
    t.planned ? "yes" : "never",
    t.note.replaceAll("|", "\\|"),
  ]);
  const widths = header.map((h, c) => Math.max(3, h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((x, c) => x.padEnd(widths[c] ?? 0)).join(" | ")} |`;
  return `${[line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")}\n`;
}
