/**
 * The `Vm` operations over a {@link XapiConnection}: create, read, update and delete. The Pulumi
 * methods (`impl.ts`) run them against the pool; a preview (`preview.ts`) runs the very same functions
 * against a {@link DryRunConnection}, so the calls a preview names are the calls `pulumi up` makes.
 *
 * Calls (besides the executor's own, documented in `provider/executor.ts`; the executor is handed the
 * record read here, so it does not read it again; test/provider-grpc.test.ts "documented calls"):
 * - every operation: `pool.get_all_records` once per connection (the pool's uuid, recorded as
 *   `poolUuid` and compared with the recorded one: a stack never mistakes another pool's VMs for its own);
 * - `create`: `VM.get_by_name_label`, one `VM.get_record` per VM of that name (to find the template),
 *   `Async.VM.clone`, `VM.get_uuid`, `VM.add_to_other_config` (the owner tag, when the resource's URN is
 *   known), `Async.VM.provision`, `VM.set_is_a_template`, one `VM.get_record` (names and plan), the name
 *   setters that differ, the executor's steps, the pending-boot bookkeeping (below), one `VM.get_record`
 *   (outputs; only when the executor sent a call); adopting: `VM.get_by_uuid` instead of the template
 *   search, clone, tag, provision and un-template;
 * - `read`: `VM.get_by_uuid`, `VM.get_record`, and one `VBD.get_record` per VBD when `bootableDisks` is
 *   declared;
 * - `update`: `VM.get_by_uuid`, `VM.get_record`, the name setters that differ, the executor's steps,
 *   the bookkeeping, `VM.get_record` (outputs; only when the executor sent a call); when the VM is still
 *   the template clone of a create that stopped before `VM.set_is_a_template`, first `Async.VM.provision`
 *   (only while `other_config.disks` is set: provision consumes it), `VM.set_is_a_template` and one more
 *   `VM.get_record`;
 * - `delete`: `VM.get_by_uuid`, `VM.get_record`, the executor's steps, one `VBD.get_record` per VBD
 *   (not for an adopted VM), `VM.destroy`, one `VDI.destroy` per disk VDI; nothing for a released VM;
 * - after a failed create or update: one more `VM.get_record`, for the recorded outputs.
 *
 * Pending boot changes are kept on the VM itself, in `other_config["pulumi-xapi:pending-boot"]`
 * (`{"domid":…,"paths":[…]}`), so that a preview, another stack or `xe vm-param-list` sees them: written
 * (`VM.remove_from_other_config` of an older value, then `VM.add_to_other_config`) when a run leaves the
 * domain on an older boot configuration than the VM's fields, removed when a run rebuilds the domain or
 * halts the VM. It applies while the VM is not Halted and still runs the domain it names (a marker
 * written while Suspended, domid -1, holds until the VM is seen Halted or rebuilt: a resume keeps the old
 * configuration).
 */
import { createHash } from "node:crypto";
import { isXapiError, type XapiConnection, XapiErrorCode } from "../client";
import {
  bootFieldsOf,
  type ConvergeOptions,
  type ConvergeTarget,
  converge,
  type ExecutedStep,
  ExecutionError,
  type VmRecord,
} from "../executor";
import { type VmInputs, validateVmInputs } from "../inputs";
import type { ObservedDisk } from "../model/boot";
import { sameDisk } from "../model/device-number";
import { hasFlag, TransitionFlag, transitionsFrom } from "../model/lifecycle";
import type { Policy } from "../model/plan";
import { DEFAULT_POLICY } from "../model/plan";
import { NULL_REF, PowerState } from "../model/vocabulary";
import { type ApiVersion, hasDomainType, readApiVersion } from "./api-version";
import {
  type BootDeclaration,
  bootableOf,
  changedBootPaths,
  declaredBootWithDisks,
  effectiveBootOf,
  observedDeclaration,
} from "./boot";
import { ProviderError, ProviderErrorCode, VmOperationError } from "./errors";
import { URN_KEY } from "./snapshot";
import { Deadline, parseGoDuration } from "./timeouts";
import {
  type CustomTimeoutStrings,
  type EffectiveBoot,
  InternalKey,
  PLANNED_CALLS_KEY,
  type VmCallRecord,
} from "./types";

/** A property bag as the dynamic-provider host passes it (plain JSON). */
export type Bag = Record<string, unknown>;

/** The user-declared properties, in the order they are echoed into the outputs. */
export const DECLARED_KEYS = [
  "template",
  "uuid",
  "nameLabel",
  "nameDescription",
  "powerState",
  "pv",
  "hvm",
  "bootableDisks",
  "policy",
  "timeouts",
  "restartTrigger",
  "deleteAdopted",
  "takeOver",
] as const;

/** Properties only the provider writes. */
export const OUTPUT_KEYS = [
  "adopted",
  "poolUuid",
  "observedPowerState",
  "effectiveBoot",
  "pendingBootChanges",
  "observedDomid",
  "lastCalls",
] as const;

/** Keys `check` never validates as user input. */
export const NOT_USER_INPUT: readonly string[] = [...OUTPUT_KEYS, PLANNED_CALLS_KEY];

/** The `other_config` key holding a pending boot change (module comment). */
export const PENDING_KEY = "pulumi-xapi:pending-boot";

/** A create's outcome. */
export interface Created {
  readonly id: string;
  readonly outs: Bag;
}

//////////////////////////////
////   operations         ////
//////////////////////////////

/**
 * Clones and provisions a VM from its template (or adopts one), then converges it.
 *
 * Kill-safe: a VM is born with a name unique to its resource ({@link birthName}), tagged with the
 * resource's URN right after, and renamed to its declared name as the create's last call; a create first
 * looks for a VM bearing the birth name (a create stopped before its end) and finishes it instead of
 * cloning again.
 */
