/**
 * The local copy of a remote store: entries by user key (stored text, and the value the cache
 * decoded from it), least recently used first out, and tickets of reads in flight. Shared by the
 * Redis `clientSide` option (kept coherent by Redis tracking) and the local tier of every remote
 * backend (`local`, see tier.ts: kept coherent by a bus, or bounded by its TTL). Everything here
 * is synchronous.
 *
 * - A read that misses locally takes a ticket before it is sent ({@link LocalCopy.begin}); an
 *   invalidation of its key, a write of this process to it, or a flush voids the ticket, and a
 *   void ticket fills nothing. This closes the race in which an invalidation (or a write) overtakes
 *   the reply of a read issued before it (the reply would hold the old value).
 * - Fills carry the key's remaining TTL (read with the value), so a local entry never outlives the
 *   remote key, and no entry lives longer than the copy's `ttl`.
 * - With `grace`, an entry past its `ttl` (but not past its key's own expiry) stays readable through
 *   {@link LocalCopy.stale} for `grace` ms more: served only when the remote store fails.
 *
 * Decoded values: the cache route hands back the value it decoded from an entry's stored text
 * ({@link LocalCopy.keep}); later hits return that same value without decoding (or verifying a
 * signature) again. Such values are shared between callers, as with `mem://`: treat them as
 * read-only.
 * @internal
 * @module
 */
import { LOCK_PREFIX, MISSING } from "../types.js";
import { hitNow } from "../clock.js";

/** Entries the local copy holds at most (least recently used ones go first). */
export const LOCAL_SIZE = 10_000;
/** Longest life (ms) of a Redis clientSide entry, also for keys without a TTL: a bound on any lost invalidation. */
export const LOCAL_MAX_TTL_MS = 300_000;

/** Value of an entry whose stored text has not been decoded yet. */
const UNDECODED: unique symbol = Symbol("cashews.undecoded");

interface Entry {
  readonly raw: string;
  value: unknown;
  /** `Date.now()` ms after which the entry is not used (the copy's ttl, or the key's expiry). */
  readonly expiresAt: number;
  /** `Date.now()` ms at which the remote key expires (Infinity: no expiry); bounds grace. */
  readonly keyExpiresAt: number;
  /** `#clock` when last moved to the back of the map (recency). */
  stamp: number;
}

/** A read in flight: it fills the local copy only if nothing voided it meanwhile. */
export interface Ticket {
  valid: boolean;
  refs: number;
}

/**
 * The local copy: entries by user key, tickets of reads in flight, and whether invalidations are
 * known to arrive (`armed`; always true for a copy bounded by its TTL alone).
 */
export class LocalCopy {
  /** True while invalidations are known to reach us: only then are entries used and filled. */
  armed = false;
  readonly #entries = new Map<string, Entry>();
  readonly #tickets = new Map<string, Ticket>();
  /** Counts moves to the back; an entry moved within the last quarter of the size is not moved again. */
  #clock = 0;
  readonly #size: number;
  readonly #window: number;
  readonly #ttl: number;
  readonly #grace: number;

  /**
   * @param size Entries held at most.
   * @param ttl Longest life (ms) of an entry.
   * @param grace How long (ms) past its ttl an entry may still be served by {@link stale}.
   */
  constructor(size = LOCAL_SIZE, ttl = LOCAL_MAX_TTL_MS, grace = 0) {
    this.#size = size;
    this.#window = Math.max(1, Math.floor(size / 4));
    this.#ttl = ttl;
    this.#grace = grace;
  }

  /** Number of entries (expired ones included until they are read or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    const now = hitNow();
    if (entry.expiresAt <= now) {
      // Past its grace too (or without grace): forget it.
      if (this.#grace === 0 || now >= Math.min(entry.expiresAt + this.#grace, entry.keyExpiresAt)) this.#entries.delete(key);
      return undefined;
    }
    if (this.#clock - entry.stamp >= this.#window) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      entry.stamp = ++this.#clock;
    }
    return entry;
  }

  /** The decoded value kept for `key`, or MISSING (also when it was never decoded). */
  peek(key: string): unknown {
    const entry = this.#live(key);
    if (entry === undefined) return MISSING;
    const value = entry.value;
    return value === UNDECODED ? MISSING : value;
  }

  /** The stored text kept for `key`, or undefined. */
  raw(key: string): string | undefined {
    return this.#live(key)?.raw;
  }

