#!/usr/bin/env node
/**
 * `xapi-review`: turns `pulumi preview --json` into a Markdown comment for a pull request.
 *
 *   pulumi preview --json | xapi-review > comment.md
 *   xapi-review preview.json
 *
 * It reads what the provider put in the preview (`.steps[].newState.inputs.__xapiPlan`, and the human
 * `plannedCalls` when a VM could not be planned from the pool) and the engine's diagnostics; it makes no
 * call and plans nothing itself. {@link renderReview} is the pure part (parsed JSON in, Markdown out).
 *
 * The summary line and the markers are defined in `review-markdown.ts`; the input is read in
 * `review-input.ts`.
 *
 * Exit codes: 0 comment written (also for a failed preview: the comment lists its errors); 2 unreadable
 * input or bad arguments (the reason on stderr); 1 a bug.
 */
import { readFileSync } from "node:fs";
import { parsePreviewText, ReviewInputError } from "./review-input";
import { renderReview } from "./review-markdown";

export {
  nameOf,
  type Plan,
  type PlanStep,
  parsePreviewText,
  ReviewInputError,
  VM_TYPE,
} from "./review-input";
export { COMMENT_MARKER, callText, renderReview, rowsOf } from "./review-markdown";

export const USAGE = `Usage: pulumi preview --json | xapi-review [-]
       xapi-review <preview.json>

Writes a Markdown review of the XenAPI calls a \`pulumi preview --json\` plans for every
pulumi-xapi VM: a one-line summary (VMs that change, restarts, hard stops), then per VM
a table of the planned calls with hard, destructive and image-discarding calls flagged,
what \`pulumi up\` does to deleted VMs, and the preview's errors.

Exit codes: 0 written; 2 unreadable input or bad arguments.`;

/** Output sinks and the input source, so tests and other callers can drive the CLI. */
export interface ReviewIo {
  readonly out: (text: string) => void;
  readonly err: (line: string) => void;
  /** The whole of stdin; `undefined` when stdin is a terminal (nothing piped). */
  readonly stdin: () => Promise<string | undefined>;
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io: ReviewIo): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  const unknown = argv.find((a) => a.startsWith("-") && a !== "-");
  if (unknown !== undefined || argv.length > 1) {
    io.err(
      `xapi-review: ${unknown === undefined ? "expected at most one file" : `unknown option ${unknown}`}`,
    );
    io.err(USAGE);
    return 2;
  }
  const file = argv[0] === undefined || argv[0] === "-" ? undefined : argv[0];
  try {
    let input: string;
    if (file === undefined) {
      const piped = await io.stdin();
      if (piped === undefined) {
        throw new ReviewInputError(
          "nothing on stdin: pipe `pulumi preview --json` into xapi-review, or give the file it wrote.",
        );
      }
      input = piped;
    } else {
      try {
        input = readFileSync(file, "utf8");
      } catch (error) {
        throw new ReviewInputError(`cannot read ${file}: ${(error as Error).message}`);
      }
    }
    io.out(renderReview(parsePreviewText(input, file ?? "stdin")));
    return 0;
  } catch (error) {
    if (error instanceof ReviewInputError) {
      io.err(`xapi-review: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

/**
 * All of stdin. Read as a stream: `readFileSync(0)` fails with EAGAIN when the pipe is non-blocking and the
 * writer (`pulumi preview`) has not written yet.
 */
async function readStdin(): Promise<string | undefined> {
  if (process.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}

if (require.main === module) {
  main(process.argv.slice(2), {
    out: (t) => process.stdout.write(t),
    err: (line) => process.stderr.write(`${line}\n`),
    stdin: readStdin,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `xapi-review: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
