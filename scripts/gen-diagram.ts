/**
 * Writes docs/lifecycle.md from the lifecycle table (provider/model/lifecycle.ts).
 *
 *   node -r ts-node/register/transpile-only scripts/gen-diagram.ts
 *
 * test/diagram.test.ts fails when the committed file no longer matches `renderLifecycleDoc()`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderMarkdownTable, renderMermaid } from "../provider/model/lifecycle";

/** Where the generated document lives, relative to the repository root. */
export const LIFECYCLE_DOC = join("docs", "lifecycle.md");

/** The whole generated document. */
export function renderLifecycleDoc(): string {
  return [
    "<!-- Generated from provider/model/lifecycle.ts by scripts/gen-diagram.ts: do not edit by hand.",
    "     Regenerate: node -r ts-node/register/transpile-only scripts/gen-diagram.ts",
    "     test/diagram.test.ts fails when this file no longer matches the model. -->",
    "",
    "# VM lifecycle",
    "",
    "The power states and XenAPI calls the planner works with: current XAPI, plus the XenAPI 1.0",
    "`Crashed` state, which can be observed but is entered by no call and left only by `VM.hard_shutdown`.",
    "Edge marks: `hard` = done without the guest's cooperation, `destructive` = loses guest memory or the",
    "suspend image, `never planned` = listed for completeness only (`VM.shutdown`).",
    "",
    "```mermaid",
    renderMermaid().trimEnd(),
    "```",
    "",
    "## Transitions",
    "",
    renderMarkdownTable().trimEnd(),
    "",
  ].join("\n");
}

if (require.main === module) {
  writeFileSync(join(__dirname, "..", LIFECYCLE_DOC), renderLifecycleDoc());
  process.stdout.write(`wrote ${LIFECYCLE_DOC}\n`);
}
