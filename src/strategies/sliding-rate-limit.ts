/**
 * The `slidingRateLimit` strategy: an exact sliding window per key (per call arguments by
 * default), kept by the limiter (`Backend.limit` with a sliding rule, one atomic step), so the
 * limit holds across every process sharing the backend.
 * @module
 */
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf } from "../core/state.js";
import type { Duration } from "../durations.js";
import type { Decorator } from "../wrap/decorator.js";
import type { KeyOption } from "../wrap/key.js";
import { checkOptions } from "../options.js";
import { limitStrategy, type RateLimitAction } from "./rate-limit.js";

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
 * before it, exactly (every allowed call is one entry, even several in the same millisecond;
 * `limiter` with `algorithm: "sliding"`, one atomic `Backend.limit` call).
 * Refused calls are not recorded: a client that keeps retrying while refused gets through again
 * as soon as the oldest allowed call leaves the window. Times come from the store's clock.
 * {@link RateLimitError} carries `retryAfter`, `remaining` and `reset`.
 * Safe mode: a backend failure records nothing and the call is allowed (fail open).
 * @example
 * import { CoreCache, slidingRateLimit } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const callApi = slidingRateLimit(cache, { limit: 100, period: "1h", key: "api:{user}" })(async (user: string, path: string) => api.get(path));
 */
export function slidingRateLimit<A extends any[] = any[]>(cache: CoreCache, options: SlidingRateLimitOptions<A>): Decorator<A> {
  const name = "slidingRateLimit";
  const core = stateOf(cache, name);
  core.needAtWrap(name, "atomic", "strongConsistency", "exactExpiry");
  checkOptions(name, options, KNOWN);
  return limitStrategy<A>(core, name, "sliding", options, undefined, "srl");
}