export async function createVm(conn: XapiConnection, inputs: Bag): Promise<Created> {
  const value = validated(inputs);
  const deadline = deadlineOf(inputs, "create");
  const { uuid: pool, api } = await poolInfoOf(conn);
  const calls: VmCallRecord[] = [];
  const adopted = value.uuid !== undefined;
  const urn = urnOf(inputs);
  let vm: { ref: string; uuid: string };
  let birth: Birth | undefined;
  let claimed: VmRecord | undefined;
  if (adopted) {
    vm = await findVm(conn, value.uuid ?? "");
    // Ownership is settled before anything is written, and a refused adoption records nothing.
    claimed = await recordOf(conn, vm.ref);
    assertMayOwn(vm.uuid, claimed, urn, value.takeOver === true);
  } else {
    const leftover = urn === undefined ? undefined : await findLeftover(conn, value, urn, inputs);
    birth = leftover ?? (await cloneTemplate(conn, value, urn, calls, deadline));
    vm = birth;
  }

  let before: VmRecord | undefined;
  try {
    if (claimed !== undefined) await claim(conn, vm.ref, claimed, urn, calls);
    if (birth !== undefined) await finishBirth(conn, birth, urn, calls, deadline, value);
    before = await recordOf(conn, vm.ref);
    // A VM being born keeps its birth name until the create is done (renamed last): a create stopped
    // anywhere before that is found again by that name, and a finished VM never is.
    await setNames(conn, vm.ref, before, value, calls, { label: birth === undefined });
    const marker = pendingMarkerOf(before);
    const stale = markerApplies(marker, before);
    const note = notePendingFirst(conn, vm.ref, before, stale ? (marker?.paths ?? []) : [], calls);
    deadline.check("converging the power state");
    const result = await converge(
      conn,
      vm,
      targetOf(value, { forceRestart: false, liveDomainBootStale: stale }),
      policyOf(value.policy),
      // The record just read: the executor plans from it instead of reading it again.
      {
        ...convergeOpts(deadline, value),
        record: before,
        canSetDomainType: hasDomainType(api),
        beforeLiveBootWrite: note.hook,
      },
    );
    calls.push(...result.steps.map(callRecordOf));
    const pending = pendingAfter(result, stale ? (marker?.paths ?? []) : [], before);
    const after = madeCalls(result.steps) || note.fired() ? await recordOf(conn, vm.ref) : before;
    await recordPending(conn, vm.ref, after, pending, calls);
    if (birth !== undefined) await setNames(conn, vm.ref, after, value, calls, { description: false });
    const disks = result.observedDisks;
    return {
      id: vm.uuid,
      outs: outputsOf(value, after, { adopted, pool, pending, calls, bag: inputs, disks }),
    };
  } catch (error) {
    throw await operationFailure(
      conn,
      vm,
      value,
      { adopted, pool, pending: [], calls, bag: inputs, before },
      error,
      "create",
    );
  }
}

/** What `read` returns: the outputs, and the observed state as inputs. */
export interface ReadState {
  readonly id: string;
  readonly props: Bag;
  readonly inputs: Bag;
}

/** Reads the VM back; `undefined` when it is gone. @throws ProviderError POOL_MISMATCH */
export async function readVmState(
  conn: XapiConnection,
  id: string,
  props: Bag,
): Promise<ReadState | undefined> {
  const { uuid: pool } = await poolInfoOf(conn);
  assertSamePool(conn, props, pool, id);
  let ref: string;
  try {
    ref = await conn.call<string>("VM.get_by_uuid", id);
  } catch (error) {
    if (isXapiError(error, XapiErrorCode.UUID_INVALID)) return undefined;
    throw error;
  }
  const record = await recordOf(conn, ref);
  const old = pickDeclared(props);
  const fields = bootFieldsOf(record);
  const observedDecl: Bag = {
    ...old,
    powerState: record.power_state,
    ...(old.nameLabel === undefined ? {} : { nameLabel: record.name_label }),
    ...(old.nameDescription === undefined
      ? {}
      : { nameDescription: stringField(record, "name_description") }),
  };
  delete observedDecl.pv;
  delete observedDecl.hvm;
  Object.assign(observedDecl, observedDeclaration(bootDeclarationOf(old), fields));
  // Managed bootable disks are read back (one VBD.get_record per VBD) so a drift shows up.
  const disks = old.bootableDisks === undefined ? undefined : await readDisks(conn, record);
  if (disks !== undefined) observedDecl.bootableDisks = inDeclaredOrder(bootableOf(disks), old.bootableDisks);

  const marker = pendingMarkerOf(record) ?? legacyMarker(props);
  const adopted = props.adopted === true;
  const outs = stripUndefined({
    ...observedDecl,
    uuid: record.uuid,
    adopted,
    poolUuid: pool,
    observedPowerState: record.power_state,
    effectiveBoot: withBootableDisks(effectiveBootOf(fields), disks),
    pendingBootChanges: markerApplies(marker, record) ? (marker?.paths ?? []) : [],
    observedDomid: domidOf(record),
    lastCalls: Array.isArray(props.lastCalls) ? props.lastCalls : [],
    [InternalKey.customTimeouts]: props[InternalKey.customTimeouts],
    // The owner's URN stays recorded: a release after this refresh removes the tag only if it is ours.
    [InternalKey.urn]: props[InternalKey.urn],
  }) as Bag;
  const inputs = pickDeclared(outs);
  if (!adopted) delete inputs.uuid;
  // The VM's uuid travels in the inputs too, so that a preview (which sees only inputs) finds the VM.
  inputs[InternalKey.vm] = record.uuid;
  for (const key of [InternalKey.customTimeouts, InternalKey.urn]) {
    if (props[key] !== undefined) inputs[key] = props[key];
  }
  return { id: record.uuid, props: outs, inputs };
}

/**
 * Re-reads the live VM, applies name changes and converges it to the new declaration. `olds` are the
 * recorded outputs (or, in a preview, the recorded inputs: only keys both hold are read).
 */
