/**
 * Typed errors. Every error thrown by cashews extends {@link CacheError}, has its `name` set and
 * keeps the original error as `cause`.
 * @module
 */
import type { BackendCapabilities } from "./backends/capabilities.js";

/**
 * Base class of every error cashews throws; `name` is the class name and `cause` the original error.
 * @example
 * try {
 *   await getUser("1");
 * } catch (error) {
 *   if (error instanceof CacheError) console.error(error.name, error.message, error.cause);
 *   else throw error;
 * }
 */
export class CacheError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Bad configuration: an unknown option, scheme or value, a bad duration or key template. Thrown at setup or wrap time.
 * @example
 * try {
 *   cache.setup("mem://?size=0");
 * } catch (error) {
 *   console.log(error instanceof CacheConfigError); // true: the message names "size"
 * }
 */
export class CacheConfigError extends CacheError {}

/**
 * A command or strategy needs something its backend cannot do (an atomic counter, a lock, listing
 * keys, strong consistency): refused, never approximated. Thrown at wrap time where the backend is
 * known then, else by the command, in safe mode too. `backend` is the scheme (`"cloudflare-kv"`),
 * `capability` the missing {@link BackendCapabilities} flag; the message says what to use instead.
 * @example
 * cache.setup("cloudflare-kv://CACHE", { env });
 * await cache.incr("visits").catch((error) => {
 *   if (error instanceof CacheCapabilityError) console.log(error.backend, error.capability); // "cloudflare-kv" "atomic"
 * });
 */
export class CacheCapabilityError extends CacheConfigError {
  constructor(
    message: string,
    readonly backend: string,
    readonly capability: keyof BackendCapabilities,
  ) {
    super(message);
  }
}

/**
 * A backend failed and the cache is not in safe mode (`safe: false`). In safe mode (the default)
 * failures become misses and no-ops, reported through `cache.on("error", …)`.
 * @example
 * cache.setup("redis://localhost:6379", { safe: false });
 * try {
 *   await cache.get("user:1");
 * } catch (error) {
 *   if (error instanceof CacheBackendError) console.error("Redis is down:", error.cause);
 * }
 */
export class CacheBackendError extends CacheError {}

/**
 * A value that cannot be stored faithfully (a function, a symbol, a class instance). Nothing was written.
 * @example
 * await cache.set("handler", () => 1); // rejects with SerializationError, on every backend
 */
export class SerializationError extends CacheError {}

/**
 * A lock could not be acquired (`wait: false`, or the wait ran out).
 * @example
 * const job = cache.locked({ ttl: "1m", wait: false })(async function job() { await runImport(); });
 * await Promise.allSettled([job(), job()]); // one runs, the other rejects with LockedError
 */
export class LockedError extends CacheError {}

/**
 * A rate limit was exceeded (`rateLimit`/`slidingRateLimit` without an `action`). `retryAfter` is
 * the ms until the same call would pass, `remaining` the units the binding limit has left (0),
 * `reset` the epoch ms when that limit resets; NaN where unknown.
 * @example
 * try {
 *   await sendSms("+15550100", "hi");
 * } catch (error) {
 *   if (error instanceof RateLimitError) console.log(`slow down: retry in ${error.retryAfter} ms`);
 * }
 */
export class RateLimitError extends CacheError {
  /** ms until the same call would be admitted (NaN: unknown). */
  readonly retryAfter: number;
  /** Units the binding limit still admits (NaN: unknown). */
  readonly remaining: number;
  /** Epoch ms when the binding limit resets (NaN: unknown). */
  readonly reset: number;

  constructor(message: string, options: { cause?: unknown; retryAfter?: number; remaining?: number; reset?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfter = options.retryAfter ?? Number.NaN;
    this.remaining = options.remaining ?? Number.NaN;
    this.reset = options.reset ?? Number.NaN;
  }
}

/**
 * A circuit breaker is open: the call was not made.
 * @example
 * const price = await callPayments("order-1").catch((error) => {
 *   if (error instanceof CircuitBreakerOpenError) return undefined; // fail fast, try later
 *   throw error;
 * });
 */
export class CircuitBreakerOpenError extends CacheError {}

/**
 * A performance degradation was detected (`perf` strategy): the call was not made.
 * @example
 * const results = await search("cashews").catch((error) => (error instanceof PerfDegradationError ? [] : Promise.reject(error)));
 */
export class PerfDegradationError extends CacheError {}

/**
 * A cached function took longer than its strategy's `timeout.hard` (`cache`, `early`, `soft`,
 * `failover`): the caller stopped waiting. The computation goes on in the background and its result
 * is stored when it completes. Where the strategy serves a stale value on errors (`soft` and
 * `failover` when the error is listed, `early` with a due value), that value is served instead.
 * @example
 * const getUser = cache({ ttl: "10m", key: "user:{id}", timeout: { hard: "2s" } })(async (id: string) => db.user(id));
 * const user = await getUser("1").catch((error) => {
 *   if (error instanceof TimeoutError) return undefined; // slow database: answer without the user
 *   throw error;
 * });
 */
export class TimeoutError extends CacheError {}

/**
 * The cache was used before `setup`, or no backend matches the key.
 * @example
 * await new Cache().get("user:1"); // rejects with NotConfiguredError: call setup first
 */
export class NotConfiguredError extends CacheError {}

/** @internal The message of a thrown value that may not be an Error. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
