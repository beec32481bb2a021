/**
 * The backend contract: one small async interface every store implements. The codec sits above
 * it: network backends store opaque strings; `mem://` may store live values (`storesValues`).
 * @module
 */
import type { BackendCapabilities } from "./capabilities.js";

/** Returned by reads for a key that is absent or expired. */
export const MISSING: unique symbol = Symbol("cashews.missing");
export type Missing = typeof MISSING;

/**
 * Lock tokens are stored with this prefix: never a value (reads of a lock key are misses), never
 * mistaken for a tampered value under a secret (which would delete the lock).
 */
export const LOCK_PREFIX = "$l1:";

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
  /**
   * What this store can do beyond get/set/delete (see {@link BackendCapabilities}); absent flags
   * are true. A command whose capability is false rejects with {@link CacheCapabilityError}.
   */
  readonly capabilities?: Partial<BackendCapabilities>;
  /**
   * Connects (network) or starts timers (memory). Idempotent.
   * @example
   * const backend = createRedisBackend("redis://localhost:6379");
   * await backend.init(); // rejects with CacheBackendError when unreachable
   */
  init(): Promise<void>;
  /**
   * Releases every connection and timer. Idempotent; the backend may be re-initialised after.
   * @example
   * await backend.close();
   */
  close(): Promise<void>;

  /**
   * Raw stored value (a string on network backends: the codec above decodes it), or {@link MISSING}.
   * @example
   * await backend.set("greeting", "hello", 60_000);
   * await backend.get("greeting"); // "hello"
   */
  get(key: string): Promise<unknown>;
  /**
   * Raw stored values in input order, {@link MISSING} for absent ones; one round trip.
   * @example
   * const [a, b] = await backend.getMany(["a", "b"]);
   */
  getMany(keys: readonly string[]): Promise<unknown[]>;
  /**
   * Stores `value`. `exist`: `true` only if present (XX), `false` only if absent (NX). Without
   * `expireMs` the key has no TTL afterwards, also when it had one. Resolves whether it was written.
   * `tags`: the tags the key carries after this write, which {@link tagDelete} checks; without
   * them it carries none (whatever it carried before). A backend that stores strings keeps them
   * in a header in front of the text (`withTags` of `backends/tagged`), which `get` returns and
   * the codec strips; one that stores values keeps them beside the value. A backend without tag
   * support (no `atomic` capability) ignores them: tags are refused before they reach it.
   * @example
   * await backend.set("k", "v", 60_000);            // expires in 1 min
   * await backend.set("k", "v2", undefined, false); // false: it exists (NX)
   * await backend.set("user:1", text, 60_000, undefined, ["users"]);
   */
  set(key: string, value: unknown, expireMs: number | undefined, exist?: boolean, tags?: readonly string[]): Promise<boolean>;
  /**
   * Stores every entry with the same expiry; one round trip.
   * @example
   * await backend.setMany([["a", "1"], ["b", "2"]], 60_000);
   */
  setMany(entries: ReadonlyArray<readonly [string, unknown]>, expireMs: number | undefined): Promise<void>;
  /**
   * Atomic increment of an integer counter (a missing key counts as 0). `expireMs` is applied when
   * this call creates the counter. Rejects when the key holds something other than an integer.
   * `tags`: the counter carries them from now on, besides those it carried (see {@link set});
   * without them it keeps its tags. A tagged counter is still an integer to `incr` and `get`.
   * @example
   * await backend.incr("visits", 1, 86_400_000); // 1, with a one-day expiry
   * await backend.incr("visits", 1, 86_400_000); // 2, expiry unchanged
   * await backend.incr("hits:user:1", 1, undefined, ["user:1"]);
   */
  incr(key: string, by: number, expireMs: number | undefined, tags?: readonly string[]): Promise<number>;
  /**
   * Deletes a key; resolves whether it existed.
   * @example
   * await backend.delete("k"); // true
   */
  delete(key: string): Promise<boolean>;
  /**
   * Deletes many keys; one round trip; resolves how many existed.
   * @example
   * await backend.deleteMany(["a", "b"]); // 2
   */
  deleteMany(keys: readonly string[]): Promise<number>;
  /**
   * Deletes every key matching a Redis glob pattern; resolves how many.
   * @example
   * await backend.deleteMatch("user:*");
   */
  deleteMatch(pattern: string): Promise<number>;
  /**
   * Keys matching a Redis glob pattern (`*`, `?`, `[ab]`, `[^a]`, `[a-z]`, `\x`). May yield a key twice.
   * @example
   * for await (const key of backend.scan("user:*", 100)) console.log(key);
   */
  scan(pattern: string, batchSize: number): AsyncIterable<string>;
  /**
   * Sets (or with `undefined`, removes) the TTL of an existing key; false when missing.
   * @example
   * await backend.expire("k", 30_000);
   * await backend.expire("k", undefined); // persist
   */
  expire(key: string, expireMs: number | undefined): Promise<boolean>;
  /**
   * Remaining ms; -1 without expiry; -2 when missing.
   * @example
   * await backend.getExpire("k"); // e.g. 29950
   */
  getExpire(key: string): Promise<number>;
  /**
   * True when the key exists.
   * @example
   * await backend.exists("k");
   */
  exists(key: string): Promise<boolean>;
  /**
   * `"PONG"` without a message, else the message.
   * @example
   * await backend.ping(); // "PONG"
   */
  ping(message?: string): Promise<string>;
  /**
   * Number of keys this backend holds in its namespace.
   * @example
   * await backend.getKeysCount();
   */
  getKeysCount(): Promise<number>;
  /**
   * Removes every key in this backend's namespace (everything when the namespace is `""`).
   * @example
   * await backend.clear();
   */
  clear(): Promise<void>;
  /**
   * Set-if-absent of a raw string with a TTL; resolves whether it was set.
   * @example
   * await backend.setLock("lock:job", "owner-1", 30_000); // true
   * await backend.setLock("lock:job", "owner-2", 30_000); // false: held
   */
  setLock(key: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * Deletes the key only if it holds `value` (atomic compare-and-delete).
   * @example
   * await backend.unlock("lock:job", "owner-1"); // true
   */
  unlock(key: string, value: string): Promise<boolean>;
  /**
   * Sliding-window log, atomic: forgets the entries recorded `windowMs` or more ago, then records
   * this call (now, on the caller's clock) only if fewer than `limit` entries remain (`limit < 0` or
   * `Infinity`: no limit), and sets the key's TTL to `windowMs`. A call over the limit is not recorded.
   * Resolves `[count, resetMs]`: the entries in the window counting this call (`count > limit`
   * means it was refused and not recorded) and the ms until the oldest entry leaves the window
   * (0 when none). Rejects when the key holds something other than such a log.
   * @example
   * const [count, resetMs] = await backend.slidingIncr("api:user-1", 60_000, 100);
   * if (count > 100) console.log(`over the limit, retry in ${resetMs} ms`);
   */
  slidingIncr(key: string, windowMs: number, limit: number): Promise<[count: number, resetMs: number]>;
  /**
   * The limiter's one atomic step (see {@link LimitRequest} for the algorithms): applies every rule
   * of `request` to the state kept for `key`, on the store's own clock, and consumes `cost` from
   * every rule only if every rule admits it (all or nothing). `cost` 0 reads without writing.
   * Each rule's state lives under a key derived from `key`, the algorithm and the period (all in
   * one hash slot on Cluster); `request.reset` deletes them instead and answers the fresh state.
   * Rejects when a derived key holds something else.
   * @example
   * const answer = await backend.limit("api:user-1", { rules: [{ algorithm: "sliding", limit: 100, periodMs: 60_000, refill: 100 }], cost: 1 });
   * if (!answer.success) console.log(`retry in ${Math.max(...answer.states.map((s) => s.retryMs))} ms`);
   */
  limit(key: string, request: LimitRequest): Promise<LimitAnswer>;
  /**
   * Tag set, atomic, touching only `key`: adds `member` (a user key) to the set at `key` (creating
   * it), with the member's expiry: the member leaves the set once `expireMs` has passed (removed by
   * a later `tagAdd` or `tagPop`; `undefined`: never). Adding a member again replaces its expiry.
   * Extends the set's TTL to at least `expireMs`, never shortening it; `undefined` makes the set
   * persistent. So the set outlives its longest-lived member. Rejects when the key holds something
   * other than a tag set.
   * @example
   * await backend.tagAdd("_tag:users", "user:1", 3_600_000);
   */
  tagAdd(key: string, member: string, expireMs: number | undefined): Promise<void>;
  /**
   * Removes and returns up to `count` members of the set at `key` whose expiry has not passed
   * (expired ones are dropped); `[]` when it is missing. Removing the last member removes the key.
   * Members recorded by an earlier version of cashews, whose keys carry no record of their tags,
   * are returned as `{ members, unchecked }`: the caller deletes those unconditionally, as that
   * version did. Rejects when the key holds something other than a tag set.
   * @example
   * const members = await backend.tagPop("_tag:users", 100); // ["user:1", …]
   */
  tagPop(key: string, count: number): Promise<string[] | TagPopped>;
  /**
   * Deletes each of `keys` that carries `tag` now (its last `set`, or an `incr`, had it; see
   * {@link set}); each check and delete is one atomic step on its key, so a key written again
   * without the tag meanwhile is never deleted. Resolves how many were deleted.
   * @example
   * await backend.set("a", text, undefined, undefined, ["users"]);
   * await backend.set("b", text);
   * await backend.tagDelete("users", ["a", "b"]); // 1: "b" does not carry it
   */
  tagDelete(tag: string, keys: readonly string[]): Promise<number>;

  /**
   * Optional fast path: a synchronous read (memory), used by the hit path to avoid a promise per
   * call. Behaves exactly as `get`, unless {@link peekDecoded} says it answers decoded values.
   */
  peek?(key: string): unknown;
  /**
   * Optional: `peek` answers decoded values (values the route handed to {@link keep}), not raw
   * stored ones: a local copy in front of a network store (Redis `clientSide`).
   */
  readonly peekDecoded?: boolean;
  /**
   * Optional: called with the value the route decoded from `raw`, which `get(key)` returned; a
   * backend with a local copy keeps it for `peek` if its entry still holds `raw`.
   */
  keep?(key: string, raw: unknown, value: unknown): void;

  // ---- Set commands (`cache.setAdd` …). Optional: a backend without them refuses those commands
  // with a CacheCapabilityError. Sets are not values: a read of a set key is an error (WRONGTYPE).

  /**
   * Set, atomic: adds `members` to the set at `key` (creating it); with `expireMs` the whole set's
   * TTL becomes `expireMs` (on every add), without it the TTL is left as it is. Resolves how many
   * members were new. Rejects when the key holds something other than a set.
   * @example
   * await backend.setAdd!("online", ["ada", "grace"], 60_000); // 2
   */
  setAdd?(key: string, members: readonly string[], expireMs: number | undefined): Promise<number>;
  /**
   * Removes `members` from the set at `key`; resolves how many were there. Removing the last
   * member removes the key.
   * @example
   * await backend.setRemove!("online", ["ada"]); // 1
   */
  setRemove?(key: string, members: readonly string[]): Promise<number>;
  /**
   * Removes and returns up to `count` members of the set at `key`; `[]` when it is missing.
   * @example
   * await backend.setPop!("queue", 10); // up to 10 members
   */
  setPop?(key: string, count: number): Promise<string[]>;
  /**
   * Every member of the set at `key` (in no particular order); `[]` when it is missing.
   * @example
   * await backend.setMembers!("online"); // ["grace"]
   */
  setMembers?(key: string): Promise<string[]>;
}

