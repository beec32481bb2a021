/**
 * Per-call scopes: disabled commands, `invalidateFurther`, cache detection and `waitUntil`, all
 * kept in one {@link ContextStore} frame. Every scope (`disabling`, `invalidateFurther`,
 * `detect`, `runWithWaitUntil`) opens a frame that copies its parent's state, so whatever changes
 * inside it (including a `disable()` called there) stays inside it and concurrent scopes never
 * see each other. Outside every scope, `disable()`/`enable()` change the cache's process-wide
 * default.
 *
 * The hit path pays one field read: {@link scope}`.live` is 0 while no scope is running and no
 * cache has a process-wide disable; only then may strategies skip this module altogether.
 * @module
 */
import type { Backend } from "../backends/types.js";
import { createContextStore, releasableStore } from "./store.js";

/**
 * The cache commands, for `disable`/`enable`/`disabling`/`isDisabled`.
 * @example
 * import { cache, Command } from "cashews";
 * await cache.disabling(() => getUser("1"), Command.GET, Command.GET_MANY); // recomputed, still stored
 */
export const Command = Object.freeze({
  GET: "get",
  GET_MANY: "get_many",
  SET: "set",
  SET_MANY: "set_many",
  INCR: "incr",
  DELETE: "delete",
  DELETE_MANY: "delete_many",
  DELETE_MATCH: "delete_match",
  SCAN: "scan",
  GET_MATCH: "get_match",
  EXPIRE: "expire",
  GET_EXPIRE: "get_expire",
  EXISTS: "exists",
  PING: "ping",
  CLEAR: "clear",
  SET_LOCK: "set_lock",
  UNLOCK: "unlock",
  IS_LOCKED: "is_locked",
  GET_KEYS_COUNT: "get_keys_count",
  GET_RAW: "get_raw",
  SET_RAW: "set_raw",
  GET_SIZE: "get_size",
  SET_ADD: "set_add",
  SET_REMOVE: "set_remove",
  SET_POP: "set_pop",
  SET_MEMBERS: "set_members",
} as const);
/** One of {@link Command}'s values, e.g. `Command.GET` (`"get"`). */
export type Command = (typeof Command)[keyof typeof Command];

const ALL: readonly Command[] = Object.values(Command);
const NONE: ReadonlySet<Command> = new Set();

/**
 * A decorated call served from cache, as recorded by `detect`.
 * @example
 * const { keys } = await cache.detect(() => getUser("1"));
 * // { "user:1": [{ name: "cache", ttl: 3600000, backend: "mem", template: "user:{id}", function: "user:{id}" }] }
 */
export interface DetectInfo {
  /** The strategy: `"cache"`, `"early"`, `"soft"`, `"hit"`, `"dynamic"`, `"failover"`, `"iterator"`. */
  name: string;
  /** The strategy's ttl in ms (undefined: no expiry). */
  ttl: number | undefined;
  /** The label of the backend that served it. */
  backend: string;
  /** The key template, when the strategy was given one. */
  template?: string;
  /** The decorated function's label. */
  function?: string;
  /** Strategy extras (e.g. `earlyTtl`, `softTtl`, `cacheHits`). */
  [extra: string]: unknown;
}

/** Hits recorded by one detect scope: the {@link DetectInfo}s of each key, in hit order. */
export type DetectKeys = Record<string, DetectInfo[]>;

interface Level {
  keys: DetectKeys;
  parent: Level | undefined;
}

/** Anything with per-cache state: a CacheCore (kept structural to avoid an import cycle). */
export interface Scoped {
  /** Process-wide disabled commands (outside every scope). */
  disabled: ReadonlySet<Command>;
}

interface Frame {
  /** Disabled commands per cache, overriding the process-wide default (copied from the parent). */
  disabled: Map<Scoped, ReadonlySet<Command>> | undefined;
  invalidate: boolean;
  detect: Level | undefined;
  waitUntil: ((promise: Promise<unknown>) => void) | undefined;
}

/**
 * `live`: running scopes plus caches with a process-wide disable. Zero means "no scope anywhere":
 * the hit path checks it before anything else in this module. `served`: the `upper` layer call
 * whose function is running synchronously right now (see {@link Served}); `framed`: upper layer
 * calls in flight in the async context (0: no need to look there).
 * @internal
 */
