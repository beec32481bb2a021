/**
 * `CoreCache`, the lean preset (the `cashews/core` entry): setup by URL, prefix routing, every
 * command, locks, events and stats, scopes, and the simple strategy as `cache.cache(options)`.
 * Every other strategy is a standalone function taking the cache (`failover(cache, options)`);
 * `Cache` (the `cashews` entry) extends this class with them as methods.
 * @module
 */
import { MISSING, type Backend, type TagPopped } from "../backends/types.js";
import { memorySpec, Structure } from "../backends/memory.js";
import { parseSetup } from "../config/parse.js";
import { registerScheme } from "../config/registry.js";
import { sleep, toExpiry, toMs, type Duration } from "../durations.js";
import { CacheConfigError } from "../errors.js";
import { parseSchema, type StandardSchemaV1 } from "../schema.js";
import type { CacheEventType, CacheListener, CacheStats } from "../events.js";
import { CacheCore, readMany, TAG_PREFIX, writeMany } from "../core/state.js";
import { acquireLock, lockWaitMs, type Lock, type LockOptions } from "../core/locks.js";
import { LOCK_PREFIX, Route } from "../core/route.js";
import { Raised } from "../codec/raised.js";
import type { TypeCodec } from "../codec/types.js";
import { checkTags, lockTtlMs } from "../options.js";
import { cache as cacheStrategy, type CacheOptions } from "../strategies/cache.js";
import type { Decorator } from "../wrap/decorator.js";
import {
  Command,
  detect,
  disablingFor,
  invalidateFurther,
  isDisabled,
  isInvalidating,
  setCommands,
  type DetectKeys,
  type Scoped,
} from "../context/scope.js";
import type { Middleware } from "../core/middleware.js";

export type { Lock, LockOptions, Middleware };

/**
 * Which backend `disable`, `enable`, `isDisabled` and `disabling` address: the one set up with
 * `prefix` (`""`: the default backend).
 * @example
 * cache.setup("redis://localhost:6379", { prefix: "user:" });
 * cache.disable({ prefix: "user:" }, Command.SET);
 */
export interface DisableTarget {
  /** The `prefix` the backend was set up with. */
  prefix: string;
}

/**
 * Options of {@link CoreCache.set}.
 * @example
 * await cache.set("user:1", user, { expire: "1h", tags: ["users"] });
 * await cache.set("job:1", "queued", { exist: false }); // only if absent (NX)
 */
export interface SetOptions {
  /** Time to live; `0`, `null` or absent: no expiry (an existing TTL is removed). */
  expire?: Duration | null;
  /** `true`: write only if the key exists (XX); `false`: only if it does not (NX). */
  exist?: boolean;
  /**
   * The tags the entry carries from this write on (replacing those it carried; without `tags`
   * it carries none): `cache.deleteTags(tag)` deletes it while it carries `tag` (see
   * {@link CoreCache.deleteTags}).
   */
  tags?: readonly string[];
}

/**
 * Options of {@link CoreCache.incr}.
 * @example
 * await cache.incr("views:post:1", 1, { expire: "1d", tags: ["post:1"] });
 */
export interface IncrOptions {
  /** Time to live of a counter this call creates (an existing counter keeps its TTL). */
  expire?: Duration | null;
  /**
   * Tags the counter carries from now on, besides those it carried: `cache.deleteTags(tag)`
   * deletes it. An `incr` without tags keeps the counter's tags; a `set` replaces them.
   */
  tags?: readonly string[];
}

/** Members popped per round trip by `deleteTags`. */
const TAG_BATCH = 250;

const sum = (counts: number[]): number => counts.reduce((a, b) => a + b, 0);

// The "return override" base lets every Cache instance be a function (so `cache(options)` works)
// while still carrying the class's private fields.
const Callable = class {
  constructor(target: object) {
    return target;
  }
} as new (target: object) => object;

/**
 * The lean cache: one or more backends selected by key prefix, every command, locks, events,
 * scopes and the simple strategy; the other strategies are standalone functions that take it
 * (`failover(cache, options)`), so a bundle holds only the ones it uses. Only `mem://` is
 * registered: `import "cashews/redis"` or `"cashews/upstash"` adds theirs. The instance is
 * callable: `cache(options)` is `cache.cache(options)`.
 * @example
 * import { CoreCache, failover } from "cashews/core";
 * const cache = new CoreCache("app").setup("mem://?size=1000");
 * const getUser = cache.cache({ ttl: "1h", key: "user:{id}" })(async (id: string) => db.user(id));
 * const getRates = failover(cache, { ttl: "1d" })(async function getRates() { return api.rates(); });
 */
export class CoreCache extends Callable {
  readonly #core: CacheCore;

