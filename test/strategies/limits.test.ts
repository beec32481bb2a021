// rateLimit, slidingRateLimit, circuitBreaker and perf: option checks at wrap time and the bound
// exports. Their behaviour on every backend (limits, windows, bans, actions, per-argument keys,
// breaker states, degradation marks, limits shared by two Cache instances) is in the conformance
// suite (src/testing/strategies/limits.ts, run by test/conformance/). Safe mode (a stopped server)
// is in limits-safe.test.ts.
import { afterAll, describe, expect, expectTypeOf, it } from "vitest";
import { Cache, CacheConfigError, RateLimitError, circuitBreaker, perf, rateLimit, slidingRateLimit } from "../../src/index.js";

describe("circuitBreaker and perf: options", () => {
  const cache = new Cache("v").setup("mem://");
  afterAll(() => cache.close());

  it("circuitBreaker validates its options at wrap time", () => {
    const fn = async function f(): Promise<void> {};
    for (const errorsRate of [0, -1, 101, Number.NaN, "50"]) {
      expect(() => cache.circuitBreaker({ errorsRate: errorsRate as number, period: "1s", ttl: "1s" })).toThrow(CacheConfigError);
    }
    expect(() => cache.circuitBreaker({ errorsRate: 100, period: "1s", ttl: "1s" })(fn)).not.toThrow();
    expect(() => cache.circuitBreaker({ errorsRate: 50, period: 0, ttl: "1s" })).toThrow(CacheConfigError);
    expect(() => cache.circuitBreaker({ errorsRate: 50, period: "1s" } as never)).toThrow(/"ttl" is required/);
    expect(() => cache.circuitBreaker({ errorsRate: 50, period: "1s", ttl: "1s", minCalls: 0 })).toThrow(CacheConfigError);
    expect(() => cache.circuitBreaker({ errorsRate: 50, period: "1s", ttl: "1s", exceptions: ["x" as never] })).toThrow(CacheConfigError);
    expect(() => cache.circuitBreaker({ errorsRate: 50, period: "1s", ttl: "1s", errorRate: 5 } as never)).toThrow(/unknown option "errorRate"/);
    expect(() => cache.circuitBreaker({ errorsRate: 50, period: "1s", ttl: "1s" })(async () => 1)).toThrow(/anonymous/);
  });

  it("perf validates its options", () => {
    expect(() => cache.perf({} as never)).toThrow(/"ttl" is required/);
    expect(() => cache.perf({ ttl: "1s", factor: 0.5 })).toThrow(CacheConfigError);
    expect(() => cache.perf({ ttl: "1s", window: 0 })).toThrow(CacheConfigError);
  });
});

describe("option checks and bound exports", () => {
  it("an action with fewer parameters keeps the wrapped function's type (checked by the type check of npm test)", async () => {
    const cache = new Cache("types").setup("mem://");
    const callApi = async (path: string, page: number): Promise<string> => `${path}:${page}`;
    const fixed = cache.rateLimit({ limit: 1, period: "1m", action: async () => null })(callApi);
    const sliding = cache.slidingRateLimit({ limit: 1, period: "1m", action: async () => null })(callApi);
    expectTypeOf(fixed).toEqualTypeOf(callApi);
    expectTypeOf(sliding).toEqualTypeOf(callApi);
    // Types known from the key function: the action's parameters are checked against them.
    cache.rateLimit({
      limit: 1,
      period: "1m",
      key: (path: string, page: number) => `${path}:${page}`,
      // @ts-expect-error a number parameter where the call passes a string
      action: async (path: number) => path,
    });
    // The default key holds the arguments: one limit per argument set.
    expect([await fixed("a", 1), await fixed("a", 1), await fixed("a", 2), await sliding("b", 1), await sliding("b", 1)]).toEqual(["a:1", null, "a:2", "b:1", null]);
    await cache.close();
  });

  it("rate limits validate limit, period and ttl at wrap time", () => {
    const cache = new Cache("v").setup("mem://");
    for (const make of [(o: never) => cache.rateLimit(o), (o: never) => cache.slidingRateLimit(o)]) {
      expect(() => make({ limit: 0, period: "1s" } as never)).toThrow(CacheConfigError);
      expect(() => make({ limit: 1.5, period: "1s" } as never)).toThrow(CacheConfigError);
      expect(() => make({ limit: 1 } as never)).toThrow(/"period" is required/);
      expect(() => make({ limit: 1, period: "fast" } as never)).toThrow(CacheConfigError);
      expect(() => make({ limit: 1, period: "1s", action: 1 } as never)).toThrow(/"action" must be a function/);
      expect(() => make({ limit: 1, period: "1s", lmit: 1 } as never)).toThrow(/unknown option "lmit"/);
    }
    expect(() => cache.rateLimit({ limit: 1, period: "1s", ttl: 0 })).toThrow(CacheConfigError);
    expect(() => cache.slidingRateLimit({ limit: 1, period: "1s", ttl: "1s" } as never)).toThrow(/unknown option "ttl"/);
  });

  it("the bound exports use the default cache and keep the wrapped function's type", async () => {
    const { cache } = await import("../../src/index.js");
    cache.setup("mem://");
    try {
      const limited = rateLimit({ limit: 1, period: "1m", key: "bound" })(async (id: string) => id.length);
      expectTypeOf(limited).toEqualTypeOf<(id: string) => Promise<number>>();
      expect(await limited("abc")).toBe(3);
      await expect(limited("abc")).rejects.toThrow(RateLimitError);
      const sliding = slidingRateLimit({ limit: 1, period: "1m", key: "bound" })(async () => 1);
      expect(await sliding()).toBe(1);
      const breaker = circuitBreaker({ errorsRate: 50, period: "1m", ttl: "1m", key: "bound" })(async () => 2);
      expect(await breaker()).toBe(2);
      const timed = perf({ ttl: "1m", key: "bound" })(async () => 3);
      expect(await timed()).toBe(3);
    } finally {
      await cache.clear();
      await cache.close();
    }
  });
});