export const scope: { live: number; sticky: boolean; served: Served | undefined; framed: number } = { live: 0, sticky: false, served: undefined, framed: 0 };

// ------------------------------------------------------------------------------------ upper layers

/**
 * One call of an `upper` layer (failover, or a strategy with `upper: true`): `hit` turns true when
 * a decorated call inside its function was served from cache, so the layer does not store what it
 * returned. A hit marks its layer and every enclosing one (`parent`).
 *
 * {@link scope}`.served` names the layer whose function is running synchronously: a decorator
 * stacked directly on another, and the calls a function makes before its first `await`, read it
 * with one field read. Calls after an `await` find the layer in an async context of its own
 * ({@link upperStore}), kept only while upper layer calls are in flight: on Node ≤ 22 a running
 * AsyncLocalStorage costs every promise of the process (a memory hit: ~1.8×), so a process pays
 * it only while its `upper` layers run, and never without them. Where the runtime has no
 * AsyncLocalStorage, only the synchronous part is seen.
 * @internal
 */
export interface Served {
  hit: boolean;
  parent: Served | undefined;
}

/** The async context of running `upper` layer calls (separate from the scopes': it is released when idle). */
const upperStore = releasableStore<Served>();

/** The `upper` layer call the current decorated call runs inside, if any (read it synchronously when the call starts). @internal */
export function servedHere(): Served | undefined {
  return scope.served ?? (scope.framed === 0 ? undefined : upperStore.get());
}

/** Marks `served` and every enclosing layer call: a value was served from cache inside them. @internal */
export function markServed(served: Served | undefined): void {
  for (; served !== undefined && !served.hit; served = served.parent) served.hit = true;
}

/**
 * Runs `fn` (the function of an `upper` layer) so that decorated calls it starts, before or after
 * an `await`, mark `served` when they are served from cache. @internal
 */
export function watching<R>(served: Served, fn: () => R): R {
  const previous = scope.served;
  scope.served = served;
  try {
    if (!upperStore.async) return fn();
    scope.framed++;
    return settled(
      () => upperStore.run(served, fn),
      () => {
        if (--scope.framed === 0) upperStore.release?.();
      },
    );
  } finally {
    scope.served = previous;
  }
}

const store = createContextStore<Frame>();

/** Detect levels of the synchronous fallback store: work inside a running `CacheDetect.run`. */
const running = new Set<Level>();

/** Runs `fn` in a new frame derived from the current one. */
function enter<R>(patch: Partial<Frame>, fn: () => R): R {
  const parent = store.get();
  const frame: Frame = {
    disabled: parent?.disabled === undefined ? undefined : new Map(parent.disabled),
    invalidate: parent?.invalidate ?? false,
    detect: parent?.detect,
    waitUntil: parent?.waitUntil,
    ...patch,
  };
  if (store.async) {
    // Work started inside a scope may run after its callback settled (a timer, a detached
    // promise) and still sees the frame through AsyncLocalStorage: so once any scope was entered,
    // the hit path keeps consulting the store (one getStore per call) for the life of the process.
    if (!scope.sticky) {
      scope.sticky = true;
      scope.live++;
    }
    return store.run(frame, fn);
  }
  scope.live++;
  return settled(
    () => store.run(frame, fn),
    () => {
      scope.live--;
    },
  );
}

/** Runs `fn`, then `done` once its result settles (right away unless it is a promise), even if it throws. */
function settled<R>(fn: () => R, done: () => void): R {
  let result: R;
  try {
    result = fn();
  } catch (error) {
    done();
    throw error;
  }
  if (result instanceof Promise) return result.finally(done) as R;
  done();
  return result;
}

/** The commands disabled for `cache` in the current context. */
export function disabledFor(cache: Scoped): ReadonlySet<Command> {
  return store.get()?.disabled?.get(cache) ?? cache.disabled;
}

/**
 * True when `command` is disabled for `cache` here, or for `route` (the disable state of one
 * prefix, see `cache.disable({ prefix })`) when given (cheap when no scope is live).
 */
export function isDisabled(cache: Scoped, command: Command, route?: Scoped): boolean {
  return scope.live !== 0 && (disabledFor(cache).has(command) || (route !== undefined && disabledFor(route).has(command)));
}

