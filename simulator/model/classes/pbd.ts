/**
 * XAPI class `PBD` (ocaml/idl/datamodel.ml, module PBD): the implicit messages, the `other_config`
 * setters and `set_device_config`. Each SR has a PBD per host that sees it (pool-objects.ts), plugged.
 */
import type { Engine } from "../engine";
import { str, strMap } from "../params";
import { defaultPbdRecord } from "../pool-records";
import { type Def, lookups, mapSetters, rowOf } from "./registry";

export function registerPbd(def: Def, e: Engine): void {
  lookups(def, e, "PBD", e.pbds, defaultPbdRecord({ uuid: "", host: "", SR: "" }));
  mapSetters(def, "PBD", e.pbds, "other_config");
  // A DB write: the SM backend reads device_config at the next plug (xapi_pbd.ml `set_device_config`).
  def("PBD.set_device_config", ["self", "value"], ({ args }) => {
    const ref = str(args, 0, "self");
    rowOf("PBD", e.pbds, ref);
    const value = strMap(args, 1, "value");
    e.pbds.update(ref, (p) => {
      p.device_config = value;
    });
    return "";
  });
}
