/**
 * The connection a preview runs the provider's own `create`, `update` and `delete` through: reads are
 * answered from a {@link PoolSnapshot}, writes are recorded instead of sent and applied to a private
 * copy of the records, the way XAPI applies them, so that the next read sees their effect.
 *
 * Why: the preview must name exactly the calls `pulumi up` will make. Running the very code of the
 * update (name setters, the executor with its planner, its setter skips and re-checks, the bookkeeping
 * writes) against the pool's live records guarantees it, instead of re-describing that code a second
 * time. What this module models of XAPI is only the effect of the writes the provider makes:
 * - `VM.clone`: a copy of the template record (still a template, but never a default one: the
 *   `default_template` key of `other_config` is dropped, the rest kept; copies of its VBDs), Halted;
 * - `VM.provision`: one VBD per `<disk>` of `other_config["disks"]` whose device is free (bootable as the
 *   XML says), then the key is dropped;
 * - a lifecycle call: the power state the lifecycle table gives for (state, call), or
 *   `VM_BAD_POWER_STATE` as XAPI answers; a call that builds a domain (start, the reboots, and resume,
 *   which restores the saved one into a new domain) gives a new `domid`, Halted and Suspended have none
 *   (-1); `domid` is a number, as XAPI's JSON-RPC sends it;
 * - `VM.set_<field>` writes the field (`domain_type` and `HVM_boot_policy` rewrite each other, as XAPI
 *   does: {@link applyBootSetter}; `VM.set_domain_type("unspecified")` is refused, `INVALID_VALUE`);
 *   `VM.add_to_other_config` fails on an existing key (`MAP_DUPLICATE_KEY`),
 *   `VM.remove_from_other_config` ignores a missing one; `VBD.set_bootable`; the vCPU and memory setters
 *   with XAPI's power-state and range checks (`dry-run-sizing.ts`);
 * - `VM.destroy`: from Halted or Suspended only (else `VM_BAD_POWER_STATE`), and the VM's VBDs go
 *   with it (its VDIs stay); `VDI.destroy`.
 * test/dry-run.test.ts runs the same calls through this model and through xapi-sim and compares.
 * Any other call is refused: a provider change that adds a call must model it here, or its preview
 * fails loudly instead of silently omitting the call.
 */
import type { XapiConnection } from "../client";
import { XapiError, XapiErrorCode } from "../client";
import { applyBootSetter, type VmRecord } from "../executor";
import { DomainType, type XapiBootFields } from "../model/boot";
import { transitionsFrom } from "../model/lifecycle";
import { NULL_REF, PowerState } from "../model/vocabulary";
import { isSizingSetter, sizingWrite } from "./dry-run-sizing";
import type { PoolSnapshot, VbdRecord } from "./snapshot";

/** One state-changing call the preview recorded instead of sending. */
export interface DryRunWrite {
  readonly method: string;
  readonly args: readonly unknown[];
}

/** The boot fields a `VM.set_<field>` setter writes with XAPI's coupling. */
const BOOT_FIELDS: ReadonlySet<string> = new Set<keyof XapiBootFields>([
  "domain_type",
  "HVM_boot_policy",
  "HVM_boot_params",
  "PV_bootloader",
  "PV_kernel",
  "PV_ramdisk",
  "PV_args",
  "PV_bootloader_args",
]);

/** Other VM fields the provider sets. */
const PLAIN_VM_FIELDS: ReadonlySet<string> = new Set(["name_label", "name_description", "is_a_template"]);

/** Domain ids the preview hands out: far above real ones, so they are never mistaken for a live domain. */
const FIRST_PREVIEW_DOMID = 1_000_000;

type MutableRecord = Record<string, unknown>;

/** A {@link XapiConnection} that reads a snapshot and records writes; see the module comment. */
export class DryRunConnection implements XapiConnection {
  readonly #snapshot: PoolSnapshot;
  /** Records read or changed by this dry run (copies: the snapshot is shared and never mutated). */
  readonly #vms = new Map<string, MutableRecord | null>();
  readonly #vbds = new Map<string, MutableRecord | null>();
  readonly #writes: DryRunWrite[] = [];
  #serial = 0;
  readonly stats = { calls: 0, logins: 0 };

