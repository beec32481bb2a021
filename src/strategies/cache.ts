/**
 * The simple cache strategy: `cache.cache({ ttl, key })`.
 * @module
 */
import { MISSING } from "../backends/types.js";
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf } from "../core/state.js";
import { restoreErrorClass, type Condition } from "../conditions.js";
import type { Duration } from "../durations.js";
import { CacheConfigError, type TimeoutError } from "../errors.js";
import { decorator, type Decorator } from "../wrap/decorator.js";
import { lockTtlMs } from "../options.js";
import { Raised } from "../codec/raised.js";
import { singleFlight } from "./single-flight.js";
import { bounded, flight, joined, parseCommon, timeoutOption, wrapper, type TimeoutOption, type UpperOption, type ValueOptions } from "./value.js";
import { markServed, scope, servedHere, type Served } from "../context/scope.js";

/**
 * Options of the simple cache strategy (`cache(options)` / `cache.cache(options)`).
 * @example
 * const getUser = cache({
 *   ttl: "10m",
 *   key: "user:{id}",
 *   condition: NOT_NONE, // do not cache a missing user
 *   lock: true,          // one computation across processes on a miss
 *   tags: ["users"],
 * })(async (id: string) => db.user(id));
 */
export interface CacheOptions<A extends any[] = any[]> extends ValueOptions<A>, UpperOption {
  /** Which results (and, with `withExceptions`, errors) to store. Default: every result, no error. */
  condition?: Condition;
  /**
   * Distributed single-flight: on a miss, one caller across all processes computes (holding the
   * lock `<key>:lock`) and the others wait for its stored value instead of computing it again.
   * Hits never touch the lock.
   */
  lock?: boolean;
  /**
   * With `lock: true`: the lock's expiry, which frees it when its holder dies (the waiters then
   * take over). Keep it above the function's worst-case duration: a computation that outlives it
   * lets a second caller compute. Default: `ttl`, at most 30 s.
   */
  lockTtl?: Duration;
  /** In-process single-flight: concurrent identical calls run the function once. Default true. */
  protected?: boolean;
  /**
   * How long a caller that missed waits for the function (and, with `lock: true`, for the lock
   * holder's value): past `hard` it gets a {@link TimeoutError}, while the computation goes on in
   * the background and its result is stored when it completes. Only `hard`: `cache` has no stale
   * value to serve (`soft` is for `early`, `soft` and `failover`). Hits are never bounded.
   * @example
   * const getUser = cache({ ttl: "10m", key: "user:{id}", timeout: { hard: "2s" } })(async (id: string) => db.user(id));
   */
  timeout?: Pick<TimeoutOption, "hard">;
}

const EXTRA = ["lock", "lockTtl", "protected", "upper", "timeout"];

/** Default lock expiry of `lock: true`: the cache ttl, capped (a dead holder blocks no longer). */
const MAX_DEFAULT_LOCK_TTL = 30_000;

/**
 * The simple cache strategy, reached as `cache.cache(options)` or `cache(options)`: serve a stored
 * result while it lives, else call and store.
 * @internal
 */
