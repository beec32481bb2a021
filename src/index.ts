/**
 * cashews: the async cache toolkit for TypeScript and the edge. `Cache` has every strategy as a
 * method and every backend scheme registered; `cashews/core` is the lean preset.
 *
 * @example
 * import { cache } from "cashews";
 * cache.setup("mem://");
 * const getUser = cache({ ttl: "10m", key: "user:{id}" })(async (id: string) => db.user(id));
 * @module
 */
import { cache } from "./presets/default.js";
import type { RateLimitOptions } from "./strategies/rate-limit.js";
import type { SlidingRateLimitOptions } from "./strategies/sliding-rate-limit.js";
import type { CircuitBreakerOptions } from "./strategies/circuit-breaker.js";
import type { PerfOptions } from "./strategies/perf.js";
import type { FailoverOptions } from "./strategies/failover.js";
import type { DynamicOptions, HitOptions } from "./strategies/hit.js";
import type { SingleFlightOptions } from "./strategies/in-flight.js";
import type { EarlyOptions } from "./strategies/early.js";
import type { SoftOptions } from "./strategies/soft.js";
import type { InvalidateOptions, InvalidateTarget } from "./strategies/invalidate.js";
import type { LockedOptions } from "./strategies/locked.js";
import { limiter as limiterOf, type Limiter, type LimiterOptions } from "./strategies/limiter.js";
import type { CoreCache } from "./presets/core-cache.js";
import type { Decorator } from "./wrap/decorator.js";

export { Cache } from "./presets/cache.js";
export type { IncrOptions, SetOptions, DisableTarget, Middleware } from "./presets/core-cache.js";
export type { Lock, LockOptions } from "./core/locks.js";
export { NOT_NONE, withExceptions, onlyExceptions, type Condition, type ErrorClass } from "./conditions.js";
export { withKeyContext } from "./context/key-context.js";
export { createContextStore, type ContextStore } from "./context/store.js";
export {
  Command,
  CacheDetect,
  invalidateFurther,
  runWithWaitUntil,
  type DetectInfo,
  type DetectKeys,
} from "./context/scope.js";
export { parseDuration, type Duration } from "./durations.js";
export { SchemaError, type SchemaOption, type StandardSchemaV1 } from "./schema.js";
export {
  CacheError,
  CacheConfigError,
  CacheBackendError,
  SerializationError,
  LockedError,
  RateLimitError,
  CircuitBreakerOpenError,
  PerfDegradationError,
  NotConfiguredError,
  TimeoutError,
  CacheCapabilityError,
} from "./errors.js";
export { defineBackend, registerBackend, type BackendDefinition, type RegisterBackendOptions } from "./backends/define.js";
export type { Backend, BackendConfig, TagPopped, LimitRule, LimitRequest, LimitAnswer, LimitRuleState } from "./backends/types.js";
export type { BackendCapabilities } from "./backends/capabilities.js";
export type { OptionSpec, OptionKind } from "./config/registry.js";
export type { CacheEventInfo, CacheEventType, CacheListener, CacheStats, FunctionStats } from "./events.js";
export type { CacheOptions } from "./strategies/cache.js";
export type { RateLimitOptions, RateLimitAction } from "./strategies/rate-limit.js";
export type { SlidingRateLimitOptions } from "./strategies/sliding-rate-limit.js";
export type { Limiter, LimiterOptions, LimiterRuleOptions, LimiterAlgorithm, LimitResult, LimitRuleResult } from "./strategies/limiter.js";
export type { CircuitBreakerOptions } from "./strategies/circuit-breaker.js";
export type { PerfOptions } from "./strategies/perf.js";
export type { FailoverOptions } from "./strategies/failover.js";
export type { HitOptions, DynamicOptions } from "./strategies/hit.js";
export type { SingleFlightOptions } from "./strategies/in-flight.js";
export type { UpperOption, TtlFunction, TimeoutOption } from "./strategies/value.js";
export type { EarlyOptions } from "./strategies/early.js";
export type { SoftOptions } from "./strategies/soft.js";
export type { IteratorOptions, IteratorDecorator, AsyncIterableFn, CachedIterableFn } from "./strategies/iterator.js";
export type { InvalidateOptions, InvalidateTarget, ArgSource } from "./strategies/invalidate.js";
export type { LockedOptions } from "./strategies/locked.js";
export type { Decorator } from "./wrap/decorator.js";
export type { Serializer } from "./config/parse.js";
export type { TypeCodec } from "./codec/types.js";
export type { CompressFormat } from "./codec/compress.js";

export { cache } from "./presets/default.js";

/**
 * The `locked` strategy on the default instance: serialise calls across processes (see {@link Cache.locked}).
 * @example
 * import { locked } from "cashews";
 * const migrate = locked({ ttl: "5m" })(async function migrate(version: string) { return runMigration(version); });
 */
export function locked<A extends any[] = any[]>(options: LockedOptions<A>): Decorator<A> {
  return cache.locked(options);
}

/**
 * The `invalidate` strategy of the default cache: after the decorated function succeeds, delete a
 * key template's entries or a cached function's entry.
 * @example
 * const rename = invalidate(getUser)(async (id: string, name: string) => db.rename(id, name));
 * const addItem = invalidate("items:page:*")(async (item: Item) => db.add(item));
 */
// biome-ignore lint: any args
export function invalidate<A extends any[] = any[]>(target: InvalidateTarget, options?: InvalidateOptions<A>): Decorator<A> {
  return cache.invalidate(target, options);
}

