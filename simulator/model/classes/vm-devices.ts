/**
 * XAPI classes `VM_metrics`, `VM_guest_metrics`, `VIF` and `network` (simulator/README.md "Networking and
 * metrics"): the lookups, the `other_config` setters and the network name setters.
 */
import { XapiFault } from "../../api";
import type { Engine } from "../engine";
import { str } from "../params";
import {
  defaultGuestMetricsRecord,
  defaultNetworkRecord,
  defaultVifRecord,
  defaultVmMetricsRecord,
} from "../records";
import { ErrorCode } from "../vocabulary";
import { type Def, lookups, mapSetters } from "./registry";

export function registerVmDevices(def: Def, e: Engine): void {
  lookups(def, e, "VM_metrics", e.vmMetrics, defaultVmMetricsRecord({ uuid: "" }));
  lookups(def, e, "VM_guest_metrics", e.guestMetrics, defaultGuestMetricsRecord({ uuid: "" }));
  lookups(def, e, "VIF", e.vifs, defaultVifRecord({ uuid: "", VM: "", network: "", device: "0", MAC: "" }));
  lookups(def, e, "network", e.networks, defaultNetworkRecord({ uuid: "", name_label: "" }), {
    byName: true,
  });
  mapSetters(def, "VM_metrics", e.vmMetrics, "other_config");
  mapSetters(def, "VM_guest_metrics", e.guestMetrics, "other_config");
  mapSetters(def, "VIF", e.vifs, "other_config");
  mapSetters(def, "network", e.networks, "other_config");
  for (const field of ["name_label", "name_description"] as const) {
    def(`network.set_${field}`, ["self", "value"], ({ args }) => {
      const ref = str(args, 0, "self");
      if (!e.networks.has(ref)) throw new XapiFault(ErrorCode.handleInvalid, ["network", ref]);
      const value = str(args, 1, "value");
      e.networks.update(ref, (n) => {
        n[field] = value;
      });
      return "";
    });
  }
}
