/**
 * `create`: clones and provisions a VM from its template (or adopts one by uuid), then converges it.
 *
 * Calls (besides the executor's own, documented in `provider/executor/`; the executor is handed the record
 * read here, so it does not read it again; test/provider-grpc.test.ts "documented calls"):
 * `pool.get_all_records` once per connection (`pool-identity.ts`), `VM.get_by_name_label`, one
 * `VM.get_record` per VM of that name (to find the template; once per template and run, `birth.ts`),
 * `Async.VM.clone`, `VM.get_uuid`,
 * `VM.add_to_other_config` (the owner tag, when the resource's URN is known), `Async.VM.provision`,
 * `VM.set_is_a_template`, one `VM.get_record` (names and plan), the name setters that differ, the
 * executor's steps, the pending-boot note (`pending-boot.ts`), one `VM.get_record` (outputs; only when the
 * executor sent a call). Adopting: `VM.get_record` (and `VM.get_by_uuid` unless the pool snapshot knows the ref: `liveVm`) instead of the template search, clone, tag, provision
 * and un-template. After a failure: one more `VM.get_record`, for the recorded outputs.
 */
import type { XapiConnection } from "../client";
import type { VmRecord } from "../executor";
import { type Birth, cloneTemplate, finishBirth } from "./birth";
import { convergeAndReport, type Run } from "./converge-and-report";
import { deadlineOf } from "./deadlines";
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
  let vm: VmHandle;
  let birth: Birth | undefined;
  let claimed: VmRecord | undefined;
  if (adopted) {
    ({ vm, record: claimed } = await liveVm(conn, value.uuid ?? ""));
    // Ownership is settled before anything is written, and a refused adoption records nothing.
    assertOwnable(vm.uuid, claimed, urn, value.takeOver === true, "adopt");
  } else {
    const leftover = urn === undefined ? undefined : await findLeftover(conn, value, urn, inputs);
    birth = leftover ?? (await cloneTemplate(conn, value, urn, calls, deadline));
    vm = birth;
  }
  const run: Run = { operation: "create", conn, vm, value, bag: inputs, adopted, pool, api, deadline, calls };
  const outs = await convergeAndReport(
    run,
    async () => {
      if (claimed !== undefined) await claim(conn, vm.ref, claimed, urn, calls);
      if (birth !== undefined) await finishBirth(conn, birth, urn, calls, deadline, value);
      run.before = await recordOf(conn, vm.ref);
      // A VM being born keeps its birth name until the create is done (renamed last): a create stopped
      // anywhere before that is found again by that name, and a finished VM never is.
      await setNames(conn, vm.ref, run.before, value, calls, { label: birth === undefined });
    },
    {
      forceRestart: false,
      finish:
        birth === undefined
          ? undefined
          : (after) => setNames(conn, vm.ref, after, value, calls, { description: false }),
    },
  );
  return { id: vm.uuid, outs };
}
