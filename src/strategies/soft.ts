/**
 * The `soft` strategy (API.md): { ttl, softTtl?, exceptions?, key?, prefix? = "soft", condition?, timeCondition?, protected? }: foreground refresh after softTtl, serve the old value on listed errors.
 * @module
 */
import type { Cache } from "../cache.js";
import { CacheConfigError } from "../errors.js";
import type { Decorator } from "../wrap/decorator.js";

/** Options of the `soft` strategy. */
// biome-ignore lint: any args until implemented
export interface SoftOptions<A extends any[] = any[]> {
  [option: string]: unknown;
  /** @internal phantom for the argument types */
  readonly __args?: A;
}

/** @internal */
export function softStrategy<A extends any[] = any[]>(_cache: Cache, _options: SoftOptions<A>): Decorator<A> {
  throw new CacheConfigError("soft: not available yet (it arrives with the strategies release)");
}
