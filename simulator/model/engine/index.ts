/**
 * The stateful core of xapi-sim's model, composed of its units: the tables ({@link Tables}), the clock,
 * tasks, storage, network, metrics, VM state and lifecycle bookkeeping, VM creation and deletion, and
 * persistence. The class messages (`classes/`), dispatch (`dispatch.ts`) and the control API
 * (`control/`) use it.
 */
import type { XValue } from "../../api";
import type { CheckOptions } from "../checks";
import { fieldsOf, PROFILES, type ProfileName, type SimProfile } from "../profiles";
import { toWire } from "../records";
import { closedFault, SimClock } from "./clock";
import { Domains } from "./domain";
import { Metrics } from "./metrics";
import { Network } from "./network";
import { Persistence } from "./persistence";
import { Storage } from "./storage";
import { Tables } from "./tables";
import { TaskRunner } from "./tasks";
import { VmObjects } from "./vm-objects";
import { VmState } from "./vm-state";

export { closedFault } from "./clock";
export { guestCooperation } from "./domain";
export { type ProvisionDisk, parseProvisionDisks } from "./provision-xml";
export { xmlRpcValue } from "./tasks";
export { randomMac } from "./vm-objects";

/** Run-time knobs (the `config` control op changes them). */
export interface SimConfig {
  /** The XAPI generation played (fixed for the model's life; `config` shows it). */
  readonly profile: ProfileName;
  users: Record<string, string>;
  masterAddress: string;
  memberAddress: string;
  defaultOperationMs: number;
  operationMs: Partial<Record<string, number>>;
  cleanShutdownTimeoutMs: number;
  /** How long a lifecycle call blocks and retries on OTHER_OPERATION_IN_PROGRESS (XAPI: up to 2 h). */
  operationWaitMs: number;
  authFailureDelayMs: number;
  crashedCompat: boolean;
  /** Added to every call (fault injection). */
  latencyMs: number;
}

/** The per-call context a task-running implementation receives. */
export interface OpContext {
  /** The task the call runs as (sync calls to async-capable messages get one too). */
  readonly task: string;
  /** Aborted when the task is cancelled (reason: TASK_CANCELLED) or the model closes. */
  readonly signal: AbortSignal;
}

/** OCaml's `string_of_float`, which XAPI uses for timeouts in error params ("1200." for 1200). */
export function ocamlFloat(value: number): string {
  if (Number.isInteger(value)) return `${value}.`;
  return String(Number(value.toPrecision(12)));
}

export class Engine extends Tables {
  readonly clock: SimClock;
  readonly taskRunner = new TaskRunner(this);
  readonly storage = new Storage(this);
  readonly network = new Network(this);
  readonly metrics = new Metrics(this);
  readonly vmState = new VmState(this);
  readonly domains = new Domains(this);
  readonly vmObjects = new VmObjects(this);
  readonly persistence = new Persistence(this);
  /** The domid the next domain gets. */
  nextDomid = 1;
  private readonly wireFields = new Map<string, string[]>();

  constructor(
    readonly config: SimConfig,
    now: () => number = () => Date.now(),
  ) {
    super();
    this.clock = new SimClock(this.db, now);
  }

  /** The XAPI generation this model plays. */
  get profile(): SimProfile {
    return PROFILES[this.config.profile];
  }

  get checkOptions(): CheckOptions {
    return { crashedCompat: this.config.crashedCompat };
  }

  /** A record as the profile serves it: its published fields (those of the profile's release), typed. */
  wire(cls: string, record: object): { [key: string]: XValue } {
    let fields = this.wireFields.get(cls);
    if (fields === undefined) {
      fields = fieldsOf(this.profile, cls);
      this.wireFields.set(cls, fields);
    }
    return toWire(cls, record, fields.length > 0 ? fields : undefined);
  }

  /** Simulated duration of an op. */
  opMs(op: string): number {
    return this.config.operationMs[op] ?? this.config.defaultOperationMs;
  }

  /** Ends every sleep, fails every running op with INTERNAL_ERROR and wakes every waiter. */
  close(): void {
    this.clock.close();
    this.taskRunner.abortAll(closedFault());
    this.db.wakeAll();
  }
}
