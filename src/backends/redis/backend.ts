/**
 * The Redis backend on ioredis (Node, Bun, Deno). Values are opaque strings (the codec above
 * encodes them); keys live under `<namespace>:`. On Redis Cluster (an ioredis `Cluster`, see
 * cluster.ts) the multi-key commands are split by hash slot and scans go to every master.
 *
 * This file holds the commands. The connection ("safe" by construction: bounded commands, fail
 * fast while the server is unreachable or unresponsive) is in connection.ts, the options in
 * options.ts, GET batching (and the solo GET) in batching.ts, and the clientSide wiring in
 * client-side-wiring.ts.
 * @module
 */
import type { BackendModule, LocalTierSettings } from "../../config/registry.js";
import type { Bus } from "../local/bus.js";
import { withLocalTier } from "../local/tier.js";
import { invalidationChannel, RedisBus } from "./bus.js";
import { CacheBackendError, messageOf } from "../../errors.js";
import { Namespace } from "../namespace.js";
import { durationsInMs, LimitBatcher, limitKeys, poppedTags, slidingArgs, toPx, toText } from "../remote.js";
import { INCR_EXPIRE, LIMIT, SET_ADD, SLIDING_INCR, TAG_ADD, TAG_DELETE, TAG_INCR, TAG_POP, UNLOCK } from "../scripts.js";
import { escapeTag, tagNeedle, withTags } from "../tagged.js";
import type { TagPopped , LimitAnswer, LimitRequest } from "../types.js";
import { validateRedisConfig } from "./url.js";
import { evalScript, exec, isCluster, masters, mget, setAll, unlink, type RedisClient } from "./cluster.js";
import { keySlot } from "./slots.js";
import type { LocalCopy } from "./client-side.js";
import { ClientSide } from "./client-side-wiring.js";
import { GetBatcher } from "./batching.js";
import { Connection } from "./connection.js";
import type { RedisOptions } from "ioredis";
import { readSettings, type RedisBackendOptions, type RedisSettings } from "./options.js";
import { MISSING, type Backend, type BackendConfig } from "../types.js";

/** SCAN `COUNT` hint for `deleteMatch`, `clear` and `getKeysCount`. */
const SCAN_COUNT = 500;
/** The most limit calls in one `LIMIT` script (see `LimitBatcher`). */
const LIMIT_CALLS_PER_SCRIPT = 16;

/**
 * Creates a Redis backend without any I/O; it connects on `init()` or on its first command.
 * @param url `redis://[[user]:password@]host[:port][/db]`, `rediss://…` (TLS) or
 *   `redis+cluster://host:port,host:port` (Redis Cluster seed nodes), no query string.
 * @example
 * const backend = createRedisBackend("redis://localhost:6379/0", { namespace: "app" });
 * await backend.set("k", "v", 10_000);
 * await backend.close();
 */
export function createRedisBackend(url = "redis://localhost:6379", options: RedisBackendOptions = {}): RedisBackend {
  return new RedisBackend({ url, options: durationsInMs(options, ["timeout", "connectTimeout"], "redis") });
}

/**
 * The module the `redis://` schemes load: `create` builds a {@link RedisBackend} from a setup URL
 * (without its query) and options.
 * @example
 * const backend = redisModule.create({ url: "redis://localhost:6379/0", options: { namespace: "app" } });
 */
export const redisModule: BackendModule = {
  create(config) {
    const backend = new RedisBackend(config);
    // `local` on a single node is clientSide (set by validateRedisConfig); on Cluster, a local
    // tier kept coherent by a bus over Redis pub/sub (bus.ts).
    const local = config.options.local as LocalTierSettings | undefined;
    if (local === undefined || config.options.clientSide === true) return backend;
    return withLocalTier(backend, local, backend.invalidationBus());
  },
};

/**
 * A {@link Backend} on one ioredis client (a single node, or a Redis Cluster): what `cache.setup("redis://…")` creates. Use it
 * directly for raw string storage without the codec (values are strings).
 * @example
 * const backend = new RedisBackend({ url: "redis://localhost:6379/0", options: { namespace: "app", timeout: 200 } });
 * await backend.set("greeting", "hello", 60_000);
 * await backend.get("greeting"); // "hello"
 * await backend.close();
 */
export class RedisBackend implements Backend {
  readonly kind = "redis";
  readonly storesValues = false;
  /** The namespace keys are stored under (`""`: verbatim). */
  readonly namespace: string;

