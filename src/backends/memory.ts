/**
 * The `mem://` backend: an in-process LRU cache with per-key expiry, on every runtime.
 *
 * Layout: a `Map` from key to an entry object that is also a node of a doubly linked recency list
 * (least recently used first) and, when it has a TTL, a slot of a binary min-heap ordered by
 * expiry time. A hit is one `Map` lookup plus a few pointer writes, with no allocation; measured
 * faster than re-inserting into the `Map` (which is what `Map` order LRUs do) by about 2×.
 *
 * Expiry: every read checks the entry's deadline (lazy expiry); the purge timer started by
 * `init()` pops expired entries off the heap, O(log n) per expired key and nothing for live
 * ones, without touching the recency order. An expired entry also goes first when the cache is
 * full. A key expires once `Date.now()` reaches its deadline (reads may see it up to ~1 ms late,
 * see `hitNow` in clock.ts).
 * @module
 */
import { CacheConfigError } from "../errors.js";
import type { SchemeSpec } from "../config/registry.js";
import { compileGlob } from "./glob.js";
import { hitNow, unrefTimer } from "./clock.js";
import { MISSING } from "./types.js";
import { decide, ruleKey, type RuleData } from "./limits.js";
import type { Backend, BackendConfig, LimitAnswer, LimitRequest } from "./types.js";

/** Options of {@link MemoryBackend}, as `setup("mem://…")` passes them (already converted). */
export interface MemoryOptions {
  /** Maximum number of entries; beyond it the least recently used one is evicted. Default 10000. */
  size?: number;
  /** Milliseconds between purges of expired entries; `0` turns the timer off. Default 1000. */
  checkInterval?: number;
  /** The layer above hands encoded strings instead of live values. Default false. */
  serialize?: boolean;
}

/** The options of the `mem://` scheme, validated at `setup` without loading anything. */
export const memorySpec: SchemeSpec = {
  schemes: ["mem"],
  options: {
    size: { kind: "int", min: 1, default: 10_000 },
    checkInterval: { kind: "duration", default: 1000 },
    serialize: { kind: "boolean", default: false },
  },
  module: { create: createMemoryBackend },
};

/**
 * Creates a memory backend from setup's converted options (`size`, `checkInterval` in ms,
 * `serialize`; `timeout` is ignored). Starts no timer: that is `init()`'s job.
 * @param config The backend's URL and options.
 * @returns A new {@link MemoryBackend}.
 */
export function createMemoryBackend(config: BackendConfig): Backend {
  const { size, checkInterval, serialize } = config.options;
  return new MemoryBackend({
    size: size as number | undefined,
    checkInterval: checkInterval as number | undefined,
    serialize: serialize as boolean | undefined,
  });
}


/** A stored key: recency-list node and heap slot at once. */
class Entry {
  key: string;
  value: unknown;
  /** Deadline in `Date.now()` ms; 0 = no expiry. */
  expiresAt: number;
  prev: Entry;
  next: Entry;
  /** Position in the expiry heap; -1 when the entry has no TTL. */
  heapIndex: number;
  /** The recency clock when this entry was last moved to the front. */
  stamp = 0;
  /** The tags the value carries (see {@link Backend.set}); undefined: none. */
  tags: readonly string[] | undefined = undefined;

  constructor(key: string, value: unknown, expiresAt: number) {
    this.key = key;
    this.value = value;
    this.expiresAt = expiresAt;
    this.prev = this;
    this.next = this;
    this.heapIndex = -1;
  }
}

/**
 * A structure `mem://` keeps for a command (a sliding log, a set, a limiter's state): never a
 * cached value, so reads of its key answer as a miss above the backend. @internal
 */
export abstract class Structure {}

/** The value of a {@link MemoryBackend.slidingIncr} key: timestamps in ascending order. */
class SlidingLog extends Structure {
  #times: number[] = [];
  /** Index of the oldest live timestamp (the ones before it were pruned; compacted lazily). */
  #head = 0;

  get size(): number {
    return this.#times.length - this.#head;
  }

  oldest(): number | undefined {
    return this.#times[this.#head];
  }

  /** Forgets the timestamps `<= cutoff`. */
  prune(cutoff: number): void {
    const times = this.#times;
    let head = this.#head;
    while (head < times.length && times[head]! <= cutoff) head++;
    if (head > 32 && head * 2 > times.length) {
      this.#times = times.slice(head);
      head = 0;
    }
    this.#head = head;
  }

