/**
 * XAPI classes `PIF` and `PIF_metrics` (ocaml/idl/datamodel.ml, modules PIF and PIF_metrics): the implicit
 * messages and the `other_config` setters. Each host has a management PIF on the pool-wide network, with
 * the PIF_metrics of its NIC (pool-objects.ts). PIF's explicit messages (plug, reconfigure_ip, VLANs,
 * bonds) are not served: they answer MESSAGE_METHOD_UNKNOWN (see simulator/README.md, deviations).
 */
import type { Engine } from "../engine";
import { defaultPifMetricsRecord, defaultPifRecord } from "../pool-records";
import { type Def, lookups, mapSetters } from "./registry";

export function registerPif(def: Def, e: Engine): void {
  lookups(def, e, "PIF", e.pifs, defaultPifRecord({ uuid: "", device: "", network: "", host: "", MAC: "" }));
  mapSetters(def, "PIF", e.pifs, "other_config");
  lookups(def, e, "PIF_metrics", e.pifMetrics, defaultPifMetricsRecord({ uuid: "" }));
  mapSetters(def, "PIF_metrics", e.pifMetrics, "other_config");
}
