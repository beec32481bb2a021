/**
 * Conformance of the lock strategies in one process: `locked` (serialise calls, no caching) and
 * `cache({ lock: true })` (distributed single flight: one computation, the waiters get its value).
 * @module
 */
import { describe, expect, it } from "vitest";
import { LockedError, withExceptions, type Cache } from "../../index.js";
import type { Backend } from "../../backends/types.js";
import { backendOf, useCachesPerTest, itNeeds, type TargetHandle } from "../target.js";
import { sleep } from "../wait.js";

/** Counts the backend commands a cache issues from now on, by method name. */
async function countCommands(cache: Cache): Promise<Record<string, number>> {
  await cache.init();
  const backend = (await backendOf(cache)) as unknown as Record<string, unknown>;
  const counts: Record<string, number> = {};
  for (const name of ["get", "getMany", "set", "setLock", "unlock", "exists", "delete", "incr"] as const) {
    const original = backend[name] as (...args: unknown[]) => unknown;
    backend[name] = function (this: Backend, ...args: unknown[]) {
      counts[name] = (counts[name] ?? 0) + 1;
      return original.apply(this, args);
    };
  }
  return counts;
}
const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

/** Registers the tests of `locked` and `cache({ lock: true })` on a started target in the calling `describe`. */
export function lockTests(target: TargetHandle): void {
  describe("lock strategies", () => {
    let cache: Cache;
    useCachesPerTest(target, ["lock"], ([c]) => (cache = c!));

    describe("locked", () => {
      itNeeds(target, ["locks"], "serialises concurrent calls (no overlap), and every call runs", async () => {
        let active = 0;
        let most = 0;
        let runs = 0;
        const job = cache.locked({ ttl: "10s", key: "job" })(async (n: number) => {
          active++;
          most = Math.max(most, active);
          await sleep(15);
          active--;
          runs++;
          return n * 2;
        });
        const results = await Promise.all(Array.from({ length: 8 }, (_, i) => job(i)));
        expect(results).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
        expect(runs).toBe(8);
        expect(most).toBe(1);
        expect(await cache.exists("lock:job")).toBe(false);
        expect(await cache.getKeysCount()).toBe(0); // no caching
      });

      itNeeds(target, ["locks"], "wait: false gives LockedError to the concurrent callers, one call runs per round", async () => {
        let runs = 0;
        const job = cache.locked({ ttl: "10s", wait: false })(async function nightly() {
          runs++;
          await sleep(30);
          return "done";
        });
        for (let round = 1; round <= 2; round++) {
          const settled = await Promise.allSettled(Array.from({ length: 10 }, () => job()));
          const ok = settled.filter((s) => s.status === "fulfilled");
          const refused = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected");
          expect(ok).toHaveLength(1);
          expect(refused).toHaveLength(9);
          for (const r of refused) expect(r.reason).toBeInstanceOf(LockedError);
          expect(runs).toBe(round);
        }
      });

      itNeeds(target, ["locks"], "wait: Duration waits that long; the default key locks per arguments; errors release the lock", async () => {
        const slow = cache.locked({ ttl: "10s", key: "slow" })(async (ms: number) => {
          await sleep(ms);
          return ms;
        });
        const quick = cache.locked({ ttl: "10s", key: "slow", wait: "40ms" })(async () => "quick");
        const patient = cache.locked({ ttl: "10s", key: "slow", wait: "5s" })(async () => "patient");
        const holder = slow(300);
        await sleep(20);
        const started = performance.now();
        await expect(quick()).rejects.toBeInstanceOf(LockedError);
        expect(performance.now() - started).toBeGreaterThanOrEqual(35);
        expect(await patient()).toBe("patient");
        expect(await holder).toBe(300);

        const perArgs = cache.locked({ ttl: "10s", wait: false })(async function perUser(id: string) {
          await sleep(30);
          return id;
        });
        expect(await Promise.all([perArgs("a"), perArgs("b")])).toEqual(["a", "b"]);

        const failing = cache.locked({ ttl: "10s", key: "boom", wait: false })(async () => {
          throw new Error("boom");
        });
        await expect(failing()).rejects.toThrow("boom");
        await expect(failing()).rejects.toThrow("boom"); // not LockedError: the lock was released
      });

      itNeeds(target, ["locks"], "a lock left by a dead holder is taken once its ttl has run out, not before", async () => {
        await cache.setLock("lock:orphan", "dead-owner", "400ms");
        const started = performance.now();
        const job = cache.locked({ ttl: "10s", key: "orphan" })(async () => performance.now() - started);
        const waited = await job();
        expect(waited).toBeGreaterThanOrEqual(350);
        expect(waited).toBeLessThan(3000);
      });
    });

    describe("cache({ lock: true })", () => {
      itNeeds(target, ["locks"], "50 concurrent callers in one process: one execution, every caller gets the value", async () => {
        let runs = 0;
        const load = cache.cache({ ttl: "1m", key: "report:{id}", lock: true })(async (id: number) => {
          runs++;
          await sleep(50);
          return { id, total: 42 };
        });
        const results = await Promise.all(Array.from({ length: 50 }, () => load(7)));
        expect(runs).toBe(1);
        for (const r of results) expect(r).toEqual({ id: 7, total: 42 });
        expect(await cache.get("report:7")).toEqual({ id: 7, total: 42 });
        expect(await cache.exists("report:7:lock")).toBe(false); // released after storing
        expect(await load(7)).toEqual({ id: 7, total: 42 });
        expect(runs).toBe(1);
      });

      itNeeds(target, ["locks"], "without in-process protection, the distributed lock alone keeps it to one execution, with bounded polling", async () => {
        let runs = 0;
        const load = cache.cache({ ttl: "1m", key: "cold", lock: true, protected: false })(async () => {
          runs++;
          await sleep(200);
          return "value";
        });
        const counts = await countCommands(cache);
        const results = await Promise.all(Array.from({ length: 50 }, () => load()));
        expect(runs).toBe(1);
        expect(results).toEqual(Array(50).fill("value"));
        // Winner: get, setLock, get, set, unlock (5). Each waiter: get, setLock, then polls.
        const perWaiter = (total(counts) - 5) / 49;
        expect(perWaiter).toBeLessThan(20);
        expect(counts.getMany! / 49).toBeLessThanOrEqual(15);
        console.log(`[lock: true, protected: false, ${target.name}] backend calls per waiter: ${perWaiter.toFixed(2)} ${JSON.stringify(counts)}`);
      });

      itNeeds(target, ["locks"], "the holder holds `<key>:lock` while computing; hits never touch the lock", async () => {
        let held: boolean | undefined;
        const load = cache.cache({ ttl: "1m", key: "k", lock: true })(async () => {
          held = await cache.exists("k:lock");
          return 1;
        });
        expect(await load()).toBe(1);
        expect(held).toBe(true);
        const counts = await countCommands(cache);
        expect(await load()).toBe(1);
        expect(counts.setLock ?? 0).toBe(0);
        expect(counts.getMany ?? 0).toBe(0);
      });

      itNeeds(target, ["locks"], "a holder that fails: its caller gets the error, a waiter takes over and the rest get its value", async () => {
        let runs = 0;
        const load = cache.cache({ ttl: "1m", key: "flaky", lock: true, protected: false })(async () => {
          runs++;
          const n = runs;
          await sleep(60);
          if (n === 1) throw new Error("first attempt fails");
          return `ok-${n}`;
        });
        const settled = await Promise.allSettled(Array.from({ length: 5 }, () => load()));
        expect(settled.filter((s) => s.status === "rejected")).toHaveLength(1);
        expect(settled.filter((s) => s.status === "fulfilled").map((s) => (s as PromiseFulfilledResult<string>).value)).toEqual(Array(4).fill("ok-2"));
        expect(runs).toBe(2);
      });

      itNeeds(target, ["locks"], "a result the condition does not store: the waiters compute in turn, never together", async () => {
        let active = 0;
        let most = 0;
        let runs = 0;
        const load = cache.cache({ ttl: "1m", key: "uncached", lock: true, protected: false, condition: () => false })(async () => {
          active++;
          runs++;
          most = Math.max(most, active);
          await sleep(20);
          active--;
          return runs;
        });
        await Promise.all(Array.from({ length: 3 }, () => load()));
        expect(runs).toBe(3);
        expect(most).toBe(1);
      });

      itNeeds(target, ["locks"], "waiters get a cached error the holder stored (withExceptions)", async () => {
        class Gone extends Error {
          override name = "Gone";
        }
        let runs = 0;
        const load = cache.cache({ ttl: "1m", key: "gone", lock: true, protected: false, condition: withExceptions(Gone) })(async () => {
          runs++;
          await sleep(40);
          throw new Gone("no such thing");
        });
        const settled = await Promise.allSettled(Array.from({ length: 4 }, () => load()));
        expect(runs).toBe(1);
        for (const s of settled) {
          expect(s.status).toBe("rejected");
          expect((s as PromiseRejectedResult).reason).toMatchObject({ name: "Gone", message: "no such thing" });
        }
      });

      itNeeds(target, ["locks"], "a lock left by a dead holder: the caller takes over once its ttl has run out, not before", async () => {
        await cache.setLock("orphan:lock", "dead-owner", "400ms");
        const started = performance.now();
        let runs = 0;
        const load = cache.cache({ ttl: "1m", key: "orphan", lock: true, lockTtl: "5s" })(async () => {
          runs++;
          return performance.now() - started;
        });
        const waited = await load();
        expect(runs).toBe(1);
        expect(waited).toBeGreaterThanOrEqual(350);
        expect(waited).toBeLessThan(3000);
      });
    });
  });
}
