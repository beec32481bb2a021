/**
 * The `failover` strategy (API.md): { ttl, exceptions?, key?, prefix? = "fail", condition?, timeCondition? }: always call; store each success; on a listed error serve the last stored value.
 * @module
 */
import type { Cache } from "../cache.js";
import { CacheConfigError } from "../errors.js";
import type { Decorator } from "../wrap/decorator.js";

/** Options of the `failover` strategy. */
// biome-ignore lint: any args until implemented
export interface FailoverOptions<A extends any[] = any[]> {
  [option: string]: unknown;
  /** @internal phantom for the argument types */
  readonly __args?: A;
}

/** @internal */
export function failoverStrategy<A extends any[] = any[]>(_cache: Cache, _options: FailoverOptions<A>): Decorator<A> {
  throw new CacheConfigError("failover: not available yet (it arrives with the strategies release)");
}
