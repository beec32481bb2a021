/**
 * The Deno KV backend: `Deno.openKv` on Deno and Deno Deploy, the `@deno/kv` package (loaded at
 * first use) on Node and Bun. Values are opaque strings (the codec above encodes them).
 *
 * Layout, under the namespace (option `namespace`, default `"cashews"`), every value one string
 * (see `encodeRecord`: any V8 serialiser writes it, so Deno, Node and Bun share a database):
 * - `[namespace, key]` → `"v<e>:<text>"`: a value (counters too, as decimal text, like Redis),
 *   `<e>` its expiry (epoch ms, empty for none). The entry is also written with `expireIn`, so KV
 *   removes it eventually; as KV removes expired entries late, every read treats an entry past
 *   its expiry as missing.
 * - `[namespace, key]` → `"s<e>:<t0>,<gap>,…"`: a sliding-window log (`slidingIncr`), the recorded
 *   times in ascending order (the first in ms, then the gaps in base 36). One entry, so a window
 *   holds at most {@link MAX_SLIDING_CALLS} calls (within the 64 KiB value limit): a higher limit is
 *   a CacheConfigError at the call, and an unlimited log (circuitBreaker) that is full a backend error.
 * - `[namespace, key]` → `"t<e>:<generation>"`: the head of a tag set, its generation a random id
 *   given when the set is created, and one entry per member at
 *   `[namespace, "\u0000tag", key, generation, member]` (value `"m<e>"`, the member's own expiry,
 *   empty for none; `""` from an earlier version: a member whose key carries no record of its
 *   tags), so a set of any size stays within the 64 KiB value limit. A member is written with its
 *   own expiry, so it leaves the set with its key (`tagPop` skips it once expired, KV removes it);
 *   members of an earlier generation (a set that expired and was created again) are never read.
 *   Every `tagAdd` and `tagPop` rewrites the head, so the head's versionstamp orders all changes
 *   to one set.
 * - `[namespace, key + ":f<period>"]` (`:s`, `:t`: see `ruleKey`) → `"l<e>:<data>"`: the state of a
 *   limiter rule (`limit`), `<e>` when it expires; fixed `<count>,<end>`, tokenBucket
 *   `<level>,<at>` (decimal), sliding the entries (the first time in ms, then the gaps to the
 *   next ones in base 36, each followed by `*<cost>` in base 36 when the cost is not 1), at most
 *   {@link MAX_SLIDING_CALLS} of them; `[namespace, key + ":ban"]` → `"l<e>:"`: a ban until `<e>`.
 * - A value written with tags carries them in a header in front of its text (`backends/tagged`),
 *   which `tagDelete` checks in the same atomic operation that deletes it.
 *
 * Every read-modify-write (`set` with `exist`, `incr`, `setLock`, `unlock`, `expire`, `delete`,
 * `slidingIncr`, `tagAdd`, `tagPop`) is one atomic operation that checks the versionstamp read,
 * retried on conflict: exact across every client of the database (processes, isolates, regions).
 * Reads use strong consistency.
 * @module
 */
import type { BackendModule } from "../../config/registry.js";
import { withLocalTier } from "../local/tier.js";
import { createBroadcastBus, hasBroadcastChannel } from "../local/broadcast.js";
import { importPeer } from "../../config/load.js";
import { CacheBackendError, CacheConfigError, messageOf } from "../../errors.js";
import { withDeadline } from "../deadlines.js";
import { compileGlob } from "../glob.js";
import { durationsInMs, optionalMs, toPx, toText } from "../remote.js";
import { MISSING, type Backend, type BackendConfig, type TagPopped, type LimitAnswer, type LimitRequest } from "../types.js";
import { addTags, carries, untagged, withTags } from "../tagged.js";
import { denoRuntime, resolveDenoKvTarget } from "./target.js";
import { decide, ruleKey, type RuleData } from "../limits.js";

// ------------------------------------------------------------------ the KV API used

/** The most calls one sliding-window log keeps (one KV value of at most 64 KiB, ~3 bytes a call). */
export const MAX_SLIDING_CALLS = 10_000;

/** A Deno KV key as this backend writes it (strings only). */
export type DenoKvKey = readonly unknown[];

/** An entry as `get`/`getMany`/`list` return it (`versionstamp: null`: absent). */
export interface DenoKvEntryMaybe {
  key: DenoKvKey;
  value: unknown;
  versionstamp: string | null;
}

/** The part of `Deno.AtomicOperation` (and @deno/kv's) used here. */
export interface DenoKvAtomic {
  check(...checks: { key: DenoKvKey; versionstamp: string | null }[]): DenoKvAtomic;
  set(key: DenoKvKey, value: unknown, options?: { expireIn?: number }): DenoKvAtomic;
  delete(key: DenoKvKey): DenoKvAtomic;
  commit(): Promise<{ ok: boolean }>;
}

/**
 * The part of `Deno.Kv` (and of @deno/kv's `Kv`) this backend uses: pass either as option `kv`.
 * @example
 * const kv: DenoKvHandle = await Deno.openKv();
 * cache.setup("deno-kv://", { kv });
 */
export interface DenoKvHandle {
  get(key: DenoKvKey, options?: { consistency?: "strong" | "eventual" }): Promise<DenoKvEntryMaybe>;
  getMany(keys: DenoKvKey[], options?: { consistency?: "strong" | "eventual" }): Promise<DenoKvEntryMaybe[]>;
  set(key: DenoKvKey, value: unknown, options?: { expireIn?: number }): Promise<unknown>;
  delete(key: DenoKvKey): Promise<void>;
  list(selector: { prefix: DenoKvKey }, options?: { limit?: number; batchSize?: number; consistency?: "strong" | "eventual" }): AsyncIterable<DenoKvEntryMaybe>;
  atomic(): DenoKvAtomic;
  close(): void;
}

// ------------------------------------------------------------------ constants

/**
 * The largest value Deno KV stores (bytes, serialised): larger values are refused with a
 * {@link CacheBackendError} that says so.
 * @example
 * if (encoded.length > DENO_KV_MAX_VALUE_BYTES) console.warn("too large for deno-kv://");
 */
export const DENO_KV_MAX_VALUE_BYTES = 65_536;
/** Bytes a value record takes beyond its text, at most: kind, expiry, `:` and V8's string header. */
const RECORD_OVERHEAD = 24;
/** `getMany` reads at most this many keys per call. */
const GET_MANY_CHUNK = 10;
/** Mutations per atomic operation in bulk deletes and `setMany` (KV allows 1000). */
const BULK_MUTATIONS = 200;
/** Approximate bytes of keys and values per bulk atomic operation (KV allows 80 KiB of keys, 800 KiB in all). */
const BULK_BYTES = 60_000;
/** Members popped per atomic operation by `tagPop`. */
const POP_BATCH = 200;
/** Attempts of a read-modify-write before it gives up (only under extreme contention). */
const MAX_ATTEMPTS = 2000;
/** The second key part under which tag members live. */
const TAG_PART = "\u0000tag";

