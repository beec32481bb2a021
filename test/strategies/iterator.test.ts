// The iterator strategy on mem://: keys, types, decorators, next() values, events, checks at wrap
// and call time. Its behaviour on every backend (only a completed run is replayed, never stopping at
// a falsy chunk, never truncated) is in the conformance suite (src/testing/strategies/iterator.ts,
// run by test/conformance/).
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { Cache, CacheConfigError, type CacheEventInfo } from "../../src/index.js";

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
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
