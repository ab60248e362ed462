/**
 * XAPI class `host`: the lookups and the server clock. Its metrics, PIFs and PBDs are classes of their
 * own (host-metrics.ts, pif.ts, pbd.ts).
 */
import { XDateTime } from "../../api";
import type { Engine } from "../engine";
import { str } from "../params";
import { defaultHostRecord, xapiDate } from "../records";
import { type Def, lookups } from "./registry";

export function registerHost(def: Def, e: Engine): void {
  lookups(
    def,
    e,
    "host",
    e.hosts,
    defaultHostRecord({ uuid: "", name_label: "", address: "", hostname: "", controlDomain: "" }),
    { byName: true },
  );
  def("host.get_servertime", ["host"], ({ args }) => {
    e.host(str(args, 0, "host"));
    return new XDateTime(xapiDate(e.clock.now()));
  });
  def("host.get_server_localtime", ["host"], ({ args }) => {
    e.host(str(args, 0, "host"));
    return new XDateTime(xapiDate(e.clock.now()));
  });
}
