/**
 * XAPI tasks: creation (the fields `ocaml/idl/datamodel.ml` declares for `task`), the abort signal a
 * cancel raises, completion with the result XML-RPC-encoded, deferred destroy, and the collection of
 * completed tasks nobody destroyed.
 */
import { XapiFault, type XValue } from "../../api";
import { encodeXmlRpcValue } from "../../wire/xmlrpc";
import { NEVER, newRef, newUuid, xapiDate } from "../records";
import { ErrorCode, NULL_REF } from "../vocabulary";
import type { Engine } from ".";

interface TaskRuntime {
  readonly controller: AbortController;
  readonly session: string | undefined;
}

/** Completed tasks older than this are garbage-collected, as XAPI's DB GC does (`ocaml/xapi/db_gc.ml`). */
const TASK_GC_MS = 60 * 60 * 1000;
/** At most this many completed tasks are kept. */
const MAX_COMPLETED_TASKS = 2_000;

/**
 * XAPI's task `result`: the XML-RPC serialisation of the return value (`ocaml/xapi/taskHelper.ml`), with
 * the same encoder the wire uses, so structs, floats and datetimes come out exactly as XAPI writes them.
 */
export function xmlRpcValue(value: XValue): string {
  return encodeXmlRpcValue(value);
}

export class TaskRunner {
  readonly runtime = new Map<string, TaskRuntime>();
  /** Completion time (epoch ms) of each completed task, oldest first, for the task GC. */
  private readonly completedAt = new Map<string, number>();

  constructor(private readonly e: Engine) {}

  /** Creates a pending task, linked to its session. */
  create(label: string, session: string | undefined): string {
    this.collect();
    const e = this.e;
    const ref = newRef();
    const now = xapiDate(e.clock.now());
    e.tasks.insert(ref, {
      uuid: newUuid(),
      name_label: label,
      name_description: "",
      allowed_operations: ["cancel"],
      current_operations: {},
      created: now,
      finished: NEVER,
      status: "pending",
      resident_on: e.masterRef,
      progress: 0,
      type: "<none/>",
      result: "",
      error_info: [],
      other_config: {},
      subtask_of: NULL_REF,
      subtasks: [],
      backtrace: "()",
    });
    this.runtime.set(ref, { controller: new AbortController(), session });
    if (session && e.sessions.has(session)) {
      e.sessions.update(session, (s) => {
        s.tasks = [...s.tasks, ref];
      });
    }
    return ref;
  }

  /** The signal that aborts when `task` is cancelled. */
  signal(task: string): AbortSignal {
    const rt = this.runtime.get(task);
    if (rt) return rt.controller.signal;
    return new AbortController().signal;
  }

  /** Marks a task finished: success with the XML-RPC-encoded result, or failure/cancelled. */
  finish(ref: string, outcome: { ok: true; value: XValue } | { ok: false; error: XapiFault }): void {
    const e = this.e;
    const task = e.tasks.get(ref);
    this.runtime.delete(ref);
    if (task?.status !== "pending") return;
    e.tasks.update(ref, (t) => {
      t.progress = 1;
      t.finished = xapiDate(e.clock.now());
      t.allowed_operations = [];
      const deferred = Object.values(t.current_operations).includes("destroy");
      t.current_operations = deferred ? { task: "destroy" } : {};
      if (outcome.ok) {
        t.status = "success";
        t.result = xmlRpcValue(outcome.value);
      } else {
        t.status = outcome.error.code === ErrorCode.taskCancelled ? "cancelled" : "failure";
        t.error_info = [outcome.error.code, ...outcome.error.params];
      }
    });
    this.completedAt.set(ref, e.clock.now());
    // A destroy that arrived while the task was pending runs now (`ocaml/xapi/xapi_task.ml`, `destroy`).
    if (Object.values(e.tasks.get(ref)?.current_operations ?? {}).includes("destroy")) this.destroy(ref);
  }

  /** Deletes completed tasks that clients never destroyed: older than an hour, or beyond the cap. */
  private collect(): void {
    const cutoff = this.e.clock.now() - TASK_GC_MS;
    for (const [ref, at] of this.completedAt) {
      if (at >= cutoff && this.completedAt.size <= MAX_COMPLETED_TASKS) break;
      this.destroy(ref);
    }
  }

  /** Deletes a task (its op, if still running, ends with TASK_CANCELLED) and unlinks it from its session. */
  destroy(ref: string): void {
    const e = this.e;
    const rt = this.runtime.get(ref);
    this.runtime.delete(ref);
    this.completedAt.delete(ref);
    rt?.controller.abort(new XapiFault(ErrorCode.taskCancelled, [ref]));
    e.tasks.remove(ref);
    for (const [sref, s] of e.sessions.entries()) {
      if (s.tasks.includes(ref)) {
        e.sessions.update(sref, (x) => {
          x.tasks = x.tasks.filter((t) => t !== ref);
        });
      }
    }
  }

  /** Cancels a pending task: its op ends with TASK_CANCELLED [task] (best effort, as in XAPI). */
  cancel(ref: string): void {
    const rt = this.runtime.get(ref);
    const task = this.e.tasks.get(ref);
    if (!task || !rt || task.status !== "pending") return;
    this.e.tasks.update(ref, (t) => {
      t.current_operations = { ...t.current_operations, [newRef()]: "cancel" };
    });
    rt.controller.abort(new XapiFault(ErrorCode.taskCancelled, [ref]));
  }

  /** Aborts every running task's op (the model closes). */
  abortAll(reason: XapiFault): void {
    for (const rt of this.runtime.values()) rt.controller.abort(reason);
  }
}