/**
 * The `failover` strategy on the default instance: serve the last good value on errors (see {@link Cache.failover}).
 * @example
 * import { failover } from "cashews";
 * const getRates = failover({ ttl: "1d", exceptions: UpstreamError })(async function getRates() { return api.rates(); });
 */
export function failover<A extends any[] = any[]>(options: FailoverOptions<A>): Decorator<A> {
  return cache.failover(options);
}

/**
 * The `hit` strategy on the default instance: a value expires after `cacheHits` hits (see {@link Cache.hit}).
 * @example
 * import { hit } from "cashews";
 * const getConfig = hit({ ttl: "1h", cacheHits: 100 })(async function getConfig(name: string) { return api.config(name); });
 */
export function hit<A extends any[] = any[]>(options: HitOptions<A>): Decorator<A> {
  return cache.hit(options);
}

/**
 * The `early` strategy on the default instance: background refresh once older than `earlyTtl` (see {@link Cache.early}).
 * @example
 * import { early } from "cashews";
 * const getFeed = early({ ttl: "10m", earlyTtl: "7m", key: "feed:{id}" })(async (id: string) => api.feed(id));
 */
export function early<A extends any[] = any[]>(options: EarlyOptions<A>): Decorator<A> {
  return cache.early(options);
}

/**
 * The `soft` strategy on the default instance: foreground refresh after `softTtl`, old value on errors (see {@link Cache.soft}).
 * @example
 * import { soft } from "cashews";
 * const getProfile = soft({ ttl: "1h", softTtl: "5m", key: "profile:{id}" })(async (id: string) => api.profile(id));
 */
export function soft<A extends any[] = any[]>(options: SoftOptions<A>): Decorator<A> {
  return cache.soft(options);
}

/**
 * `cache.rateLimit` on the default instance: a fixed-window rate limit (see {@link RateLimitOptions}).
 * @example
 * import { rateLimit } from "cashews";
 * const sendSms = rateLimit({ limit: 10, period: "1m", key: "sms:{to}" })(async (to: string, text: string) => api.sms(to, text));
 */
export function rateLimit<A extends any[] = any[]>(options: RateLimitOptions<A>): Decorator<A> {
  return cache.rateLimit(options);
}

/**
 * `cache.slidingRateLimit` on the default instance: an exact sliding-window rate limit (see {@link SlidingRateLimitOptions}).
 * @example
 * import { slidingRateLimit } from "cashews";
 * const callApi = slidingRateLimit({ limit: 100, period: "1h", key: "api:{user}" })(async (user: string, path: string) => api.get(path));
 */
export function slidingRateLimit<A extends any[] = any[]>(options: SlidingRateLimitOptions<A>): Decorator<A> {
  return cache.slidingRateLimit(options);
}

/**
 * A rate limiter (see {@link Cache.limiter}): on the default instance with `limiter(options)`, on
 * another cache with `limiter(cache, options)` (as `cashews/core`'s `limiter`).
 * @example
 * import { limiter } from "cashews";
 * const api = limiter({ algorithm: "tokenBucket", limit: 20, period: "1s", refill: 5 });
 * const { success, remaining, retryAfter } = await api.limit("user-1", { cost: 2 });
 */
export function limiter(options: LimiterOptions): Limiter;
export function limiter(cache: CoreCache, options: LimiterOptions): Limiter;
export function limiter(first: CoreCache | LimiterOptions, options?: LimiterOptions): Limiter {
  return options === undefined ? cache.limiter(first as LimiterOptions) : limiterOf(first as CoreCache, options);
}

/**
 * `cache.circuitBreaker` on the default instance: fail fast while a dependency keeps failing (see {@link CircuitBreakerOptions}).
 * @example
 * import { circuitBreaker } from "cashews";
 * const callFlaky = circuitBreaker({ errorsRate: 50, period: "1m", ttl: "30s" })(async function callFlaky(path: string) { return api.get(path); });
 */
export function circuitBreaker<A extends any[] = any[]>(options: CircuitBreakerOptions<A>): Decorator<A> {
  return cache.circuitBreaker(options);
}

/**
 * `cache.perf` on the default instance: performance-degradation detection (see {@link PerfOptions}).
 * @example
 * import { perf } from "cashews";
 * const search = perf({ ttl: "1m", factor: 3 })(async function search(query: string) { return api.search(query); });
 */
export function perf<A extends any[] = any[]>(options: PerfOptions<A>): Decorator<A> {
  return cache.perf(options);
}

/**
 * `cache.dynamic` on the default instance: `hit` with `cacheHits: 3, updateAfter: 1` and a default ttl of one day (see {@link DynamicOptions}).
 * @example
 * import { dynamic } from "cashews";
 * const getPrices = dynamic({ key: "prices:{market}" })(async (market: string) => api.prices(market));
 */
export function dynamic<A extends any[] = any[]>(options: DynamicOptions<A> = {}): Decorator<A> {
  return cache.dynamic(options);
}

/**
 * `cache.singleFlight` on the default instance: concurrent calls with the same key share one run (see {@link SingleFlightOptions}).
 * @example
 * import { singleFlight } from "cashews";
 * const fetchConfig = singleFlight()(async function fetchConfig(name: string) { return api.config(name); });
 */
export function singleFlight<A extends any[] = any[]>(options: SingleFlightOptions<A> = {}): Decorator<A> {
  return cache.singleFlight(options);
}