  /**
   * The stored text of an entry past its ttl by less than `grace` whose key has not expired
   * (exact clock), or undefined: what a failed remote read may serve instead of a miss.
   */
  stale(key: string): string | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || this.#grace === 0) return undefined;
    const now = Date.now();
    return now < entry.expiresAt + this.#grace && now < entry.keyExpiresAt ? entry.raw : undefined;
  }

  /**
   * A failed remote read of `key`: the stale text within grace (`onStale` told), else `error`
   * thrown. Shared by the local tier and Redis clientSide.
   */
  graced(key: string, error: unknown, onStale?: (key: string, error: unknown) => void): string {
    const stale = this.stale(key);
    if (stale === undefined) throw error;
    onStale?.(key, error);
    return stale;
  }

  /** Keeps `value`, decoded from `raw`, if the entry of `key` still holds that text. */
  keep(key: string, raw: unknown, value: unknown): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.raw === raw) entry.value = value;
  }

  /** A ticket for a read of `key` about to be sent, or undefined while not armed (nothing will fill). */
  begin(key: string): Ticket | undefined {
    // A lone surrogate reaches Redis as U+FFFD, so its invalidations would name another key:
    // such keys are never kept locally.
    if (!this.armed || !isWellFormed(key)) return undefined;
    let ticket = this.#tickets.get(key);
    if (ticket === undefined) {
      ticket = { valid: true, refs: 0 };
      this.#tickets.set(key, ticket);
    }
    ticket.refs++;
    return ticket;
  }

  /**
   * The read of `ticket` answered `raw` (a string, or MISSING) with `pttl` (ms, -1: no expiry):
   * fills the entry if the ticket is still valid.
   */
  finish(key: string, ticket: Ticket, raw: unknown, pttl: number): void {
    this.abandon(key, ticket);
    if (!ticket.valid) return;
    this.#fill(key, raw, pttl);
  }

  /**
   * This process wrote `raw` to `key` with `pttl` (ms, -1: no expiry) and nothing else is in
   * flight for it: keeps it, so that this process reads its own write without I/O.
   */
  put(key: string, raw: unknown, pttl: number): void {
    if (this.#tickets.has(key) || !isWellFormed(key)) return;
    this.#fill(key, raw, pttl);
  }

  #fill(key: string, raw: unknown, pttl: number): void {
    if (!this.armed) return;
    // A lock is not a value: it is always asked of the store (a copy would hide its release).
    if (typeof raw !== "string" || !(pttl > 0 || pttl === -1) || raw.startsWith(LOCK_PREFIX)) return;
    const now = Date.now();
    const ttl = pttl === -1 ? this.#ttl : Math.min(pttl, this.#ttl);
    const keyExpiresAt = pttl === -1 ? Infinity : now + pttl;
    this.#entries.delete(key);
    this.#entries.set(key, { raw, value: UNDECODED, expiresAt: now + ttl, keyExpiresAt, stamp: ++this.#clock });
    if (this.#entries.size > this.#size) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  /** The read of `ticket` ended without a fill (it failed): releases the ticket. */
  abandon(key: string, ticket: Ticket): void {
    if (--ticket.refs === 0 && this.#tickets.get(key) === ticket) this.#tickets.delete(key);
  }

  /** `key` changed (an invalidation, or a write of this process): drops its entry, voids its reads. */
  invalidate(key: string): void {
    this.#entries.delete(key);
    const ticket = this.#tickets.get(key);
    if (ticket !== undefined) {
      ticket.valid = false;
      this.#tickets.delete(key);
    }
  }

  /**
   * Drops every entry and voids every read in flight (the epoch guard: every ticket outstanding
   * is in the ticket map until it is released, so voiding them all is the new epoch).
   */
  flush(): void {
    this.#entries.clear();
    for (const ticket of this.#tickets.values()) ticket.valid = false;
    this.#tickets.clear();
  }

  /**
   * Like {@link flush} for normal reads (no entry is served any more, reads in flight fill
   * nothing), but with `grace` the entries stay for {@link stale}: served only if the remote
   * store fails, within grace of now. What the bus may have missed is never served otherwise.
   */
  expireAll(): void {
    if (this.#grace === 0) return this.flush();
    const now = Date.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt > now) this.#entries.set(key, { ...entry, expiresAt: now });
    for (const ticket of this.#tickets.values()) ticket.valid = false;
    this.#tickets.clear();
  }
}

/** Whether `text` has no lone surrogate (`String.prototype.isWellFormed`, with a fallback). */
function isWellFormed(text: string): boolean {
  const native = (text as { isWellFormed?: () => boolean }).isWellFormed;
  if (native !== undefined) return native.call(text);
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}
