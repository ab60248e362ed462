/**
 * What an end-to-end test file runs against: the Pulumi CLI (located, never built here) and an in-process
 * xapi-sim, a standalone host whose only user is `root`.
 */
import { type RunningSimulator, startSimulator } from "../../simulator";
import { locatePulumiCli } from "./harness";

/** The CLI and the simulator of one test file. */
export interface E2eRig {
  /** The directory holding the Pulumi CLI, `undefined` when there is none (then `cliMissing` says why). */
  readonly binDir: string | undefined;
  /**
   * Why no CLI was found. Kept rather than thrown, so that the simulator still starts; a file's stack
   * setup throws it, so nothing that needs the CLI passes without one.
   */
  readonly cliMissing: unknown;
  readonly sim: RunningSimulator;
}

/** Locates the Pulumi CLI and starts xapi-sim on a free port with the user `root` / `password`. */
export async function startRig(password: string): Promise<E2eRig> {
  let binDir: string | undefined;
  let cliMissing: unknown;
  try {
    binDir = await locatePulumiCli();
  } catch (err) {
    cliMissing = err;
  }
  const sim = await startSimulator({ port: 0, member: false, users: { root: password } });
  return { binDir, cliMissing, sim };
}
