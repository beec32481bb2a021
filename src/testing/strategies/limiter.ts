/**
 * Conformance of the limiter (`cache.limiter`, issue 18) on a backend: each algorithm through
 * `limit()` (success, remaining, reset, retryAfter), cost, several limits all or nothing,
 * `getRemaining` writing nothing, `reset`, `blockUntilReady`, the ephemeral cache of blocked ids
 * (no round trip), exact admission under concurrency (also across two caches on one shared
 * store), and the fields of RateLimitError thrown by the strategies built on it.
 * @module
 */
import { describe, expect } from "vitest";
import { CacheConfigError, RateLimitError, type Cache, type LimiterAlgorithm, type LimitResult } from "../../index.js";
import { itNeeds, itWhenShared, useCachesPerTest, type TargetHandle } from "../target.js";
import { sleep } from "../wait.js";

const ALGORITHMS: readonly LimiterAlgorithm[] = ["fixed", "sliding", "tokenBucket"];

/** Generous slack for clocks (the store's and this process's) and slow round trips, in ms. */
const SLACK = 1500;

/** Registers the limiter's tests on a started target in the calling `describe`. */
export function limiterTests(target: TargetHandle): void {
  describe("limiter", () => {
    let cache: Cache;
    let other: Cache; // a second instance on the same backend (network backends only)

    useCachesPerTest(target, [`${target.name} limiter a`, `${target.name} limiter b`], ([a, b]) => {
      cache = a!;
      other = b!;
    });

    /** Checks a result's numbers against `now` (epoch ms, taken before the call). */
    const expectResult = (r: LimitResult, success: boolean, remaining: number, now: number): void => {
      expect(r.success).toBe(success);
      expect(r.remaining).toBe(remaining);
      expect(r.limits).toHaveLength(1);
      expect(r.limits[0]!.remaining).toBe(remaining);
      expect(r.reset).toBe(r.limits[0]!.reset);
      if (success) expect(r.retryAfter).toBe(0);
      else expect(r.retryAfter).toBeGreaterThan(0);
      expect(r.reset).toBeGreaterThanOrEqual(now - SLACK);
    };

    itNeeds(target, ["atomic"], "fixed: `limit` units per window, then refused until the window ends", async () => {
      const api = cache.limiter({ algorithm: "fixed", limit: 3, period: "1m" });
      const now = Date.now();
      for (const remaining of [2, 1, 0]) {
        const r = await api.limit("user-1");
        expectResult(r, true, remaining, now);
        expect(r.limit).toBe(3);
        expect(r.limits[0]).toMatchObject({ algorithm: "fixed", limit: 3, period: 60_000 });
        expect(r.reset).toBeLessThanOrEqual(now + 60_000 + SLACK);
        expect(r.reset).toBeGreaterThan(now + 60_000 - SLACK);
      }
      const refused = await api.limit("user-1");
      expectResult(refused, false, 0, now);
      expect(refused.retryAfter).toBeLessThanOrEqual(60_000);
      expect(refused.retryAfter).toBeGreaterThan(60_000 - SLACK);
      expect(Math.abs(refused.reset - (Date.now() + refused.retryAfter))).toBeLessThan(SLACK);
      // Another id has its own window.
      expectResult(await api.limit("user-2"), true, 2, now);
    });

    itNeeds(target, ["atomic"], "fixed: a new window once the period is over", async () => {
      const api = cache.limiter({ algorithm: "fixed", limit: 2, period: 300 });
      expect((await api.limit("w")).success).toBe(true);
      expect((await api.limit("w")).success).toBe(true);
      const refused = await api.limit("w");
      expect(refused.success).toBe(false);
      await sleep(refused.retryAfter + 100);
      expect(await api.limit("w")).toMatchObject({ success: true, remaining: 1 });
    });

    itNeeds(target, ["atomic"], "sliding: exact over the window; the reset is when the oldest admitted unit leaves it", async () => {
      const api = cache.limiter({ algorithm: "sliding", limit: 3, period: 1000 });
      const t0 = Date.now();
      expectResult(await api.limit("s"), true, 2, t0); // A at 0
      await sleep(400);
      expectResult(await api.limit("s"), true, 1, t0); // B at ~400
      const c = await api.limit("s"); // C at ~400
      expectResult(c, true, 0, t0);
      expect(c.reset).toBeLessThanOrEqual(t0 + 1000 + SLACK); // A leaves at ~1000
      const refused = await api.limit("s");
      expectResult(refused, false, 0, t0);
      expect(refused.retryAfter).toBeLessThanOrEqual(1000);
      await sleep(refused.retryAfter + 50); // A left; B and C stay
      expect(await api.limit("s")).toMatchObject({ success: true, remaining: 0 });
      expect((await api.limit("s")).success).toBe(false);
    });

    itNeeds(target, ["atomic"], "tokenBucket: a burst of `limit`, then `refill` tokens per period, continuously", async () => {
      const api = cache.limiter({ algorithm: "tokenBucket", limit: 4, period: 400, refill: 2 });
      const now = Date.now();
      for (const remaining of [3, 2, 1, 0]) expectResult(await api.limit("b"), true, remaining, now);
      const refused = await api.limit("b");
      expectResult(refused, false, 0, now);
      // One token every 200 ms.
      expect(refused.retryAfter).toBeLessThanOrEqual(200);
      expect(refused.reset).toBeLessThanOrEqual(Date.now() + 800 + SLACK); // full again in 4 × 200 ms
      expect(refused.limits[0]).toMatchObject({ algorithm: "tokenBucket", limit: 4, period: 400 });
      await sleep(refused.retryAfter + 50);
      expect(await api.limit("b")).toMatchObject({ success: true, remaining: 0 });
      // A full bucket: reset is now, nothing to wait for.
      await api.reset("b");
      const full = await api.getRemaining("b");
      expect(full.remaining).toBe(4);
      expect(Math.abs(full.reset - Date.now())).toBeLessThan(SLACK);
    });

    itNeeds(target, ["atomic"], "cost consumes several units at once; a refused cost consumes nothing", async () => {
      for (const algorithm of ALGORITHMS) {
        const api = cache.limiter({ algorithm, limit: 10, period: "1m", prefix: `cost-${algorithm}` });
        expect(await api.limit("c", { cost: 4 })).toMatchObject({ success: true, remaining: 6 });
        const refused = await api.limit("c", { cost: 7 });
        expect(refused).toMatchObject({ success: false, remaining: 6 });
        expect(refused.retryAfter).toBeGreaterThan(0);
        expect(await api.getRemaining("c")).toMatchObject({ remaining: 6 });
        expect(await api.limit("c", { cost: 6 })).toMatchObject({ success: true, remaining: 0 });
        // A cost above a limit could never pass: refused before any round trip.
        await expect(api.limit("c", { cost: 11 })).rejects.toThrow(CacheConfigError);
        for (const cost of [0, -1, 1.5, Number.NaN]) await expect(api.limit("c", { cost })).rejects.toThrow(/"cost" must be an integer >= 1/);
      }
    });

    itNeeds(target, ["atomic"], "several limits: all must pass, and a refusal consumes from none", async () => {
      const api = cache.limiter({
        algorithm: "fixed",
        limits: [
          { limit: 5, period: "1h", algorithm: "sliding" },
          { limit: 3, period: "1m" },
          { limit: 4, period: "10s", algorithm: "tokenBucket", refill: 1 },
        ],
      });
      const first = await api.limit("m", { cost: 2 });
      expect(first.success).toBe(true);
      expect(first.limits.map((l) => [l.algorithm, l.limit, l.period, l.remaining])).toEqual([
        ["sliding", 5, 3_600_000, 3],
        ["fixed", 3, 60_000, 1],
        ["tokenBucket", 4, 10_000, 2],
      ]);
      // Binding when allowed: the fewest units left (the fixed limit).
      expect(first).toMatchObject({ limit: 3, remaining: 1, retryAfter: 0, reset: first.limits[1]!.reset });
      // The fixed limit refuses: nothing consumed anywhere.
      const refused = await api.limit("m", { cost: 2 });
      expect(refused.success).toBe(false);
      expect(refused.limits.map((l) => l.remaining)).toEqual([3, 1, 2]);
      expect(refused).toMatchObject({ limit: 3, remaining: 1, reset: refused.limits[1]!.reset });
      expect(refused.retryAfter).toBeGreaterThan(10_000); // the fixed window's end, not the bucket's refill
      expect(await api.limit("m", { cost: 1 })).toMatchObject({ success: true, limit: 3, remaining: 0 });
      expect((await api.getRemaining("m")).remaining).toBe(0);
      // A cost above any one limit is refused at the call.
      await expect(api.limit("m", { cost: 4 })).rejects.toThrow(/exceeds the fixed limit of 3/);

      // Equal units left: the later reset binds; refused by several: the one that frees last.
      const tiers = cache.limiter({ algorithm: "fixed", limits: [{ limit: 2, period: "1m" }, { limit: 2, period: "1h" }] });
      const tied = await tiers.limit("t");
      expect(tied.remaining).toBe(1);
      expect(tied.reset).toBe(tied.limits[1]!.reset);
      await tiers.limit("t");
      const both = await tiers.limit("t");
      expect(both.success).toBe(false);
      expect(both.reset).toBe(both.limits[1]!.reset);
      expect(both.retryAfter).toBeGreaterThan(3_600_000 - SLACK);
    });

    itNeeds(target, ["atomic"], "getRemaining reads without writing: no window starts, nothing is consumed", async () => {
      for (const algorithm of ALGORITHMS) {
        const api = cache.limiter({ algorithm, limit: 2, period: 1000, prefix: `read-${algorithm}` });
        for (let i = 0; i < 3; i++) expect((await api.getRemaining("r")).remaining).toBe(2);
        if (algorithm === "fixed") {
          // Had the read started a window, it would end ~1000 ms after the read, not after the first limit().
          await sleep(400);
          const r = await api.limit("r");
          expect(r.reset - Date.now()).toBeGreaterThan(700);
        } else {
          await api.limit("r");
        }
        expect((await api.getRemaining("r")).remaining).toBe(1);
      }
    });

    itNeeds(target, ["atomic"], "reset forgets an id's state (and a ban)", async () => {
      for (const algorithm of ALGORITHMS) {
        const api = cache.limiter({ algorithm, limit: 2, period: "1m", prefix: `reset-${algorithm}` });
        await api.limit("x");
        await api.limit("x");
        expect((await api.limit("x")).success).toBe(false);
        await api.limit("y");
        await api.reset("x");
        expect((await api.getRemaining("x")).remaining).toBe(2);
        expect(await api.limit("x")).toMatchObject({ success: true, remaining: 1 });
        expect((await api.getRemaining("y")).remaining).toBe(1); // other ids untouched
      }
    });

    itNeeds(target, ["atomic"], "the key is prefix + ':' + id (prefix '' for none)", async () => {
      const a = cache.limiter({ algorithm: "fixed", limit: 2, period: "1m", prefix: "pre" });
      const bare = cache.limiter({ algorithm: "fixed", limit: 2, period: "1m", prefix: "" });
      const dflt = cache.limiter({ algorithm: "fixed", limit: 2, period: "1m" });
      await a.limit("id");
      expect((await bare.getRemaining("pre:id")).remaining).toBe(1);
      await dflt.limit("id");
      expect((await bare.getRemaining("limiter:id")).remaining).toBe(1);
      expect((await a.getRemaining("other")).remaining).toBe(2);
    });

    itNeeds(target, ["atomic"], "blockUntilReady waits for a slot, and gives up at the timeout", async () => {
      const api = cache.limiter({ algorithm: "fixed", limit: 1, period: 300 });
      await api.limit("w");
      let started = performance.now();
      const ready = await api.blockUntilReady("w", "5s");
      expect(ready.success).toBe(true);
      expect(performance.now() - started).toBeGreaterThan(50);
      expect(performance.now() - started).toBeLessThan(5000);

      const slow = cache.limiter({ algorithm: "sliding", limit: 1, period: "1m" });
      await slow.limit("w");
      started = performance.now();
      // The slot frees in a minute, past the 300 ms timeout: it gives up without waiting for nothing.
      const gaveUp = await slow.blockUntilReady("w", 300);
      expect(gaveUp.success).toBe(false);
      expect(gaveUp.retryAfter).toBeGreaterThan(300);
      expect(performance.now() - started).toBeLessThan(300 + SLACK);
      // A zero timeout is one try.
      expect((await slow.blockUntilReady("w", 0)).success).toBe(false);
      expect((await slow.blockUntilReady("fresh", 0, { cost: 1 })).success).toBe(true);
    });

    itNeeds(target, ["atomic"], "ephemeral: a blocked id is refused in-process until its retry time, without a round trip", async () => {
      const commands: string[] = [];
      cache.use(async (_command, args, next) => {
        if (typeof args[0] === "string" && args[0].startsWith("eph:")) commands.push(args[0]);
        return next();
      });
      const api = cache.limiter({ algorithm: "fixed", limit: 2, period: "1m", prefix: "eph", ephemeral: true });
      expect((await api.limit("u", { cost: 1 })).success).toBe(true);
      expect(commands).toHaveLength(1);
      const refused = await api.limit("u", { cost: 2 });
      expect(refused.success).toBe(false);
      expect(commands).toHaveLength(2);
      // The same cost again: answered here, as the backend answered (1 unit left, 2 asked).
      const local = await api.limit("u", { cost: 2 });
      expect(commands).toHaveLength(2);
      expect(local).toMatchObject({ success: false, limit: 2, remaining: 1 });
      expect(local.limits).toEqual(refused.limits);
      expect(local.retryAfter).toBeGreaterThan(0);
      expect(local.retryAfter).toBeLessThanOrEqual(refused.retryAfter);
      expect(local.limits).toHaveLength(1);
      // A smaller cost may pass: asked of the backend.
      expect((await api.limit("u", { cost: 1 })).success).toBe(true);
      expect(commands).toHaveLength(3);
      expect((await api.limit("u", { cost: 1 })).success).toBe(false);
      expect(commands).toHaveLength(4);
      for (let i = 0; i < 5; i++) expect((await api.limit("u")).success).toBe(false);
      expect(commands).toHaveLength(4);
      // Other ids still ask.
      expect((await api.limit("v")).success).toBe(true);
      expect(commands).toHaveLength(5);
      // reset forgets the id here too.
      await api.reset("u");
      expect((await api.limit("u")).success).toBe(true);
      expect(commands).toHaveLength(7);

      // Without ephemeral, every refused call is a round trip.
      const plain = cache.limiter({ algorithm: "fixed", limit: 1, period: "1m", prefix: "eph" });
      await plain.limit("p");
      for (let i = 0; i < 3; i++) expect((await plain.limit("p")).success).toBe(false);
      expect(commands).toHaveLength(11);
    });

    itNeeds(target, ["atomic"], "ephemeral: a short refusal expires here too; the map is bounded", async () => {
      const api = cache.limiter({ algorithm: "fixed", limit: 1, period: 250, ephemeral: { size: 2 } });
      await api.limit("a");
      const refused = await api.limit("a");
      expect(refused.success).toBe(false);
      await sleep(refused.retryAfter + 50);
      expect((await api.limit("a")).success).toBe(true);

      let round = 0;
      cache.use(async (_command, args, next) => {
        if (typeof args[0] === "string" && args[0].startsWith("limiter:")) round++;
        return next();
      });
      const bounded = cache.limiter({ algorithm: "fixed", limit: 1, period: "1m", prefix: "limiter", ephemeral: { size: 2 } });
      for (const id of ["x", "y", "z"]) {
        await bounded.limit(id);
        await bounded.limit(id); // refused, remembered
      }
      const before = round;
      await bounded.limit("z");
      await bounded.limit("y");
      expect(round).toBe(before); // the two latest are remembered
      await bounded.limit("x"); // the oldest was forgotten: asked again
      expect(round).toBe(before + 1);
    });

    for (const algorithm of ALGORITHMS) {
      itNeeds(target, ["atomic"], `${algorithm}: N concurrent limit() calls admit exactly L`, async () => {
        const api = cache.limiter({ algorithm, limit: 7, period: "1m" });
        const results = await Promise.all(Array.from({ length: 40 }, () => api.limit("burst")));
        expect(results.filter((r) => r.success)).toHaveLength(7);
        expect(results.filter((r) => r.success).map((r) => r.remaining).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      });
    }

    itWhenShared(target, "two Cache instances on one server share the limit, exactly", ["atomic"], async () => {
      for (const algorithm of ALGORITHMS) {
        const a = cache.limiter({ algorithm, limit: 9, period: "1m", prefix: `shared-${algorithm}` });
        const b = other.limiter({ algorithm, limit: 9, period: "1m", prefix: `shared-${algorithm}` });
        const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).limit("id")));
        expect(results.filter((r) => r.success)).toHaveLength(9);
      }
    });

    describe("RateLimitError from the strategies", () => {
      itNeeds(target, ["atomic"], "rateLimit and slidingRateLimit throw it with retryAfter, remaining and reset", async () => {
        const fixed = cache.rateLimit({ limit: 2, period: "1m", key: "f" })(async () => 1);
        const sliding = cache.slidingRateLimit({ limit: 2, period: "1m", key: "s" })(async () => 1);
        for (const fn of [fixed, sliding]) {
          await fn();
          await fn();
          const error = (await fn().catch((e: unknown) => e)) as RateLimitError;
          expect(error).toBeInstanceOf(RateLimitError);
          expect(error.remaining).toBe(0);
          expect(error.retryAfter).toBeGreaterThan(60_000 - SLACK);
          expect(error.retryAfter).toBeLessThanOrEqual(60_000);
          expect(Math.abs(error.reset - (Date.now() + error.retryAfter))).toBeLessThan(SLACK);
        }
      });

      itNeeds(target, ["atomic"], "rateLimit's ttl (a ban) is the retryAfter, and refused calls are not counted", async () => {
        let calls = 0;
        const banned = cache.rateLimit({ limit: 1, period: 200, ttl: "1m", key: "ban" })(async () => ++calls);
        await banned();
        const error = (await banned().catch((e: unknown) => e)) as RateLimitError;
        expect(error).toBeInstanceOf(RateLimitError);
        expect(error.retryAfter).toBeGreaterThan(60_000 - SLACK);
        expect(error.remaining).toBe(0);

        const limited = cache.rateLimit({ limit: 2, period: 400, key: "uncounted" })(async () => ++calls);
        await limited();
        await limited();
        for (let i = 0; i < 5; i++) await expect(limited()).rejects.toThrow(RateLimitError);
        await sleep(500);
        // A fresh window with its full limit: the refusals consumed nothing.
        await limited();
        await limited();
        await expect(limited()).rejects.toThrow(RateLimitError);
      });
    });
  });
}