export function cache<A extends any[] = any[]>(cache: CoreCache, options: CacheOptions<A>): Decorator<A> {
  const core = stateOf(cache);
  const common = parseCommon("cache", options, EXTRA, "", true);
  const lockTtl = lockTtlOf(options.lock, options.lockTtl, common.ttl);
  if (lockTtl !== undefined) core.needAtWrap("cache: lock: true", "locks", "strongConsistency");
  const protect = options.protected ?? true;
  const timeouts = timeoutOption("cache", options.timeout, false);
  const fail = (error: unknown): never => {
    throw error;
  };
  /** A miss's wait, bounded by `timeout.hard`. */
  const wait = (pending: Promise<unknown>): Promise<unknown> => (timeouts === undefined ? pending : bounded(core, "cache", pending, timeouts, undefined, fail));

  return decorator<A>("cache", core, (target, guard) => {
    const w = wrapper(core, common, target);
    const { keyOf } = w;
    const inflight = protect ? new Map<string, Promise<unknown>>() : undefined;
    const classes = common.condition?.classes;
    const valid = w.valid;

    const compute = async (thisArg: unknown, args: unknown[], key: string, outer: Served | undefined): Promise<unknown> => {
      const outcome = await w.call(thisArg, args, outer, key);
      if (w.storable(outcome, key)) {
        await w.write(core.route(key), key, outcome.failed ? new Raised(outcome.result) : outcome.stored, outcome);
      }
      if (outcome.failed) throw outcome.result;
      return outcome.result;
    };

    /** The outcome of a value another process stored while this call waited on the lock. */
    const served = (value: unknown): unknown => {
      if (value instanceof Raised) throw restoreErrorClass(value.error, classes);
      return value;
    };

    /** A miss: compute, under the distributed lock with `lock: true` (a value another process stored is served from cache). */
    const load =
      lockTtl === undefined
        ? compute
        : (thisArg: unknown, args: unknown[], key: string, outer: Served | undefined): Promise<unknown> =>
            singleFlight(core, key, lockTtl, () => compute(thisArg, args, key, outer), async (value) => {
              // With a schema, a value of another shape is recomputed (without the lock).
              if (valid !== undefined && (value = await valid(core.route(key), key, value, thisArg)) === MISSING) return compute(thisArg, args, key, outer);
              if (outer !== undefined) markServed(outer);
              return served(value);
            });

    const lookup = async (thisArg: unknown, args: unknown[], key: string): Promise<unknown> => {
      const outer = servedHere();
      const route = core.route(key);
      // A live memory route's peek is its read; any other (a clientSide local copy) may miss locally.
      let value = route.peekable && route.live && scope.live === 0 ? route.backend!.peek!(key) : await core.read(route, key);
      if (value !== MISSING && valid !== undefined) value = await valid(route, key, value, thisArg);
      if (value !== MISSING) return w.hit(route, key, value, thisArg, undefined, outer);
      w.miss(thisArg, key, route);
      return wait(flight(core, inflight, key, () => load(thisArg, args, key, outer)));
    };

    // Not an async function: a memory hit resolves with one promise and no async frame.
    return { entry: cached, keyOf };
    function cached(this: unknown, ...args: unknown[]): Promise<unknown> {
      // The plumbing's guard, applied in this frame: a memory hit pays no wrapper frame.
      if (guard.off()) return guard.direct(this, args) as Promise<unknown>;
      try {
        const key = keyOf(this, args);
        if (inflight?.size) {
          const pending = inflight.get(key);
          if (pending !== undefined) {
            // Joins the computation already under way for its key (counted as a miss).
            w.miss(this, key);
            return wait(joined(core, key, pending));
          }
        }
        const route = core.route(key);
        // With a schema a hit is validated, in lookup: the plain path stays as it is.
        if (route.peekable && scope.live === 0 && valid === undefined) {
          const value = route.backend!.peek!(key);
          if (value !== MISSING) return Promise.resolve(w.hit(route, key, value, this));
        }
        return lookup(this, args, key);
      } catch (error) {
        return Promise.reject(error);
      }
    }
  });
}

/** The lock expiry of `lock: true` (ms), or undefined without it. */
function lockTtlOf(lock: unknown, lockTtl: Duration | undefined, ttl: number | undefined): number | undefined {
  if (lock !== undefined && typeof lock !== "boolean") throw new CacheConfigError(`cache: "lock" must be a boolean, got ${typeof lock}`);
  if (!lock) {
    if (lockTtl !== undefined) throw new CacheConfigError(`cache: "lockTtl" applies only with lock: true`);
    return undefined;
  }
  if (lockTtl === undefined) return Math.min(ttl ?? MAX_DEFAULT_LOCK_TTL, MAX_DEFAULT_LOCK_TTL);
  return lockTtlMs("cache", "lockTtl", lockTtl);
}
