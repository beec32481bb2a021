/**
 * The `hit` strategy: a stored result expires after `cacheHits` hits (or after `ttl`).
 *
 * The hit count lives in the backend next to the value, as an atomic counter `<key>:hits`
 * (created with the ttl; with an adaptive ttl, restarted with the value's when it is stored), so every process counts against the same budget. Each call reads the
 * value and increments the counter in parallel: a value with `1 ≤ count ≤ cacheHits` is served;
 * otherwise the function runs in the foreground, and its result is stored and the counter reset.
 * With `cacheHits: 2` a function returning its call number gives 1, 1, 1, 2, 2, 2, 3: one miss
 * plus two hits per value. `updateAfter: n`: the n-th hit (exactly one caller, across processes)
 * refreshes the value in the background and gets the cached value; the refresh restarts the count.
 * @module
 */
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf } from "../core/state.js";
import { CacheConfigError } from "../errors.js";
import type { Route } from "../core/route.js";
import { decorator, type Decorator } from "../wrap/decorator.js";
import { Raised } from "../codec/raised.js";
import { flight, MISSING, parseCommon, wrapper, type Outcome, type TtlFunction, type UpperOption, type ValueOptions } from "./value.js";
import { background } from "../context/background.js";
import { servedHere, type Served } from "../context/scope.js";
import type { Duration } from "../durations.js";

/**
 * Options of the `hit` strategy.
 * @example
 * const getConfig = cache.hit({ ttl: "1h", cacheHits: 100, updateAfter: 80 })(async (name: string) => api.config(name));
 */
export interface HitOptions<A extends any[] = any[]> extends ValueOptions<A>, UpperOption {
  /** How many hits a stored result serves (a positive integer). */
  cacheHits: number;
  /** The hit (1 … cacheHits) that refreshes the value in the background; 0 or absent: never. */
  updateAfter?: number;
  /** In-process single-flight: concurrent identical calls that miss run the function once. Default true. */
  protected?: boolean;
}

const EXTRA = ["cacheHits", "updateAfter", "protected", "upper"];

/**
 * Options of the `dynamic` strategy: those of `hit` without `cacheHits` and `updateAfter`, and
 * `ttl` optional (default one day).
 * @example
 * const getPrices = cache.dynamic({ key: "prices:{market}" })(async (market: string) => api.prices(market));
 */
export interface DynamicOptions<A extends any[] = any[]> extends Omit<HitOptions<A>, "ttl" | "cacheHits" | "updateAfter"> {
  /** How long a stored result lives. Default `"1d"`; `null` stores without expiry; a function decides per call (see {@link TtlFunction}). */
  ttl?: Duration | null | TtlFunction<A>;
}

const DYNAMIC_EXTRA = ["protected", "upper"];
/** `dynamic` is `hit` with these (the original's `cache.dynamic`). */
const DYNAMIC = { cacheHits: 3, updateAfter: 1 } as const;

/**
 * The `dynamic` strategy on `cache` (the original's `cache.dynamic`): `hit` with `cacheHits: 3,
 * updateAfter: 1` and a default `ttl` of one day, under the prefix `dynamic`. After the first
 * computation every first hit of a value refreshes it in the background, so a value that keeps
 * being read keeps being recomputed, one call behind: 1, 1, 2, 3, 4, … for a function returning
 * its call number; a value nobody reads expires after `ttl`. See {@link DynamicOptions}.
 * @example
 * import { CoreCache, dynamic } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const getPrices = dynamic(cache, { key: "prices:{market}" })(async (market: string) => api.prices(market));
 */
export function dynamic<A extends any[] = any[]>(cache: CoreCache, options: DynamicOptions<A> = {}): Decorator<A> {
  return hitStrategy("dynamic", "dynamic", DYNAMIC_EXTRA, cache, { ...options, ttl: options.ttl === undefined ? "1d" : options.ttl }, DYNAMIC);
}

/**
 * The `hit` strategy on `cache`: a stored result serves `cacheHits` hits, then is recomputed; with `updateAfter` it is refreshed in the background at that hit. See {@link HitOptions}.
 * @example
 * import { CoreCache, hit } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const getConfig = hit(cache, { ttl: "1h", cacheHits: 100, updateAfter: 80 })(async (name: string) => api.config(name));
 */
export function hit<A extends any[] = any[]>(cache: CoreCache, options: HitOptions<A>): Decorator<A> {
  return hitStrategy("hit", "hit", EXTRA, cache, options, options);
}

