/**
 * The `soft` strategy: after `softTtl` the function runs again in the foreground; when it fails
 * with a listed error, the soft-expired value is served until `ttl`.
 *
 * Stored: the envelope `{ v: result, exp: <ms epoch of the soft expiry> }` with the backend TTL
 * `ttl`. Errors are never stored (exception conditions are rejected: use `exceptions`).
 * @module
 */
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf } from "../core/state.js";
import type { Duration } from "../durations.js";
import type { Route } from "../core/route.js";
import { decorator, type Decorator } from "../wrap/decorator.js";
import { scope, servedHere, type Served } from "../context/scope.js";
import {
  bounded,
  envelopeOf,
  flight,
  innerOption,
  MISSING,
  parseCommon,
  parseExceptions,
  timeoutOption,
  wrapper,
  type Envelope,
  type Exceptions,
  type TimeoutOption,
  type TtlFunction,
  type UpperOption,
  type ValueOptions,
} from "./value.js";

/**
 * Options of the `soft` strategy.
 * @example
 * const getProfile = cache.soft({ ttl: "1h", softTtl: "5m", exceptions: UpstreamError })(async (id: string) => api.profile(id));
 */
export interface SoftOptions<A extends any[] = any[]> extends ValueOptions<A>, UpperOption {
  /**
   * Age after which the value is recomputed in the foreground. Default `ttl × 0.33`; required with
   * `ttl: null`. A function `(result, ...args) => Duration | null` (null: the default) decides per call (see
   * {@link TtlFunction}; it must be shorter than the call's ttl, else nothing is stored).
   */
  softTtl?: Duration | TtlFunction<A>;
  /** Errors answered with the soft-expired value (an error class or a list). Default: every error. */
  exceptions?: Exceptions;
  /** In-process single-flight: concurrent identical calls that recompute run the function once. Default true. */
  protected?: boolean;
  /**
   * How long a caller waits for the recomputation. Past `soft`, a caller that found a soft-expired
   * value gets it (a hit) and the recomputation goes on in the background, storing its result.
   * Past `hard`, a {@link TimeoutError}: answered with the soft-expired value when `exceptions`
   * lists it (the default, every error, does), else thrown; a miss (nothing stored) throws it.
   * Callers that join a recomputation already under way are bounded by `hard` only. See
   * {@link TimeoutOption}.
   * @example
   * const getProfile = cache.soft({ ttl: "1h", softTtl: "5m", timeout: { soft: "300ms", hard: "3s" } })(
   *   async (id: string) => api.profile(id),
   * );
   */
  timeout?: TimeoutOption;
}

const EXTRA = ["softTtl", "exceptions", "protected", "upper", "timeout"];

/** What a recomputation gave: a fresh result, or the soft-expired value after a listed error. */
interface Recomputed {
  value: unknown;
  stale: boolean;
}

/**
 * The `soft` strategy on `cache`: after `softTtl` the value is recomputed in the foreground; if that throws one of `exceptions`, the soft-expired value is served until `ttl`. See {@link SoftOptions}.
 * @example
 * import { CoreCache, soft } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const getProfile = soft(cache, { ttl: "1h", softTtl: "5m", key: "profile:{id}" })(async (id: string) => api.profile(id));
 */
export function soft<A extends any[] = any[]>(cache: CoreCache, options: SoftOptions<A>): Decorator<A> {
  const core = stateOf(cache, "soft");
  const common = parseCommon("soft", options, EXTRA, "soft", false);
  const inner = innerOption(common, "softTtl", options.softTtl);
  const timeouts = timeoutOption("soft", options.timeout, true);
  const listed = parseExceptions("soft", options.exceptions);
  const protect = options.protected ?? true;

  return decorator<A>("soft", core, (target) => {
    const w = wrapper(core, common, target);
    const { keyOf } = w;
    const inflight = protect ? new Map<string, Promise<Recomputed>>() : undefined;

    const recompute = async (thisArg: unknown, args: unknown[], key: string, route: Route, old: Envelope | undefined, outer: Served | undefined): Promise<Recomputed> => {
      const outcome = await w.call(thisArg, args, outer, key);
      if (!outcome.failed) {
        if (w.storable(outcome, key)) await w.write(route, key, outcome.stored, outcome, inner);
        return { value: outcome.result, stale: false };
      }
      if (old !== undefined && listed(outcome.result)) return { value: old.v, stale: true };
      throw outcome.result;
    };

    /**
     * A caller's wait, bounded by `timeout`: past `soft` the soft-expired value `old`; past `hard`
     * that value when a TimeoutError is listed, else the error.
     */
    const wait = (pending: Promise<Recomputed>, old: Envelope | undefined): Promise<Recomputed> => {
      if (timeouts === undefined) return pending;
      const stale = old === undefined ? undefined : (): Recomputed => ({ value: old.v, stale: true });
      return bounded(core, "soft", pending, timeouts, stale, (error) => {
        if (stale !== undefined && listed(error)) return stale();
        throw error;
      }) as Promise<Recomputed>;
    };

    /** Counts a caller of a recomputation by what it got: the old value is a hit. */
    const settled = (pending: Promise<Recomputed>, thisArg: unknown, key: string, route: Route, outer: Served | undefined): Promise<unknown> =>
      pending.then(
        (r) => {
          if (r.stale) return w.hit(route, key, r.value, thisArg, undefined, outer);
          w.miss(thisArg, key, route);
          return r.value;
        },
        (error: unknown) => {
          w.miss(thisArg, key, route);
          throw error;
        },
      );

    const lookup = async (thisArg: unknown, args: unknown[], key: string, route: Route): Promise<unknown> => {
      const outer = servedHere();
      let found = envelopeOf(await core.read(route, key));
      // With a schema, a soft-expired value too is validated: it may be served after an error.
      if (found !== undefined && w.valid !== undefined) {
        const v = await w.valid(route, key, found.v, thisArg, true);
        found = v === MISSING ? undefined : { v, exp: found.exp };
      }
      if (found !== undefined && Date.now() < found.exp) return w.hit(route, key, found.v, thisArg, undefined, outer);
      const pending = flight(core, inflight, key, () => recompute(thisArg, args, key, route, found, outer));
      return settled(wait(pending, found), thisArg, key, route, outer);
    };

    // Not an async function: a memory hit resolves with one promise and no async frame.
    return { call: soft, keyOf };
    function soft(thisArg: unknown, args: unknown[]): Promise<unknown> {
      try {
        const key = keyOf(thisArg, args);
        const route = core.route(key);
        if (inflight?.size) {
          const pending = inflight.get(key);
          if (pending !== undefined) return settled(wait(pending, undefined), thisArg, key, route, servedHere());
        }
        if (route.peekable && scope.live === 0 && w.valid === undefined) {
          const found = envelopeOf(route.backend!.peek!(key));
          if (found !== undefined && Date.now() < found.exp) return Promise.resolve(w.hit(route, key, found.v, thisArg));
        }
        return lookup(thisArg, args, key, route);
      } catch (error) {
        return Promise.reject(error);
      }
    }
  });
}
