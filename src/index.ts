/**
 * cashews: the async cache toolkit for TypeScript and the edge.
 *
 * @example
 * import { cache } from "cashews";
 * cache.setup("mem://");
 * const getUser = cache({ ttl: "10m", key: "user:{id}" })(async (id: string) => db.user(id));
 * @module
 */
import { Cache } from "./cache.js";
import type { RateLimitOptions } from "./strategies/rate-limit.js";
import type { SlidingRateLimitOptions } from "./strategies/sliding-rate-limit.js";
import type { CircuitBreakerOptions } from "./strategies/circuit-breaker.js";
import type { PerfOptions } from "./strategies/perf.js";
import type { FailoverOptions } from "./strategies/failover.js";
import type { HitOptions } from "./strategies/hit.js";
import type { EarlyOptions } from "./strategies/early.js";
import type { SoftOptions } from "./strategies/soft.js";
import type { InvalidateOptions, InvalidateTarget } from "./strategies/invalidate.js";
import type { LockedOptions } from "./strategies/locked.js";
import type { Decorator } from "./wrap/decorator.js";

export { Cache, type Lock, type LockOptions, type SetOptions } from "./cache.js";
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
} from "./errors.js";
export type { CacheEventInfo, CacheEventType, CacheListener, CacheStats, FunctionStats } from "./events.js";
export type { CacheOptions } from "./strategies/cache.js";
export type { RateLimitOptions } from "./strategies/rate-limit.js";
export type { SlidingRateLimitOptions } from "./strategies/sliding-rate-limit.js";
export type { CircuitBreakerOptions } from "./strategies/circuit-breaker.js";
export type { PerfOptions } from "./strategies/perf.js";
export type { FailoverOptions } from "./strategies/failover.js";
export type { HitOptions } from "./strategies/hit.js";
export type { EarlyOptions } from "./strategies/early.js";
export type { SoftOptions } from "./strategies/soft.js";
export type { IteratorOptions, IteratorDecorator, AsyncIterableFn, CachedIterableFn } from "./strategies/iterator.js";
export type { InvalidateOptions, InvalidateTarget, ArgSource } from "./strategies/invalidate.js";
export type { LockedOptions } from "./strategies/locked.js";
export type { Decorator } from "./wrap/decorator.js";
export type { Serializer } from "./config.js";

/**
 * The default cache instance. Not configured at import: call `cache.setup(url)` first.
 * It is callable: `cache(options)` is `cache.cache(options)`.
 * @example
 * import { cache } from "cashews";
 * cache.setup("redis://localhost:6379");
 * const get = cache({ ttl: "1h" })(async function getUser(id: string) { return db.user(id); });
 */
export const cache: Cache = new Cache("default");

/** The `locked` strategy on the default instance: serialise calls across processes (see {@link Cache.locked}). */
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

/** The `failover` strategy on the default instance: serve the last good value on errors (see {@link Cache.failover}). */
export function failover<A extends any[] = any[]>(options: FailoverOptions<A>): Decorator<A> {
  return cache.failover(options);
}

/** The `hit` strategy on the default instance: a value expires after `cacheHits` hits (see {@link Cache.hit}). */
export function hit<A extends any[] = any[]>(options: HitOptions<A>): Decorator<A> {
  return cache.hit(options);
}

/** The `early` strategy on the default instance: background refresh once older than `earlyTtl` (see {@link Cache.early}). */
export function early<A extends any[] = any[]>(options: EarlyOptions<A>): Decorator<A> {
  return cache.early(options);
}

/** The `soft` strategy on the default instance: foreground refresh after `softTtl`, old value on errors (see {@link Cache.soft}). */
export function soft<A extends any[] = any[]>(options: SoftOptions<A>): Decorator<A> {
  return cache.soft(options);
}

/** `cache.rateLimit` on the default instance: a fixed-window rate limit (see {@link RateLimitOptions}). */
export function rateLimit<A extends any[] = any[]>(options: RateLimitOptions<A>): Decorator<A> {
  return cache.rateLimit(options);
}

/** `cache.slidingRateLimit` on the default instance: an exact sliding-window rate limit (see {@link SlidingRateLimitOptions}). */
export function slidingRateLimit<A extends any[] = any[]>(options: SlidingRateLimitOptions<A>): Decorator<A> {
  return cache.slidingRateLimit(options);
}

/** `cache.circuitBreaker` on the default instance (see {@link CircuitBreakerOptions}). */
export function circuitBreaker<A extends any[] = any[]>(options: CircuitBreakerOptions<A>): Decorator<A> {
  return cache.circuitBreaker(options);
}

/** `cache.perf` on the default instance: performance-degradation detection (see {@link PerfOptions}). */
export function perf<A extends any[] = any[]>(options: PerfOptions<A>): Decorator<A> {
  return cache.perf(options);
}