export async function updateVm(conn: XapiConnection, id: string, olds: Bag, news: Bag): Promise<Bag> {
  const value = validated(news);
  const deadline = deadlineOf(news, "update");
  const { uuid: pool, api } = await poolInfoOf(conn);
  assertSamePool(conn, olds, pool, id);
  // Declared by uuid (the same VM, or diff would have replaced it): adopted, released on delete.
  const adopted = value.uuid !== undefined;
  const vm = await findVm(conn, id);
  const calls: VmCallRecord[] = [];
  const urn = urnOf(news);
  let record: VmRecord | undefined = await recordOf(conn, vm.ref);
  assertStillOwned(id, record, urn, adopted && value.takeOver === true);
  let oldPending: string[] = [];
  try {
    // The owner tag: written when missing (a VM adopted or created before tags), or taken over.
    await claim(conn, vm.ref, record, urn, calls);
    // A create that stopped after the clone left a template behind: finish it before converging.
    if (createdFromTemplate(olds) && record.is_a_template === true) {
      record = await finishClone(conn, vm.ref, record, calls, deadline, value);
    }
    await setNames(conn, vm.ref, record, value, calls);
    const marker = pendingMarkerOf(record) ?? legacyMarker(olds);
    const stale = markerApplies(marker, record);
    oldPending = stale ? [...(marker?.paths ?? [])] : [];
    const note = notePendingFirst(conn, vm.ref, record, oldPending, calls);
    deadline.check("converging the power state");
    const result = await converge(
      conn,
      vm,
      targetOf(value, {
        forceRestart: value.restartTrigger !== undefined && value.restartTrigger !== olds.restartTrigger,
        liveDomainBootStale: stale,
      }),
      policyOf(value.policy),
      {
        ...convergeOpts(deadline, value),
        record,
        canSetDomainType: hasDomainType(api),
        beforeLiveBootWrite: note.hook,
      },
    );
    calls.push(...result.steps.map(callRecordOf));
    const pending = pendingAfter(result, oldPending, record);
    const after = madeCalls(result.steps) || note.fired() ? await recordOf(conn, vm.ref) : record;
    await recordPending(conn, vm.ref, after, pending, calls);
    const disks = result.observedDisks;
    return outputsOf(value, after, { adopted, pool, pending, calls, bag: news, disks });
  } catch (error) {
    throw await operationFailure(
      conn,
      vm,
      value,
      { adopted, pool, pending: oldPending, calls, bag: news, before: record },
      error,
      "update",
    );
  }
}

/**
 * Releases an adopted VM (removing only its owner tag, unless `deleteAdopted`), or shuts it down per its policy and
 * destroys it with the disks it was provisioned with. Returns the calls made.
 */
export async function deleteVm(conn: XapiConnection, id: string, props: Bag): Promise<VmCallRecord[]> {
  const adopted = props.adopted === true;
  const { uuid: pool, api } = await poolInfoOf(conn);
  assertSamePool(conn, props, pool, id);
  let vm: { ref: string; uuid: string };
  try {
    vm = await findVm(conn, id);
  } catch (error) {
    if (error instanceof ProviderError && error.code === ProviderErrorCode.VM_NOT_FOUND) return []; // already gone
    throw error;
  }
  const calls: VmCallRecord[] = [];
  if (adopted && props.deleteAdopted !== true) {
    // Released: the VM is not ours to destroy; only our owner tag goes (another owner's stays).
    const record = await recordOf(conn, vm.ref);
    const urn = urnOf(props);
    if (urn !== undefined && ownerOf(record) === urn) {
      const reason = "release the VM: this resource no longer owns it";
      await removeKey(conn, calls, vm.ref, record.power_state, URN_KEY, reason);
    }
    return calls;
  }
  const deadline = deadlineOf(props, "delete");
  const timeouts = props.timeouts as VmInputs["timeouts"];
  const policy = policyOf(props.policy as Partial<Policy> | undefined);
  deadline.check("shutting the VM down");
  // One read serves the plan and the disk list (lifecycle calls do not change a VM's VBDs).
  const record = await recordOf(conn, vm.ref);
  const result = await converge(conn, vm, { powerState: PowerState.Halted }, policy, {
    ...convergeOpts(deadline, { timeouts }),
    record,
    canSetDomainType: hasDomainType(api),
  });
  calls.push(...result.steps.map(callRecordOf));
  deadline.check("VM.destroy");
  const disks = adopted ? [] : await provisionedDisks(conn, record);
  await recorded(calls, { call: "VM.destroy", from: "Halted", reason: "delete the VM" }, () =>
    conn.call("VM.destroy", vm.ref),
  );
  for (const disk of disks) {
    await recorded(
      calls,
      {
        call: "VDI.destroy",
        args: { userdevice: disk.userdevice },
        reason: "delete the disk the VM was created with",
      },
      () => conn.call("VDI.destroy", disk.vdi),
    );
  }
  return calls;
}

//////////////////////////////
////   pending boot changes ////
//////////////////////////////

/** The pending-boot marker of a VM record (module comment). */
interface PendingMarker {
  /** The domain the marker is about; -1 when written while Suspended. */
  readonly domid: number;
  readonly paths: readonly string[];
}

/** The marker on the VM, or `undefined` (absent or unreadable: a human may have edited it). */
export function pendingMarkerOf(record: VmRecord): PendingMarker | undefined {
  const text = rawMarker(record);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as { domid?: unknown; paths?: unknown };
    if (typeof parsed.domid !== "number" || !Array.isArray(parsed.paths)) return undefined;
    return { domid: parsed.domid, paths: parsed.paths.filter((p): p is string => typeof p === "string") };
  } catch {
    return undefined;
  }
}

function rawMarker(record: VmRecord): string | undefined {
  const other = record.other_config as Record<string, unknown> | undefined;
  const text = other?.[PENDING_KEY];
  return typeof text === "string" ? text : undefined;
}

/** A pending change recorded by an older version in the outputs only (no marker on the VM). */
function legacyMarker(props: Bag): PendingMarker | undefined {
  const paths = stringArray(props.pendingBootChanges);
  return paths.length > 0 && typeof props.observedDomid === "number"
    ? { domid: props.observedDomid, paths }
    : undefined;
}

/** The marker still describes the VM's domain (module comment). */
export function markerApplies(marker: PendingMarker | undefined, record: VmRecord): boolean {
  if (marker === undefined || record.power_state === PowerState.Halted) return false;
  // A suspend image keeps the domain it saved; a new domid means the domain was rebuilt since.
  if (record.power_state === PowerState.Suspended) return true;
  return marker.domid === -1 || marker.domid === domidOf(record);
}

/** The paths still pending after a run. */
function pendingAfter(
  result: { bootChangePending: boolean; steps: readonly ExecutedStep[] },
  stillPending: readonly string[],
  before: VmRecord,
): string[] {
  if (!result.bootChangePending) return [];
  return [
    ...new Set([...stillPending, ...changedBootPaths(executedSetters(result.steps), bootFieldsOf(before))]),
  ].sort();
}

