/**
 * The `rateLimit` strategy (API.md): { limit, period, ttl?, action?, key?, prefix? = "rate_limit" }: fixed window.
 * @module
 */
import type { Cache } from "../cache.js";
import { CacheConfigError } from "../errors.js";
import type { Decorator } from "../wrap/decorator.js";

/** Options of the `rateLimit` strategy. */
// biome-ignore lint: any args until implemented
export interface RateLimitOptions<A extends any[] = any[]> {
  [option: string]: unknown;
  /** @internal phantom for the argument types */
  readonly __args?: A;
}

/** @internal */
export function rateLimitStrategy<A extends any[] = any[]>(_cache: Cache, _options: RateLimitOptions<A>): Decorator<A> {
  throw new CacheConfigError("rateLimit: not available yet (it arrives with the strategies release)");
}