  readonly #ns: Namespace;
  /** The ioredis client's lifecycle, the command deadlines and the server's health (see connection.ts). */
  readonly #connection: Connection;
  /** GETs sent per tick as one GET or MGET, or alone at once (see `get` and batching.ts). */
  readonly #reads: GetBatcher;
  /** The limit calls of a tick, run as LIMIT scripts of 16 calls at most (per hash slot on Cluster; see remote.ts). */
  readonly #limits: LimitBatcher;
  /** clientSide: the local copy of what this process read (see client-side.ts). */
  readonly #local: LocalCopy | undefined;
  /** clientSide: the local copy's invalidation connection and fills (see client-side-wiring.ts). */
  readonly #clientSide: ClientSide | undefined;
  readonly #settings: RedisSettings;
  /** `local` with grace: a failed read's answer from the copy within grace (reported as stale), else the failure. */
  readonly #graced: ((key: string, error: unknown) => unknown) | undefined;
  /**
   * clientSide: the decoded value kept locally for `key`, or MISSING (synchronous: the cache's
   * hit path). Absent without clientSide.
   */
  readonly peek?: (key: string) => unknown;
  /** clientSide: `peek` answers decoded values (see Backend.peekDecoded). */
  readonly peekDecoded?: boolean;
  /** clientSide: keeps the value the route decoded from `raw` (see Backend.keep). */
  readonly keep?: (key: string, raw: unknown, value: unknown) => void;

