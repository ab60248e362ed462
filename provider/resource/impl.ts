/**
 * The `Vm` provider's implementation, loaded inside the provider process by the thin serialized
 * provider object (`provider.ts`). Connection settings and XAPI sessions live here, in module state
 * of that process, never in the Pulumi state.
 *
 * Behaviour per method:
 * - `configure`: resolves the connection settings (stack config, then environment). Errors are kept
 *   and raised by the first method that needs XAPI, so previews work without credentials.
 * - `check`: validates (failures per property, unknowns tolerated), normalizes (defaults filled in),
 *   and in previews adds `plannedCalls` (see `preview.ts` for why this leaves no perpetual diff).
 * - `diff`: no XAPI call. Replace when the identity (`template`, or `uuid` for an adopted VM)
 *   changes (a created VM declared by its own uuid is adopted in place, not replaced: the replacement
 *   would destroy the VM it just adopted); update when a declared property changes, when the recorded power state or boot config
 *   differs from the declaration (drift seen by a refresh or left by a failed operation), or when a
 *   pending boot change may now be applied (policy back to `restart`).
 * - `create`: clone + provision + un-template (or adopt), set names, converge. Once a VM exists any
 *   failure is thrown as {@link VmOperationError} carrying its id, so the engine records it.
 * - `read`: the observed state as outputs AND as inputs (so refresh-then-preview is clean, and a
 *   drift shows up as a planned change back).
 * - `update`: re-reads the live VM and converges (the executor re-plans from what is really there);
 *   a VM still a template because its create stopped after the clone is provisioned and un-templated
 *   first (the engine updates a resource recorded with an init error even when nothing changed).
 * - `delete`: releases an adopted VM (unless `deleteAdopted`), otherwise converges to Halted under
 *   the declared policy (never a hard stop, a discarded suspend image or an un-pause the policy does
 *   not allow) and destroys it with the disks it was provisioned with.
 *
 * Calls (besides the executor's own, documented in `provider/executor.ts`; the executor is handed the
 * record read here, so it does not read it again; test/provider-grpc.test.ts "documented calls"):
 * - `create`: `VM.get_by_name_label`, one `VM.get_record` per VM of that name (to find the template),
 *   `Async.VM.clone`, `VM.get_uuid`, `Async.VM.provision`, `VM.set_is_a_template`, one `VM.get_record`
 *   (names and plan), the name setters that differ, the executor's steps, one `VM.get_record` (outputs;
 *   only when the executor sent a call, otherwise the record read before serves);
 *   adopting: `VM.get_by_uuid` instead of the template search, clone, provision and un-template;
 * - `read`: `VM.get_by_uuid`, `VM.get_record`, and one `VBD.get_record` per VBD when `bootableDisks` is
 *   declared;
 * - `update`: `VM.get_by_uuid`, `VM.get_record`, the name setters that differ, the executor's steps,
 *   `VM.get_record` (outputs; only when the executor sent a call); when the VM is still the template
 *   clone of a create that stopped before `VM.set_is_a_template` (a failed provision), first
 *   `Async.VM.provision` (only while `other_config.disks` is set: provision consumes it),
 *   `VM.set_is_a_template` and one more `VM.get_record`;
 * - `delete`: `VM.get_by_uuid`, `VM.get_record`, the executor's steps, one `VBD.get_record` per VBD
 *   (not for an adopted VM), `VM.destroy`, one `VDI.destroy` per disk VDI; nothing for a released VM;
 * - after a failed create or update: one more `VM.get_record`, for the recorded outputs.
 */
import type * as pulumi from "@pulumi/pulumi";
import {
  closeAllConnections,
  getConnection,
  isXapiError,
  type XapiConnection,
  XapiErrorCode,
} from "../client";
import {
  bootFieldsOf,
  type ConvergeTarget,
  converge,
  type ExecutedStep,
  ExecutionError,
  readVm,
  type VmRecord,
} from "../executor";
import { type VmInputs, validateVmInputs } from "../inputs";
import type { ObservedDisk, XapiBootFields } from "../model/boot";
import type { Policy } from "../model/plan";
import { DEFAULT_POLICY } from "../model/plan";
import { NULL_REF, PowerState } from "../model/vocabulary";
import {
  assumedBootFields,
  type BootDeclaration,
  bootableOf,
  changedBootPaths,
  declaredBootFields,
  declaredBootWithDisks,
  effectiveBootOf,
  matches,
  observedDeclaration,
} from "./boot";
import { type ConnectionSettings, readConnectionSettings, scrubSecrets } from "./config";
import { ProviderError, ProviderErrorCode, VmOperationError } from "./errors";
import { plannedCalls } from "./preview";
import { Deadline, parseGoDuration } from "./timeouts";
import {
  type CustomTimeoutStrings,
  type EffectiveBoot,
  InternalKey,
  PLANNED_CALLS_KEY,
  type VmCallRecord,
} from "./types";

