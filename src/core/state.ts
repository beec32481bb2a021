/**
 * The core layer's state of one cache: routes (prefix routing), stats, events, the safe-mode
 * command runner, reads, writes and tags. A plain object (the callable cache is slow to read
 * properties from); the strategies, which take the cache as their first argument, reach it with
 * {@link stateOf} and use it directly on the hit path.
 * @internal
 * @module
 */
import { MISSING, type Backend } from "../backends/types.js";
import { CacheBackendError, CacheConfigError, CacheError, messageOf, NotConfiguredError } from "../errors.js";
import { Emitter, type CacheStats, type FunctionStats } from "../events.js";
import { Route, TAMPERED } from "./route.js";
import type { Capability } from "../backends/capabilities.js";
import { DISABLED, guarded, scope, type Command, type Scoped } from "../context/scope.js";
import type { Middleware } from "./middleware.js";
import type { ProbeHub } from "./probe.js";
import { TypeRegistry } from "../codec/types.js";
import { Raised } from "../codec/raised.js";
import { SchemaError, schemaMessage, type Check, type Invalid } from "../schema.js";

/**
 * Where a tag's set lives: the key `_tag:<tag>`, routed like any other key (so with prefix
 * routing, on the backend whose prefix matches `_tag:…`: usually the default one). Its members
 * are the tagged user keys.
 */
export const TAG_PREFIX = "_tag:";

const states = new WeakMap<object, CacheCore>();

/** While a backend is down, at most one `error` event per this many ms (see `CacheEventType`). */
const ERROR_INTERVAL_MS = 1000;
/**
 * A failure that is the store's reply about the data or the request, in the Redis wording every
 * backend uses (Redis, Upstash, mem://, deno-kv://), or a Workers KV refusal with a 4xx status (a
 * key over 512 bytes): the store answered, so it is no outage.
 */
const DATA_REPLY = /WRONGTYPE|ERR value is not an integer|increment or decrement would overflow|KV [A-Z]+ failed: 4\d\d/;

/**
 * The state behind a cache instance, for the strategies (which take the cache as their first
 * argument). Throws {@link CacheConfigError} for anything that is not a cache: each standalone
 * strategy asks first, so that `failover(options)`, the method's call style, says what to do.
 */
export function stateOf(cache: object, what = "strategy"): CacheCore {
  const core = states.get(cache);
  if (core === undefined) {
    const got = cache === null ? "null" : typeof cache === "function" ? "a function (a cache of another copy of cashews?)" : typeof cache;
    throw new CacheConfigError(`${what}: the first argument must be a cache (a CoreCache or a Cache of this copy of cashews), got ${got}; call it as ${what}(cache, options)`);
  }
  return core;
}

export class CacheCore {
  readonly emitter: Emitter = new Emitter();
  /** The classes registered with `cache.registerType`, shared by every route. */
  readonly types: TypeRegistry = new TypeRegistry();
  routes: Route[] = [];
  /** Routes sorted by prefix length, longest first. */
  sorted: Route[] = [];
  /** Set when the only route is the default one: routing is then a field read. */
  only: Route | undefined;
  readonly stats: CacheStats = { hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0, functions: {} };
  /** Commands disabled process-wide (by `disable()` outside every scope). */
  disabled: ReadonlySet<Command> = new Set();

  /** Creates the state of `cache` (a CoreCache), found again with {@link stateOf}. */
  constructor(
    readonly name: string,
    cache: object,
  ) {
    states.set(cache, this);
  }

  /** The disable state of each route prefix (`cache.disable({ prefix })`), created on first use. */
  readonly prefixes: Map<string, Scoped> = new Map<string, Scoped>();

  /** Command middleware (`cache.use`), in registration order. */
  middleware: readonly Middleware[] = [];

  /** Registers a command middleware on every route (present and future); returns its remover. */
  use(middleware: Middleware): () => void {
    const update = (list: readonly Middleware[]): void => {
      this.middleware = list;
      for (const route of this.routes) route.use(list);
    };
    update([...this.middleware, middleware]);
    return () => {
      const index = this.middleware.indexOf(middleware);
      if (index >= 0) update([...this.middleware.slice(0, index), ...this.middleware.slice(index + 1)]);
    };
  }

