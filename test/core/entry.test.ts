// The lean entry `cashews/core`: CoreCache (commands, locks, events, scopes, the simple strategy)
// and the other strategies as standalone functions. This file imports `cashews/core` only: the
// `cashews` entry would register every scheme when its default instance is created.
import { describe, expect, it } from "vitest";
import {
  CacheConfigError,
  CoreCache,
  RateLimitError,
  circuitBreaker,
  early,
  failover,
  hit,
  invalidate,
  iterator,
  locked,
  perf,
  rateLimit,
  slidingRateLimit,
  soft,
} from "../../src/core.js";

describe("cashews/core", () => {
  it("CoreCache registers mem:// only: another scheme needs its entry, and the error names it", () => {
    expect(() => new CoreCache().setup("redis://localhost:6379")).toThrow(CacheConfigError);
    expect(() => new CoreCache().setup("redis://localhost:6379")).toThrow(/unknown scheme "redis:\/\/"; known schemes: mem:\/\/; .*import "cashews\/redis"/);
    expect(() => new CoreCache().setup("upstash://db.example.com")).toThrow(/import "cashews\/upstash"/);
    expect(() => new CoreCache().setup("cloudflare-kv://CACHE_KV")).toThrow(/import "cashews\/cloudflare-kv" once, which registers it/);
    expect(() => new CoreCache().setup("deno-kv://")).toThrow(/import "cashews\/deno-kv"/);
  });

  it("has the commands and the simple strategy, and no other strategy as a method", async () => {
    const cache = new CoreCache("lean").setup("mem://");
    for (const name of ["failover", "hit", "early", "soft", "locked", "rateLimit", "slidingRateLimit", "circuitBreaker", "perf", "iterator", "invalidate"]) {
      expect(name in cache, name).toBe(false);
    }
    let calls = 0;
    const get = cache.cache({ ttl: "1m", key: "user:{id}" })(async (id: string) => ({ id, n: ++calls }));
    const viaCall = cache({ ttl: "1m", key: "again:{id}" })(async (id: string) => id);
    expect(await get("1")).toEqual({ id: "1", n: 1 });
    expect(await get("1")).toEqual({ id: "1", n: 1 });
    expect(await viaCall("x")).toBe("x");
    expect(await cache.get("user:1")).toEqual({ id: "1", n: 1 });
    expect(cache.stats().hits).toBeGreaterThanOrEqual(1);
    await cache.close();
  });

  it("every standalone strategy decorates a function of a CoreCache", async () => {
    const cache = new CoreCache("all").setup("mem://");
    const fn = async function work(id: string): Promise<string> {
      return `v${id}`;
    };
    const wrapped = [
      failover(cache, { ttl: "1m" })(fn),
      hit(cache, { ttl: "1m", cacheHits: 3 })(fn),
      early(cache, { ttl: "1m" })(fn),
      soft(cache, { ttl: "1m" })(fn),
      locked(cache, { ttl: "1s" })(fn),
      rateLimit(cache, { limit: 10, period: "1m" })(fn),
      slidingRateLimit(cache, { limit: 10, period: "1m" })(fn),
      circuitBreaker(cache, { errorsRate: 50, period: "1m", ttl: "1s" })(fn),
      perf(cache, { ttl: "1m" })(fn),
      invalidate(cache, "x:*")(fn),
    ];
    for (const w of wrapped) expect(await w("1")).toBe("v1");
    const rows = iterator(cache, { ttl: "1m", key: "rows" })(async function* () {
      yield 1;
      yield 2;
    });
    const seen: number[] = [];
    for await (const row of rows()) seen.push(row as number);
    expect(seen).toEqual([1, 2]);
    await cache.close();
  });

  it("a rate limit is shared between the standalone function's wrappers of one cache", async () => {
    const cache = new CoreCache("limits").setup("mem://");
    const send = rateLimit(cache, { limit: 1, period: "1m", key: "sms:{to}" })(async (to: string) => to);
    await send("a");
    await expect(send("a")).rejects.toThrow(RateLimitError);
    await cache.close();
  });

  it("lock() rejects a bad argument (a promise, like every command), never throws at the call", async () => {
    const cache = new CoreCache("locks").setup("mem://");
    const bad = cache.lock("k", 0);
    expect(bad).toBeInstanceOf(Promise);
    await expect(bad).rejects.toThrow(CacheConfigError);
    await cache.close();
  });

  it("a standalone strategy refuses what is not a cache, when it is created", () => {
    expect(() => failover({} as CoreCache, { ttl: "1m" })).toThrow(CacheConfigError);
    // The method's call style, `failover(options)`, says how to call it.
    expect(() => (failover as unknown as (o: object) => unknown)({ ttl: "1m" })).toThrow(/call it as failover\(cache, options\)/);
    expect(() => rateLimit(null as unknown as CoreCache, { limit: 1, period: "1s" })).toThrow(/rateLimit: the first argument must be a cache .*call it as rateLimit\(cache, options\)/);
  });

  it("with every command disabled, every strategy calls the function directly (one guard for all)", async () => {
    const cache = new CoreCache("guard").setup("mem://");
    let calls = 0;
    const fn = async (): Promise<number> => ++calls;
    const cached = cache.cache({ ttl: "1m", key: "k" })(fn);
    const limited = rateLimit(cache, { limit: 1, period: "1m", key: "l" })(fn);
    const dropping = invalidate(cache, "k")(fn);
    const failing = failover(cache, { ttl: "1m", key: "f" })(fn);
    await cached(); // stored: calls = 1
    const before = cache.stats();
    await cache.disabling(async () => {
      expect(await cached()).toBe(2); // not served from cache
      await limited();
      await limited(); // over the limit, but nothing is counted while disabled
      await dropping();
      await failing();
    });
    expect(calls).toBe(6);
    // Called directly: no strategy ran, so nothing was counted as a hit or a miss.
    expect(cache.stats()).toEqual(before);
    // Called directly, a strategy still answers with a promise, also when the function throws at once.
    const throwsAtOnce = failover(cache, { ttl: "1m", key: "t" })((() => {
      throw new Error("at once");
    }) as unknown as () => Promise<number>);
    const answered = cache.disabling(() => throwsAtOnce());
    expect(answered).toBeInstanceOf(Promise);
    await expect(answered).rejects.toThrow("at once");
    expect(await cached()).toBe(1); // the stored value is still there: the invalidate ran disabled
    await cache.close();
  });
});
