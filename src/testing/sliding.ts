/**
 * Conformance of the sliding-window primitive (`Backend.slidingIncr`, `cache.slidingIncr`): what
 * counts, what is refused, how the window slides and expires, and how a bad key or option fails.
 * @module
 */
import { describe, expect, it } from "vitest";
import { CacheConfigError, type Cache } from "../index.js";
import { useTargetCache, itNeeds, type TargetHandle } from "./target.js";
import { sleep } from "./wait.js";

/** Registers the `slidingIncr` tests on a started target in the calling `describe`. */
export function slidingTests(target: TargetHandle): void {
  describe("slidingIncr", () => {
    let cache: Cache;
    const errors = useTargetCache(target, target.name, (c) => (cache = c));

    itNeeds(target, ["atomic"], "counts calls up to the limit, then refuses without recording", async () => {
      const counts: number[] = [];
      for (let i = 0; i < 5; i++) counts.push((await cache.slidingIncr("s", "10s", { limit: 3 })).count);
      // 1..3 recorded; 4 means "refused": the refused calls were not recorded, so it stays 4.
      expect(counts).toEqual([1, 2, 3, 4, 4]);
      const { count, resetMs } = await cache.slidingIncr("s", "10s", { limit: 3 });
      expect(count).toBe(4);
      expect(resetMs).toBeGreaterThan(9000);
      expect(resetMs).toBeLessThanOrEqual(10_000);
      // Without a limit it counts what was recorded (3) plus this call.
      expect((await cache.slidingIncr("s", "10s")).count).toBe(4);
    });

    itNeeds(target, ["atomic"], "forgets entries once they are period old: the window slides", async () => {
      expect((await cache.slidingIncr("w", 600, { limit: 2 })).count).toBe(1);
      await sleep(350);
      expect((await cache.slidingIncr("w", 600, { limit: 2 })).count).toBe(2);
      expect((await cache.slidingIncr("w", 600, { limit: 2 })).count).toBe(3); // refused
      await sleep(400); // the first entry left the window (t≈750), the second (t≈350) did not
      const next = await cache.slidingIncr("w", 600, { limit: 2 });
      expect(next.count).toBe(2);
      expect(next.resetMs).toBeGreaterThan(0);
      expect(next.resetMs).toBeLessThanOrEqual(600);
      await sleep(700);
      expect((await cache.slidingIncr("w", 600, { limit: 2 })).count).toBe(1);
    });

    itNeeds(target, ["atomic"], "calls in the same millisecond are separate entries", async () => {
      const results = await Promise.all(Array.from({ length: 20 }, () => cache.slidingIncr("burst", "10s")));
      expect(results.map((r) => r.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const limited = await Promise.all(Array.from({ length: 8 }, () => cache.slidingIncr("burst2", "10s", { limit: 5 })));
      expect(limited.filter((r) => r.count <= 5)).toHaveLength(5);
      expect((await cache.slidingIncr("burst2", "10s")).count).toBe(6);
    });

    itNeeds(target, ["atomic"], "the key lives period after the last recorded call", async () => {
      await cache.slidingIncr("ttl", "2s");
      const left = await cache.getExpire("ttl");
      expect(left).toBeGreaterThan(1000);
      expect(left).toBeLessThanOrEqual(2000);
      expect(await cache.exists("ttl")).toBe(true);
      await cache.slidingIncr("gone", 200);
      await sleep(450);
      expect(await cache.exists("gone")).toBe(false);
    });

    itNeeds(target, ["atomic"], "a limit of 0 refuses everything and stores nothing", async () => {
      expect(await cache.slidingIncr("zero", "1s", { limit: 0 })).toEqual({ count: 1, resetMs: 0 });
      expect(await cache.exists("zero")).toBe(false);
    });

    itNeeds(target, ["atomic"], "a key of another type is a backend error: NaN in safe mode, reported", async () => {
      await cache.set("str", "value");
      const result = await cache.slidingIncr("str", "1s", { limit: 1 });
      expect(result.count).toBeNaN();
      expect(errors.some((e) => e.type === "error" && e.key === "str")).toBe(true);
      expect(await cache.get("str")).toBe("value");
    });

    it("rejects a bad period or limit before any I/O", async () => {
      await expect(cache.slidingIncr("k", 0)).rejects.toThrow(CacheConfigError);
      await expect(cache.slidingIncr("k", "soon")).rejects.toThrow(CacheConfigError);
      await expect(cache.slidingIncr("k", "1s", { limit: -1 })).rejects.toThrow(TypeError);
      await expect(cache.slidingIncr("k", "1s", { limit: 1.5 })).rejects.toThrow(TypeError);
      expect(await cache.exists("k")).toBe(false);
    });
  });
}
