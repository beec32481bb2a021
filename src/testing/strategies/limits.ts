/**
 * Conformance of rateLimit, slidingRateLimit, circuitBreaker and perf: limits, windows, bans,
 * actions, per-argument keys, breaker states, degradation marks, and limits shared by two Cache
 * instances on one shared backend.
 * @module
 */
import { describe, expect, it } from "vitest";
import { CircuitBreakerOpenError, PerfDegradationError, RateLimitError, type Cache } from "../../index.js";
import { wrappedInfo } from "../../wrap/registry.js";
import { Boom } from "../errors.js";
import { itWhenShared, itNeeds, useCachesPerTest, type TargetHandle } from "../target.js";
import { sleep, sleepUntil } from "../wait.js";

class Ignored extends Error {}

/** Registers the tests of the limit strategies on a started target in the calling `describe`. */
export function limitTests(target: TargetHandle): void {
  describe("limit strategies", () => {
    let cache: Cache;
    let other: Cache; // a second instance on the same backend (network backends only)

    useCachesPerTest(target, [`${target.name} a`, `${target.name} b`], ([a, b]) => {
      cache = a!;
      other = b!;
    });

    // ------------------------------------------------------------------ rateLimit

    describe("rateLimit", () => {
      itNeeds(target, ["atomic"], "allows `limit` calls per window, then throws RateLimitError saying when to retry", async () => {
        for (const n of [1, 2, 5]) {
          let calls = 0;
          const limited = cache.rateLimit({ limit: n, period: "1m", key: `n${n}` })(async () => ++calls);
          for (let i = 1; i <= n; i++) expect(await limited()).toBe(i);
          const error = await limited().catch((e: unknown) => e);
          expect(error).toBeInstanceOf(RateLimitError);
          expect((error as Error).message).toMatch(new RegExp(`rate limit of ${n} per 1m exceeded for "rate_limit:n${n}"; retry in \\d+(\\.\\d)?(ms|s|m)`));
          expect(calls).toBe(n);
        }
      });

      itNeeds(target, ["atomic"], "a new window starts once the period is over", async () => {
        let calls = 0;
        const limited = cache.rateLimit({ limit: 2, period: 400, key: "win" })(async () => ++calls);
        await limited();
        await limited();
        await expect(limited()).rejects.toThrow(RateLimitError);
        await sleep(600);
        expect(await limited()).toBe(3);
      });

      itNeeds(target, ["atomic"], "awaits the action and returns its result, with the call's arguments and this", async () => {
        const seen: unknown[] = [];
        const limited = cache.rateLimit<[string, number]>({
          limit: 1,
          period: "1m",
          key: "act:{name}",
          action: async (name, n) => {
            await sleep(20);
            seen.push([name, n]);
            return `limited ${name}`;
          },
        })(async (name: string, n: number) => `ok ${name} ${n}`);
        expect(await limited("a", 1)).toBe("ok a 1");
        expect(await limited("a", 2)).toBe("limited a");
        expect(seen).toEqual([["a", 2]]);

        class Api {
          prefix = "api";
          @cache.rateLimit({ limit: 1, period: "1m", key: "m", action(this: Api) { return `${this.prefix} limited`; } })
          async get(): Promise<string> {
            return `${this.prefix} ok`;
          }
        }
        const api = new Api();
        expect(await api.get()).toBe("api ok");
        expect(await api.get()).toBe("api limited");
      });

      itNeeds(target, ["atomic"], "ttl bans from the first violation for that long", async () => {
        let calls = 0;
        const limited = cache.rateLimit({ limit: 1, period: 300, ttl: 1200, key: "ban" })(async () => ++calls);
        const t0 = performance.now();
        expect(await limited()).toBe(1);
        const error = await limited().catch((e: unknown) => e);
        expect((error as Error).message).toContain("retry in 1.2s");
        await sleepUntil(t0, 600); // the window (300 ms) is over, the ban (1.2 s) is not
        await expect(limited()).rejects.toThrow(RateLimitError);
        await sleepUntil(t0, 1700);
        expect(await limited()).toBe(2);
        expect(calls).toBe(2);
      });

      itNeeds(target, ["atomic"], "keys per call arguments by default, or per template field", async () => {
        const byArgs = cache.rateLimit({ limit: 1, period: "1m" })(async function fetchUser(id: string) {
          return id;
        });
        expect(await byArgs("1")).toBe("1");
        expect(await byArgs("2")).toBe("2");
        await expect(byArgs("1")).rejects.toThrow(RateLimitError);
        // The limiter's state under that key (the strategy is the limiter): the refused call was not counted.
        const state = cache.limiter({ algorithm: "fixed", limit: 1, period: "1m", prefix: "" });
        expect(await state.getRemaining("rate_limit:fetchUser:id:1")).toMatchObject({ remaining: 0 });
        expect(await state.getRemaining("rate_limit:fetchUser:id:3")).toMatchObject({ remaining: 1 });
        expect(wrappedInfo(byArgs)?.strategy).toBe("rateLimit");

        const perUser = cache.rateLimit({ limit: 2, period: "1m", key: "user:{user.name}" })(async (user: { name: string }, page: number) => page);
        expect(await perUser({ name: "ann" }, 1)).toBe(1);
        expect(await perUser({ name: "ann" }, 2)).toBe(2);
        expect(await perUser({ name: "bob" }, 3)).toBe(3);
        await expect(perUser({ name: "ann" }, 4)).rejects.toThrow(RateLimitError);
      });

      itNeeds(target, ["atomic"], "the function's own errors pass through and still count", async () => {
        const limited = cache.rateLimit({ limit: 1, period: "1m", key: "err" })(async () => {
          throw new Boom("own");
        });
        await expect(limited()).rejects.toThrow(Boom);
        await expect(limited()).rejects.toThrow(RateLimitError);
      });

      itWhenShared(target, "two Cache instances on one server share the limit", ["atomic"], async () => {
        let calls = 0;
        const fn = async (): Promise<number> => ++calls;
        const a = cache.rateLimit({ limit: 5, period: "1m", key: "shared" })(fn);
        const b = other.rateLimit({ limit: 5, period: "1m", key: "shared" })(fn);
        const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => (i % 2 ? a() : b())));
        expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(5);
        expect(outcomes.filter((o) => o.status === "rejected" && o.reason instanceof RateLimitError)).toHaveLength(7);
        expect(calls).toBe(5);
      });
    });

    // ------------------------------------------------------------------ slidingRateLimit

    describe("slidingRateLimit", () => {
      itNeeds(target, ["atomic"], "allows `limit` calls, then throws RateLimitError", async () => {
        for (const n of [1, 3, 6]) {
          let calls = 0;
          const limited = cache.slidingRateLimit({ limit: n, period: "10s", key: `s${n}` })(async () => ++calls);
          for (let i = 1; i <= n; i++) expect(await limited()).toBe(i);
          const error = await limited().catch((e: unknown) => e);
          expect(error).toBeInstanceOf(RateLimitError);
          expect((error as Error).message).toMatch(new RegExp(`rate limit of ${n} per 10s exceeded for "srl:s${n}"; retry in \\d`));
          expect(calls).toBe(n);
        }
      });

      itNeeds(target, ["atomic"], "is exact over the sliding window; refused calls do not extend it", async () => {
        let calls = 0;
        const limited = cache.slidingRateLimit({ limit: 3, period: 1000, key: "exact" })(async () => ++calls);
        const ok = async (): Promise<boolean> => limited().then(() => true, (e: unknown) => (e instanceof RateLimitError ? false : Promise.reject(e)));
        const t0 = performance.now();
        expect(await ok()).toBe(true); // A at 0
        await sleepUntil(t0, 400);
        expect(await ok()).toBe(true); // B at 400
        expect(await ok()).toBe(true); // C at 400
        expect(await ok()).toBe(false); // refused, not recorded
        await sleepUntil(t0, 1200); // A left (1000); B and C stay until 1400
        expect(await ok()).toBe(true); // E at 1200
        expect(await ok()).toBe(false);
        await sleepUntil(t0, 1600); // B and C left; E stays until 2200
        expect(await ok()).toBe(true);
        expect(await ok()).toBe(true);
        expect(await ok()).toBe(false);
        expect(calls).toBe(6);
      });

      itNeeds(target, ["atomic"], "concurrent calls in one millisecond each count", async () => {
        let calls = 0;
        const limited = cache.slidingRateLimit({ limit: 5, period: "10s", key: "burst" })(async () => ++calls);
        const outcomes = await Promise.allSettled(Array.from({ length: 9 }, () => limited()));
        expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(5);
        expect(calls).toBe(5);
      });

      itNeeds(target, ["atomic"], "awaits the action; keys per arguments by default", async () => {
        const limited = cache.slidingRateLimit({
          limit: 1,
          period: "10s",
          action: async (id: number) => {
            await sleep(10);
            return -id;
          },
        })(async function lookup(id: number) {
          return id;
        });
        expect(await limited(1)).toBe(1);
        expect(await limited(2)).toBe(2);
        expect(await limited(1)).toBe(-1);
        expect(await limited(2)).toBe(-2);
      });

      itWhenShared(target, "two Cache instances on one server share the window", ["atomic"], async () => {
        let calls = 0;
        const fn = async (): Promise<number> => ++calls;
        const a = cache.slidingRateLimit({ limit: 4, period: "1m", key: "shared-srl" })(fn);
        const b = other.slidingRateLimit({ limit: 4, period: "1m", key: "shared-srl" })(fn);
        const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 ? a() : b())));
        expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(4);
        expect(calls).toBe(4);
      });
    });

    // ------------------------------------------------------------------ circuitBreaker

    describe("circuitBreaker", () => {
      /** A function that fails while `state.fail`; counts its calls. */
      const flaky = () => {
        const state = { fail: false, calls: 0, delay: 0 };
        const fn = async function service(id: number): Promise<number> {
          state.calls++;
          if (state.delay) await sleep(state.delay);
          if (state.fail) throw new Boom(`boom ${id}`);
          return id;
        };
        return { state, fn };
      };

      itNeeds(target, ["atomic", "locks"], "opens at the error rate, fails fast for ttl, then half-open probes one at a time and closes", async () => {
        const { state, fn } = flaky();
        const guarded = cache.circuitBreaker({ errorsRate: 50, period: "10s", ttl: 400, halfOpenTtl: "5s", minCalls: 2 })(fn);
        expect(await guarded(1)).toBe(1);
        state.fail = true;
        await expect(guarded(2)).rejects.toThrow(Boom); // 1 of 2 failed: 50% → open
        state.fail = false;
        const calls = state.calls;
        const open = await guarded(3).catch((e: unknown) => e);
        expect(open).toBeInstanceOf(CircuitBreakerOpenError);
        expect((open as Error).message).toContain('circuit breaker "circuit_breaker:service" is open');
        await expect(guarded(4)).rejects.toThrow(CircuitBreakerOpenError); // per function: other args too
        expect(state.calls).toBe(calls);

        await sleep(700); // half-open now
        state.delay = 150;
        const probes = await Promise.allSettled([guarded(5), guarded(6), guarded(7)]);
        expect(probes.filter((p) => p.status === "fulfilled")).toHaveLength(1);
        expect(probes.filter((p) => p.status === "rejected" && p.reason instanceof CircuitBreakerOpenError)).toHaveLength(2);
        expect(state.calls).toBe(calls + 1);
        state.delay = 0;
        // The probe succeeded: closed, with fresh counts.
        expect(await guarded(8)).toBe(8);
        expect(await guarded(9)).toBe(9);
      });

      itNeeds(target, ["atomic", "locks"], "a failed probe opens the breaker again", async () => {
        const { state, fn } = flaky();
        const guarded = cache.circuitBreaker({ errorsRate: 100, period: "10s", ttl: 300, halfOpenTtl: "5s", key: "reopen" })(fn);
        state.fail = true;
        await expect(guarded(1)).rejects.toThrow(Boom);
        await expect(guarded(2)).rejects.toThrow(CircuitBreakerOpenError);
        await sleep(550);
        await expect(guarded(3)).rejects.toThrow(Boom); // the probe fails
        await expect(guarded(4)).rejects.toThrow(CircuitBreakerOpenError);
        state.fail = false;
        await sleep(550);
        expect(await guarded(5)).toBe(5); // probe succeeds
        expect(await guarded(6)).toBe(6);
      });

      itNeeds(target, ["atomic", "locks"], "without halfOpenTtl it closes after ttl, with fresh counts", async () => {
        const { state, fn } = flaky();
        const guarded = cache.circuitBreaker({ errorsRate: 50, period: "10s", ttl: 300, minCalls: 2, key: "plain" })(fn);
        await guarded(1);
        state.fail = true;
        await expect(guarded(2)).rejects.toThrow(Boom);
        await expect(guarded(3)).rejects.toThrow(CircuitBreakerOpenError);
        await sleep(500);
        // Counts were cleared when it opened: one failure is below minCalls.
        await expect(guarded(4)).rejects.toThrow(Boom);
        state.fail = false;
        expect(await guarded(5)).toBe(5);
      });

      itNeeds(target, ["atomic", "locks"], "minCalls and errorsRate as in the original: 9 successes then a failure opens at 5%", async () => {
        const { state, fn } = flaky();
        const guarded = cache.circuitBreaker({ errorsRate: 5, period: "10s", ttl: "1m", minCalls: 10, key: "min" })(fn);
        for (let i = 0; i < 9; i++) await guarded(i);
        state.fail = true;
        await expect(guarded(9)).rejects.toThrow(Boom);
        state.fail = false;
        await expect(guarded(10)).rejects.toThrow(CircuitBreakerOpenError);
      });

      itNeeds(target, ["atomic", "locks"], "only the listed exceptions count as failures", async () => {
        let error: Error = new Ignored("x");
        const guarded = cache.circuitBreaker({ errorsRate: 100, period: "10s", ttl: "1m", exceptions: [Boom], key: "exc" })(async () => {
          throw error;
        });
        for (let i = 0; i < 3; i++) await expect(guarded()).rejects.toThrow(Ignored);
        error = new Boom("y");
        await expect(guarded()).rejects.toThrow(Boom); // 1 failure of 4 calls: 25%
        const single = cache.circuitBreaker({ errorsRate: 100, period: "10s", ttl: "1m", exceptions: Boom, key: "exc1" })(async () => {
          throw new Boom("z");
        });
        await expect(single()).rejects.toThrow(Boom);
        await expect(single()).rejects.toThrow(CircuitBreakerOpenError);
      });

      itWhenShared(target, "two Cache instances share the breaker", ["atomic", "locks"], async () => {
        const { state, fn } = flaky();
        const a = cache.circuitBreaker({ errorsRate: 50, period: "10s", ttl: "1m", key: "shared-cb" })(fn);
        const b = other.circuitBreaker({ errorsRate: 50, period: "10s", ttl: "1m", key: "shared-cb" })(fn);
        state.fail = true;
        await expect(a(1)).rejects.toThrow(Boom);
        await expect(b(2)).rejects.toThrow(CircuitBreakerOpenError);
      });
    });

    // ------------------------------------------------------------------ perf

    describe("perf", () => {
      itNeeds(target, ["locks"], "marks the target degraded after a slow call; calls fail fast until ttl, shared by instances", async () => {
        let delay = 20;
        let calls = 0;
        const fn = async (): Promise<number> => {
          calls++;
          await sleep(delay);
          return calls;
        };
        const watched = cache.perf({ ttl: 800, factor: 3, window: 3, key: "slow" })(fn);
        const elsewhere = other.perf({ ttl: 800, factor: 3, window: 3, key: "slow" })(fn);
        for (let i = 0; i < 3; i++) await watched(); // fills the window
        delay = 400;
        const t0 = performance.now();
        expect(await watched()).toBe(4); // the slow call itself returns normally
        delay = 20;
        const error = await watched().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(PerfDegradationError);
        expect((error as Error).message).toMatch(/perf: "perf:slow" is degraded: a call took \d+ms, over 3 × the mean \d+ms of the previous 3/);
        expect(calls).toBe(4);
        if (await target.shared()) await expect(elsewhere()).rejects.toThrow(PerfDegradationError);
        await sleepUntil(t0, 400 + 800 + 300);
        expect(await watched()).toBe(5);
      });

      itNeeds(target, ["locks"], "does not judge before the window is full, nor fast calls", async () => {
        let delay = 300;
        const watched = cache.perf({ ttl: "1m", window: 3 })(async function job(n: number) {
          await sleep(delay);
          return n;
        });
        expect(await watched(1)).toBe(1); // slow first calls: no mean yet
        delay = 5;
        // The 4th call is the first judged, against [300, 5, 5]: far from slow.
        for (let i = 0; i < 3; i++) expect(await watched(1)).toBe(1);
        expect(await cache.exists("perf:job:n:1")).toBe(false);
      });
    });
  });
}
