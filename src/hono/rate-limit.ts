/**
 * The {@link rateLimit} middleware: the limiter (`cache.limiter`) per request, `429` with
 * `Retry-After`, and the rate-limit header fields of the IETF draft or the older `RateLimit-*` trio.
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Duration } from "../durations.js";
import { CacheConfigError } from "../errors.js";
import { checkOptions, positiveInteger, prefixOption } from "../options.js";
import { limiter, rulesOf, type LimitResult, type LimiterAlgorithm, type LimiterRuleOptions } from "../strategies/limiter.js";
import type { LimitRule } from "../backends/types.js";
import { proceed } from "./context.js";
import { seconds } from "./headers.js";
import { cacheOption, keyOf, keyOption, type ContextKey } from "./options.js";
import type { CoreCache } from "../presets/core-cache.js";

/**
 * Which header fields {@link rateLimit} sends:
 * - `"legacy"` (default): `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds),
 *   of the binding limit;
 * - `"draft"`: the current IETF draft's (draft-ietf-httpapi-ratelimit-headers-10)
 *   `RateLimit-Policy` (every limit's quota `q` and window `w` in seconds) and `RateLimit`
 *   (every limit's remaining `r` and seconds to reset `t`), structured-field lists;
 * - `"both"`; `false`: none (a 429 still carries `Retry-After`).
 * @example
 * app.use("/api/*", rateLimit({ limit: 100, period: "1m", key: (c) => c.req.header("x-api-key") ?? "anon", headers: "draft" }));
 * // RateLimit-Policy: "default";q=100;w=60
 * // RateLimit: "default";r=99;t=60
 */
export type RateLimitHeaders = "legacy" | "draft" | "both" | false;

/** Options of the {@link rateLimit} middleware. */
export interface RateLimitMiddlewareOptions {
  /** Requests (cost units) allowed per `period` (tokenBucket: the bucket's size); an integer >= 1. Exclusive with `limits`. */
  limit?: number;
  /** The window, e.g. `"1m"` (tokenBucket: the refill period). Exclusive with `limits`. */
  period?: Duration;
  /** Who is limited: one state per returned key (e.g. an API key, a user id, a client address). */
  key: ContextKey;
  /** The limiter's algorithm (see `cache.limiter`). Default `"fixed"`, or `"sliding"` with `sliding: true`. */
  algorithm?: LimiterAlgorithm;
  /** Shorthand of `algorithm: "sliding"`: an exact sliding window. */
  sliding?: boolean;
  /** tokenBucket: tokens added per `period`. Default: `limit`. */
  refill?: number;
  /** Several limits at once, all of which must admit the request (see `cache.limiter`). */
  limits?: readonly LimiterRuleOptions[];
  /** The request's cost in units (default 1), or a function of the request's context. */
  cost?: number | ((c: Context) => number | Promise<number>);
  /** The header fields to send. Default `"legacy"`. See {@link RateLimitHeaders}. */
  headers?: RateLimitHeaders;
  /** Answer ids known to be blocked in this process, without a round trip (see the limiter's `ephemeral`). */
  ephemeral?: boolean | { size?: number };
  /** The cache holding the limits' state. Default: the default `cache` instance of `cashews`. */
  cache?: CoreCache;
  /**
   * Prepended to the key with a `:`. Default `"hono_rl"` (fixed, tokenBucket) or `"hono_srl"`
   * (sliding): not the prefixes of the `rateLimit`/`slidingRateLimit` strategies or of
   * `cache.limiter`, so a decorated function and this middleware never count in each other's
   * windows by accident.
   */
  prefix?: string;
}

const KNOWN = ["limit", "period", "key", "algorithm", "sliding", "refill", "limits", "cost", "headers", "ephemeral", "cache", "prefix"] as const;
const HEADERS: readonly unknown[] = ["legacy", "draft", "both", false];

/**
 * Limits requests per key with the limiter (`cache.limiter`): one atomic call per request on the
 * cache's backend (the limit holds across every process sharing it). Over the limit it answers
 * `429 Too Many Requests` with `Retry-After` (seconds) without calling the handler. Every
 * response, allowed or not, carries the header fields chosen by `headers`. CORS preflights
 * (`OPTIONS` with `Access-Control-Request-Method`) are not counted nor limited. Safe mode: a
 * failing backend allows the request (fail open) and only the policy is sent
 * (`RateLimit-Limit`, or `RateLimit-Policy`).
 * @example
 * app.use("/api/*", rateLimit({ limit: 100, period: "1m", key: (c) => c.req.header("x-api-key") ?? "anonymous" }));
 * app.post("/login", rateLimit({ limit: 5, period: "15m", sliding: true, key: (c) => c.req.header("cf-connecting-ip") ?? "?" }), login);
 * app.use("/search", rateLimit({ algorithm: "tokenBucket", limit: 20, period: "1s", refill: 5, headers: "draft", key: (c) => c.req.header("x-user") ?? "?" }));
 */
