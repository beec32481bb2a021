// The limiter (issue 18): option checks at creation, capability refusal at creation, the entries'
// exports, safe mode (a backend whose limit fails: fail open, `error` event; safe: false rejects),
// and disable. Its behaviour on every backend (algorithms, cost, several limits, getRemaining,
// reset, blockUntilReady, ephemeral, concurrency, RateLimitError fields) is in the conformance
// suite (src/testing/strategies/limiter.ts, run by test/conformance/).
import { afterAll, describe, expect, expectTypeOf, it } from "vitest";
import {
  Cache,
  CacheBackendError,
  CacheCapabilityError,
  CacheConfigError,
  Command,
  defineBackend,
  limiter as boundLimiter,
  registerBackend,
  type CacheEventInfo,
  type Limiter,
  type LimiterOptions,
  type LimitResult,
} from "../../src/index.js";
import { CoreCache, limiter } from "../../src/core.js";
import { MemoryBackend } from "../../src/backends/memory.js";
import "../../src/cloudflare-kv.js";
import type { LimitAnswer, LimitRequest } from "../../src/core.js";

describe("limiter: options at creation", () => {
  const cache = new Cache("limiter-options").setup("mem://");
  afterAll(() => cache.close());
  const make = (options: unknown): Limiter => cache.limiter(options as LimiterOptions);

  it("accepts each algorithm with limit and period, or limits", () => {
    for (const algorithm of ["fixed", "sliding", "tokenBucket"] as const) {
      expect(() => make({ algorithm, limit: 1, period: "1s" })).not.toThrow();
      expect(() => make({ algorithm, limits: [{ limit: 1, period: "1s" }, { limit: 10, period: "1m" }] })).not.toThrow();
    }
    expect(() => make({ algorithm: "tokenBucket", limit: 10, period: "1s", refill: 3, prefix: "", ephemeral: { size: 5 } })).not.toThrow();
    expect(() => make({ algorithm: "fixed", limit: 1, period: 1000, ephemeral: true })).not.toThrow();
    expect(() => make({ algorithm: "fixed", limit: 1, period: 1000, ephemeral: false })).not.toThrow();
  });

  it("rejects unknown options and a missing or bad algorithm", () => {
    expect(() => make({ algorithm: "fixed", limit: 1, period: "1s", windw: 1 })).toThrow(/limiter: unknown option "windw"/);
    expect(() => make({ limit: 1, period: "1s" })).toThrow(/"algorithm" must be "fixed", "sliding" or "tokenBucket", got nothing/);
    expect(() => make({ algorithm: "leaky", limit: 1, period: "1s" })).toThrow(/"algorithm" must be .* got "leaky"/);
    expect(() => make(null)).toThrow(CacheConfigError);
    expect(() => make({ algorithm: "fixed", limits: [{ limit: 1, period: "1s", algorithm: "gcra" }] })).toThrow(/limits\[0\]: "algorithm" must be/);
    expect(() => make({ algorithm: "fixed", limits: [{ limit: 1, period: "1s", burst: 2 }] })).toThrow(/limits\[0\]: unknown option "burst"/);
  });

  it("rejects limits, periods and refills that are not positive integers (whole ms)", () => {
    for (const limit of [0, -1, 1.5, Number.NaN, "10", Number.POSITIVE_INFINITY]) {
      expect(() => make({ algorithm: "fixed", limit, period: "1s" })).toThrow(/"limit" must be an integer >= 1/);
    }
    expect(() => make({ algorithm: "fixed", period: "1s" })).toThrow(/"limit" is required/);
    expect(() => make({ algorithm: "sliding", limit: 1 })).toThrow(/"period" is required/);
    for (const period of [0, "0s", 1.5, "fast", -5]) expect(() => make({ algorithm: "sliding", limit: 1, period })).toThrow(CacheConfigError);
    for (const refill of [0, 2.5, "1"]) expect(() => make({ algorithm: "tokenBucket", limit: 1, period: "1s", refill })).toThrow(/"refill" must be an integer >= 1/);
    expect(() => make({ algorithm: "fixed", limit: 1, period: "1s", refill: 1 })).toThrow(/"refill" applies to tokenBucket only/);
    expect(() => make({ algorithm: "tokenBucket", limits: [{ limit: 1, period: "1s", refill: 0 }] })).toThrow(/limits\[0\]: "refill"/);
  });

  it("rejects limit/period/refill together with limits, an empty limits, and two limits of one algorithm and period", () => {
    expect(() => make({ algorithm: "fixed", limit: 1, limits: [{ limit: 1, period: "1s" }] })).toThrow(/either "limits" or "limit"\/"period"/);
    expect(() => make({ algorithm: "fixed", period: "1s", limits: [{ limit: 1, period: "1s" }] })).toThrow(/either "limits" or "limit"\/"period"/);
    expect(() => make({ algorithm: "tokenBucket", refill: 1, limits: [{ limit: 1, period: "1s" }] })).toThrow(/takes its own "refill"/);
    expect(() => make({ algorithm: "fixed", limits: [] })).toThrow(/"limits" must be a non-empty array/);
    expect(() => make({ algorithm: "fixed", limits: { limit: 1, period: "1s" } })).toThrow(/"limits" must be a non-empty array/);
    expect(() => make({ algorithm: "fixed", limits: [{ limit: 1, period: "1s" }, { limit: 5, period: 1000 }] })).toThrow(/two fixed limits with the same period \(1s\)/);
    // Same period, other algorithm: two states, fine.
    expect(() => make({ algorithm: "fixed", limits: [{ limit: 1, period: "1s" }, { limit: 5, period: 1000, algorithm: "sliding" }] })).not.toThrow();
  });

  it("rejects a tokenBucket whose limit × period (ms) exceeds 2^53", () => {
    expect(() => make({ algorithm: "tokenBucket", limit: 2 ** 30, period: "100d" })).toThrow(/limit × period in ms .* must be at most 2\^53/);
    expect(() => make({ algorithm: "tokenBucket", limits: [{ limit: 1, period: "1s" }, { limit: 2 ** 40, period: "1h" }] })).toThrow(/limits\[1\]: .*2\^53/);
    // Other algorithms keep no such product.
    expect(() => make({ algorithm: "fixed", limit: 2 ** 30, period: "100d" })).not.toThrow();
    expect(() => make({ algorithm: "tokenBucket", limit: 1000, period: "1d" })).not.toThrow();
  });

  it("checks prefix and ephemeral", () => {
    expect(() => make({ algorithm: "fixed", limit: 1, period: "1s", prefix: 5 })).toThrow(/"prefix" must be a string/);
    expect(() => make({ algorithm: "fixed", limit: 1, period: "1s", ephemeral: "yes" })).toThrow(/"ephemeral" must be a boolean or \{ size \}/);
    expect(() => make({ algorithm: "fixed", limit: 1, period: "1s", ephemeral: { size: 0 } })).toThrow(/"ephemeral.size" must be an integer >= 1/);
    expect(() => make({ algorithm: "fixed", limit: 1, period: "1s", ephemeral: { max: 3 } })).toThrow(/unknown option "max"/);
  });

  it("checks the id, the cost and the timeout at the call", async () => {
    const api = make({ algorithm: "fixed", limit: 3, period: "1s" });
    await expect(api.limit(5 as never)).rejects.toThrow(TypeError);
    await expect(api.limit("a", { cost: 4 })).rejects.toThrow(/a cost of 4 exceeds the fixed limit of 3 per 1s: it could never pass/);
    await expect(api.blockUntilReady("a", "1s", { cost: 4 })).rejects.toThrow(CacheConfigError);
    await expect(api.blockUntilReady("a", "soon")).rejects.toThrow(CacheConfigError);
    // No cost (undefined, or null from untyped callers) is a cost of 1.
    expect((await api.limit("a", { cost: undefined })).remaining).toBe(2);
    expect((await api.limit("a", { cost: null as never })).remaining).toBe(1);
  });

  it("on live mem://, a limiter's state is never read as a value (nor a sliding log, nor a set)", async () => {
    const live = new Cache("limiter-structures").setup("mem://");
    await live.limiter({ algorithm: "sliding", limits: [{ limit: 5, period: "1m" }, { limit: 5, period: "1m", algorithm: "fixed" }], prefix: "" }).limit("u");
    await live.slidingIncr("log", "1m");
    await live.setAdd("set", "a");
    for (const key of ["u:s60000", "u:f60000", "log", "set"]) {
      expect(await live.exists(key), key).toBe(true);
      expect(await live.get(key), key).toBeUndefined();
    }
  });

  it("refuses a cache whose backends lack atomic operations, at creation", () => {
    const kv = new Cache("limiter-kv").setup("cloudflare-kv://KV", { binding: { get: async () => null, getWithMetadata: async () => ({ value: null, metadata: null }), put: async () => {}, delete: async () => {}, list: async () => ({ keys: [], list_complete: true }) } });
    expect(() => kv.limiter({ algorithm: "fixed", limit: 1, period: "1s" })).toThrow(CacheCapabilityError);
    expect(() => kv.limiter({ algorithm: "fixed", limit: 1, period: "1s" })).toThrow(/limiter needs atomic operations/);
    // A custom backend declaring no atomic operations, likewise.
    registerBackend("plain-map", () => defineBackend({ get: async () => undefined, set: async () => true, delete: async () => false, getExpire: async () => -2, expire: async () => false }), {
      capabilities: { atomic: false },
    });
    expect(() => new Cache("limiter-plain").setup("plain-map://").limiter({ algorithm: "sliding", limit: 1, period: "1s" })).toThrow(CacheCapabilityError);
  });

  it("the first argument of the standalone function must be a cache", () => {
    expect(() => limiter(null as unknown as CoreCache, { algorithm: "fixed", limit: 1, period: "1s" })).toThrow(/limiter: the first argument must be a cache/);
  });
});

