/**
 * The `Vm` provider's implementation: the dynamic-provider methods, loaded inside the provider process by
 * the thin serialized provider object (`provider.ts`; its path is in every user's state, so this module
 * stays here and keeps these exports). Each method unpacks the stored form (`stored.ts`), runs the
 * operation over the process's connection (`connection.ts`), and packs what it returns; `guard.ts` shapes
 * its failures.
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
 *   recorded observation differs from the declaration (`diff-rules.ts`). Reads only, through the shared
 *   pool snapshot; in a preview, the plan `check` has just made from the pool answers (`__xapi.planned`),
 *   without a second dry run (`live-diff.ts`).
 * - `create`, `read`, `update`, `delete`: `create.ts`, `read.ts`, `update.ts`, `delete.ts`. Once a VM
 *   exists any failure is thrown as {@link VmOperationError} carrying its id, so the engine records it.
 */
import type * as pulumi from "@pulumi/pulumi";
import { validateVmInputs } from "../inputs";
import { readConnectionSettings } from "./config";
import { connect, connectOrWhyNot, useSettings } from "./connection";
import { createVm } from "./create";
import { deleteVm } from "./delete";
import {
  adoptionChanges,
  changedProperties,
  identityReplaces,
  recordedDrift,
  withDefaults,
} from "./diff-rules";
import { VmOperationError } from "./errors";
import { guard } from "./guard";
import { liveDiff } from "./live-diff";
import { previewPlan } from "./preview";
import { type Bag, NOT_USER_INPUT, stripUndefined, withDefaultName } from "./property-bag";
import { readVmState } from "./read";
import { markRecordedVm, replacementOlds } from "./recorded-vm";
import { markStale } from "./snapshot";
import { pack, unpack } from "./stored";
import { InternalKey, PLANNED_CALLS_KEY } from "./types";
import { updateVm } from "./update";

export { DECLARED_KEYS, OUTPUT_KEYS } from "./property-bag";

/** Reads `xapi:*` stack config with `XAPI_*` environment fallbacks; never fails (see module doc). */
export async function configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
  useSettings(readConnectionSettings((key) => req.config.get(key), process.env));
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
    const inputs = checkedInputs(olds, news, validation.value, validation.unknowns);
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

/**
 * The inputs `check` stores: the declared ones normalized (defaults are applied again wherever the inputs
 * are read, so only what is declared is kept), the still-unknown ones as sent, and the internal keys.
 */
function checkedInputs(olds: Bag, news: Bag, value: object, unknowns: readonly string[]): Bag {
  const unknownTop = new Set(unknowns.map((u) => u.split(".")[0] ?? u));
  const inputs: Bag = Object.fromEntries(
    Object.entries(stripUndefined(value) as Bag).filter(([key]) => news[key] !== undefined),
  );
  for (const key of unknownTop) inputs[key] = news[key];
  for (const key of [InternalKey.preview, InternalKey.customTimeouts, InternalKey.urn]) {
    if (news[key] !== undefined) inputs[key] = news[key];
  }
  // The VM's uuid learnt by a refresh stays with the resource while its identity does not change.
  if (olds[InternalKey.vm] !== undefined && olds.template === inputs.template && olds.uuid === inputs.uuid) {
    inputs[InternalKey.vm] = olds[InternalKey.vm];
  }
  return inputs;
}

/** Decides update vs replace from the recorded outputs, the new inputs and the VM's live state. */
export async function diff(id: string, storedOlds: Bag, storedNews: Bag): Promise<pulumi.dynamic.DiffResult> {
  return guard(async () => {
    const olds = unpack(storedOlds, id);
    const news = unpack(storedNews);
    const replaces = identityReplaces(olds, news);
    const after = withDefaults(news);
    const changed = changedProperties(withDefaults(olds), after);
    const declaredChange = replaces.length > 0 || changed.length > 0 || adoptionChanges(olds, news);
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
