/**
 * Conformance of the value strategies (failover, hit, early, soft): behaviour, coordination of two
 * Cache instances on one shared backend ("two processes"), background refresh failures, decorators.
 * @module
 */
import { describe, expect, it } from "vitest";
import { NOT_NONE, withExceptions, type Cache, type CacheEventInfo } from "../../index.js";
import { Boom, Other } from "../errors.js";
import { itWhenShared, useCachesPerTest, itNeeds, type TargetHandle } from "../target.js";
import { sleep, until } from "../wait.js";

/** Registers the tests of failover, hit, early and soft on a started target in the calling `describe`. */
export function valueTests(target: TargetHandle): void {
  describe("value strategies", () => {
    let cache: Cache;
    /** A second instance on the same backend ("another process"), for shared backends. */
    let other: Cache;
    useCachesPerTest(target, ["a", "b"], ([a, b]) => {
      cache = a!;
      other = b!;
    });

    // ------------------------------------------------------------------------------ failover

    describe("failover", () => {
      it("serves the last good value on a listed error, as a hit", async () => {
        let calls = 0;
        const fn = cache.failover({ ttl: "1m", key: "f:{id}", exceptions: Boom })(async function load(id: string, fail: boolean) {
          calls++;
          if (fail) throw new Boom("down");
          return `${id}-${calls}`;
        });
        const events: CacheEventInfo[] = [];
        cache.on("hit", (e) => e.function && events.push(e));
        expect(await fn("x", false)).toBe("x-1");
        expect(await fn("x", false)).toBe("x-2"); // always calls, stores each success
        expect(await cache.get("fail:f:x")).toBe("x-2");
        expect(await fn("x", true)).toBe("x-2");
        expect(calls).toBe(3);
        expect(events.map((e) => [e.type, e.key, e.function])).toEqual([["hit", "fail:f:x", "load"]]);
        expect(cache.stats().functions.load).toEqual({ hits: 1, misses: 2, errors: 1 });
      });

      it("rethrows an unlisted error, and a listed one when nothing is stored", async () => {
        const fn = cache.failover({ ttl: "1m", key: "g", exceptions: [Boom] })(async (error?: Error) => {
          if (error) throw error;
          return "ok";
        });
        await expect(fn(new Boom("cold"))).rejects.toBeInstanceOf(Boom);
        expect(await fn()).toBe("ok");
        await expect(fn(new Other("unlisted"))).rejects.toThrow("unlisted");
        expect(await fn(new Boom("warm"))).toBe("ok");
      });

      it("every error is listed by default; the stored value expires with ttl", async () => {
        const fn = cache.failover({ ttl: 300, key: "h" })(async (fail: boolean) => {
          if (fail) throw new TypeError("t");
          return 1;
        });
        expect(await fn(false)).toBe(1);
        expect(await fn(true)).toBe(1);
        await sleep(500);
        await expect(fn(true)).rejects.toThrow(TypeError);
      });

      it("stores only what the condition accepts", async () => {
        const fn = cache.failover({ ttl: "1m", key: "c", condition: NOT_NONE })(async (v: number | null, fail = false) => {
          if (fail) throw new Boom("x");
          return v;
        });
        await fn(1);
        await fn(null);
        expect(await fn(0, true)).toBe(1);
      });
    });

    // ------------------------------------------------------------------------------ hit

    describe("hit", () => {
      itNeeds(target, ["atomic"], "cacheHits: 2 serves each value to one miss plus two hits: 1,1,1,2,2,2,3", async () => {
        let calls = 0;
        const fn = cache.hit({ ttl: "1m", cacheHits: 2, key: "n" })(async function counted() {
          return ++calls;
        });
        const seen: number[] = [];
        for (let i = 0; i < 7; i++) seen.push(await fn());
        expect(seen).toEqual([1, 1, 1, 2, 2, 2, 3]);
        expect(cache.stats().functions.counted).toEqual({ hits: 4, misses: 3, errors: 0 });
      });

      itNeeds(target, ["atomic"], "updateAfter: the n-th hit refreshes once in the background; the caller gets the cached value", async () => {
        let calls = 0;
        const fn = cache.hit({ ttl: "1m", cacheHits: 3, updateAfter: 2, key: "u" })(async () => {
          await sleep(20);
          return ++calls;
        });
        expect(await fn()).toBe(1); // miss
        expect(await fn()).toBe(1); // hit 1
        expect(await fn()).toBe(1); // hit 2: refresh starts
        // The refresh writes the value, then restarts the count (deletes the counter).
        const refreshed = async (n: number): Promise<boolean> => (await cache.get("hit:u")) === n && !(await cache.exists("hit:u:hits"));
        await until(() => refreshed(2));
        expect(await fn()).toBe(2); // count restarted: hit 1
        expect(await fn()).toBe(2); // hit 2: refresh
        await until(() => refreshed(3));
        expect(await fn()).toBe(3);
        expect(calls).toBe(3);
      });

      itNeeds(target, ["atomic"], "updateAfter: exactly one refresh with many concurrent hits", async () => {
        let calls = 0;
        const fn = cache.hit({ ttl: "1m", cacheHits: 50, updateAfter: 5, key: "many" })(async () => {
          await sleep(30);
          return ++calls;
        });
        await fn();
        const results = await Promise.all(Array.from({ length: 20 }, () => fn()));
        expect(results).toEqual(Array(20).fill(1));
        await until(async () => (await cache.get("hit:many")) === 2);
        await sleep(100);
        expect(calls).toBe(2);
      });

      itNeeds(target, ["atomic"], "a failed refresh is reported; the value is served until its hits run out", async () => {
        let calls = 0;
        const errors: CacheEventInfo[] = [];
        cache.on("error", (e) => errors.push(e));
        const fn = cache.hit({ ttl: "1m", cacheHits: 3, updateAfter: 1, key: "rf" })(async () => {
          if (++calls === 2) throw new Boom("refresh failed");
          return calls;
        });
        expect(await fn()).toBe(1);
        expect(await fn()).toBe(1); // hit 1: refresh (fails)
        await until(() => errors.length === 1);
        expect(errors[0]!.error).toBeInstanceOf(Boom);
        expect(errors[0]!.key).toBe("hit:rf");
        expect(await fn()).toBe(1); // hit 2
        expect(await fn()).toBe(1); // hit 3
        expect(await fn()).toBe(3); // exhausted: foreground
      });

      itNeeds(target, ["atomic"], "the value never outlives ttl", async () => {
        let calls = 0;
        const fn = cache.hit({ ttl: 300, cacheHits: 100, key: "t" })(async () => ++calls);
        expect(await fn()).toBe(1);
        expect(await fn()).toBe(1);
        await sleep(450);
        expect(await fn()).toBe(2);
      });

      itNeeds(target, ["atomic"], "caches errors with withExceptions", async () => {
        let calls = 0;
        const fn = cache.hit({ ttl: "1m", cacheHits: 2, key: "e", condition: withExceptions(Boom) })(async () => {
          calls++;
          throw new Boom("b");
        });
        await expect(fn()).rejects.toThrow("b");
        await expect(fn()).rejects.toBeInstanceOf(Boom);
        expect(calls).toBe(1);
      });

      itWhenShared(target, "counts hits across processes", ["atomic"], async () => {
        let calls = 0;
        const body = async (): Promise<number> => ++calls;
        const a = cache.hit({ ttl: "1m", cacheHits: 2, key: "x" })(body);
        const b = other.hit({ ttl: "1m", cacheHits: 2, key: "x" })(body);
        expect([await a(), await b(), await a(), await b(), await a(), await b(), await a()]).toEqual([1, 1, 1, 2, 2, 2, 3]);
      }, { freshAcross: true });

      itWhenShared(target, "updateAfter refreshes once across processes", ["atomic"], async () => {
        let calls = 0;
        // The refresh waits on a gate the test opens once every call was answered: no call can
        // see the refreshed value however slowly the other process's reads come (no timing).
        let gate: Promise<void> = Promise.resolve();
        const body = async (): Promise<number> => {
          const n = ++calls;
          await gate;
          return n;
        };
        const a = cache.hit({ ttl: "1m", cacheHits: 50, updateAfter: 4, key: "y" })(body);
        const b = other.hit({ ttl: "1m", cacheHits: 50, updateAfter: 4, key: "y" })(body);
        await a();
        let open!: () => void;
        gate = new Promise<void>((resolve) => (open = resolve));
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a() : b())));
        expect(results).toEqual(Array(10).fill(1));
        open();
        await until(async () => (await cache.get("hit:y")) === 2);
        await sleep(100);
        expect(calls).toBe(2);
      });
    });

    // ------------------------------------------------------------------------------ early

    describe("early", () => {
      it("stores an explicit envelope and serves it while fresh", async () => {
        let calls = 0;
        const fn = cache.early({ ttl: "1m", earlyTtl: "10s", key: "e:{id}" })(async (id: number) => ({ id, n: ++calls }));
        expect(await fn(1)).toEqual({ id: 1, n: 1 });
        expect(await fn(1)).toEqual({ id: 1, n: 1 });
        expect(calls).toBe(1);
        const stored = (await cache.get("early:e:1")) as { v: unknown; exp: number };
        expect(stored.v).toEqual({ id: 1, n: 1 });
        expect(stored.exp).toBeGreaterThan(Date.now() + 8000);
        expect(stored.exp).toBeLessThanOrEqual(Date.now() + 10_000);
        const left = await cache.getExpire("early:e:1");
        expect(left).toBeGreaterThan(50_000);
      });

      it("after earlyTtl: the old value is served, one background refresh, then the new value", async () => {
        let calls = 0;
        const fn = cache.early({ ttl: "1m", earlyTtl: 200, key: "r" })(async function refreshed() {
          await sleep(20);
          return ++calls;
        });
        expect(await fn()).toBe(1);
        await sleep(300);
        expect(await fn()).toBe(1);
        await until(() => calls === 2);
        await until(async () => (await fn()) === 2);
        expect(calls).toBe(2);
        // The refreshed value restarts the clock: fresh again for earlyTtl.
        expect(await fn()).toBe(2);
        expect(calls).toBe(2);
      });

      it("20 concurrent callers after earlyTtl: all get the old value, exactly one refresh", async () => {
        let calls = 0;
        const fn = cache.early({ ttl: "1m", earlyTtl: 200, key: "c" })(async () => {
          await sleep(50);
          return ++calls;
        });
        await fn();
        await sleep(300);
        const results = await Promise.all(Array.from({ length: 20 }, () => fn()));
        expect(results).toEqual(Array(20).fill(1));
        await until(async () => (await fn()) === 2);
        await sleep(100);
        expect(calls).toBe(2);
      });

      it("a cold miss runs once for concurrent callers (protected)", async () => {
        let calls = 0;
        const fn = cache.early({ ttl: "1m", key: "cold" })(async () => {
          await sleep(50);
          return ++calls;
        });
        expect(await Promise.all(Array.from({ length: 20 }, () => fn()))).toEqual(Array(20).fill(1));
        expect(calls).toBe(1);
      });

      it("a failed refresh emits error and keeps serving the stale value; a later refresh succeeds", async () => {
        let calls = 0;
        let failing = true;
        const errors: CacheEventInfo[] = [];
        cache.on("error", (e) => errors.push(e));
        const fn = cache.early({ ttl: "1m", earlyTtl: 150, key: "bad" })(async function flaky() {
          calls++;
          if (calls > 1 && failing) throw new Boom("refresh failed");
          return calls;
        });
        expect(await fn()).toBe(1);
        await sleep(250);
        expect(await fn()).toBe(1);
        await until(() => errors.length >= 1);
        expect(errors[0]!.error).toBeInstanceOf(Boom);
        expect(errors[0]!.key).toBe("early:bad");
        expect(await fn()).toBe(1);
        expect(cache.stats().functions.flaky!.errors).toBeGreaterThanOrEqual(1);
        failing = false;
        await until(async () => (await fn()) > 1);
      });

      it("stores errors inside the envelope with withExceptions and rethrows them as their class", async () => {
        let calls = 0;
        const fn = cache.early({ ttl: "1m", key: "err", condition: withExceptions(Boom) })(async () => {
          calls++;
          throw new Boom("stored");
        });
        await expect(fn()).rejects.toThrow("stored");
        const again = await fn().catch((e: unknown) => e);
        expect(again).toBeInstanceOf(Boom);
        expect(calls).toBe(1);
      });

      it("timeCondition stores only slow results", async () => {
        let calls = 0;
        const fn = cache.early({ ttl: "1m", key: "slow:{ms}", timeCondition: 100 })(async (ms: number) => {
          calls++;
          await sleep(ms);
          return ms;
        });
        await fn(0);
        await fn(0);
        expect(calls).toBe(2);
        await fn(200);
        await fn(200);
        expect(calls).toBe(3);
      });

      itWhenShared(target, "exactly one refresh across two processes", ["locks"], async () => {
        let calls = 0;
        const body = async (): Promise<number> => {
          await sleep(50);
          return ++calls;
        };
        const a = cache.early({ ttl: "1m", earlyTtl: 200, key: "p" })(body);
        const b = other.early({ ttl: "1m", earlyTtl: 200, key: "p" })(body);
        expect(await a()).toBe(1);
        expect(await b()).toBe(1);
        await sleep(300);
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a() : b())));
        expect(results).toEqual(Array(20).fill(1));
        await until(async () => (await b()) === 2 && (await a()) === 2);
        await sleep(100);
        expect(await Promise.all([a(), b(), a(), b()])).toEqual([2, 2, 2, 2]);
        expect(calls).toBe(2);
      }, { freshAcross: true });
    });

    // ------------------------------------------------------------------------------ soft

    describe("soft", () => {
      it("serves fresh values, recomputes after softTtl, serves the stale value on a listed error until ttl", async () => {
        let calls = 0;
        let fail: Error | undefined;
        const fn = cache.soft({ ttl: 800, softTtl: 100, key: "s", exceptions: [Boom] })(async function softly() {
          calls++;
          if (fail) throw fail;
          return calls;
        });
        expect(await fn()).toBe(1);
        expect(await fn()).toBe(1);
        expect(calls).toBe(1);
        await sleep(150);
        expect(await fn()).toBe(2); // soft-expired: recomputed in the foreground
        await sleep(150);
        fail = new Boom("down");
        expect(await fn()).toBe(2); // listed error: the soft-expired value
        expect(calls).toBe(3);
        fail = new Other("unlisted");
        await expect(fn()).rejects.toBeInstanceOf(Other);
        await sleep(900); // past ttl
        fail = new Boom("down");
        await expect(fn()).rejects.toBeInstanceOf(Boom);
        expect(cache.stats().functions.softly).toMatchObject({ hits: 2, errors: 3 });
      });

      it("rethrows a listed error when nothing is stored; protected recomputation", async () => {
        let calls = 0;
        const failing = cache.soft({ ttl: "1m", key: "none" })(async () => {
          throw new Boom("cold");
        });
        await expect(failing()).rejects.toBeInstanceOf(Boom);
        const fn = cache.soft({ ttl: "1m", key: "pr" })(async () => {
          await sleep(50);
          return ++calls;
        });
        expect(await Promise.all(Array.from({ length: 20 }, () => fn()))).toEqual(Array(20).fill(1));
        expect(calls).toBe(1);
        const stored = (await cache.get("soft:pr")) as { v: unknown; exp: number };
        expect(stored.v).toBe(1);
        expect(typeof stored.exp).toBe("number");
      });
    });

    // ------------------------------------------------------------------------------ decorators

    itNeeds(target, ["atomic"], "works as TC39 method decorators, keyed by class and method", async () => {
      let calls = 0;
      class Repo {
        constructor(readonly name: string) {}
        @cache.failover({ ttl: "1m", key: "repo:{id}" })
        async fail(id: number, broken = false): Promise<string> {
          calls++;
          if (broken) throw new Boom("x");
          return `${this.name}:${id}`;
        }
        @cache.hit({ ttl: "1m", cacheHits: 1 })
        async counted(id: number): Promise<number> {
          calls++;
          return id;
        }
        @cache.early({ ttl: "1m" })
        async early(id: number): Promise<string> {
          calls++;
          return `${this.name}:e${id}`;
        }
        @cache.soft({ ttl: "1m" })
        async soft(id: number): Promise<string> {
          calls++;
          return `${this.name}:s${id}`;
        }
      }
      const repo = new Repo("r");
      expect(await repo.fail(1)).toBe("r:1");
      expect(await repo.fail(1, true)).toBe("r:1");
      expect(await repo.counted(2)).toBe(2);
      expect(await repo.counted(2)).toBe(2);
      expect(await repo.early(3)).toBe("r:e3");
      expect(await repo.early(3)).toBe("r:e3");
      expect(await repo.soft(4)).toBe("r:s4");
      expect(await repo.soft(4)).toBe("r:s4");
      expect(calls).toBe(5);
      expect(await cache.get("fail:repo:1")).toBe("r:1");
      expect(await cache.exists("hit:Repo.counted:id:2")).toBe(true);
      expect(((await cache.get("early:Repo.early:id:3")) as { v: unknown }).v).toBe("r:e3");
      expect(((await cache.get("soft:Repo.soft:id:4")) as { v: unknown }).v).toBe("r:s4");
      expect(cache.stats().functions["Repo.early"]).toEqual({ hits: 1, misses: 1, errors: 0 });
    });
  });
}