  /** Records `at`, keeping the order (the clock may step back). */
  add(at: number): void {
    const times = this.#times;
    let i = times.length;
    while (i > this.#head && times[i - 1]! > at) i--;
    if (i === times.length) times.push(at);
    else times.splice(i, 0, at);
  }
}

/** The value of a {@link MemoryBackend.limit} rule or ban key: never a cached value. @internal */
export class LimitData extends Structure {
  constructor(readonly data: RuleData) {
    super();
  }
}

/**
 * The value of a {@link MemoryBackend.tagAdd} or `setAdd` key: its members and their deadlines
 * (0: none; a plain set's members have none, the set's own TTL bounds them). Never a value: `get`
 * of it is a miss. @internal
 */
export class TagSet extends Structure {
  readonly members = new Map<string, number>();

  /** Forgets the members whose deadline passed. */
  prune(now: number): void {
    for (const [member, at] of this.members) if (at !== 0 && at <= now) this.members.delete(member);
  }
}

type Timer = ReturnType<typeof setInterval>;

/** `undefined`, 0, negative, NaN and Infinity mean "no expiry" (0 as a deadline). */
function deadline(expireMs: number | undefined, now: number): number {
  return expireMs !== undefined && expireMs > 0 && expireMs < Number.POSITIVE_INFINITY ? now + expireMs : 0;
}

/**
 * In-memory {@link Backend}: LRU bounded by `size`, TTLs in milliseconds, Redis glob scans,
 * owner-checked unlock. Works before `init()` (expiry is also checked on every read); `init()`
 * only starts the purge timer, which never keeps a process alive.
 */
export class MemoryBackend implements Backend {
  /** Always `"mem"`. */
  readonly kind = "mem";
  /** True unless `serialize` is on, in which case values are the encoded strings the layer above gives. */
  readonly storesValues: boolean;
  /** Maximum number of entries. */
  readonly size: number;
  /** Purge period in ms (0: no timer). */
  readonly checkInterval: number;

  readonly #map = new Map<string, Entry>();
  /** Sentinel of the circular recency list: `head.next` is the least, `head.prev` the most recently used. */
  readonly #head = new Entry("", undefined, 0);
  /** Counts moves to the front (inserts and touches). */
  #clock = 0;
  /** Reads of entries moved within this many moves skip the move (see `peek`). */
  readonly #window: number;
  /** Min-heap on `expiresAt` of the entries that have a TTL. */
  #heap: Entry[] = [];
  #timer: Timer | undefined;

  /**
   * @param options Size, purge interval and serialisation mode; see {@link MemoryOptions}.
   * @throws CacheConfigError when `size` is not an integer >= 1 or `checkInterval` not a finite number >= 0.
   */
  constructor(options: MemoryOptions = {}) {
    const size = options.size ?? 10_000;
    const checkInterval = options.checkInterval ?? 1000;
    const bad = (what: string, value: unknown): never => {
      throw new CacheConfigError(`mem://: ${what}, got ${String(value)}`);
    };
    if (!Number.isInteger(size) || size < 1) bad(`"size" must be an integer >= 1`, size);
    if (!(Number.isFinite(checkInterval) && checkInterval >= 0)) bad(`"checkInterval" must be a number of ms >= 0`, checkInterval);
    this.size = size;
    this.#window = Math.max(1, Math.floor(size / 4));
    this.checkInterval = checkInterval;
    this.storesValues = options.serialize !== true;
  }

  /** Entries held right now, including expired ones that no read or purge has removed yet. */
  get storedCount(): number {
    return this.#map.size;
  }