/**
 * What {@link Backend.tagPop} may resolve: `members` to check with `tagDelete`, `unchecked` ones
 * (recorded by an earlier version) to delete as they are.
 * @example
 * const popped: TagPopped = { members: ["user:1"], unchecked: ["user:0"] };
 */
export interface TagPopped {
  members: string[];
  unchecked: string[];
}

/** Settings every backend receives from `setup`, already validated and converted. */
export interface BackendConfig {
  /** The setup URL without its query string. */
  url: string;
  /** Scheme-specific options (validated by the scheme's spec), with defaults applied. */
  options: Record<string, unknown>;
}

/**
 * One limit a {@link Backend.limit} call applies. All numbers are integers.
 *
 * - `"fixed"`: a counter per window; a window starts with the first unit consumed in it and lasts
 *   `periodMs` (the counter's expiry). Capacity: `limit - counter`.
 * - `"sliding"`: an exact log of the units consumed, each with its time; capacity: `limit` minus
 *   the units consumed in the last `periodMs` (an entry consumed at `t` counts while `now < t + periodMs`).
 * - `"tokenBucket"`: a bucket of at most `limit` tokens (full when new) refilled continuously by
 *   `refill` tokens per `periodMs`, counted exactly in units of 1/`periodMs` token (so every store
 *   computes the same integers); capacity: the whole tokens in it.
 *
 * @example
 * const rule: LimitRule = { algorithm: "tokenBucket", limit: 20, periodMs: 1_000, refill: 5 };
 */
