/**
 * The Cloudflare Workers Cache API backend (`cloudflare-cache://[name]`): each key is a synthetic
 * GET URL, `<origin>/<namespace>/<key>`, and its value the body of the Response stored there.
 *
 * - Expiry travels with the entry: an `X-Cashews-Expires` header holds the absolute expiry (epoch
 *   ms), checked on every read, so an entry reads as missing from the millisecond it expires; and
 *   `Cache-Control: max-age` (the expiry rounded up to a second) lets the platform evict it. An
 *   entry without expiry gets a year, the longest the platform is asked to keep anything.
 * - Each data centre has its own cache: a value written in one location is not seen in another.
 *   Deployed on `*.workers.dev` (no zone) the Cache API stores nothing.
 * - No listing and no atomic operation: `incr`, `slidingIncr`, tags, locks, conditional writes
 *   (`set` with `exist`), `scan`, `deleteMatch`, `getKeysCount` and `clear` reject with a
 *   {@link CacheCapabilityError}. `expire` is a read then a write (not atomic).
 * - Many-key commands are parallel calls (the Cache API has no batch): each key is one `match`,
 *   `put` or `delete` (two, `match` then `delete`, for a delete), and Workers count them against
 *   the per-request limit on subrequests (50 on the Free plan, 1000 on Paid).
 * @module
 */
import type { BackendModule } from "../../config/registry.js";
import { withLocalTier } from "../local/tier.js";
import { CacheBackendError, CacheConfigError, messageOf, type CacheCapabilityError } from "../../errors.js";
import { withDeadline } from "../deadlines.js";
import { durationsInMs, toText } from "../remote.js";
import { MISSING, type Backend, type BackendConfig, type LimitAnswer, type LimitRequest } from "../types.js";
import type { BackendCapabilities } from "../capabilities.js";
import { CLOUDFLARE_CACHE_CAPABILITIES, refuseCloudflareCache, resolveCloudflareCache, type CacheLike, type CacheStorageLike } from "./spec.js";

/**
 * The response header holding an entry's absolute expiry (epoch milliseconds); absent: no expiry.
 * @example
 * const response = await caches.default.match("https://cashews.internal/cashews/user%3A1");
 * response?.headers.get(EXPIRES_HEADER); // e.g. "1767225600000"
 */
export const EXPIRES_HEADER = "x-cashews-expires";

/**
 * The `max-age` (seconds) of an entry without expiry, and the longest any entry is given: one year.
 * The platform may evict an entry sooner (least recently used, or a data centre's cache filling up).
 * @example
 * FOREVER_SECONDS; // 31_536_000
 */
export const FOREVER_SECONDS = 31_536_000;

/** Marks a body stored as UTF-16 code units (a value with a lone surrogate, which UTF-8 cannot carry). */
const ENCODING_HEADER = "x-cashews-encoding";
const UTF16 = "utf-16le";

/**
 * Options of {@link createCloudflareCacheBackend} (the same names as the setup options).
 * @example
 * const backend = createCloudflareCacheBackend("cloudflare-cache://pages", { origin: "https://api.example.com" });
 */
export interface CloudflareCacheBackendOptions {
  /** The CacheStorage to use instead of the global `caches` (Workers). */
  caches?: CacheStorageLike;
  /** Scheme and host of the key URLs; default `"https://cashews.internal"`: on Workers, use your Worker's hostname. */
  origin?: string;
  /** First path segment of the key URLs, default `"cashews"`; `""` puts keys directly under the origin. */
  namespace?: string;
  /** A bound on each Cache API call (ms or a duration string); none by default. */
  timeout?: number | string;
}

/**
 * Creates a Cache API backend without any I/O (the named cache is opened on first use).
 * @param url `cloudflare-cache://` (`caches.default`) or `cloudflare-cache://NAME` (`caches.open(NAME)`).
 * @throws {CacheConfigError} See {@link resolveCloudflareCache}.
 * @example
 * const backend = createCloudflareCacheBackend("cloudflare-cache://");
 * await backend.set("greeting", "hello", 60_000);
 * await backend.get("greeting"); // "hello"
 */
export function createCloudflareCacheBackend(url: string, options: CloudflareCacheBackendOptions = {}): CloudflareCacheBackend {
  return new CloudflareCacheBackend({ url, options: durationsInMs(options as Record<string, never>, ["timeout"], "cloudflare-cache") });
}

