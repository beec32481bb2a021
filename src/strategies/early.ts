/**
 * The `early` strategy: a stored result is refreshed in the background once it is older than
 * `earlyTtl`, while every caller keeps getting it.
 *
 * Stored: the envelope `{ v: result, exp: <ms epoch when it becomes due> }` with the backend
 * TTL `ttl`. The first caller that sees a due value takes the lock `<key>:early-lock`
 * (set-if-absent, TTL max(`earlyTtl`, `ttl` capped at 30 s)), re-reads the value, and refreshes
 * it in the background only if it is still due: one refresh per expiry across every process, even
 * when the function is slower than `earlyTtl`. The lock is released when the refresh ends; a
 * failed refresh is reported (`error` event) and leaves the old value in place.
 *
 * `background: false` runs that refresh in the caller's call instead, and the caller gets the
 * refreshed value (the original returns the old one after waiting for the new: we do not copy
 * that); when another process holds the refresh, or the refresh fails, it gets the old value.
 * @module
 */
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf } from "../core/state.js";
import { Raised } from "../codec/raised.js";
import type { Duration } from "../durations.js";
import { LOCK_PREFIX, type Route } from "../core/route.js";
import { decorator, type Decorator } from "../wrap/decorator.js";
import { scope, servedHere, type Served } from "../context/scope.js";
import {
  bounded,
  envelopeOf,
  flight,
  innerOption,
  MISSING,
  parseCommon,
  timeoutOption,
  wrapper,
  type Envelope,
  type Outcome,
  type TimeoutOption,
  type TtlFunction,
  type UpperOption,
  type ValueOptions,
} from "./value.js";
import { CacheConfigError } from "../errors.js";
import { background } from "../context/background.js";

/**
 * Options of the `early` strategy.
 * @example
 * const getFeed = cache.early({ ttl: "10m", earlyTtl: "7m", key: "feed:{id}" })(async (id: string) => api.feed(id));
 */
export interface EarlyOptions<A extends any[] = any[]> extends ValueOptions<A>, UpperOption {
  /**
   * Age after which the first hit refreshes the value in the background. Default `ttl × 0.33`;
   * required with `ttl: null`. A function `(result, ...args) => Duration | null` (null: the default) decides per call (see
   * {@link TtlFunction}; it must be shorter than the call's ttl, else nothing is stored).
   */
  earlyTtl?: Duration | TtlFunction<A>;
  /**
   * `false`: the hit that finds the value due runs the refresh in its own call, waits for it and
   * returns the refreshed value (the old one when another process is refreshing it or the refresh
   * fails, which is reported). Other callers meanwhile get the old value at once. Default true.
   * @example
   * const getFeed = cache.early({ ttl: "10m", earlyTtl: "7m", background: false })(async function getFeed(id: string) { return api.feed(id); });
   */
  background?: boolean;
  /** In-process single-flight: concurrent identical calls that miss run the function once. Default true. */
  protected?: boolean;
  /**
   * How long a caller waits for the function. With `background: false`, the caller refreshing a
   * due value gets that value past `soft` or `hard` (the refresh goes on in the background and
   * stores its result). A miss (nothing stored) gets a `TimeoutError` past `hard`, the computation
   * going on in the background. See {@link TimeoutOption}.
   * @example
   * const getFeed = cache.early({ ttl: "10m", earlyTtl: "7m", background: false, timeout: { soft: "200ms", hard: "5s" } })(
   *   async (id: string) => api.feed(id),
   * );
   */
  timeout?: TimeoutOption;
}

const EXTRA = ["earlyTtl", "protected", "background", "upper", "timeout"];

/** What a refresh gave the call that ran it: the outcome of the function, the value another process refreshed, or nothing. */
type Refreshed = { outcome: Outcome } | { current: Envelope } | undefined;

