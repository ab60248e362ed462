// The e2e program for several pools, in plain JavaScript (no TypeScript): one xapi.Pool per pool (stack
// config namespace "e2e"), one VM on each. Pool "a" takes its password from stack config (a secret), pool
// "b" from an environment variable it names (passwordEnv), so that no password of pool "b" enters the state.
const pulumi = require("@pulumi/pulumi");
const xapi = require("pulumi-xapi");

const config = new pulumi.Config("e2e");

const a = new xapi.Pool("pool-a", {
  url: config.require("urlA"),
  password: config.requireSecret("passwordA"),
});
const b = new xapi.Pool("pool-b", { url: config.require("urlB"), passwordEnv: "E2E_POOL_B_PASSWORD" });

const powerState = config.get("powerState") ?? "Halted";
const vmA = new xapi.Vm("vm-a", { template: "Other install media", powerState }, { provider: a });
const vmB = new xapi.Vm("vm-b", { template: "Other install media", powerState }, { provider: b });

exports.uuidA = vmA.uuid;
exports.poolA = vmA.poolUuid;
exports.uuidB = vmB.uuid;
exports.poolB = vmB.poolUuid;
