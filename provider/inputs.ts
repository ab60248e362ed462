/**
 * The inputs of the `Vm` resource: one zod schema, and `validateVmInputs`, which the provider's
 * `check` calls. Failures are data (`{ property, reason }`, Pulumi's `CheckFailure`), never thrown.
 *
 * Every reason follows one formula (see `invalid` in `provider/boot/schema.ts`): what failed, expected
 * vs received, and a hint where one helps, e.g.
 * `Invalid value: expected one of "Halted", "Paused", "Running", "Suspended", received "Crashed". Crashed can be observed but not declared.`
 *
 * During `pulumi preview`, inputs that are not known yet arrive as the string
 * `04da6b54-80e4-46f7-96ec-b56ff0331ba9` whatever their type (pulumi/pulumi#6310). Such a field is not
 * validated (nor are rules that depend on it) and its dot path is listed in `unknowns`.
 */

import { z } from "zod";
import {
  conflictingBootGroups,
  formatReceived,
  HvmBootParamsSchema,
  HvmBootSchema,
  invalid,
  PvBootSchema,
} from "./boot/schema";
import { diskNumberOf } from "./model/device-number";
import { DEFAULT_POLICY } from "./model/plan";
import {
  BootChangeMode,
  DECLARABLE_POWER_STATES,
  PowerCycleMode,
  PowerState,
  ShutdownMode,
} from "./model/vocabulary";
import { MemorySchema, VcpusSchema } from "./resource/sizing";

/** Pulumi's placeholder for a value that is not known during preview. */
export const UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `policy`: what the plan may do to the VM. Every field has a default. */
export const PolicySchema = z.strictObject({
  /** "clean" (default), "clean-then-hard" (executor escalates on timeout / VM_LACKS_FEATURE) or "hard". */
  shutdown: z.enum(Object.values(ShutdownMode)).default(DEFAULT_POLICY.shutdown),
  /** "restart" (default): apply boot changes in this run; "next-boot": set them, report them pending. */
  bootChanges: z.enum(Object.values(BootChangeMode)).default(DEFAULT_POLICY.bootChanges),
  /** Only when true (and `shutdown` is "hard") may a Suspended VM be hard-shut-down, discarding its memory image. */
  allowDiscardSuspendedState: z.boolean().default(DEFAULT_POLICY.allowDiscardSuspendedState),
  /** "refuse" (default): a vCPU/memory change that needs a Halted VM fails; "allow": one power cycle. */
  powerCycle: z
    .enum(Object.values(PowerCycleMode))
    .default(DEFAULT_POLICY.powerCycle ?? PowerCycleMode.refuse),
});

/** `timeouts`: per-operation limits. */
export const TimeoutsSchema = z.strictObject({
  /** Seconds one lifecycle call may take before it is cancelled (or escalated under clean-then-hard). */
  operationSeconds: z.number().positive().optional(),
});

/**
 * `bootableDisks`: the `userdevice` of every disk (VBD) of the VM that must be bootable; every other
 * VBD is made non-bootable. `[]` = none. Omitted = the bootable flags are not managed.
 */
export const BootableDisksSchema = z.array(z.unknown()).transform((items, ctx) => {
  const seen = new Map<number, string>();
  items.forEach((item, i) => {
    const disk = typeof item === "string" ? diskNumberOf(item) : undefined;
    if (typeof item !== "string" || disk === undefined) {
      ctx.addIssue({
        code: "custom",
        path: [i],
        input: item,
        message: invalid(
          "Invalid value",
          'the userdevice of one of the VM\'s disks, a decimal string such as "0" or a device name such as "xvda"',
          item,
          typeof item === "number"
            ? `Write it as a string: "${item}".`
            : 'List them with "xe vbd-list vm-uuid=<uuid>".',
        ),
      });
    } else if (seen.has(disk)) {
      const first = seen.get(disk);
      ctx.addIssue({
        code: "custom",
        path: [i],
        input: item,
        message: invalid(
          "Duplicate value",
          "each disk at most once",
          item,
          first === item
            ? "Remove the repeated entry."
            : `${JSON.stringify(first)} and ${JSON.stringify(item)} name the same disk (XAPI reads both as disk ${disk}); keep one.`,
        ),
      });
    } else {
      seen.set(disk, item);
    }
  });
  return items as string[];
});

