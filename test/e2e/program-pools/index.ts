// The e2e program for several pools: one explicit xapi.Provider per pool (stack config namespace "e2e"),
// one VM on each. Pool "a" takes its password from stack config (a secret), pool "b" from an environment
// variable it names (passwordEnv), so that no password of pool "b" enters the state.
import * as pulumi from "@pulumi/pulumi";
import * as xapi from "pulumi-xapi";

const config = new pulumi.Config("e2e");

const a = new xapi.Provider("pool-a", {
  url: config.require("urlA"),
  password: config.requireSecret("passwordA"),
});
const b = new xapi.Provider("pool-b", { url: config.require("urlB"), passwordEnv: "E2E_POOL_B_PASSWORD" });

const vmA = new xapi.Vm("vm-a", { template: "Other install media", powerState: "Halted" }, { provider: a });
const vmB = new xapi.Vm("vm-b", { template: "Other install media", powerState: "Halted" }, { provider: b });

export const uuidA = vmA.uuid;
export const poolA = vmA.poolUuid;
export const uuidB = vmB.uuid;
export const poolB = vmB.poolUuid;
