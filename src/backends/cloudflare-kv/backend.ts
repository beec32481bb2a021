/**
 * The Cloudflare Workers KV backend (`cloudflare-kv://NAME`). Values are opaque strings (the codec
 * above encodes them); keys live under `<namespace>:`.
 *
 * Value and expiry travel together: every entry with a TTL carries its expiry (epoch ms) in its KV
 * metadata, so a read answers missing from the millisecond it passes, also under KV's 60-second
 * minimum TTL. KV's own `expirationTtl` is set to max(60 s, the TTL) plus a margin, so that KV
 * deletes the entry eventually (and never before the expiry we read, whatever the clock skew).
 *
 * What KV cannot do is refused, never approximated: counters, sliding windows, tag sets, locks
 * and conditional writes (`set` with `exist`) reject with a {@link CacheCapabilityError}. The
 * read-then-write commands (`delete`'s answer, `expire`, `deleteMany`'s count) are not atomic:
 * a write from elsewhere between the two halves may be overwritten or miscounted.
 *
 * Workers KV is eventually consistent: a write is seen at once where it was made, and elsewhere
 * within about 60 seconds (more with `cacheTtl`).
 * @module
 */
import type { BackendModule } from "../../config/registry.js";
import { withLocalTier } from "../local/tier.js";
import { CacheBackendError, CacheConfigError, messageOf } from "../../errors.js";
import { withDeadline } from "../deadlines.js";
import { compileGlob, literalPrefix } from "../glob.js";
import { Namespace } from "../namespace.js";
import { durationsInMs, toPx, toText } from "../remote.js";
import { MISSING, type Backend, type BackendConfig, type LimitAnswer, type LimitRequest } from "../types.js";
import type { BackendCapabilities } from "../capabilities.js";
import { kvRefusal, MIN_CACHE_TTL_MS, resolveKvBinding, type KvNamespaceLike, type KvValueWithMetadata } from "./spec.js";

/**
 * KV deletes nothing sooner than this after a write (its minimum `expirationTtl`, seconds).
 * @example
 * Math.max(KV_MIN_TTL_S, Math.ceil(1_000 / 1000)); // 60: a 1 s entry is kept by KV for a minute (and reads as missing after 1 s)
 */
export const KV_MIN_TTL_S = 60;
/**
 * Seconds added to KV's `expirationTtl` beyond the entry's own expiry: KV deletes an entry only
 * after every reader has seen it expire (by its metadata), whatever the clock skew.
 * @example
 * const expirationTtl = Math.max(KV_MIN_TTL_S, Math.ceil(ms / 1000)) + KV_EXPIRY_MARGIN_S;
 */
export const KV_EXPIRY_MARGIN_S = 60;
/** KV's limit of keys per bulk read. */
const BULK_LIMIT = 100;
/** KV's limit of keys per list page. */
const LIST_LIMIT = 1000;
/** Writes and deletes in flight at once for one many-key command. */
const MAX_IN_FLIGHT = 16;

const CAPABILITIES: Readonly<BackendCapabilities> = Object.freeze({
  atomic: false,
  locks: false,
  listing: true,
  exactExpiry: true,
  strongConsistency: false,
});

/**
 * Options of {@link createCloudflareKvBackend} (the same names as the `cloudflare-kv://` setup options).
 * @example
 * const options: CloudflareKvBackendOptions = { namespace: "app", cacheTtl: "1m", timeout: "2s" };
 */
export interface CloudflareKvBackendOptions {
  /** Key namespace, default `"cashews"`; `""` stores keys verbatim (and `clear()` empties the KV namespace). */
  namespace?: string;
  /** KV's edge read cache (ms or a duration string, ≥ 30 s): reads may be that much staler. Default: none. */
  cacheTtl?: number | string;
  /** Bound on each KV call (ms or a duration string); default: none. */
  timeout?: number | string;
}

/**
 * Creates a Workers KV backend on a KV namespace binding, without any I/O.
 * @param binding The KV namespace (`env.CACHE_KV`).
 * @param options Namespace, `cacheTtl`, `timeout`.
 * @throws {CacheConfigError} A binding that is not a KV namespace, or a bad option.
 * @example
 * const backend = createCloudflareKvBackend(env.CACHE_KV, { namespace: "app" });
 * await backend.set("greeting", "hello", 10_000);
 * await backend.get("greeting"); // "hello"
 */
