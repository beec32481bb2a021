/**
 * Conformance of the limiter's backend step (`Backend.limit`): each algorithm's admit/refuse
 * sequence and the integers it answers, all or nothing across rules, cost, bans, reset, exactness
 * under concurrency, and a key of another type. Called on the cache's backend (`backendOf`), where
 * the store's own clock decides: values that depend on it are checked within bounds.
 * @module
 */
import { describe, expect } from "vitest";
import { CacheCapabilityError, type Cache } from "../index.js";
import type { Backend, LimitAnswer, LimitRequest, LimitRule } from "../backends/types.js";
import { backendOf, itNeeds, useTargetCache, type TargetHandle } from "./target.js";
import { until } from "./wait.js";

const fixed = (limit: number, periodMs: number): LimitRule => ({ algorithm: "fixed", limit, periodMs, refill: limit });
const sliding = (limit: number, periodMs: number): LimitRule => ({ algorithm: "sliding", limit, periodMs, refill: limit });
const bucket = (limit: number, periodMs: number, refill = limit): LimitRule => ({ algorithm: "tokenBucket", limit, periodMs, refill });

/** Registers the `Backend.limit` tests on a started target in the calling `describe`. */
export function limitTests(target: TargetHandle): void {
  describe("limit (backend)", () => {
    let cache: Cache;
    useTargetCache(target, target.name, (c) => (cache = c));
    const call = async (key: string, rules: LimitRule[], cost = 1, extra: Partial<LimitRequest> = {}): Promise<LimitAnswer> => {
      const backend: Backend = await backendOf(cache);
      return backend.limit(key, { rules, cost, ...extra });
    };

    itNeeds(target, ["atomic"], "fixed: admits limit units per window, then refuses until the window ends", async () => {
      const rules = [fixed(3, 10_000)];
      const admitted: LimitAnswer[] = [];
      for (let i = 0; i < 3; i++) admitted.push(await call("fx", rules));
      expect(admitted.map((a) => a.success)).toEqual([true, true, true]);
      expect(admitted.map((a) => a.states[0]!.remaining)).toEqual([2, 1, 0]);
      for (const a of admitted) {
        expect(a.bannedMs).toBe(0);
        expect(a.states[0]!.retryMs).toBe(0);
        expect(a.states[0]!.resetMs).toBeGreaterThan(5_000);
        expect(a.states[0]!.resetMs).toBeLessThanOrEqual(10_000);
      }
      // The window is fixed at the first call: later calls do not move its end.
      expect(admitted[2]!.states[0]!.resetMs).toBeLessThanOrEqual(admitted[0]!.states[0]!.resetMs);
      const refused = await call("fx", rules);
      expect(refused.success).toBe(false);
      expect(refused.bannedMs).toBe(0);
      expect(refused.states[0]!.remaining).toBe(0);
      expect(refused.states[0]!.retryMs).toBe(refused.states[0]!.resetMs);
      expect(refused.states[0]!.retryMs).toBeGreaterThan(5_000);
      // A short window: admitted again once it ended (polled, no timing assert).
      const short = [fixed(1, 200)];
      expect((await call("fx-short", short)).success).toBe(true);
      expect((await call("fx-short", short)).success).toBe(false);
      await until(async () => (await call("fx-short", short)).success);
    });

    itNeeds(target, ["atomic"], "sliding: counts the entries of the last period; retry is when enough of the oldest leave", async () => {
      const rules = [sliding(4, 10_000)];
      const empty = await call("sl", rules, 0);
      expect(empty).toEqual({ success: true, states: [{ remaining: 4, resetMs: 0, retryMs: 0 }], bannedMs: 0 });
      const first = await call("sl", rules, 2);
      expect(first.success).toBe(true);
      expect(first.states[0]!.remaining).toBe(2);
      expect(first.states[0]!.resetMs).toBeGreaterThan(5_000);
      expect(first.states[0]!.resetMs).toBeLessThanOrEqual(10_000);
      expect((await call("sl", rules, 1)).states[0]!.remaining).toBe(1);
      // 3 of 4 used: a cost of 2 needs the first entry (cost 2) to leave.
      const refused = await call("sl", rules, 2);
      expect(refused.success).toBe(false);
      expect(refused.states[0]!.remaining).toBe(1);
      expect(refused.states[0]!.retryMs).toBeGreaterThan(5_000);
      expect(refused.states[0]!.retryMs).toBeLessThanOrEqual(first.states[0]!.resetMs);
      expect(refused.states[0]!.retryMs).toBe(refused.states[0]!.resetMs);
      const last = await call("sl", rules, 1);
      expect(last.success).toBe(true);
      expect(last.states[0]!.remaining).toBe(0);
      // The window slides: a short one admits again once its entries are period old.
      const short = [sliding(2, 250)];
      expect((await call("sl-short", short)).success).toBe(true);
      expect((await call("sl-short", short)).success).toBe(true);
      const over = await call("sl-short", short);
      expect(over.success).toBe(false);
      expect(over.states[0]!.retryMs).toBeGreaterThan(0);
      expect(over.states[0]!.retryMs).toBeLessThanOrEqual(250);
      await until(async () => (await call("sl-short", short)).success);
    });

    itNeeds(target, ["atomic"], "tokenBucket: starts full, takes cost tokens, refills refill tokens per period", async () => {
      // A refill this slow adds nothing measurable during the test: the integers are exact.
      const slow = [bucket(3, 1_000_000_000, 1)];
      const full = await call("tb", slow, 0);
      expect(full).toEqual({ success: true, states: [{ remaining: 3, resetMs: 0, retryMs: 0 }], bannedMs: 0 });
      const a = await call("tb", slow, 2);
      expect(a.success).toBe(true);
      expect(a.states[0]!.remaining).toBe(1);
      // Two tokens of 1e9 units, refilled at one unit per ms: about 2e9 ms to full.
      expect(a.states[0]!.resetMs).toBeGreaterThan(2_000_000_000 - 60_000);
      expect(a.states[0]!.resetMs).toBeLessThanOrEqual(2_000_000_000);
      const refused = await call("tb", slow, 2);
      expect(refused.success).toBe(false);
      expect(refused.states[0]!.remaining).toBe(1);
      expect(refused.states[0]!.retryMs).toBeGreaterThan(1_000_000_000 - 60_000);
      expect(refused.states[0]!.retryMs).toBeLessThanOrEqual(1_000_000_000);
      expect((await call("tb", slow, 1)).states[0]!.remaining).toBe(0);
      // A fast refill: 2 tokens, one more every 100 ms.
      const fast = [bucket(2, 100, 1)];
      expect((await call("tb-fast", fast, 2)).success).toBe(true);
      const empty = await call("tb-fast", fast, 1);
      expect(empty.success).toBe(false);
      expect(empty.states[0]!.retryMs).toBeGreaterThan(0);
      expect(empty.states[0]!.retryMs).toBeLessThanOrEqual(100);
      await until(async () => (await call("tb-fast", fast, 1)).success);
      // Back to full after a while, and a full bucket says so.
      await until(async () => (await call("tb-fast", fast, 0)).states[0]!.remaining === 2);
      expect((await call("tb-fast", fast, 0)).states[0]).toEqual({ remaining: 2, resetMs: 0, retryMs: 0 });
    });

    itNeeds(target, ["atomic"], "all or nothing: a call refused by one rule consumes nothing in any rule", async () => {
      const rules = [fixed(5, 60_000), sliding(2, 60_000), bucket(10, 60_000)];
      const ok = await call("all", rules, 2);
      expect(ok.success).toBe(true);
      expect(ok.states.map((s) => s.remaining)).toEqual([3, 0, 8]);
      const refused = await call("all", rules, 1);
      expect(refused.success).toBe(false);
      expect(refused.states.map((s) => s.remaining)).toEqual([3, 0, 8]);
      expect(refused.states[0]!.retryMs).toBe(0);
      expect(refused.states[1]!.retryMs).toBeGreaterThan(30_000);
      expect(refused.states[2]!.retryMs).toBe(0);
      for (let i = 0; i < 5; i++) expect((await call("all", rules, 1)).success).toBe(false);
      const read = await call("all", rules, 0);
      expect(read.success).toBe(true);
      expect(read.states.map((s) => s.remaining)).toEqual([3, 0, 8]);
      // Each rule alone still has what the refused calls did not take.
      expect((await call("all", [rules[0]!], 3)).states[0]!.remaining).toBe(0);
      expect((await call("all", [rules[2]!], 8)).states[0]!.remaining).toBe(0);
    });

    itNeeds(target, ["atomic"], "cost > 1 consumes cost units; a cost above what is left is refused and takes nothing", async () => {
      const rules = [fixed(5, 60_000)];
      expect((await call("cost", rules, 3)).states[0]!.remaining).toBe(2);
      const refused = await call("cost", rules, 3);
      expect(refused.success).toBe(false);
      expect(refused.states[0]!.remaining).toBe(2);
      expect(refused.states[0]!.retryMs).toBeGreaterThan(0);
      const ok = await call("cost", rules, 2);
      expect(ok.success).toBe(true);
      expect(ok.states[0]!.remaining).toBe(0);
    });

    itNeeds(target, ["atomic"], "cost 0 reads the state without writing anything", async () => {
      const rules = [fixed(2, 60_000), sliding(2, 60_000), bucket(2, 60_000)];
      for (let i = 0; i < 3; i++) {
        const read = await call("peek", rules, 0);
        expect(read.success).toBe(true);
        expect(read.states.map((s) => s.remaining)).toEqual([2, 2, 2]);
        // Nothing stored: the fixed window would start now, a full period away.
        expect(read.states[0]!.resetMs).toBe(60_000);
        expect(read.states.slice(1)).toEqual([{ remaining: 2, resetMs: 0, retryMs: 0 }, { remaining: 2, resetMs: 0, retryMs: 0 }]);
      }
      if ((await target.capabilities()).listing) expect(await cache.getKeysCount()).toBe(0);
      expect((await call("peek", rules, 1)).success).toBe(true);
      const after = await call("peek", rules, 0);
      expect(after.states.map((s) => s.remaining)).toEqual([1, 1, 1]);
      expect(after.states.map((s) => s.retryMs)).toEqual([0, 0, 0]);
      // Exhausted: a read still succeeds (it asks for nothing) and says when one unit would pass.
      expect((await call("peek", rules, 1)).success).toBe(true);
      const empty = await call("peek", rules, 0);
      expect(empty.success).toBe(true);
      expect(empty.states.map((s) => s.remaining)).toEqual([0, 0, 0]);
      expect(empty.states.map((s) => s.retryMs)).toEqual([0, 0, 0]);
    });

    itNeeds(target, ["atomic"], "ban: a refused call bans the key for banMs, during which every call is refused", async () => {
      const rules = [fixed(1, 1_000)];
      expect((await call("ban", rules, 1, { banMs: 60_000 })).success).toBe(true);
      const banning = await call("ban", rules, 1, { banMs: 60_000 });
      expect(banning.success).toBe(false);
      expect(banning.bannedMs).toBe(60_000);
      expect(banning.states[0]!.remaining).toBe(0);
      expect(banning.states[0]!.retryMs).toBe(60_000);
      const banned = await call("ban", rules, 1, { banMs: 60_000 });
      expect(banned.success).toBe(false);
      expect(banned.bannedMs).toBeGreaterThan(50_000);
      expect(banned.bannedMs).toBeLessThanOrEqual(60_000);
      expect(banned.states[0]!.retryMs).toBe(banned.bannedMs);
      // Reads are refused too while banned.
      const read = await call("ban", rules, 0, { banMs: 60_000 });
      expect(read.success).toBe(false);
      expect(read.bannedMs).toBeGreaterThan(0);
      // Without banMs a refusal bans nothing.
      expect((await call("noban", rules)).success).toBe(true);
      expect((await call("noban", rules)).bannedMs).toBe(0);
      expect((await call("noban", rules, 0)).bannedMs).toBe(0);
      // A short ban ends.
      expect((await call("short-ban", rules, 2, { banMs: 150 })).bannedMs).toBe(150);
      await until(async () => (await call("short-ban", rules, 1, { banMs: 150 })).success);
    });

    itNeeds(target, ["atomic"], "reset deletes every rule's state and the ban, then applies the cost", async () => {
      const rules = [fixed(2, 60_000), sliding(2, 60_000), bucket(2, 60_000)];
      expect((await call("reset", rules, 2)).success).toBe(true);
      expect((await call("reset", rules, 1, { banMs: 60_000 })).bannedMs).toBe(60_000);
      const fresh = await call("reset", rules, 0, { reset: true });
      expect(fresh.success).toBe(true);
      expect(fresh.bannedMs).toBe(0);
      expect(fresh.states.map((s) => s.remaining)).toEqual([2, 2, 2]);
      const again = await call("reset", rules, 1, { reset: true });
      expect(again.success).toBe(true);
      expect(again.states.map((s) => s.remaining)).toEqual([1, 1, 1]);
      expect((await call("reset", rules, 1)).states.map((s) => s.remaining)).toEqual([0, 0, 0]);
      expect((await call("reset", rules, 1)).success).toBe(false);
    });

    itNeeds(target, ["atomic"], "sliding is exact with many calls in the same millisecond", async () => {
      const rules = [sliding(30, 60_000)];
      const answers = await Promise.all(Array.from({ length: 60 }, () => call("burst", rules)));
      const admitted = answers.filter((a) => a.success);
      expect(admitted).toHaveLength(30);
      // Each admitted call saw the log one entry longer: remaining 29, 28, …, 0, once each.
      expect(admitted.map((a) => a.states[0]!.remaining).sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect((await call("burst", rules, 0)).states[0]!.remaining).toBe(0);
      // Entries of any cost in one burst: 10 calls of cost 3 against 20 admit 6.
      const costly = await Promise.all(Array.from({ length: 10 }, () => call("burst3", [sliding(20, 60_000)], 3)));
      expect(costly.filter((a) => a.success)).toHaveLength(6);
      expect((await call("burst3", [sliding(20, 60_000)], 0)).states[0]!.remaining).toBe(2);
    });

    for (const [name, rule] of [
      ["fixed", fixed(50, 60_000)],
      ["sliding", sliding(50, 60_000)],
      ["tokenBucket", bucket(50, 60_000, 1)],
    ] as const) {
      itNeeds(target, ["atomic"], `${name}: 200 concurrent calls against a limit of 50 admit exactly 50`, async () => {
        const answers = await Promise.all(Array.from({ length: 200 }, () => call(`conc-${name}`, [rule])));
        expect(answers.filter((a) => a.success)).toHaveLength(50);
        expect((await call(`conc-${name}`, [rule], 0)).states[0]!.remaining).toBe(0);
      }, 30_000);
    }

    itNeeds(target, ["atomic"], "a rule or ban key holding a value is an error (WRONGTYPE); the value stays", async () => {
      // A key holding a hash tag ({…}) keeps its name on every backend: the fixed rule of 1000 ms
      // lives at "{w}:f1000", the ban at "{w}:ban".
      // What the call rejects with (a store without the capability refuses it: passed on as is).
      const failure = async (answer: Promise<unknown>): Promise<string> => {
        const error = await answer.then(() => undefined, (e: unknown) => e);
        if (error instanceof CacheCapabilityError) throw error;
        return String((error as Error | undefined)?.message);
      };
      await cache.set("{w}:f1000", "value");
      expect(await failure(call("{w}", [fixed(1, 1_000)]))).toMatch(/WRONGTYPE/);
      expect(await cache.get("{w}:f1000")).toBe("value");
      await cache.set("{b}:ban", "value");
      expect(await failure(call("{b}", [sliding(1, 1_000)]))).toMatch(/WRONGTYPE/);
      expect(await cache.get("{b}:ban")).toBe("value");
      // Other keys of the same id are unaffected.
      expect((await call("{w}", [fixed(1, 2_000)])).success).toBe(true);
    });

    itNeeds(target, ["atomic"], "keys of any shape: empty, braces, colons", async () => {
      const rules = [fixed(1, 60_000), sliding(1, 60_000), bucket(1, 60_000)];
      for (const key of ["", "}x", "{}", "a:b:c", "{tag}rest", "ü ✓"]) {
        expect((await call(key, rules)).success, key).toBe(true);
        expect((await call(key, rules)).success, key).toBe(false);
      }
    });
  });
}
