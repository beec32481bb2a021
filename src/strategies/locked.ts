/**
 * The `locked` strategy (API.md): { ttl, key?, prefix? = "lock", wait? = true }: serialise calls across processes, no caching.
 * @module
 */
import type { Cache } from "../cache.js";
import { CacheConfigError } from "../errors.js";
import type { Decorator } from "../wrap/decorator.js";

/** Options of the `locked` strategy. */
// biome-ignore lint: any args until implemented
export interface LockedOptions<A extends any[] = any[]> {
  [option: string]: unknown;
  /** @internal phantom for the argument types */
  readonly __args?: A;
}

/** @internal */
export function lockedStrategy<A extends any[] = any[]>(_cache: Cache, _options: LockedOptions<A>): Decorator<A> {
  throw new CacheConfigError("locked: not available yet (it arrives with the strategies release)");
}