/**
 * The executor's `beforeLiveBootWrite` hook: notes on the VM, before a boot field of its live domain is
 * written, that the domain will run an older configuration until the restart that applies it. A run
 * stopped in between (killed, crashed) leaves the change pending for the next run, instead of lost; the
 * run's end removes the note when the restart happened.
 */
function notePendingFirst(
  conn: XapiConnection,
  ref: string,
  record: VmRecord,
  stillPending: readonly string[],
  calls: VmCallRecord[],
): { hook: NonNullable<ConvergeOptions["beforeLiveBootWrite"]>; fired: () => boolean } {
  let fired = false;
  return {
    hook: async (setters, power) => {
      const paths = [
        ...new Set([...stillPending, ...changedBootPaths(setters, bootFieldsOf(record))]),
      ].sort();
      if (paths.length === 0) return;
      fired = true;
      await recordPending(conn, ref, { ...record, power_state: power }, paths, calls);
    },
    fired: () => fired,
  };
}

/** Brings the VM's marker in line with `pending` (no call when it already is). */
async function recordPending(
  conn: XapiConnection,
  ref: string,
  record: VmRecord,
  pending: readonly string[],
  calls: VmCallRecord[],
): Promise<void> {
  const current = rawMarker(record);
  const domid = record.power_state === PowerState.Suspended ? -1 : domidOf(record);
  const wanted = pending.length === 0 ? undefined : JSON.stringify({ domid, paths: pending });
  if (current === wanted) return;
  const power = record.power_state;
  if (current !== undefined) {
    const reason =
      wanted === undefined
        ? "the domain now runs the VM's boot configuration: clear the pending-boot note"
        : "replace the pending-boot note";
    await removeKey(conn, calls, ref, power, PENDING_KEY, reason);
  }
  if (wanted !== undefined) {
    const reason = `note on the VM that its domain still runs the previous boot configuration (${pending.join(", ")})`;
    // The line shows the paths; the value (with the domain id) is in the VM's other_config.
    await addKey(conn, calls, ref, power, PENDING_KEY, wanted, reason, { paths: [...pending] });
  }
}

/** `VM.add_to_other_config(key, value)`, recorded in `lastCalls` with the key (and `shown`), not the value. */
async function addKey(
  conn: XapiConnection,
  calls: VmCallRecord[],
  ref: string,
  power: PowerState,
  key: string,
  value: string,
  reason: string,
  shown: Readonly<Record<string, unknown>> = {},
): Promise<void> {
  await recorded(
    calls,
    { call: "VM.add_to_other_config", args: { key, ...shown }, from: power, to: power, reason },
    () => conn.call("VM.add_to_other_config", ref, key, value),
  );
}

/** `VM.remove_from_other_config(key)`, recorded in `lastCalls`. */
async function removeKey(
  conn: XapiConnection,
  calls: VmCallRecord[],
  ref: string,
  power: PowerState,
  key: string,
  reason: string,
): Promise<void> {
  await recorded(
    calls,
    { call: "VM.remove_from_other_config", args: { key }, from: power, to: power, reason },
    () => conn.call("VM.remove_from_other_config", ref, key),
  );
}

/** The owner tag's reason, in every line that writes it. */
const OWNER_REASON = "record on the VM its owner, this resource's URN";

//////////////////////////////
////   XAPI helpers       ////
//////////////////////////////

/** What the provider needs to know of the pool behind a connection. */
export interface PoolInfo {
  readonly uuid: string;
  /** The coordinator's XAPI API version: which boot fields and setters exist (`api-version.ts`). */
  readonly api: ApiVersion;
}

/** The pool behind each connection (`pool.get_all_records` and the coordinator's API version, once). */
const pools = new WeakMap<XapiConnection, Promise<PoolInfo>>();

/** The pool `conn` talks to. */
export function poolInfoOf(conn: XapiConnection): Promise<PoolInfo> {
  let known = pools.get(conn);
  if (known === undefined) {
    known = conn
      .call<Record<string, { uuid: string; master: string }>>("pool.get_all_records")
      .then(async (all) => {
        const [pool] = Object.values(all);
        if (pool === undefined) throw new Error("pool.get_all_records returned no pool object");
        return { uuid: pool.uuid, api: await readApiVersion(conn, pool.master) };
      });
    known.catch(() => pools.delete(conn));
    pools.set(conn, known);
  }
  return known;
}

/**
 * The recorded pool (`poolUuid` output) is the one `xapi:url` reaches now. Otherwise its VMs would read
 * as gone and the next `up` would create new ones, orphaning the originals.
 * @throws ProviderError POOL_MISMATCH
 */
export function assertSamePool(conn: XapiConnection, props: Bag, pool: string, id: string): void {
  const recorded = props.poolUuid;
  if (typeof recorded !== "string" || recorded === pool) return;
  throw new ProviderError(
    ProviderErrorCode.POOL_MISMATCH,
    `VM ${id} is in another pool: expected pool ${recorded} (where this stack recorded it), received pool ${pool} at ${conn.url}. ` +
      "Point xapi:url (or XAPI_URL) back at a host of pool " +
      `${recorded}, or use a separate stack (or an explicit provider) for pool ${pool}.`,
  );
}

export async function findVm(conn: XapiConnection, uuid: string): Promise<{ ref: string; uuid: string }> {
  try {
    return { ref: await conn.call<string>("VM.get_by_uuid", uuid), uuid };
  } catch (error) {
    if (isXapiError(error, XapiErrorCode.UUID_INVALID)) {
      throw new ProviderError(
        ProviderErrorCode.VM_NOT_FOUND,
        `VM ${uuid} not found: expected an existing VM, XAPI answered UUID_INVALID. ` +
          "Check the uuid with `xe vm-list`, or run `pulumi refresh` if it was deleted outside Pulumi.",
        { cause: error },
      );
    }
    throw error;
  }
}

function recordOf(conn: XapiConnection, ref: string): Promise<VmRecord> {
  return conn.call<VmRecord>("VM.get_record", ref);
}

