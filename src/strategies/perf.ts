/**
 * The `perf` strategy (API.md): { ttl, factor? = 2, window? = 10, key?, prefix? = "perf" }: performance-degradation detection.
 * @module
 */
import type { Cache } from "../cache.js";
import { CacheConfigError } from "../errors.js";
import type { Decorator } from "../wrap/decorator.js";

/** Options of the `perf` strategy. */
// biome-ignore lint: any args until implemented
export interface PerfOptions<A extends any[] = any[]> {
  [option: string]: unknown;
  /** @internal phantom for the argument types */
  readonly __args?: A;
}

/** @internal */
export function perfStrategy<A extends any[] = any[]>(_cache: Cache, _options: PerfOptions<A>): Decorator<A> {
  throw new CacheConfigError("perf: not available yet (it arrives with the strategies release)");
}
