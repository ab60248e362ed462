/**
 * XAPI class `task` (docs/simulator-behaviour.md#tasks): the lookups, cancel, destroy (deferred while
 * pending) and the
 * other_config setters.
 */
import { XapiFault } from "../../api";
import type { Engine } from "../engine";
import { str } from "../params";
import { NEVER } from "../records";
import { ErrorCode } from "../vocabulary";
import { type Def, lookups } from "./registry";

export function registerTask(def: Def, e: Engine): void {
  lookups(
    def,
    e,
    "task",
    e.tasks,
    {
      uuid: "",
      name_label: "",
      name_description: "",
      allowed_operations: [],
      current_operations: {},
      created: NEVER,
      finished: NEVER,
      status: "",
      resident_on: "",
      progress: 0,
      type: "",
      result: "",
      error_info: [],
      other_config: {},
      subtask_of: "",
      subtasks: [],
      backtrace: "",
    },
    { byName: true },
  );
  const taskRef = (ref: string): string => {
    if (!e.tasks.has(ref)) throw new XapiFault(ErrorCode.handleInvalid, ["task", ref]);
    return ref;
  };
  // Best effort and never refused for the task's status: a finished task stays as it is (xapi_task.ml
  // `cancel`: "it might actually have completed, we don't care").
  def("task.cancel", ["task"], ({ args }) => {
    const ref = taskRef(str(args, 0, "task"));
    e.taskRunner.cancel(ref);
    return "";
  });
  def("task.destroy", ["self"], ({ args }) => {
    const ref = taskRef(str(args, 0, "self"));
    const task = e.tasks.get(ref);
    if (task?.status === "pending") {
      // Deferred: the task is deleted when it completes (xapi_task.ml:37-44).
      e.tasks.update(ref, (t) => {
        t.current_operations = { ...t.current_operations, task: "destroy" };
      });
    } else {
      e.taskRunner.destroy(ref);
    }
    return "";
  });
  def("task.set_status", ["self", "value"], ({ args }) => {
    taskRef(str(args, 0, "self"));
    throw new XapiFault(ErrorCode.operationNotAllowed, ["task.set_status is not supported by xapi-sim"]);
  });
  def("task.add_to_other_config", ["self", "key", "value"], ({ args }) => {
    const ref = taskRef(str(args, 0, "self"));
    const key = str(args, 1, "key");
    const value = str(args, 2, "value");
    e.tasks.update(ref, (t) => {
      t.other_config = { ...t.other_config, [key]: value };
    });
    return "";
  });
  def("task.remove_from_other_config", ["self", "key"], ({ args }) => {
    const ref = taskRef(str(args, 0, "self"));
    const key = str(args, 1, "key");
    e.tasks.update(ref, (t) => {
      const { [key]: _, ...rest } = t.other_config;
      t.other_config = rest;
    });
    return "";
  });
}