/** A VM this resource is bringing into the world: a fresh clone, or one a stopped create left behind. */
interface Birth {
  readonly ref: string;
  readonly uuid: string;
  /** Still a template (not provisioned and un-templated yet). */
  readonly isTemplate: boolean;
  /** Already carries this resource's URN tag. */
  readonly tagged: boolean;
  /** `VM.provision` is still due: a fresh clone, or a left-behind one whose `other_config.disks` is still set. */
  readonly provisionDue: boolean;
}

/**
 * The `name_label` a VM is born with: unique to its resource, so that a create stopped before the VM was
 * tagged or recorded finds it again (`VM.get_by_name_label`). Renamed to the declared name once tagged.
 */
export function birthName(urn: string): string {
  return `${BIRTH_PREFIX}${createHash("sha256").update(urn).digest("hex").slice(0, 16)}`;
}

const BIRTH_PREFIX = "pulumi-xapi:creating:";

/** The resource's URN (the `Vm` class passes it), or `undefined` for a caller that does not. */
function urnOf(bag: Bag): string | undefined {
  const urn = bag[InternalKey.urn];
  return typeof urn === "string" ? urn : undefined;
}

/**
 * A VM an earlier, stopped create of this resource left behind: one still bearing the birth name (a create
 * renames the VM last), or — when `check` read the pool and said which VM the resource already has
 * (`__xapiLeftovers`) — a finished VM with the declared name and this resource's tag that is neither that VM
 * nor the one a replacement is about to delete (a create killed after its last call, before the engine
 * saved it). Two such VMs (a copy keeps name and tag) are refused: which one is meant is unknown.
 */
async function findLeftover(
  conn: XapiConnection,
  value: VmInputs,
  urn: string,
  inputs: Bag,
): Promise<Birth | undefined> {
  const found: { ref: string; record: VmRecord }[] = [];
  const seen = new Set<string>();
  const named = inputs[InternalKey.leftovers] === "named";
  const recorded = new Set(
    [inputs[InternalKey.vm], inputs[InternalKey.replaces]].filter((u) => typeof u === "string"),
  );
  const names = named ? [birthName(urn), value.nameLabel ?? value.template ?? ""] : [birthName(urn)];
  for (const name of names) {
    for (const ref of await conn.call<string[]>("VM.get_by_name_label", name)) {
      if (seen.has(ref)) continue;
      seen.add(ref);
      const record = await recordOf(conn, ref);
      if (record.is_a_snapshot === true || recorded.has(record.uuid)) continue;
      if (name === birthName(urn) || ownerOf(record) === urn) found.push({ ref, record });
    }
  }
  if (found.length > 1) {
    throw new ProviderError(
      ProviderErrorCode.AMBIGUOUS_OWNER,
      `Several VMs are left by an earlier create of this resource: expected at most one, found ${found.length} (${found.map((f) => f.record.uuid).join(", ")}). ` +
        `Destroy the extra copies (xe vm-uninstall uuid=…) or remove their other_config key ${URN_KEY}, then run pulumi up again.`,
    );
  }
  const [left] = found;
  if (left === undefined) return undefined;
  return {
    ref: left.ref,
    uuid: left.record.uuid,
    isTemplate: left.record.is_a_template === true,
    tagged: ownerOf(left.record) === urn,
    provisionDue: pendingDisks(left.record),
  };
}

/** Finds the template by name_label and clones it; the clone is a template until provisioned. */
async function cloneTemplate(
  conn: XapiConnection,
  value: VmInputs,
  urn: string | undefined,
  calls: VmCallRecord[],
  deadline: Deadline,
): Promise<Birth> {
  const name = value.template ?? "";
  const refs = await conn.call<string[]>("VM.get_by_name_label", name);
  const templates: { ref: string; uuid: string }[] = [];
  for (const ref of refs) {
    const record = await conn.call<VmRecord>("VM.get_record", ref);
    if (record.is_a_template === true && record.is_a_snapshot !== true)
      templates.push({ ref, uuid: record.uuid });
  }
  const [template, ...others] = templates;
  if (template === undefined) {
    throw new ProviderError(
      ProviderErrorCode.TEMPLATE_NOT_FOUND,
      `Template ${JSON.stringify(name)} not found: expected a VM template with this name_label, found none. ` +
        "List them with `xe template-list params=name-label`.",
    );
  }
  if (others.length > 0) {
    throw new ProviderError(
      ProviderErrorCode.TEMPLATE_AMBIGUOUS,
      `Template ${JSON.stringify(name)} is ambiguous: expected one template with this name_label, found ` +
        `${templates.length} (${templates.map((t) => t.uuid).join(", ")}). Rename the copies or give the VM by uuid.`,
    );
  }
  deadline.check("VM.clone");
  // Born with a name unique to the resource (when its URN is known), so a stopped create finds it again.
  const newName = urn === undefined ? (value.nameLabel ?? name) : birthName(urn);
  const ref = await recorded(
    calls,
    {
      call: "VM.clone",
      args: { template: name, new_name: newName },
      to: "Halted",
      reason: "copy the template",
    },
    () => conn.callAsync<string>("VM.clone", [template.ref, newName], timeoutOpts(deadline, value)),
  );
  try {
    return {
      ref,
      uuid: await conn.call<string>("VM.get_uuid", ref),
      isTemplate: true,
      tagged: false,
      provisionDue: true,
    };
  } catch (error) {
    // Without its uuid the VM cannot be recorded: undo the clone to stay transactional.
    await conn.call("VM.destroy", ref).catch(() => undefined);
    throw error;
  }
}

/** Tags, provisions and un-templates a VM being born, as far as it is not done yet. */
async function finishBirth(
  conn: XapiConnection,
  birth: Birth,
  urn: string | undefined,
  calls: VmCallRecord[],
  deadline: Deadline,
  value: VmInputs,
): Promise<void> {
  if (urn !== undefined && !birth.tagged) {
    await addKey(conn, calls, birth.ref, PowerState.Halted, URN_KEY, urn, OWNER_REASON);
  }
  if (!birth.isTemplate) return;
  if (birth.provisionDue) {
    deadline.check("VM.provision");
    await recorded(
      calls,
      {
        call: "VM.provision",
        from: "Halted",
        to: "Halted",
        reason: "create the disks the template describes",
      },
      () => conn.callAsync("VM.provision", [birth.ref], timeoutOpts(deadline, value)),
    );
  }
  await recorded(
    calls,
    {
      call: "VM.set_is_a_template",
      args: { value: false },
      from: "Halted",
      to: "Halted",
      reason: "turn the copy into a VM",
    },
    () => conn.call("VM.set_is_a_template", birth.ref, false),
  );
}

