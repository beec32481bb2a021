// The iterator strategy: async generators cached chunk by chunk, on every backend. Only a run that
// completed is replayed; a replay never stops at a falsy chunk and is never truncated.
import { afterAll, beforeAll, beforeEach, describe, expect, expectTypeOf, inject, it } from "vitest";
import { Cache, CacheConfigError, NOT_NONE, withExceptions, type CacheEventInfo } from "../../src/index.js";
import { openTarget, type ConformanceTarget } from "../../src/testing/target.js";
import { upstashTarget } from "../support/backends.js";

const redisUrl = inject("redisUrl");
const redisClusterUrl = inject("redisClusterUrl");
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Target = ConformanceTarget;

const targets: Target[] = [
  { name: "mem://", url: () => "mem://" },
  { name: "mem:// (secret)", url: () => "mem://", options: { secret: "k" } },
  { name: "redis://", url: () => redisUrl, options: { namespace: `iter-${process.pid}` } },
  { name: "redis+cluster://", url: () => redisClusterUrl, options: { namespace: `iter-${process.pid}` } },
  { name: "upstash://", ...upstashTarget(redisUrl, { namespace: `iter-up-${process.pid}` }) },
];

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

class Boom extends Error {
  override name = "Boom";
}

for (const target of targets) {
  describe.skipIf(!target.url())(`iterator() on ${target.name}`, () => {
    let cache: Cache;
    let stop: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      ({ cache, stop } = await openTarget(target, "iter"));
    });
    beforeEach(async () => {
      await cache.clear();
    });
    afterAll(async () => {
      await cache?.clear();
      await stop?.();
    });

    it("yields and stores on a miss, replays with no call on a hit, falsy chunks included", async () => {
      let calls = 0;
      const chunks = [1, 0, "", false, null, undefined, "end", { a: [1] }];
      const stream = cache.iterator({ ttl: "1m", key: "stream:{id}" })(async function* (id: string) {
        calls++;
        for (const chunk of chunks) yield chunk;
        return `done:${id}`;
      });
      expect(await collect(stream("a"))).toEqual(chunks);
      expect(calls).toBe(1);
      expect(await cache.exists("stream:a")).toBe(true);
      expect(await cache.exists(`stream:a:${chunks.length - 1}`)).toBe(true);
      expect(await collect(stream("a"))).toEqual(chunks);
      expect(await collect(stream("a"))).toEqual(chunks);
      expect(calls).toBe(1);
      // The generator's return value is replayed too.
      const replay = stream("a");
      let step = await replay.next();
      while (!step.done) step = await replay.next();
      expect(step.value).toBe("done:a");
      expect(calls).toBe(1);
      expect(await collect(stream("b"))).toEqual(chunks);
      expect(calls).toBe(2);
    });

    it("replays an empty run and long runs (read in batches)", async () => {
      let calls = 0;
      const empty = cache.iterator({ ttl: "1m", key: "empty" })(async function* () {
        calls++;
      });
      expect(await collect(empty())).toEqual([]);
      expect(await collect(empty())).toEqual([]);
      expect(calls).toBe(1);
      const n = 1234;
      const long = cache.iterator({ ttl: "1m", key: "long" })(async function* () {
        calls++;
        for (let i = 0; i < n; i++) yield i % 3 === 0 ? 0 : i;
      });
      const first = await collect(long());
      expect(first).toHaveLength(n);
      expect(await collect(long())).toEqual(first);
      expect(calls).toBe(2);
    });

    it("a run that throws midway writes no marker: the next call runs again", async () => {
      let calls = 0;
      const flaky = cache.iterator({ ttl: "1m", key: "flaky" })(async function* () {
        calls++;
        yield "a";
        yield "b";
        if (calls === 1) throw new Boom("midway");
        yield "c";
      });
      const seen: string[] = [];
      await expect(
        (async () => {
          for await (const chunk of flaky()) seen.push(chunk);
        })(),
      ).rejects.toThrow("midway");
      expect(seen).toEqual(["a", "b"]);
      expect(await cache.exists("flaky")).toBe(false);
      expect(await collect(flaky())).toEqual(["a", "b", "c"]);
      expect(await collect(flaky())).toEqual(["a", "b", "c"]);
      expect(calls).toBe(2);
    });

    it("a run the consumer abandons (break) is never replayed, and its source is closed", async () => {
      let calls = 0;
      let closed = 0;
      const stream = cache.iterator({ ttl: "1m", key: "abandoned" })(async function* () {
        calls++;
        try {
          for (let i = 1; i <= 5; i++) yield i;
        } finally {
          closed++;
        }
      });
      for await (const chunk of stream()) if (chunk === 2) break;
      expect(closed).toBe(1);
      expect(await cache.exists("abandoned")).toBe(false);
      expect(await collect(stream())).toEqual([1, 2, 3, 4, 5]);
      expect(calls).toBe(2);
      // Breaking out of a replay is fine too and leaves the entry in place.
      for await (const chunk of stream()) if (chunk === 1) break;
      expect(await collect(stream())).toEqual([1, 2, 3, 4, 5]);
      expect(calls).toBe(2);
    });

    it("a missing, expired or foreign chunk makes the call recompute (never a truncated replay)", async () => {
      let calls = 0;
      const stream = cache.iterator({ ttl: "1m", key: "exp" })(async function* () {
        calls++;
        yield* ["x", "y", "z"];
      });
      await collect(stream());
      await cache.delete("exp:1");
      expect(await collect(stream())).toEqual(["x", "y", "z"]);
      expect(calls).toBe(2);
      // A chunk written by another run (e.g. a concurrent call) is not mixed into this replay.
      await cache.set("exp:2", ["other-run", "w"], { expire: "1m" });
      expect(await collect(stream())).toEqual(["x", "y", "z"]);
      expect(calls).toBe(3);
      expect(await collect(stream())).toEqual(["x", "y", "z"]);
      expect(calls).toBe(3);
    });

    it("everything expires after ttl; the marker lives what is left of the first chunk's ttl", async () => {
      let calls = 0;
      const stream = cache.iterator({ ttl: 300, key: "short" })(async function* () {
        calls++;
        yield 1;
        await sleep(50);
        yield 2;
      });
      await collect(stream());
      const marker = await cache.getExpire("short");
      const chunk0 = await cache.getExpire("short:0");
      // The marker gets what is left of the first chunk's ttl (give or take the write latency).
      expect(marker).toBeGreaterThan(0);
      expect(marker).toBeLessThanOrEqual(260);
      expect(marker).toBeLessThanOrEqual(chunk0 + 10);
      expect(await collect(stream())).toEqual([1, 2]);
      expect(calls).toBe(1);
      await sleep(400);
      expect(await collect(stream())).toEqual([1, 2]);
      expect(calls).toBe(2);
    });

    it("withExceptions stores the error as the run's end and rethrows it on replay", async () => {
      let calls = 0;
      const stream = cache.iterator({ ttl: "1m", key: "raising", condition: withExceptions(Boom) })(async function* () {
        calls++;
        yield "a";
        yield "b";
        throw new Boom("stored");
      });
      for (let round = 0; round < 2; round++) {
        const seen: string[] = [];
        const error = await (async () => {
          for await (const chunk of stream()) seen.push(chunk);
        })().catch((e: unknown) => e);
        expect(seen).toEqual(["a", "b"]);
        expect(error).toBeInstanceOf(Boom);
        expect((error as Error).message).toBe("stored");
      }
      expect(calls).toBe(1);
      // Another error class is not stored.
      const other = cache.iterator({ ttl: "1m", key: "other", condition: withExceptions(Boom) })(async function* () {
        calls++;
        yield 1;
        throw new TypeError("nope");
      });
      await expect(collect(other())).rejects.toThrow(TypeError);
      await expect(collect(other())).rejects.toThrow(TypeError);
      expect(calls).toBe(3);
    });

    it("a chunk the condition rejects leaves the whole run uncached", async () => {
      let calls = 0;
      const stream = cache.iterator({ ttl: "1m", key: "cond:{n}", condition: NOT_NONE })(async function* (n: number) {
        calls++;
        yield 1;
        if (n > 0) yield null;
        yield 3;
      });
      expect(await collect(stream(1))).toEqual([1, null, 3]);
      expect(await collect(stream(1))).toEqual([1, null, 3]);
      expect(calls).toBe(2);
      expect(await collect(stream(0))).toEqual([1, 3]);
      expect(await collect(stream(0))).toEqual([1, 3]);
      expect(calls).toBe(3);
    });
  });
}

