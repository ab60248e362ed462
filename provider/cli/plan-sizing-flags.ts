/**
 * The vCPU and memory flags of `xapi-plan`: what they mean in the planner's terms (`PlanInput`'s
 * `observedSizing`, `declaredSizing`, `guest`, `policy.powerCycle`), parsed from text. The declared flags
 * mirror a `Vm`'s `vcpus` and `memory` blocks (sizes as `provider/model/size.ts` reads them); the VM's own
 * values are a modelled VM unless `--observed-vcpus` / `--observed-memory` say otherwise.
 */
import { formatSize, parseSize } from "../model/size";
import type { DeclaredSizing, GuestAbilities, SizingFields } from "../model/sizing";
import { invalid } from "../model/wording";

/** A bad flag or flag value: the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The VM the CLI plans sizing for unless told otherwise: 2 vCPUs (max 4), memory 1GiB/2GiB/4GiB/4GiB. */
export const CLI_OBSERVED_SIZING: SizingFields = {
  VCPUs_max: 4,
  VCPUs_at_startup: 2,
  memory_static_min: 2 ** 30,
  memory_static_max: 4 * 2 ** 30,
  memory_dynamic_min: 2 * 2 ** 30,
  memory_dynamic_max: 4 * 2 ** 30,
};

/** The sizing options, for `node:util` `parseArgs`. */
export const SIZING_OPTIONS = {
  vcpus: { type: "string" },
  "memory-static-max": { type: "string" },
  "memory-dynamic-min": { type: "string" },
  "memory-dynamic-max": { type: "string" },
  "observed-vcpus": { type: "string" },
  "observed-memory": { type: "string" },
  "vcpu-hotplug": { type: "boolean", default: false },
  "live-vcpus-licensed": { type: "boolean", default: false },
} as const;

/** The usage lines of the sizing options. */
export const SIZING_USAGE = `  --vcpus <n>[/<max>]          declared vcpus.atStartup [and vcpus.max], e.g. 4 or 4/8
  --memory-dynamic-max <size>  declared memory.dynamicMax; required with the other memory flags, as in a
                               Vm's memory block. A size is bytes or a binary unit: 4294967296, 4GiB, 1.5GiB
  --memory-dynamic-min <size>  declared memory.dynamicMin
  --memory-static-max <size>   declared memory.staticMax
  --observed-vcpus <n>/<max>   the VM's VCPUs_at_startup/VCPUs_max (default: 2/4)
  --observed-memory <sMin>/<dMin>/<dMax>/<sMax>
                               the VM's memory_static_min/dynamic_min/dynamic_max/static_max, smallest
                               first (default: 1GiB/2GiB/4GiB/4GiB)
  --vcpu-hotplug               the guest can plug vCPUs live (changing_VCPUs_live in allowed_operations)
  --live-vcpus-licensed        the pool's licence has Live_set_vcpus (both are needed for a live change;
                               without them a vCPU count waits for a domain build)
  --power-cycle <mode>         refuse: a change that needs a Halted VM fails (default); allow: cycle it`;

/** The sizing flags' values as `parseArgs` returns them. */
export interface SizingFlagValues {
  readonly vcpus?: string | undefined;
  readonly "memory-static-max"?: string | undefined;
  readonly "memory-dynamic-min"?: string | undefined;
  readonly "memory-dynamic-max"?: string | undefined;
  readonly "observed-vcpus"?: string | undefined;
  readonly "observed-memory"?: string | undefined;
  readonly "vcpu-hotplug"?: boolean | undefined;
  readonly "live-vcpus-licensed"?: boolean | undefined;
}

/** The planner's sizing inputs from the flags. `declaredSizing` is `undefined` when no size is declared. */
export interface SizingArgs {
  readonly observedSizing: SizingFields;
  readonly declaredSizing: DeclaredSizing | undefined;
  readonly guest: GuestAbilities;
}

/**
 * Parses the sizing flags. Throws a {@link UsageError} naming the flag, in the one wording formula
 * (what failed, expected vs received, a hint), for a value that is not a count or a size.
 */
