/**
 * vitest globalSetup: starts one shared redis-server for the whole run and provides its URL as
 * `inject("redisUrl")`, and one shared 3-master Redis Cluster, `inject("redisClusterUrl")`
 * (`redis+cluster://…`). Without a `redis-server` (or, for the cluster, `redis-cli`) binary the URL
 * is `""` and those tests skip (`describe.skipIf(!url)`), except on CI (`CI=true`), where the run
 * fails instead.
 *
 * Tests that stop, restart, flush or reconfigure Redis spawn their own server with `startRedis`.
 */
import type { TestProject } from "vitest/node";
import { hasRedisServer, startRedis } from "./redis-server.js";
import { hasRedisCli, startRedisCluster } from "./redis-cluster.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of the shared test redis-server, or `""` when redis-server is not installed. */
    redisUrl: string;
    /** `redis+cluster://` URL of the shared test cluster (3 masters), or `""` without redis-server/redis-cli. */
    redisClusterUrl: string;
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
    project.provide("redisClusterUrl", "");
    return undefined;
  }
  const withCluster = hasRedisCli();
  if (!withCluster) {
    if (process.env.CI === "true") {
      throw new Error("redis-cli is not installed but CI=true: the Redis Cluster tests cannot be skipped on CI (apt-get install -y redis-tools)");
    }
    console.warn("[cashews tests] redis-cli not found on PATH: Redis Cluster tests are skipped");
  }
  const [single, clustered] = await Promise.allSettled([startRedis(), withCluster ? startRedisCluster() : undefined]);
  if (single.status === "rejected" || clustered.status === "rejected") {
    if (single.status === "fulfilled") await single.value.stop();
    if (clustered.status === "fulfilled") await clustered.value?.stop();
    throw single.status === "rejected" ? single.reason : (clustered as PromiseRejectedResult).reason;
  }
  const [server, cluster] = [single.value, clustered.value];
  project.provide("redisUrl", server.url);
  project.provide("redisClusterUrl", cluster?.url ?? "");
  return async () => {
    await Promise.all([server.stop(), cluster?.stop()]);
  };
}
