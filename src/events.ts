/**
 * Events and statistics: `cache.on(type, listener)` (EventTarget based, no `node:events`) and
 * `cache.stats()`.
 * @module
 */

/**
 * Event types a cache emits: `hit`, `miss` (commands and decorated calls), `set`, `delete`,
 * `error` (backend failures in safe mode, failed background refreshes), `tampered` (a signed
 * value that did not verify) and `stale` (a backend's local tier served its copy of a key past the
 * local ttl, within `grace`, because the remote store failed or timed out: `error` is that failure)
 * and `invalid` (a value failed a strategy's or `getOrSet`'s `schema`: a stored one, which was a
 * miss and is deleted, or a computed one, which was not stored; `issues` are the schema's and
 * `error` a `SchemaError` saying which).
 */
export type CacheEventType = "hit" | "miss" | "set" | "delete" | "error" | "tampered" | "stale" | "invalid";

/**
 * What a listener receives.
 * @example
 * cache.on("miss", ({ key, backend, function: fn }) => console.log(`miss ${key} on ${backend} (${fn})`));
 */
export interface CacheEventInfo {
  type: CacheEventType;
  /** The key concerned, when there is one. */
  key?: string;
  /** The backend's kind (`"mem"`, `"redis"`, …) and prefix, e.g. `"redis"` or `"mem@user"`. */
  backend?: string;
  /** The failure, for `error` (and the reason, for `tampered`; the remote failure, for `stale`). */
  error?: unknown;
  /** The decorated function's name, for events of decorated calls. */
  function?: string;
  /** For `invalid`: the schema's issues (`message`, `path`). */
  issues?: ReadonlyArray<{ readonly message: string; readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined }>;
}

/** A listener of {@link CacheEventInfo}s, for `cache.on(type, listener)`. */
export type CacheListener = (event: CacheEventInfo) => void;

/** Counters of one decorated function, in `cache.stats().functions`. */
export interface FunctionStats {
  hits: number;
  misses: number;
  errors: number;
}

/**
 * Counters returned by `cache.stats()`.
 * @example
 * const { hits, misses, errors } = cache.stats();
 */
export interface CacheStats {
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
  errors: number;
  /** Per decorated function, by name. */
  functions: Record<string, FunctionStats>;
}

class CashewsEvent extends Event {
  constructor(readonly info: CacheEventInfo) {
    super(info.type);
  }
}

/** @internal */
export class Emitter {
  readonly #target = new EventTarget();
  /** Listener count per type: emitting is skipped (no allocation) when nobody listens. */
  readonly counts: Record<CacheEventType, number> = { hit: 0, miss: 0, set: 0, delete: 0, error: 0, tampered: 0, stale: 0, invalid: 0 };

  on(type: CacheEventType, listener: CacheListener): () => void {
    if (!(type in this.counts)) {
      throw new TypeError(`unknown event type "${String(type)}"; known: ${Object.keys(this.counts).join(", ")}`);
    }
    if (typeof listener !== "function") throw new TypeError("cache.on: the listener must be a function");
    const handler = (event: Event): void => {
      try {
        listener((event as CashewsEvent).info);
      } catch (error) {
        console.error(`cashews: a "${type}" listener threw`, error);
      }
    };
    this.#target.addEventListener(type, handler);
    this.counts[type]++;
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.#target.removeEventListener(type, handler);
      this.counts[type]--;
    };
  }

  emit(info: CacheEventInfo): void {
    if (this.counts[info.type] > 0) this.#target.dispatchEvent(new CashewsEvent(info));
  }
}
