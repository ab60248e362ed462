#!/usr/bin/env node
/**
 * What `npm run demo` (scripts/demo.sh) prints about the pool and the plan:
 *
 *   node scripts/demo-report.js seq <sim-url>                    last sequence number of the call log
 *   node scripts/demo-report.js plan <preview-output>            the plannedCalls lines of `pulumi preview --diff`
 *   node scripts/demo-report.js calls <sim-url> <since> [<preview-output>]
 *       the calls that changed something, made after <since>, and a count of the others (login, reads,
 *       task polling); with a preview output, also whether they are the calls the plan named, in its
 *       order (exit 1 if not)
 *   node scripts/demo-report.js vm <sim-url> <uuid>              one VM: power state and the boot it runs
 */

/** Calls xapi-sim's control API (loopback only; see simulator/README.md, "Control API"). */
async function control(url, op, body = {}) {
  const response = await fetch(`${url}/_sim/${op}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok || json.error !== undefined)
    throw new Error(`xapi-sim ${op}: ${json.error ?? response.status}`);
  return json.result;
}

/** A call that changes the pool: not a session, task or event call, not a getter. */
function isMutation(method) {
  const [cls, name = ""] = method.replace(/^Async\./, "").split(".");
  return !["session", "task", "event"].includes(cls) && !/^(get|assert|query|retrieve)/.test(name);
}

/** The plannedCalls strings of a `pulumi preview --diff` output, in order. */
function plannedCalls(previewText) {
  const lines = previewText.split("\n");
  const calls = [];
  let inside = false;
  for (const line of lines) {
    if (/^\s*[+~-]?\s*plannedCalls\s*:\s*\[/.test(line)) inside = true;
    else if (inside && /^\s*[+~-]?\s*\]\s*$/.test(line)) inside = false;
    else if (inside) {
      const m = /^\s*[+~-]?\s*\[\d+\]:\s*(".*")\s*$/.exec(line);
      if (m !== null) calls.push(JSON.parse(m[1]));
    }
  }
  return calls;
}

/** "2. VM.clean_reboot (Running → Running): …" → "VM.clean_reboot". */
function plannedMethod(line) {
  return /^\s*\d+\.\s+([A-Za-z_]+\.[A-Za-z_]+)/.exec(line)?.[1];
}

/** A call's parameters, short: OpaqueRef:5a1f0000-0000-… → OpaqueRef:5a1f0000…; JSON otherwise. */
function showParams(params) {
  return params
    .map((p) =>
      typeof p === "string" && p.startsWith("OpaqueRef:") ? `${p.slice(0, 18)}…` : JSON.stringify(p),
    )
    .join(", ");
}

async function main([command, ...args]) {
  const fs = require("node:fs");
  if (command === "seq") {
    const log = await control(args[0], "callLog");
    console.log(log.at(-1)?.seq ?? 0);
  } else if (command === "plan") {
    const calls = plannedCalls(fs.readFileSync(args[0], "utf8"));
    if (calls.length === 0) console.log("   (no plannedCalls in the preview: nothing to do)");
    for (const call of calls) console.log(`   ${call}`);
  } else if (command === "calls") {
    const [url, since, previewFile] = args;
    const log = (await control(url, "callLog", { since: Number(since) })).filter(
      (c) => c.seq > Number(since),
    );
    const made = log.filter((c) => isMutation(c.method));
    made.forEach((c, i) => {
      const failed = c.ok ? "" : `  -> failed: ${c.error}`;
      console.log(`   ${i + 1}. ${c.method}(${showParams(c.params ?? [])})${failed}`);
    });
    console.log(
      `   (and ${log.length - made.length} calls that change nothing: login, reads, task polling, logout)`,
    );
    if (previewFile !== undefined) {
      const planned = plannedCalls(fs.readFileSync(previewFile, "utf8")).map(plannedMethod);
      const actual = made.map((c) => c.method.replace(/^Async\./, ""));
      if (JSON.stringify(planned) === JSON.stringify(actual)) {
        console.log(
          `   = the ${planned.length} calls the preview named, in its order ("Async." = the same call run as a XAPI task)`,
        );
      } else {
        console.log(
          `   ≠ NOT what the preview named: planned ${planned.join(", ")}; made ${actual.join(", ")}`,
        );
        process.exitCode = 1;
      }
    }
  } else if (command === "vm") {
    const [url, uuid] = args;
    const vm = (await control(url, "vms")).find((v) => v.uuid === uuid);
    if (vm === undefined) throw new Error(`xapi-sim has no VM ${uuid}`);
    const boot = await control(url, "bootRecord", { uuid });
    const runs =
      boot.lastBoot === undefined || boot.lastBoot === null
        ? "no domain"
        : `domain built ${boot.bootCount}× (last by ${boot.lastBoot.via}) with boot order "${boot.lastBoot.order}"` +
          (boot.pendingBootChange ? "; a boot change is pending" : "");
    console.log(`   ${vm.name_label}  ${vm.uuid}  ${vm.power_state}; ${runs}`);
  } else {
    throw new Error(`unknown command ${command ?? "(none)"}`);
  }
}

main(process.argv.slice(2)).catch((error) => {
  console.error(`demo: ${error.message}`);
  process.exit(1);
});
