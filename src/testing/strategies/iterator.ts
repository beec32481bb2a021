/**
 * Conformance of the iterator strategy: async generators cached chunk by chunk. Only a run that
 * completed is replayed; a replay never stops at a falsy chunk and is never truncated.
 * @module
 */
import { describe, expect, it } from "vitest";
import { NOT_NONE, withExceptions, type Cache } from "../../index.js";
import { Boom } from "../errors.js";
import { useTargetCache, type TargetHandle } from "../target.js";
import { sleep } from "../wait.js";

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

/** Registers the tests of the iterator strategy on a started target in the calling `describe`. */
export function iteratorTests(target: TargetHandle): void {
  describe("iterator()", () => {
    let cache: Cache;
    useTargetCache(target, "iter", (c) => (cache = c));

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
      const [marker, chunk0] = await Promise.all([cache.getExpire("short"), cache.getExpire("short:0")]);
      // The marker gets what is left of the first chunk's ttl, never more (a generous margin for
      // the write's latency on a loaded machine; the chunk was written 50 ms before the marker).
      expect(marker).toBeGreaterThan(0);
      expect(marker).toBeLessThanOrEqual(260);
      expect(marker).toBeLessThanOrEqual(chunk0 + 50);
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