/** The Pulumi resource (URN) a VM's `other_config` names as its owner, if any. */
function ownerOf(record: VmRecord): string | undefined {
  const owner = (record.other_config as Record<string, unknown> | undefined)?.[URN_KEY];
  return typeof owner === "string" ? owner : undefined;
}

/**
 * Refuses a VM another Pulumi resource owns, unless `takeOver`.
 * @throws ProviderError OWNED_ELSEWHERE
 */
function assertMayOwn(uuid: string, record: VmRecord, urn: string | undefined, takeOver: boolean): void {
  const owner = ownerOf(record);
  if (owner === undefined || urn === undefined || owner === urn || takeOver) return;
  throw new ProviderError(
    ProviderErrorCode.OWNED_ELSEWHERE,
    `VM ${uuid} is managed by another Pulumi resource: expected a VM no other resource owns, received one whose ` +
      `other_config["${URN_KEY}"] is ${JSON.stringify(owner)}. Remove it from that stack (pulumi state delete), ` +
      "or set takeOver: true on this resource to take it over.",
  );
}

/**
 * Refuses to update a VM whose owner tag names another resource: it was taken over (`takeOver` on that
 * resource) or copied under this resource's feet. `takeOver` on this (adopting) resource takes it back.
 * @throws ProviderError OWNED_ELSEWHERE
 */
function assertStillOwned(uuid: string, record: VmRecord, urn: string | undefined, takeOver: boolean): void {
  const owner = ownerOf(record);
  if (owner === undefined || urn === undefined || owner === urn || takeOver) return;
  throw new ProviderError(
    ProviderErrorCode.OWNED_ELSEWHERE,
    `VM ${uuid} is no longer this resource's: expected its other_config["${URN_KEY}"] to name ${JSON.stringify(urn)}, ` +
      `received ${JSON.stringify(owner)} (another stack took it over). Remove this resource without touching the VM ` +
      "(pulumi state delete <urn>), or take it back with takeOver: true on an adopting resource.",
  );
}

/** Writes this resource as the VM's owner (replacing another owner: `takeOver` was checked before). */
async function claim(
  conn: XapiConnection,
  ref: string,
  record: VmRecord,
  urn: string | undefined,
  calls: VmCallRecord[],
): Promise<void> {
  const owner = ownerOf(record);
  if (urn === undefined || owner === urn) return;
  const power = record.power_state;
  if (owner !== undefined) {
    await removeKey(conn, calls, ref, power, URN_KEY, `take the VM over from ${owner} (takeOver)`);
  }
  await addKey(conn, calls, ref, power, URN_KEY, urn, OWNER_REASON);
}

/** The recorded resource created its VM by cloning `template` (it did not adopt one). */
function createdFromTemplate(olds: Bag): boolean {
  return olds.adopted !== true && typeof olds.template === "string";
}

/**
 * Finishes a create that stopped between `VM.clone` and `VM.set_is_a_template(false)` (e.g. a failed
 * `VM.provision`): the VM is still a template, which XAPI refuses to start (`VM_IS_TEMPLATE`).
 * Provisions it while its `other_config.disks` still lists disks to create (provision consumes the key),
 * un-templates it, and returns the record read afterwards (the disks and flags changed).
 */
async function finishClone(
  conn: XapiConnection,
  ref: string,
  record: VmRecord,
  calls: VmCallRecord[],
  deadline: Deadline,
  value: VmInputs,
): Promise<VmRecord> {
  const reason = "finish the create: the VM is still the template clone an earlier create left";
  if (pendingDisks(record)) {
    deadline.check("VM.provision");
    await recorded(calls, { call: "VM.provision", from: "Halted", to: "Halted", reason }, () =>
      conn.callAsync("VM.provision", [ref], timeoutOpts(deadline, value)),
    );
  }
  await recorded(
    calls,
    { call: "VM.set_is_a_template", args: { value: false }, from: "Halted", to: "Halted", reason },
    () => conn.call("VM.set_is_a_template", ref, false),
  );
  return recordOf(conn, ref);
}

/** The template's `other_config.disks` (the disks `VM.provision` creates) is still there. */
function pendingDisks(record: VmRecord): boolean {
  const other = record.other_config;
  if (typeof other !== "object" || other === null) return false;
  const disks = (other as Record<string, unknown>).disks;
  return typeof disks === "string" && disks.trim() !== "";
}

/** `VM.set_name_label` / `VM.set_name_description` when the declared value differs. */
async function setNames(
  conn: XapiConnection,
  ref: string,
  record: VmRecord,
  value: VmInputs,
  calls: VmCallRecord[],
  which: { label?: boolean; description?: boolean } = {},
): Promise<void> {
  const power = record.power_state;
  // A VM still bearing its birth name gets the template's name when no name is declared (as a clone would).
  const label = value.nameLabel ?? (record.name_label.startsWith(BIRTH_PREFIX) ? value.template : undefined);
  if (which.label !== false && label !== undefined && label !== record.name_label) {
    const v = label;
    await recorded(
      calls,
      { call: "VM.set_name_label", args: { value: v }, from: power, to: power, reason: "the declared name" },
      () => conn.call("VM.set_name_label", ref, v),
    );
  }
  if (
    which.description !== false &&
    value.nameDescription !== undefined &&
    value.nameDescription !== stringField(record, "name_description")
  ) {
    const v = value.nameDescription;
    await recorded(
      calls,
      {
        call: "VM.set_name_description",
        args: { value: v },
        from: power,
        to: power,
        reason: "the declared description",
      },
      () => conn.call("VM.set_name_description", ref, v),
    );
  }
}

