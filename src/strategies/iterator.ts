/**
 * The `iterator` strategy (API.md): { ttl, key?, condition? }: async generators cached chunk by chunk.
 * @module
 */
import type { Cache } from "../cache.js";
import { CacheConfigError } from "../errors.js";
import type { Decorator } from "../wrap/decorator.js";

/** Options of the `iterator` strategy. */
// biome-ignore lint: any args until implemented
export interface IteratorOptions<A extends any[] = any[]> {
  [option: string]: unknown;
  /** @internal phantom for the argument types */
  readonly __args?: A;
}

/** @internal */
export function iteratorStrategy<A extends any[] = any[]>(_cache: Cache, _options: IteratorOptions<A>): Decorator<A> {
  throw new CacheConfigError("iterator: not available yet (it arrives with the strategies release)");
}
