/**
 * The `slidingRateLimit` strategy (API.md): { limit, period, action?, key?, prefix? = "srl" }: sliding log window.
 * @module
 */
import type { Cache } from "../cache.js";
import { CacheConfigError } from "../errors.js";
import type { Decorator } from "../wrap/decorator.js";

/** Options of the `slidingRateLimit` strategy. */
// biome-ignore lint: any args until implemented
export interface SlidingRateLimitOptions<A extends any[] = any[]> {
  [option: string]: unknown;
  /** @internal phantom for the argument types */
  readonly __args?: A;
}

/** @internal */
export function slidingRateLimitStrategy<A extends any[] = any[]>(_cache: Cache, _options: SlidingRateLimitOptions<A>): Decorator<A> {
  throw new CacheConfigError("slidingRateLimit: not available yet (it arrives with the strategies release)");
}