  /** Starts the purge timer (unless `checkInterval` is 0). Idempotent; restarts it after `close()`. */
  async init(): Promise<void> {
    if (this.#timer === undefined && this.checkInterval > 0) {
      unrefTimer((this.#timer = setInterval(() => this.purgeExpired(), this.checkInterval)));
    }
  }

  /** Stops the purge timer. The entries stay; the backend can be used and re-initialised after. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Whether the purge timer is running. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * Removes every expired entry now, without changing the recency order of the others.
   * @returns How many entries were removed.
   */
  purgeExpired(): number {
    const heap = this.#heap;
    let removed = 0;
    if (heap.length > 0) {
      const now = Date.now();
      for (; heap.length > 0 && heap[0]!.expiresAt <= now; removed++) this.#remove(heap[0]!);
    }
    return removed;
  }

  /**
   * Synchronous read: the stored value, or {@link MISSING} when absent or expired. Refreshes the
   * key's recency. Same semantics as {@link get}.
   */
  peek(key: string): unknown {
    const entry = this.#map.get(key);
    if (entry === undefined) return MISSING;
    if (entry.expiresAt !== 0 && entry.expiresAt <= hitNow()) {
      this.#remove(entry);
      return MISSING;
    }
    // Reads move an entry to the front only when it is not among the most recently moved quarter:
    // a hot entry is then a map lookup, and an entry read within the last size/4 moves can never
    // be the one evicted (eviction takes the back of the list).
    if (this.#clock - entry.stamp >= this.#window) this.#touch(entry);
    return entry.value;
  }

  /** The stored value, or {@link MISSING}. Refreshes recency. */
  async get(key: string): Promise<unknown> {
    return this.peek(key);
  }

  /** Stored values in input order, {@link MISSING} for absent ones. Refreshes recency. */
  async getMany(keys: readonly string[]): Promise<unknown[]> {
    return keys.map((key) => this.peek(key));
  }

  /**
   * Stores `value`; `exist: true` only over a live key (XX), `false` only when absent (NX).
   * Without `expireMs` the key has no TTL afterwards, also when it had one.
   */
  async set(key: string, value: unknown, expireMs: number | undefined, exist?: boolean, tags?: readonly string[]): Promise<boolean> {
    return this.#set(key, value, expireMs, exist, tags !== undefined && tags.length > 0 ? [...tags] : undefined);
  }

  /** Stores every entry with the same expiry. */
  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, expireMs: number | undefined): Promise<void> {
    for (const [key, value] of entries) this.#set(key, value, expireMs);
  }

  /**
   * Adds `by` to an integer counter (missing counts as 0) and resolves the new value. `expireMs`
   * applies only when this call creates the counter; an existing TTL is kept. The counter is a
   * safe-integer number, or with `serialize` a decimal string such as `"5"` (what Redis stores).
   * Rejects like Redis when the stored value or `by` is not an integer, or on overflow.
   */
  async incr(key: string, by: number, expireMs: number | undefined, tags?: readonly string[]): Promise<number> {
    const notInteger = (): never => {
      throw new Error("ERR value is not an integer or out of range");
    };
    if (!Number.isSafeInteger(by)) notInteger();
    const text = !this.storesValues;
    const entry = this.#live(key);
    const tagged = tags !== undefined && tags.length > 0;
    if (entry === undefined) {
      this.#insert(key, text ? String(by) : by, deadline(expireMs, Date.now())).tags = tagged ? [...new Set(tags)] : undefined;
      return by;
    }
    const stored = entry.value;
    // What Redis's `string2ll` accepts (no sign on zero, no leading zeros, no spaces).
    if (text ? typeof stored !== "string" || !/^(?:0|-?[1-9][0-9]*)$/.test(stored) : typeof stored !== "number") notInteger();
    const current = Number(stored);
    if (!Number.isSafeInteger(current)) notInteger();
    const next = current + by;
    if (!Number.isSafeInteger(next)) throw new Error("ERR increment or decrement would overflow");
    entry.value = text ? String(next) : next;
    if (tagged) entry.tags = [...new Set([...(entry.tags ?? []), ...tags])];
    this.#touch(entry);
    return next;
  }

  /** Removes a key; resolves whether a live one was there. */
  async delete(key: string): Promise<boolean> {
    return this.#delete(key);
  }

  /** Removes keys; resolves how many live ones were there. */
  async deleteMany(keys: readonly string[]): Promise<number> {
    return keys.filter((key) => this.#delete(key)).length;
  }

  /** Removes every live key matching a Redis glob pattern; resolves how many. */
  async deleteMatch(pattern: string): Promise<number> {
    const match = compileGlob(pattern);
    const now = Date.now();
    let count = 0;
    for (const entry of this.#map.values()) {
      const live = entry.expiresAt === 0 || entry.expiresAt > now;
      if (!live || match(entry.key)) {
        this.#remove(entry);
        if (live) count++;
      }
    }
    return count;
  }

  /**
   * Live keys matching a Redis glob pattern. The matching keys are collected in one pass when
   * iteration starts (`batchSize` does not matter in memory); a key removed or expired before it is
   * reached is skipped. Does not change recency.
   */
  async *scan(pattern: string, batchSize?: number): AsyncGenerator<string, void, undefined> {
    const match = compileGlob(pattern);
    const now = Date.now();
    const keys: string[] = [];
    for (const { key, expiresAt } of this.#map.values()) {
      if ((expiresAt === 0 || expiresAt > now) && match(key)) keys.push(key);
    }
    for (const key of keys) if (this.#live(key)) yield key;
  }

  /** Sets the TTL of a live key (`undefined`: removes it); false when the key is missing. */
  async expire(key: string, expireMs: number | undefined): Promise<boolean> {
    const entry = this.#live(key);
    if (entry) this.#setDeadline(entry, deadline(expireMs, Date.now()));
    return entry !== undefined;
  }

  /** Remaining ms (rounded up, so a live key never reports 0); -1 without expiry; -2 when missing or expired. */
  async getExpire(key: string): Promise<number> {
    const entry = this.#map.get(key);
    if (entry?.expiresAt === 0) return -1;
    const left = entry ? entry.expiresAt - Date.now() : 0;
    if (left > 0) return Math.ceil(left);
    if (entry) this.#remove(entry);
    return -2;
  }

  /** Whether a live key exists. Refreshes recency. */
  async exists(key: string): Promise<boolean> {
    return this.peek(key) !== MISSING;
  }

  /** `"PONG"`, or the message. */
  async ping(message?: string): Promise<string> {
    return message ?? "PONG";
  }

  /** Exact number of live keys (expired ones are purged first, O(log n) each). */
  async getKeysCount(): Promise<number> {
    this.purgeExpired();
    return this.#map.size;
  }

  /** Removes every key. */
  async clear(): Promise<void> {
    this.#map.clear();
    this.#heap = [];
    this.#head.prev = this.#head.next = this.#head;
  }

  /** Set-if-absent with a TTL. */
  async setLock(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.#set(key, value, ttlMs, false);
  }

  /** Deletes the key only if it holds `value` (the owner's token). */
  async unlock(key: string, value: string): Promise<boolean> {
    const entry = this.#live(key);
    if (entry === undefined || entry.value !== value) return false;
    this.#remove(entry);
    return true;
  }

  /**
   * Sliding-window log (see {@link Backend.slidingIncr}): forgets entries `windowMs` or more old,
   * records now only while fewer than `limit` remain (`limit < 0`: no limit), and sets the key's
   * TTL to `windowMs` when it records. Resolves `[count with this call, ms until the oldest entry leaves]`.
   */
  async slidingIncr(key: string, windowMs: number, limit: number): Promise<[count: number, resetMs: number]> {
    const now = Date.now();
    const window = Math.max(1, Math.ceil(windowMs));
    const entry = this.#live(key);
    if (entry !== undefined && !(entry.value instanceof SlidingLog)) {
      throw new Error("WRONGTYPE Operation against a key holding the wrong kind of value");
    }
    const log = (entry?.value as SlidingLog | undefined) ?? new SlidingLog();
    log.prune(now - window);
    const count = log.size;
    if (limit < 0 || count < limit) {
      log.add(now);
      if (entry === undefined) this.#insert(key, log, now + window);
      else {
        this.#setDeadline(entry, now + window);
        this.#touch(entry);
      }
    } else if (entry !== undefined && count === 0) {
      // Nothing left to keep (a limit of 0): like Redis, an emptied log is no key at all.
      this.#remove(entry);
    }
    const oldest = log.oldest();
    return [count + 1, oldest === undefined ? 0 : oldest + window - now];
  }

  /**
   * The limiter's atomic step (see {@link Backend.limit}): each rule's state is an entry under a key
   * derived from `key`, the ban another; all read and written in this one synchronous step.
   */
  async limit(key: string, request: LimitRequest): Promise<LimitAnswer> {
    const now = Date.now();
    const keys = request.rules.map((rule) => ruleKey(key, rule));
    const ban = `${key}:ban`;
    if (request.reset) for (const k of [...keys, ban]) this.#delete(k);
    const data = keys.map((k) => (this.#liveOf(k, LimitData)?.value as LimitData | undefined)?.data);
    const banEntry = this.#liveOf(ban, LimitData);
    const bannedMs = banEntry === undefined ? 0 : banEntry.expiresAt - now;
    const { answer, writes } = decide(request, { bannedMs, data }, now);
    if (writes !== undefined) {
      writes.rules.forEach((write, i) => {
        if (write === undefined) return;
        if (write.data === undefined || write.ttlMs <= 0) this.#delete(keys[i]!);
        else this.#set(keys[i]!, new LimitData(write.data), write.ttlMs);
      });
      if (writes.banMs !== undefined) this.#set(ban, new LimitData([]), writes.banMs);
    }
    return answer;
  }

  /**
   * Tag set (see {@link Backend.tagAdd}): adds `member` until `expireMs` (replacing its earlier
   * expiry), forgets expired members, extends the set's TTL, never shortens it.
   */
  async tagAdd(key: string, member: string, expireMs: number | undefined): Promise<void> {
    const now = Date.now();
    const entry = this.#live(key);
    if (entry !== undefined && !(entry.value instanceof TagSet)) {
      throw new Error("WRONGTYPE Operation against a key holding the wrong kind of value");
    }
    const at = deadline(expireMs, now);
    if (entry === undefined) {
      const set = new TagSet();
      set.members.set(member, at);
      this.#insert(key, set, at);
      return;
    }
    const set = entry.value as TagSet;
    set.prune(now);
    set.members.set(member, at);
    // 0 = no expiry: a persistent set stays so; a member without expiry makes it persistent.
    if (entry.expiresAt !== 0 && (at === 0 || at > entry.expiresAt)) this.#setDeadline(entry, at);
    this.#touch(entry);
  }

  /** Removes and returns up to `count` live members of the tag set at `key`; an emptied set is removed. */
  async tagPop(key: string, count: number): Promise<string[]> {
    const entry = this.#live(key);
    if (entry === undefined) return [];
    if (!(entry.value instanceof TagSet)) throw new Error("WRONGTYPE Operation against a key holding the wrong kind of value");
    const set = entry.value;
    set.prune(Date.now());
    const out: string[] = [];
    for (const member of set.members.keys()) {
      if (out.length >= count) break;
      out.push(member);
    }
    for (const member of out) set.members.delete(member);
    if (set.members.size === 0) this.#remove(entry);
    return out;
  }

  /** Deletes each of `keys` whose value carries `tag` (see {@link Backend.tagDelete}). */
  async tagDelete(tag: string, keys: readonly string[]): Promise<number> {
    let deleted = 0;
    for (const key of keys) {
      const entry = this.#live(key);
      if (entry?.tags?.includes(tag)) {
        this.#remove(entry);
        deleted++;
      }
    }
    return deleted;
  }

  // ---- set commands (see Backend.setAdd); a set is a TagSet, so tags and sets are one kind ----

  /** Adds members to the set at `key`; `expireMs`: the set's TTL becomes it. Resolves how many were new. */
  async setAdd(key: string, members: readonly string[], expireMs: number | undefined): Promise<number> {
    let entry = this.#setEntry(key);
    if (entry === undefined) entry = this.#insert(key, new TagSet(), 0);
    else this.#touch(entry);
    if (expireMs !== undefined) this.#setDeadline(entry, deadline(expireMs, Date.now()));
    const set = (entry.value as TagSet).members;
    const before = set.size;
    for (const member of members) if (!set.has(member)) set.set(member, 0);
    return set.size - before;
  }

  /** Removes members from the set at `key`; an emptied set is removed. Resolves how many were there. */
  async setRemove(key: string, members: readonly string[]): Promise<number> {
    const entry = this.#setEntry(key);
    const set = (entry?.value as TagSet | undefined)?.members;
    const removed = members.filter((member) => set?.delete(member)).length;
    if (set?.size === 0) this.#remove(entry!);
    return removed;
  }

  /** Removes and returns up to `count` members of the set at `key`. */
  setPop(key: string, count: number): Promise<string[]> {
    return this.tagPop(key, count);
  }

  /** Every member of the set at `key`; `[]` when missing. */
  async setMembers(key: string): Promise<string[]> {
    return [...((this.#setEntry(key)?.value as TagSet | undefined)?.members.keys() ?? [])];
  }

  /** The live entry of the set at `key`; rejects (WRONGTYPE) when it holds something else. */
  #setEntry(key: string): Entry | undefined {
    return this.#liveOf(key, TagSet);
  }

  /** The live entry at `key`, which must hold a `kind` (rejects WRONGTYPE otherwise); undefined when absent. */
  #liveOf(key: string, kind: abstract new (...args: never[]) => unknown): Entry | undefined {
    const entry = this.#live(key);
    if (entry !== undefined && !(entry.value instanceof kind)) throw new Error("WRONGTYPE Operation against a key holding the wrong kind of value");
    return entry;
  }

  // ---- internals ----

  /** The live entry of `key` (removing it when expired), without touching recency. */
  #live(key: string): Entry | undefined {
    const entry = this.#map.get(key);
    if (entry !== undefined && entry.expiresAt !== 0 && entry.expiresAt <= Date.now()) {
      this.#remove(entry);
      return undefined;
    }
    return entry;
  }

  #set(key: string, value: unknown, expireMs: number | undefined, exist?: boolean, tags?: readonly string[]): boolean {
    const entry = this.#live(key);
    if (exist !== undefined && exist !== (entry !== undefined)) return false;
    const at = deadline(expireMs, Date.now());
    if (entry === undefined) this.#insert(key, value, at).tags = tags;
    else {
      entry.value = value;
      entry.tags = tags;
      this.#setDeadline(entry, at);
      this.#touch(entry);
    }
    return true;
  }

  #delete(key: string): boolean {
    const entry = this.#live(key);
    if (entry) this.#remove(entry);
    return entry !== undefined;
  }

  #insert(key: string, value: unknown, at: number): Entry {
    const entry = new Entry(key, value, at);
    this.#map.set(key, entry);
    this.#link(entry);
    if (at !== 0) this.#heapPush(entry);
    // Make room: an expired entry if there is one, else the least recently used.
    while (this.#map.size > this.size) {
      const soonest = this.#heap[0];
      this.#remove(soonest !== undefined && soonest.expiresAt <= Date.now() ? soonest : this.#head.next);
    }
    return entry;
  }

  /** Links `entry` at the most recently used end. */
  #link(entry: Entry): void {
    entry.stamp = ++this.#clock;
    const head = this.#head;
    const last = head.prev;
    entry.prev = last;
    entry.next = head;
    last.next = entry;
    head.prev = entry;
  }

  #unlink(entry: Entry): void {
    entry.prev.next = entry.next;
    entry.next.prev = entry.prev;
  }

  #touch(entry: Entry): void {
    if (this.#head.prev === entry) {
      entry.stamp = ++this.#clock;
      return;
    }
    this.#unlink(entry);
    this.#link(entry);
  }

