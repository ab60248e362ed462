/**
 * The `Vm` provider's implementation, loaded inside the provider process by the thin serialized
 * provider object (`provider.ts`). Connection settings and XAPI sessions live here, in module state
 * of that process, never in the Pulumi state. The operations themselves are in `operations.ts`; this
 * module adapts them to the dynamic-provider methods.
 *
 * Behaviour per method:
 * - `configure`: resolves the connection settings (stack config, then environment). Errors are kept
 *   and raised by the first method that needs XAPI, so previews work without credentials.
 * - `check`: validates (failures per property, unknowns tolerated), normalizes (defaults filled in),
 *   and in previews adds the plan (`plannedCalls`, and `__xapiPlan` as data): planned from the pool's
 *   live records by running the operation itself through a dry-run connection when the pool can be
 *   read, otherwise from the recorded inputs, saying so (`preview.ts`).
 * - `diff`: replace when the identity (`template`, or `uuid` for an adopted VM) changes (a created VM
 *   declared by its own uuid is adopted in place, not replaced: the replacement would destroy the VM it
 *   just adopted); update when a declared property changes, or when the update would make a call from
 *   the VM's live state (drift, a pending boot change now due); with the pool unreadable, when the
 *   recorded observation differs from the declaration. Reads only, through the shared pool snapshot; in a
 *   preview, the plan `check` has just made from the pool answers (`__xapi.planned`), without a second dry run.
 * - `create`, `read`, `update`, `delete`: `operations.ts`. Once a VM exists any failure is thrown as
 *   {@link VmOperationError} carrying its id, so the engine records it.
 */
import type * as pulumi from "@pulumi/pulumi";
import { closeAllConnections, getConnection, type XapiConnection } from "../client";
import { UNKNOWN_SENTINEL, validateVmInputs } from "../inputs";
import type { XapiBootFields } from "../model/boot";
import { diskNumberOf } from "../model/device-number";
import type { Policy } from "../model/plan";
import { DEFAULT_POLICY } from "../model/plan";
import { PowerState } from "../model/vocabulary";
import { assumedBootFields, declaredBootFields, matches } from "./boot";
import {
  type ConnectionSettings,
  explainLoginFailure,
  explainTlsFailure,
  readConnectionSettings,
  scrubSecrets,
} from "./config";
import { ProviderError, VmOperationError } from "./errors";
import {
  type Bag,
  bootDeclarationOf,
  createVm,
  DECLARED_KEYS,
  deleteVm,
  NOT_USER_INPUT,
  readVmState,
  stringArray,
  stripUndefined,
  updateVm,
} from "./operations";
import { liveDiff, markRecordedVm, previewPlan, replacementOlds } from "./preview";
import { markStale } from "./snapshot";
import { pack, unpack } from "./stored";
import { type EffectiveBoot, InternalKey, PLANNED_CALLS_KEY } from "./types";

export { DECLARED_KEYS, OUTPUT_KEYS } from "./operations";

/** `powerState` when none is declared. */
const DEFAULT_POWER_STATE = PowerState.Running;

/** The connection settings of this provider process (`configure`), or why there are none. */
let settings: ConnectionSettings | ProviderError | undefined;

//////////////////////////////
////   methods            ////
//////////////////////////////

/** Reads `xapi:*` stack config with `XAPI_*` environment fallbacks; never fails (see module doc). */
export async function configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
  settings = readConnectionSettings((key) => req.config.get(key), process.env);
}

