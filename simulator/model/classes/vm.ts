/**
 * XAPI class `VM`, its lookups and setters (docs/simulator-behaviour.md#setters): generated read-write
 * setters are DB writes
 * with no power-state check (docs/simulator-behaviour.md#setters); `domain_type` and `HVM_boot_policy`
 * rewrite each other (docs/simulator-behaviour.md#domain-type);
 * `blocked_operations` keys are vm_operations. The lifecycle calls are in vm-lifecycle.ts.
 */
import { XapiFault } from "../../api";
import { deriveDomainType, deriveHvmBootPolicy } from "../boot";
import type { Engine } from "../engine";
import { bool, enumValue, num, str, strList, strMap } from "../params";
import { defaultVmRecord, type StringMap, xapiDate } from "../records";
import {
  CrashAction,
  DOMAIN_TYPES,
  ErrorCode,
  NormalExitAction,
  parseVmOperation,
  type VmOperation,
} from "../vocabulary";
import { type Def, lookups } from "./registry";
import { registerVmSizing } from "./vm-sizing";

type Setter = (field: string, impl: (ref: string, args: readonly unknown[]) => void) => void;

/** Registers `VM.<field>` (set_/add_to_/remove_from_) after checking the VM ref, returning void. */
function vmSetter(def: Def, e: Engine): Setter {
  return (field, impl) => {
    def(
      `VM.${field}`,
      field.startsWith("add_to")
        ? ["self", "key", "value"]
        : field.startsWith("remove_from")
          ? ["self", "key"]
          : ["self", "value"],
      ({ args }) => {
        const ref = str(args, 0, "self");
        e.vm(ref);
        impl(ref, args);
        return "";
      },
    );
  };
}

/**
 * A `vm_operations` key of blocked_operations (OPERATION_BLOCKED,
 * docs/simulator-behaviour.md#operation-checks); INVALID_VALUE otherwise.
 */
function opKey(value: string): VmOperation {
  const op = parseVmOperation(value);
  if (!op) throw new XapiFault(ErrorCode.invalidValue, ["key", value]);
  return op;
}

export function registerVm(def: Def, e: Engine): void {
  lookups(def, e, "VM", e.vms, defaultVmRecord({ uuid: "", name_label: "" }), { byName: true });
  def("VM.get_boot_record", ["self"], ({ args }) => e.wire("VM", e.vm(str(args, 0, "self"))));
  registerScalarSetters(def, e);
  registerMapSetters(def, e);
  registerModeSetters(def, e);
  registerTemplateAndTags(def, e);
  registerVmSizing(def, e);
}

function registerScalarSetters(def: Def, e: Engine): void {
  const setter = vmSetter(def, e);
  // Generated RW setters: DB writes with no power-state check (docs/simulator-behaviour.md#setters).
  for (const field of [
    "name_label",
    "name_description",
    "PV_bootloader",
    "PV_kernel",
    "PV_ramdisk",
    "PV_args",
    "PV_bootloader_args",
    "PV_legacy_args",
    "ha_restart_priority",
    "suspend_SR",
    "affinity",
  ] as const) {
    setter(`set_${field}`, (ref, args) => {
      const value = str(args, 1, "value");
      e.vmState.update(ref, (vm) => {
        vm[field] = value;
      });
    });
  }
  for (const field of ["start_delay", "shutdown_delay", "order", "user_version"] as const) {
    setter(`set_${field}`, (ref, args) => {
      const value = num(args, 1, "value");
      e.vmState.update(ref, (vm) => {
        vm[field] = value;
      });
    });
  }
  setter("set_ha_always_run", (ref, args) => {
    const value = bool(args, 1, "value");
    e.vmState.update(ref, (vm) => {
      vm.ha_always_run = value;
    });
  });
}

function registerMapSetters(def: Def, e: Engine): void {
  const setter = vmSetter(def, e);
  const mapFields = ["HVM_boot_params", "other_config", "platform", "xenstore_data", "VCPUs_params"] as const;
  for (const field of mapFields) {
    setter(`set_${field}`, (ref, args) => {
      const value = strMap(args, 1, "value");
      e.vmState.update(ref, (vm) => {
        vm[field] = value;
      });
    });
    setter(`add_to_${field}`, (ref, args) => {
      const key = str(args, 1, "key");
      const value = str(args, 2, "value");
      if (Object.hasOwn(e.vm(ref)[field], key)) {
        throw new XapiFault(ErrorCode.mapDuplicateKey, ["VM", field, ref, key]);
      }
      e.vmState.update(ref, (vm) => {
        vm[field] = { ...vm[field], [key]: value };
      });
    });
    setter(`remove_from_${field}`, (ref, args) => {
      const key = str(args, 1, "key");
      e.vmState.update(ref, (vm) => {
        const { [key]: _, ...rest } = vm[field] as StringMap;
        vm[field] = rest;
      });
    });
  }
  // blocked_operations: keys are vm_operations (OPERATION_BLOCKED,
  // docs/simulator-behaviour.md#operation-checks).
  setter("set_blocked_operations", (ref, args) => {
    const value = strMap(args, 1, "value");
    const clean: StringMap = {};
    for (const [k, v] of Object.entries(value)) clean[opKey(k)] = v;
    e.vmState.update(ref, (vm) => {
      vm.blocked_operations = clean;
    });
  });
  setter("add_to_blocked_operations", (ref, args) => {
    const key = opKey(str(args, 1, "key"));
    const value = str(args, 2, "value");
    if (Object.hasOwn(e.vm(ref).blocked_operations, key)) {
      throw new XapiFault(ErrorCode.mapDuplicateKey, ["VM", "blocked_operations", ref, key]);
    }
    e.vmState.update(ref, (vm) => {
      vm.blocked_operations = { ...vm.blocked_operations, [key]: value };
    });
  });
  setter("remove_from_blocked_operations", (ref, args) => {
    const key = opKey(str(args, 1, "key"));
    e.vmState.update(ref, (vm) => {
      const { [key]: _, ...rest } = vm.blocked_operations;
      vm.blocked_operations = rest;
    });
  });
}