describe("limiter: entries", () => {
  it("cashews/core's limiter works on a CoreCache", async () => {
    const core = new CoreCache("limiter-core").setup("mem://");
    const api = limiter(core, { algorithm: "sliding", limit: 1, period: "1m" });
    expectTypeOf(api.limit).returns.resolves.toEqualTypeOf<LimitResult>();
    expect((await api.limit("a")).success).toBe(true);
    expect((await api.limit("a")).success).toBe(false);
    await core.close();
  });

  it("cashews' limiter is bound to the default cache, or takes a cache", async () => {
    const { cache } = await import("../../src/index.js");
    cache.setup("mem://");
    try {
      const onDefault = boundLimiter({ algorithm: "fixed", limit: 1, period: "1m", prefix: "bound" });
      expect((await onDefault.limit("x")).success).toBe(true);
      expect(await cache.limiter({ algorithm: "fixed", limit: 1, period: "1m", prefix: "bound" }).getRemaining("x")).toMatchObject({ remaining: 0 });
      const other = new Cache("limiter-other").setup("mem://");
      const onOther = boundLimiter(other, { algorithm: "fixed", limit: 1, period: "1m", prefix: "bound" });
      expect((await onOther.limit("x")).success).toBe(true);
      await other.close();
    } finally {
      await cache.clear();
      await cache.close();
    }
  });
});

