/**
 * The `circuitBreaker` strategy: stops calling a failing dependency for a while. Its state lives
 * in the backend, so every process sharing it sees the same breaker.
 * @module
 */
import { MISSING } from "../backends/types.js";
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf } from "../core/state.js";
import type { ErrorClass } from "../conditions.js";
import { parseExceptions } from "./value.js";
import type { Duration } from "../durations.js";
import { CacheConfigError, CircuitBreakerOpenError } from "../errors.js";
import { LOCK_PREFIX, type Route } from "../core/route.js";
import { decorator, type Decorator } from "../wrap/decorator.js";
import { callKey, type KeyOption } from "../wrap/key.js";
import { checkOptions, positiveInteger, positiveMs, prefixOption } from "../options.js";
import { formatMs } from "../durations.js";

/**
 * Options of the `circuitBreaker` strategy.
 * @example
 * const callFlaky = cache.circuitBreaker({
 *   errorsRate: 50,     // open at 50 % failed calls …
 *   period: "1m",       // … over the last minute …
 *   minCalls: 20,       // … once there were 20 calls
 *   ttl: "30s",         // stay open 30 s
 *   halfOpenTtl: "10s", // then let one probe through at a time for 10 s
 *   exceptions: [UpstreamError],
 * })(async function callFlaky(path: string) { return api.get(path); });
 */
export interface CircuitBreakerOptions<A extends any[] = any[]> {
  /** Percentage of failed calls over `period` that opens the breaker: `0 < errorsRate <= 100`. */
  errorsRate: number;
  /** The sliding window over which calls and failures are counted. */
  period: Duration;
  /** How long the breaker stays open (every call fails fast with {@link CircuitBreakerOpenError}). */
  ttl: Duration;
  /**
   * After `ttl`, stay half-open this long: one call at a time probes the function (the others
   * fail fast); a successful probe closes the breaker, a failed one opens it again. Default: no
   * half-open phase, the breaker closes after `ttl`.
   */
  halfOpenTtl?: Duration;
  /** Which errors count as failures: a class or an array of classes. Default: every error. Others count as calls only. */
  exceptions?: ErrorClass | readonly ErrorClass[];
  /** Calls (in `period`) needed before the rate is judged. Default 1. */
  minCalls?: number;
  /** A template or a function of the call's arguments. Default: one breaker per function (the arguments are not part of the key). */
  key?: KeyOption<A>;
  /** Prepended to the key with a `:`. Default `"circuit_breaker"`. */
  prefix?: string;
}

const KNOWN = ["errorsRate", "period", "ttl", "halfOpenTtl", "exceptions", "minCalls", "key", "prefix"] as const;

/** The backend keys of one breaker. */
interface BreakerKeys {
  /** Set (with TTL `ttl`) while open. */
  open: string;
  /** Set (with TTL `ttl + halfOpenTtl`) from opening to the end of the half-open phase. */
  half: string;
  /** The probe's lock during the half-open phase. */
  probe: string;
  /** Sliding logs of the calls and of the failures over `period`. */
  total: string;
  fails: string;
}

/**
 * States, from the backend keys: open while `<key>:open` lives; then half-open while
 * `<key>:half_open` lives; else closed.
 *
 * Closed: the function is called; each completed call is recorded in a sliding log over
 * `period` (the backend's `slidingIncr`, exact), each listed failure in a second one. When a
 * failure brings the failure percentage to `errorsRate` (with at least `minCalls` calls in the
 * window), the breaker opens, and the logs are cleared so that it closes with fresh counts.
 * Half-open: the first caller takes the probe lock (set-if-absent) and calls the function; every
 * other caller fails fast meanwhile. Success (or an unlisted error) closes the breaker, a listed
 * error opens it again for `ttl`.
 * Safe mode: a failing backend reads as closed and records nothing: calls go through.
 * @example
 * import { CoreCache, circuitBreaker } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const pay = circuitBreaker(cache, { errorsRate: 50, period: "1m", ttl: "30s" })(async function pay(order: string) { return api.pay(order); });
 */
