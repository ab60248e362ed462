/**
 * Running the official Python `XenAPI` binding (PyPI `XenAPI`, test/requirements.txt) unmodified in a
 * python3 child process, for the tests that check xapi-sim through it.
 */
import { type ExecFileOptions, execFile } from "node:child_process";

/** The interpreter: `PYTHON` from the environment, else python3. */
export const PYTHON = process.env.PYTHON ?? "python3";

/**
 * Python code a prologue includes after `import XenAPI`: `failure_of(fn, *args)` calls `fn` and returns
 * the details of the `XenAPI.Failure` it raises (`[code, *params]`), or `None` when it succeeds.
 */
export const FAILURE_OF = `
def failure_of(fn, *args):
    try:
        fn(*args)
    except XenAPI.Failure as failure:
        return failure.details
    return None
`;

/** Runs `code` with `args` as `sys.argv[1:]`; resolves with the JSON document of its last output line. */
export function runPython(
  code: string,
  args: readonly string[],
  options: ExecFileOptions = {},
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ["-c", code, ...args], options, (error, stdout, stderr) => {
      if (error) return reject(new Error(`python failed: ${error.message}\n${stderr}`));
      const lines = String(stdout).trim().split("\n");
      resolve(JSON.parse(lines[lines.length - 1] ?? "null"));
    });
  });
}