/** The whole `Vm` input, field by field. Cross-field rules are applied by `validateVmInputs`. */
export const VmInputsSchema = z.strictObject({
  /** name_label of the template to clone and provision. Exactly one of `template` / `uuid`. */
  template: z
    .string()
    .superRefine((s, ctx) => {
      if (s.trim() === "") {
        ctx.addIssue({
          code: "custom",
          input: s,
          message: invalid("Invalid value", "the name_label of a template", s, 'e.g. "Debian Bookworm 12".'),
        });
      }
    })
    .optional(),
  /** uuid of an existing VM to adopt. Exactly one of `template` / `uuid`. */
  uuid: z
    .string()
    .superRefine((s, ctx) => {
      if (!UUID.test(s)) {
        ctx.addIssue({
          code: "custom",
          input: s,
          message: invalid(
            "Invalid value",
            'a VM uuid such as "5f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c"',
            s,
            'Find it with "xe vm-list" or in Xen Orchestra.',
          ),
        });
      }
    })
    .optional(),
  nameLabel: z.string().optional(),
  nameDescription: z.string().optional(),
  /** The declared power state. @default "Running" */
  powerState: z.enum(DECLARABLE_POWER_STATES).default(PowerState.Running),
  pv: PvBootSchema.optional(),
  hvm: HvmBootSchema.optional(),
  /** userdevices of the disks that must be bootable (VBD.bootable); others are cleared. See `BootableDisksSchema`. */
  bootableDisks: BootableDisksSchema.optional(),
  /** vCPUs: `atStartup`, `max` (`provider/resource/sizing.ts`). Omitted = not managed. */
  vcpus: VcpusSchema.optional(),
  /** Memory: `staticMax`, `dynamicMin`, `dynamicMax`, each a size (`provider/model/size.ts`). Omitted = not managed. */
  memory: MemorySchema.optional(),
  policy: PolicySchema.default({
    ...DEFAULT_POLICY,
    powerCycle: DEFAULT_POLICY.powerCycle ?? PowerCycleMode.refuse,
  }),
  timeouts: TimeoutsSchema.optional(),
  /** Any change of this value → exactly one restart of the VM (when it ends Running or Paused). */
  restartTrigger: z.string().optional(),
  /** With `uuid`: destroy the adopted VM on delete instead of releasing it. @default false */
  deleteAdopted: z.boolean().optional(),
  /**
   * With `uuid`: adopt the VM even when another Pulumi resource owns it (its `other_config` names
   * that resource); the other resource then fails, saying it lost the VM. @default false
   */
  takeOver: z.boolean().optional(),
});

/** The validated inputs, defaults applied. */
export type VmInputs = z.output<typeof VmInputsSchema>;

/** One failure, in the shape of Pulumi's `CheckFailure`. */
export interface InputFailure {
  /** Dot path of the property, e.g. `hvm.bootParams.order`; "" for the input object itself. */
  readonly property: string;
  readonly reason: string;
}

export type VmInputsValidation =
  | {
      readonly ok: true;
      /**
       * The inputs with defaults applied. A top-level property that is (partly) unknown is absent here,
       * or holds its default (`powerState`, `policy`): consult `unknowns` before planning on it.
       */
      readonly value: VmInputs;
      /** Dot paths of the fields that held Pulumi's unknown sentinel. Empty outside preview. */
      readonly unknowns: readonly string[];
    }
  | { readonly ok: false; readonly failures: readonly InputFailure[]; readonly unknowns: readonly string[] };

export interface ValidateOptions {
  /**
   * Top-level keys that are not user inputs and are skipped (in addition to every key starting with
   * `__`, such as Pulumi's `__provider`), e.g. a synthetic property the provider adds itself.
   */
  readonly ignoreKeys?: readonly string[];
}