/**
 * The module `cloudflare-cache://` loads: `create` builds a {@link CloudflareCacheBackend} from a
 * setup URL (without its query) and options.
 * @example
 * const backend = cloudflareCacheModule.create({ url: "cloudflare-cache://pages", options: {} });
 */
export const cloudflareCacheModule: BackendModule = {
  create: (config) => new CloudflareCacheBackend(config),
  // The `local` option's tier: carried by the backend module, so that a bundle without a remote store has none.
  localTier: withLocalTier,
};

/** Whether `text` has no lone surrogate. */
function isWellFormed(text: string): boolean {
  const native = (text as { isWellFormed?: () => boolean }).isWellFormed;
  if (native !== undefined) return native.call(text);
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

const hex = (byte: number): string => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;

/**
 * One path segment for `text`, injectively: `encodeURIComponent`, with a lone surrogate written as
 * the three bytes WTF-8 gives it (bytes UTF-8 never produces), and a segment of dots only (`.`,
 * `..`, which URLs resolve away) lengthened by two dots (only such segments have three or more).
 */
function segment(text: string): string {
  let encoded: string;
  if (isWellFormed(text)) {
    encoded = encodeURIComponent(text);
  } else {
    encoded = "";
    for (const char of text) {
      const unit = char.charCodeAt(0);
      encoded +=
        char.length === 1 && unit >= 0xd800 && unit <= 0xdfff
          ? hex(0xe0 | (unit >> 12)) + hex(0x80 | ((unit >> 6) & 0x3f)) + hex(0x80 | (unit & 0x3f))
          : encodeURIComponent(char);
    }
  }
  return /^\.+$/.test(encoded) ? `${encoded}..` : encoded;
}

/**
 * The URL a key is stored under: `<origin>/<namespace>/<key>`, each part percent-encoded
 * (`encodeURIComponent`), so that every key has its own URL.
 * @example
 * keyUrl("https://cashews.internal", "cashews", "user:1"); // "https://cashews.internal/cashews/user%3A1"
 * keyUrl("https://api.example.com", "", "a b");            // "https://api.example.com/a%20b"
 */
export function keyUrl(origin: string, namespace: string, key: string): string {
  return namespace === "" ? `${origin}/${segment(key)}` : `${origin}/${segment(namespace)}/${segment(key)}`;
}

/** A stored entry's expiry: epoch ms, `undefined` without one, `NaN` for a header that is not ours. */
function expiryOf(response: Response): number | undefined {
  const header = response.headers.get(EXPIRES_HEADER);
  if (header === null) return undefined;
  return /^\d+$/.test(header) ? Number(header) : Number.NaN;
}

/** Releases a body that is not read. */
function discard(response: Response): void {
  try {
    response.body?.cancel().catch(() => {});
  } catch {
    // already used or locked: nothing to release
  }
}

/** The stored value of a response (its body), as text. */
async function valueOf(response: Response): Promise<string> {
  if (response.headers.get(ENCODING_HEADER) !== UTF16) return response.text();
  const units = new Uint16Array(await response.arrayBuffer());
  let text = "";
  for (let i = 0; i < units.length; i += 8192) text += String.fromCharCode(...units.subarray(i, i + 8192));
  return text;
}

/** An expiry in ms as an absolute expiry (epoch ms), or `undefined` for "no expiry" (`undefined`, ≤ 0, infinite). */
function expiresAt(expireMs: number | undefined): number | undefined {
  if (expireMs === undefined || expireMs === null || !(expireMs > 0) || !Number.isFinite(expireMs)) return undefined;
  return Date.now() + Math.max(1, Math.ceil(expireMs));
}

/**
 * A {@link Backend} over the Workers Cache API: what `cache.setup("cloudflare-cache://…")` creates.
 * Use it directly for raw string storage without the codec (values are strings).
 * @example
 * const backend = new CloudflareCacheBackend({ url: "cloudflare-cache://pages", options: {} });
 * await backend.set("greeting", "hello", 60_000);
 * await backend.getExpire("greeting"); // ≤ 60000
 */
export class CloudflareCacheBackend implements Backend {
  readonly kind = "cloudflare-cache";
  readonly storesValues = false;
  /** Exact expiry, nothing else (see {@link CLOUDFLARE_CACHE_CAPABILITIES}). */
  readonly capabilities: Readonly<BackendCapabilities> = CLOUDFLARE_CACHE_CAPABILITIES;
  /** The named cache, or `undefined` for `caches.default`. */
  readonly name: string | undefined;
  /** Scheme and host of the key URLs. */
  readonly origin: string;
  /** First path segment of the key URLs (`""`: none). */
  readonly namespace: string;

  readonly #storage: CacheStorageLike;
  readonly #timeout: number | undefined;
  #opening: Promise<CacheLike> | undefined;

  constructor(config: BackendConfig) {
    const target = resolveCloudflareCache(config.url, config.options);
    this.name = target.name;
    this.origin = target.origin;
    this.namespace = target.namespace;
    this.#storage = target.caches;
    const timeout = config.options.timeout;
    if (timeout !== undefined && (typeof timeout !== "number" || !(timeout >= 0))) {
      throw new CacheConfigError(`cloudflare-cache: option "timeout" must be a duration >= 0 (ms), got ${String(timeout)}`);
    }
    this.#timeout = timeout === 0 ? undefined : (timeout as number | undefined);
  }

  /**
   * The URL `key` is stored under (see {@link keyUrl}).
   * @example
   * backend.url("user:1"); // "https://cashews.internal/cashews/user%3A1"
   */
  url(key: string): string {
    return keyUrl(this.origin, this.namespace, key);
  }

  /** The cache: `caches.default`, or the named cache, opened once (again after a failed open). */
  #cache(): Promise<CacheLike> {
    if (this.name === undefined) return Promise.resolve(this.#storage.default!);
    this.#opening ??= this.#bounded(Promise.resolve(this.#storage.open(this.name)), "open").catch((error: unknown) => {
      this.#opening = undefined;
      throw error;
    });
    return this.#opening;
  }

  /** `promise` bounded by `timeout`, its failure a {@link CacheBackendError} naming the call. */
  async #bounded<T>(promise: Promise<T>, what: string): Promise<T> {
    try {
      if (this.#timeout === undefined) return await promise;
      return await withDeadline(promise, this.#timeout, () => new CacheBackendError(`cloudflare-cache: ${what} timed out after ${this.#timeout} ms`));
    } catch (error) {
      if (error instanceof CacheBackendError) throw error;
      throw new CacheBackendError(`cloudflare-cache: ${what} failed: ${messageOf(error)}`, { cause: error });
    }
  }

  /** The entry stored for `key`, live or not (the platform may not have evicted an expired one yet), or `undefined`. */
  async #entry(key: string): Promise<{ response: Response; expiry: number | undefined; live: boolean } | undefined> {
    const cache = await this.#cache();
    const response = await this.#bounded(cache.match(this.url(key)), "match");
    if (response === undefined) return undefined;
    const expiry = expiryOf(response);
    return { response, expiry, live: expiry === undefined || expiry > Date.now() };
  }

  /** The live entry stored for `key` (its expiry checked to the millisecond), or `undefined`. */
  async #live(key: string): Promise<{ response: Response; expiry: number | undefined } | undefined> {
    const entry = await this.#entry(key);
    if (entry === undefined || entry.live) return entry;
    discard(entry.response);
    return undefined;
  }

  /** Stores `body` under `key` with the absolute expiry `expiry` (epoch ms, or none). */
  async #put(key: string, body: string | ArrayBuffer, utf16: boolean, expiry: number | undefined): Promise<void> {
    const headers = new Headers({ "content-type": "text/plain; charset=utf-8" });
    if (utf16) headers.set(ENCODING_HEADER, UTF16);
    if (expiry === undefined) {
      headers.set("cache-control", `max-age=${FOREVER_SECONDS}`);
    } else {
      headers.set(EXPIRES_HEADER, String(expiry));
      headers.set("cache-control", `max-age=${Math.min(FOREVER_SECONDS, Math.max(1, Math.ceil((expiry - Date.now()) / 1000)))}`);
    }
    const cache = await this.#cache();
    await this.#bounded(cache.put(this.url(key), new Response(body, { headers })), "put");
  }

  /** Stores a string value (as UTF-16 code units when it has a lone surrogate). */
  #putText(key: string, value: unknown, expireMs: number | undefined): Promise<void> {
    const text = toText(value, "cloudflare-cache");
    if (isWellFormed(text)) return this.#put(key, text, false, expiresAt(expireMs));
    const units = new Uint16Array(text.length);
    for (let i = 0; i < text.length; i++) units[i] = text.charCodeAt(i);
    return this.#put(key, units.buffer, true, expiresAt(expireMs));
  }

  /**
   * Opens the named cache (a no-op for `caches.default`). Idempotent.
   * @example
   * await backend.init();
   */
  async init(): Promise<void> {
    await this.#cache();
  }

  /**
   * Nothing to release (the Cache API has no connection). Idempotent.
   * @example
   * await backend.close();
   */
  async close(): Promise<void> {}

  /**
   * The stored string, or {@link MISSING} when absent or expired (checked to the millisecond).
   * @example
   * await backend.get("greeting"); // "hello"
   */
  get(key: string): Promise<unknown> {
    return this.#read(key);
  }

  async #read(key: string): Promise<unknown> {
    const live = await this.#live(key);
    if (live === undefined) return MISSING;
    return this.#bounded(valueOf(live.response), "read");
  }

  /**
   * Values in input order: one `match` per key, in parallel.
   * @example
   * const [a, b] = await backend.getMany(["a", "b"]);
   */
  getMany(keys: readonly string[]): Promise<unknown[]> {
    return Promise.all(keys.map((key) => this.#read(key)));
  }

  /**
   * Stores a string (one `put`). A conditional write (`exist`) is refused: the Cache API cannot
   * check and write atomically.
   * @example
   * await backend.set("k", "v", 60_000); // true
   */
  async set(key: string, value: unknown, expireMs: number | undefined, exist?: boolean): Promise<boolean> {
    if (exist !== undefined) throw refuseCloudflareCache("atomic", `set with exist: ${exist}`);
    await this.#putText(key, value, expireMs);
    return true;
  }

  /**
   * Stores every entry with the same expiry: one `put` per entry, in parallel.
   * @example
   * await backend.setMany([["a", "1"], ["b", "2"]], 60_000);
   */
  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, expireMs: number | undefined): Promise<void> {
    await Promise.all(entries.map(([key, value]) => this.#putText(key, value, expireMs)));
  }

  /**
   * Deletes a key; resolves whether it existed (was live): a `match`, then a `delete` if found.
   * @example
   * await backend.delete("k"); // true
   */
  delete(key: string): Promise<boolean> {
    return this.#delete(key);
  }

  async #delete(key: string): Promise<boolean> {
    const entry = await this.#entry(key);
    if (entry === undefined) return false;
    discard(entry.response);
    // Deleted also when expired but not yet evicted: nothing stale stays behind.
    const cache = await this.#cache();
    await this.#bounded(cache.delete(this.url(key)), "delete");
    return entry.live;
  }

  /**
   * Deletes many keys in parallel; resolves how many existed.
   * @example
   * await backend.deleteMany(["a", "b"]); // 2
   */
  async deleteMany(keys: readonly string[]): Promise<number> {
    return (await Promise.all(keys.map((key) => this.#delete(key)))).filter(Boolean).length;
  }

  /**
   * Sets (or with `undefined`, removes) the expiry of a live key by storing it again: a `match`
   * then a `put`, not atomic (a write in between is overwritten with the value read). False when missing.
   * @example
   * await backend.expire("k", 30_000);
   * await backend.expire("k", undefined); // persist
   */
  async expire(key: string, expireMs: number | undefined): Promise<boolean> {
    const live = await this.#live(key);
    if (live === undefined) return false;
    const utf16 = live.response.headers.get(ENCODING_HEADER) === UTF16;
    const body = await this.#bounded(live.response.arrayBuffer(), "read");
    await this.#put(key, body, utf16, expiresAt(expireMs));
    return true;
  }

  /**
   * Remaining ms from the stored expiry; -1 without expiry; -2 when missing or expired.
   * @example
   * await backend.getExpire("k"); // e.g. 29950
   */
  async getExpire(key: string): Promise<number> {
    const live = await this.#live(key);
    if (live === undefined) return -2;
    discard(live.response);
    return live.expiry === undefined ? -1 : Math.max(1, live.expiry - Date.now());
  }

  /**
   * True when the key is stored and not expired.
   * @example
   * await backend.exists("k");
   */
  async exists(key: string): Promise<boolean> {
    const live = await this.#live(key);
    if (live !== undefined) discard(live.response);
    return live !== undefined;
  }

  /**
   * `"PONG"` (or the message) once the cache is open.
   * @example
   * await backend.ping(); // "PONG"
   */
  async ping(message?: string): Promise<string> {
    await this.#cache();
    return message ?? "PONG";
  }

  /**
   * Refused: counters need an atomic read-modify-write. Rejects with a {@link CacheCapabilityError} (`atomic`).
   * @example
   * await backend.incr(); // rejects: keep counters on mem://, redis://, upstash:// or deno-kv://
   */
  async incr(): Promise<number> {
    throw refuseCloudflareCache("atomic", "incr");
  }

  /**
   * Refused: a sliding-window log needs an atomic read-modify-write (`atomic`).
   * @example
   * await backend.slidingIncr(); // rejects with CacheCapabilityError
   */
  async slidingIncr(): Promise<[number, number]> {
    throw refuseCloudflareCache("atomic", "slidingIncr");
  }

  /**
   * Refused: a limiter's state needs an atomic read-modify-write (`atomic`).
   * @example
   * await backend.limit(); // rejects with CacheCapabilityError
   */
  async limit(): Promise<LimitAnswer> {
    throw refuseCloudflareCache("atomic", "limit (rate limiting)");
  }

  /**
   * Refused: tag sets need atomic updates (`atomic`).
   * @example
   * await backend.tagAdd(); // rejects with CacheCapabilityError
   */
  async tagAdd(): Promise<void> {
    throw refuseCloudflareCache("atomic", "tagAdd");
  }

  /**
   * Refused: tag sets need atomic updates (`atomic`).
   * @example
   * await backend.tagPop(); // rejects with CacheCapabilityError
   */
  async tagPop(): Promise<string[]> {
    throw refuseCloudflareCache("atomic", "tagPop");
  }

  /**
   * Refused: deleting what carries a tag needs an atomic compare-and-delete (`atomic`).
   * @example
   * await backend.tagDelete(); // rejects with CacheCapabilityError
   */
  async tagDelete(): Promise<number> {
    throw refuseCloudflareCache("atomic", "tagDelete");
  }

  /**
   * Refused: a lock needs an atomic set-if-absent (`locks`).
   * @example
   * await backend.setLock(); // rejects with CacheCapabilityError
   */
  async setLock(): Promise<boolean> {
    throw refuseCloudflareCache("locks", "setLock");
  }

  /**
   * Refused: unlocking needs an atomic compare-and-delete (`locks`).
   * @example
   * await backend.unlock(); // rejects with CacheCapabilityError
   */
  async unlock(): Promise<boolean> {
    throw refuseCloudflareCache("locks", "unlock");
  }

  /**
   * Refused on iteration: the Cache API cannot list keys (`listing`).
   * @example
   * for await (const key of backend.scan()) console.log(key); // throws CacheCapabilityError
   */
  async *scan(): AsyncIterable<string> {
    throw refuseCloudflareCache("listing", "scan");
  }

  /**
   * Refused: the Cache API cannot list keys (`listing`); delete keys by name instead.
   * @example
   * await backend.deleteMatch(); // rejects with CacheCapabilityError
   */
  async deleteMatch(): Promise<number> {
    throw refuseCloudflareCache("listing", "deleteMatch");
  }

  /**
   * Refused: the Cache API cannot list (or count) keys (`listing`).
   * @example
   * await backend.getKeysCount(); // rejects with CacheCapabilityError
   */
  async getKeysCount(): Promise<number> {
    throw refuseCloudflareCache("listing", "getKeysCount");
  }

  /**
   * Refused: the Cache API cannot list keys, so it cannot clear a namespace (`listing`): use a new
   * `namespace` instead, or let entries expire.
   * @example
   * await backend.clear(); // rejects with CacheCapabilityError
   */
  async clear(): Promise<void> {
    throw refuseCloudflareCache("listing", "clear");
  }
}
