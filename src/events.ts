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
 *
 * Outages (safe mode, per backend, i.e. per `backend` label): `backend-down` is emitted once, at
 * the first failed command of a backend that was answering (`error` is that failure, emitted just
 * before its own `error` event), and `backend-up` once, when a command issued after
 * `backend-down` succeeds, with `failedOpen`: the calls that failed open meanwhile (every failed
 * command from `backend-down` on, the first included). A command issued before `backend-down`
 * that succeeds later does not end the outage, and one issued during it that fails after
 * `backend-up` does not start another (it is an ordinary `error`). What counts as the backend not
 * answering: any failure of a command but a configuration one (`CacheConfigError`,
 * `CacheCapabilityError`) or another `CacheError` (a `SerializationError`, a `SchemaError`): a
 * `CacheBackendError`, or what a custom backend or its client threw, except the store's replies
 * about the data, which prove it answered: a message with Redis's `WRONGTYPE`, `ERR value is not
 * an integer` or `increment or decrement would overflow` (the wording of redis://, upstash://,
 * mem:// and deno-kv://; a custom backend that wants the same uses it), or a Workers KV refusal
 * with a 4xx status (`KV GET failed: 414 …`, a key over 512 bytes). Those, like the
 * configuration and other errors, are emitted as they come and neither start nor end an outage.
 *
 * Rate limit of `error` while a backend is down: the failure that starts the outage is always
 * emitted, then at most one `error` event per backend per second (a failure is emitted when 1 s
 * or more passed since the last one emitted for that outage); the others are only counted, in
 * `cache.stats().errors` (which counts every failure) and in `backend-up`'s `failedOpen`. Outside
 * an outage every error is emitted.
 * @example
 * cache.on("backend-down", ({ backend, error }) => console.error(`${backend} is down`, error));
 * cache.on("backend-up", ({ backend, failedOpen }) => console.info(`${backend} is back; ${failedOpen} calls failed open`));
 */
export type CacheEventType = "hit" | "miss" | "set" | "delete" | "error" | "tampered" | "stale" | "invalid" | "backend-down" | "backend-up";

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
  /**
   * For `backend-up`: how many calls failed open (their command failed and safe mode answered a
   * miss or a no-op) while the backend was down, from the one that emitted `backend-down` on.
   * @example
   * cache.on("backend-up", ({ backend, failedOpen }) => metrics.count(`cache.${backend}.failed_open`, failedOpen ?? 0));
   */
  failedOpen?: number;
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
  readonly counts: Record<CacheEventType, number> = { hit: 0, miss: 0, set: 0, delete: 0, error: 0, tampered: 0, stale: 0, invalid: 0, "backend-down": 0, "backend-up": 0 };

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
