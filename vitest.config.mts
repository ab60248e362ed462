import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Generous: only a hang should ever reach them (a busy 2-core machine must not fail a test).
    testTimeout: 300_000,
    hookTimeout: 600_000,
    // Simulator-backed tests open real sockets; forks isolate them cleanly.
    pool: "forks",
  },
});
