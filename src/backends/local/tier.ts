/**
 * The local tier (`local: { size, ttl, grace }` on a remote backend): a bounded in-isolate copy
 * of what this instance read or wrote, in front of the remote store, served without I/O.
 *
 * - Reads: a local entry answers at once (`peek` gives the value the cache decoded from it, with no
 *   promise and no second decode or signature check; `get` gives its stored text). A miss reads the
 *   value and its remaining TTL together (`getWithExpiry` where the store has it, else `get` and
 *   `getExpire` in parallel) under a ticket, and fills: the entry never outlives the key, nor `ttl`.
 *   `getMany` reads what is not local in one round trip (`getManyWithExpiry`) and fills the same way.
 * - Writes and deletes go to the remote store first; then the local entry is replaced (a write this
 *   instance made is seen by it at once) or dropped, and the change is published on the bus.
 *   `deleteMatch`, `clear` flush everything (and publish "all"). Counters, sliding logs, locks and
 *   tag sets always go to the remote store (and drop that key locally).
 * - Coherence: with a bus, the copy is used only while the bus is connected, and what others
 *   publish is dropped; without one, `ttl` is the staleness bound for what other instances write.
 * - Grace: when a remote read fails (an error or a timeout) and an entry expired by the copy's
 *   `ttl` less than `grace` ago (its key's own expiry not passed) exists, its text is served
 *   instead of a miss, and `onStale(key)` is told.
 * @internal
 * @module
 */
import { capabilityError } from "../capabilities.js";
import { LOCK_PREFIX, type Backend, type TagPopped, type LimitAnswer, type LimitRequest } from "../types.js";
import type { Bus, Invalidation } from "./bus.js";
import { LocalCopy } from "./copy.js";

/** Defaults of the `local` option. */
export const LOCAL_DEFAULTS = { size: 10_000, ttl: 5_000, grace: 0 } as const;

/** Settings of a local tier (already validated). */
export interface LocalTierOptions {
  /** Entries held at most (least recently used go first). */
  size: number;
  /** Longest life (ms) of a local entry: the staleness bound without a bus. */
  ttl: number;
  /** How long (ms) past `ttl` an entry may be served when the remote store fails; 0: never. */
  grace?: number;
  /** Told when a stale entry was served (grace). */
  onStale?: (key: string, error: unknown) => void;
}

/** A backend that can read a value and its remaining TTL (ms, -1: none, -2: missing) in one step. */
export interface ExpiryReader {
  getWithExpiry(key: string): Promise<[raw: unknown, pttl: number]>;
  /** The same for many keys in one round trip, in input order. */
  getManyWithExpiry?(keys: readonly string[]): Promise<Array<[raw: unknown, pttl: number]>>;
}

/** A backend with a local tier in front (see the module comment). */
export class LocalTier implements Backend {
  readonly kind: string;
  readonly storesValues: boolean;
  readonly peekDecoded = true;
  readonly local: LocalCopy;
  readonly remote: Backend;
  readonly #bus: Bus | undefined;
  readonly #onStale: ((key: string, error: unknown) => void) | undefined;
  #busStarted = false;
  /** Per key, the sequence number of this instance's latest change in flight. */
  readonly #last = new Map<string, number>();
  #seq = 0;

  constructor(remote: Backend, options: LocalTierOptions, bus?: Bus) {
    this.remote = remote;
    this.kind = remote.kind;
    this.storesValues = remote.storesValues;
    this.local = new LocalCopy(options.size, options.ttl, options.grace ?? 0);
    // Without a bus the copy is bounded by its TTL alone: always in use.
    this.local.armed = bus === undefined;
    this.#bus = bus;
    this.#onStale = options.onStale;
  }

  get capabilities(): Backend["capabilities"] {
    return this.remote.capabilities;
  }

  async init(): Promise<void> {
    // The bus starts even when the store's first answer fails (a cold start, a blip): the tier
    // must not stay off for the route's life. The store's failure is still init's.
    try {
      await this.remote.init();
    } finally {
      await this.#startBus();
    }
  }

  async #startBus(): Promise<void> {
    const bus = this.#bus;
    if (bus === undefined || this.#busStarted) return;
    this.#busStarted = true;
    const local = this.local;
    const last = this.#last;
    await bus.start({
      invalidate(message: Invalidation): void {
        // An own write in flight must not put its value back after someone else's change.
        if ("all" in message) {
          local.flush();
          last.clear();
        } else {
          for (const key of message.keys) {
            local.invalidate(key);
            last.delete(key);
          }
        }
      },
      connected(up: boolean): void {
        // Nothing from before is served normally (invalidations may have been missed); with
        // grace it may still be served while the remote store fails.
        local.expireAll();
        last.clear();
        local.armed = up;
      },
    });
  }

  async close(): Promise<void> {
    this.local.flush();
    if (this.#bus !== undefined) {
      this.local.armed = false;
      if (this.#busStarted) {
        this.#busStarted = false;
        await this.#bus.close();
      }
    }
    await this.remote.close();
  }

  // ------------------------------------------------------------------ reads

