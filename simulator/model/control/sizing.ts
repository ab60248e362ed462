/**
 * Control ops for vCPUs and memory (simulator/README.md, "Control API"): a VM's simulated domain, the
 * pool's licence flags, a host's pCPUs and memory.
 */
import type { Engine } from "../engine";
import { guestCooperation } from "../engine";
import { allEnabledRestrictions, LicenceFlag } from "../sizing";

import { type ControlOp, fail, optBool, optNumber, optStringMap, vmRef } from "./body";

/** The VM's domain as xenopsd holds it, beside the record's values (which the next build uses). */
function domain(e: Engine, body: Record<string, unknown>): unknown {
  const ref = vmRef(e, body);
  const vm = e.vm(ref);
  const sim = e.vmState.simOf(ref);
  const d = e.domains.of(ref);
  return {
    uuid: vm.uuid,
    power_state: vm.power_state,
    domain:
      d === null
        ? null
        : {
            vcpus: d.vcpus,
            vcpusMax: d.vcpusMax,
            vcpusAtBuild: d.vcpusAtBuild,
            memory: {
              staticMax: d.staticMax,
              dynamicMin: d.dynamicMin,
              dynamicMax: d.dynamicMax,
              target: d.target,
              actual: d.actual,
            },
          },
    record: {
      VCPUs_max: vm.VCPUs_max,
      VCPUs_at_startup: vm.VCPUs_at_startup,
      memory_static_min: vm.memory_static_min,
      memory_static_max: vm.memory_static_max,
      memory_dynamic_min: vm.memory_dynamic_min,
      memory_dynamic_max: vm.memory_dynamic_max,
      memory_target: vm.memory_target,
    },
    // True when the next build would differ from the domain running (or suspended) now.
    pendingSizingChange:
      d === null
        ? null
        : d.vcpusMax !== vm.VCPUs_max ||
          d.vcpus !== vm.VCPUs_at_startup ||
          d.staticMax !== vm.memory_static_max ||
          d.dynamicMin !== vm.memory_dynamic_min ||
          d.dynamicMax !== vm.memory_dynamic_max,
    guest: { pvDrivers: sim.guest.pvDrivers, ...guestCooperation(sim) },
  };
}

/**
 * The pool's licence: `liveSetVcpus` / `dmc` true licenses the feature ("restrict_…" = "false"), false
 * restricts it; `restrictions` overlays raw flags; `reset: true` licenses everything again.
 */
function licence(e: Engine, body: Record<string, unknown>): unknown {
  const live = optBool(body, "liveSetVcpus");
  const dmc = optBool(body, "dmc");
  const raw = optStringMap(body, "restrictions");
  const reset = optBool(body, "reset");
  const [ref, pool] = e.pools.entries()[0] ?? fail("xapi-sim has no pool");
  const next = { ...(reset ? allEnabledRestrictions(e.profile) : pool.restrictions), ...raw };
  if (live !== undefined) next[LicenceFlag.liveSetVcpus] = live ? "false" : "true";
  if (dmc !== undefined) next[LicenceFlag.dmc] = dmc ? "false" : "true";
  e.pools.update(ref, (p) => {
    p.restrictions = next;
  });
  return {
    restrictions: next,
    liveSetVcpus: next[LicenceFlag.liveSetVcpus] === "false",
    dmc: next[LicenceFlag.dmc] === "false",
  };
}

/** A host by uuid, or "master" / "member". */
function hostRefOf(e: Engine, body: Record<string, unknown>): string {
  const host = body.host ?? "master";
  if (host === "master") return e.masterRef;
  const hit = e.hosts
    .entries()
    .find(([ref, h]) => h.uuid === host || (host === "member" && ref !== e.masterRef));
  if (!hit) fail(`no host "${String(host)}": give a host uuid, "master" or "member"`);
  return hit[0];
}

/** A host's pCPU count (`cpu_info.cpu_count`) and memory (`host_metrics.memory_total`, bytes). */
function hostResources(e: Engine, body: Record<string, unknown>): unknown {
  const ref = hostRefOf(e, body);
  const cpus = optNumber(body, "cpu_count");
  const memory = optNumber(body, "memory_total");
  if (cpus !== undefined && (!Number.isInteger(cpus) || cpus < 1))
    fail('"cpu_count" must be a whole number ≥ 1');
  if (cpus !== undefined)
    e.hosts.update(ref, (h) => {
      h.cpu_info = { ...h.cpu_info, cpu_count: String(cpus) };
    });
  const host = e.host(ref);
  if (memory !== undefined && e.hostMetrics.has(host.metrics)) {
    e.hostMetrics.update(host.metrics, (m) => {
      m.memory_total = memory;
    });
    e.vmState.syncResidents();
  }
  const metrics = e.hostMetrics.get(host.metrics);
  return {
    uuid: host.uuid,
    cpu_count: Number(host.cpu_info.cpu_count ?? "0"),
    memory_total: metrics?.memory_total ?? null,
    memory_free: metrics?.memory_free ?? null,
  };
}

export function sizingOps(e: Engine): Record<"domain" | "licence" | "hostResources", ControlOp> {
  return {
    domain: (body) => domain(e, body),
    licence: (body) => licence(e, body),
    hostResources: (body) => hostResources(e, body),
  };
}
