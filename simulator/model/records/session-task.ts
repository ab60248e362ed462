/** The session and task records, in XAPI's wire field names. */
import type { StringMap } from "./wire";

export interface SessionRecord {
  uuid: string;
  this_host: string;
  this_user: string;
  last_active: string;
  pool: boolean;
  other_config: StringMap;
  is_local_superuser: boolean;
  subject: string;
  validation_time: string;
  auth_user_sid: string;
  auth_user_name: string;
  rbac_permissions: string[];
  tasks: string[];
  parent: string;
  originator: string;
  client_certificate: boolean;
}

export interface TaskRecord {
  uuid: string;
  name_label: string;
  name_description: string;
  allowed_operations: string[];
  current_operations: StringMap;
  created: string;
  finished: string;
  status: string;
  resident_on: string;
  progress: number;
  type: string;
  result: string;
  error_info: string[];
  other_config: StringMap;
  subtask_of: string;
  subtasks: string[];
  backtrace: string;
}
