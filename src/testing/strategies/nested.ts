/**
 * Conformance of nested decorators (issue 17, item 1): an upper layer (`failover` always, the
 * value strategies and `iterator` with `upper: true`) never stores a value an inner decorator
 * served from cache, stores what the function computed, and without `upper` a layer stores what
 * the inner one returned (two-level caching); plus `early({ background: false })` and `dynamic`.
 * @module
 */
import { describe, expect, it } from "vitest";
import type { Cache, CacheEventInfo } from "../../index.js";
import { createContextStore } from "../../context/store.js";
import { Boom } from "../errors.js";
import { itNeeds, useCachesPerTest, type TargetHandle } from "../target.js";
import { sleep, until } from "../wait.js";

/** Registers the nested-decorator tests on a started target in the calling `describe`. */
export function nestedTests(target: TargetHandle): void {
  describe("nested decorators", () => {
    let cache: Cache;
    useCachesPerTest(target, ["n"], ([a]) => {
      cache = a!;
    });

    /** An inner cached layer over a function counting its calls. */
    const inner = (key: string): { calls: () => number; fn: (id: number) => Promise<string> } => {
      let calls = 0;
      const fn = cache({ ttl: "1m", key: `${key}:{id}` })(async (id: number) => `v${id}-${++calls}`);
      return { calls: () => calls, fn };
    };

    it("failover stores what the function computed, never what an inner cache served", async () => {
      const layer = inner("in");
      const outer = cache.failover({ ttl: "1m", key: "out:{id}" })(layer.fn);
      expect(await outer(1)).toBe("v1-1"); // computed: both layers store it
      expect(await cache.get("fail:out:1")).toBe("v1-1");
      expect(await cache.get("in:1")).toBe("v1-1");
      await cache.delete("fail:out:1");
      expect(await outer(1)).toBe("v1-1"); // served by the inner layer: not stored again
      expect(await cache.exists("fail:out:1")).toBe(false);
      expect(layer.calls()).toBe(1);
    });

    it("cache({ upper: true }) stays empty while the inner layer serves, and fills when the inner one computes", async () => {
      const layer = inner("i");
      const outer = cache({ ttl: "1m", key: "o:{id}", upper: true })(layer.fn);
      await cache.set("i:1", "stored");
      expect(await outer(1)).toBe("stored");
      expect(await cache.exists("o:1")).toBe(false);
      expect(await outer(1)).toBe("stored");
      expect(await cache.exists("o:1")).toBe(false);
      expect(await outer(2)).toBe("v2-1"); // computed by the function: every layer stores it
      expect(await cache.get("o:2")).toBe("v2-1");
      expect(await cache.get("i:2")).toBe("v2-1");
    });

    itNeeds(target, ["locks", "strongConsistency"], "cache({ upper: true, lock: true }) over a cached layer stays empty while it serves (the original's test)", async () => {
      const layer = inner("k2");
      const outer = cache({ ttl: "1m", key: "k1:{id}", upper: true, lock: true })(layer.fn);
      await cache.set("k2:1", "stored");
      expect(await outer(1)).toBe("stored");
      expect(await cache.exists("k1:1")).toBe(false);
      expect(await cache.exists("k1:1:lock")).toBe(false); // released
      expect(await outer(2)).toBe("v2-1");
      expect(await cache.get("k1:2")).toBe("v2-1");
    });

    it("without upper, an outer layer stores what the inner one returned (two-level caching)", async () => {
      const layer = inner("l");
      const outer = cache({ ttl: "1m", key: "short:{id}" })(layer.fn);
      await cache.set("l:1", "stored");
      expect(await outer(1)).toBe("stored");
      expect(await cache.get("short:1")).toBe("stored");
      expect(layer.calls()).toBe(0);
    });

    it("a value failover served after an error is not stored by an upper layer over it", async () => {
      let fail = false;
      const guarded = cache.failover({ ttl: "1m", key: "f" })(async () => {
        if (fail) throw new Boom("down");
        return "good";
      });
      const outer = cache({ ttl: "1m", key: "over", upper: true })(guarded);
      expect(await outer()).toBe("good");
      expect(await cache.get("over")).toBe("good");
      await cache.delete("over");
      fail = true;
      expect(await outer()).toBe("good"); // served by failover from its cache
      expect(await cache.exists("over")).toBe(false);
    });

    it("an inner hit marks every enclosing upper layer; a function calling the inner layer before its first await is seen", async () => {
      const layer = inner("deep");
      const middle = cache.soft({ ttl: "1m", key: "mid:{id}", upper: true })(async (id: number) => layer.fn(id));
      const top = cache.early({ ttl: "1m", key: "top:{id}", upper: true })(middle);
      await cache.set("deep:1", "stored");
      expect(await top(1)).toBe("stored");
      expect(await cache.exists("soft:mid:1")).toBe(false);
      expect(await cache.exists("early:top:1")).toBe(false);
      expect(await top(2)).toBe("v2-1");
      expect(((await cache.get("soft:mid:2")) as { v: unknown }).v).toBe("v2-1");
      expect(((await cache.get("early:top:2")) as { v: unknown }).v).toBe("v2-1");
    });

    it("inside a scope, an inner call after an await is seen too", async () => {
      const layer = inner("late");
      const outer = cache({ ttl: "1m", key: "after:{id}", upper: true })(async (id: number) => {
        await sleep(1);
        return layer.fn(id);
      });
      await cache.set("late:1", "stored");
      const { result, keys } = await cache.detect(() => outer(1));
      expect(result).toBe("stored");
      expect(Object.keys(keys)).toEqual(["late:1"]);
      expect(await cache.exists("after:1")).toBe(false);
    });

    // Where the runtime has AsyncLocalStorage (Node, Bun, Deno, Workers with nodejs_compat).
    const asyncContext = createContextStore<true>().async;

    it.runIf(asyncContext)("outside every scope, an inner call after an await is seen too", async () => {
      const layer = inner("bare");
      const outer = cache.failover({ ttl: "1m", key: "bare-out:{id}" })(async (id: number) => {
        await sleep(1);
        await Promise.resolve();
        return layer.fn(id);
      });
      await cache.set("bare:1", "stored");
      expect(await outer(1)).toBe("stored");
      expect(await cache.exists("fail:bare-out:1")).toBe(false);
      expect(await outer(2)).toBe("v2-1"); // computed after the await: stored
      expect(await cache.get("fail:bare-out:2")).toBe("v2-1");
    });

    it.runIf(asyncContext)("concurrent upper calls never mark each other", async () => {
      const layer = inner("pair");
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const outer = cache({ ttl: "1m", key: "pair-out:{id}", upper: true })(async (id: number) => {
        await gate;
        return layer.fn(id);
      });
      await cache.set("pair:1", "stored");
      const both = Promise.all([outer(1), outer(2)]);
      release();
      expect(await both).toEqual(["stored", "v2-1"]);
      expect(await cache.exists("pair-out:1")).toBe(false);
      expect(await cache.get("pair-out:2")).toBe("v2-1");
    });

    itNeeds(target, ["atomic"], "hit({ upper: true }) does not store what the inner layer served", async () => {
      const layer = inner("h");
      const outer = cache.hit({ ttl: "1m", cacheHits: 5, key: "ho:{id}", upper: true })(layer.fn);
      await cache.set("h:1", "stored");
      expect(await outer(1)).toBe("stored");
      expect(await cache.exists("hit:ho:1")).toBe(false);
      expect(await outer(2)).toBe("v2-1");
      expect(await cache.get("hit:ho:2")).toBe("v2-1");
    });

    it("iterator({ upper: true }) does not store a run an inner cached iterator replayed", async () => {
      let calls = 0;
      const source = cache.iterator({ ttl: "1m", key: "src:{n}" })(async function* (n: number) {
        calls++;
        for (let i = 0; i < n; i++) yield i;
      });
      const outer = cache.iterator({ ttl: "1m", key: "up:{n}", upper: true })(async function* (n: number) {
        yield* source(n);
      });
      const all = async (it: AsyncIterable<unknown>): Promise<unknown[]> => {
        const out: unknown[] = [];
        for await (const v of it) out.push(v);
        return out;
      };
      expect(await all(source(3))).toEqual([0, 1, 2]); // the inner layer is filled
      expect(await all(outer(3))).toEqual([0, 1, 2]); // replayed by the inner layer
      expect(await cache.exists("up:3")).toBe(false);
      expect(await all(outer(2))).toEqual([0, 1]); // computed: both store the run
      expect(await cache.exists("up:2")).toBe(true);
      expect(await cache.exists("src:2")).toBe(true);
      expect(calls).toBe(2);
    });

    it("upper: a non-boolean is refused at wrap time", () => {
      expect(() => cache({ ttl: "1m", upper: "yes" as unknown as boolean })).toThrow(/"upper" must be a boolean/);
      expect(() => cache.failover({ ttl: "1m", upper: true } as never)).toThrow(/unknown option "upper"/);
    });

    // ------------------------------------------------------------------------------ item 6

    it("early({ background: false }): the call that finds the value due refreshes it and gets the refreshed value", async () => {
      let calls = 0;
      const fn = cache.early({ ttl: "1m", earlyTtl: 200, key: "fg", background: false })(async () => {
        await sleep(20);
        return ++calls;
      });
      expect(await fn()).toBe(1);
      expect(await fn()).toBe(1);
      await sleep(300);
      expect(await fn()).toBe(2); // refreshed in this call
      expect(calls).toBe(2);
      expect(((await cache.get("early:fg")) as { v: unknown }).v).toBe(2);
      expect(await fn()).toBe(2); // fresh again
      expect(calls).toBe(2);
    });

    it("early({ background: false }): a failed refresh is reported and the caller gets the old value", async () => {
      let calls = 0;
      const errors: CacheEventInfo[] = [];
      cache.on("error", (e) => errors.push(e));
      const fn = cache.early({ ttl: "1m", earlyTtl: 150, key: "fgbad", background: false })(async () => {
        if (++calls > 1) throw new Boom("refresh failed");
        return calls;
      });
      expect(await fn()).toBe(1);
      await sleep(250);
      expect(await fn()).toBe(1);
      expect(calls).toBe(2);
      expect(errors.map((e) => e.error)).toEqual([expect.any(Boom)]);
    });

    itNeeds(target, ["atomic"], "dynamic: hit with cacheHits 3, updateAfter 1, ttl one day: 1, 1, 2, 3, 4, 5", async () => {
      let calls = 0;
      const fn = cache.dynamic({ key: "d" })(async () => ++calls);
      const seen: number[] = [];
      for (let i = 0; i < 6; i++) {
        seen.push(await fn());
        // Each first hit refreshes in the background: wait until it stored (and restarted the count).
        const stored = i + 1;
        await until(async () => (await cache.get("dynamic:d")) === stored && !(await cache.exists("dynamic:d:hits")));
      }
      expect(seen).toEqual([1, 1, 2, 3, 4, 5]);
      expect(calls).toBe(6);
      expect(await cache.getExpire("dynamic:d")).toBeGreaterThan(23 * 3600_000);
      expect(() => cache.dynamic({ cacheHits: 2 } as never)).toThrow(/unknown option "cacheHits"/);
    });
  });
}