export function createCloudflareKvBackend(binding: KvNamespaceLike, options: CloudflareKvBackendOptions = {}): CloudflareKvBackend {
  const converted = durationsInMs(options, ["cacheTtl", "timeout"], "cloudflare-kv");
  return new CloudflareKvBackend({ url: "cloudflare-kv://", options: { ...converted, binding } });
}

/**
 * The module the `cloudflare-kv://` scheme loads: `create` builds a {@link CloudflareKvBackend}
 * from a setup URL (without its query) and options.
 * @example
 * const backend = cloudflareKvModule.create({ url: "cloudflare-kv://CACHE_KV", options: { env } });
 */
export const cloudflareKvModule: BackendModule = {
  create: (config) => new CloudflareKvBackend(config),
  // The `local` option's tier: carried by the backend module, so that a bundle without a remote store has none.
  localTier: withLocalTier,
};

/** What an entry's metadata says: its expiry (epoch ms) when it has one. */
interface KvMetadata {
  /** Expiry, epoch ms. */
  e?: number;
}

/** A live entry read from KV. */
interface Entry {
  value: string;
  /** Epoch ms, or undefined: no expiry. */
  expiresAt: number | undefined;
}

/**
 * A {@link Backend} on a Workers KV namespace: what `cache.setup("cloudflare-kv://NAME", { env })`
 * creates. Use it directly for raw string storage without the codec (values are strings).
 * @example
 * const backend = new CloudflareKvBackend({ url: "cloudflare-kv://CACHE_KV", options: { env } });
 * await backend.set("greeting", "hello", 60_000);
 * await backend.get("greeting"); // "hello"
 */
export class CloudflareKvBackend implements Backend {
  readonly kind = "cloudflare-kv";
  readonly storesValues = false;
  readonly capabilities: Partial<BackendCapabilities> = CAPABILITIES;
  /**
   * The namespace keys are stored under (`""`: verbatim).
   * @example
   * new CloudflareKvBackend({ url: "cloudflare-kv://CACHE_KV", options: { env } }).namespace; // "cashews"
   */
  readonly namespace: string;
  /**
   * The KV namespace binding, for what cashews does not offer (metadata, binary values, …).
   * @example
   * const page = await backend.binding.list({ prefix: "cashews:" });
   */
  readonly binding: KvNamespaceLike;

  readonly #ns: Namespace;
  readonly #timeout: number | undefined;
  /** `{ type: "text", cacheTtl }` for value reads. */
  readonly #readOptions: { type: "text"; cacheTtl?: number };
  readonly #freshOptions = { type: "text" } as const;

  constructor(config: BackendConfig) {
    const options = config.options;
    this.binding = resolveKvBinding(config.url, options).binding;
    this.#ns = new Namespace(options.namespace, "cloudflare-kv");
    this.namespace = this.#ns.name;
    const timeout = options.timeout;
    if (timeout !== undefined && (typeof timeout !== "number" || !(timeout >= 0) || !Number.isFinite(timeout))) {
      throw new CacheConfigError(`cloudflare-kv: option "timeout" must be a duration >= 0 (ms), got ${String(timeout)}`);
    }
    this.#timeout = timeout === 0 ? undefined : timeout;
    const cacheTtl = options.cacheTtl;
    if (cacheTtl !== undefined && (typeof cacheTtl !== "number" || !(cacheTtl >= MIN_CACHE_TTL_MS) || !Number.isFinite(cacheTtl))) {
      throw new CacheConfigError(`cloudflare-kv: option "cacheTtl" must be a duration of at least 30s (KV's minimum), got ${String(cacheTtl)} ms`);
    }
    this.#readOptions = cacheTtl === undefined ? { type: "text" } : { type: "text", cacheTtl: Math.ceil(cacheTtl / 1000) };
  }

  // ---------------------------------------------------------------- lifecycle

  /** Nothing to connect: the binding is ready (no I/O). */
  async init(): Promise<void> {}

  /** Nothing to release. */
  async close(): Promise<void> {}

  // ---------------------------------------------------------------- reads

  async get(key: string): Promise<unknown> {
    const entry = await this.#read(this.#ns.key(key), this.#readOptions);
    return entry === undefined ? MISSING : entry.value;
  }