export interface LimitRule {
  algorithm: "fixed" | "sliding" | "tokenBucket";
  /** Units allowed per period (fixed, sliding), or the bucket's size (tokenBucket); >= 1. */
  limit: number;
  /** The window (fixed, sliding), or the refill period (tokenBucket), in ms; >= 1. */
  periodMs: number;
  /** tokenBucket: tokens added per `periodMs` (>= 1); the others ignore it. */
  refill: number;
}

/**
 * What a {@link Backend.limit} call asks.
 * @example
 * const request: LimitRequest = { rules: [{ algorithm: "fixed", limit: 10, periodMs: 1_000, refill: 10 }], cost: 1, banMs: 60_000 };
 */
export interface LimitRequest {
  /** The limits, all applied (at most one per algorithm and period). */
  rules: readonly LimitRule[];
  /** Units this call consumes (0 <= cost; 0: read only, nothing is written). */
  cost: number;
  /**
   * A ban: when a call with `cost > 0` is refused and the key is not banned yet, it is banned for
   * `banMs` (a ban key derived from `key`); while banned, every call is refused and consumes nothing.
   */
  banMs?: number;
  /** Delete the state of every rule (and the ban) first; `cost` is then applied to the fresh state. */
  reset?: boolean;
}

/**
 * What {@link Backend.limit} answers: whether the cost was consumed, and each rule's state after the call.
 * @example
 * const { success, states, bannedMs } = await backend.limit(key, request);
 */
export interface LimitAnswer {
  /** True when every rule admitted the cost (and it was consumed), false when nothing was consumed. */
  success: boolean;
  /** Per rule, in the order of `request.rules`. */
  states: LimitRuleState[];
  /** The ban's remaining ms (0: not banned). While banned `success` is false. */
  bannedMs: number;
}

/**
 * One rule's state after a {@link Backend.limit} call (integers, ms relative to the store's clock).
 * @example
 * const { remaining, resetMs, retryMs } = answer.states[0]!;
 */
export interface LimitRuleState {
  /** Units this rule would still admit now (after this call's consumption, if it consumed). */
  remaining: number;
  /**
   * fixed: until the window's counter expires (`periodMs` when there is none); sliding: until the
   * oldest counted entry leaves the window (0 when none); tokenBucket: until the bucket is full (0 when full).
   */
  resetMs: number;
  /** 0 when this rule admits the call's cost now; else the ms until it would (with nothing else consumed meanwhile). */
  retryMs: number;
}
