/** The published fields of every class xapi-sim serves. */
import { POOL_CLASS_FIELDS } from "../pool-records";
import { defaultHostRecord, defaultPoolRecord } from "./host";
import { defaultGuestMetricsRecord, defaultVmMetricsRecord } from "./metrics";
import { defaultNetworkRecord, defaultVifRecord } from "./network";
import { defaultSrRecord, defaultVbdRecord, defaultVdiRecord } from "./storage";
import { defaultVmRecord } from "./vm";

/**
 * The published fields of every class xapi-sim serves, in XAPI's record order: the keys of each
 * class's default record. A profile serves a subset (see `profiles.ts`).
 */
export const CLASS_FIELDS: Readonly<Record<string, readonly string[]>> = {
  session: [
    "uuid",
    "this_host",
    "this_user",
    "last_active",
    "pool",
    "other_config",
    "is_local_superuser",
    "subject",
    "validation_time",
    "auth_user_sid",
    "auth_user_name",
    "rbac_permissions",
    "tasks",
    "parent",
    "originator",
    "client_certificate",
  ],
  pool: Object.keys(defaultPoolRecord({ uuid: "", master: "" })),
  host: Object.keys(
    defaultHostRecord({ uuid: "", name_label: "", address: "", hostname: "", controlDomain: "" }),
  ),
  VM: Object.keys(defaultVmRecord({ uuid: "", name_label: "" })),
  task: [
    "uuid",
    "name_label",
    "name_description",
    "allowed_operations",
    "current_operations",
    "created",
    "finished",
    "status",
    "resident_on",
    "progress",
    "type",
    "result",
    "error_info",
    "other_config",
    "subtask_of",
    "subtasks",
    "backtrace",
  ],
  SR: Object.keys(defaultSrRecord({ uuid: "", name_label: "" })),
  VDI: Object.keys(defaultVdiRecord({ uuid: "", name_label: "" })),
  VBD: Object.keys(defaultVbdRecord({ uuid: "", VM: "", userdevice: "0" })),
  VM_metrics: Object.keys(defaultVmMetricsRecord({ uuid: "" })),
  VM_guest_metrics: Object.keys(defaultGuestMetricsRecord({ uuid: "" })),
  VIF: Object.keys(defaultVifRecord({ uuid: "", VM: "", network: "", device: "0", MAC: "" })),
  network: Object.keys(defaultNetworkRecord({ uuid: "", name_label: "" })),
  ...POOL_CLASS_FIELDS,
};