  constructor(snapshot: PoolSnapshot) {
    this.#snapshot = snapshot;
  }

  get url(): string {
    return this.#snapshot.connection.url;
  }

  get username(): string {
    return this.#snapshot.connection.username;
  }

  /** The writes recorded so far, in order. */
  get writes(): readonly DryRunWrite[] {
    return this.#writes;
  }

  async call<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    return (await this.#dispatch(method, args)) as T;
  }

  async callAsync<T = unknown>(method: string, args: unknown[]): Promise<T> {
    return (await this.#dispatch(method, args)) as T;
  }

  async #dispatch(method: string, args: readonly unknown[]): Promise<unknown> {
    const [cls, name] = method.split(".") as [string, string];
    if (method === "pool.get_all_records") {
      const pool = await this.#snapshot.pool();
      return { "OpaqueRef:pool": pool };
    }
    if (method === "host.get_API_version_major" || method === "host.get_API_version_minor") {
      const api = await this.#snapshot.apiVersion();
      return String(method.endsWith("major") ? api.major : api.minor);
    }
    if (cls === "VM") return this.#vmCall(method, name, args);
    if (cls === "VBD") return this.#vbdCall(method, name, args);
    if (method === "VDI.destroy") return this.#write(method, args, () => "");
    throw notModelled(method);
  }

