/**
 * XAPI classes `SR`, `VDI` and `VBD` (the storage model of simulator/README.md "Disks"): the lookups,
 * `VDI.destroy` (VDI_IN_USE while attached to a live VM), the VDI name setters and the VBD setters, which
 * are DB writes with no power-state check (docs/simulator-behaviour.md#setters); `bootable` is read at the
 * next build.
 */
import { XapiFault } from "../../api";
import type { Engine } from "../engine";
import { bool, enumValue, str, strMap } from "../params";
import { defaultSrRecord, defaultVbdRecord, defaultVdiRecord } from "../records";
import { ErrorCode } from "../vocabulary";
import { type Def, lookups } from "./registry";

export function registerStorage(def: Def, e: Engine): void {
  lookups(def, e, "SR", e.srs, defaultSrRecord({ uuid: "", name_label: "" }), { byName: true });
  lookups(def, e, "VDI", e.vdis, defaultVdiRecord({ uuid: "", name_label: "" }), { byName: true });
  lookups(def, e, "VBD", e.vbds, defaultVbdRecord({ uuid: "", VM: "", userdevice: "0" }));

  for (const field of ["name_label", "name_description"] as const) {
    def(`VDI.set_${field}`, ["self", "value"], ({ args }) => {
      const ref = str(args, 0, "self");
      e.vdi(ref);
      const value = str(args, 1, "value");
      e.vdis.update(ref, (v) => {
        v[field] = value;
      });
      return "";
    });
  }
  // VDI.destroy: refused while a VBD of it is attached to a live VM; otherwise its VBDs go too.
  def(
    "VDI.destroy",
    ["self"],
    async ({ args, ctx }) => {
      const ref = str(args, 0, "self");
      const vdi = e.vdi(ref);
      if (vdi.VBDs.some((vbd) => e.vbds.get(vbd)?.currently_attached === true)) {
        throw new XapiFault(ErrorCode.vdiInUse, [ref, "destroy"]);
      }
      await e.clock.sleep(e.opMs("vdi_destroy"), ctx?.signal);
      e.storage.destroyVdi(ref);
      return "";
    },
    { async: true },
  );

  registerVbdSetters(def, e);
}

function registerVbdSetters(def: Def, e: Engine): void {
  const vbdRef = (args: readonly unknown[]): string => {
    const ref = str(args, 0, "self");
    e.vbd(ref);
    return ref;
  };
  // Generated RW setters of VBD fields: DB writes with no power-state check
  // (docs/simulator-behaviour.md#setters). `bootable` is
  // read at the next domain build (start or reboot), like the VM's boot fields
  // (docs/simulator-behaviour.md#boot-records).
  def("VBD.set_bootable", ["self", "value"], ({ args }) => {
    const ref = vbdRef(args);
    const value = bool(args, 1, "value");
    e.vbds.update(ref, (b) => {
      b.bootable = value;
    });
    return "";
  });
  def("VBD.set_mode", ["self", "value"], ({ args }) => {
    const ref = vbdRef(args);
    const value = enumValue(args, 1, "value", ["RO", "RW"] as const);
    e.vbds.update(ref, (b) => {
      b.mode = value;
    });
    return "";
  });
  def("VBD.set_other_config", ["self", "value"], ({ args }) => {
    const ref = vbdRef(args);
    const value = strMap(args, 1, "value");
    e.vbds.update(ref, (b) => {
      b.other_config = value;
    });
    return "";
  });
  def("VBD.add_to_other_config", ["self", "key", "value"], ({ args }) => {
    const ref = vbdRef(args);
    const key = str(args, 1, "key");
    const value = str(args, 2, "value");
    if (Object.hasOwn(e.vbd(ref).other_config, key)) {
      throw new XapiFault(ErrorCode.mapDuplicateKey, ["VBD", "other_config", ref, key]);
    }
    e.vbds.update(ref, (b) => {
      b.other_config = { ...b.other_config, [key]: value };
    });
    return "";
  });
  def("VBD.remove_from_other_config", ["self", "key"], ({ args }) => {
    const ref = vbdRef(args);
    const key = str(args, 1, "key");
    e.vbds.update(ref, (b) => {
      const { [key]: _, ...rest } = b.other_config;
      b.other_config = rest;
    });
    return "";
  });
}
