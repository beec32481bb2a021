/**
 * `cashews/workers`: the Cloudflare Workers wrapper. {@link withCache} sets a cache up from the
 * env bindings on the first event of an isolate and runs every `fetch`, `scheduled` and `queue`
 * event with the event's `ctx.waitUntil` bound, so background refreshes (`early`, `hit`'s
 * `updateAfter`, …) finish after the response was returned instead of being cancelled with it.
 *
 * @example
 * import { cache } from "cashews";
 * import "cashews/upstash";
 * import { withCache } from "cashews/workers";
 *
 * interface Env { UPSTASH_URL: string; UPSTASH_TOKEN: string }
 * const getUser = cache.early({ ttl: "10m", earlyTtl: "8m", key: "user:{id}" })(fetchUser);
 *
 * export default withCache({
 *   setup: (env: Env) => [
 *     ["mem://?size=1000", {}],
 *     [env.UPSTASH_URL, { prefix: "user:", token: env.UPSTASH_TOKEN }],
 *   ],
 * }, {
 *   async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
 *     return Response.json(await getUser(new URL(request.url).searchParams.get("id")!));
 *   },
 * });
 * @module
 */
import { CoreCache } from "./presets/core-cache.js";
import { parseSetup } from "./config/parse.js";
import { schemeSpec } from "./config/registry.js";
import { runWithWaitUntil } from "./context/scope.js";
import { handOver, installWaitUntilFallback, rememberContext } from "./context/waituntil-fallback.js";
import { CacheConfigError, messageOf } from "./errors.js";
import { cache as defaultCache } from "./presets/default.js";

// ------------------------------------------------------------------------------------ types

/**
 * The part of a Workers `ExecutionContext` (the handlers' third argument) that `withCache` uses.
 * The `ExecutionContext` of `@cloudflare/workers-types` fits it.
 * @example
 * const ctx: ExecutionContextLike = { waitUntil: (promise) => void promise };
 */
export interface ExecutionContextLike {
  /** Keeps the event alive until `promise` settles (after the response was returned). */
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * The part of a `Request` that `withCache` relies on (it only passes the request through); the
 * global `Request` fits it.
 * @example
 * const request: RequestLike = new Request("https://example.com/");
 */
export interface RequestLike {
  readonly url: string;
  readonly method: string;
}

/**
 * The part of a Workers `ScheduledController` (a cron trigger's first argument) that is passed through.
 * @example
 * const controller: ScheduledControllerLike = { cron: "* * * * *", scheduledTime: Date.now() };
 */
export interface ScheduledControllerLike {
  readonly cron: string;
  readonly scheduledTime: number;
}

/**
 * The part of a Workers `MessageBatch` (a queue consumer's first argument) that is passed through.
 * @example
 * const batch: MessageBatchLike = { queue: "jobs", messages: [] };
 */
export interface MessageBatchLike {
  readonly queue: string;
  readonly messages: readonly unknown[];
}

/**
 * A module worker's handlers, as far as `withCache` is concerned: any subset of `fetch`,
 * `scheduled` and `queue`; other properties are kept as they are. `ExportedHandler<Env>` of
 * `@cloudflare/workers-types` and a Hono app fit it.
 * @example
 * const handler: WorkerHandler<{ CACHE_URL: string }> = {
 *   async fetch(request, env, ctx) { return new Response("ok"); },
 * };
 */
export interface WorkerHandler<Env = unknown> {
  /** An HTTP request. (`ctx` is always given by the runtime; it is optional so that Hono's `app.fetch` fits.) */
  fetch?(request: RequestLike, env: Env, ctx?: ExecutionContextLike): unknown;
  /** A cron trigger. */
  scheduled?(controller: ScheduledControllerLike, env: Env, ctx?: ExecutionContextLike): unknown;
  /** A batch of queue messages. */
  queue?(batch: MessageBatchLike, env: Env, ctx?: ExecutionContextLike): unknown;
}

/**
 * One `cache.setup(url, options)` call: a URL and its options (e.g. `{ prefix: "user:", token }`).
 * @example
 * const entry: SetupEntry = ["upstash://my-db.upstash.io", { prefix: "user:", token: "…" }];
 */
export type SetupEntry = readonly [url: string, options?: Record<string, unknown>];

/**
 * What `setup(env)` returns: one URL (one `setup(url)` call), or a list of `[url, options]`
 * entries, one `setup` call each (so `prefix` routes keys as usual).
 * @example
 * const one: SetupResult = "mem://?size=1000";
 * const two: SetupResult = [["mem://", {}], ["upstash://my-db.upstash.io", { prefix: "user:", token: "…" }]];
 */
export type SetupResult = string | readonly SetupEntry[];

/**
 * Options of {@link withCache}.
 * @example
 * const options: WithCacheOptions<{ CACHE_URL: string }> = { setup: (env) => env.CACHE_URL };
 */
export interface WithCacheOptions<Env = unknown> {
  /**
   * Maps the env bindings to the cache's backends. Called on the first event of an isolate, and
   * again on the next event for as long as it fails; it must return synchronously and do no I/O.
   */
  setup: (env: Env) => SetupResult;
  /** The cache to set up (a `Cache` or a `CoreCache`). Default: the default `cache` instance of `cashews`. */
  cache?: CoreCache;
}

// ------------------------------------------------------------------------------------ waitUntil fallback

/** workerd, whose `ctx.waitUntil` attaches to the running request (see src/context/waituntil-fallback.ts). */
const WORKERD = (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent === "Cloudflare-Workers";

// ------------------------------------------------------------------------------------ setup

/** Describes a value for an error message without echoing it (a URL may carry a password). */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "string") return value === "" ? "an empty string" : "a string";
  return typeof value === "object" ? "an object" : String(typeof value === "function" ? "a function" : value);
}