/** A memory store whose `limit` fails while `down.now` (a backend outage, as the command sees it). */
const down = { now: false, limitCalls: 0 };
registerBackend("flaky-limit", () => {
  const mem = new MemoryBackend();
  return defineBackend({
    kind: "flaky-limit",
    get: (key) => mem.get(key),
    set: (key, value, expireMs, exist) => mem.set(key, value, expireMs, exist),
    delete: (key) => mem.delete(key),
    getExpire: (key) => mem.getExpire(key),
    expire: (key, ms) => mem.expire(key, ms),
    incr: (key, by, expireMs) => mem.incr(key, by, expireMs),
    async limit(key: string, request: LimitRequest): Promise<LimitAnswer> {
      down.limitCalls++;
      if (down.now) throw new Error("ECONNREFUSED (simulated)");
      return mem.limit(key, request);
    },
    capabilities: { atomic: true, locks: false, listing: false },
  });
});

describe("limiter: safe mode and disable", () => {
  const cache = new Cache("limiter-safe").setup("flaky-limit://");
  const unsafe = new Cache("limiter-unsafe").setup("flaky-limit://", { safe: false });
  const errors: CacheEventInfo[] = [];
  cache.on("error", (e) => void errors.push(e));
  afterAll(async () => {
    await cache.close();
    await unsafe.close();
  });

  it("fails open while the backend fails: success, NaN remaining and reset, retryAfter 0, an error event", async () => {
    const api = cache.limiter({ algorithm: "fixed", limit: 1, period: "1m", ephemeral: true });
    expect((await api.limit("a")).success).toBe(true);
    expect((await api.limit("a")).success).toBe(false);
    down.now = true;
    try {
      errors.length = 0;
      const failures = cache.stats().errors;
      const open = await api.limit("b");
      expect(open.success).toBe(true);
      expect(open.remaining).toBeNaN();
      expect(open.reset).toBeNaN();
      expect(open.retryAfter).toBe(0);
      expect(open.limit).toBe(1);
      expect(open.limits).toEqual([{ algorithm: "fixed", limit: 1, period: 60_000, remaining: Number.NaN, reset: Number.NaN }]);
      const remaining = await api.getRemaining("b");
      expect(remaining.remaining).toBeNaN();
      expect(remaining.reset).toBeNaN();
      await expect(api.reset("b")).resolves.toBeUndefined();
      expect((await api.blockUntilReady("b", "1s")).success).toBe(true);
      // Every failure counted; the first one's error event emitted, the rest rate-limited (backend down).
      expect(cache.stats().errors - failures).toBeGreaterThanOrEqual(4);
      expect(errors.length).toBeGreaterThanOrEqual(1);
      expect(errors[0]).toMatchObject({ type: "error", key: "limiter:b", backend: "flaky-limit" });

      // The strategies built on it allow the call too.
      let calls = 0;
      const limited = cache.rateLimit({ limit: 1, period: "1m", key: "rl" })(async () => ++calls);
      const sliding = cache.slidingRateLimit({ limit: 1, period: "1m", key: "srl" })(async () => ++calls);
      for (let i = 0; i < 3; i++) {
        await limited();
        await sliding();
      }
      expect(calls).toBe(6);
      // safe: false: the failure reaches the caller.
      await expect(unsafe.limiter({ algorithm: "fixed", limit: 1, period: "1m" }).limit("c")).rejects.toThrow(CacheBackendError);
    } finally {
      down.now = false;
    }
  });

  it("a middleware sees limit() as an INCR of the key; disabling INCR lets calls through without the backend", async () => {
    const seen: [string, unknown][] = [];
    const off = cache.use(async (command, args, next) => {
      seen.push([command, args[0]]);
      return next();
    });
    const api = cache.limiter({ algorithm: "sliding", limit: 1, period: "1m", prefix: "mw" });
    await api.limit("x");
    expect(seen).toEqual([[Command.INCR, "mw:x"]]);
    off();
    const calls = down.limitCalls;
    await cache.disabling(async () => {
      expect((await api.limit("x")).success).toBe(true);
      expect((await api.limit("x")).success).toBe(true);
    }, Command.INCR);
    expect(down.limitCalls).toBe(calls);
    expect((await api.limit("x")).success).toBe(false);
  });
});