  peek(key: string): unknown {
    return this.local.peek(key);
  }

  keep(key: string, raw: unknown, value: unknown): void {
    this.local.keep(key, raw, value);
  }

  get(key: string): Promise<unknown> {
    const raw = this.local.raw(key);
    if (raw !== undefined) return Promise.resolve(raw);
    return this.#fetch(key);
  }

  /** A failed remote read: the copy within grace (reported as stale), else the failure. */
  #graced(key: string, error: unknown): unknown {
    return this.local.graced(key, error, this.#onStale);
  }

  async #fetch(key: string): Promise<unknown> {
    const local = this.local;
    const ticket = local.begin(key);
    // Not armed (the bus is down): nothing is filled, but a failed read may still use grace.
    if (ticket === undefined) return this.remote.get(key).catch((error: unknown) => this.#graced(key, error));
    let raw: unknown;
    let pttl: number;
    const sent = Date.now();
    try {
      [raw, pttl] = await this.#readWithExpiry(key);
    } catch (error) {
      local.abandon(key, ticket);
      return this.#graced(key, error);
    }
    // The remaining TTL was measured by the store when it ran the read: count it from when the
    // read was sent, so the copy never outlives the key by the reply's travel time.
    local.finish(key, ticket, raw, pttl > 0 ? Math.max(1, pttl - (Date.now() - sent)) : pttl);
    return raw;
  }

