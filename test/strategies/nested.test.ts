// Issue 17, items 1 and 6, the parts that rest on no backend: the standalone `singleFlight`
// decorator (in-process), `setDefaultFailExceptions`, wrap-time validation of `upper`,
// `background` and `dynamic`, the bound exports, and that an upper layer starts no async context.
// Their behaviour on every backend is in the conformance suite (src/testing/strategies/nested.ts).
import { describe, expect, expectTypeOf, it } from "vitest";
import { Cache, CacheConfigError, cache as defaultCache, dynamic, singleFlight } from "../../src/index.js";
import { CoreCache, setDefaultFailExceptions, singleFlight as coreSingleFlight, dynamic as coreDynamic } from "../../src/core.js";
import { scope } from "../../src/context/scope.js";

class Boom extends Error {
  override name = "Boom";
}
class Other extends Error {
  override name = "Other";
}

const tick = (ms = 10): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("singleFlight", () => {
  it("concurrent calls with the same arguments share one run; the next round runs again", async () => {
    const cache = new Cache("sf");
    let calls = 0;
    const load = cache.singleFlight()(async function load(id: string) {
      const n = ++calls;
      await tick();
      return `${id}-${n}`;
    });
    const first = await Promise.all(Array.from({ length: 10 }, () => load("a")));
    expect(first).toEqual(Array(10).fill("a-1"));
    expect(calls).toBe(1);
    const second = await Promise.all([load("a"), load("a"), load("b")]);
    expect(second).toEqual(["a-2", "a-2", "b-3"]); // another key is another flight
    expect(calls).toBe(3);
  });

  it("shares a failure with every waiting caller, then forgets it; key picks what is the same call", async () => {
    const cache = new Cache("sf2");
    let calls = 0;
    const flaky = cache.singleFlight({ key: "{user.id}" })(async (user: { id: number; seen: number }) => {
      calls++;
      await tick();
      if (calls === 1) throw new Boom("down");
      return user.seen;
    });
    const failed = await Promise.allSettled([flaky({ id: 1, seen: 1 }), flaky({ id: 1, seen: 2 })]);
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect((failed[0] as PromiseRejectedResult).reason).toBeInstanceOf(Boom);
    expect(await Promise.all([flaky({ id: 1, seen: 3 }), flaky({ id: 1, seen: 4 })])).toEqual([3, 3]);
    expect(calls).toBe(2);
  });

  it("works anonymous, as a method decorator, needs no setup; the bound export and cashews/core agree", async () => {
    let calls = 0;
    const anon = coreSingleFlight(new CoreCache())(async (n: number) => {
      calls++;
      await tick();
      return n * 2;
    });
    expect(await Promise.all([anon(2), anon(2)])).toEqual([4, 4]);
    expect(calls).toBe(1);
    class Repo {
      runs = 0;
      @defaultCache.singleFlight()
      async get(id: number): Promise<number> {
        this.runs++;
        await tick();
        return id;
      }
    }
    const repo = new Repo();
    expect(await Promise.all([repo.get(1), repo.get(1), repo.get(2)])).toEqual([1, 1, 2]);
    expect(repo.runs).toBe(2);
    const bound = singleFlight()(async function bound(id: string) {
      return id;
    });
    expectTypeOf(bound).toEqualTypeOf<(id: string) => Promise<string>>();
    expect(await bound("x")).toBe("x");
    expect(() => singleFlight({ ttl: "1m" } as never)).toThrow(/singleFlight: unknown option "ttl"/);
    expect(() => singleFlight({ prefix: 1 } as never)).toThrow(CacheConfigError);
  });
});

describe("setDefaultFailExceptions", () => {
  it("sets which errors failovers without their own exceptions serve the stored value for, also for ones wrapped before", async () => {
    const cache = new Cache("fx").setup("mem://");
    let error: Error | undefined;
    const fn = cache.failover({ ttl: "1m", key: "fx" })(async () => {
      if (error) throw error;
      return "ok";
    });
    const own = cache.failover({ ttl: "1m", key: "own", exceptions: Other })(async () => {
      if (error) throw error;
      return "mine";
    });
    expect(await fn()).toBe("ok");
    expect(await own()).toBe("mine");
    cache.setDefaultFailExceptions(Boom);
    error = new Boom("listed");
    expect(await fn()).toBe("ok");
    error = new Other("not listed");
    await expect(fn()).rejects.toBeInstanceOf(Other);
    expect(await own()).toBe("mine"); // its own exceptions win
    cache.setDefaultFailExceptions(Error); // back to every error
    expect(await fn()).toBe("ok");
    await cache.close();
  });

  it("accepts error classes only, with a clear CacheConfigError", () => {
    const cache = new CoreCache("fy");
    expect(() => setDefaultFailExceptions(cache)).toThrow(/give at least one error class/);
    expect(() => setDefaultFailExceptions(cache, "Boom" as never)).toThrow(/expected error classes \(Error or a subclass\), got string/);
    expect(() => setDefaultFailExceptions(cache, class NotAnError {} as never)).toThrow(/NotAnError, which does not extend Error/);
    expect(() => setDefaultFailExceptions(cache, Boom, TypeError, DOMException)).not.toThrow();
    expect(() => setDefaultFailExceptions({} as never, Boom)).toThrow();
  });
});

describe("upper, background, dynamic: wrap time", () => {
  const cache = new Cache("w").setup("mem://");
  it("refuses a non-boolean upper or background, and hit's budget options on dynamic", () => {
    for (const make of [
      () => cache.cache({ ttl: "1m", upper: 1 as never }),
      () => cache.hit({ ttl: "1m", cacheHits: 2, upper: "true" as never }),
      () => cache.early({ ttl: "1m", upper: null as never }),
      () => cache.soft({ ttl: "1m", upper: {} as never }),
      () => cache.iterator({ ttl: "1m", upper: 0 as never }),
      () => cache.dynamic({ upper: "no" as never }),
    ]) {
      expect(make).toThrow(/"upper" must be a boolean/);
    }
    expect(() => cache.early({ ttl: "1m", background: "no" as never })).toThrow(/early: "background" must be a boolean, got string/);
    expect(() => cache.dynamic({ updateAfter: 2 } as never)).toThrow(/dynamic: unknown option "updateAfter"/);
    expect(() => cache.dynamic({ ttl: "soon" })).toThrow(CacheConfigError);
    expect(() => coreDynamic(new CoreCache().setup("mem://"), { ttl: null, key: "k" })(async () => 1)).not.toThrow();
    expectTypeOf(dynamic({ key: "p:{m}" })(async (m: string) => m.length)).toEqualTypeOf<(m: string) => Promise<number>>();
  });

  it("an upper layer's calls start no async context (scopes stay off, so later hits keep their fast path)", async () => {
    const fresh = new Cache("x").setup("mem://");
    const inner = fresh({ ttl: "1m", key: "in" })(async () => "v");
    const outer = fresh.failover({ ttl: "1m", key: "out" })(inner);
    const live = scope.live;
    expect(await outer()).toBe("v");
    expect(await outer()).toBe("v");
    expect(await fresh.exists("fail:out")).toBe(true);
    expect(scope.live).toBe(live);
    expect(scope.served).toBeUndefined();
    expect(scope.framed).toBe(0);
    await fresh.close();
  });
});
