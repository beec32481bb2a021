// The full preset: `Cache` (cashews) is a `CoreCache` (cashews/core) with every strategy as a method.
import { describe, expect, expectTypeOf, it } from "vitest";
import { Cache, cache as defaultCache, type Decorator } from "../../src/index.js";
import { CoreCache, failover } from "../../src/core.js";

describe("Cache extends CoreCache", () => {
  it("every Cache, the default one included, is a CoreCache, and stays callable", () => {
    expect(new Cache()).toBeInstanceOf(CoreCache);
    expect(defaultCache).toBeInstanceOf(CoreCache);
    expect(typeof defaultCache).toBe("function");
    expectTypeOf(new Cache()).toMatchTypeOf<CoreCache>();
    expectTypeOf(defaultCache({ ttl: "1m" })).toEqualTypeOf<Decorator<any[]>>();
  });

  it("registers every scheme (redis:// and upstash:// load lazily), unlike a lone CoreCache", () => {
    expect(() => new Cache().setup("redis://localhost:6379")).not.toThrow();
    expect(() => new Cache().setup("upstash+http://127.0.0.1:1", { token: "t" })).not.toThrow();
  });

  it("a strategy method and the standalone function are the same strategy", async () => {
    const cache = new Cache("methods").setup("mem://");
    let calls = 0;
    const viaMethod = cache.failover({ ttl: "1m", key: "m" })(async () => {
      if (++calls > 1) throw new Error("down");
      return "fresh";
    });
    const viaFunction = failover(cache, { ttl: "1m", key: "m" })(async () => {
      throw new Error("down");
    });
    expect(await viaMethod()).toBe("fresh");
    expect(await viaFunction()).toBe("fresh"); // the value the method's wrapper stored under "m"
    await cache.close();
  });
});
