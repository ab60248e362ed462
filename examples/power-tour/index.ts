// One VM driven through the power states by configuration, e.g.
//   pulumi config set state Suspended   → VM.suspend
//   pulumi config set state Paused      → VM.resume(start_paused: true)   (no un-suspend to Running first)
//   pulumi config set state Halted      → VM.unpause, VM.clean_shutdown   (escalated to VM.hard_shutdown
//                                          only if the guest does not comply: policy clean-then-hard)
//   pulumi config set state Suspended   → VM.start(start_paused: false), VM.suspend
// Leaving Suspended for Halted never discards the saved memory image unless
// `pulumi config set allowDiscard true`, which also switches the policy to shutdown "hard" (the clean
// modes never call VM.hard_shutdown): the plan is then one VM.hard_shutdown.
import * as pulumi from "@pulumi/pulumi";
import * as xapi from "pulumi-xapi";

const config = new pulumi.Config();
const states = ["Halted", "Paused", "Running", "Suspended"] as const;
type State = (typeof states)[number];
const wanted = config.get("state") ?? "Running";
if (!states.includes(wanted as State))
  throw new Error(`power-tour:state must be one of ${states.join(", ")}`);

const allowDiscard = config.getBoolean("allowDiscard") ?? false;

const vm = new xapi.Vm("power-tour", {
  template: config.get("template") ?? "Other install media",
  nameLabel: "power-tour",
  powerState: wanted as State,
  policy: {
    shutdown: allowDiscard ? "hard" : "clean-then-hard",
    allowDiscardSuspendedState: allowDiscard,
  },
});

export const observedPowerState = vm.observedPowerState;
export const lastCalls = vm.lastCalls.apply((calls) => calls.map((c) => `${c.call} (${c.from} → ${c.to})`));