  constructor(name = "") {
    const callable = function (this: unknown, options: CacheOptions): Decorator {
      return (callable as unknown as CoreCache).cache(options);
    };
    delete (callable as { name?: string }).name;
    delete (callable as { length?: number }).length;
    super(callable);
    Object.setPrototypeOf(callable, new.target.prototype);
    this.#core = new CacheCore(name, this);
    registerScheme(memorySpec);
  }

  /**
   * The cache's name (for diagnostics), as given to the constructor.
   * @example
   * new CoreCache("sessions").name; // "sessions"
   */
  get name(): string {
    return this.#core.name;
  }

  /** @internal The route serving `key` (for tests and tools). */
  route(key: string): Route {
    return this.#core.route(key);
  }

  /** One command on the route of `key` (checked to be a string), with safe-mode handling. */
  #on<T>(key: string, neutral: T, command: (backend: Backend, route: Route) => Promise<T>, what?: string): Promise<T> {
    checkKey(key, what);
    const route = this.#core.route(key);
    return this.#core.run(route, key, neutral, (b) => command(b, route));
  }

  /** One command on every route (the cache must be set up). */
  #every<T>(neutral: T, command: (backend: Backend) => Promise<T>): Promise<T[]> {
    const core = this.#core;
    core.requireSetup();
    return Promise.all(core.routes.map((route) => core.run(route, undefined, neutral, command)));
  }

  /**
   * Configures a backend by URL. Validates everything now (throws {@link CacheConfigError}),
   * does no I/O and starts no timer; connection happens on first use or {@link CoreCache.init}.
   * Calling it again with the same `prefix` replaces (and closes) that backend.
   * @example
   * cache.setup("mem://?size=10000&checkInterval=1s");
   * cache.setup("redis://localhost:6379/0", { prefix: "user", secret: "s3cret" });
   */
  setup(url: string, options?: Record<string, unknown>): this {
    const previous = this.#core.addRoute(new Route(parseSetup(url, options), this.#core.emitter, this.#core.types));
    if (previous) {
      previous.retired = true;
      previous.close().catch((error: unknown) => this.#core.report(error, undefined, previous));
    }
    return this;
  }

  /**
   * Stores instances of `Class` faithfully on every backend of this cache: `encode` turns an
   * instance into storable data (plain data, built-ins, other registered instances), `decode`
   * turns it back. Stored values name the type (`name`, unique per cache, 1 to 64 characters of
   * letters, digits and `_ $ . : -`), not the class. Applies to every route, also those set up
   * before; instances nest anywhere in a value (arrays, objects, Maps, other registered types).
   * Only exact instances match: a subclass must be registered itself, else `set` rejects it with
   * {@link SerializationError} like any unregistered class. A cache that reads a value holding a
   * type it has not registered (or whose `decode` throws) gets a miss and an `error` event, never
   * a wrong value. `mem://` with live values keeps the instance itself (checked, not copied), as
   * it keeps every value; with a custom `serializer` the serializer decides.
   * @throws {CacheConfigError} for something that is not a class, a built-in the cache stores
   *   natively, a bad name or codec, or a name or class already registered otherwise.
   * @example
   * class Point { constructor(readonly x: number, readonly y: number) {} }
   * cache.registerType(Point, { name: "Point", encode: (p) => ({ x: p.x, y: p.y }), decode: (d) => new Point(d.x, d.y) });
   * await cache.set("origin", { at: new Point(0, 0) });
   * (await cache.get<{ at: Point }>("origin"))?.at instanceof Point; // true
   */
  registerType<T extends object, Data = unknown>(Class: abstract new (...args: never[]) => T, codec: TypeCodec<T, Data>): this {
    this.#core.types.register(Class, codec);
    return this;
  }

  /**
   * True once `setup` has been called.
   * @example
   * if (!cache.isSetup()) cache.setup("mem://");
   */
  isSetup(): boolean {
    return this.#core.routes.length > 0;
  }

  /**
   * Connects every backend now. Safe mode: resolves and emits `error` for an unreachable backend;
   * `safe: false`: rejects with {@link CacheBackendError}. Configuration errors always reject.
   * @example
   * cache.setup("redis://localhost:6379", { safe: false });
   * await cache.init(); // connects now; rejects when Redis is unreachable
   */
  async init(): Promise<void> {
    await this.#every(undefined, async () => undefined);
  }

  /**
   * Releases every connection and timer. The cache can be used again afterwards (it reconnects lazily).
   * @example
   * process.on("SIGTERM", () => void cache.close());
   */
  async close(): Promise<void> {
    await Promise.all(this.#core.routes.map((route) => route.close()));
  }

  /**
   * Subscribes to `hit`, `miss`, `set`, `delete`, `error` or `tampered`; returns an unsubscribe
   * function. A listener that throws is logged and does not affect the command.
   * @example
   * const off = cache.on("error", ({ key, backend, error }) => console.error(backend, key, error));
   * off(); // unsubscribe
   */
  on(type: CacheEventType, listener: CacheListener): () => void {
    return this.#core.emitter.on(type, listener);
  }

  /**
   * Counters since creation (or the last `resetStats`): commands and decorated calls, and per
   * decorated function.
   * @example
   * const { hits, misses, functions } = cache.stats();
   * console.log(`hit ratio ${hits / (hits + misses)}`, functions["getUser"]);
   */
  stats(): CacheStats {
    const stats = this.#core.stats;
    const functions: CacheStats["functions"] = {};
    for (const [name, f] of Object.entries(stats.functions)) functions[name] = { ...f };
    return { ...stats, functions };
  }

  /**
   * Sets every counter back to zero.
   * @example
   * cache.resetStats();
   * cache.stats().hits; // 0
   */
  resetStats(): void {
    const stats = this.#core.stats;
    stats.hits = stats.misses = stats.sets = stats.deletes = stats.errors = 0;
    for (const f of Object.values(stats.functions)) f.hits = f.misses = f.errors = 0;
  }

  // ---------------------------------------------------------------- scopes

  /**
   * Disables commands (none: all) for this cache, or with `{ prefix }` first only on the backend
   * set up with that prefix (`""`: the default one). Inside a scope (`disabling`, `detect`,
   * `invalidateFurther`, `runWithWaitUntil`) only that scope's async context is affected;
   * outside every scope it changes the process-wide default. A disabled command returns its
   * neutral value without touching the backend (nor the middleware); decorators recompute (GET
   * disabled) and call the function directly when everything is disabled for the whole cache.
   * @throws CacheConfigError for a `prefix` no backend of the (set up) cache has.
   * @example
   * cache.disable(Command.SET);                       // still served from cache, nothing new stored
   * cache.disable();                                  // everything: decorated functions are called directly
   * cache.disable({ prefix: "user:" }, Command.GET);  // only the backend of prefix "user:"
   */
  disable(...commands: Command[]): void;
  disable(target: DisableTarget, ...commands: Command[]): void;
  disable(...args: (DisableTarget | Command)[]): void {
    const [scoped, commands] = this.#target("disable", args);
    setCommands(scoped, commands, true);
  }

  /**
   * Enables commands (none: all), for the whole cache or with `{ prefix }` for one backend, with
   * the same scoping as {@link CoreCache.disable}. Enabling for the whole cache does not undo a
   * disable of one prefix: enable that prefix.
   * @example
   * cache.enable(Command.SET);
   * cache.enable(); // everything
   * cache.enable({ prefix: "user:" }); // everything on the "user:" backend
   */
  enable(...commands: Command[]): void;
  enable(target: DisableTarget, ...commands: Command[]): void;
  enable(...args: (DisableTarget | Command)[]): void {
    const [scoped, commands] = this.#target("enable", args);
    setCommands(scoped, commands, false);
  }

  /**
   * True when any of `commands` (none: any command at all) is disabled here; with `{ prefix }`,
   * disabled for that backend (for the whole cache or for the prefix).
   * @example
   * cache.isDisabled(Command.GET, Command.GET_MANY);
   * cache.isDisabled(); // anything disabled at all?
   * cache.isDisabled({ prefix: "user:" }, Command.SET);
   */
  isDisabled(...commands: Command[]): boolean;
  isDisabled(target: DisableTarget, ...commands: Command[]): boolean;
  isDisabled(...args: (DisableTarget | Command)[]): boolean {
    const [scoped, commands] = this.#target("isDisabled", args);
    const list = commands.length === 0 ? Object.values(Command) : commands;
    const core = this.#core;
    return list.some((command) => (scoped === core ? isDisabled(core, command) : isDisabled(core, command, scoped)));
  }

  /**
   * Runs `fn` with `commands` (none: all) disabled, for the whole cache or with `{ prefix }` for
   * one backend, in `fn`'s async context only: concurrent work outside is unaffected, and the
   * previous state is back afterwards.
   * @example
   * await cache.disabling(() => getUser("1"), Command.GET); // recomputed, still stored
   * await cache.disabling(() => getUser("1"), { prefix: "user:" }, Command.GET);
   */
  disabling<R>(fn: () => R, ...commands: Command[]): R;
  disabling<R>(fn: () => R, target: DisableTarget, ...commands: Command[]): R;
  disabling<R>(fn: () => R, ...args: (DisableTarget | Command)[]): R {
    const [scoped, commands] = this.#target("disabling", args);
    return disablingFor(scoped, commands, fn);
  }

  /** The disable state `args` address (the cache's, or one prefix's) and the commands after it. */
  #target(what: string, args: readonly (DisableTarget | Command)[]): [Scoped, Command[]] {
    const core = this.#core;
    const first = args[0];
    if (typeof first !== "object" || first === null) return [core, args as Command[]];
    const prefix = first.prefix;
    if (typeof prefix !== "string") throw new CacheConfigError(`${what}: { prefix } must be a string, got ${typeof prefix}`);
    if (core.routes.length > 0 && !core.routes.some((r) => r.prefix === prefix)) {
      throw new CacheConfigError(`${what}: no backend is set up with prefix ${JSON.stringify(prefix)} (prefixes: ${core.routes.map((r) => JSON.stringify(r.prefix)).join(", ")})`);
    }
    let scoped = core.prefixes.get(prefix);
    if (scoped === undefined) core.prefixes.set(prefix, (scoped = { disabled: new Set() }));
    return [scoped, args.slice(1) as Command[]];
  }

  /**
   * Registers a command middleware: it runs around every backend command of this cache, on every
   * backend (reads included, also those of decorated calls: once one is registered, the
   * synchronous hit fast paths are off and every read runs through it). The last registered
   * runs outermost. Events and stats are unchanged; a command disabled by `disable` does not run
   * and so does not reach it. A middleware that throws fails the command like a backend error
   * (safe mode: reported as an `error` event, the command resolves its neutral value). Returns
   * a function that removes it. See {@link Middleware}.
   * @example
   * const off = cache.use(async (command, args, next, backend) => {
   *   if (command === Command.SET && typeof args[1] === "string" && args[1].length > 100_000) return false; // skip big writes
   *   return next();
   * });
   * off(); // remove it
   */
  use(middleware: Middleware): () => void {
    if (typeof middleware !== "function") throw new CacheConfigError(`use: the middleware must be a function, got ${typeof middleware}`);
    return this.#core.use(middleware);
  }

  /**
   * Runs `fn` so that reads inside it delete their keys and miss (see the exported
   * `invalidateFurther`, which this is): decorated calls inside recompute and store again.
   * @example
   * const fresh = await cache.invalidateFurther(() => getUser("1"));
   */
  invalidateFurther<R>(fn: () => R): R {
    return invalidateFurther(fn);
  }

  /**
   * Runs `fn` and reports which decorated calls inside it were served from cache, by key
   * (`DetectInfo`: strategy name, ttl, backend, template, function).
   * @example
   * const { result, keys } = await cache.detect(() => handler(request));
   * if (Object.keys(keys).length > 0) console.log("served from cache:", Object.keys(keys));
   */
  detect<R>(fn: () => R | Promise<R>): Promise<{ result: Awaited<R>; keys: DetectKeys }> {
    return detect(fn);
  }

  /**
   * Reads a value. Missing, expired, undecodable or tampered → `defaultValue`.
   * A stored `undefined` is a hit and returns `undefined`.
   * @example
   * const user = await cache.get<User>("user:1");    // User | undefined
   * const visits = await cache.get<number>("visits", 0); // 0 when missing
   */
  async get<T = unknown>(key: string, defaultValue?: T): Promise<T | undefined> {
    return served(await this.#read(key), defaultValue);
  }

  /** Reads and counts one key: its value or MISSING. */
  async #read(key: string): Promise<unknown> {
    checkKey(key);
    const core = this.#core;
    const route = core.route(key);
    const value = await core.read(route, key);
    core.hitOrMiss(value, key, route);
    return value;
  }

  /**
   * Reads many keys, one round trip per backend; results in input order, `defaultValue` for
   * missing ones.
   * @example
   * const [a, b] = await cache.getMany<string>(["user:1:name", "user:2:name"], "anonymous");
   */
  async getMany<T = unknown>(keys: Iterable<string>, defaultValue?: T): Promise<(T | undefined)[]> {
    const values = await readMany(this.#core, checkKeys(keys), true);
    return values.map((value) => served(value, defaultValue));
  }

  /**
   * True when the key exists.
   * @example
   * if (await cache.exists("user:1")) console.log("cached");
   */
  async exists(key: string): Promise<boolean> {
    return this.#on(key, false, (b) => b.exists(key));
  }

  /**
   * Remaining time to live in ms; `-1` without expiry; `-2` when missing.
   * @example
   * await cache.set("session:1", "data", { expire: "30m" });
   * await cache.getExpire("session:1"); // ≈ 1800000
   */
  async getExpire(key: string): Promise<number> {
    return this.#on(key, -2, (b) => b.getExpire(key));
  }

  /**
   * Keys matching a glob pattern (`*`, `?`, `[ab]`, Redis semantics on every backend), fetched
   * `batchSize` (default 100) at a time.
   * @example
   * for await (const key of cache.scan("user:*")) console.log(key);
   */
  async *scan(pattern: string, options: { batchSize?: number } = {}): AsyncIterable<string> {
    checkKey(pattern, "pattern");
    const batchSize = options.batchSize ?? 100;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new CacheConfigError(`scan: batchSize must be a positive integer, got ${String(options.batchSize)}`);
    }
    const core = this.#core;
    const route = core.route(pattern);
    if (!route.enabled || isDisabled(core, Command.SCAN, core.prefixes.get(route.prefix))) return;
    const seen = new Set<string>();
    try {
      for await (const key of (route.backend ?? (await route.start())).scan(pattern, batchSize)) {
        if (!seen.has(key)) {
          seen.add(key);
          yield key;
        }
      }
    } catch (error) {
      core.failed(error, pattern, route);
    }
  }

  /**
   * `[key, value]` pairs for the keys matching a glob pattern (values read with `getMany`,
   * `batchSize` keys at a time).
   * @example
   * for await (const [key, user] of cache.getMatch<User>("user:*")) console.log(key, user.name);
   */
  async *getMatch<T = unknown>(pattern: string, options: { batchSize?: number } = {}): AsyncIterable<[string, T]> {
    checkKey(pattern, "pattern");
    if (isDisabled(this.#core, Command.GET_MATCH, this.#core.prefixes.get(this.#core.route(pattern).prefix))) return;
    if (isInvalidating()) {
      await this.deleteMatch(pattern);
      return;
    }
    let batch: string[] = [];
    const batchSize = options.batchSize ?? 100;
    const flush = async (): Promise<[string, T][]> => {
      const keys = batch;
      batch = [];
      const values = await this.getMany<T | typeof MISSING>(keys, MISSING);
      return keys.map((key, i): [string, T] => [key, values[i] as T]).filter((_, i) => values[i] !== MISSING);
    };
    for await (const key of this.scan(pattern, options)) {
      if (batch.push(key) >= batchSize) yield* await flush();
    }
    if (batch.length > 0) yield* await flush();
  }

  /**
   * Number of keys across every backend of this cache (a network backend counts its namespace only).
   * @example
   * const count = await cache.getKeysCount();
   */
  async getKeysCount(): Promise<number> {
    return sum(await this.#every(0, (b) => b.getKeysCount()));
  }

  /**
   * `"PONG"`, or the message echoed, from the default backend (else the first one).
   * @example
   * await cache.ping();       // "PONG"
   * await cache.ping("hello"); // "hello"
   */
  async ping(message?: string): Promise<string> {
    const core = this.#core;
    core.requireSetup();
    const routes = core.routes;
    return core.run(routes.find((r) => r.prefix === "") ?? routes[0]!, undefined, "", (b) => b.ping(message));
  }

  // ---------------------------------------------------------------- writes

  /**
   * Stores a value. Without `expire` the key has no TTL afterwards. Resolves whether it was written.
   * @throws SerializationError for a value that cannot round-trip (nothing is written).
   * @example
   * await cache.set("user:1", { name: "Ada", born: new Date(1815, 11, 10) }, { expire: "1h" });
   * await cache.set("job:1", "queued", { exist: false }); // false when it already existed
   */
  async set(key: string, value: unknown, options: SetOptions = {}): Promise<boolean> {
    checkKey(key);
    const expire = toExpiry(options.expire, "set: expire");
    const tags = checkTags("set", options.tags);
    if (tags.length > 0) await this.#core.needTags(tags, key);
    const ok = await this.#core.write(this.#core.route(key), key, value, expire, options.exist, tags);
    if (ok && tags.length > 0) await this.#core.tagKey(key, tags, expire);
    return ok;
  }

  /**
   * Deletes every entry that carries any of `tags` now, then the tags themselves; resolves how
   * many entries were deleted. An entry carries the tags of its last write (`set(…, { tags })`,
   * a decorator's `tags`), and those `incr(…, { tags })` added: a key deleted, or written again
   * without the tag, is not deleted, nor is a key created after the tag was deleted. Each tag's
   * members are popped in batches; each member is checked and deleted in one atomic step on its
   * own backend (and Cluster slot), so a concurrent write without the tag always survives. A key
   * tagged again while this runs is either deleted or stays tagged.
   * @example
   * await cache.set("user:1", user, { expire: "1h", tags: ["users"] });
   * await cache.set("user:2", user2, { tags: ["users"] });
   * await cache.set("user:2", user2); // written again without the tag
   * await cache.deleteTags("users"); // 1: only "user:1"
   */
  async deleteTags(...tags: string[]): Promise<number> {
    const list = checkTags("deleteTags", tags);
    const core = this.#core;
    if (isDisabled(core, Command.DELETE_MANY)) return 0;
    let deleted = 0;
    for (const tag of new Set(list)) {
      const tagKey = TAG_PREFIX + tag;
      const route = core.route(tagKey);
      for (;;) {
        const popped = await core.run(route, tagKey, [] as string[] | TagPopped, (b) => b.tagPop(tagKey, TAG_BATCH));
        const members = Array.isArray(popped) ? popped : popped.members;
        const unchecked = Array.isArray(popped) ? [] : popped.unchecked;
        if (members.length + unchecked.length === 0) break;
        const counts = core.group(members).map(([keyRoute, indexes]) => {
          const keys = indexes.map((i) => members[i]!);
          return core.run(keyRoute, undefined, 0, async (b) => core.deleted(await b.tagDelete(tag, keys), keys, keyRoute));
        });
        if (unchecked.length > 0) counts.push(this.deleteMany(unchecked));
        deleted += sum(await Promise.all(counts));
        if (members.length + unchecked.length < TAG_BATCH) break;
      }
    }
    return deleted;
  }

  /**
   * Stores many entries (an object or an iterable of pairs) with the same expiry, one round trip
   * per backend. Every value is encoded first: one that cannot be stored writes nothing at all.
   * @example
   * await cache.setMany({ "user:1": ada, "user:2": grace }, { expire: "10m" });
   * await cache.setMany(new Map([["a", 1], ["b", 2]]));
   */
  async setMany(entries: Record<string, unknown> | Iterable<readonly [string, unknown]>, options: { expire?: Duration | null } = {}): Promise<void> {
    const expire = toExpiry(options.expire, "setMany: expire");
    const pairs: (readonly [string, unknown])[] =
      Symbol.iterator in entries ? [...(entries as Iterable<readonly [string, unknown]>)] : Object.entries(entries);
    checkKeys(pairs.map(([key]) => key));
    await writeMany(this.#core, pairs, expire);
  }

  /**
   * Returns the cached value, or computes it (a factory is called, a promise awaited), stores it
   * and returns it. Not atomic across processes: use `lock` or the `cache({ lock: true })` strategy for that.
   * `schema` (any Standard Schema v1 validator): a stored value that fails it is a miss, deleted
   * and reported (`invalid` event); a computed one that fails it is returned unstored, or with
   * `strict: true` rejected with `SchemaError`; the schema's output (its transforms) is returned.
   * @example
   * const config = await cache.getOrSet("config", () => loadConfig(), { expire: "5m" });
   * const user = await cache.getOrSet("user:1", () => db.user("1"), { expire: "1h", schema: z.object({ id: z.string() }) });
   */
  getOrSet<S extends StandardSchemaV1>(
    key: string,
    valueOrFactory: unknown,
    options: { expire?: Duration | null; schema: S; strict?: boolean },
  ): Promise<StandardSchemaV1.InferOutput<S>>;
  getOrSet<T>(key: string, valueOrFactory: T | Promise<T> | (() => T | Promise<T>), options?: { expire?: Duration | null }): Promise<T>;
  async getOrSet(key: string, valueOrFactory: unknown, options: { expire?: Duration | null; schema?: StandardSchemaV1; strict?: boolean } = {}): Promise<unknown> {
    checkKey(key);
    toExpiry(options.expire, "getOrSet: expire");
    const { schema, strict } = options;
    const check = schema === undefined && strict === undefined ? undefined : parseSchema("getOrSet", schema, strict);
    const core = this.#core;
    let cached = await this.#read(key);
    if (check !== undefined && cached !== MISSING && !(cached instanceof Structure)) cached = await core.checked(core.route(key), key, cached, check, "getOrSet");
    if (cached !== MISSING) return served(cached);
    const value = await (typeof valueOrFactory === "function" ? (valueOrFactory as () => unknown)() : valueOrFactory);
    const checked = check === undefined ? { value } : await check(value);
    if (checked.issues) {
      const error = core.invalid(core.route(key), key, "getOrSet", undefined, false, checked.issues);
      if (strict) throw error;
      return value;
    }
    await this.set(key, value, { expire: options.expire });
    return checked.value;
  }

  /**
   * Atomic increment (a missing key counts as 0); `expire` applies when the counter is created.
   * `tags`: the counter carries them from now on, besides those it carried (an `incr` without
   * tags keeps them; a `set` replaces them), so `deleteTags` deletes it; costs two more round
   * trips (the tag sets, and the counter's TTL for their members).
   * Resolves the new value (`NaN` when the backend failed in safe mode).
   * @example
   * await cache.incr("visits");                       // 1, 2, 3, …
   * await cache.incr("visits:today", 1, { expire: "1d" });
   * await cache.incr("stock:42", -3);
   * await cache.incr("views:post:1", 1, { tags: ["post:1"] }); // cache.deleteTags("post:1") deletes it
   */
  async incr(key: string, by = 1, options: IncrOptions = {}): Promise<number> {
    checkKey(key);
    if (!Number.isSafeInteger(by)) throw new TypeError(`incr: "by" must be a safe integer, got ${String(by)}`);
    const expire = toExpiry(options.expire, "incr: expire");
    const tags = checkTags("incr", options.tags);
    if (tags.length === 0) return this.#on(key, Number.NaN, (b) => b.incr(key, by, expire));
    const core = this.#core;
    await core.needTags(tags, key);
    const value = await this.#on(key, Number.NaN, (b) => b.incr(key, by, expire, tags));
    if (Number.isNaN(value)) return value;
    // The membership lasts as long as the counter: `expire` applies to a new counter only.
    const left = await this.#on(key, -2, (b) => b.getExpire(key));
    await core.tagKey(key, tags, left > 0 ? left : left === -1 ? undefined : expire);
    return value;
  }

  /**
   * Sliding-window counter (an exact log of call times, atomic on every backend): forgets calls
   * `period` or more old, then records this one if fewer than `limit` remain (default: no limit).
   * Resolves the calls in the window counting this one (`count > limit`: refused, not recorded)
   * and the ms until the oldest leaves the window; `{ count: NaN, resetMs: 0 }` in safe mode.
   * @example
   * const { count, resetMs } = await cache.slidingIncr(`api:${user}`, "1m", { limit: 100 });
   * if (count > 100) throw new Error(`retry in ${resetMs} ms`);
   */
  async slidingIncr(key: string, period: Duration, options: { limit?: number } = {}): Promise<{ count: number; resetMs: number }> {
    checkKey(key);
    const ms = toMs(period, "slidingIncr: period");
    if (!(ms > 0)) throw new CacheConfigError("slidingIncr: period must be greater than 0");
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (!(limit >= 0) || (limit !== Number.POSITIVE_INFINITY && !Number.isSafeInteger(limit))) {
      throw new TypeError(`slidingIncr: "limit" must be an integer >= 0, got ${String(options.limit)}`);
    }
    const [count, resetMs] = await this.#on(key, [Number.NaN, 0], (b) => b.slidingIncr(key, ms, limit));
    return { count, resetMs };
  }

  /**
   * Deletes a key; resolves whether it existed.
   * @example
   * await cache.delete("user:1"); // true
   */
  async delete(key: string): Promise<boolean> {
    return (await this.#on(key, 0, async (b, route) => this.#core.deleted(Number(await b.delete(key)), [key], route))) > 0;
  }

  /**
   * Deletes many keys, one round trip per backend; resolves how many existed.
   * @example
   * await cache.deleteMany(["user:1", "user:2"]); // 2
   */
  async deleteMany(keys: Iterable<string>): Promise<number> {
    const core = this.#core;
    const list = checkKeys(keys);
    return sum(
      await Promise.all(
        core.group(list).map(([route, indexes]) => {
          const routeKeys = indexes.map((i) => list[i]!);
          return core.run(route, undefined, 0, (b) => b.deleteMany(routeKeys)).then((count) => core.deleted(count, routeKeys, route));
        }),
      ),
    );
  }

  /**
   * Deletes every key matching a glob pattern (`*`, `?`, `[ab]`); resolves how many.
   * @example
   * await cache.deleteMatch("items:page:*");
   */
  async deleteMatch(pattern: string): Promise<number> {
    const core = this.#core;
    return this.#on(
      pattern,
      0,
      async (b, route) => {
        const count = await b.deleteMatch(pattern);
        core.stats.deletes += count;
        if (count > 0) core.emitter.emit({ type: "delete", key: pattern, backend: route.label });
        return count;
      },
      "pattern",
    );
  }

  /**
   * Sets the TTL of an existing key; `0`/`null` removes it. Resolves false when the key is missing.
   * @example
   * await cache.expire("session:1", "30m"); // extend
   * await cache.expire("session:1", null);  // keep forever
   */
  async expire(key: string, ttl: Duration | null): Promise<boolean> {
    checkKey(key);
    const ms = toExpiry(ttl, "expire: ttl");
    return this.#on(key, false, (b) => b.expire(key, ms));
  }

  /**
   * Removes every key of this cache's backends (never a foreign key unless `namespace: ""`).
   * @example
   * await cache.clear();
   */
  async clear(): Promise<void> {
    await this.#every(undefined, (b) => b.clear());
  }

  // ---------------------------------------------------------------- locks

  /**
   * Takes `key` if free (set-if-absent with a TTL); resolves whether it was taken. Release it with
   * {@link CoreCache.unlock} and the same value (or use {@link CoreCache.lock}, which does both).
   * @example
   * const owner = crypto.randomUUID();
   * if (await cache.setLock("jobs:import", owner, "30s")) {
   *   try {
   *     await runImport();
   *   } finally {
   *     await cache.unlock("jobs:import", owner);
   *   }
   * }
   */
  async setLock(key: string, value: string, ttl: Duration): Promise<boolean> {
    checkKey(key);
    const ms = lockTtlMs("setLock", "ttl", ttl);
    return this.#on(key, false, (b) => b.setLock(key, LOCK_PREFIX + String(value), ms));
  }

  /**
   * Releases `key` only if it holds `value` (atomic compare-and-delete); resolves whether it did.
   * @example
   * await cache.setLock("jobs:import", "worker-1", "30s");
   * await cache.unlock("jobs:import", "worker-2"); // false: not the owner
   * await cache.unlock("jobs:import", "worker-1"); // true
   */
  async unlock(key: string, value: string): Promise<boolean> {
    return this.#on(key, false, (b) => b.unlock(key, LOCK_PREFIX + String(value)));
  }

  /**
   * True when `key` is held. With `wait`, polls with back-off (starting at `step`, default 50 ms,
   * doubling up to 1 s) until the key is free or the wait runs out, then answers.
   * @example
   * await cache.isLocked("jobs:import");                  // now
   * await cache.isLocked("jobs:import", { wait: "10s" }); // false as soon as it is released
   */
  async isLocked(key: string, options: { wait?: Duration; step?: Duration } = {}): Promise<boolean> {
    checkKey(key);
    const wait = options.wait === undefined ? 0 : toMs(options.wait, "isLocked: wait");
    let step = options.step === undefined ? 50 : Math.max(1, toMs(options.step, "isLocked: step"));
    const deadline = Date.now() + wait;
    if (isDisabled(this.#core, Command.IS_LOCKED, this.#core.prefixes.get(this.#core.route(key).prefix))) return false;
    for (;;) {
      const locked = await this.exists(key);
      const left = deadline - Date.now();
      if (!locked || left <= 0) return locked;
      await sleep(Math.min(step, left));
      step = Math.min(step * 2, 1000);
    }
  }

  /**
   * Acquires a lock. `wait: true` (default) waits until acquired (the holder's TTL bounds that),
   * a Duration waits that long, `false` does not wait; not acquired → {@link LockedError}.
   * In safe mode an unreachable backend yields an unacquired lock and the body runs unlocked.
   * @example
   * {
   *   await using lock = await cache.lock("jobs:nightly", "1m"); // released at the end of the block
   *   await runNightlyJob();
   * }
   * const quick = await cache.lock("jobs:nightly", "1m", { wait: false }); // LockedError when held
   */
  async lock(key: string, ttl: Duration, options: LockOptions = {}): Promise<Lock> {
    checkKey(key);
    return acquireLock(this.#core, key, lockTtlMs("lock", "ttl", ttl), lockWaitMs("lock", options.wait));
  }

  /**
   * Runs `fn` under the lock and releases it in `finally`; resolves to `fn`'s result. Options
   * as for {@link CoreCache.lock}.
   * @example
   * const report = await cache.withLock("report:daily", "1m", () => buildReport());
   */
  async withLock<R>(key: string, ttl: Duration, fn: () => R | Promise<R>, options: LockOptions = {}): Promise<R> {
    const lock = await this.lock(key, ttl, options);
    try {
      return await fn();
    } finally {
      await lock.release();
    }
  }

  /**
   * The simple cache strategy: serve a stored result while it lives, else call and store.
   * Also reachable as `cache(options)`. See {@link CacheOptions}.
   * @example
   * const getUser = cache.cache({ ttl: "3h", key: "user:{id}" })(async (id: string) => db.user(id));
   */
  cache<A extends any[] = any[]>(options: CacheOptions<A>): Decorator<A> {
    return cacheStrategy(this, options);
  }
}

/** Every cache instance is callable: `cache(options)` is `cache.cache(options)`. */
export interface CoreCache {
  <A extends any[] = any[]>(options: CacheOptions<A>): Decorator<A>;
}

/**
 * A read's answer: `fallback` for MISSING and for a structure (live `mem://` holds sets, sliding
 * logs and limiter states as objects: never a value); an error stored by a strategy (withExceptions) reads back as the error itself.
 */
function served<T>(value: unknown, fallback?: T): T {
  return (value === MISSING || value instanceof Structure ? fallback : value instanceof Raised ? value.error : value) as T;
}

function checkKey(key: unknown, what = "key"): asserts key is string {
  if (typeof key !== "string") throw new TypeError(`${what} must be a string, got ${typeof key}`);
}

function checkKeys(keys: Iterable<string>): string[] {
  const list = [...keys];
  list.forEach((key) => checkKey(key));
  return list;
}

