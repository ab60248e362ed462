/**
 * The baseline: the same workload driven the naive way, as a hand-written script would.
 * - a login (and logout) around every XAPI call;
 * - every boot change is applied by halt → set → start, whatever the target (a Suspended or Paused VM
 *   is hard-shut-down, discarding its state);
 * - synchronous calls, one VM at a time.
 * Power transitions use the same shortest paths as the provider (the baseline is naive about sessions,
 * boot changes and concurrency, not about the lifecycle graph).
 */
import { createJsonRpcTransport, type Transport } from "../provider/client/jsonrpc";
import type { XapiBootFields } from "../provider/model/boot";
import { DEFAULT_POLICY } from "../provider/model/plan";
import { PowerState } from "../provider/model/vocabulary";
import { planTransition } from "../provider/planner";
import type { Job } from "./workload";

export interface Credentials {
  readonly url: string;
  readonly username: string;
  readonly password: string;
}

/** Run one job the naive way. `vm` is the VM's uuid. */
export async function runNaive(credentials: Credentials, vm: string, job: Job): Promise<void> {
  const transport = createJsonRpcTransport({ url: credentials.url });
  try {
    const call = (method: string, ...args: unknown[]) =>
      callWithOwnSession(transport, credentials, method, args);
    const ref = await call("VM.get_by_uuid", vm);
    const record = (await call("VM.get_record", ref)) as XapiBootFields & { power_state: PowerState };
    let power = record.power_state;
    if (job.boot !== undefined) {
      if (power === PowerState.Running) await call("VM.clean_shutdown", ref);
      else if (power !== PowerState.Halted) await call("VM.hard_shutdown", ref);
      for (const [field, value] of Object.entries(job.boot)) await call(`VM.set_${field}`, ref, value);
      await call("VM.start", ref, false, false);
      power = PowerState.Running;
    }
    const planned = planTransition({
      observedPowerState: power,
      observedBoot: record,
      declaredPowerState: job.to,
      policy: DEFAULT_POLICY,
    });
    if (!planned.ok) throw new Error(planned.failure.reason);
    for (const step of planned.plan.steps) {
      const args =
        step.call === "VM.start" || step.call === "VM.resume" ? [step.args.start_paused, false] : [];
      await call(step.call, ref, ...args);
    }
  } finally {
    transport.close();
  }
}

async function callWithOwnSession(
  transport: Transport,
  credentials: Credentials,
  method: string,
  args: readonly unknown[],
): Promise<unknown> {
  const session = await transport("session.login_with_password", [
    credentials.username,
    credentials.password,
    "1.0",
    "naive-script",
  ]);
  try {
    return await transport(method, [session, ...args]);
  } finally {
    await transport("session.logout", [session]);
  }
}
