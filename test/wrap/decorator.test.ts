// The cache strategy as a function wrapper, a TC39 method decorator and the callable instance:
// checks at wrap time, the default instance, disabled caches. Its behaviour on every backend is in
// the conformance suite (src/testing/strategies/cache.ts, run by test/conformance/).
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import { Cache, CacheConfigError, cache as defaultCache } from "../../src/index.js";

describe("cache() wrap-time validation", () => {
  const cache = new Cache("v").setup("mem://");

  it("keeps the wrapped function's type", () => {
    const wrapped = cache.cache({ ttl: "1m" })(async function typed(id: string, n: number): Promise<{ id: string }> {
      return { id: id + n };
    });
    expectTypeOf(wrapped).toEqualTypeOf<(id: string, n: number) => Promise<{ id: string }>>();
    // @ts-expect-error a key function must accept the wrapped function's arguments
    cache.cache({ ttl: "1m", key: (id: number) => String(id) })(async (id: string) => id);
  });

  it("requires ttl, rejects 0 and unknown options", () => {
    const fn = async function f() {
      return 1;
    };
    // @ts-expect-error ttl is required
    expect(() => cache.cache({})(fn)).toThrow(/ttl.*required/);
    expect(() => cache.cache({ ttl: 0 })).toThrow(CacheConfigError);
    expect(() => cache.cache({ ttl: "forever" })).toThrow(/ttl.*"forever"/);
    // @ts-expect-error unknown option
    expect(() => cache.cache({ ttl: "1m", tll: 5 })).toThrow(/unknown option "tll"/);
    expect(() => cache.cache({ ttl: null })(fn)).not.toThrow();
  });

  it("rejects a template placeholder the function does not have, listing the parameters", () => {
    const wrap = () => cache.cache({ ttl: "1m", key: "user:{userId}" })(async (id: string, lang: string) => id + lang);
    expect(wrap).toThrow(CacheConfigError);
    expect(wrap).toThrow(/userId/);
    expect(wrap).toThrow(/id, lang/);
  });

  it("rejects an anonymous function without key or prefix", () => {
    const fns = [async (x: number) => x];
    expect(() => cache.cache({ ttl: "1m" })(fns[0]!)).toThrow(CacheConfigError);
    expect(() => cache.cache({ ttl: "1m", key: "k:{x}" })(fns[0]!)).not.toThrow();
  });

  it("a value that would render as [object Object] throws at call time, naming the parameter", async () => {
    class Opaque {
      x = 1;
    }
    const fn = cache.cache({ ttl: "1m" })(async function load(thing: unknown) {
      return 1;
    });
    await expect(fn(new Opaque())).rejects.toThrow(/thing/);
    expect(await cache.getKeysCount()).toBe(0);
  });
});

describe("the default instance", () => {
  afterEach(async () => {
    await defaultCache.close();
  });

  it("is callable: cache(options) is cache.cache(options)", async () => {
    defaultCache.setup("mem://");
    let calls = 0;
    const fn = defaultCache({ ttl: "1m", key: "d:{n}" })(async (n: number) => {
      calls++;
      return n;
    });
    await fn(1);
    await fn(1);
    expect(calls).toBe(1);
    expect(await defaultCache.get("d:1")).toBe(1);
  });
});

describe("disabled caches", () => {
  it("enable: false makes every command a no-op and every call run", async () => {
    const cache = new Cache("off").setup("mem://", { enable: false });
    expect(await cache.set("k", 1)).toBe(false);
    expect(await cache.get("k", "d")).toBe("d");
    let calls = 0;
    const fn = cache.cache({ ttl: "1m", key: "k" })(async () => ++calls);
    await fn();
    await fn();
    expect(calls).toBe(2);
  });
});