/** A property bag as the dynamic-provider host passes it (plain JSON). */
type Bag = Record<string, unknown>;

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
] as const;

/** Properties only the provider writes. */
export const OUTPUT_KEYS = [
  "adopted",
  "observedPowerState",
  "effectiveBoot",
  "pendingBootChanges",
  "observedDomid",
  "lastCalls",
] as const;

/** Keys `check` never validates as user input. */
const NOT_USER_INPUT = [...OUTPUT_KEYS, PLANNED_CALLS_KEY];

/** The connection settings of this provider process (`configure`), or why there are none. */
let settings: ConnectionSettings | ProviderError | undefined;

//////////////////////////////
////   methods            ////
//////////////////////////////

/** Reads `xapi:*` stack config with `XAPI_*` environment fallbacks; never fails (see module doc). */
export async function configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
  settings = readConnectionSettings((key) => req.config.get(key), process.env);
}

/** Validates and normalizes the inputs; in previews adds `plannedCalls`. Makes no XAPI call. */
export async function check(olds: Bag, news: Bag): Promise<pulumi.dynamic.CheckResult> {
  return guard(async () => {
    const validation = validateVmInputs(news, { ignoreKeys: NOT_USER_INPUT });
    if (!validation.ok) {
      return {
        inputs: news,
        failures: validation.failures.map((f) => ({ property: f.property, reason: f.reason })),
      };
    }
    // Known properties normalized (defaults filled in); still-unknown ones passed through as sent.
    const unknownTop = new Set(validation.unknowns.map((u) => u.split(".")[0] ?? u));
    const inputs: Bag = { ...(stripUndefined(validation.value) as Bag) };
    for (const key of unknownTop) inputs[key] = news[key];
    for (const key of Object.values(InternalKey)) if (news[key] !== undefined) inputs[key] = news[key];

    if (news[InternalKey.preview] === true) {
      const lines = plannedCalls(olds, validation.value, validation.unknowns);
      if (lines.length > 0) inputs[PLANNED_CALLS_KEY] = lines;
    }
    return { inputs };
  });
}

/** Decides update vs replace from the recorded outputs and the new inputs. Makes no XAPI call. */
export async function diff(_id: string, olds: Bag, news: Bag): Promise<pulumi.dynamic.DiffResult> {
  return guard(async () => {
    const replaces = identityReplaces(olds, news);
    const changed = DECLARED_KEYS.filter((k) => k !== "template" && k !== "uuid").filter(
      (k) => !sameValue(olds[k], news[k]),
    );
    const drift = recordedDrift(olds, news);
    // A created VM now declared by its own uuid: the resource adopts it (see identityReplaces).
    const adoption = (news.uuid !== undefined) !== (olds.adopted === true);
    return {
      changes: replaces.length > 0 || changed.length > 0 || drift || adoption,
      replaces,
      deleteBeforeReplace: false,
    };
  });
}

