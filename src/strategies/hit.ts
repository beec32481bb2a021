/**
 * The `hit` strategy (API.md): { ttl, cacheHits, updateAfter?, key?, prefix? = "hit", condition?, timeCondition? }: expire after cacheHits hits.
 * @module
 */
import type { Cache } from "../cache.js";
import { CacheConfigError } from "../errors.js";
import type { Decorator } from "../wrap/decorator.js";

/** Options of the `hit` strategy. */
// biome-ignore lint: any args until implemented
export interface HitOptions<A extends any[] = any[]> {
  [option: string]: unknown;
  /** @internal phantom for the argument types */
  readonly __args?: A;
}

/** @internal */
export function hitStrategy<A extends any[] = any[]>(_cache: Cache, _options: HitOptions<A>): Decorator<A> {
  throw new CacheConfigError("hit: not available yet (it arrives with the strategies release)");
}
