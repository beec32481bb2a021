/**
 * The `failover` strategy: always call; store each success; on a listed error serve the last
 * stored value.
 * @module
 */
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf, type CacheCore } from "../core/state.js";
import type { ErrorClass } from "../conditions.js";
import { CacheConfigError } from "../errors.js";
import { decorator, type Decorator } from "../wrap/decorator.js";
import { servedHere } from "../context/scope.js";
import { bounded, MISSING, parseCommon, parseExceptions, timeoutOption, wrapper, type Exceptions, type Outcome, type TimeoutOption, type ValueOptions } from "./value.js";

/**
 * Options of the `failover` strategy.
 * @example
 * const getRates = cache.failover({ ttl: "1d", exceptions: [UpstreamError, TypeError] })(async () => api.rates());
 */
export interface FailoverOptions<A extends any[] = any[]> extends ValueOptions<A> {
  /**
   * Errors answered with the last stored value (an error class or a list). Default: the cache's
   * default ({@link setDefaultFailExceptions}), else every error.
   */
  exceptions?: Exceptions;
  /**
   * How long a caller waits for the function. Past `soft`, the last stored value (if any) is served
   * (a hit) while the call goes on in the background and stores its result. Past `hard`, a
   * {@link TimeoutError}, handled as the function's error: answered with the last stored value when
   * `exceptions` lists it (the default, every error, does), else thrown. See {@link TimeoutOption}.
   * @example
   * const getRates = cache.failover({ ttl: "1d", timeout: { soft: "500ms", hard: "5s" } })(async function getRates() { return api.rates(); });
   */
  timeout?: TimeoutOption;
}

const EXTRA = ["exceptions", "timeout"];

/** The outcome of a call the caller stopped waiting for (`timeout.hard`). */
const TIMED_OUT = { failed: true, took: 0, served: false } as const;

/** Each cache's default `exceptions` (set by {@link setDefaultFailExceptions}). */
const defaults = /* @__PURE__ */ new WeakMap<CacheCore, (error: unknown) => boolean>();
const every = (): boolean => true;

/**
 * Sets the errors that `cache`'s failovers without their own `exceptions` answer with the last
 * stored value (the original's `set_default_fail_exceptions`); by default every error. Applies to
 * failovers wrapped before the call too. Give `Error` to go back to every error. Anything but an
 * error class (`Error` or a subclass) throws {@link CacheConfigError}.
 * @example
 * import { CoreCache, failover, setDefaultFailExceptions } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * setDefaultFailExceptions(cache, UpstreamError, TimeoutError);
 * const getRates = failover(cache, { ttl: "1d" })(async function getRates() { return api.rates(); });
 */
export function setDefaultFailExceptions(cache: CoreCache, ...exceptions: ErrorClass[]): void {
  const core = stateOf(cache, "setDefaultFailExceptions");
  if (exceptions.length === 0) throw new CacheConfigError("setDefaultFailExceptions: give at least one error class (Error: every error)");
  for (const cls of exceptions as unknown[]) {
    if (typeof cls !== "function" || (cls !== Error && !((cls as { prototype?: unknown }).prototype instanceof Error))) {
      const got = typeof cls === "function" ? `the function ${cls.name || "(anonymous)"}, which does not extend Error` : cls === null ? "null" : typeof cls;
      throw new CacheConfigError(`setDefaultFailExceptions: expected error classes (Error or a subclass), got ${got}`);
    }
  }
  defaults.set(core, exceptions.includes(Error) ? every : parseExceptions("setDefaultFailExceptions", exceptions));
}

/**
 * The `failover` strategy on `cache`: always calls the function and stores each success; when it throws one of `exceptions`, serves the last stored value (else rethrows). See {@link FailoverOptions}.
 * @example
 * import { CoreCache, failover } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const getRates = failover(cache, { ttl: "1d", exceptions: UpstreamError })(async function getRates() { return api.rates(); });
 */
export function failover<A extends any[] = any[]>(cache: CoreCache, options: FailoverOptions<A>): Decorator<A> {
  const core = stateOf(cache, "failover");
  // Always an upper layer (as in the original): what an inner layer served from cache is not stored.
  const common = { ...parseCommon("failover", options, EXTRA, "fail", false), upper: true };
  const own = options.exceptions === undefined ? undefined : parseExceptions("failover", options.exceptions);
  const timeouts = timeoutOption("failover", options.timeout, true);

  return decorator<A>("failover", core, (target) => {
    const w = wrapper(core, common, target);
    const { keyOf } = w;

    return { call: failover, keyOf };
    async function failover(thisArg: unknown, args: unknown[]): Promise<unknown> {
      const outer = servedHere();
      const key = keyOf(thisArg, args);
      const route = core.route(key);
      let outcome: Outcome;
      if (timeouts === undefined) {
        outcome = await w.call(thisArg, args, outer, key);
        // What is stored is the function's own result (a schema's output is what the caller gets).
        if (!outcome.failed && w.storable(outcome, key)) await w.write(route, key, outcome.stored, outcome);
      } else {
        // Stored even when the caller stopped waiting (the call goes on in the background); a
        // failure nobody waits for any more is reported.
        let left = false;
        const run = w.call(thisArg, args, outer, key).then(async (done) => {
          if (!done.failed && w.storable(done, key)) await w.write(route, key, done.stored, done);
          else if (done.failed && left) core.report(done.result, key, route);
          return done;
        });
        const stale = async (): Promise<unknown> => {
          let value = await core.read(route, key);
          if (value !== MISSING && w.valid !== undefined) value = await w.valid(route, key, value, thisArg);
          if (value === MISSING) return MISSING;
          left = true;
          return { stale: value };
        };
        const got = (await bounded(core, "failover", run, timeouts, stale, (error) => {
          left = true;
          return { ...TIMED_OUT, result: error, stored: error, thisArg, args };
        })) as Outcome | { stale: unknown };
        if ("stale" in got) return w.hit(route, key, got.stale, thisArg, undefined, outer);
        outcome = got;
      }
      if (!outcome.failed) {
        w.miss(thisArg, key, route);
        return outcome.result;
      }
      if ((own ?? defaults.get(core) ?? every)(outcome.result)) {
        let value = await core.read(route, key);
        if (value !== MISSING && w.valid !== undefined) value = await w.valid(route, key, value, thisArg);
        if (value !== MISSING) return w.hit(route, key, value, thisArg, undefined, outer);
      }
      w.miss(thisArg, key, route);
      throw outcome.result;
    }
  });
}