describe("iterator() wrapping", () => {
  let cache: Cache;
  beforeAll(() => {
    cache = new Cache("iter-wrap").setup("mem://");
  });
  afterAll(() => cache.close());

  it("uses the default key, a prefix and key functions", async () => {
    const named = cache.iterator({ ttl: "1m" })(async function* letters(word: string) {
      yield* word;
    });
    expect(await collect(named("ab"))).toEqual(["a", "b"]);
    expect(await cache.exists("letters:word:ab")).toBe(true);
    const byFn = cache.iterator({ ttl: "1m", prefix: "p", key: (a: number, b: number) => `sum:${a + b}` })(async function* (a: number, b: number) {
      yield a + b;
    });
    expect(await collect(byFn(1, 2))).toEqual([3]);
    expect(await cache.get("p:sum:3:0")).toBeDefined();
    expect(await cache.exists("p:sum:3")).toBe(true);
  });

  it("keeps the generator function's type", () => {
    const wrapped = cache.iterator({ ttl: "1m" })(async function* typed(id: string): AsyncGenerator<number, string> {
      yield id.length;
      return id;
    });
    expectTypeOf(wrapped).toEqualTypeOf<(id: string) => AsyncGenerator<number, string>>();
    // @ts-expect-error a key function must accept the wrapped function's arguments
    cache.iterator({ ttl: "1m", key: (id: number) => String(id) })(async function* (id: string) {
      yield id;
    });
  });

  it("works as a TC39 method decorator, keyed by class and method", async () => {
    class Feed {
      calls = 0;
      @cache.iterator({ ttl: "1m" })
      async *items(n: number): AsyncGenerator<number> {
        this.calls++;
        for (let i = 0; i < n; i++) yield i;
      }
    }
    const feed = new Feed();
    expect(await collect(feed.items(3))).toEqual([0, 1, 2]);
    expect(await collect(feed.items(3))).toEqual([0, 1, 2]);
    expect(feed.calls).toBe(1);
    expect(await cache.exists("Feed.items:n:3")).toBe(true);
  });

  it("forwards values passed to next() to the generator on a miss", async () => {
    const echo = cache.iterator({ ttl: "1m", key: "echo" })(async function* (): AsyncGenerator<unknown, void, string> {
      const got = yield "first";
      yield `got:${got}`;
    });
    const run = echo();
    expect((await run.next()).value).toBe("first");
    expect((await run.next("hello")).value).toBe("got:hello");
    expect((await run.next()).done).toBe(true);
  });

  it("counts one hit or miss per call and emits events", async () => {
    const events: CacheEventInfo[] = [];
    const off = cache.on("hit", (e) => events.push(e));
    const offMiss = cache.on("miss", (e) => events.push(e));
    const stream = cache.iterator({ ttl: "1m", key: "ev" })(async function* counted() {
      yield* [1, 2, 3];
    });
    await collect(stream());
    await collect(stream());
    off();
    offMiss();
    expect(events.map((e) => e.type)).toEqual(["miss", "hit"]);
    expect(cache.stats().functions.counted).toMatchObject({ hits: 1, misses: 1 });
  });

  it("rejects bad options at wrap time and a non-generator at call time", async () => {
    expect(() => cache.iterator({} as never)).toThrow(CacheConfigError);
    expect(() => cache.iterator({ ttl: "1m", lock: true } as never)).toThrow(/unknown option "lock"/);
    expect(() => cache.iterator({ ttl: "1m", key: "x:{nope}" })(async function* (id: string) { yield id; })).toThrow(CacheConfigError);
    const notGen = cache.iterator({ ttl: "1m", key: "ng" })((async () => [1, 2]) as never as () => AsyncGenerator<number>);
    await expect(collect(notGen())).rejects.toThrow(/async iterable/);
  });

  it("an unserialisable chunk makes the run fail at its end, and nothing is replayed", async () => {
    let calls = 0;
    const stream = cache.iterator({ ttl: "1m", key: "ser" })(async function* () {
      calls++;
      yield 1;
      yield () => 2;
    });
    await expect(collect(stream())).rejects.toThrow(/cannot be cached/);
    expect(await cache.exists("ser")).toBe(false);
    await expect(collect(stream())).rejects.toThrow(/cannot be cached/);
    expect(calls).toBe(2);
  });
});
