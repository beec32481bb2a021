/**
 * The state behind a Cache: routes, stats, events, and the safe-mode command runner. A plain
 * object (the callable Cache facade is slow to read properties from), used directly by the
 * strategies on the hit path.
 * @internal
 * @module
 */
import { MISSING, type Backend } from "./backends/types.js";
import { CacheBackendError, CacheConfigError, NotConfiguredError } from "./errors.js";
import { Emitter, type CacheEventInfo, type CacheStats, type FunctionStats } from "./events.js";
import { Route, TAMPERED } from "./route.js";

export class CacheCore {
  readonly emitter: Emitter = new Emitter();
  routes: Route[] = [];
  /** Routes sorted by prefix length, longest first. */
  sorted: Route[] = [];
  /** Set when the only route is the default one: routing is then a field read. */
  only: Route | undefined;
  readonly stats: CacheStats = { hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0, functions: {} };

  constructor(readonly name: string) {}

  /** Adds (or replaces, by prefix) a route; returns the replaced one. */
  addRoute(route: Route): Route | undefined {
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
    if (this.routes.length === 0) throw this.notConfigured();
    throw new NotConfiguredError(
      `no backend is configured for key ${JSON.stringify(key)}: add a default one with cache.setup(url) (prefix "")`,
    );
  }

  requireSetup(): void {
    if (this.routes.length === 0) throw this.notConfigured();
  }

  notConfigured(): NotConfiguredError {
    return new NotConfiguredError(
      `cache${this.name ? ` "${this.name}"` : ""} is not set up: call cache.setup("mem://") (or a redis:// URL) first`,
    );
  }

  backendError(error: unknown, route: Route): CacheBackendError {
    if (error instanceof CacheBackendError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new CacheBackendError(`${route.label} backend failed: ${message}`, { cause: error });
  }

  /** Reports a backend failure (safe mode). */
  report(error: unknown, key: string | undefined, route: Route): void {
    this.stats.errors++;
    this.emitter.emit({ type: "error", key, backend: route.label, error });
  }

  /** Runs one backend command with safe-mode handling. */
  async run<T>(route: Route, key: string | undefined, neutral: T, command: (backend: Backend) => Promise<T>): Promise<T> {
    if (!route.enabled) return neutral;
    try {
      return await command(route.backend ?? (await route.start()));
    } catch (error) {
      if (error instanceof CacheConfigError) throw error;
      if (!route.safe) throw this.backendError(error, route);
      this.report(error, key, route);
      return neutral;
    }
  }

  /** Emits an event (no allocation when nobody listens). */
  emit(info: CacheEventInfo): void {
    this.emitter.emit(info);
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
    const raw = await this.run(route, key, MISSING as unknown, (b) => b.get(key));
    if (raw === MISSING) return MISSING;
    return this.decoded(route, key, raw);
  }

  async decoded(route: Route, key: string, raw: unknown): Promise<unknown> {
    let value = route.decode(key, raw);
    if (value instanceof Promise) value = await value;
    if (value === TAMPERED) {
      this.emitter.emit({ type: "tampered", key, backend: route.label, error: new Error("signature check failed") });
      // Compare-and-delete: a valid value written meanwhile by someone else survives.
      await this.run(route, key, false, (b) => b.unlock(key, raw as string));
      return MISSING;
    }
    return value;
  }

  hitOrMiss(value: unknown, key: string, route: Route): void {
    if (value === MISSING) {
      this.stats.misses++;
      this.emitter.emit({ type: "miss", key, backend: route.label });
    } else {
      this.stats.hits++;
      this.emitter.emit({ type: "hit", key, backend: route.label });
    }
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

  /** A write from a strategy: encodes, stores, counts; never throws a backend error in safe mode. */
  async write(route: Route, key: string, value: unknown, expire: number | undefined): Promise<boolean> {
    const stored = await route.encode(key, value);
    const written = await this.run(route, key, false, (b) => b.set(key, stored, expire));
    if (written) {
      this.stats.sets++;
      this.emitter.emit({ type: "set", key, backend: route.label });
    }
    return written;
  }

  deleted(count: number, keys: readonly string[] | undefined, route: Route): void {
    this.stats.deletes += count;
    if (count === 0 || this.emitter.counts.delete === 0) return;
    // Which keys existed is known only when all of them did; otherwise one event without a key.
    if (keys && count === keys.length) for (const key of keys) this.emitter.emit({ type: "delete", key, backend: route.label });
    else this.emitter.emit({ type: "delete", backend: route.label });
  }


}
