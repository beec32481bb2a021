/**
 * The limiter (issue 18): rate limiting as an API of its own. `limiter(cache, options)` returns a
 * {@link Limiter} whose every `limit()` is one atomic {@link Backend.limit} call (fixed window,
 * exact sliding window or token bucket, one or several limits at once), answered with the numbers
 * (`remaining`, `reset`, `retryAfter`). The `rateLimit` and `slidingRateLimit` strategies are
 * built on it.
 * @module
 */
import type { Backend, LimitAnswer, LimitRequest, LimitRule } from "../backends/types.js";
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf, type CacheCore } from "../core/state.js";
import { formatMs, sleep, toMs, type Duration } from "../durations.js";
import { CacheConfigError } from "../errors.js";
import { checkOptions, positiveInteger, prefixOption } from "../options.js";

/**
 * A limiter's algorithm:
 * - `"fixed"`: a counter per window of `period`, starting with the first unit consumed in it; cheap,
 *   but up to twice the limit can pass around a window's boundary.
 * - `"sliding"`: an exact sliding window: at most `limit` units in any `period` (a log of the
 *   admitted units, so memory grows with the limit).
 * - `"tokenBucket"`: a bucket of `limit` tokens (full at first) refilled by `refill` tokens per
 *   `period`, continuously: bursts up to `limit`, then a steady rate.
 * @example
 * const algorithm: LimiterAlgorithm = "tokenBucket";
 */
export type LimiterAlgorithm = "fixed" | "sliding" | "tokenBucket";

/**
 * One limit of {@link LimiterOptions.limits}.
 * @example
 * const perSecond: LimiterRuleOptions = { limit: 10, period: "1s" };
 * const bucket: LimiterRuleOptions = { algorithm: "tokenBucket", limit: 100, period: "1m", refill: 50 };
 */
export interface LimiterRuleOptions {
  /** Units allowed per period (the bucket's size for tokenBucket): an integer >= 1. */
  limit: number;
  /** The window, or tokenBucket's refill period: a whole number of ms >= 1. */
  period: Duration;
  /** This limit's algorithm. Default: the limiter's `algorithm`. */
  algorithm?: LimiterAlgorithm;
  /** tokenBucket only: tokens added per `period` (an integer >= 1). Default: `limit`. */
  refill?: number;
}

/**
 * Options of {@link limiter}: an algorithm and either one limit (`limit` and `period`) or several
 * (`limits`, all of which must admit a call).
 * @example
 * const api = cache.limiter({ algorithm: "sliding", limit: 100, period: "1m" });
 * const burst = cache.limiter({ algorithm: "tokenBucket", limit: 20, period: "1s", refill: 5, ephemeral: true });
 * const tiers = cache.limiter({ algorithm: "fixed", limits: [{ limit: 10, period: "1s" }, { limit: 1000, period: "1d" }] });
 */
export interface LimiterOptions {
  /** The algorithm (of every limit that does not name its own). See {@link LimiterAlgorithm}. */
  algorithm: LimiterAlgorithm;
  /** Units allowed per `period` (tokenBucket: the bucket's size): an integer >= 1. Exclusive with `limits`. */
  limit?: number;
  /** The window (tokenBucket: the refill period); a whole number of ms >= 1. Exclusive with `limits`. */
  period?: Duration;
  /** tokenBucket: tokens added per `period` (an integer >= 1). Default: `limit`. Exclusive with `limits` (give each its own). */
  refill?: number;
  /**
   * Several limits, all applied in one round trip: a call passes only if every one admits it, and
   * then consumes from every one (all or nothing). At most one per algorithm and period.
   */
  limits?: readonly LimiterRuleOptions[];
  /** Prepended to each id with a `:` (`""`: none). Default `"limiter"`. */
  prefix?: string;
  /**
   * Remember blocked ids in this process (per limiter): a call for an id refused until some time
   * is refused again without a round trip until then (for a cost at least the refused one).
   * `true`: at most 10,000 ids (the oldest forgotten first); `{ size }`: at most `size`.
   */
  ephemeral?: boolean | { size?: number };
}

