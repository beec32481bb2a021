/**
 * The probe: how observability integrations (`cashews/otel`, `cashews/prometheus`) see what a
 * cache does. An integration implements {@link Probe} (every hook optional) and attaches it with
 * {@link attachProbe}; the core then reports decorated calls, backend commands, hits and misses,
 * writes, errors, stampede waits, rate-limit decisions and local-tier hits to it.
 *
 * Cost: without a probe, the core pays one field check (`core.probe`, undefined) where it would
 * report; nothing of this module is reachable from `cashews` or `cashews/core` (the core imports
 * its types only), so it weighs nothing in their bundles.
 *
 * Contract (what the core guarantees, what a probe must do):
 * - {@link Probe.call} wraps one call of a decorated function (every strategy but `iterator`, whose
 *   calls return iterables): it must call `run()` exactly once, synchronously, and return its
 *   promise (or a promise of the same settlement). Whatever async context the probe enters around
 *   `run()` (an OpenTelemetry span made active) is the wrapped function's: context propagation.
 *   `run()` resolves the call's result or rejects with its error. The {@link CallRecord} is filled
 *   in while the call runs (outcome, key, backend, template, the function's label) and is complete
 *   when `run()` settles; read it then.
 * - Every other hook is called after the fact with a fresh plain record, synchronously, on the hot
 *   path of the cache: keep it cheap, and never throw (a throwing hook is caught and ignored).
 * - The calls a decorated call makes (its commands, its write, a wait) are attributed to it: their
 *   records' `strategy` is the call's (found in an async context of this module's, which follows
 *   `await` where the runtime has AsyncLocalStorage; elsewhere only the synchronous part of the
 *   call is attributed, and a call's outcome read after an `await` is unknown).
 * - A synchronous read of a local copy (mem://'s live values, a local tier's or Redis clientSide's
 *   copy: `peek`) is no backend command: it is reported as a {@link Probe.localHit} when the copy
 *   fronts a remote store, and not at all for mem://. Every other backend call is a command.
 * - Detaching (the function {@link attachProbe} returns) stops every report at once; calls under
 *   way finish unreported. Several probes may be attached to one cache (say, otel and
 *   prometheus), each once: they are called in attachment order (`call`: the first outermost).
 *
 * The metric each record feeds is in the catalog (src/core/catalog.ts, {@link METRICS}).
 * @internal
 * @module
 */
import { MISSING, type Backend } from "../backends/types.js";
import { releasableStore, type ContextStore } from "../context/store.js";
import { CacheConfigError } from "../errors.js";
import type { Command } from "../context/scope.js";
import { throughMiddleware, type Middleware } from "./middleware.js";
import type { Route } from "./route.js";
import { stateOf, type CacheCore } from "./state.js";

/**
 * One call of a decorated function, filled in by the core while it runs. Fields other than
 * `strategy` and `function` are undefined until known (they stay so for a strategy that reads no
 * value, such as `locked`, `rateLimit`, `circuitBreaker`, `singleFlight`, `perf`).
 * @internal
 */
export interface CallRecord {
  /** The strategy: `"cache"`, `"early"`, `"soft"`, `"hit"`, `"failover"`, `"locked"`, `"rateLimit"`… */
  readonly strategy: string;
  /** The function's label (its name; `Class.method` once the call read the cache; `""` when anonymous). */
  function: string;
  /** `"hit"` (served from cache) or `"miss"`, once the call read the cache. */
  outcome: "hit" | "miss" | undefined;
  /** The key template, when the strategy was given one (`"user:{id}"`). */
  template: string | undefined;
  /** The key read. */
  key: string | undefined;
  /** The label of the backend read (`"redis"`, `"mem@user:"`). */
  backend: string | undefined;
}

/** A hit or a miss: a decorated call's read (`function` set), or a direct `get`/`getMany`. @internal */
export interface OutcomeRecord {
  hit: boolean;
  /** The decorated call's strategy (also for a direct read made inside it); undefined for a direct read outside every decorated call. */
  strategy: string | undefined;
  /** The decorated function's label (undefined for a direct read). */
  function: string | undefined;
  template: string | undefined;
  backend: string;
  key: string;
}

/** A backend command, reported when it settled. @internal */
export interface CommandRecord {
  /** The route's label (`"redis"`, `"mem@user:"`). */
  backend: string;
  /** The route's scheme (`"redis"`, `"upstash"`, `"mem"`); see `dbSystem` in the catalog. */
  scheme: string;
  /** The command, in the {@link Command} vocabulary of `cache.use` (`"get"`, `"set_lock"`; a limiter's call is `"incr"`). */
  command: Command;
  /** Its first key, when it has one. */
  key: string | undefined;
  /** The strategy of the decorated call it ran for (undefined outside one). */
  strategy: string | undefined;
  /** When it started: ms since the epoch (`performance.timeOrigin + performance.now()`). */
  start: number;
  /** How long it took, in seconds. */
  seconds: number;
  /** The failure, when it failed (undefined: it succeeded). */
  error: unknown;
}