/** Clones and provisions a VM from its template (or adopts one), then converges it. */
export async function create(inputs: Bag): Promise<pulumi.dynamic.CreateResult> {
  return guard(async () => {
    const value = validated(inputs);
    const deadline = deadlineOf(inputs, "create");
    const conn = connect();
    const calls: VmCallRecord[] = [];
    const adopted = value.uuid !== undefined;
    const vm = adopted
      ? await findVm(conn, value.uuid ?? "")
      : await cloneTemplate(conn, value, calls, deadline);

    try {
      if (!adopted) {
        deadline.check("VM.provision");
        await recorded(calls, { call: "VM.provision", from: "Halted", to: "Halted" }, () =>
          conn.callAsync("VM.provision", [vm.ref], timeoutOpts(deadline, value)),
        );
        await recorded(
          calls,
          { call: "VM.set_is_a_template", args: { value: false }, from: "Halted", to: "Halted" },
          () => conn.call("VM.set_is_a_template", vm.ref, false),
        );
      }
      const before = await recordOf(conn, vm.ref);
      await setNames(conn, vm.ref, before, value, calls);
      deadline.check("converging the power state");
      const result = await converge(
        conn,
        vm,
        targetOf(value, { forceRestart: false, liveDomainBootStale: false }),
        policyOf(value.policy),
        // The record just read: the executor plans from it instead of reading it again.
        { ...convergeOpts(deadline, value), record: before },
      );
      calls.push(...result.steps.map(callRecordOf));
      const pending = result.bootChangePending
        ? changedBootPaths(executedSetters(result.steps), bootFieldsOf(before))
        : [];
      const after = madeCalls(result.steps) ? await recordOf(conn, vm.ref) : before;
      const disks = result.observedDisks;
      return { id: vm.uuid, outs: outputsOf(value, after, { adopted, pending, calls, bag: inputs, disks }) };
    } catch (error) {
      throw await operationFailure(
        conn,
        vm,
        value,
        { adopted, pending: [], calls, bag: inputs },
        error,
        "create",
      );
    }
  });
}

/** Reads the VM back: observed state as outputs and as inputs. A VM that is gone yields no id. */
export async function read(id: string, props: Bag): Promise<pulumi.dynamic.ReadResult> {
  return guard(async () => {
    const conn = connect();
    let found: Awaited<ReturnType<typeof readVm>>;
    try {
      found = await readVm(conn, id);
    } catch (error) {
      if (isXapiError(error, XapiErrorCode.UUID_INVALID)) return {};
      throw error;
    }
    const { record } = found;
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
    if (disks !== undefined)
      observedDecl.bootableDisks = inDeclaredOrder(bootableOf(disks), old.bootableDisks);

    const domid = domidOf(record);
    const oldPending = stringArray(props.pendingBootChanges);
    const stillPending =
      record.power_state !== PowerState.Halted && domid === props.observedDomid ? oldPending : [];
    const adopted = props.adopted === true;
    const outs = stripUndefined({
      ...observedDecl,
      uuid: record.uuid,
      adopted,
      observedPowerState: record.power_state,
      effectiveBoot: withBootableDisks(effectiveBootOf(fields), disks),
      pendingBootChanges: stillPending,
      observedDomid: domid,
      lastCalls: Array.isArray(props.lastCalls) ? props.lastCalls : [],
      [InternalKey.customTimeouts]: props[InternalKey.customTimeouts],
    }) as Bag;
    const inputs = pickDeclared(outs);
    if (!adopted) delete inputs.uuid;
    return { id: record.uuid, props: outs, inputs };
  });
}

/** Re-reads the live VM, applies name changes and converges it to the new declaration. */
export async function update(id: string, olds: Bag, news: Bag): Promise<pulumi.dynamic.UpdateResult> {
  return guard(async () => {
    const value = validated(news);
    const deadline = deadlineOf(news, "update");
    const conn = connect();
    // Declared by uuid (the same VM, or diff would have replaced it): adopted, released on delete.
    const adopted = value.uuid !== undefined;
    const vm = await findVm(conn, id);
    const calls: VmCallRecord[] = [];
    const oldPending = stringArray(olds.pendingBootChanges);
    try {
      let record = await recordOf(conn, vm.ref);
      // A create that stopped after the clone left a template behind: finish it before converging.
      if (createdFromTemplate(olds) && record.is_a_template === true) {
        record = await finishClone(conn, vm.ref, record, calls, deadline, value);
      }
      await setNames(conn, vm.ref, record, value, calls);
      const live = record.power_state !== PowerState.Halted;
      const stale = oldPending.length > 0 && live && domidOf(record) === olds.observedDomid;
      deadline.check("converging the power state");
      const result = await converge(
        conn,
        vm,
        targetOf(value, {
          forceRestart: value.restartTrigger !== undefined && value.restartTrigger !== olds.restartTrigger,
          liveDomainBootStale: stale,
        }),
        policyOf(value.policy),
        { ...convergeOpts(deadline, value), record },
      );
      calls.push(...result.steps.map(callRecordOf));
      const pending = result.bootChangePending
        ? [
            ...new Set([
              ...(stale ? oldPending : []),
              ...changedBootPaths(executedSetters(result.steps), bootFieldsOf(record)),
            ]),
          ].sort()
        : [];
      const after = madeCalls(result.steps) ? await recordOf(conn, vm.ref) : record;
      const disks = result.observedDisks;
      return { outs: outputsOf(value, after, { adopted, pending, calls, bag: news, disks }) };
    } catch (error) {
      throw await operationFailure(
        conn,
        vm,
        value,
        { adopted, pending: oldPending, calls, bag: news },
        error,
        "update",
      );
    }
  });
}

