/**
 * Distributed single-flight for `cache({ lock: true })`: on a miss, one caller across every
 * process takes `<key>:lock`, computes and stores; the others wait for its value instead of
 * computing it again.
 *
 * - The lock key is the value key plus {@link LOCK_SUFFIX}, so prefix routing sends both to the same
 *   backend (a `lock:` *prefix* could route the lock elsewhere) and one `getMany` reads both.
 * - The winner re-reads the value after taking the lock (another process may have stored it and
 *   released between our miss and our lock), computes, stores, then releases (compare-and-delete).
 * - A waiter polls `getMany([key, lockKey])` (one round trip: the value, and whether the lock is
 *   still held) with a back-off of 10 ms growing ×1.5 up to 250 ms (±25 % jitter), never a hot
 *   loop. It returns the winner's value once stored. If the lock is gone without a value (the
 *   holder failed, or did not store its result because of a condition, or died and its lock's
 *   TTL ran out), the waiter tries to take the lock itself and computes.
 * - Safe mode fails open: a backend error while locking or waiting computes without the lock.
 * @internal
 * @module
 */
import { sleep } from "../durations.js";
import { MISSING } from "../backends/types.js";
import type { CacheCore } from "../core/state.js";
import { LOCK_PREFIX } from "../core/route.js";

/** Appended to a value key to name its lock: `user:1` → `user:1:lock`. */
export const LOCK_SUFFIX = ":lock";
/** The first wait between two polls (ms), grown by {@link GROWTH} after each poll up to {@link MAX_DELAY}. */
export const FIRST_DELAY = 10;
/**
 * Growth of the wait between polls: a value stored during a wait of `t` is seen by about
 * `t × GROWTH` (so the overshoot stays a share of the wait, not of the whole back-off).
 */
export const GROWTH = 1.5;
/** The longest wait between two polls (ms), before jitter. */
export const MAX_DELAY = 250;
/** Each wait is randomised by ± this share, so that waiting processes do not poll in lockstep. */
export const JITTER = 0.25;


/**
 * Computes `key` once across processes. `compute` calls the function and stores its result (it is
 * run at most once per call, by the lock holder); `found` turns a value another process stored into
 * this call's outcome (returns it, or throws a cached error).
 */
export async function singleFlight(
  core: CacheCore,
  key: string,
  lockTtl: number,
  compute: () => Promise<unknown>,
  found: (value: unknown) => unknown,
): Promise<unknown> {
  const route = core.route(key);
  if (!route.enabled) return compute();
  const lockKey = key + LOCK_SUFFIX;
  const token = LOCK_PREFIX + crypto.randomUUID();
  let delay = FIRST_DELAY;
  for (;;) {
    let acquired: boolean;
    const epoch = route.epoch;
    try {
      acquired = await (route.backend ?? (await route.start())).setLock(lockKey, token, lockTtl);
    } catch (error) {
      core.failed(error, lockKey, route, epoch); // rethrows unless safe
      return compute();
    }
    if (route.down !== undefined) core.answered(route, epoch);
    if (acquired) {
      try {
        const value = await core.read(route, key);
        return value !== MISSING ? found(value) : await compute();
      } finally {
        await core.run(route, lockKey, false, (b) => b.unlock(lockKey, token));
      }
    }
    // Held by someone else: wait for their value, or for the lock to go (a stampede wait for the probe).
    const waited = performance.now();
    const done = <T>(ok: boolean, result: T): T => {
      core.probe?.wait("single-flight", route, key, waited, ok);
      return result;
    };
    for (;;) {
      await sleep(Math.min(delay * (1 - JITTER + 2 * JITTER * Math.random()), lockTtl));
      delay = Math.min(delay * GROWTH, MAX_DELAY);
      let raw: unknown[];
      const epoch = route.epoch;
      try {
        raw = await (route.backend ?? (await route.start())).getMany([key, lockKey]);
      } catch (error) {
        core.failed(error, key, route, epoch);
        return done(false, compute());
      }
      if (route.down !== undefined) core.answered(route, epoch);
      const [stored, held] = raw;
      if (stored !== MISSING) {
        const value = await core.decoded(route, key, stored);
        if (value !== MISSING) return found(done(true, value));
      }
      if (held === MISSING) {
        done(false, undefined);
        break; // gone without a value: take over
      }
      // Something that is not a lock sits under the lock's name (a user value, say): it would
      // block the lock until it expires, so compute without the lock rather than wait for it.
      if (typeof held !== "string" || !held.startsWith(LOCK_PREFIX)) return done(false, compute());
    }
  }
}
