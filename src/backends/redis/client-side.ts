/**
 * Client-side caching for the Redis backend (`redis://…?clientSide=1`): a local copy of what this
 * process read, kept coherent by Redis server-assisted client-side caching.
 *
 * How it stays coherent:
 * - One extra connection (RESP2: ioredis 6 drops RESP3 invalidation pushes) asks for its own
 *   `CLIENT ID`, turns on `CLIENT TRACKING ON REDIRECT <that id> BCAST PREFIX <namespace>:` and
 *   subscribes to `__redis__:invalidate`: every write to a key of our namespace, by any client
 *   (expiries and evictions included), is announced there; `FLUSHDB`/`FLUSHALL` announce "all".
 *   BCAST needs no per-read state on the server and no tracking on the data connection.
 * - The local copy is used only while that stream is armed. Arming (again after every reconnect)
 *   and losing it (the connection closes, or a keep-alive PING goes unanswered) flush everything;
 *   so does losing the data connection. While not armed, reads go to Redis and fill nothing.
 * - A read that misses locally takes a ticket before it is sent; an invalidation of its key, a
 *   write of this process to it, or a flush voids the ticket, and a void ticket fills nothing.
 *   This closes the race in which an invalidation overtakes the reply of a read issued before the
 *   write (the reply would hold the old value).
 * - Fills carry the key's remaining TTL (read with the value, in one script), so a local entry
 *   never outlives the Redis key, and no entry lives longer than `LOCAL_MAX_TTL_MS` (local/copy.ts).
 *
 * Decoded values: the cache route hands back the value it decoded from an entry's stored text
 * ({@link LocalCopy.keep}); later hits return that same value without decoding (or verifying a
 * signature) again. Such values are shared between callers, as with `mem://`: treat them as
 * read-only.
 * @module
 */
import type { Redis, RedisOptions } from "ioredis";
import type { LocalCopy } from "../local/copy.js";
import { withDeadline } from "../deadlines.js";

// The local copy moved to ../local/copy.ts (shared with the local tier of every remote backend).
export { LocalCopy, LOCAL_SIZE, LOCAL_MAX_TTL_MS, type Ticket } from "../local/copy.js";

/** How often (ms) the invalidation connection is checked with a PING while armed. */
export const KEEPALIVE_MS = 1_000;
/** Least time (ms) a keep-alive PING may take before the invalidation connection is given up. */
export const KEEPALIVE_TIMEOUT_MS = 2_000;
/** The channel Redis announces invalidations on (RESP2 redirect mode). */
export const INVALIDATE_CHANNEL = "__redis__:invalidate";

/** Options of {@link Tracker}. */
export interface TrackerOptions {
  /** The data connection's options (host, port, credentials, TLS, timeouts, retry strategy). */
  redisOptions: RedisOptions;
  /** Stored keys start with this (`""`: every key is announced). */
  prefix: string;
  /** Stored key (with the namespace) → user key, or undefined for a key outside the namespace. */
  userKey: (stored: string) => string | undefined;
  /** Bound (ms) on each arming command and keep-alive PING. */
  timeout: number;
  onError: (error: Error) => void;
  /** The server refused tracking for good (why): the tracker has stopped, the local copy stays unused. */
  onOff: (why: string) => void;
}

/**
 * The invalidation connection: arms tracking on every (re)connect, applies invalidations to the
 * local copy, and disarms (flushing it) whenever it cannot be sure they still arrive.
 */
export class Tracker {
  readonly #local: LocalCopy;
  readonly #options: TrackerOptions;
  #connection: Redis | undefined;
  /** Identifies the current arming attempt: a stale one (the connection dropped meanwhile) does nothing. */
  #attempt = 0;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #pinging = false;
  /** Settled when tracking is armed for the first time (or the tracker stops). */
  #armed: Promise<void>;
  #resolveArmed!: () => void;

  constructor(local: LocalCopy, options: TrackerOptions) {
    this.#local = local;
    this.#options = options;
    this.#armed = new Promise((resolve) => (this.#resolveArmed = resolve));
  }

  /** Resolves once tracking is armed (or the tracker stopped). */
  get armed(): Promise<void> {
    return this.#armed;
  }