  /**
   * The observability probe (src/core/probe.ts), set (on the routes too) by `attachProbe` while an
   * integration is attached: every report site reads this one field and does nothing more when it
   * is undefined.
   */
  probe: ProbeHub | undefined;

  /** Adds (or replaces, by prefix) a route; returns the replaced one. */
  addRoute(route: Route): Route | undefined {
    if (this.middleware.length > 0) route.use(this.middleware);
    if (this.probe) route.probe(this.probe);
    const previous = this.routes.find((r) => r.prefix === route.prefix);
    this.routes = [...this.routes.filter((r) => r !== previous), route];
    this.sorted = [...this.routes].sort((a, b) => b.prefix.length - a.prefix.length);
    this.only = this.routes.length === 1 && route.prefix === "" ? route : undefined;
    return previous;
  }

  /** The route serving `key`. */
  route(key: string): Route {
    const only = this.only;
    if (only !== undefined) return only;
    for (const route of this.sorted) if (key.startsWith(route.prefix)) return route;
    this.requireSetup();
    throw new NotConfiguredError(`no backend is configured for key ${JSON.stringify(key)}: add a default one with cache.setup(url) (prefix "")`);
  }

  requireSetup(): void {
    if (this.routes.length === 0) {
      throw new NotConfiguredError(`cache${this.name ? ` "${this.name}"` : ""} is not set up: call cache.setup("mem://") (or a redis:// URL) first`);
    }
  }

  /** Reports a backend failure (safe mode). */
  report(error: unknown, key: string | undefined, route: Route): void {
    this.stats.errors++;
    this.probe?.error(route.label, key, error);
    this.emitter.emit({ type: "error", key, backend: route.label, error });
  }

  /**
   * Safe-mode handling of a failed command: rethrows a configuration error, or (`safe: false`) the
   * failure as a {@link CacheBackendError}; in safe mode reports it and returns. `epoch`: the
   * route's `epoch` when the command was issued (default: now).
   */
  failed(error: unknown, key: string | undefined, route: Route, epoch: number = route.epoch): void {
    if (error instanceof CacheConfigError) throw error;
    if (!route.safe) {
      throw error instanceof CacheBackendError ? error : new CacheBackendError(`${route.label} backend failed: ${messageOf(error)}`, { cause: error });
    }
    // Another CacheError (serialization, schema) says nothing about the backend being down, and a
    // reply about the data (WRONGTYPE, not an integer) proves it answered: reported as they come.
    if ((error instanceof CacheError && !(error instanceof CacheBackendError)) || DATA_REPLY.test(messageOf(error))) this.report(error, key, route);
    else this.#unanswered(error, key, route, epoch);
  }

