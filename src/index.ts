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

export { Cache, type Lock, type LockOptions, type SetOptions } from "./cache.js";
export { NOT_NONE, withExceptions, onlyExceptions, type Condition, type ErrorClass } from "./conditions.js";
export { withKeyContext } from "./context/key-context.js";
export { createContextStore, type ContextStore } from "./context/store.js";
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
