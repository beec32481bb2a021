/**
 * The `failover` strategy: always call; store each success; on a listed error serve the last
 * stored value.
 * @module
 */
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf } from "../core/state.js";
import { decorator, type Decorator } from "../wrap/decorator.js";
import { MISSING, parseCommon, parseExceptions, wrapper, type Exceptions, type ValueOptions } from "./value.js";

/**
 * Options of the `failover` strategy.
 * @example
 * const getRates = cache.failover({ ttl: "1d", exceptions: [UpstreamError, TypeError] })(async () => api.rates());
 */
export interface FailoverOptions<A extends any[] = any[]> extends ValueOptions<A> {
  /** Errors answered with the last stored value (an error class or a list). Default: every error. */
  exceptions?: Exceptions;
}

const EXTRA = ["exceptions"];

/**
 * The `failover` strategy on `cache`: always calls the function and stores each success; when it throws one of `exceptions`, serves the last stored value (else rethrows). See {@link FailoverOptions}.
 * @example
 * import { CoreCache, failover } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const getRates = failover(cache, { ttl: "1d", exceptions: UpstreamError })(async function getRates() { return api.rates(); });
 */
export function failover<A extends any[] = any[]>(cache: CoreCache, options: FailoverOptions<A>): Decorator<A> {
  const core = stateOf(cache, "failover");
  const common = parseCommon("failover", options, EXTRA, "fail", false);
  const listed = parseExceptions("failover", options.exceptions);

  return decorator<A>("failover", core, (target) => {
    const w = wrapper(core, common, target);
    const { keyOf } = w;

    return { call: failover, keyOf };
    async function failover(thisArg: unknown, args: unknown[]): Promise<unknown> {
      const key = keyOf(thisArg, args);
      const outcome = await w.call(thisArg, args);
      const route = core.route(key);
      if (!outcome.failed) {
        if (w.storable(outcome, key)) await w.write(route, key, outcome.result, outcome);
        w.miss(thisArg, key, route);
        return outcome.result;
      }
      if (listed(outcome.result)) {
        const value = await core.read(route, key);
        if (value !== MISSING) return w.hit(route, key, value, thisArg);
      }
      w.miss(thisArg, key, route);
      throw outcome.result;
    }
  });
}
