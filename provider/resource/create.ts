/**
 * `create`: clones and provisions a VM from its template (or adopts one by uuid), then converges it.
 *
 * Calls (besides the executor's own, documented in `provider/executor/`; the executor is handed the record
 * read here, so it does not read it again; test/provider-grpc.test.ts "documented calls"):
 * `pool.get_all_records` once per connection (`pool-identity.ts`), `VM.get_by_name_label`, one
 * `VM.get_record` per VM of that name (to find the template; once per template and run, `birth.ts`),
 * `Async.VM.clone`, `VM.get_uuid` (only when the resource's URN is unknown: the clone then has no birth
 * name), `VM.add_to_other_config` (the owner tag, when the resource's URN is known), `Async.VM.provision`,
 * `VM.set_is_a_template`, one `VM.get_record` (uuid, names and plan; none for a VM a stopped create left
 * finished: the search's read stands), the name setters that differ, the
 * executor's steps, the pending-boot note (`pending-boot.ts`), one `VM.get_record` (outputs; only when the
 * executor sent a call). With the URN known, the search for a VM a stopped create left comes first
 * (`leftovers.ts`: one `VM.get_by_name_label` per name searched). Adopting: `VM.get_record` (and
 * `VM.get_by_uuid` unless the pool snapshot knows the ref: `liveVm`) instead of the template search, clone,
 * tag, provision and un-template. After a failure: one more `VM.get_record`, for the recorded outputs
 * (and `VM.get_uuid` when a birth failed before its record was read).
 */
import type { XapiConnection } from "../client";
import type { VmRecord } from "../executor";
import { type Birth, bornAlready, cloneTemplate, finishBirth } from "./birth";
import { convergeAndReport, type Run } from "./converge-and-report";
import { deadlineOf } from "./deadlines";
import { operationFailure } from "./failure-report";
import { findLeftover } from "./leftovers";
import { setNames } from "./names";
import { assertOwnable, claim } from "./ownership";
import { poolInfoOf } from "./pool-identity";
import { type Bag, urnOf, validated } from "./property-bag";
import type { VmCallRecord } from "./types";
import { liveVm, recordOf, type VmHandle } from "./vm-reads";

/** A create's outcome. */
export interface Created {
  readonly id: string;
  readonly outs: Bag;
}

/**
 * Clones and provisions a VM from its template (or adopts one), then converges it.
 *
 * Kill-safe (`birth.ts`): a create first looks for a VM an earlier, stopped create of this resource left
 * (`leftovers.ts`) and finishes it instead of cloning again.
 */
export async function createVm(conn: XapiConnection, inputs: Bag): Promise<Created> {
  const value = validated(inputs);
  const deadline = deadlineOf(inputs, "create");
  const { uuid: pool, api } = await poolInfoOf(conn);
  const calls: VmCallRecord[] = [];
  const adopted = value.uuid !== undefined;
  const urn = urnOf(inputs);
  const facts = {
    operation: "create",
    conn,
    value,
    bag: inputs,
    adopted,
    pool,
    api,
    deadline,
    calls,
  } as const;
  let vm: VmHandle;
  let known: VmRecord | undefined;
  let claimed: VmRecord | undefined;
  if (adopted) {
    ({ vm, record: claimed } = await liveVm(conn, value.uuid ?? ""));
    known = claimed;
    // Ownership is settled before anything is written, and a refused adoption records nothing.
    assertOwnable(vm.uuid, claimed, urn, value.takeOver === true, "adopt");
  } else {
    const leftover = urn === undefined ? undefined : await findLeftover(conn, value, urn, inputs);
    const birth = leftover ?? (await cloneTemplate(conn, value, urn, calls, deadline));
    ({ vm, record: known } = await bear(birth, urn, facts));
  }
  const run: Run = { ...facts, vm };
  const outs = await convergeAndReport(
    run,
    async () => {
      if (claimed !== undefined) await claim(conn, vm.ref, claimed, urn, calls);
      // A claim wrote the tag: the record is read again; a birth's record was read once it was born.
      run.before = claimed === undefined && known !== undefined ? known : await recordOf(conn, vm.ref);
      // A VM being born keeps its birth name until the create is done (renamed last): a create stopped
      // anywhere before that is found again by that name, and a finished VM never is.
      await setNames(conn, vm.ref, run.before, value, calls, { label: adopted });
    },
    {
      forceRestart: false,
      finish: adopted
        ? undefined
        : (after) => setNames(conn, vm.ref, after, value, calls, { description: false }),
    },
  );
  return { id: vm.uuid, outs };
}

/**
 * Tags, provisions and un-templates a VM being born (`finishBirth`), then reads it: its handle (the uuid
 * from that record when the clone's was not read) and record. A failure once the uuid is known is thrown as
 * the {@link operationFailure} that records the VM; before (the uuid unreadable too), as it is: the VM
 * still bears its birth name, and the next create finds and finishes it (`leftovers.ts`).
 */
async function bear(
  birth: Birth,
  urn: string | undefined,
  facts: Omit<Run, "vm" | "before">,
): Promise<{ vm: VmHandle; record: VmRecord }> {
  const { conn, calls, deadline, value } = facts;
  try {
    // A VM left finished (killed before the engine saved it) is written nothing: the search's record stands.
    const read = bornAlready(birth, urn) ? birth.record : undefined;
    await finishBirth(conn, birth, urn, calls, deadline, value);
    const record = read ?? (await recordOf(conn, birth.ref));
    return { vm: { ref: birth.ref, uuid: record.uuid }, record };
  } catch (error) {
    const uuid = birth.uuid ?? (await conn.call<string>("VM.get_uuid", birth.ref).catch(() => undefined));
    if (uuid === undefined) throw error;
    throw await operationFailure(conn, { ref: birth.ref, uuid }, value, { ...facts, pending: [] }, error);
  }
}