function isOptions(value: unknown): value is Record<string, unknown> | undefined {
  return value === undefined || (typeof value === "object" && value !== null && !Array.isArray(value));
}

/** `setup(env)`'s result as validated `[url, options]` entries, or a CacheConfigError naming what is wrong. */
function entriesOf(result: unknown, where: string): [string, Record<string, unknown> | undefined][] {
  const expected = "expected a URL string or a list of [url, options] entries";
  if (typeof result === "string") {
    if (result === "") throw new CacheConfigError(`${where}setup(env) returned an empty string (is the binding set?); ${expected}`);
    return [[result, undefined]];
  }
  if (typeof (result as { then?: unknown } | null)?.then === "function") {
    throw new CacheConfigError(`${where}setup(env) returned a Promise: it must return synchronously (setup does no I/O)`);
  }
  if (!Array.isArray(result)) {
    throw new CacheConfigError(`${where}setup(env) returned ${describe(result)}${result === undefined ? " (is the binding set?)" : ""}; ${expected}`);
  }
  if (result.length === 0) throw new CacheConfigError(`${where}setup(env) returned an empty list; ${expected}`);
  if (result.length <= 2 && typeof result[0] === "string" && result[1] !== undefined && isOptions(result[1])) {
    throw new CacheConfigError(`${where}setup(env) returned a single [url, options] entry; return a list of them: [[url, options]]`);
  }
  return result.map((entry: unknown, i) => {
    const at = `${where}setup(env) entry ${i + 1} of ${result.length}`;
    if (typeof entry === "string") entry = [entry];
    if (!Array.isArray(entry) || entry.length === 0 || entry.length > 2) {
      throw new CacheConfigError(`${at} is ${describe(entry)}; expected [url, options]`);
    }
    const [url, options] = entry as unknown[];
    if (typeof url !== "string" || url === "") {
      throw new CacheConfigError(`${at}: the URL is ${describe(url)}${url === undefined || url === "" ? " (is the binding set?)" : ""}; expected a string such as "mem://"`);
    }
    if (!isOptions(options)) throw new CacheConfigError(`${at}: the options are ${describe(options)}; expected an object`);
    return [url, options];
  });
}