/** A write (`set`, a decorated call storing its result), a failure, or a local-tier hit. @internal */
export interface KeyRecord {
  backend: string;
  /** The decorated call's strategy (undefined outside one). */
  strategy: string | undefined;
  key: string | undefined;
}

/** A failure reported in safe mode (counted by `cache.stats().errors` too). @internal */
export interface ErrorRecord extends KeyRecord {
  error: unknown;
}

/**
 * A stampede wait: a caller that waited for another's work instead of doing it. `kind`:
 * `"lock"` (`cache.lock` / `locked` waiting for the lock), `"single-flight"` (`cache({ lock: true })`
 * waiting for another process's value), `"in-flight"` (joining the same key's computation under way
 * in this process: `cache`, `early`, `soft`, `hit`, `singleFlight`).
 * @internal
 */
export interface WaitRecord extends KeyRecord {
  kind: "lock" | "single-flight" | "in-flight";
  /** How long it waited, in seconds. */
  seconds: number;
  /** False when it gave up (a `LockedError`) or the work it waited for failed. */
  ok: boolean;
}

/** A rate-limit decision (`limiter(...).limit`, `rateLimit`, `slidingRateLimit`, hono's `rateLimit`). @internal */
export interface LimitRecord extends KeyRecord {
  /** The limiter: its key prefix (`limiter()`: `"limiter"` by default; hono's `rateLimit`: `"hono_rl"`), else the strategy (`"rateLimit"`). */
  limiter: string;
  allowed: boolean;
}

/**
 * What an integration implements (every hook optional); see the module comment for the contract.
 * @internal
 */
export interface Probe {
  /** Wraps one decorated call: call `run()` once, synchronously, and return its promise. */
  call?(call: CallRecord, run: () => Promise<unknown>): Promise<unknown>;
  /** A hit or a miss. */
  outcome?(record: OutcomeRecord): void;
  /** A backend command, settled. */
  command?(record: CommandRecord): void;
  /** A value written. */
  set?(record: KeyRecord): void;
  /** A failure reported in safe mode. */
  error?(record: ErrorRecord): void;
  /** A stampede wait, over. */
  wait?(record: WaitRecord): void;
  /** A rate-limit decision. */
  limit?(record: LimitRecord): void;
  /** A read answered by a local copy in front of a remote store. */
  localHit?(record: KeyRecord): void;
}

/** Every probe hook, for the fan-out. */
type Hook = Exclude<keyof Probe, "call">;

/**
 * Attaches `probe` to `cache` (a CoreCache or a Cache); `id` names the integration (`"otel"`):
 * attaching one id twice to a cache throws {@link CacheConfigError}, as does a first argument that
 * is not a cache. Returns the function that detaches it (idempotent).
 * @example
 * const detach = attachProbe(cache, "otel", { outcome: (r) => console.log(r.hit, r.strategy, r.backend) });
 * detach();
 * @internal
 */
export function attachProbe(cache: object, id: string, probe: Probe): () => void {
  const core = stateOf(cache, id);
  const hub = core.probe ?? new ProbeHub();
  if (hub.probes.some((p) => p.id === id)) {
    throw new CacheConfigError(`${id}: this cache is already instrumented by ${id}; call the function the first instrument() returned to remove it first`);
  }
  hub.probes = [...hub.probes, { id, probe }];
  if (core.probe === undefined) setProbe(core, hub);
  let attached = true;
  return () => {
    if (!attached) return;
    attached = false;
    hub.probes = hub.probes.filter((p) => p.id !== id);
    if (hub.probes.length === 0 && core.probe === hub) {
      setProbe(core, undefined);
      hub.store.release?.();
    }
  };
}

/** Sets (or, with undefined, removes) the probe on the cache and on its routes (later routes take it in `addRoute`). */
function setProbe(core: CacheCore, hub: ProbeHub | undefined): void {
  core.probe = hub;
  for (const route of core.routes) route.probe(hub);
}

/**
 * What the core calls (`core.probe`, set while at least one {@link Probe} is attached): turns the
 * core's positional reports into records, attributes them to the decorated call under way, and
 * fans them out to the attached probes.
 * @internal
 */
export class ProbeHub {
  probes: readonly { id: string; probe: Probe }[] = [];
  /** The decorated call under way in the async context. */
  readonly store: ContextStore<CallRecord> & { release?(): void } = releasableStore<CallRecord>();