/** True when every command is disabled for `cache` here: decorators then call the function directly. */
export function isFullyDisabled(cache: Scoped): boolean {
  return scope.live !== 0 && disabledFor(cache).size === ALL.length;
}

function changed(current: ReadonlySet<Command>, commands: readonly Command[], disable: boolean): ReadonlySet<Command> {
  for (const command of commands) {
    if (!ALL.includes(command)) throw new TypeError(`unknown command ${JSON.stringify(command)}: use the Command enum`);
  }
  const list = commands.length === 0 ? ALL : commands;
  const next = new Set(current);
  for (const command of list) {
    if (disable) next.add(command);
    else next.delete(command);
  }
  return next.size === 0 ? NONE : next;
}

/**
 * Disables (`disable: true`) or enables commands for `cache`: in the current scope when there is
 * one, else process-wide.
 * @internal
 */
export function setCommands(cache: Scoped, commands: readonly Command[], disable: boolean): void {
  const frame = store.get();
  if (frame !== undefined) {
    const next = changed(disabledFor(cache), commands, disable);
    (frame.disabled ??= new Map()).set(cache, next);
    return;
  }
  const before = cache.disabled.size > 0;
  cache.disabled = changed(cache.disabled, commands, disable);
  const after = cache.disabled.size > 0;
  if (before !== after) scope.live += after ? 1 : -1;
}

/**
 * Runs `fn` with `commands` (none: all) disabled for `cache`, in `fn`'s async context only.
 * @internal
 */
export function disablingFor<R>(cache: Scoped, commands: readonly Command[], fn: () => R): R {
  const next = changed(disabledFor(cache), commands, true);
  const parent = store.get()?.disabled;
  const disabled = new Map(parent);
  disabled.set(cache, next);
  return enter({ disabled }, fn);
}

/**
 * Runs `fn` so that reads inside it (`get`, `getMany`, `getMatch`, and so decorated calls) delete
 * their keys and miss instead of returning values; writes are unaffected. Nested use restores
 * the outer state on exit. Applies to every cache.
 * @example
 * await invalidateFurther(() => getUser("1")); // recomputed and stored again
 */
export function invalidateFurther<R>(fn: () => R): R {
  return enter({ invalidate: true }, fn);
}

/** True inside {@link invalidateFurther}. */
export function isInvalidating(): boolean {
  return scope.live !== 0 && store.get()?.invalidate === true;
}

/**
 * Runs `fn` so that background work started inside it (early/hit refreshes) is handed to
 * `waitUntil` (e.g. a Worker's `ctx.waitUntil`). It is also a scope: a `disable()` inside stays
 * inside. (`cashews/workers` and `cashews/hono` do this for every request.)
 * @example
 * export default {
 *   fetch(request: Request, env: unknown, ctx: { waitUntil(promise: Promise<unknown>): void }) {
 *     return runWithWaitUntil((promise) => ctx.waitUntil(promise), () => handler(request));
 *   },
 * };
 */
export function runWithWaitUntil<R>(waitUntil: (promise: Promise<unknown>) => void, fn: () => R): R {
  if (typeof waitUntil !== "function") throw new TypeError("runWithWaitUntil: waitUntil must be a function");
  return enter({ waitUntil }, fn);
}

/** The current `waitUntil`, if any. @internal */
export function currentWaitUntil(): ((promise: Promise<unknown>) => void) | undefined {
  return scope.live === 0 ? undefined : store.get()?.waitUntil;
}

/**
 * Records a decorated call served from cache in the current detect scope and every enclosing
 * one. Call only when `scope.live !== 0`.
 * @internal
 */
export function recordHit(key: string, info: DetectInfo): void {
  let level = store.get()?.detect;
  if (level === undefined && !store.async) {
    for (const l of running) (l.keys[key] ??= []).push(info);
    return;
  }
  for (; level !== undefined; level = level.parent) (level.keys[key] ??= []).push(info);
}