const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER = "ERR value is not an integer or out of range";

// ------------------------------------------------------------------ records

/** A value: the codec's string and its expiry (epoch ms). */
interface ValueRecord {
  v: string;
  e?: number;
}
/** A sliding-window log: recorded times ascending. */
interface LogRecord {
  s: number[];
  e?: number;
}
/** The head of a tag set: its generation. */
interface TagRecord {
  t: string;
  e?: number;
}
/** The state of a limiter rule or ban (`limit`): its data, encoded by `encodeLimit`. */
interface LimitRecord {
  l: string;
  e?: number;
}
type Record_ = ValueRecord | LogRecord | TagRecord | LimitRecord;

const isValue = (r: unknown): r is ValueRecord => typeof (r as ValueRecord | null)?.v === "string";
const isLog = (r: unknown): r is LogRecord => Array.isArray((r as LogRecord | null)?.s);
const isTag = (r: unknown): r is TagRecord => typeof (r as TagRecord | null)?.t === "string";
const isLimit = (r: unknown): r is LimitRecord => typeof (r as LimitRecord | null)?.l === "string";

/** The expiry of a stored record (epoch ms), or `undefined`. */
function expiryOf(value: unknown): number | undefined {
  const e = (value as { e?: unknown } | null)?.e;
  return typeof e === "number" ? e : undefined;
}

/** Whether an entry read is present and not past its expiry. */
function isLive(entry: DenoKvEntryMaybe, now: number): boolean {
  if (entry.versionstamp === null) return false;
  const e = expiryOf(entry.value);
  return e === undefined || e > now;
}

/** `{ expireIn }` for a record expiring at `e` (none without). */
function expireIn(e: number | undefined, now: number): { expireIn: number } | undefined {
  return e === undefined ? undefined : { expireIn: Math.max(1, Math.ceil(e - now)) };
}

/** A limiter rule's data as a {@link LimitRecord} body (see the layout above). */
function encodeLimit(sliding: boolean, data: RuleData): string {
  if (!sliding) return data.join(",");
  const parts: string[] = [];
  for (let i = 0; i + 1 < data.length; i += 2) {
    const time = i === 0 ? String(data[0]) : (data[i]! - data[i - 2]!).toString(36);
    parts.push(data[i + 1] === 1 ? time : `${time}*${data[i + 1]!.toString(36)}`);
  }
  return parts.join(",");
}

/** A {@link LimitRecord} body back as a rule's data. */
function decodeLimit(sliding: boolean, body: string): RuleData {
  if (body === "") return [];
  if (!sliding) return body.split(",").map(Number);
  const data: number[] = [];
  for (const part of body.split(",")) {
    const [time, cost] = part.split("*");
    data.push(data.length === 0 ? Number(time) : data[data.length - 2]! + parseInt(time!, 36), cost === undefined ? 1 : parseInt(cost, 36));
  }
  return data;
}

/** A record with expiry `e` (the property left out when there is none). */
function withExpiry<R extends object>(record: R, e: number | undefined): R & { e?: number } {
  return e === undefined ? record : { ...record, e };
}

/**
 * A record as stored: one string, `<kind><expiry>:<body>`, so that every V8 serialiser can write
 * it (@deno/kv on Bun only has a limited one, for strings) and a database is readable from every
 * runtime. `v…:` a value (the body is the text), `s…:` a sliding-window log (the first time, then
 * the gaps to the next ones in base 36, comma-separated), `t…:` a tag head (the body is its
 * generation). The expiry is epoch ms, empty for none.
 */
function encodeRecord(record: Record_): string {
  const e = record.e === undefined ? "" : String(record.e);
  if (isValue(record)) return `v${e}:${record.v}`;
  if (isTag(record)) return `t${e}:${record.t}`;
  if (isLimit(record)) return `l${e}:${record.l}`;
  const times = (record as LogRecord).s;
  const parts = times.map((t, i) => (i === 0 ? String(t) : (t - times[i - 1]!).toString(36)));
  return `s${e}:${parts.join(",")}`;
}

/** A stored value back as a record; anything else (not written by this backend) as a record of no known kind. */
function decodeRecord(value: unknown): Record_ | { foreign: true } {
  const match = typeof value === "string" ? /^([vstl])(\d*):/.exec(value) : null;
  if (match === null) return { foreign: true };
  const body = (value as string).slice(match[0].length);
  const e = match[2] === "" ? undefined : Number(match[2]);
  if (match[1] === "v") return withExpiry({ v: body }, e);
  if (match[1] === "t") return withExpiry({ t: body }, e);
  if (match[1] === "l") return withExpiry({ l: body }, e);
  const times: number[] = [];
  if (body !== "") for (const part of body.split(",")) times.push(times.length === 0 ? Number(part) : times[times.length - 1]! + parseInt(part, 36));
  return withExpiry({ s: times }, e);
}

/** An entry read, its value decoded (see {@link decodeRecord}). */
function decoded(entry: DenoKvEntryMaybe): DenoKvEntryMaybe {
  return entry.versionstamp === null ? entry : { ...entry, value: decodeRecord(entry.value) };
}

/** Bytes V8 serialises a string to, at least (one byte per Latin-1 char, else two per code unit). */
function serialisedBytes(text: string): number {
  // eslint-disable-next-line no-control-regex
  return /[^\u0000-\u00ff]/.test(text) ? text.length * 2 : text.length;
}

const noop = (): void => {};