/**
 * One limit's state in a {@link LimitResult}.
 * @example
 * const [perSecond, perDay] = (await tiers.limit("user-1")).limits;
 * console.log(perDay.remaining, new Date(perDay.reset));
 */
export interface LimitRuleResult {
  algorithm: LimiterAlgorithm;
  /** The limit (tokenBucket: the bucket's size). */
  limit: number;
  /** The period in ms. */
  period: number;
  /** Units this limit would still admit now (after this call). */
  remaining: number;
  /**
   * Epoch ms: fixed, when the window ends; sliding, when the oldest counted unit leaves the window
   * (now when none); tokenBucket, when the bucket is full again (now when full).
   */
  reset: number;
}

/**
 * What {@link Limiter.limit} answers. With several limits, `limit`, `remaining` and `reset` are
 * those of the binding one: when refused, the refusing limit that frees last; when allowed, the
 * one with the fewest units left (ties: the later reset). In safe mode, when the backend fails,
 * the call is allowed: `success: true`, `remaining` and `reset` NaN, `retryAfter` 0.
 * @example
 * const { success, remaining, reset, retryAfter } = await api.limit(userId);
 * if (!success) return new Response("slow down", { status: 429, headers: { "retry-after": String(Math.ceil(retryAfter / 1000)) } });
 */
export interface LimitResult {
  /** True when the call was admitted (and its cost consumed from every limit). */
  success: boolean;
  /** The binding limit. */
  limit: number;
  /** Units the binding limit would still admit now. */
  remaining: number;
  /** Epoch ms when the binding limit resets (see {@link LimitRuleResult.reset}). */
  reset: number;
  /** ms until the same call would be admitted (0 when admitted). */
  retryAfter: number;
  /** Every limit's state, in the order of the options. */
  limits: LimitRuleResult[];
}

/**
 * A rate limiter: see {@link limiter}. Every method takes the id being limited (a user, an IP, an
 * API key); the key is `prefix + ":" + id`.
 * @example
 * const api = cache.limiter({ algorithm: "sliding", limit: 100, period: "1m" });
 * const { success, retryAfter } = await api.limit("user-1");
 * await api.getRemaining("user-1"); // { remaining: 99, reset: 1767225600000 }
 * await api.reset("user-1");
 * await api.blockUntilReady("user-1", "5s"); // waits up to 5 s for a slot
 */
export interface Limiter {
  /**
   * Consumes `cost` (default 1) units for `id` from every limit if all admit it (one round trip).
   * @throws CacheConfigError when `cost` is not an integer >= 1, or exceeds a limit (it could never pass).
   * @example
   * const { success, remaining } = await api.limit("user-1", { cost: 5 });
   */
  limit(id: string, options?: { cost?: number }): Promise<LimitResult>;
  /**
   * The binding limit's units left for `id` and its reset (epoch ms), without consuming or writing
   * anything (NaN in safe mode when the backend fails).
   * @example
   * const { remaining, reset } = await api.getRemaining("user-1");
   */
  getRemaining(id: string): Promise<{ remaining: number; reset: number }>;
  /**
   * Forgets everything about `id` (every limit's state, a ban, and the id in the ephemeral cache).
   * @example
   * await api.reset("user-1");
   */
  reset(id: string): Promise<void>;
  /**
   * `limit(id, options)` until admitted, waiting `retryAfter` between tries, for at most `timeout`:
   * resolves the last result, `success: false` as soon as its `retryAfter` reaches past the
   * timeout (the earliest the call could pass); never waits past it.
   * @example
   * const { success } = await api.blockUntilReady("user-1", "10s");
   * if (success) await callApi();
   */
  blockUntilReady(id: string, timeout: Duration, options?: { cost?: number }): Promise<LimitResult>;
}

const KNOWN = ["algorithm", "limit", "period", "refill", "limits", "prefix", "ephemeral"] as const;
const RULE_KNOWN = ["limit", "period", "algorithm", "refill"] as const;
const ALGORITHMS: readonly string[] = ["fixed", "sliding", "tokenBucket"];