/** Validates and normalizes the inputs; in previews adds the plan. */
export async function check(storedOlds: Bag, storedNews: Bag): Promise<pulumi.dynamic.CheckResult> {
  return guard(async () => {
    const olds = unpack(storedOlds);
    const news = withDefaultName(unpack(storedNews));
    const validation = validateVmInputs(news, { ignoreKeys: NOT_USER_INPUT });
    if (!validation.ok) {
      return {
        inputs: storedNews,
        failures: validation.failures.map((f) => ({ property: f.property, reason: f.reason })),
      };
    }
    // Known properties normalized (defaults filled in); still-unknown ones passed through as sent.
    const unknownTop = new Set(validation.unknowns.map((u) => u.split(".")[0] ?? u));
    // Only what is declared is stored (defaults are applied again wherever the inputs are read).
    const inputs: Bag = Object.fromEntries(
      Object.entries(stripUndefined(validation.value) as Bag).filter(([key]) => news[key] !== undefined),
    );
    for (const key of unknownTop) inputs[key] = news[key];
    for (const key of [InternalKey.preview, InternalKey.customTimeouts, InternalKey.urn]) {
      if (news[key] !== undefined) inputs[key] = news[key];
    }
    // The VM's uuid learnt by a refresh stays with the resource while its identity does not change.
    if (
      olds[InternalKey.vm] !== undefined &&
      olds.template === inputs.template &&
      olds.uuid === inputs.uuid
    ) {
      inputs[InternalKey.vm] = olds[InternalKey.vm];
    }

    // On a replacement the engine checks again without the previous inputs: take them from the first check.
    const previous = replacementOlds(olds, inputs, validation.value);
    if (validation.unknowns.length === 0)
      await markRecordedVm(connectOrWhyNot, previous, inputs, validation.value);
    if (news[InternalKey.preview] === true) {
      const outcome = await previewPlan(
        connectOrWhyNot,
        previous,
        inputs,
        validation.value,
        validation.unknowns,
      );
      if (outcome.failures !== undefined) return { inputs: storedNews, failures: [...outcome.failures] };
      if (outcome.data.source === "pool") inputs[InternalKey.planned] = outcome.lines.length;
      if (outcome.lines.length > 0) {
        inputs[PLANNED_CALLS_KEY] = outcome.lines;
        inputs[InternalKey.plan] = stripUndefined(outcome.data);
      }
    }
    return { inputs: pack(inputs) };
  });
}

/** Decides update vs replace from the recorded outputs, the new inputs and the VM's live state. */
export async function diff(id: string, storedOlds: Bag, storedNews: Bag): Promise<pulumi.dynamic.DiffResult> {
  return guard(async () => {
    const olds = unpack(storedOlds, id);
    const news = unpack(storedNews);
    const replaces = identityReplaces(olds, news);
    const [before, after] = [withDefaults(olds), withDefaults(news)];
    const changed = DECLARED_KEYS.filter((k) => k !== "template" && k !== "uuid").filter(
      (k) => !sameValue(before[k], after[k]),
    );
    // A created VM now declared by its own uuid: the resource adopts it (see identityReplaces).
    const adoption = (news.uuid !== undefined) !== (olds.adopted === true);
    const declaredChange = replaces.length > 0 || changed.length > 0 || adoption;
    // In a preview, check has just planned this update from the pool: its plan answers.
    const planned = news[InternalKey.planned];
    const drift = declaredChange
      ? false
      : typeof planned === "number"
        ? planned > 0
        : await liveDiff(connectOrWhyNot, id, olds, news, () => recordedDrift(olds, after));
    return { changes: declaredChange || drift, replaces, deleteBeforeReplace: false };
  });
}

/** Clones and provisions a VM from its template (or adopts one), then converges it. */
export async function create(stored: Bag): Promise<pulumi.dynamic.CreateResult> {
  return guard(async () => {
    const inputs = unpack(stored);
    const conn = connect();
    try {
      const created = await createVm(conn, inputs);
      markStale(conn, created.id, inputs[InternalKey.urn]);
      return { id: created.id, outs: pack(created.outs) };
    } catch (error) {
      if (error instanceof VmOperationError) markStale(conn, error.id, inputs[InternalKey.urn]);
      throw error;
    }
  });
}

/** Reads the VM back: observed state as outputs and as inputs. A VM that is gone yields no id. */
export async function read(id: string, props: Bag): Promise<pulumi.dynamic.ReadResult> {
  return guard(async () => {
    const conn = connect();
    markStale(conn, id);
    const state = await readVmState(conn, id, unpack(props, id));
    if (state === undefined) return {};
    return { id: state.id, props: pack(state.props), inputs: pack(state.inputs) };
  });
}

