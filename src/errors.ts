/**
 * Typed errors. Every error thrown by cashews extends {@link CacheError}, has its `name` set and
 * keeps the original error as `cause`.
 * @module
 */

/** Base class of every error cashews throws. */
export class CacheError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad configuration: an unknown option, scheme or value, a bad duration or key template. Thrown at setup or wrap time. */
export class CacheConfigError extends CacheError {}

/** A backend failed and the cache is not in safe mode (`safe: false`). */
export class CacheBackendError extends CacheError {}

/** A value that cannot be stored faithfully (a function, a symbol, a class instance). Nothing was written. */
export class SerializationError extends CacheError {}

/** A lock could not be acquired (`wait: false`, or the wait ran out). */
export class LockedError extends CacheError {}

/** A rate limit was exceeded. */
export class RateLimitError extends CacheError {}

/** A circuit breaker is open: the call was not made. */
export class CircuitBreakerOpenError extends CacheError {}

/** A performance degradation was detected: the call was not made. */
export class PerfDegradationError extends CacheError {}

/** The cache was used before `setup`, or no backend matches the key. */
export class NotConfiguredError extends CacheError {}

/** @internal The message of a thrown value that may not be an Error. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
