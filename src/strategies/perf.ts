/**
 * The `perf` strategy: performance-degradation detection. A call much slower than the recent
 * ones marks its target degraded in the backend, shared by every process, and calls then fail
 * fast with {@link PerfDegradationError} until the mark expires.
 * @module
 */
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf } from "../core/state.js";
import type { Duration } from "../durations.js";
import { CacheConfigError, PerfDegradationError } from "../errors.js";
import { LOCK_PREFIX } from "../core/route.js";
import { MISSING } from "../backends/types.js";
import { decorator, type Decorator } from "../wrap/decorator.js";
import { callKey, type KeyOption } from "../wrap/key.js";
import { checkOptions, positiveInteger, positiveMs, prefixOption } from "../options.js";
import { formatMs } from "../durations.js";

/**
 * Options of the `perf` strategy.
 * @example
 * const search = cache.perf({ ttl: "1m", factor: 3, window: 20, key: "search" })(async (query: string) => api.search(query));
 */
export interface PerfOptions<A extends any[] = any[]> {
  /** How long a target stays marked degraded (calls fail fast meanwhile). */
  ttl: Duration;
  /** A call slower than `factor` × the mean of the previous `window` durations marks the target. Default 2. */
  factor?: number;
  /** How many recent durations are kept (per target, in this process); the check starts once there are that many. Default 10. */
  window?: number;
  /** A template or a function of the call's arguments. Default: the function's name and arguments (one detector per argument set); a key without fields gives one per function. */
  key?: KeyOption<A>;
  /** Prepended to the key with a `:`. Default `"perf"`. */
  prefix?: string;
}

const KNOWN = ["ttl", "factor", "window", "key", "prefix"] as const;

/** Targets (keys) whose durations one decorated function keeps; beyond it the least recently used is forgotten. */
const MAX_TARGETS = 1000;

/**
 * Each call first checks the mark (`exists`-like read of `<key>`); when marked it throws
 * {@link PerfDegradationError} without calling. Otherwise it times the call; a successful call
 * slower than `factor` × the mean of the previous `window` durations (once `window` are known)
 * sets the mark (set-if-absent, TTL `ttl`). Every successful call's duration then joins the
 * window; failed calls are not timed. The durations stay in this process; the mark is shared.
 * Safe mode: a failing backend reads as "not degraded" and never marks.
 * @example
 * import { CoreCache, perf } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const search = perf(cache, { ttl: "1m", factor: 3 })(async function search(query: string) { return api.search(query); });
 */
export function perf<A extends any[] = any[]>(cache: CoreCache, options: PerfOptions<A>): Decorator<A> {
  const core = stateOf(cache, "perf");
  core.needAtWrap("perf", "locks");
  const name = "perf";
  checkOptions(name, options, KNOWN);
  const ttl = positiveMs(name, "ttl", options.ttl);
  const factor = options.factor ?? 2;
  if (typeof factor !== "number" || !Number.isFinite(factor) || factor < 1) {
    throw new CacheConfigError(`${name}: "factor" must be a number >= 1, got ${String(options.factor)}`);
  }
  const window = options.window === undefined ? 10 : positiveInteger(name, "window", options.window);
  const prefix = prefixOption(name, options.prefix, "perf");
  const keyOption = options.key;

  return decorator<A>(name, core, (target) => {
    const keyOf = callKey(name, target, keyOption as KeyOption<never[]> | undefined, prefix);
    const fn = target.fn;
    /** Recent durations per key, least recently used first. */
    const traces = new Map<string, number[]>();

    const trace = (key: string): number[] => {
      let durations = traces.get(key);
      if (durations === undefined) {
        durations = [];
        if (traces.size >= MAX_TARGETS) traces.delete(traces.keys().next().value!);
      } else traces.delete(key);
      traces.set(key, durations);
      return durations;
    };

    return { call: timed, keyOf };
    async function timed(thisArg: unknown, args: unknown[]): Promise<unknown> {
      const key = keyOf(thisArg, args);
      const route = core.route(key);
      const mark = await core.run(route, key, MISSING as unknown, (b) => b.get(key));
      if (mark !== MISSING) {
        const why = typeof mark === "string" && mark.startsWith(LOCK_PREFIX) ? `: ${mark.slice(LOCK_PREFIX.length)}` : "";
        throw new PerfDegradationError(`perf: ${JSON.stringify(key)} is degraded${why}; calls fail fast for up to ${formatMs(ttl)}`);
      }
      route.need("perf", "locks"); // before the call, not when a slow one is marked
      const started = performance.now();
      const result = await fn.apply(thisArg, args);
      const took = performance.now() - started;
      const durations = trace(key);
      if (durations.length >= window) {
        const mean = durations.reduce((a, b) => a + b, 0) / durations.length;
        if (took > factor * mean) {
          const detail = `a call took ${formatMs(took)}, over ${factor} × the mean ${formatMs(mean)} of the previous ${durations.length}`;
          await core.run(route, key, false, (b) => b.setLock(key, LOCK_PREFIX + detail, ttl));
        }
      }
      durations.push(took);
      if (durations.length > window) durations.shift();
      return result;
    }
  });
}