/**
 * Creates a rate limiter on `cache` (a `CoreCache` or `Cache`; `cache.limiter(options)` on a
 * `Cache`). Options are checked now ({@link CacheConfigError}), and a cache whose backends cannot
 * run it (no atomic operations: Workers KV, the Cache API) is refused now with
 * {@link CacheCapabilityError}.
 * @example
 * import { CoreCache, limiter } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const api = limiter(cache, { algorithm: "tokenBucket", limit: 10, period: "1s", refill: 2 });
 * const { success, remaining, retryAfter } = await api.limit("user-1");
 */
export function limiter(cache: CoreCache, options: LimiterOptions): Limiter {
  const name = "limiter";
  const core = stateOf(cache, name);
  checkOptions(name, options, KNOWN);
  const rules = rulesOf(name, options);
  const prefix = prefixOption(name, options.prefix, "limiter");
  const ephemeral = options.ephemeral;
  let size = 0;
  if (ephemeral === true) size = 10_000;
  else if (typeof ephemeral === "object" && ephemeral !== null) {
    checkOptions(`${name}: ephemeral`, ephemeral, ["size"]);
    size = ephemeral.size === undefined ? 10_000 : positiveInteger(name, "ephemeral.size", ephemeral.size);
  } else if (ephemeral !== undefined && ephemeral !== false) {
    throw new CacheConfigError(`${name}: "ephemeral" must be a boolean or { size }, got ${typeof ephemeral}`);
  }
  core.needAtWrap(name, "atomic", "strongConsistency", "exactExpiry");
  return makeLimiter(core, name, rules, prefix, size, undefined);
}

/**
 * The limits of `options`, checked (see {@link LimiterOptions}): for {@link limiter}, and for
 * what the Hono middleware says of them (its `RateLimit-Policy`). @internal
 */
export function rulesOf(name: string, options: Pick<LimiterOptions, "algorithm" | "limit" | "period" | "refill" | "limits">): LimitRule[] {
  const algorithm = algorithmOf(name, "algorithm", options.algorithm);
  let rules: LimitRule[];
  if (options.limits !== undefined) {
    for (const option of ["limit", "period", "refill"] as const) {
      if (options[option] !== undefined) throw new CacheConfigError(`${name}: give either "limits" or "limit"/"period"${option === "refill" ? ' (a tokenBucket limit of "limits" takes its own "refill")' : ""}, not both: got "${option}" with "limits"`);
    }
    if (!Array.isArray(options.limits) || options.limits.length === 0) throw new CacheConfigError(`${name}: "limits" must be a non-empty array of { limit, period }`);
    rules = options.limits.map((rule: LimiterRuleOptions, i: number) => {
      const what = `${name}: limits[${i}]`;
      checkOptions(what, rule, RULE_KNOWN);
      return ruleOf(what, rule.algorithm === undefined ? algorithm : algorithmOf(what, "algorithm", rule.algorithm), rule.limit, rule.period, rule.refill);
    });
  } else {
    if (options.limit === undefined) throw new CacheConfigError(`${name}: "limit" is required (an integer >= 1), or "limits"`);
    rules = [ruleOf(name, algorithm, options.limit, options.period, options.refill)];
  }
  for (const [i, rule] of rules.entries()) {
    if (rules.findIndex((r) => r.algorithm === rule.algorithm && r.periodMs === rule.periodMs) !== i) {
      throw new CacheConfigError(`${name}: two ${rule.algorithm} limits with the same period (${formatMs(rule.periodMs)}): they would share one state; keep the smaller limit`);
    }
  }
  return rules;
}

/** A `algorithm` option, checked. */
function algorithmOf(what: string, option: string, value: unknown): LimitRule["algorithm"] {
  if (typeof value !== "string" || !ALGORITHMS.includes(value)) {
    throw new CacheConfigError(`${what}: "${option}" must be "fixed", "sliding" or "tokenBucket", got ${value === undefined ? "nothing" : JSON.stringify(value)}`);
  }
  return value as LimitRule["algorithm"];
}