  #readWithExpiry(key: string): Promise<[unknown, number]> {
    const remote = this.remote as Backend & Partial<ExpiryReader>;
    if (typeof remote.getWithExpiry === "function") return remote.getWithExpiry(key);
    return Promise.all([remote.get(key), remote.getExpire(key)]);
  }

  async getMany(keys: readonly string[]): Promise<unknown[]> {
    const out: unknown[] = new Array(keys.length);
    const missing: number[] = [];
    keys.forEach((key, i) => {
      const raw = this.local.raw(key);
      if (raw === undefined) missing.push(i);
      else out[i] = raw;
    });
    if (missing.length === 0) return out;
    // One round trip for what is not local, read with its expiry under tickets, and kept like `get`.
    const local = this.local;
    const wanted = missing.map((i) => keys[i]!);
    const tickets = wanted.map((key) => local.begin(key));
    const sent = Date.now();
    let replies: Array<[unknown, number]>;
    try {
      replies = await this.#readManyWithExpiry(wanted);
    } catch (error) {
      wanted.forEach((key, n) => tickets[n] !== undefined && local.abandon(key, tickets[n]));
      // Grace: served from the copy only if every missing key has a stale copy; else the failure.
      if (wanted.some((key) => local.stale(key) === undefined)) throw error;
      wanted.forEach((key, n) => (out[missing[n]!] = this.#graced(key, error)));
      return out;
    }
    const elapsed = Date.now() - sent;
    replies.forEach(([raw, pttl], n) => {
      const ticket = tickets[n];
      if (ticket !== undefined) local.finish(wanted[n]!, ticket, raw, pttl > 0 ? Math.max(1, pttl - elapsed) : pttl);
      out[missing[n]!] = raw;
    });
    return out;
  }

  #readManyWithExpiry(keys: readonly string[]): Promise<Array<[unknown, number]>> {
    const remote = this.remote as Backend & Partial<ExpiryReader>;
    if (typeof remote.getManyWithExpiry === "function") return remote.getManyWithExpiry(keys);
    return Promise.all(keys.map((key) => this.#readWithExpiry(key)));
  }

  exists(key: string): Promise<boolean> {
    // A lock's text is never answered locally (isLocked must ask the store: locks are remote).
    const raw = this.local.raw(key);
    if (raw !== undefined && !raw.startsWith(LOCK_PREFIX)) return Promise.resolve(true);
    return this.remote.exists(key);
  }

  getExpire(key: string): Promise<number> {
    return this.remote.getExpire(key);
  }

  scan(pattern: string, batchSize: number): AsyncIterable<string> {
    return this.remote.scan(pattern, batchSize);
  }

  ping(message?: string): Promise<string> {
    return this.remote.ping(message);
  }

  getKeysCount(): Promise<number> {
    return this.remote.getKeysCount();
  }

  // ----------------------------------------------------------------- writes

  /**
   * Drops `keys` locally (voiding reads in flight) before and after `command`, then publishes them.
   * `fill(result, key, elapsed)`: keeps what this write stored, for each key no later change of
   * this instance overtook (a later write, issued while this one was in flight, wins locally).
   */
  async #change<T>(keys: readonly string[], command: () => Promise<T>, publish = true, fill?: (result: T, key: string, elapsed: number) => void): Promise<T> {
    const local = this.local;
    const last = this.#last;
    const seq = ++this.#seq;
    for (const key of keys) {
      local.invalidate(key);
      last.set(key, seq);
    }
    const started = Date.now();
    let result: T | undefined;
    let ok = false;
    try {
      result = await command();
      ok = true;
      return result;
    } finally {
      // Also after a failure: the write may have reached the store.
      const elapsed = Date.now() - started;
      for (const key of keys) {
        local.invalidate(key);
        if (last.get(key) !== seq) continue;
        last.delete(key);
        if (ok && fill !== undefined) fill(result as T, key, elapsed);
      }
      if (publish && keys.length > 0) this.#bus?.publish({ keys });
    }
  }

  async #flushing<T>(command: () => Promise<T>): Promise<T> {
    this.local.flush();
    this.#last.clear();
    try {
      return await command();
    } finally {
      this.local.flush();
      this.#last.clear();
      this.#bus?.publish({ all: true });
    }
  }

  set(key: string, value: unknown, expireMs: number | undefined, exist?: boolean, tags?: readonly string[]): Promise<boolean> {
    return this.#change(
      [key],
      () => this.remote.set(key, value, expireMs, exist, tags),
      true,
      (written, _, elapsed) => written && this.#put(key, value, expireMs, elapsed),
    );
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, expireMs: number | undefined): Promise<void> {
    const values = new Map(entries);
    await this.#change(
      entries.map(([key]) => key),
      () => this.remote.setMany(entries, expireMs),
      true,
      (_, key, elapsed) => this.#put(key, values.get(key), expireMs, elapsed),
    );
  }

  /** Keeps a value this instance wrote, expiring no later than its key (the write took `elapsed` ms). */
  #put(key: string, value: unknown, expireMs: number | undefined, elapsed: number): void {
    if (expireMs === undefined) this.local.put(key, value, -1);
    else if (expireMs - elapsed > 0) this.local.put(key, value, expireMs - elapsed);
  }

  delete(key: string): Promise<boolean> {
    return this.#change([key], () => this.remote.delete(key));
  }

  deleteMany(keys: readonly string[]): Promise<number> {
    return this.#change(keys, () => this.remote.deleteMany(keys));
  }

  deleteMatch(pattern: string): Promise<number> {
    return this.#flushing(() => this.remote.deleteMatch(pattern));
  }

  clear(): Promise<void> {
    return this.#flushing(() => this.remote.clear());
  }

  expire(key: string, expireMs: number | undefined): Promise<boolean> {
    return this.#change([key], () => this.remote.expire(key, expireMs));
  }

  incr(key: string, by: number, expireMs: number | undefined, tags?: readonly string[]): Promise<number> {
    return this.#change([key], () => this.remote.incr(key, by, expireMs, tags));
  }

  // Locks, sliding logs and tag sets are never read as values: dropped locally (locks are published too, though a lock text is never kept in a copy).

  setLock(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.#change([key], () => this.remote.setLock(key, value, ttlMs));
  }

  unlock(key: string, value: string): Promise<boolean> {
    return this.#change([key], () => this.remote.unlock(key, value));
  }

  /** The limiter's state is never a value: straight to the remote store. */
  limit(key: string, request: LimitRequest): Promise<LimitAnswer> {
    return this.remote.limit(key, request);
  }

  slidingIncr(key: string, windowMs: number, limit: number): Promise<[count: number, resetMs: number]> {
    return this.#change([key], () => this.remote.slidingIncr(key, windowMs, limit), false);
  }

  tagAdd(key: string, member: string, expireMs: number | undefined): Promise<void> {
    return this.#change([key], () => this.remote.tagAdd(key, member, expireMs), false);
  }

  tagPop(key: string, count: number): Promise<string[] | TagPopped> {
    return this.#change([key], () => this.remote.tagPop(key, count), false);
  }

  /** Deletes the members that carry `tag` on the store; drops them locally and publishes them. */
  tagDelete(tag: string, keys: readonly string[]): Promise<number> {
    return this.#change(keys, () => this.remote.tagDelete(tag, keys));
  }

  // Set commands: sets are not values, so they always go to the remote store (dropped locally).

  setAdd(key: string, members: readonly string[], expireMs: number | undefined): Promise<number> {
    return this.#change([key], () => this.#sets("setAdd").setAdd!(key, members, expireMs), false);
  }

  setRemove(key: string, members: readonly string[]): Promise<number> {
    return this.#change([key], () => this.#sets("setRemove").setRemove!(key, members), false);
  }

  setPop(key: string, count: number): Promise<string[]> {
    return this.#change([key], () => this.#sets("setPop").setPop!(key, count), false);
  }

  setMembers(key: string): Promise<string[]> {
    return this.#change([key], () => this.#sets("setMembers").setMembers!(key), false);
  }

  /** The remote store, which must have the set command `command`. */
  #sets(command: "setAdd" | "setRemove" | "setPop" | "setMembers"): Backend {
    if (typeof this.remote[command] !== "function") throw capabilityError(this.remote.kind, "atomic", command, "it has no set commands");
    return this.remote;
  }
}

/**
 * Puts a local tier in front of `remote` (see the module comment): reads served from a bounded
 * local copy, kept coherent by `bus` when given, else bounded by `options.ttl`.
 * @example
 * const backend = withLocalTier(createUpstashBackend(config), { size: 10_000, ttl: 5_000 });
 */
export function withLocalTier(remote: Backend, options: LocalTierOptions, bus?: Bus): LocalTier {
  return new LocalTier(remote, options, bus);
}

