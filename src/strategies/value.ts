/**
 * The value-strategy wrapper, the one every strategy that stores a function's results builds on
 * (`cache`, `failover`, `hit`, `early`, `soft`; `iterator` for its keys and counting): option
 * parsing, the stored envelope, keys, per-call counting, storing under a condition.
 * @internal
 * @module
 */
import { MISSING } from "../backends/types.js";
import { Raised } from "../codec/raised.js";
import { restoreErrorClass, type Condition, type ErrorClass } from "../conditions.js";
import type { CacheCore } from "../core/state.js";
import { toMs, type Duration } from "../durations.js";
import { CacheConfigError, SerializationError, TimeoutError } from "../errors.js";
import type { Route } from "../core/route.js";
import type { Target } from "../wrap/decorator.js";
import { callKey, functionCounters, type CallKey, type Counters, type KeyOption } from "../wrap/key.js";
import { checkOptions, checkTags, positiveMs, prefixOption, requiredTtl } from "../options.js";
import { background } from "../context/background.js";
import { currentWaitUntil, markServed, recordHit, scope, servedHere, watching, type DetectInfo, type Served } from "../context/scope.js";
import { parseSchema, type Check, type SchemaOption } from "../schema.js";

export { MISSING };

/**
 * An adaptive ttl (the `ttl` of every value strategy but `iterator`, and `earlyTtl`/`softTtl`):
 * called after the function with its result (for an error stored with `withExceptions`, the error)
 * and the call's arguments; returns a Duration, or `null` for no expiry (for `earlyTtl` and
 * `softTtl`: their default, a third of the call's ttl). A value that is not a Duration > 0, an `earlyTtl`/`softTtl` not shorter than the
 * call's ttl, or a function that throws is reported as a {@link CacheConfigError} through the
 * `error` event and nothing is stored; the caller still gets the result.
 * @example
 * const getToken = cache({ ttl: (token: Token) => token.expiresIn * 1000 - 5_000, key: "token:{scope}" })(
 *   async (scope: string) => auth.token(scope),
 * );
 */
export type TtlFunction<A extends any[] = any[]> = any[] extends A
  ? (result: any, ...args: any) => Duration | null
  : (result: any, ...args: NoInfer<A>) => Duration | null;

/** Options every value strategy accepts. */
export interface ValueOptions<A extends any[] = any[]> extends SchemaOption {
  /**
   * How long a stored result lives (required); `null` stores without expiry. A function
   * `(result, ...args) => Duration | null` decides per call, after it (see {@link TtlFunction}).
   */
  ttl: Duration | null | TtlFunction<A>;
  /** A template such as `"user:{id}"`, or a function of the call's arguments. Default: from the function's name and parameters. */
  key?: KeyOption<A>;
  /** Prepended to the key with a `:` (each strategy has its own default). */
  prefix?: string;
  /** Which results to store. Default: every result. */
  condition?: Condition;
  /** Store only results that took longer than this (combined with `condition` by AND). */
  timeCondition?: Duration;
  /**
   * Tags to attach to stored results: templates such as `"user:{id}"`, formatted with the call's
   * arguments (compiled at wrap time: an unknown placeholder fails then). `cache.deleteTags(tag)`
   * deletes the results stored with it.
   */
  tags?: readonly string[];
}

/**
 * The `upper` option of `cache`, `hit`, `dynamic`, `early`, `soft` and `iterator` (`failover`
 * always behaves so).
 * @example
 * const fromDb = cache({ ttl: "1h", key: "user:{id}" })(async (id: string) => db.user(id));
 * // keeps only users fromDb loaded, never copies of its hits
 * const recent = cache({ ttl: "1m", key: "recent:{id}", upper: true })(fromDb);
 */
export interface UpperOption {
  /**
   * Store only what the function computed: a call whose value an inner decorator served from
   * cache is returned but not stored (as the original's `upper=True`; `failover` always works so).
   * Without it a layer stores whatever its function returned, so a short-lived layer over a
   * long-lived one fills from it. An inner decorated call is seen when it is stacked directly
   * (`cache({ upper: true, … })(cache({ … })(fn))`, stacked method decorators) or called by the
   * function, before or after an `await` (after one only where the runtime has AsyncLocalStorage;
   * on Node 20/22 it slows the process's promises while an upper call is pending). Default false.
   */
  upper?: boolean;
}