/**
 * The `early` strategy on `cache`: once a value is older than `earlyTtl`, the first hit starts one background refresh (one across processes) while callers keep getting the cached value. See {@link EarlyOptions}.
 * @example
 * import { CoreCache, early } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const getFeed = early(cache, { ttl: "10m", earlyTtl: "7m", key: "feed:{id}" })(async (id: string) => api.feed(id));
 */
export function early<A extends any[] = any[]>(cache: CoreCache, options: EarlyOptions<A>): Decorator<A> {
  const core = stateOf(cache, "early");
  const common = parseCommon("early", options, EXTRA, "early", true);
  const inner = innerOption(common, "earlyTtl", options.earlyTtl);
  const earlyTtl = typeof inner === "number" ? inner : undefined;
  const fail = (error: unknown): never => {
    throw error;
  };
  /** A miss's wait, bounded by `timeout.hard`. */
  const wait = (pending: Promise<unknown>): Promise<unknown> => (timeouts === undefined ? pending : bounded(core, "early", pending, timeouts, undefined, fail));
  /** `background: false`: past a timeout, the refresh's caller serves the due value (undefined). */
  const due = (): undefined => undefined;
  const protect = options.protected ?? true;
  const { background: inBackground = true } = options;
  if (typeof inBackground !== "boolean") throw new CacheConfigError(`early: "background" must be a boolean, got ${typeof inBackground}`);
  // Only a caller that refreshes in its own call (background: false) has a due value to fall back on.
  if (inBackground && (options.timeout as { soft?: unknown } | undefined)?.soft !== undefined) {
    throw new CacheConfigError(`early: timeout.soft applies only with background: false (a background refresh keeps nobody waiting); misses are bounded by timeout.hard`);
  }
  const timeouts = timeoutOption("early", options.timeout, !inBackground);
  // The refresh lock outlives a slow refresh (it is released as soon as the refresh ends).
  const lockTtl = Math.max(earlyTtl ?? 0, Math.min(common.ttl ?? 30_000, 30_000));

  return decorator<A>("early", core, (target) => {
    const w = wrapper(core, common, target);
    const { keyOf } = w;
    const inflight = protect ? new Map<string, Promise<unknown>>() : undefined;
    /** Keys this process is refreshing (or trying to lock) right now. */
    const refreshing = new Set<string>();

    /** Stores the outcome in the envelope (its `exp` from earlyTtl): the function's own result (not a schema's output). */
    const store = (route: Route, key: string, outcome: Outcome) => w.write(route, key, outcome.failed ? new Raised(outcome.result) : outcome.stored, outcome, inner);
    const valid = w.valid;
    /** A stored envelope, validated with a schema (`v` the schema's output; undefined: missing or invalid). */
    const checked = async (route: Route, key: string, found: Envelope | undefined, thisArg: unknown): Promise<Envelope | undefined> => {
      if (found === undefined || valid === undefined) return found;
      const v = await valid(route, key, found.v, thisArg, true);
      return v === MISSING ? undefined : { v, exp: found.exp };
    };

    const compute = async (thisArg: unknown, args: unknown[], key: string, route: Route, outer: Served | undefined): Promise<unknown> => {
      const outcome = await w.call(thisArg, args, outer, key);
      if (w.storable(outcome, key)) await store(route, key, outcome);
      if (outcome.failed) throw outcome.result;
      return outcome.result;
    };

    const refresh = async (thisArg: unknown, args: unknown[], key: string, route: Route, outer: Served | undefined): Promise<Refreshed> => {
      const lockKey = `${key}:early-lock`;
      const lockRoute = core.route(lockKey);
      const token = LOCK_PREFIX + crypto.randomUUID();
      // Without locks (Workers KV, the Cache API) each process refreshes on its own: one refresh per process, never a wrong value.
      const locking = lockRoute.capabilities.locks !== false;
      if (locking && !(await core.run(lockRoute, lockKey, false, (b) => b.setLock(lockKey, token, lockTtl)))) return undefined;
      let release = true;
      try {
        // A caller that read the old value may get here after another refresh finished: re-read,
        // and refresh only what is still due (one refresh per expiry, however slow the function).
        const current = await checked(route, key, envelopeOf(await core.read(route, key)), thisArg);
        if (current !== undefined && Date.now() < current.exp) return { current };
        const outcome = await w.call(thisArg, args, outer, key);
        if (w.storable(outcome, key)) await store(route, key, outcome);
        else if (outcome.failed) throw outcome.result;
        // A result the condition rejects: the lock expires on its own (no retry on every hit).
        else release = false;
        return { outcome };
      } catch (error) {
        core.report(error, key, route);
        return undefined;
      } finally {
        if (release && locking) await core.run(lockRoute, lockKey, false, (b) => b.unlock(lockKey, token));
      }
    };

    const hitOf = (route: Route, key: string, found: Envelope, thisArg: unknown, outer: Served | undefined): unknown =>
      w.hit(route, key, found.v, thisArg, scope.live === 0 ? undefined : { earlyTtl, earlyExpireAt: found.exp }, outer);

    /** `background: false`: the refreshed value, else (not refreshed here, or failed) the old one. */
    const foreground = async (pending: Promise<Refreshed>, route: Route, key: string, found: Envelope, thisArg: unknown, outer: Served | undefined): Promise<unknown> => {
      const refreshed = await pending;
      if (refreshed === undefined) return hitOf(route, key, found, thisArg, outer);
      if ("current" in refreshed) return hitOf(route, key, refreshed.current, thisArg, outer);
      const { outcome } = refreshed;
      // A failure is thrown only when it was stored (withExceptions): the next callers get it too.
      if (outcome.failed && !w.storable(outcome, key)) return hitOf(route, key, found, thisArg, outer);
      w.miss(thisArg, key, route);
      if (outcome.failed) throw outcome.result;
      return outcome.result;
    };

    /** A hit: starts the refresh when the value is due, and serves it (the refreshed one with `background: false`). */
    const served = (route: Route, key: string, found: Envelope, thisArg: unknown, args: unknown[], outer: Served | undefined): unknown => {
      if (Date.now() >= found.exp && !refreshing.has(key)) {
        refreshing.add(key);
        if (!inBackground) {
          const pending = refresh(thisArg, args, key, route, outer).finally(() => refreshing.delete(key));
          const waited = timeouts === undefined ? pending : (bounded(core, "early", pending, timeouts, due, due) as Promise<Refreshed>);
          return foreground(waited, route, key, found, thisArg, outer);
        }
        background(core, refresh(thisArg, args, key, route, undefined).finally(() => refreshing.delete(key)));
      }
      return hitOf(route, key, found, thisArg, outer);
    };

    const lookup = async (thisArg: unknown, args: unknown[], key: string, route: Route): Promise<unknown> => {
      const outer = servedHere();
      let found = envelopeOf(await core.read(route, key));
      // Without a schema, no more work than before.
      if (valid !== undefined) found = await checked(route, key, found, thisArg);
      if (found !== undefined) return served(route, key, found, thisArg, args, outer);
      w.miss(thisArg, key, route);
      return wait(flight(core, inflight, key, () => compute(thisArg, args, key, route, outer)));
    };

    // Not an async function: a memory hit resolves with one promise and no async frame.
    return { call: early, keyOf };
    function early(thisArg: unknown, args: unknown[]): Promise<unknown> {
      try {
        const key = keyOf(thisArg, args);
        if (inflight?.size) {
          const pending = inflight.get(key);
          if (pending !== undefined) {
            w.miss(thisArg, key);
            return wait(pending);
          }
        }
        const route = core.route(key);
        if (route.peekable && scope.live === 0 && valid === undefined) {
          const found = envelopeOf(route.backend!.peek!(key));
          if (found !== undefined) return Promise.resolve(served(route, key, found, thisArg, args, servedHere()));
        }
        return lookup(thisArg, args, key, route);
      } catch (error) {
        return Promise.reject(error);
      }
    }
  });
}