/** The VDIs behind the VM's disk VBDs (not CD drives), destroyed with a VM this provider created. */
async function provisionedDisks(
  conn: XapiConnection,
  record: VmRecord,
): Promise<{ vdi: string; userdevice: string }[]> {
  const vbds = Array.isArray(record.VBDs) ? (record.VBDs as string[]) : [];
  const disks: { vdi: string; userdevice: string }[] = [];
  for (const vbd of vbds) {
    const r = await conn.call<{ type?: string; VDI?: string; userdevice?: string }>("VBD.get_record", vbd);
    if (r.type === "Disk" && r.VDI !== undefined && r.VDI !== NULL_REF) {
      disks.push({ vdi: r.VDI, userdevice: String(r.userdevice ?? "") });
    }
  }
  return disks;
}

/** The VM's VBDs: one `VBD.get_record` per ref in the record's `VBDs`. */
async function readDisks(conn: XapiConnection, record: VmRecord): Promise<ObservedDisk[]> {
  const refs = Array.isArray(record.VBDs) ? (record.VBDs as string[]) : [];
  const disks: ObservedDisk[] = [];
  for (const ref of refs) {
    const vbd = await conn.call<{ userdevice: string; bootable: boolean }>("VBD.get_record", ref);
    disks.push({ userdevice: vbd.userdevice, bootable: vbd.bootable });
  }
  return disks;
}

/** Runs one provider-level call and records it in `lastCalls`. */
async function recorded<T>(
  calls: VmCallRecord[],
  entry: Omit<VmCallRecord, "durationMs">,
  run: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  const result = await run();
  calls.push({ ...entry, durationMs: Date.now() - started });
  return result;
}

/**
 * The error thrown once the VM exists: it carries the id and the observed outputs (with the calls
 * made so far), so the engine records the VM instead of losing it. When the run wrote boot fields to a
 * live VM and stopped before rebuilding its domain, the change is noted on the VM as pending (best
 * effort): a failed restart never loses a boot change.
 */
async function operationFailure(
  conn: XapiConnection,
  vm: { ref: string; uuid: string },
  value: VmInputs,
  extra: {
    adopted: boolean;
    pool: string;
    pending: readonly string[];
    calls: VmCallRecord[];
    bag: Bag;
    before: VmRecord | undefined;
  },
  error: unknown,
  operation: "create" | "update",
): Promise<VmOperationError> {
  const done = error instanceof ExecutionError ? error.done : [];
  const calls = [...extra.calls, ...done.map(callRecordOf)];
  let record: VmRecord | undefined;
  try {
    record = await recordOf(conn, vm.ref);
  } catch {
    record = undefined; // the properties then fall back to the declaration
  }
  let pending = [...extra.pending];
  if (record !== undefined && extra.before !== undefined) {
    pending = unbuiltBootChanges(done, extra.before, record, extra.pending);
    try {
      await recordPending(conn, vm.ref, record, pending, calls);
    } catch {
      // Best effort: the error below still tells what was written.
    }
  }
  // The engine records a failed create (the error carries the id): the VM gets its declared name now, as
  // a finished create would, rather than keeping its birth name until the next run (best effort).
  if (operation === "create" && record !== undefined && record.name_label.startsWith(BIRTH_PREFIX)) {
    try {
      await setNames(conn, vm.ref, record, value, calls, { description: false });
    } catch {
      // The next update renames it.
    }
  }
  const properties =
    record === undefined
      ? (stripUndefined({
          ...value,
          uuid: vm.uuid,
          adopted: extra.adopted,
          poolUuid: extra.pool,
          lastCalls: calls,
        }) as Bag)
      : outputsOf(value, record, { ...extra, pending, calls });
  const code =
    error instanceof ProviderError || error instanceof VmOperationError
      ? error.code
      : ProviderErrorCode.XAPI_FAILED;
  const what =
    operation === "update"
      ? "could not be brought to"
      : extra.adopted
        ? "was adopted but could not be brought to"
        : "was created but could not be brought to";
  const made = calls.length === 0 ? "no call made" : `calls made: ${calls.map((c) => c.call).join(", ")}`;
  // The executor's message starts with the VM too; say it once.
  const detail = errorText(error).replace(`VM ${vm.uuid}: `, "");
  // Name the VM the way its owner knows it (name_label) and the way Pulumi does (uuid = id).
  const label = value.nameLabel ?? record?.name_label;
  const named = label === undefined || label === "" ? `VM ${vm.uuid}` : `VM "${label}" (${vm.uuid})`;
  // A create stopped between the clone and the un-template: say that the VM is kept and finished next time.
  const unfinished =
    operation === "create" && !extra.adopted && record?.is_a_template === true
      ? " The VM is recorded in the stack (still a template); the next `pulumi up` finishes the create from where it stopped."
      : "";
  const message = `${named} ${what} its declared state (${made}): ${detail}${unfinished}`;
  return new VmOperationError(code, message, vm.uuid, properties, { cause: error });
}

/**
 * The boot changes a stopped run leaves pending: those still pending before it, plus the fields it wrote,
 * unless a later step rebuilt the domain or the VM is now Halted.
 */
function unbuiltBootChanges(
  done: readonly ExecutedStep[],
  before: VmRecord,
  now: VmRecord,
  stillPending: readonly string[],
): string[] {
  if (now.power_state === PowerState.Halted) return [];
  let lastRebuild = -1;
  done.forEach((step, i) => {
    const row = transitionsFrom(step.from).find((t) => t.call === step.call);
    if (row?.rebuildsDomain === true) lastRebuild = i;
  });
  const written = done.slice(lastRebuild + 1).filter((s) => s.kind === "set" && s.skipped === undefined);
  const paths = changedBootPaths(written, bootFieldsOf(before));
  return [...new Set([...(lastRebuild >= 0 ? [] : stillPending), ...paths])].sort();
}

//////////////////////////////
////   property bags      ////
//////////////////////////////

/**
 * The outputs: the declaration echoed, plus what was observed and done. The internal keys
 * (`customTimeouts`, the URN) are kept too: `delete` only receives the outputs.
 */
