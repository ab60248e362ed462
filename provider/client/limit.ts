/**
 * How many asynchronous tasks (lifecycle calls, clones, provisions) this process runs at once against one
 * pool: `pulumi up --parallel 64` must not flood it.
 *
 * Choice: at most {@link DEFAULT_MAX_CONCURRENT_OPERATIONS} = 4 by default, per pool URL, queued in this
 * process first come first served. Why 4: a VM operation runs in the xenopsd of the host the VM is on, and
 * xenopsd executes at most `worker-pool-size` operations at once, 4 unless configured
 * (ocaml/xenopsd/lib/xenopsd.ml `worker_pool_size = ref 4`, ocaml/xenopsd/xenopsd.conf `# worker-pool-size=4`;
 * the queue is ocaml/libs/xapi-work-queues: items of different VMs run in parallel "if enough workers are
 * available"). Beyond that, XAPI accepts the call and its task waits in xenopsd's queue, where its
 * per-operation timeout already runs; a provider cannot know the number of hosts nor where XAPI will place a
 * VM, and the smallest pool has one host, so 4 is the most that never queues inside XAPI. XAPI's own bulk
 * operation is in that range too: `Host.evacuate` migrates 10 VMs at a time across a whole pool
 * (ocaml/xapi/xapi_globs.ml `evacuation_batch_size = ref 10`). Bigger pools raise the setting
 * (`xapi:maxConcurrentOperations`, about 4 per host).
 *
 * A slot is held from the `Async.*` call until its task has ended; the task's `task.destroy` runs outside it,
 * so the next operation does not wait a round trip for a task that no longer runs in XAPI.
 *
 * The wait for a slot is NOT part of an operation's timeout: a call's `timeoutMs` starts when its task
 * exists, so it bounds the time XAPI spends on the task, never the time queued behind this process's own
 * tasks (each of which is bounded by its own timeout). A resource's `customTimeouts` still measure wall
 * time, queue included.
 */

/** The default number of tasks run at once per pool (module doc). */
export const DEFAULT_MAX_CONCURRENT_OPERATIONS = 4;

/** A counting semaphore with a first-come-first-served queue. */
export class OperationSlots {
  #limit: number;
  #used = 0;
  readonly #queue: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = checkedLimit(limit);
  }

  /** Slots in all; raising it lets waiting operations start at once. */
  get limit(): number {
    return this.#limit;
  }

  set limit(limit: number) {
    this.#limit = checkedLimit(limit);
    this.#grant();
  }

  /** Slots held now. */
  get inUse(): number {
    return this.#used;
  }

  /** Operations waiting for a slot. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Run `operation` holding one slot (waiting for one first); the slot is released however it ends, or
   * earlier when `operation` calls the release it is given (its task ended; only the cleanup is left).
   */
  async run<T>(operation: (release: () => void) => Promise<T>): Promise<T> {
    await this.#acquire();
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      this.#used--;
      this.#grant();
    };
    try {
      return await operation(release);
    } finally {
      release();
    }
  }

  #acquire(): Promise<void> {
    if (this.#used < this.#limit && this.#queue.length === 0) {
      this.#used++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#queue.push(resolve));
  }

  #grant(): void {
    while (this.#used < this.#limit && this.#queue.length > 0) {
      this.#used++;
      this.#queue.shift()?.();
    }
  }
}

function checkedLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(
      `Invalid maxConcurrentOperations: expected a whole number of at least 1, received ${limit}.`,
    );
  }
  return limit;
}