  constructor(config: BackendConfig) {
    const options = config.options;
    validateRedisConfig(config);
    this.#ns = new Namespace(options.namespace, "redis");
    this.namespace = this.#ns.name;
    const settings = (this.#settings = readSettings(config));
    if (options.clientSide === true) {
      const localOption = options.local as { size: number; ttl: number; grace: number; onStale?: (key: string, error: unknown) => void } | undefined;
      const clientSide = (this.#clientSide = new ClientSide(this.#ns, settings, localOption));
      const local = (this.#local = clientSide.local);
      if (localOption?.grace) this.#graced = (key, error) => local.graced(key, error, localOption.onStale);
      this.peek = (key) => local.peek(key);
      this.peekDecoded = true;
      this.keep = (key, raw, value) => local.keep(key, raw, value);
    }
    this.#connection = new Connection(settings, this.#clientSide);
    this.#reads = new GetBatcher(this.#connection, this.#ns, this.#clientSide);
    this.#limits = new LimitBatcher(
      // On the limit lane when it is ready (see lane.ts): a tick's scripts and the lone calls
      // before and after them on one connection, in issue order.
      (keys, args) => this.#connection.nowScript("LIMIT", LIMIT, keys, args) ?? this.#run("LIMIT", (c) => evalScript(c, LIMIT, keys, args)),
      (message) => new CacheBackendError(`redis LIMIT: ${message}`),
      () => (isCluster(this.#connection.client) ? keySlot : undefined),
      // A lone call, written at once when the connection is ready (see LimitBatcher).
      (keys, args) => this.#connection.nowScript("LIMIT", LIMIT, keys, args),
      // 16 calls per script, not 32: more overlap with the server (100 calls issued together:
      // ~1.2× the calls per second); a command costs nothing here, where Upstash bills each.
      LIMIT_CALLS_PER_SCRIPT,
    );
  }

  // ---------------------------------------------------------------- lifecycle

  /** Connects (once; concurrent calls share the attempt). Rejects with {@link CacheBackendError} when unreachable. */
  init(): Promise<void> {
    return this.#connection.init();
  }

  /**
   * With `clientSide`: whether invalidations are armed (only then is the local copy used) and how
   * many entries the local copy holds, and `off` (why) when the server refused tracking (Redis < 6,
   * or an ACL without CLIENT/SUBSCRIBE: reads then always go to Redis); `undefined` without `clientSide`.
   * @example
   * const backend = createRedisBackend("redis://localhost:6379", { clientSide: true });
   * await backend.init();
   * backend.clientSideState(); // { armed: true, size: 0 }
   */
  clientSideState(): { armed: boolean; size: number; off?: string } | undefined {
    return this.#clientSide?.state();
  }

  /**
   * The invalidation bus of a local tier on this backend (`local` on Redis Cluster): PUBLISH on
   * the namespace's channel through this backend's connection, a subscriber on a node of the
   * cluster (its seeds until it is connected), a ping heartbeat every 2.5 s.
   * @example
   * const tier = withLocalTier(backend, { size: 10_000, ttl: 5_000 }, backend.invalidationBus());
   */
  invalidationBus(): Bus {
    const settings = this.#settings;
    const connection = this.#connection;
    return new RedisBus({
      channel: invalidationChannel(this.namespace),
      publish: (channel, message) => this.#run("PUBLISH", (c) => c.publish(channel, message)),
      nodes: () => {
        const client = connection.client as { isCluster?: boolean; nodes?: (role: "all") => Array<{ options: { host?: string; port?: number } }> } | undefined;
        const known = client?.isCluster && client.nodes ? client.nodes("all").map(({ options }) => ({ host: options.host ?? "127.0.0.1", port: options.port ?? 6379 })) : [];
        return known.length > 0 ? known : (settings.seeds ?? [{ host: settings.redisOptions?.host ?? "127.0.0.1", port: settings.redisOptions?.port ?? 6379 }]);
      },
      // Our own connection's credentials and TLS, or those of a supplied Cluster.
      redisOptions: pick(settings.redisOptions ?? (settings.userClient as { options?: { redisOptions?: RedisOptions } } | undefined)?.options?.redisOptions),
      timeout: Math.max(settings.timeout ?? 0, 1000),
      onMasterLost: (listener) => connection.onMasterLost(listener),
      heartbeatMs: 2_500,
      onError: (error) => settings.report(error instanceof Error ? error : new Error(String(error))),
    });
  }

  /** Disconnects (a supplied `client` is left open) and drops every listener and timer. */
  close(): Promise<void> {
    this.#reads.close();
    this.#limits.close();
    return this.#connection.close();
  }

  // ---------------------------------------------------------------- commands

  /**
   * GETs issued in the same tick are sent together as one MGET (a single GET when alone), after
   * the current synchronous work: 100 concurrent cache hits cost one round trip and one command.
   * Any other command flushes the pending batch first, so commands keep their issue order.
   *
   * Sequential reads skip the wait: while each recent tick issued one GET, the first GET of a tick
   * is sent at once (no batch, no microtask before the write). A tick that then issues more GETs
   * batches them as usual, and batching starts from the first GET again until a batch holds only
   * one: a burst costs one extra command at most once, and a sequential caller saves the deferral
   * on every read.
   */
  get(key: string): Promise<unknown> {
    return this.#get(key);
  }

  /** A GET, served from the copy within grace when it fails (clientSide with grace). */
  #get(key: string): Promise<unknown> {
    const read = this.#reads.get(key);
    const graced = this.#graced;
    return graced === undefined ? read : read.catch((error: unknown) => graced(key, error));
  }

  async getMany(keys: readonly string[]): Promise<unknown[]> {
    if (keys.length === 0) return [];
    if (this.#local !== undefined) return Promise.all(keys.map((key) => this.#get(key))); // one batch: a script call
    const values = await this.#run("MGET", (c) => mget(c, keys.map((key) => this.#ns.key(key))));
    return values.map((value) => (value === null ? MISSING : value));
  }

  async set(key: string, value: unknown, expireMs: number | undefined, exist?: boolean, tags?: readonly string[]): Promise<boolean> {
    this.#local?.invalidate(key);
    const args = setArgs(this.#ns.key(key), tags === undefined ? value : withTags(toText(value, "redis"), tags), expireMs);
    if (exist === true) args.push("XX");
    else if (exist === false) args.push("NX");
    const reply = await this.#run("SET", (c) => c.call("SET", ...args));
    return reply !== null;
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, expireMs: number | undefined): Promise<void> {
    if (this.#local !== undefined) for (const [key] of entries) this.#local.invalidate(key);
    if (entries.length === 0) return;
    const commands = entries.map(([key, value]) => setArgs(this.#ns.key(key), value, expireMs));
    // One MULTI (on a cluster: one per hash slot, sent together).
    await this.#run("MULTI/SET/EXEC", (c) => setAll(c, commands));
  }

  async incr(key: string, by: number, expireMs: number | undefined, tags?: readonly string[]): Promise<number> {
    this.#local?.invalidate(key);
    if (!Number.isSafeInteger(by)) throw new TypeError(`redis: incr needs an integer increment, got ${by}`);
    const ms = toPx(expireMs);
    const k = this.#ns.key(key);
    const tagged = (): Promise<unknown> => this.#run("TAG_INCR", (c) => evalScript(c, TAG_INCR, [k], [by, ms ?? -1, ...(tags ?? []).map(escapeTag)]));
    if (tags !== undefined && tags.length > 0) return Number(await tagged());
    try {
      return Number(ms === undefined ? await this.#run("INCRBY", (c) => c.incrby(k, by)) : await this.#run("INCR_EXPIRE", (c) => evalScript(c, INCR_EXPIRE, [k], [by, ms])));
    } catch (error) {
      // A counter that carries tags is no plain integer to INCRBY: the script reads it (and
      // rejects what is really not a counter the same way).
      if (!messageOf(error).includes("not an integer")) throw error;
      return Number(await tagged());
    }
  }

  async delete(key: string): Promise<boolean> {
    this.#local?.invalidate(key);
    return (await this.#run("UNLINK", (c) => c.unlink(this.#ns.key(key)))) > 0;
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    if (this.#local !== undefined) for (const key of keys) this.#local.invalidate(key);
    if (keys.length === 0) return 0;
    return this.#run("UNLINK", (c) => unlink(c, keys.map((key) => this.#ns.key(key))));
  }

  async deleteMatch(pattern: string): Promise<number> {
    this.#local?.flush();
    try {
      return await this.#unlinkMatching(this.#ns.pattern(pattern));
    } finally {
      this.#local?.flush(); // reads issued meanwhile may have filled values deleted since
    }
  }

  async *scan(pattern: string, batchSize: number): AsyncIterable<string> {
    const count = Number.isFinite(batchSize) && batchSize >= 1 ? Math.floor(batchSize) : 100;
    for await (const keys of this.#scanBatches(this.#ns.pattern(pattern), count)) {
      for (const key of keys) yield this.#ns.strip(key);
    }
  }

  async expire(key: string, expireMs: number | undefined): Promise<boolean> {
    this.#local?.invalidate(key);
    const k = this.#ns.key(key);
    const ms = toPx(expireMs);
    if (ms !== undefined) return (await this.#run("PEXPIRE", (c) => c.pexpire(k, ms))) === 1;
    // PERSIST answers 0 both for a missing key and for one without TTL: ask EXISTS in the same trip.
    const results = await this.#run("PERSIST/EXISTS", (c) => exec(c.multi().persist(k).exists(k)));
    return results[1]?.[1] === 1;
  }

  async getExpire(key: string): Promise<number> {
    return this.#run("PTTL", (c) => c.pttl(this.#ns.key(key)));
  }

  async exists(key: string): Promise<boolean> {
    return (await this.#run("EXISTS", (c) => c.exists(this.#ns.key(key)))) === 1;
  }

  async ping(message?: string): Promise<string> {
    const reply = await this.#run("PING", (c) => (message === undefined ? c.ping() : c.ping(message)));
    return String(reply);
  }

  async getKeysCount(): Promise<number> {
    if (this.#ns.verbatim) {
      return this.#run("DBSIZE", async (c) => (await Promise.all(masters(c).map((node) => node.dbsize()))).reduce((a, b) => a + b, 0));
    }
    // SCAN may return a key twice (while the table rehashes): count distinct keys.
    const seen = new Set<string>();
    for await (const keys of this.#scanBatches(this.#ns.pattern("*"), SCAN_COUNT)) {
      for (const key of keys) seen.add(key);
    }
    return seen.size;
  }

  async clear(): Promise<void> {
    this.#local?.flush();
    try {
      if (this.#ns.verbatim) {
        await this.#run("FLUSHDB", (c) => Promise.all(masters(c).map((node) => node.flushdb())));
        return;
      }
      await this.#unlinkMatching(this.#ns.pattern("*"));
    } finally {
      this.#local?.flush(); // reads issued meanwhile may have filled values deleted since
    }
  }

  async setLock(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.#local?.invalidate(key);
    const args = setArgs(this.#ns.key(key), value, ttlMs);
    args.push("NX");
    return (await this.#run("SET", (c) => c.call("SET", ...args))) !== null;
  }

  async unlock(key: string, value: string): Promise<boolean> {
    this.#local?.invalidate(key);
    const k = this.#ns.key(key);
    return Number(await this.#run("UNLOCK", (c) => evalScript(c, UNLOCK, [k], [value]))) === 1;
  }

  /**
   * The limiter's atomic step: the `LIMIT` script (EVALSHA, EVAL on NOSCRIPT) on the server's
   * clock, over the rule keys and the ban key of `<namespace>:{<key>}` (one hash slot on Cluster,
   * see `limitKeys`); the calls of one tick share one script (one per slot on Cluster).
   */
  limit(key: string, request: LimitRequest): Promise<LimitAnswer> {
    return this.#limits.limit(limitKeys(this.#ns.prefix, key, request.rules), request);
  }

  async slidingIncr(key: string, windowMs: number, limit: number): Promise<[count: number, resetMs: number]> {
    this.#local?.invalidate(key);
    const k = this.#ns.key(key);
    const args = slidingArgs(windowMs, limit);
    return slidingReply(await this.#run("SLIDING_INCR", (c) => evalScript(c, SLIDING_INCR, [k], args)));
  }

  async tagAdd(key: string, member: string, expireMs: number | undefined): Promise<void> {
    this.#local?.invalidate(key);
    const k = this.#ns.key(key);
    const ms = toPx(expireMs) ?? -1;
    await this.#run("TAG_ADD", (c) => evalScript(c, TAG_ADD, [k], [member, ms]));
  }

  async tagPop(key: string, count: number): Promise<TagPopped> {
    this.#local?.invalidate(key);
    const k = this.#ns.key(key);
    return poppedTags(await this.#run("TAG_POP", (c) => evalScript(c, TAG_POP, [k], [count])));
  }

  async tagDelete(tag: string, keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    if (this.#local !== undefined) for (const key of keys) this.#local.invalidate(key);
    const needle = tagNeedle(tag);
    // One script per key, on the key's own node (Cluster): sent together, not one after another.
    const replies = await this.#run("TAG_DELETE", (c) => Promise.all(keys.map((key) => evalScript(c, TAG_DELETE, [this.#ns.key(key)], [needle]))));
    return replies.reduce<number>((sum, reply) => sum + Number(reply), 0);
  }

  // ---------------------------------------------------------------- set commands
  // Sets are never values: the clientSide copy drops the key (a GET of it is WRONGTYPE anyway).

  async setAdd(key: string, members: readonly string[], expireMs: number | undefined): Promise<number> {
    this.#local?.invalidate(key);
    const k = this.#ns.key(key);
    return Number(await this.#run("SET_ADD", (c) => evalScript(c, SET_ADD, [k], [toPx(expireMs) ?? -1, ...members])));
  }

  async setRemove(key: string, members: readonly string[]): Promise<number> {
    this.#local?.invalidate(key);
    const k = this.#ns.key(key);
    return Number(await this.#run("SREM", (c) => c.srem(k, ...members)));
  }

  async setPop(key: string, count: number): Promise<string[]> {
    this.#local?.invalidate(key);
    const k = this.#ns.key(key);
    return ((await this.#run("SPOP", (c) => c.spop(k, count))) ?? []) as string[];
  }

  async setMembers(key: string): Promise<string[]> {
    const k = this.#ns.key(key);
    const reply = await this.#run("SMEMBERS", (c) => c.smembers(k));
    return reply.map(String);
  }

  // ---------------------------------------------------------------- internals

  /** SCANs the node, or each master of a cluster in turn (a master's keys never move mid-scan, save resharding). */
  async *#scanBatches(match: string, count: number): AsyncGenerator<string[]> {
    const nodes = await this.#run("SCAN", async (c) => masters(c));
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, keys] = await this.#run("SCAN", () => node.scan(cursor, "MATCH", match, "COUNT", count));
        cursor = next;
        if (keys.length > 0) yield keys;
      } while (cursor !== "0");
    }
  }

  async #unlinkMatching(match: string): Promise<number> {
    let deleted = 0;
    for await (const keys of this.#scanBatches(match, SCAN_COUNT)) {
      deleted += await this.#run("UNLINK", (c) => unlink(c, keys));
    }
    return deleted;
  }

  /** Runs one command, after sending any batched GETs issued before it (keeps issue order). */
  #run<T>(command: string, fn: (client: RedisClient) => Promise<T>): Promise<T> {
    this.#reads.flush();
    return this.#connection.send(command, fn);
  }

}

// ------------------------------------------------------------------ helpers

/** The credentials and TLS of `options` (what a subscriber connection to another node needs). */
function pick(options: RedisOptions | undefined): RedisOptions {
  return { username: options?.username, password: options?.password, tls: options?.tls };
}

function setArgs(key: string, value: unknown, expireMs: number | undefined): (string | number)[] {
  const args: (string | number)[] = [key, toText(value, "redis")];
  const ms = toPx(expireMs);
  if (ms !== undefined) args.push("PX", ms);
  return args;
}

function slidingReply(reply: unknown): [count: number, resetMs: number] {
  if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`unexpected SLIDING_INCR reply: ${String(reply)}`);
  return [Number(reply[0]), Math.max(0, Number(reply[1]))];
}


