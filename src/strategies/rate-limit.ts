/**
 * The `rateLimit` strategy: a fixed window per key (per call arguments by default), counted with
 * the backend's atomic `incr`, so the limit holds across every process sharing the backend.
 * @module
 */
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf } from "../core/state.js";
import { formatMs, type Duration } from "../durations.js";
import { RateLimitError } from "../errors.js";
import { decorator, type Decorator } from "../wrap/decorator.js";
import { callKey, type KeyOption } from "../wrap/key.js";
import { checkOptions, optionalFunction, positiveInteger, positiveMs, prefixOption } from "../options.js";

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
 * Fixed window: each call does `incr(key, 1, { expire: period })` (the expiry applies when the
 * window's counter is created); calls `limit + 1` and later are refused until the counter
 * expires. With `ttl`, the first refused call sets the counter's expiry to `ttl` (a ban).
 * Safe mode: a backend failure counts nothing and the call is allowed (fail open).
 * @example
 * import { CoreCache, rateLimit } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const sendSms = rateLimit(cache, { limit: 3, period: "1m", key: "sms:{to}" })(async (to: string, text: string) => api.sms(to, text));
 */
export function rateLimit<A extends any[] = any[]>(cache: CoreCache, options: RateLimitOptions<A>): Decorator<A> {
  const core = stateOf(cache, "rateLimit");
  core.needAtWrap("rateLimit", "atomic", "strongConsistency", "exactExpiry");
  const name = "rateLimit";
  checkOptions(name, options, KNOWN);
  const limit = positiveInteger(name, "limit", options.limit);
  const period = positiveMs(name, "period", options.period);
  const ban = options.ttl === undefined ? undefined : positiveMs(name, "ttl", options.ttl);
  const action = optionalFunction(name, "action", options.action) as ((...args: unknown[]) => unknown) | undefined;
  const prefix = prefixOption(name, options.prefix, "rate_limit");
  const keyOption = options.key;

  return decorator<A>(name, core, (target) => {
    const keyOf = callKey(name, target, keyOption as KeyOption<never[]> | undefined, prefix);
    const fn = target.fn;

    return { call: rateLimited, keyOf };
    async function rateLimited(thisArg: unknown, args: unknown[]): Promise<unknown> {
      const key = keyOf(thisArg, args);
      const route = core.route(key);
      const count = await core.run(route, key, Number.NaN, (b) => b.incr(key, 1, period));
      route.need(name, "strongConsistency", "exactExpiry");
      // NaN (backend down, safe mode) is not over the limit: allow.
      if (!(count > limit)) return fn.apply(thisArg, args);
      if (ban !== undefined && count === limit + 1) await core.run(route, key, false, (b) => b.expire(key, ban));
      return refuse(action, thisArg, args, key, limit, period, () =>
        ban !== undefined && count === limit + 1 ? ban : core.run(route, key, -2, (b) => b.getExpire(key)),
      );
    }
  });
}

// ---- messages shared by the limit strategies ----

/**
 * @internal A call over the limit: `action`'s result, else {@link RateLimitError}
 * `"rate limit of 5 per 1s exceeded for "key"; retry in 1.5s"` (no retry hint when `retryIn()`,
 * in ms, is unknown: <= 0, e.g. -2 from getExpire).
 */
export async function refuse(
  action: ((...args: unknown[]) => unknown) | undefined,
  thisArg: unknown,
  args: unknown[],
  key: string,
  limit: number,
  period: number,
  retryIn: () => number | Promise<number>,
): Promise<unknown> {
  if (action !== undefined) return action.apply(thisArg, args);
  const ms = await retryIn();
  throw new RateLimitError(`rate limit of ${limit} per ${formatMs(period)} exceeded for ${JSON.stringify(key)}${ms > 0 ? `; retry in ${formatMs(ms)}` : ""}`);
}
