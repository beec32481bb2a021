/**
 * The `iterator` strategy: `cache.iterator({ ttl, key?, prefix?, condition? })` caches what an async
 * generator yields, chunk by chunk, and replays it.
 *
 * Storage: chunk `i` lives under `<key>:<i>`, the marker under `<key>`. Every value of one run is
 * stamped with a random run id: chunk `i` is stored as `[run, chunk]`, the marker as
 * `{ run, chunks, returned }`. The marker is written only after the generator **completed** and
 * every chunk was written, with the time to live that is left of the first chunk's, so it never
 * outlives a chunk. Hence:
 * - a run that fails (without `withExceptions`) or that the consumer abandons (`break`, `return()`)
 *   writes no marker and is never replayed: the next call runs the function again;
 * - a replay reads every chunk first (in batches, one round trip per backend per batch) and yields
 *   only when all of them are there and belong to the marker's run; a chunk that expired, was
 *   evicted or was overwritten by a concurrent run makes the call a miss (the function runs again),
 *   so a replay is never truncated and never mixes two runs;
 * - any value replays, falsy ones (`0`, `""`, `false`, `null`, `undefined`) included.
 *
 * `condition(chunk, args, key)` is asked for every chunk: one rejected chunk leaves the whole run
 * uncached. With `withExceptions(...)`, an error of a listed class ends the run as a stored final
 * element: the replay yields the chunks, then rethrows it. The generator's return value is stored
 * with the marker and returned on replay; values passed to `next(v)` reach the generator on a miss
 * (a replay ignores them). There is no in-process single-flight: concurrent misses each run the
 * function.
 *
 * `ttl` may be a function of the run, `ttl(chunks, ...args)`: the chunks are then held until the
 * run completes and written with the ttl it returns. `schema` validates each chunk: on a replay
 * every chunk is checked before the first is yielded, and one that fails makes the call a miss
 * (reported, and its chunk deleted); on a run, a chunk that fails is yielded as it is and leaves
 * the run unstored, or with `strict: true` ends it with a `SchemaError`. Transforms apply to what
 * is yielded; what is stored is what the generator yielded.
 * @module
 */
import type { CoreCache } from "../presets/core-cache.js";
import { readMany, stateOf, writeMany } from "../core/state.js";
import { restoreErrorClass, type Condition } from "../conditions.js";
import { Raised } from "../codec/raised.js";
import type { Duration } from "../durations.js";
import { CacheConfigError, SerializationError } from "../errors.js";
import { decorator } from "../wrap/decorator.js";
import type { KeyOption } from "../wrap/key.js";
import { checkOptions, prefixOption, requiredTtl } from "../options.js";
import { evaluate, MISSING, upperOption, wrapper, type Common, type TtlFunction } from "./value.js";
import { parseSchema, type SchemaOption } from "../schema.js";
import { servedHere, watching, type Served } from "../context/scope.js";

/**
 * Options of the `iterator` strategy.
 * @example
 * const pages = cache.iterator({ ttl: "10m", key: "pages:{query}", condition: withExceptions(NotFoundError) })(
 *   async function* (query: string) { yield* api.pages(query); },
 * );
 */
// biome-ignore lint: any args
export interface IteratorOptions<A extends any[] = any[]> extends SchemaOption {
  /**
   * How long the chunks of a completed run live (required); `null` stores without expiry. A
   * function `(chunks, ...args) => Duration | null` decides it when the run completes (the chunks
   * are held until then); a bad return value is a `CacheConfigError` through the `error` event,
   * and the run is not stored.
   */
  ttl: Duration | null | TtlFunction<A>;
  /** A template such as `"feed:{id}"`, or a function of the call's arguments. Default: from the function's name and parameters. */
  key?: KeyOption<A>;
  /** Prepended to the key with a `:` (no default). */
  prefix?: string;
  /**
   * Asked for every chunk, `condition(chunk, args, key)`: one rejected chunk leaves the run
   * uncached. With `withExceptions`, a listed error is stored as the run's end and rethrown on replay.
   */
  condition?: Condition;
  /**
   * Store only runs the generator computed: a run during which an inner decorated call (e.g. a
   * cached iterator it delegates to) was served from cache is passed through but not stored. See
   * the `upper` option of the value strategies. Default false.
   */
  upper?: boolean;
}