  /**
   * The value and its remaining TTL (ms; -1: none; -2: missing) from one `getWithMetadata`: what a
   * local tier fills with (see `ExpiryReader` in local/tier.ts).
   * @example
   * const [raw, pttl] = await backend.getWithExpiry("k"); // ["…", 29950]
   */
  async getWithExpiry(key: string): Promise<[raw: unknown, pttl: number]> {
    const entry = await this.#read(this.#ns.key(key), this.#readOptions);
    if (entry === undefined) return [MISSING, -2];
    if (entry.expiresAt === undefined) return [entry.value, -1];
    const left = entry.expiresAt - Date.now();
    return left > 0 ? [entry.value, Math.ceil(left)] : [MISSING, -2];
  }

  /** KV's bulk `getWithMetadata`, 100 keys per call (the calls run concurrently), in input order. */
  async getMany(keys: readonly string[]): Promise<unknown[]> {
    return (await this.getManyWithExpiry(keys)).map(([raw]) => raw);
  }

  /**
   * Like {@link CloudflareKvBackend.getWithExpiry} for many keys, with the bulk reads of `getMany`.
   * @example
   * const [[raw, pttl]] = await backend.getManyWithExpiry(["k"]); // ["…", 29950]
   */
  async getManyWithExpiry(keys: readonly string[]): Promise<Array<[raw: unknown, pttl: number]>> {
    if (keys.length === 0) return [];
    const entries = await this.#readMany(keys.map((key) => this.#ns.key(key)), this.#readOptions);
    const now = Date.now();
    return entries.map((entry): [unknown, number] => {
      if (entry === undefined) return [MISSING, -2];
      if (entry.expiresAt === undefined) return [entry.value, -1];
      const left = entry.expiresAt - now;
      return left > 0 ? [entry.value, Math.ceil(left)] : [MISSING, -2];
    });
  }

