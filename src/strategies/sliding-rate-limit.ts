/**
 * The `slidingRateLimit` strategy: an exact sliding window per key (per call arguments by
 * default), kept as a log of call times by the backend's atomic `slidingIncr` (a Lua script on a
 * sorted set on Redis and Upstash), so the limit holds across every process sharing the backend.
 * @module
 */
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf } from "../core/state.js";
import type { Duration } from "../durations.js";
import { decorator, type Decorator } from "../wrap/decorator.js";
import { callKey, type KeyOption } from "../wrap/key.js";
import { checkOptions, optionalFunction, positiveInteger, positiveMs, prefixOption } from "../options.js";
import { refuse, type RateLimitAction } from "./rate-limit.js";

/**
 * Options of the `slidingRateLimit` strategy.
 * @example
 * const callApi = cache.slidingRateLimit({ limit: 100, period: "1h", key: (user: string) => `api:${user}` })(
 *   async (user: string) => api.get(user),
 * );
 */
export interface SlidingRateLimitOptions<A extends any[] = any[]> {
  /** Calls allowed in any `period` (an integer >= 1). */
  limit: number;
  /** Length of the sliding window. */
  period: Duration;
  /** Called (and awaited) instead of the function when over the limit; its result is returned. Default: throw {@link RateLimitError}. */
  action?: RateLimitAction<A>;
  /** A template such as `"user:{user.id}"`, or a function of the call's arguments. Default: the function's name and arguments (one limit per argument set). */
  key?: KeyOption<A>;
  /** Prepended to the key with a `:`. Default `"srl"`. */
  prefix?: string;
}

const KNOWN = ["limit", "period", "action", "key", "prefix"] as const;

/**
 * Sliding log: a call is allowed when fewer than `limit` calls were allowed in the `period`
 * before it, exactly (every allowed call is one entry, even several in the same millisecond).
 * Refused calls are not recorded: a client that keeps retrying while refused gets through again
 * as soon as the oldest allowed call leaves the window. Times come from each process's clock.
 * Safe mode: a backend failure records nothing and the call is allowed (fail open).
 * @example
 * import { CoreCache, slidingRateLimit } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const callApi = slidingRateLimit(cache, { limit: 100, period: "1h", key: "api:{user}" })(async (user: string, path: string) => api.get(path));
 */
export function slidingRateLimit<A extends any[] = any[]>(cache: CoreCache, options: SlidingRateLimitOptions<A>): Decorator<A> {
  const core = stateOf(cache, "slidingRateLimit");
  core.needAtWrap("slidingRateLimit", "atomic", "strongConsistency", "exactExpiry");
  const name = "slidingRateLimit";
  checkOptions(name, options, KNOWN);
  const limit = positiveInteger(name, "limit", options.limit);
  const period = positiveMs(name, "period", options.period);
  const action = optionalFunction(name, "action", options.action) as ((...args: unknown[]) => unknown) | undefined;
  const prefix = prefixOption(name, options.prefix, "srl");
  const keyOption = options.key;

  return decorator<A>(name, core, (target) => {
    const keyOf = callKey(name, target, keyOption as KeyOption<never[]> | undefined, prefix);
    const fn = target.fn;
    const neutral: [number, number] = [Number.NaN, 0];

    return { call: rateLimited, keyOf };
    async function rateLimited(thisArg: unknown, args: unknown[]): Promise<unknown> {
      const key = keyOf(thisArg, args);
      const route = core.route(key);
      const [count, resetMs] = await core.run(route, key, neutral, (b) => b.slidingIncr(key, period, limit));
      route.need(name, "strongConsistency", "exactExpiry");
      // NaN (backend down, safe mode) is not over the limit: allow.
      if (!(count > limit)) return fn.apply(thisArg, args);
      return refuse(action, thisArg, args, key, limit, period, () => resetMs);
    }
  });
}