/** An async generator function (or any function returning an async iterable) whose parameters are `A`. */
// biome-ignore lint: any args
export type AsyncIterableFn<A extends any[] = any[]> = (...args: A) => AsyncIterable<unknown>;

/** What the wrapper of `F` is: `F` itself for an async generator function, else an async generator of its chunks. */
// biome-ignore lint: any args
export type CachedIterableFn<F> = F extends (...args: any[]) => AsyncGenerator<any, any, any>
  ? F
  : F extends (this: infer This, ...args: infer P) => AsyncIterable<infer T>
    ? (this: This, ...args: P) => AsyncGenerator<T, void, undefined>
    : never;

/**
 * The decorator `cache.iterator(options)` returns. As a function wrapper it keeps an async
 * generator function's type; as a TC39 method decorator it wraps an `async *` method.
 * @example
 * const rows = cache.iterator({ ttl: "10m", key: "rows:{table}" })(async function* (table: string) {
 *   for await (const row of db.stream(table)) yield row;
 * });
 * for await (const row of rows("users")) console.log(row); // the second loop is served from cache
 */
// biome-ignore lint: any args
export interface IteratorDecorator<A extends any[] = any[]> {
  <F extends AsyncIterableFn<A>>(fn: F): CachedIterableFn<F>;
  <This, F extends (this: This, ...args: A) => AsyncGenerator<unknown, unknown, unknown>>(method: F, context: ClassMethodDecoratorContext<This, F>): F;
}

/** The marker of a completed run. */
interface Marker {
  run: string;
  /** Stored elements `<key>:0 … <key>:<chunks-1>` (a stored error included). */
  chunks: number;
  returned: unknown;
}

const KNOWN = ["ttl", "key", "prefix", "condition", "upper", "schema", "strict"] as const;
/** Chunks read per `getMany` when replaying. */
const BATCH = 500;

/**
 * The `iterator` strategy on `cache`: caches what an async generator yields, chunk by chunk, and replays a completed run. See {@link IteratorOptions}.
 * @example
 * import { CoreCache, iterator } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const rows = iterator(cache, { ttl: "10m", key: "rows:{table}" })(async function* (table: string) { yield* db.stream(table); });
 */