/** Validates every entry first (nothing is applied unless all are good), then sets the cache up. */
function applySetup<Env>(cache: CoreCache, setup: (env: Env) => SetupResult, env: Env): void {
  const where = `withCache (cache "${cache.name}"): `;
  let result: unknown;
  try {
    result = setup(env);
  } catch (error) {
    throw new CacheConfigError(`${where}setup(env) threw: ${messageOf(error)}`, { cause: error });
  }
  // Schemes that read bindings (cloudflare-kv://NAME) get the env, unless the entry passes its own.
  const entries = entriesOf(result, where).map(([url, options]): [string, Record<string, unknown> | undefined] => {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
    const takesEnv = scheme !== undefined && Object.hasOwn(schemeSpec(scheme)?.options ?? {}, "env");
    return takesEnv && options?.env === undefined ? [url, { ...options, env }] : [url, options];
  });
  const prefixes = new Map<string, number>();
  entries.forEach(([url, options], i) => {
    let prefix: string;
    try {
      prefix = parseSetup(url, options).common.prefix;
    } catch (error) {
      const named = typeof options?.prefix === "string" ? `, prefix ${JSON.stringify(options.prefix)}` : "";
      throw new CacheConfigError(`${where}setup failed for entry ${i + 1} of ${entries.length}${named}: ${messageOf(error)}`, { cause: error });
    }
    const other = prefixes.get(prefix);
    if (other !== undefined) {
      throw new CacheConfigError(`${where}setup(env) entries ${other} and ${i + 1} both have prefix ${JSON.stringify(prefix)}: the second would replace the first`);
    }
    prefixes.set(prefix, i + 1);
  });
  for (const [url, options] of entries) cache.setup(url, options);
}

// ------------------------------------------------------------------------------------ withCache

const EVENTS = ["fetch", "scheduled", "queue"] as const;
const OPTIONS = ["setup", "cache"];

/**
 * Wraps a module worker's `fetch`, `scheduled` and `queue` handlers (any subset; every other
 * property is kept, and the handlers still run with the original object as `this`):
 *
 * - **Setup, once per isolate.** On the first event, `setup(env)` maps the bindings to backends
 *   and `cache` (default: the default instance) is set up: a string is one `cache.setup(url)`,
 *   each `[url, options]` entry one `cache.setup(url, options)`, so `prefix` routes keys as
 *   usual. Every entry is validated (and no two may share a prefix) before any is applied.
 *   Setup does no I/O: backends connect on first use. Use one `withCache` per cache (nest them
 *   for several caches); annotate `setup`'s `env` (or pass `withCache<Env>`) for typed bindings.
 * - **A bad setup fails every event, loudly.** If `setup(env)` throws, returns something that is
 *   not a URL or a list of `[url, options]` (e.g. `undefined` from a missing binding), or a URL
 *   or option is invalid, the event throws a {@link CacheConfigError} that names the entry and
 *   the problem (never the URL itself, which may hold a password): `fetch` answers 500 and the
 *   error is in the logs, `scheduled`/`queue` fail (queue messages are retried). Setup is tried
 *   again on the next event, so it never runs silently without a cache.
 * - **Bindings.** A scheme that reads the platform's bindings (`cloudflare-kv://NAME`) is given
 *   `env` as its `env` option, unless the entry passes one: `setup: () => "cloudflare-kv://CACHE_KV"`.
 * - **waitUntil.** Each event runs in a context scope with `ctx.waitUntil` bound
 *   (`runWithWaitUntil`): background work started while handling it is handed to
 *   `ctx.waitUntil` and completes after the response was returned.
 *
 * **Without async context** (no `nodejs_compat` or `nodejs_als` flag; and under `nodejs_als`
 * alone, which cashews cannot reach without a static import) the scope only spans the
 * synchronous part of the handler, and background work typically starts after an `await`. On
 * workerd, `withCache` then hands such work to the `waitUntil` of the latest event's `ctx` (the
 * same fallback, registered once, that the `cashews/hono` middlewares use without `withCache`). That
 * is correct with concurrent requests too, because workerd's `ctx.waitUntil` attaches the promise
 * to the request that is *currently running* (the one whose continuation started the work), not
 * to the request the `ctx` came from (workerd's `ExecutionContext::waitUntil` calls
 * `IoContext::current().addWaitUntil`); calling it on a finished request's `ctx` does not throw.
 * Work nobody hands to `waitUntil` is cancelled with its request (its timers never fire).
 * Outside workerd there is no such fallback (Node, Bun and Deno have async context anyway). With
 * async context, the scope follows every `await` and timer of the event and the fallback is only
 * used for work started outside any wrapped event (e.g. a Durable Object in the same isolate).
 *
 * `ctx` may be missing (e.g. `app.request(url, init, env)` in tests): the event then runs without
 * a bound `waitUntil`. For a Hono app, the returned copy's `request(input, init, env, ctx)` is
 * wrapped too (Hono's own calls the app's unwrapped `fetch`), so it sets the cache up from `env`
 * like `fetch`; routes must be added to the app before it is wrapped. Events other than `fetch`,
 * `scheduled` and `queue` (`email`, `tail`) are passed through unwrapped.
 *
 * @param options `setup`: `(env) => url | [url, options][]`; `cache`: the cache to set up.
 * @param handler The worker's handlers (`export default { fetch, scheduled, queue }`, a Hono app).
 * @returns A copy of `handler` (same prototype and properties) with wrapped handlers.
 * @throws {CacheConfigError} At wrap time for bad options or a handler without any of the three.
 * @example
 * import { cache } from "cashews";
 * import { withCache } from "cashews/workers";
 *
 * const page = cache.early({ ttl: "10m", earlyTtl: "5m", key: "page:{path}" })(render);
 *
 * export default withCache({ setup: (env: { CACHE_URL: string }) => env.CACHE_URL }, {
 *   async fetch(request: Request): Promise<Response> {
 *     return new Response(await page(new URL(request.url).pathname));
 *   },
 *   async scheduled(controller: ScheduledController): Promise<void> {
 *     await page("/"); // warm the home page; a due refresh runs in waitUntil
 *   },
 * });
 */