/** Validates `upper` (a boolean or absent). */
export function upperOption(strategy: string, upper: unknown): boolean {
  if (upper !== undefined && typeof upper !== "boolean") throw new CacheConfigError(`${strategy}: "upper" must be a boolean, got ${typeof upper}`);
  return upper === true;
}

/** `exceptions`: an error class or a list of them. */
export type Exceptions = ErrorClass | readonly ErrorClass[];

const COMMON = ["ttl", "key", "prefix", "condition", "timeCondition", "tags", "schema", "strict"];

/** Wrap-time settings shared by the value strategies. */
export interface Common {
  strategy: string;
  /** The static ttl (ms; undefined: no expiry, or decided per call by `ttlFn`). */
  ttl: number | undefined;
  /** The adaptive ttl, when `ttl` is a function. */
  ttlFn: TtlFunction | undefined;
  prefix: string;
  /** True when the user chose the prefix (the default one does not name a function). */
  ownPrefix: boolean;
  key: KeyOption<never[]> | undefined;
  condition: Condition | undefined;
  slowerThan: number | undefined;
  /** Tag templates (empty: none). */
  tags: readonly string[];
  /** Store only what the function computed, not what an inner layer served from cache (`upper`; failover always). */
  upper: boolean;
  /** The `schema`'s check (undefined: none). */
  check: Check | undefined;
  /** `strict`: a computed value that fails the schema rejects the call. */
  strict: boolean;
}

/**
 * Validates the common options (and rejects unknown ones). `errors: false` rejects exception
 * conditions (`withExceptions`/`onlyExceptions`), for strategies that never store errors.
 */
export function parseCommon(strategy: string, options: ValueOptions<any>, extra: readonly string[], defaultPrefix: string, errors: boolean): Common {
  checkOptions(strategy, options, [...COMMON, ...extra]);
  const ttlFn = typeof options.ttl === "function" ? options.ttl : undefined;
  const ttl = ttlFn === undefined ? requiredTtl(strategy, options.ttl as Duration | null) : undefined;
  const { condition, timeCondition, prefix } = options;
  if (condition !== undefined && typeof condition !== "function") {
    throw new CacheConfigError(`${strategy}: "condition" must be a function (result, args, key) => boolean, got ${typeof condition}`);
  }
  if (!errors && condition?.errors !== undefined) {
    throw new CacheConfigError(`${strategy}: exception conditions (withExceptions, onlyExceptions) are not supported; use "exceptions"`);
  }
  const tags = checkTags(strategy, options.tags);
  return {
    strategy,
    ttl,
    ttlFn,
    prefix: prefixOption(strategy, prefix, defaultPrefix),
    ownPrefix: !!prefix,
    key: options.key as KeyOption<never[]> | undefined,
    condition,
    slowerThan: timeCondition === undefined ? undefined : toMs(timeCondition, `${strategy}: timeCondition`),
    tags,
    upper: upperOption(strategy, (options as UpperOption).upper),
    check: parseSchema(strategy, options.schema, options.strict),
    strict: options.strict === true,
  };
}

/**
 * Compiles tag templates at wrap time (an unknown placeholder throws CacheConfigError now);
 * resolves the call's tags, or undefined when there are none.
 */
export function tagsOf(strategy: string, target: Target, templates: readonly string[]): ((thisArg: unknown, args: unknown[]) => string[]) | undefined {
  if (templates.length === 0) return undefined;
  const builders = templates.map((template) => callKey(strategy, target, template, ""));
  return (thisArg, args) => builders.map((build) => build(thisArg, args));
}

/** `exceptions` as a predicate: default (undefined) matches every thrown value. */
export function parseExceptions(strategy: string, exceptions: Exceptions | undefined): (error: unknown) => boolean {
  if (exceptions === undefined) return () => true;
  const list: unknown[] = Array.isArray(exceptions) ? exceptions : [exceptions];
  for (const cls of list) {
    if (typeof cls !== "function") {
      throw new CacheConfigError(`${strategy}: "exceptions" must be an error class or an array of them, got ${cls === null ? "null" : typeof cls}`);
    }
  }
  const classes = list as ErrorClass[];
  return (error) => classes.some((cls) => error instanceof cls);
}

