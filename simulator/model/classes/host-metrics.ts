/**
 * XAPI class `host_metrics` (ocaml/idl/datamodel.ml, module Host_metrics): the implicit messages and the
 * `other_config` setters. Every host has one (pool-objects.ts); `memory_free` follows its resident VMs.
 */
import type { Engine } from "../engine";
import { defaultHostMetricsRecord } from "../pool-records";
import { type Def, lookups, mapSetters } from "./registry";

export function registerHostMetrics(def: Def, e: Engine): void {
  lookups(def, e, "host_metrics", e.hostMetrics, defaultHostMetricsRecord({ uuid: "" }));
  mapSetters(def, "host_metrics", e.hostMetrics, "other_config");
}
