// The lock strategies `locked` and `cache({ lock: true })`: checks at wrap time, the bound export,
// and failing open on a dead backend. Their behaviour on every backend (serialised calls, single
// flight, dead holders) is in the conformance suite (src/testing/strategies/lock.ts, run by
// test/conformance/).
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { Cache, CacheConfigError, cache as defaultCache, locked, type Decorator } from "../../src/index.js";
import { freePort } from "../support/redis-server.js";

describe("lock strategies: options", () => {
  const cache = new Cache("opts").setup("mem://");
  afterAll(() => cache.close());

  it("rejects bad options at wrap time", () => {
    expect(() => cache.locked({} as never)).toThrow(CacheConfigError);
    expect(() => cache.locked({ ttl: null } as never)).toThrow(/ttl/);
    expect(() => cache.locked({ ttl: 0 })).toThrow(/greater than 0/);
    expect(() => cache.locked({ ttl: "1m", wait: "soon" })).toThrow(/wait/);
    expect(() => cache.locked({ ttl: "1m", check_interval: 1 } as never)).toThrow(/unknown option "check_interval"/);
    expect(() => cache.cache({ ttl: "1m", lockTtl: "5s" })).toThrow(/lockTtl.*lock: true/);
    expect(() => cache.cache({ ttl: "1m", lock: true, lockTtl: 0 })).toThrow(/greater than 0/);
    expect(() => cache.cache({ ttl: "1m", lock: "yes" } as never)).toThrow(/boolean/);
    // ttl: null (store forever) with a lock is fine: the lock expires on its own (30 s default).
    expect(() => cache.cache({ ttl: null, lock: true })).not.toThrow();
  });

  it("`locked` is exported bound to the default instance, typed after the wrapped function", async () => {
    defaultCache.setup("mem://");
    try {
      const decorator = locked<[number]>({ ttl: "1s", key: "n:{n}" });
      expectTypeOf(decorator).toEqualTypeOf<Decorator<[number]>>();
      const double = locked({ ttl: "1s" })(async function double(n: number) {
        return n * 2;
      });
      expectTypeOf(double).toEqualTypeOf<(n: number) => Promise<number>>();
      expect(await double(4)).toBe(8);
    } finally {
      await defaultCache.close();
    }
  });
});

describe("lock strategies fail open when the backend is down (safe mode)", () => {
  let cache: Cache;
  let errors = 0;
  beforeAll(async () => {
    cache = new Cache("down").setup(`redis://127.0.0.1:${await freePort()}`, { timeout: 200, connectTimeout: 200 });
    cache.on("error", () => errors++);
  });
  afterAll(() => cache.close());

  it("locked and lock: true run the function unlocked and report errors", async () => {
    let runs = 0;
    const job = cache.locked({ ttl: "10s", wait: false })(async function job() {
      runs++;
      return "ran";
    });
    const load = cache.cache({ ttl: "1m", key: "x", lock: true })(async () => {
      runs++;
      return "loaded";
    });
    expect(await job()).toBe("ran");
    expect(await load()).toBe("loaded");
    expect(runs).toBe(2);
    expect(errors).toBeGreaterThan(0);
  });

  it("safe: false surfaces the backend error instead", async () => {
    const strict = new Cache("strict").setup(`redis://127.0.0.1:${await freePort()}`, { timeout: 200, connectTimeout: 200, safe: false });
    try {
      const load = strict.cache({ ttl: "1m", key: "x", lock: true })(async () => "loaded");
      await expect(load()).rejects.toThrow(/redis/);
    } finally {
      await strict.close();
    }
  });
});