function registerModeSetters(def: Def, e: Engine): void {
  const setter = vmSetter(def, e);
  // The domain_type ↔ HVM_boot_policy coupling (docs/simulator-behaviour.md#domain-type): each setter
  // rewrites the other field.
  setter("set_domain_type", (ref, args) => {
    const value = enumValue(args, 1, "value", DOMAIN_TYPES);
    if (value === "unspecified") throw new XapiFault(ErrorCode.invalidValue, ["domain_type", "unspecified"]);
    e.vmState.update(ref, (vm) => {
      vm.domain_type = value;
      vm.HVM_boot_policy = deriveHvmBootPolicy(value);
    });
  });
  setter("set_HVM_boot_policy", (ref, args) => {
    const value = str(args, 1, "value");
    e.vmState.update(ref, (vm) => {
      // Before kolkata the setter is a plain field write: there is no domain_type to keep in step.
      if (e.profile.domainType) vm.domain_type = deriveDomainType(value);
      vm.HVM_boot_policy = value;
    });
  });
  setter("set_actions_after_crash", (ref, args) => {
    const value = enumValue(args, 1, "value", Object.values(CrashAction));
    e.vmState.update(ref, (vm) => {
      vm.actions_after_crash = value;
    });
  });
  for (const field of ["actions_after_shutdown", "actions_after_reboot"] as const) {
    setter(`set_${field}`, (ref, args) => {
      const value = enumValue(args, 1, "value", Object.values(NormalExitAction));
      e.vmState.update(ref, (vm) => {
        vm[field] = value;
      });
    });
  }
  setter("set_actions_after_softreboot", (ref, args) => {
    const value = enumValue(args, 1, "value", ["soft_reboot", "destroy", "restart", "preserve"]);
    e.vmState.update(ref, (vm) => {
      vm.actions_after_softreboot = value;
    });
  });
}

function registerTemplateAndTags(def: Def, e: Engine): void {
  const setter = vmSetter(def, e);
  // set_is_a_template(true) runs as op make_into_template (Halted only); false is unrestricted
  // (docs/simulator-behaviour.md#setters).
  setter("set_is_a_template", (ref, args) => {
    const value = bool(args, 1, "value");
    if (value) {
      const error = e.vmState.checkOp(ref, "make_into_template");
      if (error) throw error;
    }
    e.vmState.update(ref, (vm) => {
      vm.is_a_template = value;
      if (!value) vm.is_default_template = false;
    });
    // "We define a 'set_is_a_template false' as 'install time'" (xapi_vm_helpers.ml `set_is_a_template`).
    if (!value) {
      const metrics = e.metrics.ensure(ref);
      e.vmMetrics.update(metrics, (m) => {
        m.install_time = xapiDate(e.clock.now());
      });
    }
  });
  setter("set_tags", (ref, args) => {
    const value = strList(args, 1, "value");
    e.vmState.update(ref, (vm) => {
      vm.tags = value;
    });
  });
  def("VM.add_tags", ["self", "value"], ({ args }) => {
    const ref = str(args, 0, "self");
    const tag = str(args, 1, "value");
    e.vm(ref);
    e.vmState.update(ref, (vm) => {
      if (!vm.tags.includes(tag)) vm.tags = [...vm.tags, tag];
    });
    return "";
  });
  def("VM.remove_tags", ["self", "value"], ({ args }) => {
    const ref = str(args, 0, "self");
    const tag = str(args, 1, "value");
    e.vm(ref);
    e.vmState.update(ref, (vm) => {
      vm.tags = vm.tags.filter((t) => t !== tag);
    });
    return "";
  });

  def("VM.assert_operation_valid", ["self", "op"], ({ args }) => {
    const ref = str(args, 0, "self");
    const raw = str(args, 1, "op");
    e.vm(ref);
    const op = parseVmOperation(raw);
    if (!op) throw new XapiFault(ErrorCode.invalidValue, ["op", raw]);
    const error = e.vmState.checkOp(ref, op);
    if (error) throw error;
    return "";
  });
  def(
    "VM.update_allowed_operations",
    ["self"],
    ({ args }) => {
      const ref = str(args, 0, "self");
      e.vm(ref);
      e.vmState.update(ref, () => undefined);
      return "";
    },
    { async: true },
  );
}