  /**
   * A command the backend did not answer (safe mode): counted; starts an outage (`backend-down`)
   * if the backend was answering when it was issued; during one, its `error` event is emitted at
   * most once per second (see `CacheEventType`).
   */
  #unanswered(error: unknown, key: string | undefined, route: Route, epoch: number): void {
    this.stats.errors++;
    this.probe?.error(route.label, key, error);
    const down = route.down;
    if (down === undefined) {
      // Issued during the last outage, failed after backend-up: an ordinary error, not a new outage.
      if (epoch === route.epoch) {
        route.down = { failedOpen: 1, emitted: Date.now() };
        route.epoch++;
        this.emitter.emit({ type: "backend-down", key, backend: route.label, error });
      }
      this.emitter.emit({ type: "error", key, backend: route.label, error });
      return;
    }
    down.failedOpen++;
    if (this.emitter.counts.error === 0) return;
    const now = Date.now();
    if (now - down.emitted < ERROR_INTERVAL_MS) return;
    down.emitted = now;
    this.emitter.emit({ type: "error", key, backend: route.label, error });
  }

  /**
   * A command on `route` succeeded: ends its outage (`backend-up`) if it was issued during it
   * (`epoch`: the route's `epoch` then). Called only while `route.down` is set.
   */
  answered(route: Route, epoch: number): void {
    const down = route.down;
    if (down === undefined || epoch !== route.epoch) return;
    route.down = undefined;
    route.epoch++;
    this.emitter.emit({ type: "backend-up", backend: route.label, failedOpen: down.failedOpen });
  }

  /**
   * Runs one backend command with safe-mode handling. No async frame of its own: the command's
   * promise and one `then` (a limit call made one after another pays each hop on a cold cache,
   * see bench/results/ratelimit.md).
   */
  run<T>(route: Route, key: string | undefined, neutral: T, command: (backend: Backend) => Promise<T>): Promise<T> {
    if (!route.enabled) return Promise.resolve(neutral);
    const epoch = route.epoch;
    const backend = route.backend;
    let pending: Promise<T>;
    try {
      // Promise.resolve: a custom backend's or middleware's plain value (a promise is kept as is).
      pending = backend === undefined ? route.start().then((started) => this.#scoped(route, started, command)) : Promise.resolve(this.#scoped(route, backend, command));
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(
      (result) => {
        if (route.down !== undefined) this.answered(route, epoch);
        return result;
      },
      (error: unknown) => {
        if (error !== DISABLED) this.failed(error, key, route, epoch);
        return neutral;
      },
    );
  }

  /** `command` on `backend`: scopes (disable, invalidateFurther) see it through a guard; never on the plain path. */
  #scoped<T>(route: Route, backend: Backend, command: (backend: Backend) => Promise<T>): Promise<T> {
    return command(scope.live === 0 ? backend : guarded(this, backend, MISSING, this.prefixes.get(route.prefix)));
  }

  /**
   * Adds `key` to each tag's set (`_tag:<tag>`, routed like any key) until `expire` (ms;
   * undefined: no expiry), extending the set's TTL to at least that. Called after the write that
   * made the key carry the tags. Safe mode: a failure is reported and skipped.
   */
  async tagKey(key: string, tags: readonly string[], expire: number | undefined): Promise<void> {
    await Promise.all(
      tags.map((tag) => {
        const tagKey = TAG_PREFIX + tag;
        return this.run(this.route(tagKey), tagKey, undefined, (b) => b.tagAdd(tagKey, key, expire));
      }),
    );
  }

  /**
   * Throws {@link CacheCapabilityError} when a tag's set, or `key` (which records the tags it
   * carries), lives on a backend without atomic operations.
   */
  async needTags(tags: readonly string[], key?: string): Promise<void> {
    for (const routed of key === undefined ? tags.map((tag) => TAG_PREFIX + tag) : [key, ...tags.map((tag) => TAG_PREFIX + tag)]) {
      const route = this.route(routed);
      await route.declare("atomic");
      route.need("tags", "atomic");
    }
  }

  /**
   * At wrap time: throws {@link CacheCapabilityError} when the cache is set up and no route has
   * `capability` (every key would reach a backend without it); otherwise the command checks later.
   */
  needAtWrap(what: string, ...capabilities: Capability[]): void {
    const routes = this.routes;
    for (const capability of capabilities) if (routes.length > 0 && routes.every((r) => r.capabilities[capability] === false)) routes[0]!.need(what, capability);
  }

  /** The live counters of one decorated function (created on first use). */
  functionStats(name: string): FunctionStats {
    return (this.stats.functions[name] ??= { hits: 0, misses: 0, errors: 0 });
  }

  /** Counts a decorated call served from cache. */
  hit(fn: FunctionStats): void {
    this.stats.hits++;
    fn.hits++;
  }

  /** Counts a decorated call not served from cache. */
  miss(fn: FunctionStats): void {
    this.stats.misses++;
    fn.misses++;
  }

  // ---------------------------------------------------------------- reads

  /** Reads and decodes `key`: the value, or MISSING (also on failure, tampering, disabled). */
  async read(route: Route, key: string): Promise<unknown> {
    let raw: unknown;
    const backend = route.backend;
    // Inside a scope (withCache, detection) too, unless it disables reads or invalidates them.
    if (backend !== undefined && route.enabled && (scope.live === 0 || guarded(this, backend, MISSING, this.prefixes.get(route.prefix)) === backend)) {
      // A local copy (local tier, Redis clientSide) answers the value it kept: decoded (and
      // verified) once, when it entered the copy.
      if (route.keeps && route.peekable) {
        const value = backend.peek!(key);
        if (value !== MISSING) return value;
      }
      // The plain path of `run`, inlined: one async frame and one await for a hit.
      const epoch = route.epoch;
      try {
        raw = await backend.get(key);
      } catch (error) {
        this.failed(error, key, route, epoch);
        return MISSING;
      }
      if (route.down !== undefined) this.answered(route, epoch);
    } else raw = await this.run(route, key, MISSING as unknown, (b) => b.get(key));
    return raw === MISSING ? MISSING : this.decoded(route, key, raw);
  }

  /** Decodes a stored value: the value or MISSING, synchronously unless verifying needs Web Crypto or it was tampered with. */
  decoded(route: Route, key: string, raw: unknown): unknown {
    const value = route.decode(key, raw);
    if (value instanceof Promise) return value.then((v) => (v === TAMPERED ? this.tampered(route, key, raw) : route.kept(key, raw, v)));
    return value === TAMPERED ? this.tampered(route, key, raw) : route.keeps ? route.kept(key, raw, value) : value;
  }

  /** A value that failed verification: reports it and deletes it; resolves MISSING. */
  async tampered(route: Route, key: string, raw: unknown): Promise<typeof MISSING> {
    this.emitter.emit({ type: "tampered", key, backend: route.label, error: new Error("signature check failed") });
    // Compare-and-delete: a valid value written meanwhile by someone else survives.
    await this.#dropUnchanged(route, key, raw);
    return MISSING;
  }

  /**
   * Deletes `key` if it still holds `raw` (compare-and-delete), so a value written meanwhile
   * survives; outright where that cannot work: a stored text the client decoded lossily (U+FFFD
   * for invalid UTF-8 never compares equal), or a store without compare-and-delete (Workers KV).
   * A live route's value compares by identity.
   */
  async #dropUnchanged(route: Route, key: string, raw: unknown): Promise<void> {
    const lossy = (typeof raw === "string" ? raw.includes("\uFFFD") : !route.live) || route.capabilities.locks === false;
    await this.run(route, key, false, (b) => (lossy ? b.delete(key) : b.unlock(key, raw as string)));
  }

  /** Reports a value that failed a schema (an `invalid` event; `fn`: the decorated function); returns the error. */
  invalid(route: Route, key: string, where: string, fn: string | undefined, stored: boolean, issues: Invalid["issues"]): SchemaError {
    const error = new SchemaError(schemaMessage(where, stored, issues), issues);
    this.emitter.emit({ type: "invalid", key, backend: route.label, function: fn, error, issues });
    return error;
  }

  /**
   * Validates a stored value (`pick`: the part validated, e.g. an envelope's `v`): the schema's
   * output, or, once it is reported and deleted, MISSING. A stored error (`Raised`) passes as is.
   * The deletion re-reads the entry and deletes it only if it still fails, by compare-and-delete
   * against what was re-read (unconditionally on a store without it, or when the client could not
   * hand the stored bytes back, as for a tampered value): a value written meanwhile survives.
   */
  checked(route: Route, key: string, value: unknown, check: Check, where: string, fn?: string, pick: (stored: unknown) => unknown = (x) => x): unknown {
    const refused = async (stored: unknown): Promise<boolean> => !(stored instanceof Raised) && !!(await check(pick(stored))).issues;
    const settle = async (result: Awaited<ReturnType<Check>>): Promise<unknown> => {
      if (!result.issues) return result.value;
      this.invalid(route, key, where, fn, true, result.issues);
      const raw = await this.run(route, key, MISSING as unknown, (b) => b.get(key));
      if (raw === MISSING) return MISSING;
      const again = await this.decoded(route, key, raw);
      if (again === MISSING || !(await refused(again).catch(() => false))) return MISSING;
      await this.#dropUnchanged(route, key, raw);
      return MISSING;
    };
    if (value instanceof Raised) return value;
    const result = check(value);
    return result instanceof Promise ? result.then(settle) : result.issues ? settle(result) : result.value;
  }

  hitOrMiss(value: unknown, key: string, route: Route): void {
    const hit = value !== MISSING;
    this.stats[hit ? "hits" : "misses"]++;
    this.probe?.outcome(hit, undefined, undefined, undefined, route.label, key);
    this.emitter.emit({ type: hit ? "hit" : "miss", key, backend: route.label });
  }

  group(keys: readonly string[]): [Route, number[]][] {
    const groups = new Map<Route, number[]>();
    keys.forEach((key, index) => {
      const route = this.route(key);
      const list = groups.get(route);
      if (list) list.push(index);
      else groups.set(route, [index]);
    });
    return [...groups];
  }

  /**
   * A write: encodes, stores (the key carries `tags` afterwards, none without), counts; never
   * throws a backend error in safe mode.
   */
  async write(route: Route, key: string, value: unknown, expire: number | undefined, exist?: boolean, tags?: readonly string[]): Promise<boolean> {
    const stored = await route.encode(key, value);
    const ok = await this.run(route, key, false, (b) => b.set(key, stored, expire, exist, tags));
    if (ok) this.written(key, route);
    return ok;
  }

  /** Counts a written key. */
  written(key: string, route: Route): void {
    this.stats.sets++;
    this.probe?.set(route.label, key);
    this.emitter.emit({ type: "set", key, backend: route.label });
  }

  /** Counts deleted keys; returns `count`. */
  deleted(count: number, keys: readonly string[], route: Route): number {
    this.stats.deletes += count;
    // Which keys existed is known only when all of them did; otherwise one event without a key.
    if (count > 0) {
      if (count === keys.length) for (const key of keys) this.emitter.emit({ type: "delete", key, backend: route.label });
      else this.emitter.emit({ type: "delete", backend: route.label });
    }
    return count;
  }
}

