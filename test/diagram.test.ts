import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderMermaid } from "../provider/model/lifecycle";
import { LIFECYCLE_DOC, renderLifecycleDoc } from "../scripts/gen-diagram";

const committed = readFileSync(join(__dirname, "..", LIFECYCLE_DOC), "utf8");

describe("docs/lifecycle.md", () => {
  it("is exactly what scripts/gen-diagram.ts generates from the model (regenerate it if this fails)", () => {
    expect(committed).toBe(renderLifecycleDoc());
  });

  it("contains the mermaid diagram of the current model", () => {
    expect(committed).toContain(`\`\`\`mermaid\n${renderMermaid()}\`\`\``);
  });
});
