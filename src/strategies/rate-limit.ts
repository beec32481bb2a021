/**
 * The `rateLimit` strategy: a fixed window per key (per call arguments by default), kept by the
 * limiter (`Backend.limit`, one atomic step), so the limit holds across every process sharing the
 * backend. Also the one implementation of the limit strategies (`slidingRateLimit` is the same
 * with a sliding window).
 * @module
 */
import type { CoreCache } from "../presets/core-cache.js";
import type { LimitRule } from "../backends/types.js";
import { stateOf, type CacheCore } from "../core/state.js";
import { formatMs, type Duration } from "../durations.js";
import { RateLimitError } from "../errors.js";
import { decorator, type Decorator } from "../wrap/decorator.js";
import { callKey, type KeyOption } from "../wrap/key.js";
import { checkOptions, optionalFunction, positiveInteger, positiveMs, prefixOption } from "../options.js";
import { makeLimiter } from "./limiter.js";

/**
 * The `action` of a rate limit: called instead of the function when over the limit. It takes the
 * call's arguments when their types are known (from `key` or the type argument); it never fixes
 * them itself, so `action: async () => null` fits a function of any parameters.
 * @example
 * const send = cache.rateLimit({ limit: 3, period: "1m", action: async () => ({ queued: false }) })(sendEmail);
 */
export type RateLimitAction<A extends any[]> = any[] extends A ? (...args: any[]) => unknown : (...args: NoInfer<A>) => unknown;

/**
 * Options of the `rateLimit` strategy.
 * @example
 * const login = cache.rateLimit({
 *   limit: 5,
 *   period: "1m",
 *   ttl: "15m",                       // ban for 15 min from the first call over the limit
 *   key: "login:{email:lower}",
 *   action: async (email: string) => ({ ok: false, email }), // instead of throwing RateLimitError
 * })(async (email: string) => auth.sendLoginLink(email));
 */
export interface RateLimitOptions<A extends any[] = any[]> {
  /** Calls allowed per window (an integer >= 1). */
  limit: number;
  /** Length of a window; it starts with the first call counted in it. */
  period: Duration;
  /**
   * Ban: from the first call over the limit, refuse every call for this long (counted from that
   * call). Default: refuse until the current window ends.
   */
  ttl?: Duration;
  /** Called (and awaited) instead of the function when over the limit; its result is returned. Default: throw {@link RateLimitError}. */
  action?: RateLimitAction<A>;
  /** A template such as `"user:{user.id}"`, or a function of the call's arguments. Default: the function's name and arguments (one limit per argument set). */
  key?: KeyOption<A>;
  /** Prepended to the key with a `:`. Default `"rate_limit"`. */
  prefix?: string;
}

const KNOWN = ["limit", "period", "ttl", "action", "key", "prefix"] as const;

/**
 * Fixed window: each call consumes one unit of the key's window (`limiter` with
 * `algorithm: "fixed"`, one atomic `Backend.limit` call); a window starts with the first call
 * admitted in it and lasts `period`; calls beyond `limit` in it are refused until it ends.
 * Refused calls are not counted (they consume nothing): a client that keeps calling while refused
 * gets through as soon as the window ends. With `ttl`, the first refused call bans the key for
 * `ttl` (every call refused meanwhile); a call refused after the ban, while the window is still
 * full, starts a new one. {@link RateLimitError} carries `retryAfter`, `remaining` and `reset`.
 * Safe mode: a backend failure counts nothing and the call is allowed (fail open).
 * @example
 * import { CoreCache, rateLimit } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const sendSms = rateLimit(cache, { limit: 3, period: "1m", key: "sms:{to}" })(async (to: string, text: string) => api.sms(to, text));
 */
export function rateLimit<A extends any[] = any[]>(cache: CoreCache, options: RateLimitOptions<A>): Decorator<A> {
  const name = "rateLimit";
  const core = stateOf(cache, name);
  core.needAtWrap(name, "atomic", "strongConsistency", "exactExpiry");
  checkOptions(name, options, KNOWN);
  const ban = options.ttl === undefined ? undefined : positiveMs(name, "ttl", options.ttl);
  return limitStrategy<A>(core, name, "fixed", options, ban, "rate_limit");
}

/**
 * @internal The limit strategies' one implementation: options checked (but for the caller's own),
 * one limiter per decorated function on the key of each call; over the limit, `action`'s result
 * or {@link RateLimitError} `"rate limit of 5 per 1s exceeded for "key"; retry in 1.5s"`.
 */
export function limitStrategy<A extends any[]>(
  core: CacheCore,
  name: string,
  algorithm: LimitRule["algorithm"],
  options: { limit: number; period: Duration; action?: unknown; key?: unknown; prefix?: string },
  ban: number | undefined,
  defaultPrefix: string,
): Decorator<A> {
  const limit = positiveInteger(name, "limit", options.limit);
  const period = positiveMs(name, "period", options.period);
  const action = optionalFunction(name, "action", options.action) as ((...args: unknown[]) => unknown) | undefined;
  const prefix = prefixOption(name, options.prefix, defaultPrefix);
  const keyOption = options.key;
  const rules: LimitRule[] = [{ algorithm, limit, periodMs: Math.ceil(period), refill: limit }];
  // One limiter for every decorated function: it keeps no state of its own (no ephemeral cache).
  const limiter = makeLimiter(core, name, rules, "", 0, ban);

  return decorator<A>(name, core, (target) => {
    const keyOf = callKey(name, target, keyOption as KeyOption<never[]> | undefined, prefix);
    const fn = target.fn;

    return { call: rateLimited, keyOf };
    async function rateLimited(thisArg: unknown, args: unknown[]): Promise<unknown> {
      const key = keyOf(thisArg, args);
      const result = await limiter.limit(key);
      // Safe mode (backend down) answers success: allow.
      if (result.success) return fn.apply(thisArg, args);
      if (action !== undefined) return action.apply(thisArg, args);
      const { retryAfter, remaining, reset } = result;
      throw new RateLimitError(`rate limit of ${limit} per ${formatMs(period)} exceeded for ${JSON.stringify(key)}${retryAfter > 0 ? `; retry in ${formatMs(retryAfter)}` : ""}`, { retryAfter, remaining, reset });
    }
  });
}
