/**
 * `cashews/core`: the lean entry. {@link CoreCache} has setup, every command, locks, events,
 * scopes and the simple strategy (`cache.cache(options)`); every other strategy is a standalone
 * function taking the cache as its first argument, so a bundle holds only what it uses. Only
 * `mem://` is registered: `import "cashews/redis"` or `import "cashews/upstash"` adds those schemes.
 *
 * @example
 * import { CoreCache, failover } from "cashews/core";
 * const cache = new CoreCache("app").setup("mem://");
 * const getUser = cache.cache({ ttl: "10m", key: "user:{id}" })(async (id: string) => db.user(id));
 * const getRates = failover(cache, { ttl: "1d" })(async function getRates() { return api.rates(); });
 * @module
 */
export { CoreCache, type IncrOptions, type SetOptions, type DisableTarget, type Middleware } from "./presets/core-cache.js";
export type { Lock, LockOptions } from "./core/locks.js";
export { failover, setDefaultFailExceptions, type FailoverOptions } from "./strategies/failover.js";
export { hit, dynamic, type HitOptions, type DynamicOptions } from "./strategies/hit.js";
export { singleFlight, type SingleFlightOptions } from "./strategies/in-flight.js";
export type { UpperOption, TtlFunction, TimeoutOption } from "./strategies/value.js";
export { early, type EarlyOptions } from "./strategies/early.js";
export { soft, type SoftOptions } from "./strategies/soft.js";
export { locked, type LockedOptions } from "./strategies/locked.js";
export { rateLimit, type RateLimitOptions, type RateLimitAction } from "./strategies/rate-limit.js";
export { slidingRateLimit, type SlidingRateLimitOptions } from "./strategies/sliding-rate-limit.js";
export { limiter, type Limiter, type LimiterOptions, type LimiterRuleOptions, type LimiterAlgorithm, type LimitResult, type LimitRuleResult } from "./strategies/limiter.js";
export { circuitBreaker, type CircuitBreakerOptions } from "./strategies/circuit-breaker.js";
export { perf, type PerfOptions } from "./strategies/perf.js";
export { iterator, type IteratorOptions, type IteratorDecorator, type AsyncIterableFn, type CachedIterableFn } from "./strategies/iterator.js";
export { invalidate, type InvalidateOptions, type InvalidateTarget, type ArgSource } from "./strategies/invalidate.js";
export type { CacheOptions } from "./strategies/cache.js";
export { NOT_NONE, withExceptions, onlyExceptions, type Condition, type ErrorClass } from "./conditions.js";
export { withKeyContext } from "./context/key-context.js";
export { createContextStore, type ContextStore } from "./context/store.js";
export { Command, CacheDetect, invalidateFurther, runWithWaitUntil, type DetectInfo, type DetectKeys } from "./context/scope.js";
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
export type { Decorator } from "./wrap/decorator.js";
export type { Serializer } from "./config/parse.js";
export type { TypeCodec } from "./codec/types.js";
export type { CompressFormat } from "./codec/compress.js";
