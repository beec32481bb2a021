/**
 * Conformance of the cache strategy (`cache.cache(options)`): keys, TTLs, conditions, cached
 * errors, single flight, events and stats, and method decorators, on the backend under test.
 * @module
 */
import { describe, expect, it } from "vitest";
import { NOT_NONE, onlyExceptions, withExceptions, withKeyContext, type Cache, type CacheEventInfo } from "../../index.js";
import { useCachesPerTest, type TargetHandle } from "../target.js";
import { sleep } from "../wait.js";

/** Registers the tests of the cache strategy on a started target in the calling `describe`. */
export function cacheTests(target: TargetHandle): void {
  describe("cache()", () => {
    let cache: Cache;
    useCachesPerTest(target, ["t"], ([c]) => (cache = c!));

    it("serves the second call from cache under the default key", async () => {
      let calls = 0;
      // (a binding named like the function would make esbuild rename the function: getUser2)
      const load = cache.cache({ ttl: "1m" })(async function getUser(id: string, full = false) {
        calls++;
        return { id, full, n: calls };
      });
      expect(await load("1")).toEqual({ id: "1", full: false, n: 1 });
      expect(await load("1")).toEqual({ id: "1", full: false, n: 1 });
      expect(await load("2", true)).toEqual({ id: "2", full: true, n: 2 });
      expect(calls).toBe(2);
      if ((await target.capabilities()).listing) {
        const keys: string[] = [];
        for await (const key of cache.scan("*")) keys.push(key);
        expect(keys.sort()).toEqual(["getUser:id:1:full:", "getUser:id:2:full:true"]);
      } else expect(await cache.exists("getUser:id:2:full:true")).toBe(true);
      const left = await cache.getExpire("getUser:id:1:full:");
      expect(left).toBeGreaterThan(50_000);
      expect(left).toBeLessThanOrEqual(60_000);
    });

    it("uses templates, key functions and prefixes", async () => {
      const byTemplate = cache.cache({ ttl: "1m", key: "user:{id}:{opts.lang:upper}" })(async (id: number, opts: { lang: string }) => `${id}-${opts.lang}`);
      const byFn = cache.cache({ ttl: "1m", key: (a: number, b: number) => `sum:${a + b}`, prefix: "calc" })(async (a: number, b: number) => a + b);
      await byTemplate(7, { lang: "en" });
      await byFn(1, 2);
      expect(await cache.get("user:7:EN")).toBe("7-en");
      expect(await cache.get("calc:sum:3")).toBe(3);
      let calls = 0;
      const again = cache.cache({ ttl: "1m", key: (a: number, b: number) => `sum:${a + b}`, prefix: "calc" })(async (a: number, b: number) => {
        calls++;
        return a + b;
      });
      expect(await again(2, 1)).toBe(3);
      expect(calls).toBe(0);
    });

    it("reads the key context with {@:get(name)}, isolated between concurrent calls", async () => {
      const fn = cache.cache({ ttl: "1m", key: "plan:{@:get(tenant)}:{id}" })(async (id: string) => id);
      await withKeyContext({ tenant: "acme" }, () => fn("p1"));
      expect(await cache.get("plan:acme:p1")).toBe("p1");
      await Promise.all([
        withKeyContext({ tenant: "a" }, async () => {
          await sleep(20);
          return fn("x");
        }),
        withKeyContext({ tenant: "b" }, () => fn("x")),
      ]);
      expect(await cache.get("plan:a:x")).toBe("x");
      expect(await cache.get("plan:b:x")).toBe("x");
      await fn("none");
      expect(await cache.get("plan::none")).toBe("none");
    });

    it("stores null by default, not with NOT_NONE", async () => {
      let calls = 0;
      const plain = cache.cache({ ttl: "1m", key: "n1" })(async () => {
        calls++;
        return null;
      });
      await plain();
      await plain();
      expect(calls).toBe(1);
      const strict = cache.cache({ ttl: "1m", key: "n2", condition: NOT_NONE })(async () => {
        calls++;
        return undefined;
      });
      await strict();
      await strict();
      expect(calls).toBe(3);
    });

    it("a custom condition sees result, args and key", async () => {
      const seen: unknown[] = [];
      const fn = cache.cache({
        ttl: "1m",
        key: "c:{n}",
        condition: (result, args, key) => {
          seen.push([result, args, key]);
          return (result as number) > 10;
        },
      })(async (n: number) => n * 2);
      await fn(3);
      await fn(8);
      expect(seen).toEqual([[6, [3], "c:3"], [16, [8], "c:8"]]);
      expect(await cache.exists("c:3")).toBe(false);
      expect(await cache.get("c:8")).toBe(16);
    });

    it("does not cache errors by default; withExceptions caches and rethrows them", async () => {
      class NotFound extends Error {
        override name = "NotFound";
      }
      let calls = 0;
      const plain = cache.cache({ ttl: "1m", key: "e1" })(async () => {
        calls++;
        throw new NotFound("nope");
      });
      await expect(plain()).rejects.toThrow("nope");
      await expect(plain()).rejects.toThrow("nope");
      expect(calls).toBe(2);
      const cached = cache.cache({ ttl: "1m", key: "e2", condition: withExceptions(NotFound) })(async () => {
        calls++;
        throw new NotFound("gone");
      });
      await expect(cached()).rejects.toThrow("gone");
      const second = await cached().catch((e: unknown) => e as Error);
      expect(second.message).toBe("gone");
      expect(second.name).toBe("NotFound");
      expect(second).toBeInstanceOf(NotFound);
      expect((await cache.get("e2")) as Error).toBeInstanceOf(Error);
      expect(calls).toBe(3);
      const other = cache.cache({ ttl: "1m", key: "e3", condition: withExceptions(NotFound) })(async () => {
        calls++;
        throw new RangeError("other");
      });
      await expect(other()).rejects.toThrow("other");
      await expect(other()).rejects.toThrow("other");
      expect(calls).toBe(5);
      const only = cache.cache({ ttl: "1m", key: "e4", condition: onlyExceptions() })(async (fail: boolean) => {
        calls++;
        if (fail) throw new Error("x");
        return "ok";
      });
      await only(false);
      await only(false);
      expect(calls).toBe(7);
    });

    it("the function's own outcome wins when it cannot be cached", async () => {
      class Response {
        status = 500;
      }
      const errors: CacheEventInfo[] = [];
      cache.on("error", (e) => errors.push(e));
      const failing = cache.cache({ ttl: "1m", key: "u1", condition: withExceptions() })(async () => {
        throw new Error("upstream", { cause: new Response() });
      });
      const error = await failing().catch((e: unknown) => e as Error);
      expect(error.message).toBe("upstream");
      expect(error.cause).toBeInstanceOf(Response);
      expect(errors.length).toBe(1);
      expect(await cache.exists("u1")).toBe(false);
      let calls = 0;
      const opaque = cache.cache({ ttl: "1m", key: "u2" })(async () => {
        calls++;
        return new Response();
      });
      await expect(opaque()).rejects.toThrow(/ran, but its result cannot be cached.*Response/);
      expect(calls).toBe(1);
    });

    it("counts every caller: those joining a computation under way are misses", async () => {
      const fn = cache.cache({ ttl: "1m", key: "j" })(async function joined() {
        await sleep(30);
        return 1;
      });
      await Promise.all(Array.from({ length: 10 }, () => fn()));
      await fn();
      expect(cache.stats().functions.joined).toEqual({ hits: 1, misses: 10, errors: 0 });
    });

    it("keys and counts static and instance methods per class", async () => {
      class A {
        @cache.cache({ ttl: "1m" })
        static async find(id: number): Promise<string> {
          return `A${id}`;
        }
        @cache.cache({ ttl: "1m" })
        async get(id: number): Promise<string> {
          return `a${id}`;
        }
      }
      class B {
        @cache.cache({ ttl: "1m" })
        static async find(id: number): Promise<string> {
          return `B${id}`;
        }
        @cache.cache({ ttl: "1m" })
        async get(id: number): Promise<string> {
          return `b${id}`;
        }
      }
      expect([await A.find(1), await B.find(1), await A.find(1), await B.find(1)]).toEqual(["A1", "B1", "A1", "B1"]);
      expect([await new A().get(1), await new B().get(1), await new B().get(1)]).toEqual(["a1", "b1", "b1"]);
      expect(await cache.get("A.find:id:1")).toBe("A1");
      expect(await cache.get("B.find:id:1")).toBe("B1");
      const stats = cache.stats().functions;
      expect(stats["A.find"]).toEqual({ hits: 1, misses: 1, errors: 0 });
      expect(stats["B.get"]).toEqual({ hits: 1, misses: 1, errors: 0 });
      // Only Class.method entries: no all-zero entry under the bare method names.
      expect(Object.keys(stats).sort()).toEqual(["A.find", "A.get", "B.find", "B.get"]);
    });

    it("timeCondition stores only slow results", async () => {
      let calls = 0;
      const fn = cache.cache({ ttl: "1m", key: "slow:{ms}", timeCondition: 100 })(async (ms: number) => {
        calls++;
        await sleep(ms);
        return ms;
      });
      await fn(0);
      await fn(0);
      expect(calls).toBe(2);
      await fn(250);
      await fn(250);
      expect(calls).toBe(3);
    });

    it("protected: concurrent identical calls run the function once", async () => {
      let calls = 0;
      const fn = cache.cache({ ttl: "1m", key: "p:{id}" })(async (id: number) => {
        calls++;
        await sleep(50);
        return id;
      });
      const results = await Promise.all(Array.from({ length: 20 }, () => fn(1)));
      expect(results).toEqual(Array(20).fill(1));
      expect(calls).toBe(1);
      const unprotected = cache.cache({ ttl: "1m", key: "q:{id}", protected: false })(async (id: number) => {
        calls++;
        await sleep(50);
        return id;
      });
      await Promise.all(Array.from({ length: 5 }, () => unprotected(1)));
      expect(calls).toBe(6);
    });

    it("emits hit, miss and set events and counts stats per function", async () => {
      const events: CacheEventInfo[] = [];
      const off = [cache.on("hit", (e) => events.push(e)), cache.on("miss", (e) => events.push(e)), cache.on("set", (e) => events.push(e))];
      const fn = cache.cache({ ttl: "1m", key: "ev" })(async function counted() {
        return 1;
      });
      await fn();
      await fn();
      off.forEach((o) => o());
      await fn();
      expect(events.map((e) => [e.type, e.key, e.function])).toEqual([
        ["miss", "ev", "counted"],
        ["set", "ev", undefined],
        ["hit", "ev", "counted"],
      ]);
      expect(cache.stats().functions.counted).toEqual({ hits: 2, misses: 1, errors: 0 });
      expect(cache.stats()).toMatchObject({ hits: 2, misses: 1, sets: 1 });
    });

    it("wraps class methods as a TC39 decorator, keyed by class and method", async () => {
      let calls = 0;
      class Users {
        constructor(readonly tenant: string) {}
        @cache.cache({ ttl: "1m" })
        async get(id: string): Promise<string> {
          calls++;
          return `${this.tenant}:${id}`;
        }
        @cache.cache({ ttl: "1m", key: "posts:{id}" })
        async posts(id: string): Promise<string[]> {
          calls++;
          return [id];
        }
      }
      const users = new Users("acme");
      expect(await users.get("1")).toBe("acme:1");
      expect(await users.get("1")).toBe("acme:1");
      expect(await users.posts("9")).toEqual(["9"]);
      expect(await users.posts("9")).toEqual(["9"]);
      expect(calls).toBe(2);
      expect(await cache.get("Users.get:id:1")).toBe("acme:1");
      expect(await cache.get("posts:9")).toEqual(["9"]);
    });
  });
}