  /** Runs one decorated call (`run`: the call itself, which returns a promise) through every probe's `call`. */
  call(strategy: string, name: string, run: () => unknown): unknown {
    const record: CallRecord = { strategy, function: name, outcome: undefined, template: undefined, key: undefined, backend: undefined };
    const store = this.store;
    let next = (): Promise<unknown> => store.run(record, run) as Promise<unknown>;
    const probes = this.probes;
    for (let i = probes.length - 1; i >= 0; i--) {
      const probe = probes[i]!.probe;
      if (probe.call === undefined) continue;
      const inner = next;
      // A probe never breaks the call: a hook that throws before running the call is skipped.
      next = () => {
        let ran = false;
        try {
          return probe.call!(record, () => ((ran = true), inner()));
        } catch (error) {
          if (ran) throw error;
          return inner();
        }
      };
    }
    return next();
  }

  /** A decorated call's read (`strategy` set: fills the call's record) or a direct one. */
  outcome(hit: boolean, strategy: string | undefined, fn: string | undefined, template: string | undefined, backend: string, key: string): void {
    if (strategy !== undefined) {
      const call = this.store.get();
      if (call !== undefined && call.outcome === undefined && call.strategy === strategy) {
        call.outcome = hit ? "hit" : "miss";
        call.function = fn ?? call.function;
        call.template = template;
        call.key = key;
        call.backend = backend;
      }
    }
    // A direct read (cache.get) inside a decorated call is labelled with that call's strategy, as
    // its writes, errors and waits are.
    this.#emit("outcome", { hit, strategy: strategy ?? this.store.get()?.strategy, function: fn, template, backend, key });
  }

  set(backend: string, key: string | undefined): void {
    this.#emit("set", { backend, strategy: this.store.get()?.strategy, key });
  }

  error(backend: string, key: string | undefined, error: unknown): void {
    this.#emit("error", { backend, strategy: this.store.get()?.strategy, key, error });
  }

  /** A wait on `route` that started at `started` (`performance.now()`; undefined: there was no wait). */
  wait(kind: WaitRecord["kind"], route: Route, key: string, started: number | undefined, ok: boolean): void {
    if (started !== undefined) this.#emit("wait", { kind, backend: route.label, strategy: this.store.get()?.strategy, key, seconds: (performance.now() - started) / 1000, ok });
  }

  /**
   * A caller joining the computation under way for `key` in this process: reports the wait for
   * `pending` once it settles; returns `pending`. The backend is `"none"` when no route serves the
   * key (`singleFlight` needs none).
   */
  joined<T>(core: CacheCore, key: string, pending: Promise<T>): Promise<T> {
    let backend = "none";
    try {
      backend = core.route(key).label;
    } catch {
      // No route serves the key (a cache not set up, for singleFlight).
    }
    const started = performance.now();
    const strategy = this.store.get()?.strategy;
    const done = (ok: boolean) => () => this.#emit("wait", { kind: "in-flight", backend, strategy, key, seconds: (performance.now() - started) / 1000, ok });
    pending.then(done(true), done(false));
    return pending;
  }

  limit(limiter: string, allowed: boolean, route: Route, key: string): void {
    this.#emit("limit", { limiter, allowed, backend: route.label, strategy: this.store.get()?.strategy, key });
  }

  /**
   * The backend as the route publishes it while probed: every command reported (through the
   * middleware machinery), `peek` kept (a local copy's hits reported when the route is not live
   * memory).
   */
  view(raw: Backend, route: Route): Backend {
    const hub = this;
    const peek =
      typeof raw.peek === "function"
        ? (key: string): unknown => {
            const value = raw.peek!(key);
            if (value !== MISSING && !route.live) hub.#emit("localHit", { backend: route.label, strategy: hub.store.get()?.strategy, key });
            return value;
          }
        : undefined;
    const measure: Middleware = (command, args, next) => {
      const start = performance.timeOrigin + performance.now();
      const strategy = hub.store.get()?.strategy;
      const key = typeof args[0] === "string" ? args[0] : Array.isArray(args[0]) && typeof args[0][0] === "string" ? (args[0][0] as string) : undefined;
      const report = (error: unknown): void =>
        hub.#emit("command", { backend: route.label, scheme: route.scheme, command, key, strategy, start, seconds: (performance.timeOrigin + performance.now() - start) / 1000, error });
      return next().then(
        (result) => (report(undefined), result),
        (error: unknown) => {
          report(error ?? new Error("rejected"));
          throw error;
        },
      );
    };
    return throughMiddleware(raw, [measure], route.label, peek);
  }

  #emit<H extends Hook>(hook: H, record: Parameters<NonNullable<Probe[H]>>[0]): void {
    for (const { probe } of this.probes) {
      const fn = probe[hook] as ((r: typeof record) => void) | undefined;
      if (fn === undefined) continue;
      try {
        fn.call(probe, record);
      } catch {
        // A probe never breaks the cache.
      }
    }
  }
}

/** The probe state of a cache, for tests of the integrations. @internal */
export function probeOf(cache: object): ProbeHub | undefined {
  return (stateOf(cache) as CacheCore).probe;
}
