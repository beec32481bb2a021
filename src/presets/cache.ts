/**
 * `Cache`, the full preset (the `cashews` entry): {@link CoreCache} plus every strategy as a
 * method (`cache.failover(options)`), and every scheme registered (`redis://`, `upstash://`
 * loaded lazily on first use).
 * @module
 */
import { redisSpec } from "../backends/redis/spec.js";
import { upstashSpec } from "../backends/upstash/spec.js";
import { registerScheme } from "../config/registry.js";
import { failover, setDefaultFailExceptions, type FailoverOptions } from "../strategies/failover.js";
import { dynamic, hit, type DynamicOptions, type HitOptions } from "../strategies/hit.js";
import { singleFlight, type SingleFlightOptions } from "../strategies/in-flight.js";
import type { ErrorClass } from "../conditions.js";
import { early, type EarlyOptions } from "../strategies/early.js";
import { soft, type SoftOptions } from "../strategies/soft.js";
import { locked, type LockedOptions } from "../strategies/locked.js";
import { rateLimit, type RateLimitOptions } from "../strategies/rate-limit.js";
import { slidingRateLimit, type SlidingRateLimitOptions } from "../strategies/sliding-rate-limit.js";
import { limiter, type Limiter, type LimiterOptions } from "../strategies/limiter.js";
import { circuitBreaker, type CircuitBreakerOptions } from "../strategies/circuit-breaker.js";
import { perf, type PerfOptions } from "../strategies/perf.js";
import { iterator, type IteratorDecorator, type IteratorOptions } from "../strategies/iterator.js";
import { invalidate, type InvalidateOptions, type InvalidateTarget } from "../strategies/invalidate.js";
import type { Decorator } from "../wrap/decorator.js";
import { CoreCache } from "./core-cache.js";
import { stateOf } from "../core/state.js";
import { checkMembers, rawText, rawValue, runCommand, utf8Length } from "../core/extra-commands.js";
import { Command } from "../context/scope.js";
import { toExpiry, type Duration } from "../durations.js";

/**
 * A cache: one or more backends selected by key prefix, with every command and strategy.
 * The instance is callable: `cache(options)` is `cache.cache(options)`.
 * @example
 * const cache = new Cache("app").setup("mem://?size=1000");
 * await cache.set("user:1", { name: "Ada" }, { expire: "10m" });
 * const getUser = cache({ ttl: "1h", key: "user:{id}" })(async (id: string) => db.user(id));
 * const getRates = cache.failover({ ttl: "1d" })(async function getRates() { return api.rates(); });
 */
export class Cache extends CoreCache {
  constructor(name = "") {
    super(name);
    registerScheme(redisSpec);
    registerScheme(upstashSpec);
  }

  // ------------------------------------------------ raw text, size, sets (the original's commands)

  /**
   * Stores `text` as is under `key`: no codec, no signature (a `get` of it decodes it like any
   * stored text: text the codec did not write reads as missing, and under a `secret` the unsigned
   * text is tampered: a miss, deleted). `mem://` without `serialize` stores values, not text: there
   * it takes only text the codec writes (as {@link Cache.getRaw} answers it) and stores its value,
   * else rejects with {@link SerializationError}. Options as for `set` (`expire`, `exist`).
   * Resolves whether it was written.
   * @throws TypeError when `text` is not a string.
   * @example
   * await cache.setRaw("legacy:1", "plain text written by another program", { expire: "1h" });
   * await cache.getRaw("legacy:1"); // "plain text written by another program"
   */
  async setRaw(key: string, text: string, options: { expire?: Duration | null; exist?: boolean } = {}): Promise<boolean> {
    const expire = toExpiry(options.expire, "setRaw: expire");
    const core = stateOf(this, "setRaw");
    const value = rawValue(core.route(checkKey(key)), text, core.types);
    return runCommand(core, Command.SET_RAW, key, false, async (b, route) => {
      const ok = await b.set(key, value, expire, options.exist);
      if (ok) core.written(key, route);
      return ok;
    });
  }