/** An optional duration shorter than `ttl` (e.g. `earlyTtl`); default `ttl × 0.33`. */
export function innerTtl(strategy: string, name: string, value: Duration | undefined, ttl: number | undefined): number {
  if (value === undefined) {
    if (ttl === undefined) throw new CacheConfigError(`${strategy}: "${name}" is required when ttl is null`);
    return Math.max(1, Math.round(ttl * 0.33));
  }
  const ms = Math.round(toMs(value, `${strategy}: ${name}`));
  if (ms <= 0) throw new CacheConfigError(`${strategy}: ${name} must be greater than 0`);
  if (ttl !== undefined && ms >= ttl) throw new CacheConfigError(`${strategy}: ${name} (${ms} ms) must be shorter than ttl (${ttl} ms)`);
  return ms;
}

/**
 * `earlyTtl`/`softTtl`: ms when fixed at wrap time, else the lifetime for one call whose ttl is
 * `ttl` (throws CacheConfigError).
 */
export type Inner = number | ((ttl: number | undefined, outcome: Outcome) => number);

/**
 * Parses `earlyTtl`/`softTtl` (a Duration, a function, or absent): checked against a static ttl
 * now, else per call (a function's null, or absent: the default, a third of the call's ttl).
 */
export function innerOption(common: Common, name: string, value: Duration | TtlFunction<any> | undefined): Inner {
  const { strategy } = common;
  if (typeof value === "function") return (ttl, outcome) => innerTtl(strategy, name, evaluate(strategy, name, value, outcome), ttl);
  if (common.ttlFn === undefined) return innerTtl(strategy, name, value, common.ttl);
  const ms = value === undefined ? undefined : innerTtl(strategy, name, value, undefined);
  return (ttl) => innerTtl(strategy, name, ms, ttl);
}