/**
 * Reads and decodes many keys, one round trip per backend: each value or MISSING, in input
 * order. With `count`, each read is counted and emitted as a hit or a miss (`getMany`); the
 * iterator's replay counts its decorated call once instead.
 */
export async function readMany(core: CacheCore, keys: readonly string[], count: boolean): Promise<unknown[]> {
  const out: unknown[] = new Array(keys.length);
  await Promise.all(
    core.group(keys).map(async ([route, indexes]) => {
      const routeKeys = indexes.map((i) => keys[i]!);
      const raws = await core.run(route, undefined, routeKeys.map(() => MISSING as unknown), (b) => b.getMany(routeKeys));
      await Promise.all(
        indexes.map(async (index, n) => {
          const key = routeKeys[n]!;
          const raw = raws[n];
          // A stored `undefined` (live mem://) is a hit, as with get; only MISSING is a miss.
          const value = raw === MISSING ? MISSING : await core.decoded(route, key, raw);
          if (count) core.hitOrMiss(value, key, route);
          out[index] = value;
        }),
      );
    }),
  );
  return out;
}

/**
 * Stores many entries with one expiry, one round trip per backend; resolves whether every
 * backend took its entries. Every value is encoded first: one that cannot be stored
 * (SerializationError) writes nothing at all.
 */
export async function writeMany(core: CacheCore, entries: readonly (readonly [string, unknown])[], expire: number | undefined): Promise<boolean> {
  const groups = core.group(entries.map(([key]) => key));
  let encoded = groups.map(([route, indexes]) => indexes.map((i): readonly [string, unknown] => [entries[i]![0], route.encode(entries[i]![0], entries[i]![1])]));
  // Values encoded asynchronously (compressed, or signed with Web Crypto) are all awaited before any write.
  if (encoded.some((list) => list.some(([, v]) => v instanceof Promise))) {
    encoded = await Promise.all(encoded.map((list) => Promise.all(list.map(async ([k, v]) => [k, await v] as const))));
  }
  const results = await Promise.all(
    groups.map(async ([route], n) => {
      const routeEntries = encoded[n]!;
      const ok = await core.run(route, undefined, false, async (b) => {
        await b.setMany(routeEntries, expire);
        return true;
      });
      if (ok) for (const [key] of routeEntries) core.written(key, route);
      return ok;
    }),
  );
  return results.every(Boolean);
}
