/**
 * XAPI class `pool`: the lookups (no get_by_name_label in XAPI), the map setters of other_config,
 * gui_config and health_check_config, and the name setters.
 */
import { XapiFault } from "../../api";
import type { Engine } from "../engine";
import { str, strMap } from "../params";
import { defaultPoolRecord } from "../records";
import { ErrorCode } from "../vocabulary";
import { type Def, lookups } from "./registry";

export function registerPool(def: Def, e: Engine): void {
  lookups(def, e, "pool", e.pools, defaultPoolRecord({ uuid: "", master: "" }));
  const poolMap = (field: "other_config" | "gui_config" | "health_check_config"): void => {
    const pool = (ref: string) => {
      if (!e.pools.has(ref)) throw new XapiFault(ErrorCode.handleInvalid, ["pool", ref]);
      return ref;
    };
    def(`pool.set_${field}`, ["self", "value"], ({ args }) => {
      const value = strMap(args, 1, "value");
      e.pools.update(pool(str(args, 0, "self")), (p) => {
        p[field] = value;
      });
      return "";
    });
    def(`pool.add_to_${field}`, ["self", "key", "value"], ({ args }) => {
      const ref = pool(str(args, 0, "self"));
      const key = str(args, 1, "key");
      const value = str(args, 2, "value");
      if (Object.hasOwn(e.pools.get(ref)?.[field] ?? {}, key)) {
        throw new XapiFault(ErrorCode.mapDuplicateKey, ["pool", field, ref, key]);
      }
      e.pools.update(ref, (p) => {
        p[field] = { ...p[field], [key]: value };
      });
      return "";
    });
    def(`pool.remove_from_${field}`, ["self", "key"], ({ args }) => {
      const ref = pool(str(args, 0, "self"));
      const key = str(args, 1, "key");
      e.pools.update(ref, (p) => {
        const { [key]: _, ...rest } = p[field];
        p[field] = rest;
      });
      return "";
    });
  };
  poolMap("other_config");
  poolMap("gui_config");
  poolMap("health_check_config");
  for (const field of ["name_label", "name_description"] as const) {
    def(`pool.set_${field}`, ["self", "value"], ({ args }) => {
      const ref = str(args, 0, "self");
      if (!e.pools.has(ref)) throw new XapiFault(ErrorCode.handleInvalid, ["pool", ref]);
      const value = str(args, 1, "value");
      e.pools.update(ref, (p) => {
        p[field] = value;
      });
      return "";
    });
  }
}
