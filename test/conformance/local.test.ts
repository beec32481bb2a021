// The conformance suite (cashews/testing, src/testing/) on remote stores with a local tier
// (`?local=1`): the tier must be invisible except for speed and its stated staleness bound.
// upstash:// through its local REST server (in front of the shared redis-server) and the real
// @upstash/redis client; Redis Cluster (the shared one; its tier's bus is Redis pub/sub);
// deno-kv:// through @deno/kv on a SQLite file of its own.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import "../../src/deno-kv.js";
import "../../src/cloudflare-kv.js";
import { conformanceSuite } from "../../src/testing/index.js";
import { startKv } from "../support/kv.js";
import type { ConformanceTarget } from "../../src/testing/target.js";
import { networkConformanceSuite, upstashTarget } from "../support/backends.js";

const redisUrl = inject("redisUrl");
const redisClusterUrl = inject("redisClusterUrl");

/**
 * Without a bus a local tier's ttl is its staleness bound: the two tests of the suite that read
 * another cache's write at once (hit's shared count, early's one refresh seen by both) skip.
 */
const staleAcross = "a local tier without a bus sees another instance's write within its ttl (5 s), not at once";

/** `upstashTarget` with `?local=1` on its URL. */
function localUpstash(options: Record<string, unknown>): Pick<ConformanceTarget, "url" | "start" | "staleAcross"> {
  const target = upstashTarget(redisUrl, options);
  return {
    // With the invalidation bus, another instance's write is dropped here within milliseconds, not at once.
    staleAcross: "another instance's write reaches this local copy over the bus within milliseconds, not at once",
    url: target.url,
    start: async () => {
      const started = await target.start!();
      return { ...started, url: `${started.url}?local=1` };
    },
  };
}

/** A deno-kv:// target with `?local=1` on a database file of its own. */
function localDenoKv(name: string, options: Record<string, unknown>): ConformanceTarget {
  return {
    name,
    staleAcross,
    url: () => "deno-kv://started-in-beforeAll?local=1",
    start: async () => {
      const dir = mkdtempSync(join(tmpdir(), "cashews-denokv-local-"));
      return {
        url: `deno-kv://${join(dir, "cache.db")}?local=1`,
        options,
        stop: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  };
}

networkConformanceSuite({ name: "upstash://?local=1", ...localUpstash({ namespace: "conf-up-local" }) });
networkConformanceSuite({ name: "upstash://?local=1 (secret)", ...localUpstash({ namespace: "conf-up-local-signed", secret: "s3cret" }) });
networkConformanceSuite({
  name: "redis+cluster://?local=1",
  staleAcross: "another instance's write reaches this local copy over the pub/sub bus within milliseconds, not at once",
  url: () => redisClusterUrl && `${redisClusterUrl}?local=1`,
  options: { namespace: "conf-cl-local" },
});
networkConformanceSuite(localDenoKv("deno-kv://?local=1", { namespace: "conf-dkv-local" }));
networkConformanceSuite(localDenoKv("deno-kv://?local=1 (secret)", { namespace: "conf-dkv-local-signed", secret: "s3cret" }));

// Workers KV: eventually consistent anyway (no test of two caches runs on it); the tier on top.
const startKvTarget = async (): Promise<{ options: Record<string, unknown>; stop: () => Promise<void> }> => {
  const server = await startKv(["KV"]);
  return { options: { binding: server.kv }, stop: server.stop };
};
conformanceSuite({ name: "cloudflare-kv://?local=1", url: () => "cloudflare-kv://KV?local=1", start: startKvTarget });
conformanceSuite({ name: "cloudflare-kv://?local=1 (secret)", url: () => "cloudflare-kv://KV?local=1", options: { secret: "s3cret" }, start: startKvTarget });
