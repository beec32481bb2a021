/**
 * vitest globalSetup: starts one shared redis-server for the whole run and provides its URL as
 * `inject("redisUrl")`. Without a `redis-server` binary the URL is `""` and Redis tests skip
 * (`describe.skipIf(!url)`), except on CI (`CI=true`), where the run fails instead.
 *
 * Tests that stop, restart, flush or reconfigure Redis spawn their own server with `startRedis`.
 */
import type { TestProject } from "vitest/node";
import { hasRedisServer, startRedis } from "./redis-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of the shared test redis-server, or `""` when redis-server is not installed. */
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!hasRedisServer()) {
    if (process.env.CI === "true") {
      throw new Error(
        "redis-server is not installed but CI=true: the Redis tests cannot be skipped on CI (apt-get install -y redis-server)",
      );
    }
    console.warn("[cashews tests] redis-server not found on PATH: Redis tests are skipped");
    project.provide("redisUrl", "");
    return undefined;
  }
  const server = await startRedis();
  project.provide("redisUrl", server.url);
  return () => server.stop();
}
