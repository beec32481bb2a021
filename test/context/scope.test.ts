// Scopes and context: disable/enable/disabling (async-context scoped), invalidateFurther (nests),
// detect / CacheDetect (sibling isolation, nesting), runWithWaitUntil (background refreshes).
import { afterEach, describe, expect, inject, it } from "vitest";
import { Cache, CacheDetect, Command, invalidateFurther, runWithWaitUntil } from "../../src/index.js";
import { scope } from "../../src/context/scope.js";
import type { ConformanceTarget } from "../../src/testing/target.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const redisUrl = inject("redisUrl");

const targets: ConformanceTarget[] = [{ name: "mem://", url: () => "mem://" }];
if (redisUrl) targets.push({ name: "redis://", url: () => redisUrl });

const caches: Cache[] = [];
afterEach(async () => {
  for (const c of caches.splice(0)) {
    await c.clear();
    await c.close();
  }
  // Nothing stays live but the sticky baseline (set once any scope ran on an AsyncLocalStorage runtime).
  expect(scope.live).toBe(scope.sticky ? 1 : 0);
});

describe.each(targets)("scopes on $name", (target) => {
  const url = target.url();
  const make = (): Cache => {
    const c = new Cache("ctx").setup(url, url.startsWith("redis") ? { namespace: `ctx${Math.random().toString(36).slice(2, 8)}` } : {});
    caches.push(c);
    return c;
  };

  it("Command is a frozen enum of every command", () => {
    expect(Object.isFrozen(Command)).toBe(true);
    expect(Object.keys(Command)).toHaveLength(26); // 19 of API.md, and issue 17: GET_RAW, SET_RAW, GET_SIZE, SET_ADD, SET_REMOVE, SET_POP, SET_MEMBERS
    expect(Command.GET_MANY).toBe("get_many");
  });

  it("disabling is scoped to its async context: a concurrent one is unaffected", async () => {
    const cache = make();
    await cache.set("k", 1);
    let inner: unknown;
    let other: unknown;
    await Promise.all([
      cache.disabling(async () => {
        await sleep(20);
        inner = await cache.get("k", "default");
      }, Command.GET),
      cache.disabling(async () => {
        await sleep(5);
        other = await cache.get("k", "default");
      }, Command.SET),
      (async () => {
        await sleep(10);
        expect(await cache.get("k")).toBe(1);
      })(),
    ]);
    expect(inner).toBe("default");
    expect(other).toBe(1);
    expect(await cache.get("k")).toBe(1);
  });

  it("disable() inside a scope stays in it; two concurrent scopes do not leak", async () => {
    const cache = make();
    await cache.set("k", "v");
    const seen: unknown[] = [];
    // a disables GET first, and reads only once b has read (not after a fixed sleep: b's read is a
    // round trip, which may take longer than any margin under load).
    let bRead!: () => void;
    const bHasRead = new Promise<void>((resolve) => (bRead = resolve));
    await Promise.all([
      cache.disabling(async () => {
        cache.disable(Command.GET);
        await bHasRead;
        seen.push(["a", await cache.get("k")]);
        cache.enable(Command.GET);
        seen.push(["a2", await cache.get("k")]);
      }, Command.PING),
      cache.disabling(async () => {
        await sleep(10);
        seen.push(["b", await cache.get("k")]);
        bRead();
      }, Command.PING),
    ]);
    expect(seen).toEqual([["b", "v"], ["a", undefined], ["a2", "v"]]);
    expect(await cache.ping()).toBe("PONG");
  });

  it("top-level disable()/enable() are process-wide", async () => {
    const cache = make();
    await cache.set("k", 1);
    cache.disable(Command.GET);
    expect(cache.isDisabled(Command.GET)).toBe(true);
    expect(await cache.get("k")).toBeUndefined();
    cache.enable();
    expect(cache.isDisabled()).toBe(false);
    expect(await cache.get("k")).toBe(1);
  });

  it("disabled commands return neutral values without touching the backend", async () => {
    const cache = make();
    await cache.setMany({ a: 1, b: 2 });
    await cache.disabling(async () => {
      expect(await cache.getMany(["a", "b"], "d")).toEqual(["d", "d"]);
      const scanned: string[] = [];
      for await (const k of cache.scan("*")) scanned.push(k);
      expect(scanned).toEqual([]);
      const matched: unknown[] = [];
      for await (const kv of cache.getMatch("*")) matched.push(kv);
      expect(matched).toEqual([]);
      expect(await cache.set("c", 3)).toBe(false);
      expect(await cache.delete("a")).toBe(false);
      expect(await cache.incr("n")).toBeNaN();
      expect(await cache.exists("a")).toBe(false);
      expect(await cache.isLocked("a")).toBe(false);
    });
    expect(await cache.getMany(["a", "b", "c"])).toEqual([1, 2, undefined]);
    expect(await cache.get("n")).toBeUndefined();
  });

  it("GET_MANY disabled alone: getMany gives defaults, get still works", async () => {
    const cache = make();
    await cache.set("a", 1);
    await cache.disabling(async () => {
      expect(await cache.getMany(["a"], 0)).toEqual([0]);
      expect(await cache.get("a")).toBe(1);
    }, Command.GET_MANY);
  });

  it("decorated: GET disabled recomputes and still writes; everything disabled calls directly", async () => {
    const cache = make();
    let calls = 0;
    const f = cache({ ttl: "1m", key: "f:{x}" })(async (x: number) => x + ++calls);
    expect(await f(1)).toBe(2);
    expect(await cache.disabling(() => f(1), Command.GET)).toBe(3);
    expect(await f(1)).toBe(3); // the recomputed value was written
    expect(await cache.disabling(() => f(1))).toBe(4);
    expect(await f(1)).toBe(3); // nothing written
    const e = cache.early({ ttl: "1m", key: "e:{x}" })(async (x: number) => x + ++calls);
    const first = await e(1);
    expect(await cache.disabling(() => e(1))).toBe(1 + calls);
    expect(await e(1)).toBe(first);
  });

  it("invalidateFurther deletes what reads touch, leaves writes alone, and nests", async () => {
    const cache = make();
    await cache.setMany({ k: 1, k2: 2, m1: 3, m2: 4 });
    await invalidateFurther(async () => {
      expect(await cache.set("k", "v2")).toBe(true);
      expect(await cache.get("k")).toBeUndefined();
      await cache.invalidateFurther(async () => {
        expect(await cache.getMany(["m1"])).toEqual([undefined]);
      });
      // still invalidating after the nested scope ended
      const matched: unknown[] = [];
      for await (const kv of cache.getMatch("m*")) matched.push(kv);
      expect(matched).toEqual([]);
    });
    expect(await cache.get("k")).toBeUndefined();
    expect(await cache.get("k2")).toBe(2);
    expect(await cache.exists("m1")).toBe(false);
    expect(await cache.exists("m2")).toBe(false);

    let calls = 0;
    const f = cache({ ttl: "1m", key: "f:{x}" })(async (x: number) => x + ++calls);
    expect(await f(1)).toBe(2);
    expect(await f(1)).toBe(2);
    expect(await invalidateFurther(() => f(1))).toBe(3);
    expect(await f(1)).toBe(3);
  });

  it("detect records decorated hits of cache and early with names and keys", async () => {
    const cache = make();
    const f = cache({ ttl: "1m", key: "f:{x}" })(async (x: number) => x);
    const e = cache.early({ ttl: "1m", key: "e:{x}" })(async (x: number) => x);
    await f(1);
    await e(1);
    const { result, keys } = await cache.detect(async () => {
      await f(1);
      await f(2); // miss: not recorded
      await e(1);
      await f(1);
      return "r";
    });
    expect(result).toBe("r");
    expect(Object.keys(keys).sort()).toEqual(["early:e:1", "f:1"]);
    expect(keys["f:1"]).toHaveLength(2);
    expect(keys["f:1"]![0]).toMatchObject({ name: "cache", ttl: 60_000, template: "f:{x}" });
    expect(keys["early:e:1"]![0]).toMatchObject({ name: "early", ttl: 60_000, template: "e:{x}" });
    expect(typeof keys["early:e:1"]![0]!.backend).toBe("string");
  });

  it("detect: concurrent siblings are isolated, nested hits count for every enclosing scope", async () => {
    const cache = make();
    const f = cache({ ttl: "1m", key: "f:{x}" })(async (x: number) => x);
    await Promise.all([1, 2, 3].map((x) => f(x)));
    const outer = await cache.detect(async () => {
      const [a, b] = await Promise.all([
        cache.detect(async () => {
          await sleep(5);
          await f(1);
        }),
        cache.detect(async () => {
          await f(2);
          await sleep(10);
          await f(2);
        }),
      ]);
      expect(Object.keys(a!.keys)).toEqual(["f:1"]);
      expect(b!.keys["f:2"]).toHaveLength(2);
      expect(b!.keys["f:1"]).toBeUndefined();
      await f(3);
    });
    expect(Object.keys(outer.keys).sort()).toEqual(["f:1", "f:2", "f:3"]);
    expect(outer.keys["f:2"]).toHaveLength(2);
  });

  it("CacheDetect records work started inside run and can be reused", async () => {
    const cache = make();
    const f = cache({ ttl: "1m", key: "f:{x}" })(async (x: number) => x);
    await f(1);
    const d = new CacheDetect();
    await f(1); // outside run: not recorded
    expect(await d.run(() => f(1))).toBe(1);
    await d.run(async () => {
      await sleep(1);
      await f(1);
    });
    expect(d.keys["f:1"]).toHaveLength(2);
    expect(d.calls.map(([k]) => k)).toEqual(["f:1", "f:1"]);
    d.clear();
    expect(d.keys).toEqual({});
  });

  it("runWithWaitUntil receives the early refresh promise", async () => {
    const cache = make();
    let calls = 0;
    const e = cache.early({ ttl: "1m", earlyTtl: "50ms", key: "e:{x}" })(async (x: number) => {
      await sleep(5);
      return x + ++calls;
    });
    expect(await e(1)).toBe(2);
    await sleep(80);
    const handed: Promise<unknown>[] = [];
    expect(await runWithWaitUntil((p) => handed.push(p), () => e(1))).toBe(2);
    expect(handed).toHaveLength(1);
    await Promise.all(handed);
    expect(calls).toBe(2);
    expect(await e(1)).toBe(3);
  });

  it("work started inside a scope but run after its callback settled still obeys it", async () => {
    const cache = make();
    let calls = 0;
    const f = cache.cache({ ttl: "1m", key: "d:{x}" })(async (x: string) => `${x}${++calls}`);
    expect(await f("a")).toBe("a1");
    let later: Promise<string> | undefined;
    await cache.disabling(async () => {
      later = new Promise((resolve) => setTimeout(() => resolve(f("a")), 20));
    }, Command.GET);
    expect(await later).toBe("a2"); // GET disabled in that context: recomputed, not served
    expect(await f("a")).toBe("a2"); // outside: served (and the recomputed value was written)

    const e = cache.early({ ttl: "1m", earlyTtl: "50ms", key: "late:{x}" })(async (x: number) => x + ++calls);
    await e(1);
    await sleep(80);
    const handed: Promise<unknown>[] = [];
    let detached: Promise<number> | undefined;
    await runWithWaitUntil(
      (p) => handed.push(p),
      async () => {
        detached = new Promise((resolve) => setTimeout(() => resolve(e(1)), 10));
      },
    );
    await detached;
    expect(handed).toHaveLength(1);
    await Promise.all(handed);
  });
});
