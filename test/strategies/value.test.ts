// The value strategies (failover, hit, early, soft): wrap-time validation and the bound exports.
// Their behaviour on every backend (cross-process coordination, background refresh failures,
// decorators) is in the conformance suite (src/testing/strategies/value.ts, run by
// test/conformance/).
import { describe, expect, expectTypeOf, it } from "vitest";
import { Cache, CacheConfigError, withExceptions, failover, hit, early, soft } from "../../src/index.js";

class Boom extends Error {
  override name = "Boom";
}

describe("value strategies: wrap-time validation", () => {
  const cache = new Cache("v").setup("mem://");
  const fn = async function f(): Promise<number> {
    return 1;
  };

  it("requires ttl and rejects unknown options and bad tags", () => {
    // @ts-expect-error ttl is required
    expect(() => cache.failover({})).toThrow(/failover.*ttl.*required/);
    // @ts-expect-error ttl is required
    expect(() => cache.early({})).toThrow(/early.*ttl.*required/);
    // @ts-expect-error ttl is required
    expect(() => cache.soft({})).toThrow(/soft.*ttl.*required/);
    // @ts-expect-error ttl is required
    expect(() => cache.hit({ cacheHits: 1 })).toThrow(/hit.*ttl.*required/);
    // @ts-expect-error unknown option
    expect(() => cache.early({ ttl: "1m", earlyTTL: 5 })).toThrow(/unknown option "earlyTTL"/);
    // @ts-expect-error unknown option
    expect(() => cache.failover({ ttl: "1m", exception: Boom })).toThrow(/unknown option "exception"/);
    expect(() => cache.soft({ ttl: "1m", tags: ["t"] })(fn)).not.toThrow(); // tags: see test/core/tags.test.ts
    // @ts-expect-error tags must be strings
    expect(() => cache.soft({ ttl: "1m", tags: [1] })).toThrow(/every tag must be a non-empty string/);
    expect(() => cache.early({ ttl: "1m", tags: [] })(fn)).not.toThrow();
    expect(() => cache.failover({ ttl: "nope" })).toThrow(CacheConfigError);
  });

  it("checks earlyTtl, softTtl, cacheHits, updateAfter and exceptions", () => {
    expect(() => cache.early({ ttl: "1m", earlyTtl: "1m" })).toThrow(/earlyTtl.*shorter than ttl/);
    expect(() => cache.early({ ttl: "1m", earlyTtl: 0 })).toThrow(/earlyTtl must be greater than 0/);
    expect(() => cache.early({ ttl: null })).toThrow(/earlyTtl.*required when ttl is null/);
    expect(() => cache.early({ ttl: null, earlyTtl: "1m" })(fn)).not.toThrow();
    expect(() => cache.soft({ ttl: "1m", softTtl: "2m" })).toThrow(/softTtl.*shorter than ttl/);
    expect(() => cache.hit({ ttl: "1m", cacheHits: 0 })).toThrow(/cacheHits.*positive integer/);
    expect(() => cache.hit({ ttl: "1m", cacheHits: 1.5 })).toThrow(CacheConfigError);
    expect(() => cache.hit({ ttl: "1m", cacheHits: 3, updateAfter: 4 })).toThrow(/updateAfter/);
    expect(() => cache.hit({ ttl: "1m", cacheHits: 3, updateAfter: 3 })(fn)).not.toThrow();
    // @ts-expect-error not an error class
    expect(() => cache.failover({ ttl: "1m", exceptions: ["Boom"] })).toThrow(/exceptions/);
    expect(() => cache.soft({ ttl: "1m", condition: withExceptions() })).toThrow(/exception conditions/);
    expect(() => cache.failover({ ttl: "1m", condition: withExceptions() })).toThrow(/exception conditions/);
    expect(() => cache.early({ ttl: "1m", key: "k:{nope}" })(async (id: string) => id)).toThrow(/nope/);
  });

  it("keeps the wrapped function's type; bound exports use the default instance", () => {
    const wrapped = cache.early({ ttl: "1m" })(async function typed(id: string): Promise<{ id: string }> {
      return { id };
    });
    expectTypeOf(wrapped).toEqualTypeOf<(id: string) => Promise<{ id: string }>>();
    // @ts-expect-error a key function must accept the wrapped function's arguments
    cache.soft({ ttl: "1m", key: (id: number) => String(id) })(async (id: string) => id);
    for (const make of [failover, hit, early, soft]) expect(typeof make).toBe("function");
    expect(() => hit({ ttl: "1m", cacheHits: 1 })(fn)).not.toThrow();
  });
});