  /** Opens the invalidation connection (once); `Redis` is the ioredis class. */
  start(RedisClass: new (options: RedisOptions) => Redis): void {
    if (this.#connection !== undefined) return;
    const connection = new RedisClass({
      ...this.#options.redisOptions,
      // RESP2: ioredis 6 drops RESP3 `invalidate` pushes. No automatic resubscription: it would
      // enter subscriber mode before CLIENT ID could be asked (see reference/protocols.md §5.2).
      protocol: 2,
      autoResubscribe: false,
      lazyConnect: true,
    } as RedisOptions);
    this.#connection = connection;
    connection.on("ready", () => void this.#arm(connection));
    connection.on("close", () => this.#disarm());
    connection.on("end", () => this.#disarm());
    connection.on("error", (error: Error) => this.#options.onError(error));
    connection.on("messageBuffer", (channel: Uint8Array, keys: Uint8Array[] | null) => this.#message(channel, keys));
    connection.connect().catch(() => {
      // reported through "error"; ioredis keeps reconnecting
    });
  }

  /** Drops the invalidation connection and opens it again (it re-arms, flushing the local copy). */
  reconnect(): void {
    const connection = this.#connection;
    if (connection === undefined) return;
    this.#disarm();
    connection.disconnect(true);
  }

  /** Closes the invalidation connection; the local copy is flushed and stays unused. */
  stop(): void {
    this.#attempt++;
    this.#disarm();
    const connection = this.#connection;
    this.#connection = undefined;
    this.#resolveArmed();
    if (connection === undefined) return;
    connection.removeAllListeners();
    connection.on("error", () => {});
    connection.disconnect();
  }

  async #arm(connection: Redis): Promise<void> {
    const attempt = ++this.#attempt;
    this.#disarm();
    const { prefix, timeout } = this.#options;
    try {
      const id = await bounded(connection.client("ID"), timeout);
      const args: (string | number)[] = ["TRACKING", "ON", "REDIRECT", Number(id), "BCAST"];
      if (prefix !== "") args.push("PREFIX", prefix);
      await bounded(connection.call("CLIENT", ...args), timeout);
      await bounded(connection.subscribe(INVALIDATE_CHANNEL), timeout);
    } catch (error) {
      if (attempt !== this.#attempt) return;
      const message = (error as Error)?.message ?? String(error);
      if (/^(?:NOPERM|ERR unknown (?:sub)?command|ERR syntax)/i.test(message)) {
        // The server cannot track (Redis < 6, or an ACL forbids CLIENT/SUBSCRIBE): say so once and
        // stop trying; every read goes to Redis, as without clientSide.
        const why = `the server refused client tracking (${message}); reads go to Redis`;
        this.#options.onOff(why);
        this.#options.onError(new Error(`redis clientSide is off: ${why}`, { cause: error }));
        this.stop();
        return;
      }
      this.#options.onError(new Error(`redis clientSide: could not turn on invalidations: ${message}`, { cause: error }));
      connection.disconnect(true); // reconnect and try again
      return;
    }
    if (attempt !== this.#attempt || connection !== this.#connection || connection.status !== "ready") return;
    this.#local.expireAll(); // what was read before is not trusted (with grace: kept for a failing Redis)
    this.#local.armed = true;
    this.#startKeepAlive(connection);
    this.#resolveArmed();
  }

  #disarm(): void {
    this.#stopKeepAlive();
    this.#local.armed = false;
    this.#local.expireAll();
  }

  #message(channel: Uint8Array, keys: Uint8Array[] | null): void {
    if (!sameText(channel, INVALIDATE_CHANNEL)) return;
    const local = this.#local;
    if (keys === null || !Array.isArray(keys)) {
      local.flush(); // FLUSHDB / FLUSHALL: everything may have changed
      return;
    }
    const decoder = textDecoder();
    for (const stored of keys) {
      const key = this.#options.userKey(typeof stored === "string" ? stored : decoder.decode(stored));
      if (key !== undefined) local.invalidate(key);
    }
  }

  /** PINGs the armed connection; one that does not answer within the timeout is dropped (and the copy flushed). */
  #startKeepAlive(connection: Redis): void {
    this.#stopKeepAlive();
    const timer = setInterval(() => {
      if (this.#pinging || connection.status !== "ready") return;
      this.#pinging = true;
      // Generous: a process that stalls its own event loop (a long JSON.parse, a GC pause) must not
      // take that for a dead connection. A dropped connection is noticed at once ("close").
      bounded(connection.ping(), Math.max(2 * this.#options.timeout, KEEPALIVE_TIMEOUT_MS))
        .catch((error: unknown) => {
          if (connection !== this.#connection) return;
          this.#options.onError(new Error(`redis clientSide: the invalidation connection did not answer a PING: ${(error as Error)?.message ?? String(error)}`));
          this.#disarm();
          connection.disconnect(true);
        })
        .finally(() => (this.#pinging = false));
    }, KEEPALIVE_MS);
    (timer as { unref?: () => void }).unref?.();
    this.#keepAlive = timer;
  }

  #stopKeepAlive(): void {
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }
}

let decoderInstance: TextDecoder | undefined;
const textDecoder = (): TextDecoder => (decoderInstance ??= new TextDecoder());

function sameText(bytes: Uint8Array | string, text: string): boolean {
  if (typeof bytes === "string") return bytes === text;
  if (bytes.length !== text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return true;
}

/** `promise`, or a rejection once `ms` have passed. */
function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  return withDeadline(promise, ms, () => new Error(`no answer within ${ms} ms`));
}