/**
 * Validates raw `Vm` inputs (as Pulumi passes them to `check`). Never throws.
 *
 * @example
 * validateVmInputs({ template: "debian", powerState: "Crashed" })
 * // → { ok: false, failures: [{ property: "powerState", reason: "Invalid value: expected one of … Crashed can be observed but not declared." }], unknowns: [] }
 */
export function validateVmInputs(raw: unknown, options: ValidateOptions = {}): VmInputsValidation {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return {
      ok: false,
      failures: [{ property: "", reason: invalid("Invalid type", "an object of Vm inputs", raw) }],
      unknowns: [],
    };
  }
  const ignore = new Set(options.ignoreKeys ?? []);
  const userInputs = Object.fromEntries(
    Object.entries(raw).filter(([k]) => !k.startsWith("__") && !ignore.has(k)),
  );
  const unknowns: string[] = [];
  const known = stripUnknowns(userInputs, [], unknowns) as Record<string, unknown>;

  const parsed = VmInputsSchema.safeParse(known, { reportInput: true });
  const failures: InputFailure[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const f of toFailures(issue)) {
        if (!dependsOnUnknown(f.property, issue, unknowns)) failures.push(f);
      }
    }
  }
  failures.push(...crossFieldFailures(known, unknowns));
  if (failures.length > 0) return { ok: false, failures, unknowns };

  // Re-parse without every top-level property that is partly unknown: what remains is complete.
  const unknownTop = new Set(unknowns.map((p) => p.split(".")[0]));
  const complete = Object.fromEntries(Object.entries(known).filter(([k]) => !unknownTop.has(k)));
  const value = VmInputsSchema.parse(complete);
  return { ok: true, value, unknowns };
}

//////////////////////////////
////   unknowns           ////
//////////////////////////////

function stripUnknowns(value: unknown, path: readonly string[], unknowns: string[]): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const p = [...path, k];
    // An array with an unknown element (e.g. bootableDisks: [disk.userdevice]) is unknown as a whole.
    if (v === UNKNOWN_SENTINEL || (Array.isArray(v) && v.includes(UNKNOWN_SENTINEL)))
      unknowns.push(p.join("."));
    else out[k] = stripUnknowns(v, p, unknowns);
  }
  return out;
}

function isUnder(property: string, prefix: string): boolean {
  return property === prefix || property.startsWith(`${prefix}.`);
}

// A failure is skipped when its property, or a sibling its rule reads (`params.siblings`), is unknown.
function dependsOnUnknown(property: string, issue: z.core.$ZodIssue, unknowns: readonly string[]): boolean {
  const parent = issue.path.slice(0, -1).map(String);
  const siblings =
    issue.code === "custom" && Array.isArray(issue.params?.siblings)
      ? (issue.params.siblings as string[]).map((s) => [...parent, s].join("."))
      : [];
  return unknowns.some((u) => isUnder(property, u) || siblings.some((s) => isUnder(s, u)));
}

//////////////////////////////
////   cross-field rules  ////
//////////////////////////////

function crossFieldFailures(known: Record<string, unknown>, unknowns: readonly string[]): InputFailure[] {
  // A wholly unknown property may still resolve to "absent": rules about its presence are skipped.
  const wholly = (key: string) => unknowns.includes(key);
  const present = (key: string) => known[key] !== undefined;
  const failures: InputFailure[] = [];

  if (!wholly("template") && !wholly("uuid")) {
    if (!present("template") && !present("uuid")) {
      failures.push({
        property: "template",
        reason:
          'Missing identity: expected exactly one of "template" or "uuid", received neither. Set "template" to create a VM from a template, or "uuid" to adopt an existing VM.',
      });
    } else if (present("template") && present("uuid")) {
      const reason =
        'Conflicting properties: expected exactly one of "template" or "uuid", received both. "template" creates a new VM, "uuid" adopts an existing one; remove one of them.';
      failures.push({ property: "template", reason }, { property: "uuid", reason });
    }
  }
  if (present("pv") && present("hvm")) {
    const reason = conflictingBootGroups();
    failures.push({ property: "pv", reason }, { property: "hvm", reason });
  }
  return failures;
}

