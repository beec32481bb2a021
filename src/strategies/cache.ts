/**
 * The simple cache strategy: `cache.cache({ ttl, key })`.
 * @module
 */
import { MISSING } from "../backends/types.js";
import type { Cache } from "../cache.js";
import { restoreErrorClass, type Condition } from "../conditions.js";
import { toMs, type Duration } from "../durations.js";
import { CacheConfigError, SerializationError } from "../errors.js";
import { decorator, type Decorator } from "../wrap/decorator.js";
import { callKey, functionCounters, type KeyOption } from "../wrap/key.js";
import { checkOptions, checkTags, lockTtlMs, requiredTtl } from "../options.js";
import { registerWrapped } from "../wrap/registry.js";
import { Raised } from "../codec/raised.js";
import type { Route } from "../route.js";
import { singleFlight } from "./single-flight.js";
import { tagsOf } from "./shared-value.js";
import { isFullyDisabled, recordHit, scope } from "../context/scope.js";

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
export interface CacheOptions<A extends any[] = any[]> {
  /** How long a result lives (required); `null` stores without expiry. */
  ttl: Duration | null;
  /** A template such as `"user:{id}"`, or a function of the call's arguments. Default: from the function's name and parameters. */
  key?: KeyOption<A>;
  /** Prepended to the key with a `:`. */
  prefix?: string;
  /** Which results (and, with `withExceptions`, errors) to store. Default: every result, no error. */
  condition?: Condition;
  /** Store only results that took longer than this (combined with `condition` by AND). */
  timeCondition?: Duration;
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
  /**
   * Tags to attach to stored results: templates such as `"user:{id}"`, formatted with the call's
   * arguments (compiled at wrap time: an unknown placeholder fails then). `cache.deleteTags(tag)`
   * deletes the results stored with it.
   */
  tags?: readonly string[];
  /** In-process single-flight: concurrent identical calls run the function once. Default true. */
  protected?: boolean;
}

const KNOWN = ["ttl", "key", "prefix", "condition", "timeCondition", "lock", "lockTtl", "tags", "protected"] as const;

/** Default lock expiry of `lock: true`: the cache ttl, capped (a dead holder blocks no longer). */
const MAX_DEFAULT_LOCK_TTL = 30_000;