export function rateLimit(options: RateLimitMiddlewareOptions): MiddlewareHandler {
  const name = "rateLimit";
  checkOptions(name, options, KNOWN);
  const keyFn = keyOption(name, options.key, true)!;
  const sliding = options.sliding ?? false;
  if (typeof sliding !== "boolean") throw new CacheConfigError(`${name}: "sliding" must be a boolean, got ${typeof sliding}`);
  if (sliding && options.algorithm !== undefined && options.algorithm !== "sliding") {
    throw new CacheConfigError(`${name}: "sliding: true" and algorithm ${JSON.stringify(options.algorithm)} contradict each other; give one`);
  }
  const algorithm: LimiterAlgorithm = options.algorithm ?? (sliding ? "sliding" : "fixed");
  const headers = options.headers ?? "legacy";
  if (!HEADERS.includes(headers)) throw new CacheConfigError(`${name}: "headers" must be "legacy", "draft", "both" or false, got ${JSON.stringify(headers)}`);
  const cost = typeof options.cost === "function" ? options.cost : positiveInteger(name, "cost", options.cost ?? 1);
  const cache = cacheOption(name, options.cache);
  const prefix = prefixOption(name, options.prefix, algorithm === "sliding" ? "hono_srl" : "hono_rl");
  const { limit, period, refill, limits: several, ephemeral } = options;
  const limits = limiter(cache, { algorithm, limit, period, refill, limits: several, prefix, ephemeral });
  // The limits as the limiter checked them (it threw above if they were bad).
  const rules = rulesOf(name, { algorithm, limit, period, refill, limits: several });
  for (const rule of rules) {
    if (typeof cost === "number" && cost > rule.limit) throw new CacheConfigError(`${name}: a cost of ${cost} exceeds the limit of ${rule.limit}: no request could pass`);
  }
  const policy = policyOf(rules);

  return async function rateLimitMiddleware(c, next) {
    if (c.req.method === "OPTIONS" && c.req.header("access-control-request-method") !== undefined) return void (await proceed(c, next));
    const id = await keyOf(name, keyFn, c);
    const units = typeof cost === "function" ? await cost(c) : cost;
    const result = await limits.limit(id, { cost: units });
    const fields = headers === false ? {} : fieldsOf(headers, result, policy);
    if (!result.success) {
      fields["Retry-After"] = String(Math.max(1, seconds(result.retryAfter)));
      return c.text("Too Many Requests", 429, fields);
    }
    await proceed(c, next);
    for (const [field, value] of Object.entries(fields)) c.header(field, value);
  };
}

/** Each limit's policy name and its `RateLimit-Policy` member. */
interface Policy {
  names: string[];
  header: string;
}

/**
 * The policies: one limit is `"default"`; several are named by quota and window
 * (`"10-per-1s"`, with the algorithm when two would share a name). `w` is the window in seconds
 * (tokenBucket: the time to refill the whole bucket).
 */
function policyOf(rules: readonly LimitRule[]): Policy {
  const windows = rules.map((r) => Math.max(1, seconds(r.algorithm === "tokenBucket" ? (r.limit * r.periodMs) / r.refill : r.periodMs)));
  let names = rules.map((r, i) => (rules.length === 1 ? "default" : `${r.limit}-per-${windows[i]}s`));
  if (new Set(names).size < names.length) names = names.map((n, i) => `${n}-${rules[i]!.algorithm}`);
  // Windows that round to the same second can still clash: then by position.
  if (new Set(names).size < names.length) names = names.map((n, i) => `${n}-${i + 1}`);
  return { names, header: rules.map((r, i) => `"${names[i]}";q=${r.limit};w=${windows[i]}`).join(", ") };
}

/** The header fields of one result. */
function fieldsOf(headers: Exclude<RateLimitHeaders, false>, result: LimitResult, policy: Policy): Record<string, string> {
  const fields: Record<string, string> = {};
  const down = Number.isNaN(result.remaining);
  const now = Date.now();
  if (headers !== "draft") {
    fields["RateLimit-Limit"] = String(result.limit);
    if (!down) {
      fields["RateLimit-Remaining"] = String(result.remaining);
      fields["RateLimit-Reset"] = String(seconds(result.reset - now));
    }
  }
  if (headers !== "legacy") {
    fields["RateLimit-Policy"] = policy.header;
    if (!down) fields.RateLimit = result.limits.map((l, i) => `"${policy.names[i]}";r=${l.remaining};t=${seconds(l.reset - now)}`).join(", ");
  }
  return fields;
}
