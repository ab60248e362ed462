/**
 * `--state FILE`: xapi-sim's persistence, so that VMs survive restarts between `pulumi up` runs.
 *
 * The file holds `{ "format": "xapi-sim-state", "version": 1, "state": <model.exportState()> }`.
 * Writes are atomic (temp file in the same directory, fsync, rename, fsync of the directory), so a crash
 * leaves either the old or the new content. A file that cannot be read or parsed is reported with a
 * {@link StateFileError} naming the file and the problem, and is never overwritten.
 */

import fs from "node:fs";
import path from "node:path";

/** Why a state file could not be used. Callers branch on `code`, never on the message. */
export const StateFileErrorCode = {
  /** The file exists but could not be read (permissions, a directory, I/O error). */
  Unreadable: "STATE_FILE_UNREADABLE",
  /**
   * The file was read but is not a xapi-sim state file (bad JSON, wrong format, or rejected by the model).
   */
  Corrupt: "STATE_FILE_CORRUPT",
  /** The new state could not be written. */
  Unwritable: "STATE_FILE_UNWRITABLE",
} as const;
export type StateFileErrorCode = (typeof StateFileErrorCode)[keyof typeof StateFileErrorCode];

/** A state file problem; the message names the file, the problem and what to do. */
export class StateFileError extends Error {
  override readonly name = "StateFileError";
  constructor(
    readonly code: StateFileErrorCode,
    readonly file: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${describeCode(code)} ${file}: ${problem}`, options);
  }
}

function describeCode(code: StateFileErrorCode): string {
  switch (code) {
    case StateFileErrorCode.Unreadable:
      return "Cannot read xapi-sim state file";
    case StateFileErrorCode.Corrupt:
      return "Corrupt xapi-sim state file (left untouched; fix or delete it to start from the fixture)";
    case StateFileErrorCode.Unwritable:
      return "Cannot write xapi-sim state file";
  }
}

const FORMAT = "xapi-sim-state";
const VERSION = 1;

/**
 * Read a state file.
 *
 * @returns the model snapshot stored in it, or `undefined` when the file does not exist (start from the
 * fixture).
 * @throws StateFileError `STATE_FILE_UNREADABLE` or `STATE_FILE_CORRUPT`.
 */
export function readStateFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    if (isErrno(error, "ENOENT")) return undefined;
    throw new StateFileError(StateFileErrorCode.Unreadable, file, describeErrno(error), { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const problem = text.trim() === "" ? "the file is empty" : `invalid JSON (${(error as Error).message})`;
    throw new StateFileError(StateFileErrorCode.Corrupt, file, problem, { cause: error });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new StateFileError(StateFileErrorCode.Corrupt, file, "expected a JSON object");
  }
  const envelope = parsed as Record<string, unknown>;
  if (envelope.format !== FORMAT) {
    throw new StateFileError(
      StateFileErrorCode.Corrupt,
      file,
      `expected "format": "${FORMAT}", found ${JSON.stringify(envelope.format) ?? "nothing"}`,
    );
  }
  if (envelope.version !== VERSION) {
    throw new StateFileError(
      StateFileErrorCode.Corrupt,
      file,
      `unsupported version ${JSON.stringify(envelope.version) ?? "(missing)"}; this xapi-sim reads version ${VERSION}`,
    );
  }
  if (!("state" in envelope)) throw new StateFileError(StateFileErrorCode.Corrupt, file, 'missing "state"');
  return envelope.state;
}

/**
 * Replace the state file atomically with `state` (a value from `model.exportState()`).
 *
 * @throws StateFileError `STATE_FILE_UNWRITABLE`.
 */
export function writeStateFile(file: string, state: unknown): void {
  const text = `${JSON.stringify({ format: FORMAT, version: VERSION, state }, null, 2)}\n`;
  const dir = path.dirname(path.resolve(file));
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = fs.openSync(temp, "w", 0o600);
    try {
      fs.writeFileSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw new StateFileError(StateFileErrorCode.Unwritable, file, describeErrno(error), { cause: error });
  }
  syncDirectory(dir);
}

// Makes the rename itself durable; not every platform lets a directory be fsync'd, so failures are ignored.
function syncDirectory(dir: string): void {
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // best effort
  }
}

/** The part of the model persistence needs. */
export interface PersistableModel {
  exportState(): unknown;
  onChange(listener: () => void): () => void;
}

/** A running persistence subscription. */
export interface StatePersistence {
  /** Write now if anything changed since the last write. */
  flush(): void;
  /** Flush and stop listening. */
  stop(): void;
}

/**
 * Persist `model` to `file` after every change. Changes within one event-loop turn are coalesced into a
 * single write (a lifecycle call can change several objects at once); `flush()` writes synchronously.
 *
 * @param onError where write failures go (they must not crash the simulator); default: stderr.
 */
export function persistModel(
  model: PersistableModel,
  file: string,
  onError: (error: StateFileError) => void = (error) => process.stderr.write(`xapi-sim: ${error.message}\n`),
): StatePersistence {
  let dirty = false;
  let scheduled: NodeJS.Immediate | undefined;
  const flush = () => {
    if (scheduled !== undefined) clearImmediate(scheduled);
    scheduled = undefined;
    if (!dirty) return;
    dirty = false;
    try {
      writeStateFile(file, model.exportState());
    } catch (error) {
      if (error instanceof StateFileError) onError(error);
      else throw error;
    }
  };
  const unsubscribe = model.onChange(() => {
    dirty = true;
    scheduled ??= setImmediate(flush);
  });
  return {
    flush,
    stop() {
      unsubscribe();
      flush();
    },
  };
}

function isErrno(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && (error as NodeJS.ErrnoException).code === code;
}

function describeErrno(error: unknown): string {
  const errno = error as NodeJS.ErrnoException;
  if (errno?.code === "EACCES" || errno?.code === "EPERM") return `permission denied (${errno.code})`;
  if (errno?.code === "EISDIR") return "it is a directory (EISDIR)";
  if (errno?.code === "ENOENT") return "the directory does not exist (ENOENT)";
  return error instanceof Error ? error.message : String(error);
}