//////////////////////////////
////   issue wording      ////
//////////////////////////////

/** Known keys per object path, for "did you mean" on misspelt keys. */
const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  "": Object.keys(VmInputsSchema.shape),
  pv: Object.keys(PvBootSchema.shape),
  hvm: Object.keys(HvmBootSchema.shape),
  "hvm.bootParams": Object.keys(HvmBootParamsSchema.shape),
  policy: Object.keys(PolicySchema.shape),
  timeouts: Object.keys(TimeoutsSchema.shape),
  vcpus: Object.keys(VcpusSchema.shape),
  memory: Object.keys(MemorySchema.shape),
};

/** Hints for a property whose value is missing or of the wrong type. */
const TYPE_HINTS: Readonly<Record<string, string>> = {
  pv: 'Write e.g. pv: { bootloader: "pygrub" }.',
  hvm: 'Write e.g. hvm: { bootParams: { order: "cd" } }.',
  "hvm.bootParams": 'Write e.g. bootParams: { order: "cd" }.',
  "hvm.bootParams.order": 'Set the QEMU boot order, e.g. "cd" (disk, then CD-ROM).',
  bootableDisks: 'Write e.g. bootableDisks: ["0"] (userdevices of the VM\'s disks).',
  policy: 'Write e.g. policy: { shutdown: "clean" }.',
  vcpus: "Write e.g. vcpus: { atStartup: 2, max: 4 }.",
  memory: 'Write e.g. memory: { dynamicMax: "4GiB" }.',
  timeouts: "Write e.g. timeouts: { operationSeconds: 600 }.",
  "timeouts.operationSeconds": "Timeouts are in seconds.",
};

function toFailures(issue: z.core.$ZodIssue): InputFailure[] {
  const property = issue.path.map(String).join(".");
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => {
        const known = KNOWN_KEYS[property] ?? [];
        const guess = closest(key, known);
        return {
          property: property === "" ? key : `${property}.${key}`,
          reason: invalid(
            `Unrecognized key ${JSON.stringify(key)}`,
            `one of ${known.map((k) => JSON.stringify(k)).join(", ")}`,
            key,
            guess ? `Did you mean ${JSON.stringify(guess)}?` : undefined,
          ),
        };
      });
    case "invalid_value": {
      const values = issue.values.map(String);
      return [
        {
          property,
          reason: invalid(
            "Invalid value",
            `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`,
            issue.input,
            valueHint(property, issue.input, values),
          ),
        },
      ];
    }
    case "invalid_type": {
      const what = issue.input === undefined ? "Missing value" : "Invalid type";
      const expected = /^[aeiou]/.test(issue.expected) ? `an ${issue.expected}` : `a ${issue.expected}`;
      return [{ property, reason: invalid(what, expected, issue.input, TYPE_HINTS[property]) }];
    }
    case "too_small":
      return [
        {
          property,
          reason: invalid(
            "Invalid value",
            `a number ${issue.inclusive ? "at least" : "greater than"} ${issue.minimum}`,
            issue.input,
            TYPE_HINTS[property],
          ),
        },
      ];
    case "custom":
      return [{ property, reason: issue.message }];
    default:
      // Not produced by these schemas; keep zod's text inside the same formula's opening.
      return [
        { property, reason: `Invalid value: ${issue.message}, received ${formatReceived(issue.input)}.` },
      ];
  }
}

function valueHint(property: string, input: unknown, values: readonly string[]): string | undefined {
  if (property === "powerState" && input === PowerState.Crashed)
    return "Crashed can be observed but not declared.";
  if (typeof input !== "string") return undefined;
  const guess = closest(input, values);
  return guess ? `Did you mean ${JSON.stringify(guess)}?` : undefined;
}

/** The known word within edit distance 2 (case-insensitive) of `word`, if exactly one is closest. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  let tied = false;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
      tied = false;
    } else if (d === bestDistance && best !== undefined) {
      tied = true;
    }
  }
  // A tie (e.g. "hv": "pv" or "hvm"?) would be a guess; listing the keys says enough.
  return tied ? undefined : best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
