#!/usr/bin/env node
/**
 * What `npm run demo` (scripts/demo.sh) prints about the plan and the pool. <seq-file> holds the call-log
 * sequence number already reported (absent: 0); each command reports the calls after it and moves it on.
 *
 *   node scripts/demo-report.js plan <sim-url> <seq-file> <preview-output>
 *       the plannedCalls lines of a `pulumi preview --diff` output, then checks that the preview's own
 *       calls to the pool changed nothing (exit 1 otherwise)
 *   node scripts/demo-report.js after <sim-url> <seq-file> <vm-uuid> [<preview-output>]
 *       "What reached the pool": the calls that changed something and a count of the others (login,
 *       reads, waiting for tasks); with a preview output, whether they are the calls it planned, in its order
 *       (exit 1 if not); then "The VM now": power state and the boot configuration its domain runs
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

/** The call-log entries after the sequence number in `seqFile`; moves it to the last one. */
async function newCalls(url, seqFile) {
  const fs = require("node:fs");
  const since = fs.existsSync(seqFile) ? Number(fs.readFileSync(seqFile, "utf8")) : 0;
  const log = (await control(url, "callLog", { since })).filter((c) => c.seq > since);
  fs.writeFileSync(seqFile, String(log.at(-1)?.seq ?? since));
  return log;
}

async function plan(url, seqFile, previewFile) {
  const calls = plannedCalls(require("node:fs").readFileSync(previewFile, "utf8"));
  if (calls.length === 0) console.log("   (no plannedCalls in the preview: nothing to do)");
  for (const call of calls) console.log(`   ${call}`);
  const log = await newCalls(url, seqFile);
  const changed = log.filter((c) => isMutation(c.method)).map((c) => c.method);
  if (changed.length > 0) {
    console.log(`   ≠ the preview itself changed the pool: ${changed.join(", ")}`);
    process.exitCode = 1;
  } else {
    console.log(
      `   (to plan this, the preview made ${log.length} calls to the pool, none that change anything)`,
    );
  }
}

async function after(url, seqFile, uuid, previewFile) {
  console.log("\nWhat reached the pool:");
  const log = await newCalls(url, seqFile);
  const made = log.filter((c) => isMutation(c.method));
  made.forEach((c, i) => {
    const failed = c.ok ? "" : `  -> failed: ${c.error}`;
    console.log(`   ${i + 1}. ${c.method}(${showParams(c.params ?? [])})${failed}`);
  });
  console.log(
    `   (and ${log.length - made.length} calls that change nothing: login, reads, waiting for tasks (event.from, task.destroy), logout)`,
  );
  if (previewFile !== undefined) {
    const planned = plannedCalls(require("node:fs").readFileSync(previewFile, "utf8")).map(plannedMethod);
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

  console.log("\nThe VM now:");
  const vm = (await control(url, "vms")).find((v) => v.uuid === uuid);
  if (vm === undefined) throw new Error(`xapi-sim has no VM ${uuid}`);
  const boot = await control(url, "bootRecord", { uuid });
  const domain =
    boot.lastBoot === undefined || boot.lastBoot === null
      ? "no domain"
      : `domain built ${boot.bootCount}× (last by ${boot.lastBoot.via}) with boot order "${boot.lastBoot.order}"` +
        (boot.pendingBootChange ? "; a boot change is pending" : "");
  console.log(`   ${vm.name_label}  ${vm.uuid}  ${vm.power_state}; ${domain}`);
}

async function main([command, ...args]) {
  const [url, seqFile, third, fourth] = args;
  if (command === "plan" && url && seqFile && third) await plan(url, seqFile, third);
  else if (command === "after" && url && seqFile && third) await after(url, seqFile, third, fourth);
  else
    throw new Error(`usage: demo-report.js plan|after … (see the file's header), not ${command ?? "(none)"}`);
}

main(process.argv.slice(2)).catch((error) => {
  console.error(`demo: ${error.message}`);
  process.exit(1);
});
