// The Lua script behind `slidingIncr` on Redis and Upstash (SLIDING_INCR, src/backends/scripts.ts):
// its checks, and what it keeps in a real redis-server. The behaviour of `slidingIncr` on every
// backend is in the conformance suite (src/testing/sliding.ts, run by test/conformance/).
import { createHash, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { SLIDING_INCR } from "../../src/backends/scripts.js";
import { Cache } from "../../src/index.js";

const redisUrl = inject("redisUrl");
const RUN = randomUUID().slice(0, 8);

describe("SLIDING_INCR script", () => {
  it("carries the SHA-1 of its source and touches only KEYS[1]", () => {
    expect(SLIDING_INCR.sha1).toBe(createHash("sha1").update(SLIDING_INCR.lua).digest("hex"));
    expect(SLIDING_INCR.lua.match(/KEYS\[(\d+)\]/g)?.every((k) => k === "KEYS[1]")).toBe(true);
  });
});

describe.skipIf(!redisUrl)("SLIDING_INCR on redis://", () => {
  let raw: Redis;
  let cache: Cache;
  const ns = `conf-sl-raw-${RUN}`;
  beforeAll(async () => {
    raw = new Redis(redisUrl, { lazyConnect: true });
    await raw.connect();
    cache = new Cache("raw").setup(redisUrl, { namespace: ns });
  });
  afterAll(async () => {
    await cache.clear();
    await cache.close();
    raw.disconnect();
  });

  it("keeps a sorted set scored by call time, one unique member per call", async () => {
    const before = Date.now();
    await Promise.all([cache.slidingIncr("z", "5s"), cache.slidingIncr("z", "5s")]);
    expect(await raw.type(`${ns}:z`)).toBe("zset");
    const entries = ((await raw.call("ZRANGE", `${ns}:z`, "0", "-1", "WITHSCORES")) as unknown[]).flat().map(String); // RESP2 flat or RESP3 pairs
    expect(entries).toHaveLength(4);
    expect(entries[0]).not.toBe(entries[2]);
    expect(Number(entries[1])).toBeGreaterThanOrEqual(before);
    expect(Number(entries[1])).toBeLessThanOrEqual(Date.now());
  });

  it("still works after SCRIPT FLUSH (NOSCRIPT → EVAL)", async () => {
    await raw.script("FLUSH");
    expect((await cache.slidingIncr("after-flush", "5s")).count).toBe(1);
    expect(await raw.script("EXISTS", SLIDING_INCR.sha1)).toEqual([1]);
  });
});