/** Calls an adaptive ttl: ms, or undefined for `null`; a throw or a bad value is a CacheConfigError. */
export function evaluate(strategy: string, name: string, fn: TtlFunction, outcome: Pick<Outcome, "result" | "args">): number | undefined {
  let value: unknown;
  try {
    value = fn(outcome.result, ...outcome.args);
  } catch (error) {
    throw new CacheConfigError(`${strategy}: the ${name} function threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (value === null) return undefined;
  const ms = typeof value === "number" || typeof value === "string" ? toMs(value, `${strategy}: the ${name} function returned`) : Number.NaN;
  if (!(ms > 0) || !Number.isFinite(ms)) {
    throw new CacheConfigError(`${strategy}: the ${name} function must return a Duration > 0 or null, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`);
  }
  return ms;
}

// ------------------------------------------------------------------------------------ timeouts

/**
 * The `timeout` option of `cache`, `early`, `soft` and `failover`: how long a caller waits for the
 * function (not for cache reads; hits are never bounded). Past `soft`, a caller with a stale value
 * at hand (`early` refreshing a due value with `background: false`, `soft`'s soft-expired value,
 * `failover`'s last stored value) gets it; past `hard`, the caller gets a {@link TimeoutError}, or
 * the stale value where the strategy serves one on errors. Either way the computation goes on in
 * the background (handed to the request's `waitUntil` where there is one) and its result is stored
 * when it completes. `cache` has no stale value: it takes only `hard`.
 * @example
 * const getProfile = cache.soft({ ttl: "1h", softTtl: "5m", timeout: { soft: "300ms", hard: "3s" } })(
 *   async (id: string) => api.profile(id),
 * );
 */
export interface TimeoutOption {
  /** Past this, a caller with a stale value at hand gets it (not on `cache`). */
  soft?: Duration;
  /** Past this, the caller gets a `TimeoutError` (or the stale value where errors are answered with it). */
  hard?: Duration;
}

/** The parsed `timeout` (ms). */
export interface Timeouts {
  soft: number | undefined;
  hard: number | undefined;
}

/** Validates `timeout` (`stale`: the strategy has a stale value to serve past `soft`). */
export function timeoutOption(strategy: string, value: unknown, stale: boolean): Timeouts | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CacheConfigError(`${strategy}: "timeout" must be an object { soft?, hard? } of Durations, got ${value === null ? "null" : typeof value}`);
  }
  checkOptions(`${strategy}: timeout`, value, stale ? ["soft", "hard"] : ["hard"]);
  const { soft, hard } = value as TimeoutOption;
  const ms = (name: string, d: Duration | undefined): number | undefined => (d === undefined ? undefined : positiveMs(strategy, `timeout.${name}`, d));
  const t = { soft: ms("soft", soft), hard: ms("hard", hard) };
  if (t.soft === undefined && t.hard === undefined) throw new CacheConfigError(`${strategy}: "timeout" needs soft or hard`);
  if (t.soft !== undefined && t.hard !== undefined && t.soft >= t.hard) {
    throw new CacheConfigError(`${strategy}: timeout.soft (${t.soft} ms) must be shorter than timeout.hard (${t.hard} ms)`);
  }
  return t;
}

/** Computations already handed to the background by a caller that stopped waiting. */
const left = /* @__PURE__ */ new WeakSet<Promise<unknown>>();

/**
 * Waits for `pending` within `t`: past `t.soft`, `stale()` may give a value to return (MISSING:
 * keep waiting); past `t.hard`, `hard(error)` answers (returns a value or throws). A caller that
 * stops waiting leaves `pending` to the background (its failure reported as an `error` event).
 */
export function bounded(
  core: CacheCore,
  strategy: string,
  pending: Promise<unknown>,
  t: Timeouts,
  stale: (() => unknown) | undefined,
  hard: (error: TimeoutError) => unknown,
): Promise<unknown> {
  // The request's waitUntil, read now: the timers may fire outside its context.
  const waitUntil = currentWaitUntil();
  return new Promise((resolve, reject) => {
    let done = false;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      for (const timer of timers) clearTimeout(timer);
      return true;
    };
    const leave = (answer: () => unknown): void => {
      if (!finish()) return;
      // Once per computation, however many callers joined it and left.
      if (!left.has(pending)) {
        left.add(pending);
        background(core, pending, waitUntil);
      }
      new Promise((r) => r(answer())).then(resolve, reject);
    };
    pending.then(
      (value) => finish() && resolve(value),
      (error: unknown) => finish() && reject(error),
    );
    if (t.soft !== undefined && stale !== undefined) {
      timers.push(
        setTimeout(() => {
          if (done) return;
          new Promise((r) => r(stale())).then(
            (value) => value !== MISSING && leave(() => value),
            () => undefined,
          );
        }, t.soft),
      );
    }
    if (t.hard !== undefined) {
      const ms = t.hard;
      timers.push(setTimeout(() => leave(() => hard(new TimeoutError(`${strategy}: the function took longer than timeout.hard (${ms} ms)`))), ms));
    }
  });
}

// ------------------------------------------------------------------------------------ envelope

/**
 * What `early` and `soft` store: the value and the moment (ms since the epoch, writer's clock)
 * after which it is due for a refresh. A plain object, so it round-trips through every codec.
 */
export interface Envelope {
  v: unknown;
  exp: number;
}

/** The envelope in a stored value, or undefined for anything else (a foreign value is a miss). */
export function envelopeOf(stored: unknown): Envelope | undefined {
  return typeof stored === "object" && stored !== null && typeof (stored as Envelope).exp === "number" && "v" in stored
    ? (stored as Envelope)
    : undefined;
}

// ------------------------------------------------------------------------------------ per target

/** The outcome of one call of the wrapped function. */
export interface Outcome {
  /** What the caller gets: the function's result (with a schema, its output), or the error. */
  result: unknown;
  /** What is stored: the function's own result (the schema's input), or the error. */
  stored: unknown;
  /** True when the result failed the schema (never stored; with `strict`, `result` is the {@link SchemaError}). */
  invalid: boolean;
  failed: boolean;
  /** How long it took (ms), measured only with a timeCondition. */
  took: number;
  /** True when an inner decorated call served a value from cache during the call (watched only by `upper` layers). */
  served: boolean;
  /** The call's `this` and arguments (for the condition, tag templates and messages). */
  thisArg: unknown;
  args: unknown[];
}

/** What a value strategy needs for one wrapped function. */
export interface Wrapper {
  keyOf: CallKey;
  counters: (thisArg: unknown) => Counters;
  /**
   * Calls the function; counts its errors. Never rejects. An `upper` layer watches what inner
   * layers serve from cache during it; `outer` is the enclosing layer call (from `servedHere()`,
   * read when the call started), marked too. With a schema the result is validated: `key`
   * names it in the `invalid` event.
   */
  call(thisArg: unknown, args: unknown[], outer: Served | undefined, key: string): Promise<Outcome>;
  /** True when the outcome is to be stored (condition and timeCondition; never what an inner layer served to an `upper` one). */
  storable(outcome: Outcome, key: string): boolean;
  /**
   * Writes `stored` (the result, or a Raised error) with the strategy's ttl (an adaptive one is
   * resolved from `outcome` here); with `inner` (early, soft) it is wrapped in the envelope whose
   * `exp` comes from it. A result that cannot be encoded throws SerializationError; an error that
   * cannot, and an adaptive ttl that fails, are reported and skipped (false). Written: the ttl used.
   */
  write(route: Route, key: string, stored: unknown, outcome: Outcome, inner?: Inner): Promise<false | { ttl: number | undefined }>;
  /**
   * Counts a call served from cache and returns its value (a stored error is rethrown); `extra`
   * goes into the detect record. `outer`: the enclosing `upper` layer call, read when the call
   * started (default: the one running synchronously now).
   */
  hit(route: Route, key: string, value: unknown, thisArg: unknown, extra?: Partial<DetectInfo>, outer?: Served): unknown;
  /** Counts a call not served from cache. */
  miss(thisArg: unknown, key: string, route?: Route): void;
  /**
   * With a schema: validates a stored value (a stored error passes): its output, or MISSING once
   * it is reported (`invalid`) and deleted; `envelope`: the value came from an envelope (`early`,
   * `soft`), which is what the deletion re-checks. Undefined without a schema.
   */
  valid: ((route: Route, key: string, value: unknown, thisArg: unknown, envelope?: boolean) => unknown) | undefined;
}

/** Builds the per-function helpers (key, counters, storing) at wrap time. */
export function wrapper(core: CacheCore, common: Common, target: Target): Wrapper {
  const { strategy, condition, slowerThan, ttl: staticTtl, ttlFn, upper } = common;
  const ttl = staticTtl;
  const keyOf = callKey(strategy, target, common.key, common.prefix);
  const fn = target.fn;
  const emitter = core.emitter;
  const template = typeof common.key === "string" ? common.key : undefined;
  const counters = functionCounters(core, target, common.ownPrefix ? common.prefix : (template ?? common.prefix));
  const tagged = tagsOf(strategy, target, common.tags);
  if (tagged !== undefined) core.needAtWrap(`${strategy}: tags`, "atomic");
  const { check, strict } = common;
  const pickV = (stored: unknown): unknown => envelopeOf(stored)?.v;
  return {
    keyOf,
    counters,
    async call(thisArg, args, outer, key) {
      const started = slowerThan === undefined ? 0 : performance.now();
      // A refused tag is refused before the function runs, not after it.
      if (tagged !== undefined) await core.needTags(tagged(thisArg, args));
      const watch: Served | undefined = upper ? { hit: false, parent: outer } : undefined;
      let result: unknown;
      let failed = false;
      try {
        result = await (watch === undefined ? fn.apply(thisArg, args) : watching(watch, () => fn.apply(thisArg, args)));
      } catch (error) {
        counters(thisArg).stats.errors++;
        result = error;
        failed = true;
      }
      const took = slowerThan === undefined ? 0 : performance.now() - started;
      const stored = result;
      let invalid = false;
      if (check !== undefined && !failed) {
        const checked = await check(result);
        if (checked.issues) {
          invalid = true;
          const error = core.invalid(core.route(key), key, strategy, counters(thisArg).label, false, checked.issues);
          if (strict) {
            counters(thisArg).stats.errors++;
            result = error;
            failed = true;
          }
        } else result = checked.value;
      }
      return { result, stored, invalid, failed, took, served: watch?.hit === true, thisArg, args };
    },
    storable({ result, stored, failed, took, served, invalid, args }, key) {
      return (
        !served &&
        !invalid &&
        (slowerThan === undefined || took > slowerThan) &&
        // The condition judges what would be stored: the function's own result.
        (failed ? condition?.errors?.(result) === true : condition === undefined || condition(stored, args, key))
      );
    },
    async write(route, key, stored, outcome, inner) {
      let ttl = staticTtl;
      if (ttlFn !== undefined || typeof inner === "function") {
        try {
          if (ttlFn !== undefined) ttl = evaluate(strategy, "ttl", ttlFn, outcome);
          if (inner !== undefined) stored = { v: stored, exp: Date.now() + (typeof inner === "number" ? inner : inner(ttl, outcome)) };
        } catch (error) {
          core.report(error, key, route);
          return false;
        }
      } else if (inner !== undefined) stored = { v: stored, exp: Date.now() + inner };
      try {
        // Tags were checked before the call (a value stored untagged would outlive its tags'
        // deletion); the key's own backend records them too, so it must take them.
        const tags = tagged?.(outcome.thisArg, outcome.args);
        if (tags !== undefined) route.need("tags", "atomic");
        const ok = await core.write(route, key, stored, ttl, undefined, tags);
        if (ok && tags !== undefined) await core.tagKey(key, tags, ttl);
        return ok && { ttl };
      } catch (error) {
        if (!(error instanceof SerializationError)) throw error;
        if (!outcome.failed) {
          throw new SerializationError(
            `${strategy}: ${counters(outcome.thisArg).label} ran, but its result cannot be cached: ${error.message}. Return plain data, or skip it with a condition`,
            { cause: error },
          );
        }
        core.report(error, key, route);
        return false;
      }
    },
    hit(route, key, value, thisArg, extra, outer) {
      const served = outer ?? servedHere();
      if (served !== undefined) markServed(served);
      const { stats, label } = counters(thisArg);
      core.hit(stats);
      core.probe?.outcome(true, strategy, label, template, route.label, key);
      if (emitter.counts.hit > 0) emitter.emit({ type: "hit", key, backend: route.label, function: label });
      if (scope.live !== 0) recordHit(key, { name: strategy, ttl, backend: route.label, template, function: label, ...extra });
      if (Raised.created && value instanceof Raised) throw restoreErrorClass(value.error, condition?.classes);
      return value;
    },
    miss(thisArg, key, route) {
      const { stats, label } = counters(thisArg);
      core.miss(stats);
      core.probe?.outcome(false, strategy, label, template, (route ??= core.route(key)).label, key);
      if (emitter.counts.miss > 0) emitter.emit({ type: "miss", key, backend: (route ??= core.route(key)).label, function: label });
    },
    valid: check && ((route, key, value, thisArg, envelope) => core.checked(route, key, value, check, strategy, counters(thisArg).label, envelope ? pickV : undefined)),
  };
}

/**
 * In-process single-flight: joins the promise under way for `key`, or starts one. Without
 * `inflight` (a strategy's `protected: false`) every call starts its own. A join is a stampede
 * wait for the cache's probe.
 */
export function flight<T>(core: CacheCore, inflight: Map<string, Promise<T>> | undefined, key: string, start: () => Promise<T>): Promise<T> {
  if (inflight === undefined) return start();
  let pending = inflight.get(key);
  if (pending === undefined) {
    pending = start().finally(() => inflight.delete(key));
    inflight.set(key, pending);
    return pending;
  }
  return joined(core, key, pending);
}

/** A caller joining the computation under way for `key` (`pending`): reported to the probe as a stampede wait. */
export function joined<T>(core: CacheCore, key: string, pending: Promise<T>): Promise<T> {
  return core.probe?.joined(core, key, pending) ?? pending;
}

