/**
 * The `early` strategy (API.md): { ttl, earlyTtl?, key?, prefix? = "early", condition?, timeCondition?, protected? }: one background refresh once older than earlyTtl.
 * @module
 */
import type { Cache } from "../cache.js";
import { CacheConfigError } from "../errors.js";
import type { Decorator } from "../wrap/decorator.js";

/** Options of the `early` strategy. */
// biome-ignore lint: any args until implemented
export interface EarlyOptions<A extends any[] = any[]> {
  [option: string]: unknown;
  /** @internal phantom for the argument types */
  readonly __args?: A;
}

/** @internal */
export function earlyStrategy<A extends any[] = any[]>(_cache: Cache, _options: EarlyOptions<A>): Decorator<A> {
  throw new CacheConfigError("early: not available yet (it arrives with the strategies release)");
}