function outputsOf(
  value: VmInputs,
  record: VmRecord,
  extra: {
    adopted: boolean;
    pool: string;
    pending: readonly string[];
    calls: readonly VmCallRecord[];
    bag: Bag;
    /** The VM's disks as the executor left them (only when `bootableDisks` is declared). */
    disks?: readonly ObservedDisk[] | undefined;
  },
): Bag {
  return stripUndefined({
    ...value,
    [InternalKey.customTimeouts]: extra.bag[InternalKey.customTimeouts],
    [InternalKey.urn]: extra.bag[InternalKey.urn],
    uuid: record.uuid,
    adopted: extra.adopted,
    poolUuid: extra.pool,
    observedPowerState: record.power_state,
    effectiveBoot: withBootableDisks(effectiveBootOf(bootFieldsOf(record)), extra.disks),
    pendingBootChanges: [...extra.pending],
    observedDomid: domidOf(record),
    lastCalls: [...extra.calls],
  }) as Bag;
}

export function pickDeclared(bag: Bag): Bag {
  const out: Bag = {};
  for (const key of DECLARED_KEYS) if (bag[key] !== undefined) out[key] = bag[key];
  return out;
}

/** The `pv` / `hvm` block of a property bag (read leniently: bags may come from older states). */
export function bootDeclarationOf(bag: Bag): BootDeclaration {
  const isObject = (v: unknown): boolean => typeof v === "object" && v !== null;
  if (isObject(bag.pv)) return { pv: bag.pv as BootDeclaration["pv"] };
  if (isObject(bag.hvm)) return { hvm: bag.hvm as BootDeclaration["hvm"] };
  return {};
}

/** Validated, normalized inputs, or INVALID_INPUTS (check normally rejects them first). */
export function validated(bag: Bag): VmInputs {
  const validation = validateVmInputs(bag, { ignoreKeys: NOT_USER_INPUT });
  if (validation.ok && validation.unknowns.length === 0) return validation.value;
  const reasons = validation.ok
    ? [`unknown values in ${validation.unknowns.join(", ")}`]
    : validation.failures.map((f) => `${f.property}: ${f.reason}`);
  throw new ProviderError(ProviderErrorCode.INVALID_INPUTS, `Invalid Vm inputs: ${reasons.join("; ")}`);
}

function targetOf(
  value: VmInputs,
  flags: { forceRestart: boolean; liveDomainBootStale: boolean },
): ConvergeTarget {
  const boot = declaredBootWithDisks(value);
  return { powerState: value.powerState, ...(boot === undefined ? {} : { boot }), ...flags };
}

/**
 * The observed bootable userdevices, in the declared order when they are the same set: the order is
 * not meaningful, and echoing XAPI's order would make a refresh look like a change of the declaration.
 */
function inDeclaredOrder(observed: string[], declared: unknown): string[] {
  if (!Array.isArray(declared) || declared.length !== observed.length) return observed;
  // The declared spelling is kept too ("xvda" for a VBD whose userdevice is "0"): the same disk for XAPI.
  return declared.every((d) => typeof d === "string" && observed.some((o) => sameDisk(o, d)))
    ? (declared as string[])
    : observed;
}

/** `effectiveBoot` plus the observed `bootableDisks`, when the disks were read. */
function withBootableDisks(
  effective: EffectiveBoot,
  disks: readonly ObservedDisk[] | undefined,
): EffectiveBoot {
  return disks === undefined ? effective : { ...effective, bootableDisks: bootableOf(disks) };
}

export function policyOf(policy: Partial<Policy> | undefined): Policy {
  return { ...DEFAULT_POLICY, ...(policy ?? {}) };
}

function deadlineOf(bag: Bag, operation: keyof CustomTimeoutStrings): Deadline {
  const timeouts = (bag[InternalKey.customTimeouts] ?? {}) as CustomTimeoutStrings;
  const text = timeouts[operation];
  const ms = text === undefined ? undefined : parseGoDuration(text);
  return new Deadline(ms, `customTimeouts.${operation} (${text ?? "none"})`);
}

function perOperationMs(value: { timeouts?: VmInputs["timeouts"] }): number | undefined {
  const seconds = value.timeouts?.operationSeconds;
  return seconds === undefined ? undefined : seconds * 1000;
}

function timeoutOpts(deadline: Deadline, value: { timeouts?: VmInputs["timeouts"] }): { timeoutMs?: number } {
  const timeoutMs = deadline.taskTimeoutMs(perOperationMs(value));
  return timeoutMs === undefined ? {} : { timeoutMs };
}

function convergeOpts(deadline: Deadline, value: { timeouts?: VmInputs["timeouts"] }) {
  const operationTimeoutMs = deadline.taskTimeoutMs(perOperationMs(value));
  return operationTimeoutMs === undefined ? {} : { operationTimeoutMs };
}

/**
 * True when the executor sent a call (a setter not skipped, or a lifecycle call). Otherwise the record
 * read before it is still the VM's (only names were set since, and the outputs take names from the
 * declaration), so the outputs need no second `VM.get_record`.
 */
function madeCalls(steps: readonly ExecutedStep[]): boolean {
  return steps.some((s) => s.skipped === undefined);
}

function executedSetters(steps: readonly ExecutedStep[]): ExecutedStep[] {
  return steps.filter((s) => s.kind === "set" && s.skipped === undefined);
}

function callRecordOf(step: ExecutedStep): VmCallRecord {
  return stripUndefined({
    call: step.call,
    args: step.args,
    from: step.from,
    to: step.to,
    reason: step.reason,
    durationMs: step.durationMs,
    escalatedFrom: step.escalatedFrom,
    skipped: step.skipped,
  }) as VmCallRecord;
}

/** The transition flags of a recorded lifecycle call (`hard`, `destructive`), empty for other calls. */
export function flagsOf(call: VmCallRecord): { hard: boolean; destructive: boolean } {
  const from = call.from;
  const row =
    from === undefined
      ? undefined
      : transitionsFrom(from).find((t) => t.call === call.call && t.to === call.to);
  return {
    hard: row !== undefined && hasFlag(row, TransitionFlag.hard),
    destructive: row !== undefined && hasFlag(row, TransitionFlag.destructive),
  };
}

export function domidOf(record: VmRecord): number {
  const domid = Number(record.domid);
  return Number.isFinite(domid) ? domid : -1;
}

function stringField(record: VmRecord, key: string): string {
  const v = record[key];
  return typeof v === "string" ? v : "";
}

export function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** Removes `undefined` everywhere: protobuf's Struct cannot encode it. */
export function stripUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripUndefined);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, stripUndefined(v)]),
    );
  }
  return value;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
