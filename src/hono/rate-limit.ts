/**
 * The {@link rateLimit} middleware: fixed or sliding windows per key, `429` with `Retry-After`,
 * `RateLimit-*` headers.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { CoreCache } from "../presets/core-cache.js";
import type { Duration } from "../durations.js";
import { CacheConfigError } from "../errors.js";
import { checkOptions, positiveInteger, positiveMs, prefixOption } from "../options.js";
import { proceed } from "./context.js";
import { stateOf } from "../core/state.js";
import { seconds } from "./headers.js";
import { cacheOption, keyOf, keyOption, type ContextKey } from "./options.js";

/** Options of the {@link rateLimit} middleware. */
export interface RateLimitMiddlewareOptions {
  /** Requests allowed per window (an integer >= 1). */
  limit: number;
  /** Length of the window, e.g. `"1m"`. */
  period: Duration;
  /** Who is limited: one window per returned key (e.g. an API key, a user id, a client address). */
  key: ContextKey;
  /** `true`: an exact sliding window (a log of request times); default: fixed windows. */
  sliding?: boolean;
  /** The cache holding the counters. Default: the default `cache` instance of `cashews`. */
  cache?: CoreCache;
  /**
   * Prepended to the key with a `:`. Default `"hono_rl"` (fixed) or `"hono_srl"` (sliding): not
   * the prefixes of the `rateLimit`/`slidingRateLimit` strategies, so a decorated function and
   * this middleware never count in each other's windows by accident.
   */
  prefix?: string;
}

/**
 * Limits requests per key: over the limit, answers `429 Too Many Requests` with `Retry-After`
 * (seconds) without calling the handler. Every response, allowed or not, carries
 * `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the window
 * resets; sliding: until the oldest counted request leaves the window). CORS preflights
 * (`OPTIONS` with `Access-Control-Request-Method`) are not counted nor limited.
 *
 * Fixed windows count with the backend's atomic `incr` (the window starts with its first request:
 * the counter is created with the period as expiry), its remaining TTL read in parallel (one
 * round trip of latency); a counter found without expiry (e.g. written by something else) gets
 * one, so a window always ends. Sliding windows use the backend's atomic `slidingIncr` (refused
 * requests are not counted). Either way the limit holds across every process sharing the
 * backend. Safe mode: a failing backend allows the request (fail open) and only
 * `RateLimit-Limit` is sent.
 * @example
 * app.use("/api/*", rateLimit({ limit: 100, period: "1m", key: (c) => c.req.header("x-api-key") ?? "anonymous" }));
 * app.post("/login", rateLimit({ limit: 5, period: "15m", sliding: true, key: (c) => c.req.header("cf-connecting-ip") ?? "?" }), login);
 */
export function rateLimit(options: RateLimitMiddlewareOptions): MiddlewareHandler {
  const name = "rateLimit";
  checkOptions(name, options, ["limit", "period", "key", "sliding", "cache", "prefix"]);
  const limit = positiveInteger(name, "limit", options.limit);
  const period = positiveMs(name, "period", options.period);
  const keyFn = keyOption(name, options.key, true)!;
  const sliding = options.sliding ?? false;
  if (typeof sliding !== "boolean") throw new CacheConfigError(`${name}: "sliding" must be a boolean, got ${typeof sliding}`);
  const cache = cacheOption(name, options.cache);
  // Refused now when the cache is set up and no backend counts atomically (else by the first request, before the handler).
  if (cache instanceof CoreCache) stateOf(cache, name).needAtWrap(name, "atomic", "strongConsistency", "exactExpiry");
  const prefix = prefixOption(name, options.prefix, sliding ? "hono_srl" : "hono_rl");

  /** The request's count in its window (NaN: backend down) and the ms until the window resets. */
  async function count(key: string): Promise<[count: number, resetMs: number]> {
    if (sliding) {
      const { count, resetMs } = await cache.slidingIncr(key, period, { limit });
      return [count, resetMs];
    }
    const [count, left] = await Promise.all([cache.incr(key, 1, { expire: period }), cache.getExpire(key)]);
    if (Number.isNaN(count)) return [count, period];
    // -1: a counter without expiry would never reset. (-2: read before this request created it.)
    if (left === -1) await cache.expire(key, period);
    return [count, count > 1 && left > 0 ? left : period];
  }

  return async function rateLimitMiddleware(c, next) {
    if (c.req.method === "OPTIONS" && c.req.header("access-control-request-method") !== undefined) return void (await proceed(c, next));
    const id = await keyOf(name, keyFn, c);
    const [n, resetMs] = await count(prefix === "" ? id : `${prefix}:${id}`);
    const headers: Record<string, string> = { "RateLimit-Limit": String(limit) };
    if (!Number.isNaN(n)) {
      headers["RateLimit-Remaining"] = String(Math.max(0, limit - n));
      headers["RateLimit-Reset"] = String(seconds(resetMs));
    }
    if (n > limit) {
      headers["Retry-After"] = String(Math.max(1, seconds(resetMs)));
      return c.text("Too Many Requests", 429, headers);
    }
    await proceed(c, next);
    for (const [header, value] of Object.entries(headers)) c.header(header, value);
  };
}
