/**
 * The `circuitBreaker` strategy (API.md): { errorsRate, period, ttl, halfOpenTtl?, exceptions?, minCalls?, key?, prefix? = "circuit_breaker" }.
 * @module
 */
import type { Cache } from "../cache.js";
import { CacheConfigError } from "../errors.js";
import type { Decorator } from "../wrap/decorator.js";

/** Options of the `circuitBreaker` strategy. */
// biome-ignore lint: any args until implemented
export interface CircuitBreakerOptions<A extends any[] = any[]> {
  [option: string]: unknown;
  /** @internal phantom for the argument types */
  readonly __args?: A;
}

/** @internal */
export function circuitBreakerStrategy<A extends any[] = any[]>(_cache: Cache, _options: CircuitBreakerOptions<A>): Decorator<A> {
  throw new CacheConfigError("circuitBreaker: not available yet (it arrives with the strategies release)");
}