/** @internal */
export function cacheStrategy<A extends any[] = any[]>(cache: Cache, options: CacheOptions<A>): Decorator<A> {
  checkOptions("cache", options, KNOWN);
  const ttl = requiredTtl("cache", options.ttl);
  const { condition, timeCondition, key: keyOption } = options;
  const prefix = options.prefix ?? "";
  if (condition !== undefined && typeof condition !== "function") {
    throw new CacheConfigError(`cache: "condition" must be a function (result, args, key) => boolean, got ${typeof condition}`);
  }
  const slowerThan = timeCondition === undefined ? undefined : toMs(timeCondition, "cache: timeCondition");
  const lockTtl = lockTtlOf(options.lock, options.lockTtl, ttl);
  const tags = checkTags("cache", options.tags);
  const protect = options.protected ?? true;
  if (typeof prefix !== "string") throw new CacheConfigError(`cache: "prefix" must be a string, got ${typeof prefix}`);

  return decorator<A>("cache", (target) => {
    const keyOf = callKey("cache", target, keyOption as KeyOption<never[]> | undefined, prefix);
    const fn = target.fn;
    const core = cache.core;
    const emitter = core.emitter;
    const inflight = new Map<string, Promise<unknown>>();
    const counters = functionCounters(core, target, prefix || (typeof keyOption === "string" ? keyOption : ""));
    const template = typeof keyOption === "string" ? keyOption : undefined;
    const tagged = tagsOf("cache", target, tags);

    const compute = async (thisArg: unknown, args: unknown[], key: string): Promise<unknown> => {
      const { stats, label } = counters(thisArg);
      const started = slowerThan === undefined ? 0 : performance.now();
      let result: unknown;
      let failed = false;
      try {
        result = await fn.apply(thisArg, args);
      } catch (error) {
        result = error;
        failed = true;
        stats.errors++;
      }
      const store =
        (slowerThan === undefined || performance.now() - started > slowerThan) &&
        (failed ? condition?.errors?.(result) : condition === undefined || condition(result, args, key));
      if (store) {
        const route = core.route(key);
        try {
          const ok = await core.write(route, key, failed ? new Raised(result) : result, ttl);
          if (ok && tagged !== undefined) await cache.tagKey(key, tagged(thisArg, args), ttl);
        } catch (error) {
          if (!(error instanceof SerializationError)) throw error;
          // The function's own outcome wins: an error that cannot be cached is still rethrown
          // (and the failure reported); a result that cannot be cached is a bug to fix now.
          if (!failed) {
            throw new SerializationError(
              `cache: ${label} ran, but its result cannot be cached: ${error.message}. Return plain data, or skip it with a condition`,
              { cause: error },
            );
          }
          core.report(error, key, route);
        }
      }
      if (failed) throw result;
      return result;
    };

    /** The outcome of a value another process stored while this call waited on the lock. */
    const served = (value: unknown): unknown => {
      if (value instanceof Raised) throw restoreErrorClass(value.error, condition?.classes);
      return value;
    };

    /** A miss: compute, under the distributed lock with `lock: true`. */
    const load =
      lockTtl === undefined
        ? compute
        : (thisArg: unknown, args: unknown[], key: string): Promise<unknown> =>
            singleFlight(core, key, lockTtl, () => compute(thisArg, args, key), served);

    const hit = (route: Route, key: string, value: unknown, thisArg: unknown): unknown => {
      const { stats, label } = counters(thisArg);
      core.hit(stats);
      if (emitter.counts.hit > 0) emitter.emit({ type: "hit", key, backend: route.label, function: label });
      if (scope.live !== 0) recordHit(key, { name: "cache", ttl, backend: route.label, template, function: label });
      // `instanceof` costs more than the rest of a memory hit: skipped while no Raised exists.
      if (Raised.created && value instanceof Raised) throw restoreErrorClass(value.error, condition?.classes);
      return value;
    };

    /** A call that is not served from cache: counted as a miss. */
    const miss = (thisArg: unknown, key: string, route?: Route): void => {
      const { stats, label } = counters(thisArg);
      core.miss(stats);
      if (emitter.counts.miss > 0) emitter.emit({ type: "miss", key, backend: (route ?? core.route(key)).label, function: label });
    };

    /** A caller that joins the computation already under way for its key (counted as a miss). */
    const join = (pending: Promise<unknown>, thisArg: unknown, key: string): Promise<unknown> => {
      miss(thisArg, key);
      return pending;
    };

    const lookup = async (thisArg: unknown, args: unknown[], key: string): Promise<unknown> => {
      const route = core.route(key);
      // A live memory route's peek is its read; any other (a clientSide local copy) may miss locally.
      const value = route.peekable && route.live && scope.live === 0 ? route.backend!.peek!(key) : await core.read(route, key);
      if (value !== MISSING) return hit(route, key, value, thisArg);
      let pending = protect ? inflight.get(key) : undefined;
      if (pending !== undefined) return join(pending, thisArg, key);
      miss(thisArg, key, route);
      if (!protect) return load(thisArg, args, key);
      pending = load(thisArg, args, key).finally(() => inflight.delete(key));
      inflight.set(key, pending);
      return pending;
    };

    // Not an async function: a memory hit resolves with one promise and no async frame.
    return registerWrapped(cached, { strategy: "cache", target, keyOf });
    function cached(this: unknown, ...args: unknown[]): Promise<unknown> {
      // Every command disabled (a scope's or process-wide): call the function directly.
      if (scope.live !== 0 && isFullyDisabled(core)) return (async () => fn.apply(this, args))();
      try {
        const key = keyOf(this, args);
        if (protect && inflight.size > 0) {
          const pending = inflight.get(key);
          if (pending !== undefined) return join(pending, this, key);
        }
        const route = core.route(key);
        if (route.peekable && scope.live === 0) {
          const value = route.backend!.peek!(key);
          if (value !== MISSING) return Promise.resolve(hit(route, key, value, this));
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