export function withCache<Env = unknown, H extends WorkerHandler<Env> = WorkerHandler<Env>>(
  options: WithCacheOptions<Env>,
  handler: H & WorkerHandler<Env>,
): H {
  if (typeof options !== "object" || options === null) {
    throw new CacheConfigError(`withCache: options must be an object { setup, cache? }, got ${describe(options)}`);
  }
  for (const name of Object.keys(options)) {
    if (!OPTIONS.includes(name)) throw new CacheConfigError(`withCache: unknown option "${name}"; known options: ${OPTIONS.join(", ")}`);
  }
  const { setup, cache = defaultCache } = options;
  if (typeof setup !== "function") {
    throw new CacheConfigError(`withCache: "setup" must be a function (env) => url | [url, options][], got ${describe(setup)}`);
  }
  if (!(cache instanceof CoreCache)) throw new CacheConfigError(`withCache: "cache" must be a cache (a Cache or CoreCache instance), got ${describe(cache)}`);
  if (typeof handler !== "object" || handler === null) {
    throw new CacheConfigError(`withCache: the handler must be an object with fetch, scheduled or queue, got ${describe(handler)}`);
  }
  const events = EVENTS.filter((name) => typeof handler[name] === "function");
  if (events.length === 0) throw new CacheConfigError("withCache: the handler has no fetch, scheduled or queue function to wrap");
  if (WORKERD) installWaitUntilFallback();

  let ready = false;
  /** Sets the cache up (first event), then runs `call` with `ctx.waitUntil` bound. */
  const around = (env: Env, ctx: ExecutionContextLike | undefined, call: (ctx: ExecutionContextLike | undefined) => unknown): unknown => {
    if (!ready) {
      applySetup(cache, setup, env);
      ready = true;
    }
    if (typeof ctx?.waitUntil !== "function") return call(ctx);
    const context = ctx;
    rememberContext(context);
    return runWithWaitUntil((promise) => handOver(context, promise), () => call(context));
  };
  const wrapped = Object.create(Object.getPrototypeOf(handler), Object.getOwnPropertyDescriptors(handler)) as H;
  const define = (name: string, run: (...args: any[]) => unknown): void => {
    Object.defineProperty(run, "name", { value: name });
    Object.defineProperty(wrapped, name, { value: run, writable: true, enumerable: true, configurable: true });
  };
  for (const name of events) {
    const original = handler[name] as (event: unknown, env: Env, ctx: ExecutionContextLike | undefined) => unknown;
    define(name, (event: unknown, env: Env, ctx: ExecutionContextLike | undefined) => around(env, ctx, (bound) => original.call(handler, event, env, bound)));
  }
  // A Hono app's `request(input, init, env, ctx)` (tests) calls the app's own, unwrapped `fetch`:
  // it gets the same setup and waitUntil binding.
  const hono = handler as { request?: unknown; routes?: unknown };
  if (events.includes("fetch") && typeof hono.request === "function" && Array.isArray(hono.routes)) {
    const request = hono.request as (input: unknown, init: unknown, env: Env, ctx: ExecutionContextLike | undefined) => unknown;
    define("request", (input: unknown, init: unknown, env: Env, ctx: ExecutionContextLike | undefined) =>
      around(env, ctx, (bound) => request.call(handler, input, init, env, bound)),
    );
  }
  return wrapped;
}