  /**
   * The stored text of `key` as is (no decoding, no signature check), or `undefined` when missing:
   * the codec's text of a value written by `set` (signed under a `secret`), a counter's digits, a
   * lock's token. On `mem://` without `serialize`, which stores values, the codec's text of the
   * value (what a serialising backend would store). No hit or miss is counted.
   * @example
   * await cache.set("user:1", { name: "Ada" });
   * await cache.getRaw("user:1"); // '{"name":"Ada"}'
   */
  async getRaw(key: string): Promise<string | undefined> {
    const core = stateOf(this, "getRaw");
    return runCommand(core, Command.GET_RAW, key, undefined as string | undefined, async (b, route) => rawText(route, await b.get(key), core.types));
  }

  /**
   * Bytes the value of `key` takes as stored: the UTF-8 length of its stored text (on `mem://`
   * without `serialize`, of the text the codec would write); `-2` when missing (as `getExpire`),
   * also the neutral answer when the backend fails in safe mode.
   * @example
   * await cache.set("greeting", "héllo");
   * await cache.getSize("greeting"); // 8: the codec's '"héllo"', é is 2 bytes
   * await cache.getSize("missing");  // -2
   */
  async getSize(key: string): Promise<number> {
    const core = stateOf(this, "getSize");
    return runCommand(core, Command.GET_SIZE, key, -2, async (b, route) => {
      const text = rawText(route, await b.get(key), core.types);
      return text === undefined ? -2 : utf8Length(text);
    });
  }

  /**
   * Adds string members to the set at `key` (creating it), atomically; with `expire` the whole
   * set's TTL becomes `expire` (on every add), without it the TTL is left as it is. Resolves how
   * many members were new (`0` in safe mode when the backend fails). Sets live on `mem://`,
   * `redis://` (also Cluster and clientSide, where the local copy never holds them), `upstash://`,
   * `deno-kv://` and custom backends that implement them; Workers KV and the Cache API refuse with
   * {@link CacheCapabilityError}. A set is not a value: `get` of its key is an error (safe mode:
   * a miss), `delete`/`expire`/`exists` work on it as on any key.
   * @throws TypeError when a member is not a string.
   * @example
   * await cache.setAdd("online", ["ada", "grace"], { expire: "5m" }); // 2
   * await cache.setAdd("online", "ada");                             // 0: already there
   */
  async setAdd(key: string, members: string | Iterable<string>, options: { expire?: Duration | null } = {}): Promise<number> {
    const list = checkMembers("setAdd", members);
    const expire = toExpiry(options.expire, "setAdd: expire");
    if (list.length === 0) return 0;
    return runCommand(stateOf(this, "setAdd"), Command.SET_ADD, key, 0, (b) => b.setAdd!(key, list, expire), "setAdd");
  }

  /**
   * Removes members from the set at `key`; resolves how many were there. Removing the last one
   * removes the key.
   * @example
   * await cache.setRemove("online", "ada", "nobody"); // 1
   */
  async setRemove(key: string, ...members: string[]): Promise<number> {
    const list = checkMembers("setRemove", members);
    if (list.length === 0) return 0;
    return runCommand(stateOf(this, "setRemove"), Command.SET_REMOVE, key, 0, (b) => b.setRemove!(key, list), "setRemove");
  }

  /**
   * Removes and returns up to `count` (default 1) arbitrary members of the set at `key`; `[]`
   * when it is missing. Atomic: concurrent pops never return the same member twice.
   * @throws TypeError when `count` is not a positive integer.
   * @example
   * await cache.setAdd("jobs", ["a", "b", "c"]);
   * await cache.setPop("jobs", 2); // e.g. ["c", "a"]
   */
  async setPop(key: string, count = 1): Promise<string[]> {
    if (!Number.isSafeInteger(count) || count < 1) throw new TypeError(`setPop: count must be a positive integer, got ${String(count)}`);
    return runCommand(stateOf(this, "setPop"), Command.SET_POP, key, [] as string[], (b) => b.setPop!(key, count), "setPop");
  }

  /**
   * Every member of the set at `key`, in no particular order; `[]` when it is missing.
   * @example
   * await cache.setMembers("online"); // ["grace"]
   */
  async setMembers(key: string): Promise<string[]> {
    return runCommand(stateOf(this, "setMembers"), Command.SET_MEMBERS, key, [] as string[], (b) => b.setMembers!(key), "setMembers");
  }