/** Releases an adopted VM, or shuts it down per policy and destroys it. */
export async function delete_(id: string, props: Bag): Promise<void> {
  return guard(async () => {
    const adopted = props.adopted === true;
    if (adopted && props.deleteAdopted !== true) return; // released: the VM is not ours to destroy
    const conn = connect();
    let vm: { ref: string; uuid: string };
    try {
      vm = await findVm(conn, id);
    } catch (error) {
      if (error instanceof ProviderError && error.code === ProviderErrorCode.VM_NOT_FOUND) return; // already gone
      throw error;
    }
    const deadline = deadlineOf(props, "delete");
    const timeouts = props.timeouts as VmInputs["timeouts"];
    const policy = policyOf(props.policy as Partial<Policy> | undefined);
    deadline.check("shutting the VM down");
    // One read serves the plan and the disk list (lifecycle calls do not change a VM's VBDs).
    const record = await recordOf(conn, vm.ref);
    await converge(conn, vm, { powerState: PowerState.Halted }, policy, {
      ...convergeOpts(deadline, { timeouts }),
      record,
    });
    deadline.check("VM.destroy");
    const disks = adopted ? [] : await provisionedDisks(conn, record);
    await conn.call("VM.destroy", vm.ref);
    for (const vdi of disks) await conn.call("VDI.destroy", vdi);
  });
}
export { delete_ as delete };

//////////////////////////////
////   XAPI helpers       ////
//////////////////////////////

/** The shared connection of this process for the configured pool. */
function connect(): XapiConnection {
  const s = settings ?? readConnectionSettings(() => undefined, process.env);
  if (s instanceof ProviderError) throw s;
  installShutdownHook();
  return getConnection({
    url: s.url,
    username: s.username,
    password: s.password,
    ...(s.caCert === undefined ? {} : { caCert: s.caCert }),
    ...(s.fingerprint === undefined ? {} : { fingerprint: s.fingerprint }),
    ...(s.insecure === undefined ? {} : { insecure: s.insecure }),
  });
}

/** How long the provider process waits for its sessions to log out when the engine stops it. */
const LOGOUT_GRACE_MS = 3000;
let shutdownHookInstalled = false;

/**
 * The engine stops a provider with SIGINT (then SIGKILL after 5 s), and the gRPC server keeps Node's
 * event loop busy, so `beforeExit` never fires: log the shared sessions out on the signal instead,
 * so no session is left open on the pool after a `pulumi` command.
 */
function installShutdownHook(): void {
  if (shutdownHookInstalled) return;
  shutdownHookInstalled = true;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      setTimeout(() => process.exit(0), LOGOUT_GRACE_MS).unref();
      void closeAllConnections().finally(() => process.exit(0));
    });
  }
}

