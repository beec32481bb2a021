/**
 * Locks: acquisition with back-off, release by owner (compare-and-delete), `await using`.
 * @module
 */
import { sleep, toMs, type Duration } from "../durations.js";
import { LockedError } from "../errors.js";
import { Command, isDisabled } from "../context/scope.js";
import { LOCK_PREFIX } from "./route.js";
import type { CacheCore } from "./state.js";

/**
 * A lock returned by `cache.lock`: release it with `release()` or `await using`.
 * @example
 * const lock = await cache.lock("jobs:nightly", "1m");
 * try {
 *   await runNightlyJob();
 * } finally {
 *   await lock.release();
 * }
 */
export interface Lock extends AsyncDisposable {
  readonly key: string;
  /** The owner token stored under the key. */
  readonly value: string;
  /** False when the backend was unreachable in safe mode and the body runs unlocked (fail-open). */
  readonly acquired: boolean;
  /** Releases the lock if this owner still holds it; resolves whether it did. */
  release(): Promise<boolean>;
}

/**
 * Options of `cache.lock` and `cache.withLock`.
 * @example
 * await cache.withLock("report", "1m", buildReport, { wait: "5s" }); // LockedError after 5 s
 */
export interface LockOptions {
  /** `true` (default): wait until acquired; a Duration: wait that long; `false`: do not wait. */
  wait?: boolean | Duration;
}

const asyncDispose: typeof Symbol.asyncDispose =
  (Symbol as { asyncDispose?: typeof Symbol.asyncDispose }).asyncDispose ??
  (Symbol.for("Symbol.asyncDispose") as typeof Symbol.asyncDispose);

/** A lock's `wait` option (see {@link LockOptions}) in ms: Infinity for `true` (the default), 0 for `false`. */
export function lockWaitMs(what: string, wait: boolean | Duration | undefined): number {
  const w = wait ?? true;
  return w === true ? Number.POSITIVE_INFINITY : w === false ? 0 : toMs(w, `${what}: wait`);
}

/**
 * Acquires `key` for `ms`, waiting up to `waitMs` (Infinity: until acquired) with jittered
 * back-off; throws {@link LockedError} when the wait runs out. Safe mode: an unreachable backend
 * yields an unacquired lock.
 */
export async function acquireLock(core: CacheCore, key: string, ms: number, waitMs: number): Promise<Lock> {
  const deadline = Date.now() + waitMs;
  const route = core.route(key);
  const value = crypto.randomUUID();
  let acquired = false;
  let released = false;
  const release = async (): Promise<boolean> => {
    if (released || !acquired) return false;
    released = true;
    return core.run(route, key, false, (b) => b.unlock(key, LOCK_PREFIX + value));
  };
  // A wait (reported to the probe) starts at the first back-off.
  let waited: number | undefined;
  const lock = (): Lock => {
    core.probe?.wait("lock", route, key, waited, acquired);
    return { key, value, acquired, release, [asyncDispose]: async () => void (await release()) };
  };
  for (let delay = 10; ; delay = Math.min(delay * 2, 500)) {
    const epoch = route.epoch;
    try {
      if (!route.enabled || isDisabled(core, Command.SET_LOCK, core.prefixes.get(route.prefix))) return lock();
      acquired = await (route.backend ?? (await route.start())).setLock(key, LOCK_PREFIX + value, ms);
    } catch (error) {
      try {
        core.failed(error, key, route, epoch);
      } catch (failure) {
        // Not safe mode (or a configuration error): the wait ends with the failure.
        core.probe?.wait("lock", route, key, waited, false);
        throw failure;
      }
      return lock();
    }
    if (route.down !== undefined) core.answered(route, epoch);
    if (acquired) return lock();
    const left = deadline - Date.now();
    if (left <= 0) {
      core.probe?.wait("lock", route, key, waited, false);
      throw new LockedError(`key ${JSON.stringify(key)} is locked by another owner`);
    }
    waited ??= performance.now();
    // Back-off with jitter, bounded by the wait left and the lock's own TTL: never a hot loop.
    await sleep(Math.min(delay + Math.random() * delay, left, ms));
  }
}