  #remove(entry: Entry): void {
    this.#map.delete(entry.key);
    this.#unlink(entry);
    entry.prev = entry.next = entry;
    if (entry.heapIndex !== -1) this.#heapRemove(entry);
  }

  #setDeadline(entry: Entry, at: number): void {
    const before = entry.expiresAt;
    entry.expiresAt = at;
    if (entry.heapIndex === -1) {
      if (at !== 0) this.#heapPush(entry);
    } else if (at === 0) this.#heapRemove(entry);
    else if (at < before) this.#siftUp(entry.heapIndex);
    else if (at > before) this.#siftDown(entry.heapIndex);
  }

  // ---- binary min-heap on expiresAt, each entry knowing its index ----

  #heapPush(entry: Entry): void {
    this.#siftUp(this.#heap.push(entry) - 1);
  }

  #heapRemove(entry: Entry): void {
    const heap = this.#heap;
    const index = entry.heapIndex;
    entry.heapIndex = -1;
    const last = heap.pop()!;
    if (last === entry) return;
    this.#place(last, index);
    if (index > 0 && last.expiresAt < heap[(index - 1) >> 1]!.expiresAt) this.#siftUp(index);
    else this.#siftDown(index);
  }

  #place(entry: Entry, index: number): void {
    this.#heap[index] = entry;
    entry.heapIndex = index;
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    const entry = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (parent.expiresAt <= entry.expiresAt) break;
      this.#place(parent, index);
      index = parentIndex;
    }
    this.#place(entry, index);
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    const length = heap.length;
    const entry = heap[index]!;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= length) break;
      if (child + 1 < length && heap[child + 1]!.expiresAt < heap[child]!.expiresAt) child++;
      const smaller = heap[child]!;
      if (smaller.expiresAt >= entry.expiresAt) break;
      this.#place(smaller, index);
      index = child;
    }
    this.#place(entry, index);
  }
}