async function findVm(conn: XapiConnection, uuid: string): Promise<{ ref: string; uuid: string }> {
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

/** Finds the template by name_label and clones it; the clone is a template until provisioned. */
async function cloneTemplate(
  conn: XapiConnection,
  value: VmInputs,
  calls: VmCallRecord[],
  deadline: Deadline,
): Promise<{ ref: string; uuid: string }> {
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
  const newName = value.nameLabel ?? name;
  const ref = await recorded(
    calls,
    { call: "VM.clone", args: { template: name, new_name: newName }, to: "Halted" },
    () => conn.callAsync<string>("VM.clone", [template.ref, newName], timeoutOpts(deadline, value)),
  );
  try {
    return { ref, uuid: await conn.call<string>("VM.get_uuid", ref) };
  } catch (error) {
    // Without its uuid the VM cannot be recorded: undo the clone to stay transactional.
    await conn.call("VM.destroy", ref).catch(() => undefined);
    throw error;
  }
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
): Promise<void> {
  if (value.nameLabel !== undefined && value.nameLabel !== record.name_label) {
    const v = value.nameLabel;
    await recorded(calls, { call: "VM.set_name_label", args: { value: v } }, () =>
      conn.call("VM.set_name_label", ref, v),
    );
  }
  if (
    value.nameDescription !== undefined &&
    value.nameDescription !== stringField(record, "name_description")
  ) {
    const v = value.nameDescription;
    await recorded(calls, { call: "VM.set_name_description", args: { value: v } }, () =>
      conn.call("VM.set_name_description", ref, v),
    );
  }
}

/** The VDIs behind the VM's disk VBDs (not CD drives), destroyed with a VM this provider created. */
async function provisionedDisks(conn: XapiConnection, record: VmRecord): Promise<string[]> {
  const vbds = Array.isArray(record.VBDs) ? (record.VBDs as string[]) : [];
  const disks: string[] = [];
  for (const vbd of vbds) {
    const r = await conn.call<{ type?: string; VDI?: string }>("VBD.get_record", vbd);
    if (r.type === "Disk" && r.VDI !== undefined && r.VDI !== NULL_REF) disks.push(r.VDI);
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
 * made so far), so the engine records the VM instead of losing it.
 */
async function operationFailure(
  conn: XapiConnection,
  vm: { ref: string; uuid: string },
  value: VmInputs,
  extra: { adopted: boolean; pending: readonly string[]; calls: VmCallRecord[]; bag: Bag },
  error: unknown,
  operation: "create" | "update",
): Promise<VmOperationError> {
  const calls = [...extra.calls, ...(error instanceof ExecutionError ? error.done.map(callRecordOf) : [])];
  let record: VmRecord | undefined;
  try {
    record = await recordOf(conn, vm.ref);
  } catch {
    record = undefined; // the properties then fall back to the declaration
  }
  const properties =
    record === undefined
      ? (stripUndefined({ ...value, uuid: vm.uuid, adopted: extra.adopted, lastCalls: calls }) as Bag)
      : outputsOf(value, record, { ...extra, calls });
  const code =
    error instanceof ProviderError || error instanceof VmOperationError
      ? error.code
      : ProviderErrorCode.XAPI_FAILED;
  const what = operation === "create" ? "was created but could not be brought to" : "could not be brought to";
  const made = calls.length === 0 ? "no call made" : `calls made: ${calls.map((c) => c.call).join(", ")}`;
  // The executor's message starts with the VM too; say it once.
  const detail = errorText(error).replace(`VM ${vm.uuid}: `, "");
  // Name the VM the way its owner knows it (name_label) and the way Pulumi does (uuid = id).
  const label = record?.name_label ?? value.nameLabel;
  const named = label === undefined || label === "" ? `VM ${vm.uuid}` : `VM "${label}" (${vm.uuid})`;
  const message = `${named} ${what} its declared state (${made}): ${detail}`;
  return new VmOperationError(code, message, vm.uuid, properties, { cause: error });
}

//////////////////////////////
////   property bags      ////
//////////////////////////////

/**
 * The outputs: the declaration echoed, plus what was observed and done. The internal
 * `customTimeouts` key is kept too: `delete` only receives the outputs.
 */
function outputsOf(
  value: VmInputs,
  record: VmRecord,
  extra: {
    adopted: boolean;
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
    uuid: record.uuid,
    adopted: extra.adopted,
    observedPowerState: record.power_state,
    effectiveBoot: withBootableDisks(effectiveBootOf(bootFieldsOf(record)), extra.disks),
    pendingBootChanges: [...extra.pending],
    observedDomid: domidOf(record),
    lastCalls: [...extra.calls],
  }) as Bag;
}

/**
 * Replacement keys: the identity changed (or is unknown in a preview). A VM this resource created and
 * now declares by its own uuid is the same VM: an update that adopts it, never a replacement (which
 * would adopt it, then delete the old resource, destroying the VM just adopted).
 */
function identityReplaces(olds: Bag, news: Bag): string[] {
  const wasAdopted = olds.adopted === true;
  if (news.uuid !== undefined) return news.uuid !== olds.uuid ? ["uuid"] : [];
  if (news.template !== undefined) return wasAdopted || news.template !== olds.template ? ["template"] : [];
  return [];
}

/** The recorded observation differs from the new declaration (refresh drift, failed operation). */
function recordedDrift(olds: Bag, news: Bag): boolean {
  if (typeof news.powerState === "string" && typeof olds.observedPowerState === "string") {
    if (news.powerState !== olds.observedPowerState) return true;
  }
  const decl = bootDeclarationOf(news);
  const declared = declaredBootFields(decl);
  const effective = olds.effectiveBoot as EffectiveBoot | undefined;
  if (declared !== undefined && !containsUnknown(declared) && effective !== undefined) {
    if (!matches(declared, fieldsOfEffective(effective))) return true;
  }
  const declaredDisks = news.bootableDisks;
  const observedDisks = effective?.bootableDisks;
  if (Array.isArray(declaredDisks) && !containsUnknown(declaredDisks) && Array.isArray(observedDisks)) {
    const sorted = (a: readonly unknown[]) => JSON.stringify([...a].map(String).sort());
    if (sorted(declaredDisks) !== sorted(observedDisks)) return true;
  }
  // A pending next-boot change becomes due when the policy now says restart.
  const policy = news.policy as Partial<Policy> | undefined;
  const pending = stringArray(olds.pendingBootChanges);
  return pending.length > 0 && (policy?.bootChanges ?? DEFAULT_POLICY.bootChanges) === "restart";
}

function fieldsOfEffective(effective: EffectiveBoot): XapiBootFields {
  const fields = assumedBootFields(
    effective.pv !== undefined ? { pv: effective.pv } : { hvm: effective.hvm },
  );
  return { ...fields, domain_type: effective.domainType as XapiBootFields["domain_type"] };
}

function pickDeclared(bag: Bag): Bag {
  const out: Bag = {};
  for (const key of DECLARED_KEYS) if (bag[key] !== undefined) out[key] = bag[key];
  return out;
}

/** The `pv` / `hvm` block of a property bag (read leniently: bags may come from older states). */
function bootDeclarationOf(bag: Bag): BootDeclaration {
  const isObject = (v: unknown): boolean => typeof v === "object" && v !== null;
  if (isObject(bag.pv)) return { pv: bag.pv as BootDeclaration["pv"] };
  if (isObject(bag.hvm)) return { hvm: bag.hvm as BootDeclaration["hvm"] };
  return {};
}

/** Validated, normalized inputs, or INVALID_INPUTS (check normally rejects them first). */
function validated(bag: Bag): VmInputs {
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

/**
 * The observed bootable userdevices, in the declared order when they are the same set: the order is
 * not meaningful, and echoing XAPI's order would make a refresh look like a change of the declaration.
 */
function inDeclaredOrder(observed: string[], declared: unknown): string[] {
  if (!Array.isArray(declared) || declared.length !== observed.length) return observed;
  return declared.every((d) => typeof d === "string" && observed.includes(d))
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

function policyOf(policy: Partial<Policy> | undefined): Policy {
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

function domidOf(record: VmRecord): number {
  const domid = Number(record.domid);
  return Number.isFinite(domid) ? domid : -1;
}

function stringField(record: VmRecord, key: string): string {
  const v = record[key];
  return typeof v === "string" ? v : "";
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** Deep equality of JSON values; a value holding Pulumi's unknown sentinel never equals anything. */
function sameValue(a: unknown, b: unknown): boolean {
  if (containsUnknown(a) || containsUnknown(b)) return false;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (typeof value === "object" && value !== null) return Object.values(value).some(containsUnknown);
  return false;
}

/** Removes `undefined` everywhere: protobuf's Struct cannot encode it. */
function stripUndefined(value: unknown): unknown {
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

//////////////////////////////
////   errors             ////
//////////////////////////////

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs a provider method; on failure, scrubs the password out of the error's message, stack and
 * reasons before the host prints or returns them.
 */
async function guard<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const password =
      settings instanceof ProviderError || settings === undefined ? undefined : settings.password;
    const secrets = [password, process.env.XAPI_PASSWORD];
    if (error instanceof Error) {
      error.message = scrubSecrets(error.message, secrets);
      if (error.stack !== undefined) error.stack = scrubSecrets(error.stack, secrets);
      if (error instanceof VmOperationError) {
        error.reasons.splice(0, error.reasons.length, ...error.reasons.map((r) => scrubSecrets(r, secrets)));
      }
    }
    throw error;
  }
}
