/**
 * `delete`: releases an adopted VM (removing only its owner tag, unless `deleteAdopted`), or shuts it
 * down per its policy and destroys it with the disks it was provisioned with.
 *
 * Calls (besides the executor's own, `provider/executor/`): `pool.get_all_records` once per connection
 * (`pool-identity.ts`), `VM.get_by_uuid`, `VM.get_record`, the executor's steps, one `VBD.get_record` per
 * VBD (not for an adopted VM), `VM.destroy`, one `VDI.destroy` per disk VDI. A released VM: the owner tag's
 * `VM.remove_from_other_config` when the tag is ours, nothing else.
 */
import type { XapiConnection } from "../client";
import { converge } from "../executor";
import type { VmInputs } from "../inputs";
import type { Policy } from "../model/plan";
import { PowerState } from "../model/vocabulary";
import { hasDomainType } from "./api-version";
import { callRecordOf, recorded } from "./call-record";
import { convergeOpts, deadlineOf } from "./deadlines";
import { ProviderError, ProviderErrorCode } from "./errors";
import { release } from "./ownership";
import { assertSamePool, poolInfoOf } from "./pool-identity";
import { type Bag, policyOf, urnOf } from "./property-bag";
import type { VmCallRecord } from "./types";
import { findVm, provisionedDisks, recordOf, type VmHandle } from "./vm-reads";

/** Releases or destroys the VM; returns the calls made (`[]` when it is already gone). */
export async function deleteVm(conn: XapiConnection, id: string, props: Bag): Promise<VmCallRecord[]> {
  const adopted = props.adopted === true;
  const { uuid: pool, api } = await poolInfoOf(conn);
  assertSamePool(conn, props, pool, id);
  let vm: VmHandle;
  try {
    vm = await findVm(conn, id);
  } catch (error) {
    if (error instanceof ProviderError && error.code === ProviderErrorCode.VM_NOT_FOUND) return []; // already gone
    throw error;
  }
  const calls: VmCallRecord[] = [];
  if (adopted && props.deleteAdopted !== true) {
    // Released: the VM is not ours to destroy; only our owner tag goes (another owner's stays).
    await release(conn, vm.ref, await recordOf(conn, vm.ref), urnOf(props), calls);
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
