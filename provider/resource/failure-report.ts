/**
 * The error a create or update throws once its VM exists: it carries the id and the observed outputs
 * (with the calls made so far), so the engine records the VM instead of losing it.
 */
import type { XapiConnection } from "../client";
import { ExecutionError, type VmRecord } from "../executor";
import type { VmInputs } from "../inputs";
import { callRecordOf } from "./call-record";
import { ProviderError, ProviderErrorCode, VmOperationError } from "./errors";
import { bearsBirthName, setNames } from "./names";
import { type OperationFacts, outputsOf, unreadOutputs } from "./outputs";
import { recordPending, unbuiltBootChanges } from "./pending-boot";
import type { VmHandle } from "./vm-reads";
import { recordOf } from "./vm-reads";

/** Which operation failed, and what it knew when it did. */
export interface FailedRun extends OperationFacts {
  readonly operation: "create" | "update";
  /** The record the run converged from, once read (the boot fields it wrote are compared with it). */
  readonly before?: VmRecord | undefined;
}

/**
 * The error to throw for a failed create or update. When the run wrote boot fields to a live VM and stopped
 * before rebuilding its domain, the change is noted on the VM as pending (best effort): a failed restart
 * never loses a boot change. A failed create's VM gets its declared name, as a finished create would.
 */
export async function operationFailure(
  conn: XapiConnection,
  vm: VmHandle,
  value: VmInputs,
  run: FailedRun,
  error: unknown,
): Promise<VmOperationError> {
  const done = error instanceof ExecutionError ? error.done : [];
  const calls = [...run.calls, ...done.map(callRecordOf)];
  let record: VmRecord | undefined;
  try {
    record = await recordOf(conn, vm.ref);
  } catch {
    record = undefined; // the properties then fall back to the declaration
  }
  let pending = [...run.pending];
  if (record !== undefined && run.before !== undefined) {
    pending = unbuiltBootChanges(done, run.before, record, run.pending);
    try {
      await recordPending(conn, vm.ref, record, pending, calls);
    } catch {
      // Best effort: the error below still tells what was written.
    }
  }
  // The engine records a failed create (the error carries the id): the VM gets its declared name now, as
  // a finished create would, rather than keeping its birth name until the next run (best effort).
  if (run.operation === "create" && record !== undefined && bearsBirthName(record)) {
    try {
      await setNames(conn, vm.ref, record, value, calls, { description: false });
    } catch {
      // The next update renames it.
    }
  }
  const facts = { ...run, pending, calls };
  const properties =
    record === undefined ? unreadOutputs(value, vm.uuid, facts) : outputsOf(value, record, facts);
  const code =
    error instanceof ProviderError || error instanceof VmOperationError
      ? error.code
      : ProviderErrorCode.XAPI_FAILED;
  const message = failureMessage(vm, value, record, { ...run, calls }, error);
  return new VmOperationError(code, message, vm.uuid, properties, { cause: error });
}

/**
 * `VM "web" (uuid) was created but could not be brought to its declared state (calls made: …): <why>`,
 * and, for a create stopped before the VM was un-templated, that the next `pulumi up` finishes it.
 */
function failureMessage(
  vm: VmHandle,
  value: VmInputs,
  record: VmRecord | undefined,
  run: FailedRun,
  error: unknown,
): string {
  const what =
    run.operation === "update"
      ? "could not be brought to"
      : run.adopted
        ? "was adopted but could not be brought to"
        : "was created but could not be brought to";
  const calls = run.calls;
  const made = calls.length === 0 ? "no call made" : `calls made: ${calls.map((c) => c.call).join(", ")}`;
  // The executor's message starts with the VM too; say it once.
  const detail = errorText(error).replace(`VM ${vm.uuid}: `, "");
  // Name the VM the way its owner knows it (name_label) and the way Pulumi does (uuid = id).
  const label = value.nameLabel ?? record?.name_label;
  const named = label === undefined || label === "" ? `VM ${vm.uuid}` : `VM "${label}" (${vm.uuid})`;
  // A create stopped between the clone and the un-template: say that the VM is kept and finished next time.
  const unfinished =
    run.operation === "create" && !run.adopted && record?.is_a_template === true
      ? " The VM is recorded in the stack (still a template); the next `pulumi up` finishes the create from where it stopped."
      : "";
  return `${named} ${what} its declared state (${made}): ${detail}${unfinished}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