/** Re-reads the live VM, applies name changes and converges it to the new declaration. */
export async function update(id: string, olds: Bag, stored: Bag): Promise<pulumi.dynamic.UpdateResult> {
  return guard(async () => {
    const news = unpack(stored);
    const conn = connect();
    markStale(conn, id, news[InternalKey.urn]);
    return { outs: pack(await updateVm(conn, id, unpack(olds, id), news)) };
  });
}

/** Releases an adopted VM, or shuts it down per policy and destroys it. */
export async function delete_(id: string, stored: Bag): Promise<void> {
  return guard(async () => {
    const props = unpack(stored, id);
    const conn = connect();
    markStale(conn, id, props[InternalKey.urn]);
    await deleteVm(conn, id, props);
  });
}
export { delete_ as delete };

//////////////////////////////
////   connection         ////
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
    ...(s.maxConcurrentOperations === undefined
      ? {}
      : { maxConcurrentOperations: s.maxConcurrentOperations }),
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

/** The connection, or the reason there is none (for a preview, which then plans from the inputs). */
function connectOrWhyNot(): XapiConnection | ProviderError {
  try {
    return connect();
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
}

/**
 * A VM created from a template is named after its resource unless `nameLabel` says otherwise; the
 * resource name is the last segment of the URN the program sent.
 */
function withDefaultName(news: Bag): Bag {
  const urn = news[InternalKey.urn];
  if (news.nameLabel !== undefined || news.template === undefined || typeof urn !== "string") return news;
  return { ...news, nameLabel: urn.slice(urn.lastIndexOf("::") + 2) };
}

//////////////////////////////
////   diff rules         ////
//////////////////////////////

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

/** The declared properties that have a default, with it applied (a stored bag holds only what was declared). */
function withDefaults(bag: Bag): Bag {
  const policy = bag.policy;
  return {
    ...bag,
    powerState: bag.powerState ?? DEFAULT_POWER_STATE,
    policy:
      policy === undefined
        ? { ...DEFAULT_POLICY }
        : typeof policy === "object" && policy !== null
          ? { ...DEFAULT_POLICY, ...(stripUndefined(policy) as object) }
          : policy,
  };
}

/** The recorded observation differs from the new declaration (the pool unreadable: refresh drift, failed operation). */
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
    const sorted = (a: readonly unknown[]) =>
      JSON.stringify([...a].map((d) => diskNumberOf(String(d)) ?? String(d)).sort());
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

function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN_SENTINEL) return true;
  if (typeof value === "object" && value !== null) return Object.values(value).some(containsUnknown);
  return false;
}

//////////////////////////////
////   errors             ////
//////////////////////////////

/**
 * Runs a provider method; on failure, explains connection failures (a refused login, an untrusted
 * certificate), scrubs the password out of the error's message and reasons, and drops the stack trace
 * before the host prints or returns them.
 */
async function guard<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (thrown) {
    const s = settings instanceof ProviderError || settings === undefined ? undefined : settings;
    const error = s === undefined ? thrown : await explainTlsFailure(explainLoginFailure(thrown, s), s.url);
    const password =
      settings instanceof ProviderError || settings === undefined ? undefined : settings.password;
    const secrets = [password, process.env.XAPI_PASSWORD];
    if (error instanceof Error) {
      error.message = scrubSecrets(error.message, secrets);
      // One clean line per failure: the engine's host prints a read failure as `${error}: ${error.stack}`,
      // and a stack trace would point into sources the package does not ship.
      error.stack = "pulumi-xapi";
      if (error instanceof VmOperationError) {
        // The host records these as the resource's outputs: in the stored form.
        const packed = pack(error.properties);
        for (const key of Object.keys(error.properties)) delete error.properties[key];
        Object.assign(error.properties, packed);
        error.reasons.splice(0, error.reasons.length, ...error.reasons.map((r) => scrubSecrets(r, secrets)));
      }
    }
    throw error;
  }
}