/** One rule from its options, checked (integers, tokenBucket's state within 2^53). */
function ruleOf(what: string, algorithm: LimitRule["algorithm"], limit: unknown, period: Duration | undefined, refill: unknown): LimitRule {
  const n = positiveInteger(what, "limit", limit);
  if (period === undefined || period === null) throw new CacheConfigError(`${what}: "period" is required (a Duration such as "10s")`);
  const periodMs = toMs(period, `${what}: period`);
  if (!Number.isSafeInteger(periodMs) || periodMs < 1) throw new CacheConfigError(`${what}: "period" must be a whole number of ms >= 1, got ${String(period)}`);
  if (refill !== undefined && algorithm !== "tokenBucket") throw new CacheConfigError(`${what}: "refill" applies to tokenBucket only, not to ${algorithm}`);
  const perPeriod = refill === undefined ? n : positiveInteger(what, "refill", refill);
  if (algorithm === "tokenBucket" && (n * periodMs > 2 ** 53 || perPeriod * periodMs > 2 ** 53)) {
    throw new CacheConfigError(`${what}: a tokenBucket's limit × period in ms (${n} × ${periodMs}) must be at most 2^53: the bucket is counted in 1/period tokens`);
  }
  return { algorithm, limit: n, periodMs, refill: perPeriod };
}

/** A remembered refusal (ephemeral): refused until `until` for a cost of at least `cost`. */
interface Blocked {
  until: number;
  cost: number;
  limits: LimitRuleResult[];
  binding: number;
}

/**
 * The limiter on checked rules, for {@link limiter} and the strategies built on it: `banMs` bans
 * an id on its first refusal (rateLimit's `ttl`), `size` bounds the ephemeral cache (0: none).
 * Checks no capability (the caller does, with its own name).
 * @internal
 */