  /**
   * The `failover` strategy: always calls the function and stores each success; when it throws
   * one of `exceptions`, serves the last stored value instead (else rethrows). See {@link FailoverOptions}.
   * @example
   * const getRates = cache.failover({ ttl: "1d", exceptions: UpstreamError })(async () => api.rates());
   */
  failover<A extends any[] = any[]>(options: FailoverOptions<A>): Decorator<A> {
    return failover(this, options);
  }

  /**
   * Sets the errors this cache's failovers without their own `exceptions` answer with the last
   * stored value (the original's `set_default_fail_exceptions`; by default every error). Applies
   * to failovers wrapped before the call too; `Error` goes back to every error. Anything but
   * error classes throws {@link CacheConfigError}.
   * @example
   * cache.setDefaultFailExceptions(UpstreamError, TimeoutError);
   * const getRates = cache.failover({ ttl: "1d" })(async function getRates() { return api.rates(); }); // a TypeError is rethrown
   */
  setDefaultFailExceptions(...exceptions: ErrorClass[]): void {
    setDefaultFailExceptions(this, ...exceptions);
  }

  /**
   * The `dynamic` strategy (the original's `cache.dynamic`): `hit` with `cacheHits: 3,
   * updateAfter: 1` and a default `ttl` of one day, prefix `dynamic`: every first hit of a value
   * refreshes it in the background, so a value that keeps being read keeps being recomputed, one
   * call behind. See {@link DynamicOptions}.
   * @example
   * const getPrices = cache.dynamic({ key: "prices:{market}" })(async (market: string) => api.prices(market));
   */
  dynamic<A extends any[] = any[]>(options: DynamicOptions<A> = {}): Decorator<A> {
    return dynamic(this, options);
  }

  /**
   * The `singleFlight` strategy (the original's `thunder_protection`): concurrent calls with the
   * same key (default: the same arguments) share one run of the function, in this process; no
   * caching. See {@link SingleFlightOptions}.
   * @example
   * const fetchConfig = cache.singleFlight()(async function fetchConfig(name: string) { return api.config(name); });
   * await Promise.all([fetchConfig("a"), fetchConfig("a")]); // one request
   */
  singleFlight<A extends any[] = any[]>(options: SingleFlightOptions<A> = {}): Decorator<A> {
    return singleFlight(this, options);
  }

  /**
   * The `hit` strategy: a stored result serves `cacheHits` hits, then is recomputed; with
   * `updateAfter` it is refreshed in the background at that hit. See {@link HitOptions}.
   * @example
   * const getConfig = cache.hit({ ttl: "1h", cacheHits: 100, updateAfter: 80 })(async (name: string) => api.config(name));
   */
  hit<A extends any[] = any[]>(options: HitOptions<A>): Decorator<A> {
    return hit(this, options);
  }

  /**
   * The `early` strategy: once a value is older than `earlyTtl`, the first hit starts one
   * background refresh (one across processes) while callers keep getting the cached value.
   * See {@link EarlyOptions}. Like every strategy, it also works as a TC39 method decorator.
   * @example
   * const getFeed = cache.early({ ttl: "10m", earlyTtl: "7m", key: "feed:{id}" })(async (id: string) => api.feed(id));
   */
  early<A extends any[] = any[]>(options: EarlyOptions<A>): Decorator<A> {
    return early(this, options);
  }

  /**
   * The `soft` strategy: after `softTtl` the value is recomputed in the foreground; if that throws
   * one of `exceptions`, the soft-expired value is served until `ttl`. See {@link SoftOptions}.
   * @example
   * const getProfile = cache.soft({ ttl: "1h", softTtl: "5m" })(async (id: string) => api.profile(id));
   */
  soft<A extends any[] = any[]>(options: SoftOptions<A>): Decorator<A> {
    return soft(this, options);
  }

  /**
   * The `locked` strategy: no caching; calls with the same key run one at a time across every
   * process sharing the backend. See {@link LockedOptions}.
   * @example
   * const migrate = cache.locked({ ttl: "5m", key: "migrate:{version}" })(async (version: string) => runMigration(version));
   */
  locked<A extends any[] = any[]>(options: LockedOptions<A>): Decorator<A> {
    return locked(this, options);
  }

