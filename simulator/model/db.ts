/**
 * xapi-sim's object database: one table per XAPI class, and a global generation counter that
 * stamps every create, modify and delete, the way xapi's DB cache does (it drives `event.from`).
 */

/** One live row: the record plus its creation and last-modification generations. */
export interface Row<T> {
  readonly ref: string;
  readonly value: T;
  readonly created: number;
  modified: number;
}

/** A deleted row, kept so `event.from` can report `del` (docs/simulator-behaviour.md#events). */
export interface Tombstone {
  readonly ref: string;
  readonly created: number;
  readonly deleted: number;
}

/** Most tombstones kept per table; older ones are forgotten (a client that far behind resyncs anyway). */
const MAX_TOMBSTONES = 5_000;

/** A generation-stamped table of records of one class. */
export class Table<T> {
  readonly rows = new Map<string, Row<T>>();
  readonly deleted = new Map<string, Tombstone>();
  constructor(
    readonly name: string,
    private readonly db: Db,
  ) {}

  get(ref: string): T | undefined {
    return this.rows.get(ref)?.value;
  }

  has(ref: string): boolean {
    return this.rows.has(ref);
  }

  get size(): number {
    return this.rows.size;
  }

  values(): T[] {
    return [...this.rows.values()].map((r) => r.value);
  }

  entries(): [string, T][] {
    return [...this.rows.values()].map((r) => [r.ref, r.value]);
  }

  insert(ref: string, value: T): T {
    const gen = this.db.bump();
    this.deleted.delete(ref);
    this.rows.set(ref, { ref, value, created: gen, modified: gen });
    this.db.changed(this.name);
    return value;
  }

  /** Mutates a row in place and stamps it; a no-op for a missing row. */
  update(ref: string, mutate: (value: T) => void): void {
    const row = this.rows.get(ref);
    if (!row) return;
    mutate(row.value);
    row.modified = this.db.bump();
    this.db.changed(this.name);
  }

  /** Stamps a row as modified without changing it (`event.inject`). */
  touch(ref: string): void {
    this.update(ref, () => undefined);
  }

  remove(ref: string): void {
    const row = this.rows.get(ref);
    if (!row) return;
    this.rows.delete(ref);
    this.deleted.set(ref, { ref, created: row.created, deleted: this.db.bump() });
    if (this.deleted.size > MAX_TOMBSTONES) {
      const oldest = this.deleted.keys().next().value;
      if (oldest !== undefined) this.deleted.delete(oldest);
    }
    this.db.changed(this.name);
  }
}

/** The database: tables, the generation counter, and change notification. */
export class Db {
  private generation = 0;
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(table: string) => void>();

  /** The newest generation handed out. */
  get gen(): number {
    return this.generation;
  }

  /** @internal Hands out the next generation. */
  bump(): number {
    this.generation += 1;
    return this.generation;
  }

  table<T>(name: string): Table<T> {
    return new Table<T>(name, this);
  }

  /** @internal Wakes every waiter and tells listeners which table changed. */
  changed(table: string): void {
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiting) wake();
    for (const listener of this.listeners) listener(table);
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: (table: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves at the next change, or after `ms`, whichever comes first. */
  waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, clampDelay(ms));
      this.waiters.add(wake);
    });
  }

  /** Wakes every waiter now (used by `close()`). */
  wakeAll(): void {
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiting) wake();
  }
}

/**
 * setTimeout's largest delay; a larger one fires after 1 ms (TimeoutOverflowWarning), so waits are clamped.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A delay setTimeout honours: negative → 0, beyond {@link MAX_TIMER_MS} → that (callers loop on their
 * deadline).
 */
export function clampDelay(ms: number): number {
  return Math.min(Math.max(0, ms), MAX_TIMER_MS);
}
