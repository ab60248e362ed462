/**
 * `update`: re-reads the live VM, applies name changes and converges it to the new declaration.
 *
 * Calls (besides the executor's own, `provider/executor/`): `pool.get_all_records` once per connection
 * (`pool-identity.ts`), `VM.get_record` (and `VM.get_by_uuid` when the pool snapshot does not know the VM's
 * ref: `liveVm`), the owner tag when missing (`ownership.ts`),
 * the name setters that differ, the executor's steps, the pending-boot note (`pending-boot.ts`),
 * `VM.get_record` (outputs; only when the executor sent a call). When the VM is still the template clone
 * of a create that stopped before `VM.set_is_a_template`, first `Async.VM.provision` (only while
 * `other_config.disks` is set: provision consumes it), `VM.set_is_a_template` and one more
 * `VM.get_record` (`birth.ts`). After a failure: one more `VM.get_record`, for the recorded outputs.
 */
import type { XapiConnection } from "../client";
import { createdFromTemplate, finishClone } from "./birth";
import { convergeAndReport, type Run } from "./converge-and-report";
import { deadlineOf } from "./deadlines";
import { setNames } from "./names";
import { assertOwnable, claim } from "./ownership";
import { assertSamePool, poolInfoOf } from "./pool-identity";
import { type Bag, urnOf, validated } from "./property-bag";
import type { VmCallRecord } from "./types";
import { liveVm } from "./vm-reads";

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
  const { vm, record } = await liveVm(conn, id);
  const calls: VmCallRecord[] = [];
  const urn = urnOf(news);
  assertOwnable(id, record, urn, adopted && value.takeOver === true, "update");
  const run: Run = { operation: "update", conn, vm, value, bag: news, adopted, pool, api, deadline, calls };
  run.before = record;
  const prepare = async (): Promise<void> => {
    // The owner tag: written when missing (a VM adopted or created before tags), or taken over.
    await claim(conn, vm.ref, record, urn, calls);
    // A create that stopped after the clone left a template behind: finish it before converging.
    if (createdFromTemplate(olds) && record.is_a_template === true) {
      run.before = await finishClone(conn, vm.ref, record, calls, deadline, value);
    }
    await setNames(conn, vm.ref, run.before ?? record, value, calls);
  };
  const restartTrigger = value.restartTrigger;
  return convergeAndReport(run, prepare, {
    forceRestart: restartTrigger !== undefined && restartTrigger !== olds.restartTrigger,
    legacyOutputs: olds,
  });
}