export function makeLimiter(core: CacheCore, name: string, rules: readonly LimitRule[], prefix: string, size: number, banMs: number | undefined): Limiter {
  const blocked = new Map<string, Blocked>();
  const keyOf = (id: string): string => {
    if (typeof id !== "string") throw new TypeError(`${name}: the id must be a string, got ${typeof id}`);
    return prefix === "" ? id : `${prefix}:${id}`;
  };
  const costOf = (options: { cost?: number } | undefined): number => {
    const cost = options?.cost;
    if (cost === undefined || cost === null) return 1; // never above a limit (each is >= 1)
    if (typeof cost !== "number" || !Number.isSafeInteger(cost) || cost < 1) throw new CacheConfigError(`${name}: "cost" must be an integer >= 1, got ${String(cost)}`);
    for (const rule of rules) {
      if (cost > rule.limit) throw new CacheConfigError(`${name}: a cost of ${cost} exceeds the ${rule.algorithm} limit of ${rule.limit} per ${formatMs(rule.periodMs)}: it could never pass`);
    }
    return cost;
  };
  /**
   * One backend.limit call through the cache's route (safe mode, middleware, disable), its answer
   * (undefined: failed open) given to `done` in the same hop.
   */
  const call = <R>(key: string, request: LimitRequest, done: (answer: LimitAnswer | undefined) => R): Promise<R> => {
    const route = core.route(key);
    return core.run(route, key, undefined as LimitAnswer | undefined, (b: Backend) => b.limit(key, request)).then((answer) => {
      route.need(name, "atomic", "strongConsistency", "exactExpiry");
      return done(answer);
    });
  };
  const answered = (answer: LimitAnswer | undefined): LimitAnswer | undefined => answer;
  const results = (answer: LimitAnswer | undefined, now: number): LimitRuleResult[] =>
    rules.map((rule, i) => {
      const state = answer?.states[i];
      return {
        algorithm: rule.algorithm,
        limit: rule.limit,
        period: rule.periodMs,
        remaining: state === undefined ? Number.NaN : state.remaining,
        reset: state === undefined ? Number.NaN : now + state.resetMs,
      };
    });
  const result = (success: boolean, limits: LimitRuleResult[], binding: number, retryAfter: number): LimitResult => {
    const rule = limits[binding]!;
    return { success, limit: rule.limit, remaining: rule.remaining, reset: rule.reset, retryAfter, limits };
  };

  /**
   * The label of this limiter's decisions for the cache's probe (metrics): its key prefix, which
   * tells limiters apart (`limiter()` and hono's `rateLimit` have one: `"limiter"`, `"hono_rl"`
   * by default), else the strategy's name (`rateLimit`, `slidingRateLimit`).
   */
  const label = prefix === "" ? name : prefix;

  /** One decision, reported to the cache's probe when one is attached (without: `decide` itself). */
  function limit(id: string, options?: { cost?: number }): Promise<LimitResult> {
    if (core.probe === undefined) return decide(id, options);
    return decide(id, options).then((decided) => {
      const key = keyOf(id);
      core.probe?.limit(label, decided.success, core.route(key), key);
      return decided;
    });
  }

  /** A decision (no async frame of its own: a bad id or cost rejects, as the whole call does). */
  function decide(id: string, options?: { cost?: number }): Promise<LimitResult> {
    let key: string;
    let cost: number;
    try {
      key = keyOf(id);
      cost = costOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (size > 0) {
      const known = blocked.get(id);
      if (known !== undefined) {
        const now = Date.now();
        if (known.until <= now) blocked.delete(id);
        else if (cost >= known.cost) {
          return Promise.resolve(result(false, known.limits, known.binding, known.until - now));
        }
      }
    }
    return call(key, banMs === undefined ? { rules, cost } : { rules, cost, banMs }, (answer) => decided(id, cost, answer));
  }

  /** The result of a decision from the backend's `answer` (undefined: failed open). */
  function decided(id: string, cost: number, answer: LimitAnswer | undefined): LimitResult {
    const now = Date.now();
    const limits = results(answer, now);
    if (answer === undefined) return result(true, limits, 0, 0);
    const { states } = answer;
    if (answer.success) return result(true, limits, tightest(limits), 0);
    // Refused: the limit that frees last binds (under a ban every retry is at least the ban's).
    let binding = 0;
    for (const [i, state] of states.entries()) if (state.retryMs > states[binding]!.retryMs) binding = i;
    const retryAfter = states[binding]!.retryMs;
    if (size > 0 && retryAfter > 0) {
      blocked.delete(id);
      blocked.set(id, { until: now + retryAfter, cost, limits, binding });
      if (blocked.size > size) blocked.delete(blocked.keys().next().value!);
    }
    return result(false, limits, binding, retryAfter);
  }

  return {
    limit,
    async getRemaining(id) {
      const key = keyOf(id);
      const answer = await call(key, { rules, cost: 0 }, answered);
      const limits = results(answer, Date.now());
      const binding = limits[answer === undefined ? 0 : tightest(limits)]!;
      return { remaining: binding.remaining, reset: binding.reset };
    },
    async reset(id) {
      const key = keyOf(id);
      blocked.delete(id);
      await call(key, { rules, cost: 0, reset: true }, answered);
    },
    async blockUntilReady(id, timeout, options) {
      const deadline = Date.now() + toMs(timeout, `${name}: blockUntilReady timeout`);
      for (;;) {
        const last = await limit(id, options);
        // retryAfter is the earliest the call could pass: past the deadline, waiting is for nothing.
        if (last.success || last.retryAfter > deadline - Date.now()) return last;
        await sleep(Math.max(1, last.retryAfter));
      }
    },
  };
}

/** The binding limit of an admitted call: the fewest units left (ties: the later reset). */
function tightest(limits: readonly LimitRuleResult[]): number {
  let binding = 0;
  for (let i = 1; i < limits.length; i++) {
    const [a, b] = [limits[i]!, limits[binding]!];
    if (a.remaining < b.remaining || (a.remaining === b.remaining && a.reset > b.reset)) binding = i;
  }
  return binding;
}