/** `hit` and `dynamic`: `options` as given (`extra`: the options it may have besides the common ones), `counts` the hit budget. */
function hitStrategy<A extends any[]>(
  strategy: string,
  prefix: string,
  extra: readonly string[],
  cache: CoreCache,
  options: ValueOptions<A> & { protected?: boolean },
  counts: { cacheHits: number; updateAfter?: number },
): Decorator<A> {
  const core = stateOf(cache, strategy);
  core.needAtWrap(strategy, "atomic");
  const common = parseCommon(strategy, options, extra, prefix, true);
  const { cacheHits, updateAfter = 0 } = counts;
  if (!Number.isSafeInteger(cacheHits) || cacheHits < 1) {
    throw new CacheConfigError(`${strategy}: "cacheHits" must be a positive integer, got ${String(cacheHits)}`);
  }
  if (!Number.isSafeInteger(updateAfter) || updateAfter < 0 || updateAfter > cacheHits) {
    throw new CacheConfigError(`${strategy}: "updateAfter" must be an integer from 1 to cacheHits (${cacheHits}), got ${String(updateAfter)}`);
  }
  const protect = options.protected ?? true;
  const ttl = common.ttl;

  return decorator<A>(strategy, core, (target) => {
    const w = wrapper(core, common, target);
    const { keyOf } = w;
    const inflight = protect ? new Map<string, Promise<unknown>>() : undefined;

    /**
     * Stores an outcome and restarts the count. In the foreground (`stale`: an exhausted value
     * exists) a result that is not stored deletes the exhausted value; a background refresh whose
     * result is not stored leaves the value and its count alone.
     */
    const settle = async (key: string, route: Route, outcome: Outcome, foreground: boolean, stale: boolean): Promise<void> => {
      const counter = `${key}:hits`;
      const stored = w.storable(outcome, key) && (await w.write(route, key, outcome.failed ? new Raised(outcome.result) : outcome.stored, outcome));
      if (!stored && !foreground) return;
      // Value first, counter second: a reader in between may recompute once, never over-serve.
      if (!stored && stale) await core.run(route, key, false, (b) => b.delete(key));
      const counterRoute = core.route(counter);
      await core.run(counterRoute, counter, false, (b) => b.delete(counter));
      // An adaptive ttl: the counter (created by reads without an expiry) restarts with the value's.
      const perCall = stored && common.ttlFn !== undefined ? stored.ttl : undefined;
      if (perCall !== undefined) await core.run(counterRoute, counter, 0, (b) => b.incr(counter, 0, perCall));
    };

    const compute = async (thisArg: unknown, args: unknown[], key: string, route: Route, stale: boolean, outer: Served | undefined): Promise<unknown> => {
      const outcome = await w.call(thisArg, args, outer, key);
      await settle(key, route, outcome, true, stale);
      if (outcome.failed) throw outcome.result;
      return outcome.result;
    };

    const refresh = async (thisArg: unknown, args: unknown[], key: string, route: Route): Promise<void> => {
      const outcome = await w.call(thisArg, args, undefined, key);
      if (outcome.failed && !w.storable(outcome, key)) {
        // The value stays and keeps counting: it is recomputed in the foreground once exhausted.
        core.report(outcome.result, key, route);
        return;
      }
      await settle(key, route, outcome, false, false).catch((error: unknown) => core.report(error, key, route));
    };

    return { call: hit, keyOf };
    async function hit(thisArg: unknown, args: unknown[]): Promise<unknown> {
      const outer = servedHere();
      const key = keyOf(thisArg, args);
      const pending = inflight?.get(key);
      if (pending !== undefined) {
        w.miss(thisArg, key);
        return pending;
      }
      const route = core.route(key);
      const counter = `${key}:hits`;
      let [value, count] = await Promise.all([
        core.read(route, key),
        core.run(core.route(counter), counter, Number.NaN, (b) => b.incr(counter, 1, ttl)),
      ]);
      if (value !== MISSING && w.valid !== undefined) value = await w.valid(route, key, value, thisArg);
      if (value !== MISSING && count >= 1 && count <= cacheHits) {
        if (count === updateAfter) background(core, refresh(thisArg, args, key, route));
        return w.hit(route, key, value, thisArg, undefined, outer);
      }
      w.miss(thisArg, key, route);
      const stale = value !== MISSING;
      return flight(core, inflight, key, () => compute(thisArg, args, key, route, stale, outer));
    }
  });
}