  async exists(key: string): Promise<boolean> {
    return (await this.#read(this.#ns.key(key), this.#readOptions)) !== undefined;
  }

  async getExpire(key: string): Promise<number> {
    const entry = await this.#read(this.#ns.key(key), this.#readOptions);
    if (entry === undefined) return -2;
    if (entry.expiresAt === undefined) return -1;
    const left = entry.expiresAt - Date.now();
    return left > 0 ? Math.ceil(left) : -2;
  }

  // ---------------------------------------------------------------- writes

  async set(key: string, value: unknown, expireMs: number | undefined, exist?: boolean): Promise<boolean> {
    if (exist !== undefined) throw kvRefusal("atomic", `set with exist: ${exist} (${exist ? "XX" : "NX"}, a conditional write)`);
    await this.#put(this.#ns.key(key), toText(value, "cloudflare-kv"), expiresAt(expireMs));
    return true;
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, expireMs: number | undefined): Promise<void> {
    if (entries.length === 0) return;
    const at = expiresAt(expireMs);
    const texts = entries.map(([key, value]) => [this.#ns.key(key), toText(value, "cloudflare-kv")] as const);
    await inPool(texts, ([key, text]) => this.#put(key, text, at));
  }

  /**
   * Re-writes the value with the new expiry (read, then put: not atomic; a write from elsewhere in
   * between is overwritten with the value read).
   */
  async expire(key: string, expireMs: number | undefined): Promise<boolean> {
    const k = this.#ns.key(key);
    const entry = await this.#read(k, this.#freshOptions);
    if (entry === undefined) return false;
    await this.#put(k, entry.value, expiresAt(expireMs));
    return true;
  }

  /** Reads (to answer whether it existed), then deletes: two KV operations. */
  async delete(key: string): Promise<boolean> {
    const k = this.#ns.key(key);
    const entry = await this.#read(k, this.#freshOptions);
    await this.#call("DELETE", () => this.binding.delete(k));
    return entry !== undefined;
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const stored = [...new Set(keys.map((key) => this.#ns.key(key)))];
    const entries = await this.#readMany(stored, this.#freshOptions);
    await inPool(stored, (k) => this.#call("DELETE", () => this.binding.delete(k)));
    return entries.filter((entry) => entry !== undefined).length;
  }

  /** Lists the keys by the pattern's literal prefix, deletes the matching ones (expired ones too); resolves how many were live. */
  async deleteMatch(pattern: string): Promise<number> {
    const match = compileGlob(pattern);
    let deleted = 0;
    await this.#list(literalPrefix(pattern), LIST_LIMIT, async (keys) => {
      const doomed = keys.filter((key) => match(key.user));
      await inPool(doomed, (key) => this.#call("DELETE", () => this.binding.delete(key.stored)));
      for (const key of doomed) if (key.live) deleted++;
    });
    return deleted;
  }

  // ---------------------------------------------------------------- listing

  /** Live keys matching the pattern, from KV `list` pages of `batchSize` keys (at most 1000) under the pattern's literal prefix. */
  async *scan(pattern: string, batchSize: number): AsyncIterable<string> {
    const limit = Number.isFinite(batchSize) && batchSize >= 1 ? Math.min(LIST_LIMIT, Math.floor(batchSize)) : 100;
    const match = compileGlob(pattern);
    const prefix = this.#ns.key(literalPrefix(pattern));
    let cursor: string | undefined;
    for (;;) {
      const page = await this.#call("LIST", () => this.binding.list({ prefix, limit, ...(cursor === undefined ? {} : { cursor }) }));
      const now = Date.now();
      for (const { name, metadata } of page.keys) {
        const user = this.#ns.strip(name);
        if (isLive(metadata, now) && match(user)) yield user;
      }
      if (page.list_complete || !page.cursor) return;
      cursor = page.cursor;
    }
  }

  async getKeysCount(): Promise<number> {
    let count = 0;
    await this.#list("", LIST_LIMIT, async (keys) => {
      for (const key of keys) if (key.live) count++;
    });
    return count;
  }

  /** Deletes every key under the namespace (every key of the KV namespace when it is `""`). */
  async clear(): Promise<void> {
    await this.#list("", LIST_LIMIT, (keys) => inPool(keys, (key) => this.#call("DELETE", () => this.binding.delete(key.stored))));
  }

  // ---------------------------------------------------------------- misc

  /** Answers once KV does (one read of a key that is never written). */
  async ping(message?: string): Promise<string> {
    await this.#call("GET", () => this.binding.get(this.#ns.key("__cashews_ping__"), this.#freshOptions));
    return message ?? "PONG";
  }

  // ---------------------------------------------------------------- refused

  /** Refused: KV has no atomic increment. */
  async incr(_key: string, _by: number, _expireMs: number | undefined): Promise<number> {
    throw kvRefusal("atomic", "incr");
  }

  /** Refused: KV has no atomic read-modify-write for a sliding window. */
  async slidingIncr(_key: string, _windowMs: number, _limit: number): Promise<[count: number, resetMs: number]> {
    throw kvRefusal("atomic", "slidingIncr");
  }

  /** Refused: KV has no atomic read-modify-write for a limiter's state. */
  async limit(_key: string, _request: LimitRequest): Promise<LimitAnswer> {
    throw kvRefusal("atomic", "limit (rate limiting)");
  }

  /** Refused: KV has no atomic set. */
  async tagAdd(_key: string, _member: string, _expireMs: number | undefined): Promise<void> {
    throw kvRefusal("atomic", "tagAdd (tags)");
  }

  /** Refused: KV has no atomic set. */
  async tagPop(_key: string, _count: number): Promise<string[]> {
    throw kvRefusal("atomic", "tagPop (tags)");
  }

  /** Refused: KV has no atomic compare-and-delete. */
  async tagDelete(_tag: string, _keys: readonly string[]): Promise<number> {
    throw kvRefusal("atomic", "tagDelete (tags)");
  }

  /** Refused: KV has no set-if-absent. */
  async setLock(_key: string, _value: string, _ttlMs: number): Promise<boolean> {
    throw kvRefusal("locks", "setLock");
  }

  /** Refused: KV has no compare-and-delete. */
  async unlock(_key: string, _value: string): Promise<boolean> {
    throw kvRefusal("locks", "unlock");
  }

  // ---------------------------------------------------------------- internals

  /** One KV call, bounded by `timeout` when given; a failure becomes a {@link CacheBackendError} naming the operation. */
  async #call<T>(operation: string, start: () => Promise<T>): Promise<T> {
    const timeout = this.#timeout;
    try {
      const promise = start();
      return timeout === undefined
        ? await promise
        : await withDeadline(promise, timeout, () => new Error(`timed out after ${timeout} ms`));
    } catch (error) {
      throw new CacheBackendError(`cloudflare-kv ${operation}: ${messageOf(error)}`, { cause: error });
    }
  }

  /** The live entry at stored key `k`, or undefined (absent or expired). */
  async #read(k: string, options: { type: "text"; cacheTtl?: number }): Promise<Entry | undefined> {
    const result = await this.#call("GET", () => this.binding.getWithMetadata(k, options));
    return liveEntry(result, Date.now());
  }

  /** The live entries at stored keys `ks`, in order: bulk reads of 100 keys, concurrently. */
  async #readMany(ks: readonly string[], options: { type: "text"; cacheTtl?: number }): Promise<(Entry | undefined)[]> {
    const unique = [...new Set(ks)];
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += BULK_LIMIT) chunks.push(unique.slice(i, i + BULK_LIMIT));
    const maps = await Promise.all(chunks.map((chunk) => this.#call("GET (bulk)", () => this.binding.getWithMetadata(chunk, options))));
    const now = Date.now();
    const found = new Map<string, Entry | undefined>();
    for (const map of maps) {
      if (!(map instanceof Map)) throw new CacheBackendError(`cloudflare-kv GET (bulk): expected a Map from getWithMetadata(keys), got ${typeof map}`);
      for (const [k, result] of map) found.set(k, liveEntry(result, now));
    }
    return ks.map((k) => found.get(k));
  }

  /** One put: the value, its expiry in metadata, and KV's own TTL past it. */
  #put(k: string, value: string, at: number | undefined): Promise<void> {
    if (at === undefined) return this.#call("PUT", () => this.binding.put(k, value));
    const metadata: KvMetadata = { e: at };
    const seconds = Math.max(KV_MIN_TTL_S, Math.ceil((at - Date.now()) / 1000)) + KV_EXPIRY_MARGIN_S;
    return this.#call("PUT", () => this.binding.put(k, value, { expirationTtl: seconds, metadata }));
  }

  /** Lists every stored key under the namespace and `userPrefix`, a page at a time, following cursors. */
  async #list(userPrefix: string, limit: number, each: (keys: { stored: string; user: string; live: boolean }[]) => Promise<unknown>): Promise<void> {
    const prefix = this.#ns.key(userPrefix);
    let cursor: string | undefined;
    for (;;) {
      const page = await this.#call("LIST", () => this.binding.list({ prefix, limit, ...(cursor === undefined ? {} : { cursor }) }));
      const now = Date.now();
      await each(page.keys.map(({ name, metadata }) => ({ stored: name, user: this.#ns.strip(name), live: isLive(metadata, now) })));
      if (page.list_complete || !page.cursor) return;
      cursor = page.cursor;
    }
  }
}

// ------------------------------------------------------------------ helpers

/** The expiry (epoch ms) of an entry written now for `expireMs`, or undefined (no expiry). */
function expiresAt(expireMs: number | undefined): number | undefined {
  const ms = toPx(expireMs);
  return ms === undefined ? undefined : Date.now() + ms;
}

/** The expiry in an entry's metadata (epoch ms), or undefined: none (also for metadata not ours). */
function expiryOf(metadata: unknown): number | undefined {
  if (typeof metadata !== "object" || metadata === null) return undefined;
  const at = (metadata as KvMetadata).e;
  return typeof at === "number" && Number.isFinite(at) ? at : undefined;
}

function isLive(metadata: unknown, now: number): boolean {
  const at = expiryOf(metadata);
  return at === undefined || at > now;
}

/** A KV read's result as a live entry, or undefined (absent, or past its expiry). */
function liveEntry(result: KvValueWithMetadata | null | undefined, now: number): Entry | undefined {
  if (result === null || result === undefined || result.value === null || result.value === undefined) return undefined;
  const at = expiryOf(result.metadata);
  if (at !== undefined && at <= now) return undefined;
  return { value: result.value, expiresAt: at };
}

/** Runs `fn` over `items`, at most {@link MAX_IN_FLIGHT} at a time; rejects with the first failure (after the rest settled). */
async function inPool<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(MAX_IN_FLIGHT, items.length) }, worker));
  if (failure) throw failure.error;
}