  async #vmCall(method: string, name: string, args: readonly unknown[]): Promise<unknown> {
    const ref = String(args[0]);
    if (name.startsWith("get_")) return this.#vmGet(method, name, ref);
    switch (name) {
      case "clone":
        return this.#write(method, args, async () =>
          this.#clone(await this.#vm(method, ref), String(args[1])),
        );
      case "provision":
        return this.#write(method, args, async () => this.#provision(ref, await this.#vm(method, ref)));
      case "add_to_other_config":
      case "remove_from_other_config":
        return this.#otherConfig(method, name, args);
      case "destroy":
        return this.#destroyVm(method, args);
      default:
        break;
    }
    if (name.startsWith("set_")) {
      const set = await this.#vmSet(method, name, args);
      if (set !== undefined) return set;
    }
    const transition = await this.#lifecycle(method, name, args);
    if (transition !== undefined) return transition;
    throw notModelled(method);
  }

  /** The VM reads the operations make. */
  async #vmGet(method: string, name: string, ref: string): Promise<unknown> {
    switch (name) {
      case "get_by_uuid": {
        for (const [r, record] of this.#vms) if (record !== null && record.uuid === ref) return r;
        const shared = await this.#snapshot.vmByUuid(ref);
        if (shared !== undefined && this.#vms.get(shared.ref) !== null) return shared.ref;
        throw new XapiError(XapiErrorCode.UUID_INVALID, ["VM", ref], method);
      }
      case "get_by_name_label": {
        const refs: string[] = [];
        for (const [r, record] of await this.#allVms()) if (record.name_label === ref) refs.push(r);
        return refs;
      }
      case "get_record":
        return structuredClone(await this.#vm(method, ref));
      case "get_power_state":
        return (await this.#vm(method, ref)).power_state;
      case "get_uuid":
        return (await this.#vm(method, ref)).uuid;
      default:
        throw notModelled(method);
    }
  }

  /** `VM.add_to_other_config` (MAP_DUPLICATE_KEY on an existing key) and `VM.remove_from_other_config`. */
  async #otherConfig(method: string, name: string, args: readonly unknown[]): Promise<unknown> {
    const ref = String(args[0]);
    const record = await this.#vm(method, ref);
    return this.#write(method, args, () => {
      const other = { ...((record.other_config as Record<string, string> | undefined) ?? {}) };
      const key = String(args[1]);
      if (name === "remove_from_other_config") delete other[key];
      else if (key in other)
        throw new XapiError(XapiErrorCode.MAP_DUPLICATE_KEY, ["VM", "other_config", ref, key], method);
      else other[key] = String(args[2]);
      record.other_config = other;
      return "";
    });
  }

  /** `VM.destroy`: only a Halted or Suspended VM; its VBDs go with it. */
  async #destroyVm(method: string, args: readonly unknown[]): Promise<unknown> {
    const ref = String(args[0]);
    const record = await this.#vm(method, ref);
    const state = record.power_state as PowerState;
    if (state !== PowerState.Halted && state !== PowerState.Suspended) {
      throw new XapiError(
        XapiErrorCode.VM_BAD_POWER_STATE,
        [ref, "halted, suspended", state.toLowerCase()],
        method,
      );
    }
    return this.#write(method, args, () => {
      for (const vbd of stringList(record.VBDs)) this.#vbds.set(vbd, null);
      this.#vms.set(ref, null);
      return "";
    });
  }

  /** A VM field setter: boot fields as XAPI applies them, plain fields as given; `undefined` for others. */
  async #vmSet(method: string, name: string, args: readonly unknown[]): Promise<unknown> {
    const field = name.slice("set_".length);
    const record = await this.#vm(method, String(args[0]));
    if (isSizingSetter(name)) {
      // XAPI's checks and writes of the vCPU and memory setters: dry-run-sizing.ts.
      const apply = sizingWrite(record, name, String(args[0]), args.slice(1));
      return this.#write(method, args, () => {
        apply();
        return "";
      });
    }
    if (BOOT_FIELDS.has(field)) {
      if (field === "domain_type" && args[1] === DomainType.unspecified) {
        throw new XapiError("INVALID_VALUE", ["domain_type", DomainType.unspecified], method);
      }
      return this.#write(method, args, () => {
        Object.assign(
          record,
          applyBootSetter(record as unknown as XapiBootFields, field as keyof XapiBootFields, args[1]),
        );
        return "";
      });
    }
    if (PLAIN_VM_FIELDS.has(field)) {
      return this.#write(method, args, () => {
        record[field] = args[1];
        return "";
      });
    }
    return undefined;
  }

  /**
   * A lifecycle call: the table's target state from the VM's current one, or XAPI's refusal. `VM.start`
   * and `VM.resume` take `(vm, start_paused, force)`: `start_paused` picks the row (Running or Paused).
   */
  async #lifecycle(method: string, name: string, args: readonly unknown[]): Promise<unknown> {
    const call = `VM.${name}`;
    const known = Object.values(PowerState).some((s) => transitionsFrom(s).some((t) => t.call === call));
    if (!known) return undefined;
    const ref = String(args[0]);
    const record = await this.#vm(method, ref);
    const from = record.power_state as PowerState;
    const startPaused = args[1] === true;
    const transition = transitionsFrom(from).find(
      (t) => t.call === call && (t.args.start_paused === true) === startPaused,
    );
    if (transition === undefined) {
      throw new XapiError(XapiErrorCode.VM_BAD_POWER_STATE, [ref, "", from], method);
    }
    return this.#write(method, args, () => {
      record.power_state = transition.to;
      if (transition.to === PowerState.Halted || transition.to === PowerState.Suspended) record.domid = -1;
      else if (transition.rebuildsDomain || from === PowerState.Suspended) {
        record.domid = FIRST_PREVIEW_DOMID + this.#serial++;
      }
      return "";
    });
  }

  async #vbdCall(method: string, name: string, args: readonly unknown[]): Promise<unknown> {
    const ref = String(args[0]);
    if (name === "get_record") return structuredClone(await this.#vbd(method, ref));
    if (name === "set_bootable") {
      const vbd = await this.#vbd(method, ref);
      return this.#write(method, args, () => {
        vbd.bootable = args[1] === true;
        return "";
      });
    }
    throw notModelled(method);
  }

  async #write<T>(method: string, args: readonly unknown[], apply: () => T | Promise<T>): Promise<T> {
    const result = await apply();
    this.#writes.push({ method, args: [...args] });
    return result;
  }

  #clone(template: MutableRecord, newName: string): string {
    const ref = `OpaqueRef:preview-${this.#serial++}`;
    const vbds: string[] = [];
    for (const vbdRef of stringList(template.VBDs)) {
      const vbd = this.#vbds.get(vbdRef);
      if (vbd === null) continue;
      const copy = `OpaqueRef:preview-${this.#serial++}`;
      this.#vbds.set(copy, { ...(vbd ?? {}), VM: ref, __copyOf: vbdRef });
      vbds.push(copy);
    }
    const { default_template: _, ...other } =
      (template.other_config as Record<string, string> | undefined) ?? {};
    this.#vms.set(ref, {
      ...structuredClone(template),
      other_config: other,
      is_default_template: false,
      uuid: "(the new VM's uuid)",
      name_label: newName,
      power_state: PowerState.Halted,
      domid: -1,
      VBDs: vbds,
    });
    return ref;
  }

  async #provision(ref: string, record: MutableRecord): Promise<string> {
    const other = { ...((record.other_config as Record<string, string> | undefined) ?? {}) };
    const spec = other.disks;
    if (spec === undefined) return "";
    const vbds = stringList(record.VBDs);
    const taken = new Set<string>();
    for (const vbdRef of vbds) taken.add(String((await this.#vbd("VBD.get_record", vbdRef)).userdevice));
    for (const disk of provisionDisks(spec)) {
      if (taken.has(disk.device)) continue;
      const vbdRef = `OpaqueRef:preview-${this.#serial++}`;
      this.#vbds.set(vbdRef, {
        VM: ref,
        userdevice: disk.device,
        bootable: disk.bootable,
        type: "Disk",
        VDI: `OpaqueRef:preview-${this.#serial++}`,
      });
      vbds.push(vbdRef);
    }
    delete other.disks;
    record.other_config = other;
    record.VBDs = vbds;
    return "";
  }

  async #allVms(): Promise<Map<string, MutableRecord>> {
    const all = new Map<string, MutableRecord>();
    for (const [ref, record] of await this.#snapshot.vms()) all.set(ref, record as MutableRecord);
    for (const [ref, record] of this.#vms) {
      if (record === null) all.delete(ref);
      else all.set(ref, record);
    }
    return all;
  }

  async #vm(method: string, ref: string): Promise<MutableRecord> {
    const local = this.#vms.get(ref);
    if (local === null) throw new XapiError(XapiErrorCode.HANDLE_INVALID, ["VM", ref], method);
    if (local !== undefined) return local;
    const shared = (await this.#snapshot.vms()).get(ref);
    if (shared === undefined) throw new XapiError(XapiErrorCode.HANDLE_INVALID, ["VM", ref], method);
    // A shallow copy is enough: every write above replaces a top-level field, and reads hand out deep copies.
    const copy = { ...shared } as VmRecord as unknown as MutableRecord;
    this.#vms.set(ref, copy);
    return copy;
  }

  async #vbd(method: string, ref: string): Promise<MutableRecord> {
    const local = this.#vbds.get(ref);
    if (local === null) throw new XapiError(XapiErrorCode.HANDLE_INVALID, ["VBD", ref], method);
    if (local !== undefined && local.__copyOf === undefined) return local;
    const sourceRef = local === undefined ? ref : String(local.__copyOf);
    const shared = (await this.#snapshot.vbds()).get(sourceRef);
    if (shared === undefined) throw new XapiError(XapiErrorCode.HANDLE_INVALID, ["VBD", ref], method);
    const copy: MutableRecord = { ...structuredClone(shared as VbdRecord), ...(local ?? {}) };
    delete copy.__copyOf;
    this.#vbds.set(ref, copy);
    return copy;
  }
}

/** The `<disk>` elements of a template's provisioning XML (`other_config["disks"]`). */
function provisionDisks(xml: string): { device: string; bootable: boolean }[] {
  const disks: { device: string; bootable: boolean }[] = [];
  for (const match of xml.matchAll(/<disk\b([^>]*)\/?>/g)) {
    const attrs = new Map<string, string>();
    for (const a of (match[1] ?? "").matchAll(/(\w+)="([^"]*)"/g)) attrs.set(a[1] ?? "", a[2] ?? "");
    const device = attrs.get("device") ?? "";
    if (device !== "") disks.push({ device, bootable: attrs.get("bootable") === "true" });
  }
  return disks;
}

function stringList(value: unknown): string[] {
  return Array.isArray(value)
    ? value.filter((v): v is string => typeof v === "string" && v !== NULL_REF)
    : [];
}

/** A call the dry run does not model: a bug of the provider, not of the user's program. */
function notModelled(method: string): Error {
  return new Error(
    `pulumi-xapi preview: ${method} is not modelled by the dry run (provider/resource/dry-run.ts)`,
  );
}