export function parseSizingFlags(values: SizingFlagValues): SizingArgs {
  const vcpus = values.vcpus === undefined ? undefined : vcpuCounts("--vcpus", values.vcpus, false);
  const observedVcpus =
    values["observed-vcpus"] === undefined
      ? undefined
      : vcpuCounts("--observed-vcpus", values["observed-vcpus"], true);
  const observedMemory =
    values["observed-memory"] === undefined ? undefined : observedMemoryOf(values["observed-memory"]);
  const c = CLI_OBSERVED_SIZING;
  const observedSizing: SizingFields = {
    VCPUs_at_startup: observedVcpus?.[0] ?? c.VCPUs_at_startup,
    VCPUs_max: observedVcpus?.[1] ?? c.VCPUs_max,
    memory_static_min: observedMemory?.[0] ?? c.memory_static_min,
    memory_dynamic_min: observedMemory?.[1] ?? c.memory_dynamic_min,
    memory_dynamic_max: observedMemory?.[2] ?? c.memory_dynamic_max,
    memory_static_max: observedMemory?.[3] ?? c.memory_static_max,
  };
  const memory = declaredMemory(values, observedSizing);
  const declaredSizing =
    vcpus === undefined && memory === undefined
      ? undefined
      : {
          ...(vcpus === undefined
            ? {}
            : {
                vcpus: {
                  atStartup: vcpus[0],
                  ...(vcpus[1] === undefined ? {} : { max: vcpus[1] }),
                },
              }),
          ...(memory === undefined ? {} : { memory }),
        };
  return {
    observedSizing,
    declaredSizing,
    guest: {
      vcpuHotplug: values["vcpu-hotplug"] === true,
      liveVcpusLicensed: values["live-vcpus-licensed"] === true,
    },
  };
}

//////////////////////////////
////   helpers            ////
//////////////////////////////

/**
 * `4` or `4/8` (`maxRequired`: only `2/4`): whole numbers of vCPUs, each at least 1. An observed pair
 * must also have XAPI's order; a declared one is the planner's to check (`INVALID_DECLARED_SIZING`).
 */
function vcpuCounts(flag: string, text: string, maxRequired: boolean): [number, number | undefined] {
  const parts = text.split("/");
  const whole = (p: string) => /^[0-9]+$/.test(p) && Number.isSafeInteger(Number(p)) && Number(p) >= 1;
  const shape = maxRequired ? parts.length === 2 : parts.length === 1 || parts.length === 2;
  if (!shape || !parts.every(whole)) {
    const expected = maxRequired ? "<atStartup>/<max>" : "<atStartup> or <atStartup>/<max>";
    throw new UsageError(
      invalid(
        `Invalid ${flag}`,
        `${expected}, whole numbers of vCPUs, at least 1`,
        text,
        `Write e.g. ${maxRequired ? '"2/4"' : '"4" or "4/8"'}.`,
      ),
    );
  }
  const [atStartup, max] = parts.map(Number) as [number, number | undefined];
  if (maxRequired && max !== undefined && atStartup > max) {
    throw new UsageError(
      invalid(
        `Invalid ${flag}`,
        "atStartup at most max, as XAPI keeps them (1 ≤ VCPUs_at_startup ≤ VCPUs_max)",
        text,
      ),
    );
  }
  return [atStartup, max];
}

/** The declared memory block, sizes in bytes; `undefined` when no memory flag is given. */
function declaredMemory(values: SizingFlagValues, observed: SizingFields): DeclaredSizing["memory"] {
  const staticMax = sizeOf("--memory-static-max", values["memory-static-max"]);
  const dynamicMin = sizeOf("--memory-dynamic-min", values["memory-dynamic-min"]);
  const dynamicMax = sizeOf("--memory-dynamic-max", values["memory-dynamic-max"]);
  if (dynamicMax === undefined) {
    if (staticMax === undefined && dynamicMin === undefined) return undefined;
    // As a Vm's memory block: dynamicMax is the one field it always declares.
    throw new UsageError(
      invalid(
        "Missing --memory-dynamic-max",
        "a size with --memory-static-max or --memory-dynamic-min",
        undefined,
        `A memory declaration always has dynamicMax, as a Vm's memory block: to keep the VM's, add --memory-dynamic-max ${formatSize(observed.memory_dynamic_max)}.`,
      ),
    );
  }
  return {
    ...(staticMax === undefined ? {} : { staticMax }),
    ...(dynamicMin === undefined ? {} : { dynamicMin }),
    dynamicMax,
  };
}

function sizeOf(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const parsed = parseSize(text, flag);
  if (!parsed.ok) throw new UsageError(parsed.reason);
  return parsed.bytes;
}

/** `<staticMin>/<dynamicMin>/<dynamicMax>/<staticMax>`, each a size, in XAPI's order. */
function observedMemoryOf(text: string): number[] {
  const flag = "--observed-memory";
  const parts = text.split("/");
  if (parts.length !== 4) {
    throw new UsageError(
      invalid(
        `Invalid ${flag}`,
        "four sizes <staticMin>/<dynamicMin>/<dynamicMax>/<staticMax>",
        text,
        'Write e.g. "1GiB/2GiB/4GiB/4GiB".',
      ),
    );
  }
  const bytes = parts.map((p) => sizeOf(flag, p) as number);
  // No VM has other values: XAPI refuses any write that breaks the order.
  if (bytes.some((b, i) => i > 0 && (bytes[i - 1] as number) > b)) {
    throw new UsageError(
      invalid(`Invalid ${flag}`, "staticMin ≤ dynamicMin ≤ dynamicMax ≤ staticMax, as XAPI keeps them", text),
    );
  }
  return bytes;
}