// biome-ignore lint: any args
export function iterator<A extends any[] = any[]>(cache: CoreCache, options: IteratorOptions<A>): IteratorDecorator<A> {
  const core = stateOf(cache, "iterator");
  checkOptions("iterator", options, KNOWN);
  const ttlFn = typeof options.ttl === "function" ? options.ttl : undefined;
  const ttl = ttlFn === undefined ? requiredTtl("iterator", options.ttl as Duration | null) : undefined;
  const { condition, key: keyOption } = options;
  if (condition !== undefined && typeof condition !== "function") {
    throw new CacheConfigError(`iterator: "condition" must be a function (chunk, args, key) => boolean, got ${typeof condition}`);
  }
  const prefix = prefixOption("iterator", options.prefix, "");
  // Stored per chunk, with its own rules: no timeCondition, no tags.
  const upper = upperOption("iterator", options.upper);
  const check = parseSchema("iterator", options.schema, options.strict);
  const strict = options.strict === true;
  const common: Common = { strategy: "iterator", ttl, ttlFn: undefined, prefix, ownPrefix: prefix !== "", key: keyOption as KeyOption<never[]> | undefined, condition, slowerThan: undefined, tags: [], upper, check: undefined, strict: false };

  return decorator<A>("iterator", core, (target) => {
    // Keys, counters and hit/miss accounting as every value strategy does them.
    const w = wrapper(core, common, target);
    const { keyOf, counters } = w;
    const fn = target.fn;

    /** Calls the real generator function, storing what it yields; the marker only after it completed. */
    async function* compute(thisArg: unknown, args: unknown[], key: string, outer: Served | undefined): AsyncGenerator<unknown, unknown, unknown> {
      // `upper`: every step of the source runs watched; a step an inner layer served from cache stops storing the run.
      const watch: Served | undefined = upper ? { hit: false, parent: outer } : undefined;
      const watched = <R>(step: () => R): R => (watch === undefined ? step() : watching(watch, step));
      const produced = watched(() => fn.apply(thisArg, args)) as AsyncIterable<unknown> | null | undefined;
      const source = produced?.[Symbol.asyncIterator];
      if (typeof source !== "function") {
        throw new TypeError(`iterator: ${counters(thisArg).label} must return an async iterable (an async generator function), got ${describe(produced)}`);
      }
      const it = source.call(produced) as AsyncIterator<unknown, unknown, unknown>;
      const run = crypto.randomUUID().slice(0, 13); // tells this run's chunks from a concurrent run's
      let started = Date.now();
      /** The run's ttl: static, or decided by `ttlFn` once the run completed. */
      let runTtl = ttl;
      /** With a ttl function: every chunk of the run, held until it completes (its argument). */
      const held: unknown[] | undefined = ttlFn === undefined ? undefined : [];
      let storing = true;
      let index = 0;
      // Chunk writes: at most one in flight per run; chunks that come meanwhile are written
      // together next (one setMany), so a fast producer never floods the backend. Not awaited
      // before yielding: the consumer gets each chunk as soon as it comes.
      let queued: (readonly [string, unknown])[] = [];
      let writing: Promise<void> | undefined;
      /** Undefined while every write succeeded; false when one was not written; else the error. */
      let failure: unknown;
      const flush = (): Promise<void> => {
        const batch = queued;
        queued = [];
        return writeMany(core, batch, runTtl).then(
          (ok) => {
            if (!ok && failure === undefined) failure = false;
          },
          (error: unknown) => {
            if (failure === undefined || failure === false) failure = error;
          },
        );
      };
      const drain = async (): Promise<void> => {
        while (queued.length > 0) await flush();
        writing = undefined;
      };
      const store = (value: unknown): void => {
        if (held !== undefined) {
          held.push(value);
          return;
        }
        queued.push([`${key}:${index++}`, [run, value]]);
        writing ??= drain();
      };
      /** After the run: waits for the chunk writes, then writes the marker; a write error is thrown. */
      const finish = async (returned: unknown): Promise<void> => {
        if (held !== undefined) {
          // The ttl is decided now, by the whole run (an error end is passed as it was stored).
          try {
            runTtl = evaluate("iterator", "ttl", ttlFn!, { result: held.map((v) => (v instanceof Raised ? v.error : v)), args });
          } catch (error) {
            core.report(error, key, core.route(key));
            return;
          }
          started = Date.now();
          for (const value of held) queued.push([`${key}:${index++}`, [run, value]]);
          writing = drain();
        }
        await writing;
        if (failure === false) return; // a chunk was not written (backend down in safe mode)
        if (failure !== undefined) throw cannotStore(failure, counters(thisArg).label);
        const left = runTtl === undefined ? undefined : runTtl - (Date.now() - started);
        if (left !== undefined && left < 1) return;
        const marker: Marker = { run, chunks: index, returned };
        try {
          await core.write(core.route(key), key, marker, left);
        } catch (error) {
          throw cannotStore(error, counters(thisArg).label);
        }
      };

      let finished = false;
      let sent: unknown;
      try {
        for (;;) {
          let step: IteratorResult<unknown, unknown>;
          try {
            step = await watched(() => it.next(sent));
            if (watch?.hit) storing = false;
          } catch (error) {
            finished = true;
            if (watch?.hit) storing = false;
            counters(thisArg).stats.errors++;
            if (storing && condition?.errors?.(error)) {
              store(new Raised(error));
              // The function's own error wins over a failure to store it (which is reported).
              await finish(undefined).catch((failure: unknown) => core.report(failure, key, core.route(key)));
            }
            throw error;
          }
          if (step.done) {
            finished = true;
            if (storing) await finish(step.value);
            return step.value;
          }
          let out = step.value;
          if (check !== undefined) {
            const result = await check(step.value);
            if (result.issues) {
              storing = false;
              const error = core.invalid(core.route(key), key, "iterator", counters(thisArg).label, false, result.issues);
              if (strict) {
                counters(thisArg).stats.errors++;
                throw error; // the source is closed below
              }
            } else out = result.value;
          }
          if (storing) {
            if (condition === undefined || condition(step.value, args, key)) store(step.value);
            else storing = false;
          }
          sent = yield out;
        }
      } finally {
        // Abandoned by the consumer (break, return(), throw()): close the source; no marker.
        if (!finished) await it.return?.();
      }
    }

    /** The values of a completed run, or undefined when any chunk is missing or from another run. */
    const replay = async (key: string, marker: Marker): Promise<unknown[] | undefined> => {
      const values: unknown[] = [];
      for (let start = 0; start < marker.chunks; start += BATCH) {
        const keys: string[] = [];
        for (let i = start; i < Math.min(start + BATCH, marker.chunks); i++) keys.push(`${key}:${i}`);
        for (const stored of await readMany(core, keys, false)) {
          if (!Array.isArray(stored) || stored.length !== 2 || stored[0] !== marker.run) return undefined;
          values.push(stored[1]);
        }
      }
      return values;
    };

    /**
     * The schema's outputs of a replay's chunks (a stored error passes), or undefined once a chunk
     * failed: it is reported and deleted (compare-and-delete), so the run is not replayed again.
     */
    const validated = async (key: string, values: unknown[], thisArg: unknown): Promise<unknown[] | undefined> => {
      const label = counters(thisArg).label;
      const out: unknown[] = [];
      for (let i = 0; i < values.length; i++) {
        const chunk = `${key}:${i}`;
        const value = await core.checked(core.route(chunk), chunk, values[i], check!, "iterator", label, pickChunk);
        if (value === MISSING) return undefined;
        out.push(value);
      }
      return out;
    };

    async function* cachedIterator(thisArg: unknown, args: unknown[]): AsyncGenerator<unknown, unknown, unknown> {
      const outer = servedHere(); // the body starts synchronously in the consumer's first next()
      const key = keyOf(thisArg, args);
      const marker = await core.read(core.route(key), key);
      let values = isMarker(marker) ? await replay(key, marker) : undefined;
      if (values !== undefined && check !== undefined) values = await validated(key, values, thisArg);
      if (values === undefined) {
        w.miss(thisArg, key);
        return yield* compute(thisArg, args, key, outer);
      }
      w.hit(core.route(key), key, marker, thisArg, undefined, outer);
      for (const value of values) {
        if (value instanceof Raised) throw restoreErrorClass(value.error, condition?.classes);
        yield value;
      }
      return (marker as Marker).returned;
    }

    return { call: cachedIterator, keyOf };
  }, { iterable: true }) as unknown as IteratorDecorator<A>;
}

/** The chunk of a stored `[run, chunk]` pair (what a schema re-check validates). */
const pickChunk = (stored: unknown): unknown => (Array.isArray(stored) ? stored[1] : stored);

function isMarker(value: unknown): value is Marker {
  if (typeof value !== "object" || value === null) return false;
  const { run, chunks } = value as Partial<Marker>;
  return typeof run === "string" && Number.isSafeInteger(chunks) && (chunks as number) >= 0;
}

function cannotStore(error: unknown, label: string): unknown {
  if (!(error instanceof SerializationError)) return error;
  return new SerializationError(
    `iterator: ${label} ran, but what it yielded cannot be cached: ${error.message}. Yield plain data, or skip it with a condition`,
    { cause: error },
  );
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value instanceof Promise) return "a promise (use an async generator function: async function* …)";
  return typeof value;
}