  /**
   * The `rateLimit` strategy: a fixed window of `limit` calls per `period`, per call arguments by
   * default; over the limit, `action` runs instead or {@link RateLimitError} is thrown. See {@link RateLimitOptions}.
   * @example
   * const sendSms = cache.rateLimit({ limit: 3, period: "1m", ttl: "10m", key: "sms:{to}" })(
   *   async (to: string, text: string) => api.sms(to, text),
   * );
   */
  rateLimit<A extends any[] = any[]>(options: RateLimitOptions<A>): Decorator<A> {
    return rateLimit(this, options);
  }

  /**
   * The `slidingRateLimit` strategy: at most `limit` calls in any `period` (an exact sliding log).
   * See {@link SlidingRateLimitOptions}.
   * @example
   * const callApi = cache.slidingRateLimit({ limit: 100, period: "1h", key: "api:{user}" })(
   *   async (user: string, path: string) => api.get(path),
   * );
   */
  slidingRateLimit<A extends any[] = any[]>(options: SlidingRateLimitOptions<A>): Decorator<A> {
    return slidingRateLimit(this, options);
  }

  /**
   * A rate limiter (see {@link limiter}): `limit(id)` consumes from a fixed window, an exact
   * sliding window or a token bucket (one or several limits at once) in one atomic round trip and
   * answers `{ success, limit, remaining, reset, retryAfter, limits }`; also `getRemaining`,
   * `reset` and `blockUntilReady`. See {@link LimiterOptions}.
   * @example
   * const api = cache.limiter({ algorithm: "sliding", limit: 100, period: "1m", ephemeral: true });
   * const { success, retryAfter } = await api.limit(`user:${userId}`);
   * if (!success) throw new Error(`slow down: retry in ${retryAfter} ms`);
   */
  limiter(options: LimiterOptions): Limiter {
    return limiter(this, options);
  }

  /**
   * The `circuitBreaker` strategy: when the share of failed calls over `period` reaches
   * `errorsRate` %, calls fail fast with {@link CircuitBreakerOpenError} for `ttl`. One breaker
   * per function by default, shared through the backend. See {@link CircuitBreakerOptions}.
   * @example
   * const callPayments = cache.circuitBreaker({ errorsRate: 50, period: "1m", ttl: "30s", minCalls: 20 })(
   *   async function callPayments(order: string) { return api.pay(order); },
   * );
   */
  circuitBreaker<A extends any[] = any[]>(options: CircuitBreakerOptions<A>): Decorator<A> {
    return circuitBreaker(this, options);
  }

  /**
   * The `perf` strategy: a call slower than `factor` × the mean of the last `window` calls marks
   * the target degraded for `ttl`; meanwhile calls fail fast with {@link PerfDegradationError}.
   * See {@link PerfOptions}.
   * @example
   * const search = cache.perf({ ttl: "1m", factor: 3 })(async function search(query: string) { return api.search(query); });
   */
  perf<A extends any[] = any[]>(options: PerfOptions<A>): Decorator<A> {
    return perf(this, options);
  }

  /**
   * The `iterator` strategy: caches what an async generator yields, chunk by chunk, and replays a
   * completed run. See {@link IteratorOptions}.
   * @example
   * const rows = cache.iterator({ ttl: "10m", key: "rows:{table}" })(async function* (table: string) {
   *   for await (const row of db.stream(table)) yield row;
   * });
   * for await (const row of rows("users")) console.log(row);
   */
  iterator<A extends any[] = any[]>(options: IteratorOptions<A>): IteratorDecorator<A> {
    return iterator(this, options);
  }

  /**
   * The `invalidate` strategy: after the decorated function succeeds, delete a key template's
   * entries or a cached function's entry (see InvalidateOptions).
   * @example
   * const getUser = cache({ ttl: "1h", key: "user:{id}" })(async (id: string) => db.user(id));
   * const rename = cache.invalidate(getUser)(async (id: string, name: string) => db.rename(id, name));
   * const addItem = cache.invalidate("items:page:*")(async (item: Item) => db.add(item));
   */
  invalidate<A extends any[] = any[]>(target: InvalidateTarget, options?: InvalidateOptions<A>): Decorator<A> {
    return invalidate(this, target, options);
  }
}

function checkKey(key: unknown): string {
  if (typeof key !== "string") throw new TypeError(`key must be a string, got ${typeof key}`);
  return key;
}
