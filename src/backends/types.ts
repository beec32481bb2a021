/**
 * The backend contract: one small async interface every store implements. The codec sits above
 * it: network backends store opaque strings; `mem://` may store live values (`storesValues`).
 * @module
 */

/** Returned by reads for a key that is absent or expired. */
export const MISSING: unique symbol = Symbol("cashews.missing");
export type Missing = typeof MISSING;

/**
 * A storage driver. Keys are the user's keys: a network backend adds its own namespace and strips
 * it again from what `scan` yields. Expiries are in milliseconds; `undefined` means "no expiry".
 *
 * Errors: a backend rejects on failure (connection lost, timeout, wrong type); the Cache facade
 * turns rejections into neutral values in safe mode. A backend bounds every command by its
 * configured `timeout`, so that a dead server costs at most that long.
 */
export interface Backend {
  /** Short name for events and stats: `"mem"`, `"redis"`, `"upstash"`. */
  readonly kind: string;
  /** True when values are stored as given (live objects); false when they must be strings. */
  readonly storesValues: boolean;
  /** Connects (network) or starts timers (memory). Idempotent. */
  init(): Promise<void>;
  /** Releases every connection and timer. Idempotent; the backend may be re-initialised after. */
  close(): Promise<void>;

  /** Raw stored value, or {@link MISSING}. */
  get(key: string): Promise<unknown>;
  /** Raw stored values in input order, {@link MISSING} for absent ones; one round trip. */
  getMany(keys: readonly string[]): Promise<unknown[]>;
  /**
   * Stores `value`. `exist`: `true` only if present (XX), `false` only if absent (NX). Without
   * `expireMs` the key has no TTL afterwards, also when it had one. Resolves whether it was written.
   */
  set(key: string, value: unknown, expireMs: number | undefined, exist?: boolean): Promise<boolean>;
  /** Stores every entry with the same expiry; one round trip. */
  setMany(entries: ReadonlyArray<readonly [string, unknown]>, expireMs: number | undefined): Promise<void>;
  /**
   * Atomic increment of an integer counter (a missing key counts as 0). `expireMs` is applied when
   * this call creates the counter. Rejects when the key holds something other than an integer.
   */
  incr(key: string, by: number, expireMs: number | undefined): Promise<number>;
  delete(key: string): Promise<boolean>;
  deleteMany(keys: readonly string[]): Promise<number>;
  /** Deletes every key matching a Redis glob pattern; resolves how many. */
  deleteMatch(pattern: string): Promise<number>;
  /** Keys matching a Redis glob pattern (`*`, `?`, `[ab]`, `[^a]`, `[a-z]`, `\x`). May yield a key twice. */
  scan(pattern: string, batchSize: number): AsyncIterable<string>;
  /** Sets (or with `undefined`, removes) the TTL of an existing key; false when missing. */
  expire(key: string, expireMs: number | undefined): Promise<boolean>;
  /** Remaining ms; -1 without expiry; -2 when missing. */
  getExpire(key: string): Promise<number>;
  exists(key: string): Promise<boolean>;
  /** `"PONG"` without a message, else the message. */
  ping(message?: string): Promise<string>;
  /** Number of keys this backend holds in its namespace. */
  getKeysCount(): Promise<number>;
  /** Removes every key in this backend's namespace (everything when the namespace is `""`). */
  clear(): Promise<void>;
  /** Set-if-absent of a raw string with a TTL. */
  setLock(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Deletes the key only if it holds `value` (atomic compare-and-delete). */
  unlock(key: string, value: string): Promise<boolean>;
  /**
   * Sliding-window log, atomic: forgets the entries recorded `windowMs` or more ago, then records
   * this call (now, on the caller's clock) only if fewer than `limit` entries remain (`limit < 0` or
   * `Infinity`: no limit), and sets the key's TTL to `windowMs`. A call over the limit is not recorded.
   * Resolves `[count, resetMs]`: the entries in the window counting this call (`count > limit`
   * means it was refused and not recorded) and the ms until the oldest entry leaves the window
   * (0 when none). Rejects when the key holds something other than such a log.
   */
  slidingIncr(key: string, windowMs: number, limit: number): Promise<[count: number, resetMs: number]>;
  /**
   * Tag set, atomic, touching only `key`: adds `member` (a user key) to the set at `key` (creating
   * it) and extends the set's TTL to at least `expireMs`, never shortening it; `undefined` (a
   * member without expiry) makes the set persistent. So the set outlives its longest-lived member.
   * Rejects when the key holds something other than a set.
   */
  tagAdd(key: string, member: string, expireMs: number | undefined): Promise<void>;
  /**
   * Removes and returns up to `count` members of the set at `key` (SPOP); `[]` when it is missing.
   * Removing the last member removes the key. Rejects when the key holds something other than a set.
   */
  tagPop(key: string, count: number): Promise<string[]>;

  /**
   * Optional fast path: a synchronous read of the raw value (memory). Used by the hit path to
   * avoid a promise per call. Must behave exactly as `get`.
   */
  peek?(key: string): unknown;
}

/** Settings every backend receives from `setup`, already validated and converted. */
export interface BackendConfig {
  /** The setup URL without its query string. */
  url: string;
  /** Scheme-specific options (validated by the scheme's spec), with defaults applied. */
  options: Record<string, unknown>;
}
