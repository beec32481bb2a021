import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: "forks",
    // Two files at a time: most tests wait on Redis, the REST server, workerd or child processes,
    // and vitest's default on a 2-core machine (one worker) left the second core idle. Tests that
    // stop, flush or reconfigure a server start their own (test/support/redis-server.ts).
    maxWorkers: 2,
  },
});