/** SQLite's "database is locked" (another connection writes): the operation did nothing and may run again. */
function isBusy(error: unknown): boolean {
  return /database is locked|SQLITE_BUSY|database table is locked/i.test(messageOf(error));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ------------------------------------------------------------------ public API

/**
 * Options of {@link createDenoKvBackend} (the same names as the `deno-kv://` setup options).
 * @example
 * const backend = createDenoKvBackend("deno-kv://:memory:", { namespace: "app", timeout: "1s" });
 */
export interface DenoKvBackendOptions {
  /** Key namespace, default `"cashews"`: keys are stored as `[namespace, key]`; `clear()` removes only that prefix. */
  namespace?: string;
  /** An opened `Deno.Kv` (or @deno/kv `Kv`), used as is and never closed by the backend; the URL is then `"deno-kv://"`. */
  kv?: DenoKvHandle;
  /** Per-command bound (ms or a duration string); default none. */
  timeout?: number | string;
}

/**
 * Creates a Deno KV backend without any I/O (the database opens at `init()` or the first command).
 * @param url A `deno-kv://` URL (see the URL forms in the `deno-kv/target` module), no query string.
 * @throws {CacheConfigError} A bad URL or option (see {@link resolveDenoKvTarget}).
 * @example
 * const backend = createDenoKvBackend("deno-kv:///var/data/cache.db");
 * await backend.set("k", "v", 10_000);
 */
export function createDenoKvBackend(url: string, options: DenoKvBackendOptions = {}): DenoKvBackend {
  return new DenoKvBackend({ url, options: durationsInMs(options as Record<string, never>, ["timeout"], "deno-kv") });
}

/**
 * The module the `deno-kv://` scheme loads: `create` builds a {@link DenoKvBackend} from a setup
 * URL (without its query) and options.
 * @example
 * const backend = denoKvModule.create({ url: "deno-kv://:memory:", options: {} });
 */
export const denoKvModule: BackendModule = {
  create: (config) => new DenoKvBackend(config),
  // The `local` option's tier: carried by the backend module, so that a bundle without a remote store has none.
  // Where the runtime has BroadcastChannel, invalidations cross it (isolates of one process or
  // deployment); the local ttl bounds the rest.
  localTier: (remote, options) => {
    const name = remote instanceof DenoKvBackend && hasBroadcastChannel() ? remote.broadcastName : undefined;
    return withLocalTier(remote, options, name === undefined ? undefined : createBroadcastBus(name));
  },
};

/** A planned write of a read-modify-write: what to do in the atomic operation, and what to resolve. */
interface Plan<T> {
  result: T;
  write?: (op: DenoKvAtomic) => void;
  /** Runs after a successful commit (e.g. removing a deleted tag set's members). */
  after?: () => Promise<unknown>;
}

/**
 * A {@link Backend} on Deno KV: what `cache.setup("deno-kv://…")` creates. Use it directly for raw
 * string storage without the codec (values are strings).
 * @example
 * const backend = new DenoKvBackend({ url: "deno-kv://:memory:", options: {} });
 * await backend.set("greeting", "hello", 60_000);
 * await backend.get("greeting"); // "hello"
 */
export class DenoKvBackend implements Backend {
  readonly kind = "deno-kv";
  readonly storesValues = false;
  /** The first part of every key this backend writes. */
  readonly namespace: string;
  /** The database path or URL (`undefined`: the default database, or a supplied handle). */
  readonly path: string | undefined;

  readonly #timeout: number | undefined;
  readonly #userKv: DenoKvHandle | undefined;
  #kv: DenoKvHandle | undefined;
  #opening: Promise<DenoKvHandle> | undefined;

  constructor(config: BackendConfig) {
    const options = config.options;
    const namespace = options.namespace ?? "cashews";
    if (typeof namespace !== "string") throw new CacheConfigError(`deno-kv: option "namespace" must be a string`);
    this.namespace = namespace;
    this.#timeout = options.timeout === undefined ? undefined : optionalMs(options.timeout, "timeout", 0, "deno-kv");
    const target = resolveDenoKvTarget(config.url, options);
    this.path = target.path;
    this.#userKv = target.kv as DenoKvHandle | undefined;
  }

  /**
   * The `BroadcastChannel` name a local tier on this backend publishes its invalidations on: one
   * per database (path or URL; `""`: the default database) and namespace, so two databases never
   * share one. `undefined` where no other isolate can be known to use the same database: a
   * supplied handle (which database it is, is unknown) and `:memory:` (a new database each time).
   * @example
   * createDenoKvBackend("deno-kv:///data/cache.db", { namespace: "app" }).broadcastName;
   * // '["cashews","deno-kv","/data/cache.db","app"]'
   */
  get broadcastName(): string | undefined {
    if (this.#userKv !== undefined || this.path === ":memory:") return undefined;
    return JSON.stringify(["cashews", "deno-kv", this.path ?? "", this.namespace]);
  }

  /**
   * The opened KV handle (opening it on first use), for what cashews does not offer.
   * @example
   * const kv = await backend.handle();
   * await kv.set(["app", "config"], { theme: "dark" });
   */
  handle(): Promise<DenoKvHandle> {
    return this.#open();
  }

  // ---------------------------------------------------------------- lifecycle

  /** Opens the database (once). Rejects with {@link CacheConfigError} or {@link CacheBackendError} when it cannot. */
  async init(): Promise<void> {
    await this.#open();
  }

  /** Closes the database this backend opened (a supplied `kv` stays open). A later command opens it again. */
  async close(): Promise<void> {
    const opening = this.#opening;
    this.#opening = undefined;
    this.#kv = undefined;
    if (opening === undefined || this.#userKv !== undefined) return;
    const shared = this.path === undefined ? undefined : CONNECTIONS.get(this.path);
    if (shared !== undefined && shared.opening === opening) {
      // The last backend of this process on this database closes the connection.
      if (--shared.users > 0) return;
      CONNECTIONS.delete(this.path!);
    }
    try {
      (await opening).close();
    } catch {
      // never opened, or already closed: nothing to release
    }
  }

  // ---------------------------------------------------------------- commands

  async get(key: string): Promise<unknown> {
    const entry = decoded(await this.#run("GET", (kv) => kv.get(this.#key(key))));
    if (!isLive(entry, Date.now())) return MISSING;
    if (!isValue(entry.value)) throw new CacheBackendError(`deno-kv GET: ${WRONGTYPE}`);
    return entry.value.v;
  }

  /**
   * The value and its remaining TTL (ms; -1: none; -2: missing) from one read of the record: what
   * a local tier fills with (see `ExpiryReader` in local/tier.ts).
   * @example
   * const [raw, pttl] = await backend.getWithExpiry("k"); // ["…", 29950]
   */
  async getWithExpiry(key: string): Promise<[raw: unknown, pttl: number]> {
    const entry = decoded(await this.#run("GET", (kv) => kv.get(this.#key(key))));
    const now = Date.now();
    if (!isLive(entry, now)) return [MISSING, -2];
    if (!isValue(entry.value)) throw new CacheBackendError(`deno-kv GET: ${WRONGTYPE}`);
    const e = expiryOf(entry.value);
    return [entry.value.v, e === undefined ? -1 : Math.ceil(e - now)];
  }

  async getMany(keys: readonly string[]): Promise<unknown[]> {
    return (await this.getManyWithExpiry(keys)).map(([raw]) => raw);
  }

  /**
   * Like {@link DenoKvBackend.getWithExpiry} for many keys, with `getMany` reads of up to 10 keys.
   * @example
   * const [[raw, pttl]] = await backend.getManyWithExpiry(["k"]); // ["…", 29950]
   */
  async getManyWithExpiry(keys: readonly string[]): Promise<Array<[raw: unknown, pttl: number]>> {
    if (keys.length === 0) return [];
    const chunks: DenoKvKey[][] = [];
    for (let i = 0; i < keys.length; i += GET_MANY_CHUNK) chunks.push(keys.slice(i, i + GET_MANY_CHUNK).map((key) => this.#key(key)));
    const read = await this.#run("GET", (kv) => Promise.all(chunks.map((chunk) => kv.getMany(chunk))));
    const now = Date.now();
    // Like MGET: anything but a live value reads as missing.
    return read.flat().map((record): [unknown, number] => {
      const entry = decoded(record);
      if (!isLive(entry, now) || !isValue(entry.value)) return [MISSING, -2];
      const e = expiryOf(entry.value);
      return [entry.value.v, e === undefined ? -1 : Math.ceil(e - now)];
    });
  }

  async set(key: string, value: unknown, expireMs: number | undefined, exist?: boolean, tags?: readonly string[]): Promise<boolean> {
    const text = this.#checkValue(key, tags === undefined ? value : withTags(toText(value, "deno-kv"), tags));
    const k = this.#key(key);
    if (exist === undefined) {
      const now = Date.now();
      const e = deadline(expireMs, now);
      await this.#run("SET", (kv) => kv.set(k, encodeRecord(withExpiry({ v: text }, e)), expireIn(e, now)), key);
      return true;
    }
    return this.#update("SET", key, (entry, now) => {
      if (isLive(entry, now) !== exist) return { result: false };
      const e = deadline(expireMs, now);
      return { result: true, write: (op) => op.set(k, encodeRecord(withExpiry({ v: text }, e)), expireIn(e, now)) };
    });
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, expireMs: number | undefined): Promise<void> {
    if (entries.length === 0) return;
    const rows = entries.map(([key, value]) => [key, this.#checkValue(key, value)] as const);
    await this.#run("SET", async (kv) => {
      const now = Date.now();
      const e = deadline(expireMs, now);
      const size = ([key, text]: readonly [string, string]): number => serialisedBytes(text) + key.length * 3 + 64;
      await commitBatches(kv, rows, size, (op, [key, text]) => op.set(this.#key(key), encodeRecord(withExpiry({ v: text }, e)), expireIn(e, now)));
    });
  }

  async incr(key: string, by: number, expireMs: number | undefined, tags?: readonly string[]): Promise<number> {
    if (!Number.isSafeInteger(by)) throw new CacheBackendError(`deno-kv INCR: ${NOT_INTEGER}`);
    const k = this.#key(key);
    return this.#update("INCR", key, (entry, now) => {
      if (!isLive(entry, now)) {
        const e = deadline(expireMs, now);
        return { result: by, write: (op) => op.set(k, encodeRecord(withExpiry({ v: withTags(String(by), tags) }, e)), expireIn(e, now)) };
      }
      const record = entry.value;
      // A counter that carries tags keeps them (adding `tags`): the number is the text after its header.
      const text = isValue(record) ? untagged(record.v) : "";
      // What Redis's `string2ll` accepts (no sign on zero, no leading zeros, no spaces).
      if (!isValue(record) || !/^(?:0|-?[1-9][0-9]*)$/.test(text) || !Number.isSafeInteger(Number(text))) {
        throw new CacheBackendError(`deno-kv INCR: ${isValue(record) ? NOT_INTEGER : WRONGTYPE}`);
      }
      const next = Number(text) + by;
      if (!Number.isSafeInteger(next)) throw new CacheBackendError("deno-kv INCR: ERR increment or decrement would overflow");
      const e = expiryOf(record);
      const v = addTags(record.v.slice(0, record.v.length - text.length) + String(next), tags);
      return { result: next, write: (op) => op.set(k, encodeRecord(withExpiry({ v }, e)), expireIn(e, now)) };
    });
  }

  async delete(key: string): Promise<boolean> {
    const k = this.#key(key);
    return this.#update("DEL", key, (entry, now) => {
      if (entry.versionstamp === null) return { result: false };
      const record = entry.value;
      // An expired entry is removed too (KV would do it later), but it did not exist.
      return {
        result: isLive(entry, now),
        write: (op) => op.delete(k),
        after: isTag(record) ? () => this.#dropMembers(key, record.t) : undefined,
      };
    });
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    const deleted = await Promise.all(keys.map((key) => this.delete(key)));
    return deleted.filter(Boolean).length;
  }

  async deleteMatch(pattern: string): Promise<number> {
    const match = compileGlob(pattern);
    const keys: string[] = [];
    for await (const [key] of this.#entries()) if (match(key)) keys.push(key);
    // One checked delete per key: the count is of keys that existed when deleted.
    return this.deleteMany(keys);
  }

  async *scan(pattern: string, batchSize: number): AsyncIterable<string> {
    const match = compileGlob(pattern);
    const size = Number.isFinite(batchSize) && batchSize >= 1 ? Math.min(1000, Math.floor(batchSize)) : 100;
    for await (const [key, entry] of this.#entries(size)) if (match(key) && isLive(entry, Date.now())) yield key;
  }

  async expire(key: string, expireMs: number | undefined): Promise<boolean> {
    const k = this.#key(key);
    return this.#update("PEXPIRE", key, (entry, now) => {
      if (!isLive(entry, now)) return { result: false };
      const e = deadline(expireMs, now);
      const rest: Record<string, unknown> = { ...(entry.value as Record_) };
      delete rest.e;
      return { result: true, write: (op) => op.set(k, encodeRecord(withExpiry(rest, e) as unknown as Record_), expireIn(e, now)) };
    });
  }

  async getExpire(key: string): Promise<number> {
    const entry = decoded(await this.#run("PTTL", (kv) => kv.get(this.#key(key))));
    const now = Date.now();
    if (!isLive(entry, now)) return -2;
    const e = expiryOf(entry.value);
    return e === undefined ? -1 : Math.ceil(e - now);
  }

  async exists(key: string): Promise<boolean> {
    const entry = decoded(await this.#run("EXISTS", (kv) => kv.get(this.#key(key))));
    return isLive(entry, Date.now());
  }

  async ping(message?: string): Promise<string> {
    await this.#run("PING", (kv) => kv.get([this.namespace, TAG_PART, "\u0000ping"]));
    return message ?? "PONG";
  }

  async getKeysCount(): Promise<number> {
    let count = 0;
    const now = Date.now();
    for await (const [, entry] of this.#entries()) if (isLive(entry, now)) count++;
    return count;
  }

  async clear(): Promise<void> {
    await this.#run("CLEAR", async (kv) => {
      const keys: DenoKvKey[] = [];
      for await (const entry of kv.list({ prefix: [this.namespace] })) keys.push(entry.key);
      await this.#deleteAll(kv, keys);
    });
  }

  async setLock(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.set(key, value, ttlMs, false);
  }

  async unlock(key: string, value: string): Promise<boolean> {
    const k = this.#key(key);
    return this.#update("UNLOCK", key, (entry, now) => {
      if (!isLive(entry, now) || !isValue(entry.value) || entry.value.v !== value) return { result: false };
      return { result: true, write: (op) => op.delete(k) };
    });
  }

  /**
   * The limiter's atomic step: the rules' entries and the ban read with one `getMany`, `decide`
   * (backends/limits) on them at `Date.now()`, the changes written in one atomic operation that
   * checks every versionstamp read, retried on conflict (like `slidingIncr`). A sliding rule keeps
   * at most {@link MAX_SLIDING_CALLS} entries: a higher limit is a CacheConfigError.
   */
  async limit(key: string, request: LimitRequest): Promise<LimitAnswer> {
    const { rules } = request;
    for (const rule of rules) {
      if (rule.algorithm === "sliding" && rule.limit > MAX_SLIDING_CALLS) {
        throw new CacheConfigError(`deno-kv:// keeps at most ${MAX_SLIDING_CALLS} entries per sliding window and key: a limit of ${rule.limit} cannot be kept exactly; lower it, or use redis:// or upstash://`);
      }
    }
    const kv = await this.#open();
    const keys = [...rules.map((rule) => this.#key(ruleKey(key, rule))), this.#key(`${key}:ban`)];
    const run = async (): Promise<LimitAnswer> => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        try {
          const chunks: DenoKvKey[][] = [];
          for (let i = 0; i < keys.length; i += GET_MANY_CHUNK) chunks.push(keys.slice(i, i + GET_MANY_CHUNK));
          const entries = (await Promise.all(chunks.map((chunk) => kv.getMany(chunk)))).flat().map(decoded);
          const now = Date.now();
          const live = entries.map((entry) => {
            if (request.reset || !isLive(entry, now)) return undefined;
            if (!isLimit(entry.value)) throw new CacheBackendError(`deno-kv LIMIT: ${WRONGTYPE}`);
            return entry.value;
          });
          const ban = live[rules.length];
          const bannedMs = ban === undefined ? 0 : ban.e === undefined ? Number.MAX_SAFE_INTEGER : ban.e - now;
          const data = rules.map((rule, i) => (live[i] === undefined ? undefined : decodeLimit(rule.algorithm === "sliding", live[i].l)));
          const { answer, writes } = decide(request, { bannedMs, data }, now);
          // A reset deletes what it found (in the same operation as the writes).
          const deletes = request.reset ? entries.map((entry) => entry.versionstamp !== null) : entries.map(() => false);
          if (writes === undefined && !deletes.includes(true)) return answer;
          const op = kv.atomic();
          for (const [i, entry] of entries.entries()) op.check({ key: keys[i]!, versionstamp: entry.versionstamp });
          for (const [i, write] of (writes?.rules ?? []).entries()) {
            deletes[i] = false;
            if (write === undefined) {
              if (request.reset) deletes[i] = entries[i]!.versionstamp !== null;
              continue;
            }
            if (write.data === undefined || write.ttlMs <= 0) op.delete(keys[i]!);
            else {
              const e = now + write.ttlMs;
              op.set(keys[i]!, encodeRecord({ l: encodeLimit(rules[i]!.algorithm === "sliding", write.data), e }), expireIn(e, now));
            }
          }
          if (writes?.banMs !== undefined) {
            deletes[rules.length] = false;
            const e = now + writes.banMs;
            op.set(keys[rules.length]!, encodeRecord({ l: "", e }), expireIn(e, now));
          }
          for (const [i, gone] of deletes.entries()) if (gone) op.delete(keys[i]!);
          if ((await op.commit()).ok) return answer;
        } catch (error) {
          if (!isBusy(error)) throw error;
        }
        if (attempt >= 1) await sleep(Math.random() * Math.min(4, attempt));
      }
      throw new CacheBackendError(`deno-kv LIMIT: gave up after ${MAX_ATTEMPTS} conflicting attempts on key ${JSON.stringify(key)}`);
    };
    try {
      return await this.#bounded(this.#serial(kv, `${key}\u0000limit`, run));
    } catch (error) {
      throw this.#wrap("LIMIT", error, key);
    }
  }

  async slidingIncr(key: string, windowMs: number, limit: number): Promise<[count: number, resetMs: number]> {
    const k = this.#key(key);
    const window = Math.max(1, Math.ceil(windowMs));
    const max = limit < 0 || !Number.isFinite(limit) ? -1 : Math.floor(limit);
    // The log is one KV value (64 KiB): a limit it cannot hold is refused, never kept approximately.
    if (max > MAX_SLIDING_CALLS) {
      throw new CacheConfigError(
        `deno-kv:// keeps at most ${MAX_SLIDING_CALLS} calls per sliding window and key: a limit of ${max} cannot be kept exactly; lower it, shorten the period, or use redis:// or upstash://`,
      );
    }
    return this.#update("SLIDING_INCR", key, (entry, now) => {
      const live = isLive(entry, now);
      if (live && !isLog(entry.value)) throw new CacheBackendError(`deno-kv SLIDING_INCR: ${WRONGTYPE}`);
      const times = live ? (entry.value as LogRecord).s.filter((t) => t > now - window) : [];
      const count = times.length;
      // An unlimited log (circuitBreaker) that is full: a backend error (safe mode: reported, the call allowed).
      if (max < 0 && count >= MAX_SLIDING_CALLS) {
        throw new CacheBackendError(`deno-kv SLIDING_INCR: the window of key "${key}" holds ${count} calls, the most deno-kv:// keeps (${MAX_SLIDING_CALLS}); shorten the period`);
      }
      let write: ((op: DenoKvAtomic) => void) | undefined;
      if (max < 0 || count < max) {
        // Kept in order, also when this process's clock is behind another's.
        let i = times.length;
        while (i > 0 && times[i - 1]! > now) i--;
        times.splice(i, 0, now);
        const e = now + window;
        write = (op) => op.set(k, encodeRecord({ s: times, e }), { expireIn: window });
      } else if (live && count === 0) {
        // Nothing left to keep (a limit of 0): like Redis, an emptied log is no key at all.
        write = (op) => op.delete(k);
      }
      const oldest = times[0];
      return { result: [count + 1, oldest === undefined ? 0 : Math.max(0, oldest + window - now)], write };
    });
  }

  async tagAdd(key: string, member: string, expireMs: number | undefined): Promise<void> {
    const k = this.#key(key);
    const ms = toPx(expireMs);
    await this.#update("TAG_ADD", key, (entry, now) => {
      const live = isLive(entry, now);
      if (live && !isTag(entry.value)) throw new CacheBackendError(`deno-kv TAG_ADD: ${WRONGTYPE}`);
      const memberAt = ms === undefined ? undefined : now + ms;
      let generation: string;
      let e: number | undefined;
      if (!live) {
        generation = crypto.randomUUID();
        e = memberAt;
      } else {
        const head = entry.value as TagRecord;
        generation = head.t;
        // Extended, never shortened; a member without expiry makes the set persistent.
        e = head.e === undefined || memberAt === undefined ? undefined : Math.max(head.e, memberAt);
      }
      return {
        result: undefined,
        write: (op) => {
          op.set(k, encodeRecord(withExpiry({ t: generation }, e)), expireIn(e, now));
          // The member's own expiry: it leaves the set with its key.
          op.set(this.#memberKey(key, generation, member), `m${memberAt ?? ""}`, expireIn(memberAt, now));
        },
      };
    });
  }

  async tagPop(key: string, count: number): Promise<TagPopped> {
    const k = this.#key(key);
    const popped: TagPopped = { members: [], unchecked: [] };
    const wanted = Number.isFinite(count) ? Math.max(0, Math.floor(count)) : Number.MAX_SAFE_INTEGER;
    const size = (): number => popped.members.length + popped.unchecked.length;
    while (size() < wanted) {
      const take = Math.min(POP_BATCH, wanted - size());
      const batch = await this.#update("SPOP", key, async (entry, now, kv) => {
        const result = { members: [] as string[], unchecked: [] as string[], more: false };
        if (!isLive(entry, now)) return { result };
        const head = entry.value;
        if (!isTag(head)) throw new CacheBackendError(`deno-kv SPOP: ${WRONGTYPE}`);
        const prefix = [this.namespace, TAG_PART, key, head.t];
        const found: DenoKvEntryMaybe[] = [];
        for await (const member of kv.list({ prefix }, { limit: take + 1 })) found.push(member);
        const taken = found.slice(0, take);
        result.more = found.length > take;
        for (const { key: memberKey, value } of taken) {
          const member = String(memberKey[4]);
          // "m<e>": a member until its expiry (past it: dropped); "": recorded by an earlier version.
          if (value === "") result.unchecked.push(member);
          else if (typeof value === "string" && value.startsWith("m") && (value === "m" || Number(value.slice(1)) > now)) result.members.push(member);
        }
        return {
          result,
          write: (op) => {
            for (const { key: memberKey } of taken) op.delete(memberKey);
            // Removing the last member removes the set; else the head is rewritten, so that a
            // concurrent pop or add (which check it) conflicts with this one.
            if (!result.more) op.delete(k);
            else op.set(k, encodeRecord(head), expireIn(head.e, now));
          },
        };
      });
      popped.members.push(...batch.members);
      popped.unchecked.push(...batch.unchecked);
      if (!batch.more) break;
    }
    return popped;
  }

  async tagDelete(tag: string, keys: readonly string[]): Promise<number> {
    // One atomic check-and-delete per key: a value written again without the tag is never deleted.
    const deleted = await Promise.all(
      keys.map((key) =>
        this.#update("TAG_DELETE", key, (entry, now) => {
          if (!isLive(entry, now) || !isValue(entry.value) || !carries(entry.value.v, tag)) return { result: false };
          return { result: true, write: (op) => op.delete(this.#key(key)) };
        }),
      ),
    );
    return deleted.filter(Boolean).length;
  }

  // ---------------------------------------------------------------- set commands
  // A set is stored as a tag set (head + one entry per member, see the module comment). Every
  // change rewrites the head, whose versionstamp orders them. Members carry the set's expiry as
  // it was when they were written; when `setAdd` moves the expiry later, the older members are
  // rewritten with it right after the commit.

  async setAdd(key: string, members: readonly string[], expireMs: number | undefined): Promise<number> {
    if (members.length > BULK_MUTATIONS) {
      throw new CacheBackendError(`deno-kv SADD: at most ${BULK_MUTATIONS} members per call (one atomic operation), got ${members.length}`);
    }
    const k = this.#key(key);
    const ms = toPx(expireMs);
    const unique = [...new Set(members)];
    return this.#update("SADD", key, async (entry, now, kv) => {
      const live = isLive(entry, now);
      if (live && !isTag(entry.value)) throw new CacheBackendError(`deno-kv SADD: ${WRONGTYPE}`);
      const head = live ? (entry.value as TagRecord) : undefined;
      const generation = head?.t ?? crypto.randomUUID();
      const e = ms !== undefined ? now + ms : head?.e;
      let added = unique.length;
      if (head !== undefined) {
        added = 0;
        for (let i = 0; i < unique.length; i += GET_MANY_CHUNK) {
          const found = await kv.getMany(unique.slice(i, i + GET_MANY_CHUNK).map((m) => this.#memberKey(key, generation, m)));
          added += found.filter((f) => f.versionstamp === null).length;
        }
      }
      const options = expireIn(e, now);
      const later = head !== undefined && e !== head.e && (e === undefined || (head.e !== undefined && e > head.e));
      return {
        result: added,
        write: (op) => {
          op.set(k, encodeRecord(withExpiry({ t: generation }, e)), options);
          // "m": a member for as long as the set lives (see tagPop's member format).
          for (const member of unique) op.set(this.#memberKey(key, generation, member), "m", options);
        },
        after: later ? () => this.#extendMembers(key, generation, e, unique) : undefined,
      };
    });
  }

  async setRemove(key: string, members: readonly string[]): Promise<number> {
    const k = this.#key(key);
    const unique = [...new Set(members)];
    return this.#update("SREM", key, async (entry, now, kv) => {
      if (!isLive(entry, now)) return { result: 0 };
      const head = entry.value;
      if (!isTag(head)) throw new CacheBackendError(`deno-kv SREM: ${WRONGTYPE}`);
      const present: DenoKvKey[] = [];
      for (let i = 0; i < unique.length; i += GET_MANY_CHUNK) {
        const keys = unique.slice(i, i + GET_MANY_CHUNK).map((m) => this.#memberKey(key, head.t, m));
        for (const found of await kv.getMany(keys)) if (found.versionstamp !== null) present.push(found.key);
      }
      if (present.length === 0) return { result: 0 };
      let left = 0;
      for await (const _ of kv.list({ prefix: [this.namespace, TAG_PART, key, head.t] }, { limit: present.length + 1 })) left++;
      const last = left <= present.length;
      return {
        result: present.length,
        write: (op) => {
          for (const memberKey of present) op.delete(memberKey);
          if (last) op.delete(k);
          else op.set(k, encodeRecord(head), expireIn(head.e, now));
        },
      };
    });
  }

  async setPop(key: string, count: number): Promise<string[]> {
    const { members, unchecked } = await this.tagPop(key, count);
    return [...members, ...unchecked];
  }

  async setMembers(key: string): Promise<string[]> {
    return this.#run(
      "SMEMBERS",
      async (kv) => {
        const entry = decoded(await kv.get(this.#key(key)));
        if (!isLive(entry, Date.now())) return [];
        const head = entry.value;
        if (!isTag(head)) throw new CacheBackendError(`deno-kv SMEMBERS: ${WRONGTYPE}`);
        const out: string[] = [];
        for await (const member of kv.list({ prefix: [this.namespace, TAG_PART, key, head.t] })) out.push(String(member.key[4]));
        return out;
      },
      key,
    );
  }

  /** Rewrites the members of a set (but `skip`, just written) with its new, later expiry `e`. */
  async #extendMembers(key: string, generation: string, e: number | undefined, skip: readonly string[]): Promise<void> {
    const kv = await this.#open();
    const done = new Set(skip);
    const keys: DenoKvKey[] = [];
    for await (const entry of kv.list({ prefix: [this.namespace, TAG_PART, key, generation] })) if (!done.has(String(entry.key[4]))) keys.push(entry.key);
    const options = expireIn(e, Date.now());
    const size = (k: DenoKvKey): number => k.reduce<number>((sum, part) => sum + String(part).length * 3 + 2, 0);
    await commitBatches(kv, keys, size, (op, k) => op.set(k, "m", options));
  }

  // ---------------------------------------------------------------- internals

  #key(key: string): DenoKvKey {
    return [this.namespace, key];
  }

  #memberKey(key: string, generation: string, member: string): DenoKvKey {
    return [this.namespace, TAG_PART, key, generation, member];
  }

  /** The value as stored text, refused when it cannot fit in one KV value. */
  #checkValue(key: string, value: unknown): string {
    const text = toText(value, "deno-kv");
    // The record adds its kind and expiry (`v1796000000000:`), V8 a header of up to 5 bytes.
    const bytes = serialisedBytes(text) + RECORD_OVERHEAD;
    if (bytes > DENO_KV_MAX_VALUE_BYTES) throw tooLarge(key, bytes);
    return text;
  }

  /** The user keys under the namespace, with their entries (tag members left out), in key order. */
  async *#entries(batchSize?: number): AsyncGenerator<[string, DenoKvEntryMaybe]> {
    const kv = await this.#open();
    const list = kv.list({ prefix: [this.namespace] }, batchSize === undefined ? undefined : { batchSize });
    const iterator = list[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<DenoKvEntryMaybe>;
      try {
        next = await this.#bounded(iterator.next());
      } catch (error) {
        throw this.#wrap("SCAN", error);
      }
      if (next.done) return;
      const entry = decoded(next.value);
      if (entry.key.length === 2 && typeof entry.key[1] === "string") yield [entry.key[1], entry];
    }
  }

  /**
   * A read-modify-write: reads `key` (strong), asks `plan` what to write, commits it with a check
   * of the versionstamp read, and starts again on conflict.
   */
  async #update<T>(
    command: string,
    key: string,
    plan: (entry: DenoKvEntryMaybe, now: number, kv: DenoKvHandle) => Plan<T> | Promise<Plan<T>>,
  ): Promise<T> {
    const kv = await this.#open();
    const k = this.#key(key);
    const run = async (): Promise<Plan<T>> => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        try {
          const entry = decoded(await kv.get(k));
          const planned = await plan(entry, Date.now(), kv);
          if (planned.write === undefined) return planned;
          const op = kv.atomic().check({ key: k, versionstamp: entry.versionstamp });
          planned.write(op);
          if ((await op.commit()).ok) return planned;
        } catch (error) {
          // SQLite refused the transaction (another connection holds the write lock): nothing
          // was written, so the whole read-modify-write runs again.
          if (!isBusy(error)) throw error;
        }
        // Someone else wrote the key in between: read again, after a short random pause once
        // the contention persists (so that competing writers spread out).
        if (attempt >= 1) await sleep(Math.random() * Math.min(4, attempt));
      }
      throw new CacheBackendError(`deno-kv ${command}: gave up after ${MAX_ATTEMPTS} conflicting attempts on key ${JSON.stringify(key)}`);
    };
    let planned: Plan<T>;
    try {
      // One read-modify-write of a key at a time in this backend: concurrent calls of this process
      // queue instead of conflicting (the check still orders them against other clients).
      planned = await this.#bounded(this.#serial(kv, key, run));
    } catch (error) {
      throw this.#wrap(command, error, key);
    }
    if (planned.after) await planned.after().catch(() => {}); // cleanup only: the command succeeded
    return planned.result;
  }

  /** Runs `task` after the tasks on `kv` queued for `key` before it (by any backend of this process on that handle). */
  #serial<T>(kv: DenoKvHandle, key: string, task: () => Promise<T>): Promise<T> {
    key = `${this.namespace}\u0000${key}`;
    let queues = QUEUES.get(kv);
    if (queues === undefined) QUEUES.set(kv, (queues = new Map()));
    const previous = queues.get(key);
    const result = previous === undefined ? task() : previous.then(task, task);
    const tail = result.then(noop, noop);
    queues.set(key, tail);
    void tail.then(() => {
      if (queues.get(key) === tail) queues.delete(key);
    });
    return result;
  }

  /** Deletes the members of generation `generation` of the tag set at `key`. */
  async #dropMembers(key: string, generation: string): Promise<void> {
    const kv = await this.#open();
    const keys: DenoKvKey[] = [];
    for await (const entry of kv.list({ prefix: [this.namespace, TAG_PART, key, generation] })) keys.push(entry.key);
    await this.#deleteAll(kv, keys);
  }

  /** Deletes `keys` in atomic batches within KV's limits. */
  async #deleteAll(kv: DenoKvHandle, keys: readonly DenoKvKey[]): Promise<void> {
    const size = (key: DenoKvKey): number => key.reduce<number>((sum, part) => sum + String(part).length * 3 + 2, 0);
    await commitBatches(kv, keys, size, (op, key) => op.delete(key));
  }

  /** Runs one KV call on the opened handle, bounded by `timeout`, errors wrapped. */
  async #run<T>(command: string, call: (kv: DenoKvHandle) => Promise<T>, key?: string): Promise<T> {
    const kv = await this.#open();
    const attempt = async (): Promise<T> => {
      for (let n = 1; ; n++) {
        try {
          return await call(kv);
        } catch (error) {
          if (!isBusy(error) || n >= MAX_ATTEMPTS) throw error;
          await sleep(Math.random() * Math.min(4, n));
        }
      }
    };
    try {
      return await this.#bounded(attempt());
    } catch (error) {
      throw this.#wrap(command, error, key);
    }
  }

  #bounded<T>(promise: Promise<T>): Promise<T> {
    const ms = this.#timeout;
    if (ms === undefined) return promise;
    return withDeadline(promise, ms, () => new CacheBackendError(`deno-kv: timed out after ${ms} ms (${this.#where()})`));
  }

  #wrap(command: string, error: unknown, key?: string): Error {
    if (error instanceof CacheBackendError || error instanceof CacheConfigError) return error;
    const text = firstLine(messageOf(error));
    if (key !== undefined && /ValueTooLong|value too large/i.test(text)) return tooLarge(key, undefined, error);
    if (/KeyTooLong|key too large/i.test(text)) {
      return new CacheBackendError(`deno-kv ${command}: the key is too long for Deno KV (at most 2048 bytes with the namespace${key === undefined ? "" : `; key ${JSON.stringify(key.slice(0, 80))}…`})`, { cause: error });
    }
    return new CacheBackendError(`deno-kv ${command}: ${text} (${this.#where()})`, { cause: error });
  }

  #where(): string {
    return this.#userKv ? "the supplied KV handle" : this.path === undefined ? "the default Deno KV database" : this.path;
  }

  /** The handle: the supplied one, or the database opened once (again after `close()`). */
  #open(): Promise<DenoKvHandle> {
    if (this.#kv) return Promise.resolve(this.#kv);
    if (this.#userKv) {
      this.#kv = this.#userKv;
      this.#opening = Promise.resolve(this.#userKv);
      return this.#opening;
    }
    if (this.#opening) return this.#opening;
    const path = this.path;
    // Backends of one process on one database file (or URL) share one connection: no SQLite
    // lock contention between them. `:memory:` is a new database each time: never shared.
    const sharable = path !== undefined && path !== "" && path !== ":memory:";
    const shared = sharable ? CONNECTIONS.get(path) : undefined;
    if (shared !== undefined) {
      shared.users++;
      this.#opening = shared.opening;
    } else {
      const connection = {
        users: 1,
        opening: openDatabase(path).catch((error: unknown) => {
          if (sharable && CONNECTIONS.get(path) === connection) CONNECTIONS.delete(path);
          throw error instanceof CacheConfigError ? error : new CacheBackendError(`deno-kv: could not open ${this.#where()}: ${firstLine(messageOf(error))}`, { cause: error });
        }),
      };
      if (sharable) CONNECTIONS.set(path, connection);
      this.#opening = connection.opening;
    }
    const opening = this.#opening;
    return opening.then(
      (kv) => {
        if (this.#opening === opening) this.#kv = kv;
        return kv;
      },
      (error: unknown) => {
        if (this.#opening === opening) this.#opening = undefined;
        throw error;
      },
    );
  }
}

// ------------------------------------------------------------------ helpers

/** The connections of this process by database path, shared by the backends on it (see `#open`). */
const CONNECTIONS = new Map<string, { opening: Promise<DenoKvHandle>; users: number }>();
/** The read-modify-write queues per key of each handle, shared by every backend using it. */
const QUEUES = new WeakMap<object, Map<string, Promise<void>>>();

/** Opens `path` (`undefined`: the default database) with `Deno.openKv`, or `@deno/kv` off Deno. */
async function openDatabase(path: string | undefined): Promise<DenoKvHandle> {
  const deno = denoRuntime();
  if (deno !== undefined) {
    if (typeof deno.openKv !== "function") throw new CacheConfigError("deno-kv: Deno.openKv is not available: run deno with --unstable-kv");
    return (await deno.openKv(path)) as DenoKvHandle;
  }
  if (path === undefined) throw new CacheConfigError(`deno-kv: "deno-kv://" without a path works only on Deno; give a path or option "kv"`);
  const peer = (await importPeer("@deno/kv", "deno-kv")) as {
    openKv?: (path?: string, options?: Record<string, unknown>) => Promise<unknown>;
    makeLimitedV8Serializer?: () => Record<string, unknown>;
  };
  if (typeof peer.openKv !== "function") throw new CacheConfigError(`deno-kv: the installed "@deno/kv" has no openKv export`);
  // Bun's `v8` module writes JavaScriptCore's format, which @deno/kv refuses: our records are
  // strings, which its limited V8 serialiser writes exactly as V8 does.
  const bun = "Bun" in globalThis && typeof peer.makeLimitedV8Serializer === "function";
  return (await peer.openKv(path, bun ? peer.makeLimitedV8Serializer!() : {})) as DenoKvHandle;
}

/**
 * Applies `apply` to every item in atomic operations of at most {@link BULK_MUTATIONS} items and
 * about {@link BULK_BYTES} bytes (`size` estimates an item), committed together; a batch refused
 * with "database is locked" is committed again.
 */
async function commitBatches<T>(kv: DenoKvHandle, items: readonly T[], size: (item: T) => number, apply: (op: DenoKvAtomic, item: T) => void): Promise<void> {
  const batches: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size(item);
    if (batch.length > 0 && (batch.length >= BULK_MUTATIONS || bytes + n > BULK_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(item);
    bytes += n;
  }
  if (batch.length > 0) batches.push(batch);
  await Promise.all(
    batches.map(async (group) => {
      for (let attempt = 1; ; attempt++) {
        const op = kv.atomic();
        for (const item of group) apply(op, item);
        try {
          await op.commit();
          return;
        } catch (error) {
          if (!isBusy(error) || attempt >= MAX_ATTEMPTS) throw error;
          await sleep(Math.random() * Math.min(4, attempt));
        }
      }
    }),
  );
}

/** `undefined`, 0, negative, NaN and Infinity mean "no expiry"; else the deadline (epoch ms). */
function deadline(expireMs: number | undefined, now: number): number | undefined {
  const ms = toPx(expireMs);
  return ms === undefined ? undefined : now + ms;
}

function tooLarge(key: string, bytes: number | undefined, cause?: unknown): CacheBackendError {
  const size = bytes === undefined ? "" : ` (${bytes} bytes)`;
  return new CacheBackendError(
    `deno-kv: the value of key ${JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key)} is too large${size}: Deno KV stores at most ${DENO_KV_MAX_VALUE_BYTES} bytes per value`,
    cause === undefined ? undefined : { cause },
  );
}

function firstLine(text: string): string {
  const line = text.split("\n")[0]!.trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