/**
 * Records which decorated calls are served from cache while `run` is in progress. With an async
 * context store (AsyncLocalStorage) only work started inside `run` counts, concurrent detectors
 * are isolated, and a nested one's hits also count for the enclosing ones. Without one, every
 * hit while `run` is pending counts (the runtime cannot tell whose work it is).
 * @example
 * const d = new CacheDetect();
 * await d.run(() => handler(request));
 * console.log(Object.keys(d.keys));
 */
export class CacheDetect {
  #keys: DetectKeys = {};

  /**
   * Hits by key, in hit order.
   * @example
   * const d = new CacheDetect();
   * await d.run(() => getUser("1"));
   * d.keys["user:1"]?.[0]?.name; // "cache" when served from cache
   */
  get keys(): DetectKeys {
    return this.#keys;
  }

  /**
   * Every recorded hit as `[key, info]`, grouped by key (first-hit order of keys).
   * @example
   * for (const [key, info] of detector.calls) console.log(key, info.name, info.ttl);
   */
  get calls(): [string, DetectInfo][] {
    return Object.entries(this.#keys).flatMap(([key, infos]) => infos.map((info): [string, DetectInfo] => [key, info]));
  }

  /**
   * Forgets what was recorded (the detector can be run again).
   * @example
   * detector.clear();
   * Object.keys(detector.keys).length; // 0
   */
  clear(): void {
    this.#keys = {};
  }

  /**
   * Runs `fn`, recording the hits of work it starts; returns what `fn` returns.
   * @example
   * const detector = new CacheDetect();
   * const response = await detector.run(() => handler(request));
   * if (detector.calls.length > 0) response.headers.set("X-From-Cache", detector.calls[0]![0]);
   */
  run<R>(fn: () => R): R {
    const level: Level = { keys: this.#keys, parent: store.get()?.detect };
    if (store.async) return enter({ detect: level }, fn);
    running.add(level);
    return settled(
      () => enter({ detect: level }, fn),
      () => running.delete(level),
    );
  }
}

/** `cache.detect(fn)`: `{ result, keys }`. @internal */
export async function detect<R>(fn: () => R | Promise<R>): Promise<{ result: Awaited<R>; keys: DetectKeys }> {
  const d = new CacheDetect();
  const result = (await d.run(fn)) as Awaited<R>;
  return { result, keys: d.keys };
}

// ------------------------------------------------------------------------------------ backend guard

/** Thrown by a guarded backend for a disabled command; `CacheCore.run` turns it into the neutral value. */
export const DISABLED: unique symbol = Symbol("cashews.disabled");

/**
 * The command each backend method runs: its name in camelCase (`getMany` runs `get_many`), and
 * `peek` reads like `get`, `slidingIncr` and `limit` (the limiter's step) count like `incr`.
 */
// A tag's deletion is the deletion of many keys (disable, middleware see it as DELETE_MANY).
export const METHODS: Record<string, Command> = { peek: Command.GET, slidingIncr: Command.INCR, limit: Command.INCR, tagDelete: Command.DELETE_MANY };
for (const command of ALL) METHODS[command.replace(/_(\w)/g, (_, c: string) => c.toUpperCase())] = command;

const throwDisabled = (): never => {
  throw DISABLED;
};

/**
 * The backend as the current scope sees it: itself when nothing applies, else a view whose
 * disabled commands throw {@link DISABLED} and whose reads delete under `invalidateFurther`.
 * Call only when `scope.live !== 0`.
 * @internal
 */
export function guarded(cache: Scoped, backend: Backend, missing: unknown, route?: Scoped): Backend {
  const frame = store.get();
  let disabled = frame?.disabled?.get(cache) ?? cache.disabled;
  const own = route === undefined ? NONE : (frame?.disabled?.get(route) ?? route.disabled);
  if (own.size > 0) disabled = new Set([...disabled, ...own]);
  const invalidate = frame?.invalidate === true;
  if (disabled.size === 0 && !invalidate) return backend;
  return new Proxy(backend, {
    get(target, prop, receiver) {
      const command = typeof prop === "string" ? METHODS[prop] : undefined;
      if (command !== undefined && disabled.has(command)) return throwDisabled;
      if (invalidate) {
        if (prop === "get") return async (key: string) => (await target.delete(key), missing);
        if (prop === "getMany") return async (keys: readonly string[]) => (await target.deleteMany(keys), keys.map(() => missing));
        if (prop === "peek") return undefined;
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