export function circuitBreaker<A extends any[] = any[]>(cache: CoreCache, options: CircuitBreakerOptions<A>): Decorator<A> {
  const core = stateOf(cache, "circuitBreaker");
  core.needAtWrap("circuitBreaker", "atomic", "locks");
  const name = "circuitBreaker";
  checkOptions(name, options, KNOWN);
  const errorsRate = options.errorsRate;
  if (typeof errorsRate !== "number" || !(errorsRate > 0 && errorsRate <= 100)) {
    throw new CacheConfigError(`${name}: "errorsRate" must be a percentage, 0 < errorsRate <= 100, got ${String(errorsRate)}`);
  }
  const period = positiveMs(name, "period", options.period);
  const ttl = positiveMs(name, "ttl", options.ttl);
  const halfOpenTtl = options.halfOpenTtl === undefined ? undefined : positiveMs(name, "halfOpenTtl", options.halfOpenTtl);
  const minCalls = options.minCalls === undefined ? 1 : positiveInteger(name, "minCalls", options.minCalls);
  const isFailure = parseExceptions(name, options.exceptions);
  const prefix = prefixOption(name, options.prefix, "circuit_breaker");
  const keyOption = options.key;

  return decorator<A>(name, core, (target) => {
    if (keyOption === undefined && !target.name) {
      throw new CacheConfigError(`${name}: an anonymous function has no breaker of its own: give it a name or pass "key"`);
    }
    // One breaker per function by default: the default key of a function without parameters.
    const keyOf =
      keyOption === undefined
        ? callKey(name, { ...target, fn: function () {} }, undefined, prefix)
        : callKey(name, target, keyOption as KeyOption<never[]>, prefix);
    const fn = target.fn;
    const none: [number, number] = [Number.NaN, 0];

    const isOpen = (key: string): CircuitBreakerOpenError =>
      new CircuitBreakerOpenError(`circuit breaker ${JSON.stringify(key)} is open: calls fail fast for up to ${formatMs(ttl)} after too many errors`);

    /** Records one completed call (and, when `failed`, one failure); opens the breaker when the rate is reached. */
    const record = async (route: Route, keys: BreakerKeys, failed: boolean): Promise<void> => {
      const log = (key: string): Promise<[number, number]> => core.run(route, key, none, (b) => b.slidingIncr(key, period, -1));
      if (!failed) {
        await log(keys.total);
        return;
      }
      const [[total], [fails]] = await Promise.all([log(keys.total), log(keys.fails)]);
      // NaN (safe mode) never opens.
      if (total >= minCalls && fails * 100 >= errorsRate * total) await trip(route, keys);
    };

    /** Opens the breaker (once: set-if-absent), starts the half-open clock, clears the logs. */
    const trip = async (route: Route, keys: BreakerKeys): Promise<void> => {
      const token = LOCK_PREFIX + crypto.randomUUID();
      if (!(await core.run(route, keys.open, false, (b) => b.setLock(keys.open, token, ttl)))) return;
      await core.run(route, keys.open, undefined, async (b) => {
        await Promise.all([
          halfOpenTtl === undefined ? undefined : b.set(keys.half, token, ttl + halfOpenTtl),
          b.deleteMany([keys.total, keys.fails, keys.probe]),
        ]);
      });
    };

    const close = (route: Route, keys: BreakerKeys): Promise<number> =>
      core.run(route, keys.half, 0, (b) => b.deleteMany([keys.half, keys.probe, keys.total, keys.fails]));

    return { call: breaker, keyOf };
    async function breaker(thisArg: unknown, args: unknown[]): Promise<unknown> {
      const key = keyOf(thisArg, args);
      const route = core.route(key);
      const keys: BreakerKeys = {
        open: `${key}:open`,
        half: `${key}:half_open`,
        probe: `${key}:probe`,
        total: `${key}:total`,
        fails: `${key}:fails`,
      };
      const [open, half] = await core.run(route, key, [MISSING, MISSING] as unknown[], (b) => b.getMany([keys.open, keys.half]));
      if (open !== MISSING) throw isOpen(key);
      // Refused before the function runs (not after it, when its outcome is recorded).
      route.need(name, "atomic", "locks");
      // Half-open: one caller at a time (holding the probe lock) calls the function; the others fail fast.
      const probing = half !== MISSING;
      if (probing && !(await core.run(route, keys.probe, false, (b) => b.setLock(keys.probe, LOCK_PREFIX + crypto.randomUUID(), halfOpenTtl!)))) {
        throw isOpen(key);
      }
      /** A probe's listed failure opens the breaker again, anything else closes it; a closed breaker records the call. */
      const after = (failed: boolean): Promise<unknown> => (probing ? (failed ? trip(route, keys) : close(route, keys)) : record(route, keys, failed));
      let result: unknown;
      try {
        result = await fn.apply(thisArg, args);
      } catch (error) {
        await after(isFailure(error));
        throw error;
      }
      await after(false);
      return result;
    }
  });
}
