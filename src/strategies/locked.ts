/**
 * The `locked` strategy (API.md): { ttl, key?, prefix? = "lock", wait? = true }: serialise calls
 * across processes, no caching.
 * @module
 */
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf } from "../core/state.js";
import type { Duration } from "../durations.js";
import { acquireLock, lockWaitMs } from "../core/locks.js";
import { CacheConfigError } from "../errors.js";
import { decorator, type Decorator } from "../wrap/decorator.js";
import { callKey, type KeyOption } from "../wrap/key.js";
import { checkOptions, lockTtlMs, prefixOption } from "../options.js";

/**
 * Options of the `locked` strategy.
 * @example
 * const rebuild = cache.locked({ ttl: "5m", key: "rebuild:{index}", wait: "30s" })(async (index: string) => search.rebuild(index));
 */
// biome-ignore lint: any args
export interface LockedOptions<A extends any[] = any[]> {
  /**
   * The lock's expiry (required, > 0): a holder that dies frees the lock when it runs out. Keep it
   * above the function's worst-case duration: a call that outlives it lets the next one in.
   */
  ttl: Duration;
  /** A template such as `"job:{id}"`, or a function of the call's arguments. Default: from the function's name and parameters (one lock per distinct arguments). */
  key?: KeyOption<A>;
  /** Prepended to the key with a `:`. Default `"lock"`. */
  prefix?: string;
  /**
   * `true` (default): wait until the lock is free (polling with a jittered back-off, never a hot
   * loop); a Duration: wait at most that long; `false`: do not wait. Not acquired → `LockedError`.
   */
  wait?: boolean | Duration;
}

const KNOWN = ["ttl", "key", "prefix", "wait"] as const;

/**
 * The `locked` strategy on `cache`: no caching; calls with the same key run one at a time across every process sharing the backend. See {@link LockedOptions}.
 * @example
 * import { CoreCache, locked } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const migrate = locked(cache, { ttl: "5m", key: "migrate:{version}" })(async (version: string) => runMigration(version));
 */
export function locked<A extends any[] = any[]>(cache: CoreCache, options: LockedOptions<A>): Decorator<A> {
  const core = stateOf(cache, "locked");
  core.needAtWrap("locked", "locks", "strongConsistency");
  checkOptions("locked", options, KNOWN);
  if (options.ttl === undefined || options.ttl === null) {
    throw new CacheConfigError(`locked: "ttl" is required: the lock's expiry (a Duration such as "30s"), which frees the lock when its holder dies`);
  }
  const ttl = lockTtlMs("locked", "ttl", options.ttl);
  const waitMs = lockWaitMs("locked", options.wait);
  const prefix = prefixOption("locked", options.prefix, "lock");
  const keyOption = options.key;

  return decorator<A>("locked", core, (target) => {
    const keyOf = callKey("locked", target, keyOption as KeyOption<never[]> | undefined, prefix);
    const fn = target.fn;
    const locked = async (thisArg: unknown, args: unknown[]): Promise<unknown> => {
      // Safe mode: an unreachable backend yields an unacquired lock and the body runs unlocked.
      const key = keyOf(thisArg, args);
      core.route(key).need("locked", "strongConsistency");
      const lock = await acquireLock(core, key, ttl, waitMs);
      try {
        return await fn.apply(thisArg, args);
      } finally {
        await lock.release();
      }
    };
    return { call: locked };
  });
}
