/**
 * The Upstash backend: Redis over HTTP with @upstash/redis, on every runtime (Node, Bun, Deno,
 * Workers). Values are opaque strings (the codec above encodes them); keys live under
 * `<namespace>:`.
 *
 * Transport:
 * - every command issued in one tick goes out in ONE `POST /pipeline` request, in issue order, with
 *   adjacent GETs merged into one MGET: 100 concurrent cache hits are one request and one command.
 *   (@upstash/redis' own auto-pipelining splits reads from writes into separate requests, so it
 *   neither keeps the order nor merges GETs; the batching here replaces it for our commands.)
 * - commands go through the client's HTTP requester, below its command objects: replies are the
 *   raw (base64-decoded) strings, never JSON-parsed, whatever the client's `automaticDeserialization`.
 *   On Node, our own client's requests go through `node:http(s)` with a keep-alive agent instead of
 *   `fetch`, the same requests and replies at about half the CPU time (node-requester.ts).
 * - the limit calls of one tick are one `LIMIT` script per 32 calls (`LimitBatcher`, remote.ts),
 *   each in a request of its own (sent together, outside the tick's pipeline).
 * - every request is bounded by `timeout` (default 500 ms): an `AbortSignal.timeout` per request
 *   (function form, so an abort is an error and not a fake `"Aborted"` result) plus a deadline on
 *   the caller's side; network failures are retried `retries` times (default 1), 50 ms apart,
 *   within that same bound. A dead or slow endpoint costs at most ~`timeout` per command.
 * - a request that times out makes the endpoint "unresponsive": every further command fails at
 *   once, until a PING answers within `timeout`. No timer is started for it (Workers allow none
 *   outside a request): the first command refused after the back-off (100 ms, doubling up to 1 s)
 *   sends that PING, in its own request. A call that makes several commands in a row thus pays at
 *   most one timeout.
 * - the client is created on first use: setup does no I/O.
 * @module
 */
import { Redis } from "@upstash/redis";
import type { BackendModule } from "../../config/registry.js";
import { withLocalTier } from "../local/tier.js";
import { nodeRequester, type Requester } from "./node-requester.js";
import { CacheBackendError, CacheConfigError, messageOf } from "../../errors.js";
import { Responsiveness, withDeadline } from "../deadlines.js";
import { Namespace } from "../namespace.js";
import { createUpstashBusFor } from "./bus.js";
import { atTickEnd, durationsInMs, LimitBatcher, limitKeys, optionalMs, poppedTags, slidingArgs, toPx, toText } from "../remote.js";
import { GET_WITH_TTL, INCR_EXPIRE, LIMIT, SET_ADD, SLIDING_INCR, TAG_ADD, TAG_DELETE, TAG_INCR, TAG_POP, UNLOCK, type LuaScript } from "../scripts.js";
import { escapeTag, tagNeedle, withTags } from "../tagged.js";
import { MISSING, type Backend, type BackendConfig, type TagPopped, type LimitAnswer, type LimitRequest } from "../types.js";
import { resolveUpstashEndpoint } from "./spec.js";

/**
 * Per-request bound (ms) when no `timeout` is configured.
 * @example
 * cache.setup("upstash://eu1-example-12345.upstash.io", { token: env.UPSTASH_REDIS_REST_TOKEN, timeout: DEFAULT_TIMEOUT_MS * 2 });
 */
export const DEFAULT_TIMEOUT_MS = 500;
/**
 * Retries of a request that failed at the network level, when no `retries` is configured.
 * @example
 * cache.setup("upstash://eu1-example-12345.upstash.io", { token: env.UPSTASH_REDIS_REST_TOKEN, retries: DEFAULT_RETRIES + 1 });
 */
export const DEFAULT_RETRIES = 1;
/** Pause before a retry. */
const RETRY_BACKOFF_MS = 50;
/** SCAN `COUNT` hint for `deleteMatch`, `clear` and `getKeysCount`. */
const SCAN_COUNT = 500;
/** How many microtask hops a batch waits for more commands of the same tick. */
const MAX_SETTLE_HOPS = 8;
/** Longest server error text kept in an error message. */
const MAX_ERROR_TEXT = 300;

/**
 * Options of {@link createUpstashBackend} (the same names as the `upstash://` setup options).
 * @example
 * const backend = createUpstashBackend("upstash://eu1-example-12345.upstash.io", { token: env.UPSTASH_TOKEN, timeout: "1s", retries: 2 });
 */
export interface UpstashBackendOptions {
  /** REST token; default: the `UPSTASH_REDIS_REST_TOKEN` environment variable (Node, Bun, Deno). */
  token?: string;
  /** Key namespace, default `"cashews"`; `""` stores keys verbatim (and `clear()` flushes the db). */
  namespace?: string;
  /** Per-request bound (ms or a duration string), default 500 ms; `0` disables it. */
  timeout?: number | string;
  /** Retries of a request that failed at the network level (within `timeout`), default 1. */
  retries?: number;
  /** An existing @upstash/redis client (its URL, token and HTTP settings are used; never closed). */
  client?: Redis;
}

/**
 * Creates an Upstash backend without any I/O.
 * @param url `upstash://HOST` (https) or `upstash+http://HOST:PORT` (plain http), no query string.
 * @example
 * const backend = createUpstashBackend("upstash://eu1-example-12345.upstash.io", { token: "AX…" });
 * await backend.set("k", "v", 10_000);
 */
export function createUpstashBackend(url: string, options: UpstashBackendOptions = {}): UpstashBackend {
  return new UpstashBackend({ url, options: durationsInMs(options, ["timeout"], "upstash") });
}

/** Heartbeat (ms) of the local tier's bus: a subscription that went silent is given up within twice this. */
const LOCAL_BUS_HEARTBEAT_MS = 2_500;

/**
 * The module the `upstash://` schemes load: `create` builds an {@link UpstashBackend} from a setup
 * URL (without its query) and options.
 * @example
 * const backend = upstashModule.create({ url: "upstash://eu1-example-12345.upstash.io", options: { token: "AX…" } });
 */

export const upstashModule: BackendModule = {
  create: (config) => new UpstashBackend(config),
  // The `local` option's tier: carried by the backend module, so that a bundle without a remote store has none.
  // Coherent across instances through the invalidation bus (PUBLISH over REST, SSE subscription);
  // a silent stream is noticed within two heartbeats.
  localTier: (remote, options) => withLocalTier(remote, options, createUpstashBusFor(remote as UpstashBackend, { heartbeatMs: LOCAL_BUS_HEARTBEAT_MS })),
};

/** One `{result}` or `{error}` of a pipeline reply. */
interface Reply {
  result?: unknown;
  error?: string;
}

/** The part of an @upstash/redis client used here: its HTTP requester (`redis.client`). */
/** A queued command. `get` marks a GET that may merge with its neighbours into one MGET. */
interface Op {
  command: string[];
  get?: string;
  resolve(result: unknown): void;
  reject(error: unknown): void;
}

const noop = (): void => {};

/**
 * A {@link Backend} over the Upstash REST API: what `cache.setup("upstash://…")` creates. Use it
 * directly for raw string storage without the codec (values are strings).
 * @example
 * const backend = new UpstashBackend({ url: "upstash://eu1-example-12345.upstash.io", options: { token: "AX…" } });
 * await backend.set("greeting", "hello", 60_000);
 * await backend.get("greeting"); // "hello"
 */
export class UpstashBackend implements Backend {
  readonly kind = "upstash";
  readonly storesValues = false;
  /** The namespace keys are stored under (`""`: verbatim). */
  readonly namespace: string;

  readonly #ns: Namespace;
  readonly #timeout: number | undefined;
  readonly #retries: number;
  readonly #baseUrl: string;
  readonly #token: string | undefined;
  readonly #userClient: Redis | undefined;
  readonly #description: string;

  #client: Redis | undefined;
  #requester: Requester | undefined;
  #initialized = false;
  #initializing: Promise<void> | undefined;
  /** Down after a timeout: commands fail fast until a PING answers (never down without a timeout). */
  readonly #health: Responsiveness;

  /** Commands of the current tick, sent together by `#flush`. */
  #queue: Op[] = [];
  /** The limit calls of a tick, run as LIMIT scripts of 32 calls at most (see remote.ts). */
  readonly #limits = new LimitBatcher(
    // Each script in a request of its own, sent together: the server starts on the first while
    // the others are on the way, and this process works on each reply as it comes.
    (keys, args) => this.#eval(LIMIT, keys, args, true),
    (message) => this.#commandError("LIMIT", message),
  );

  constructor(config: BackendConfig) {
    const options = config.options;
    this.#ns = new Namespace(options.namespace, "upstash");
    this.namespace = this.#ns.name;
    this.#timeout = optionalMs(options.timeout, "timeout", DEFAULT_TIMEOUT_MS, "upstash");
    const retries = options.retries ?? DEFAULT_RETRIES;
    if (typeof retries !== "number" || !Number.isInteger(retries) || retries < 0) {
      throw new CacheConfigError(`upstash: option "retries" must be an integer >= 0, got ${String(retries)}`);
    }
    this.#retries = retries;
    const endpoint = resolveUpstashEndpoint(config.url, options);
    this.#baseUrl = endpoint.baseUrl;
    this.#token = endpoint.token;
    if (options.client !== undefined) {
      if (requesterOf(options.client) === undefined) {
        throw new CacheConfigError(
          `upstash: option "client" must be an @upstash/redis client (new Redis({ url, token }) from "@upstash/redis")`,
        );
      }
      this.#userClient = options.client as Redis;
      this.#description = "the supplied @upstash/redis client";
    } else {
      this.#description = this.#baseUrl;
    }
    this.#health = new Responsiveness({
      name: this.#description,
      ms: this.#timeout ?? 0,
      background: false, // probes only from a command: no timer outside a request on Workers
      probe: (signal) => this.#probe(signal),
    });
  }

  /**
   * The @upstash/redis client (created on first use; the supplied one when given), for commands
   * cashews does not offer. Ours has `automaticDeserialization: false` and the same bounds.
   * @example
   * const backend = createUpstashBackend("upstash://eu1-example-12345.upstash.io", { token: "AX…" });
   * await backend.client.hset("profile:1", { name: "Ada" });
   */
  get client(): Redis {
    return this.#ensureClient();
  }

  // ---------------------------------------------------------------- lifecycle

  /** Checks the endpoint and token with one PING (once). Rejects with {@link CacheBackendError} when unreachable. */
  async init(): Promise<void> {
    if (this.#initialized) return;
    this.#initializing ??= this.#call(["PING"]).then(
      () => {
        this.#initialized = true;
        this.#initializing = undefined;
      },
      (error: unknown) => {
        this.#initializing = undefined;
        throw error;
      },
    );
    await this.#initializing;
  }

  /** Nothing to release (HTTP); a later `init()` checks the endpoint again. Commands already issued still complete. */
  async close(): Promise<void> {
    this.#initialized = false;
    this.#health.stop(); // aborts a probe in flight
  }

  // ---------------------------------------------------------------- commands

  get(key: string): Promise<unknown> {
    const k = this.#ns.key(key);
    return this.#call(["GET", k], k).then(missing);
  }

  async getMany(keys: readonly string[]): Promise<unknown[]> {
    if (keys.length === 0) return [];
    const values = await this.#call(["MGET", ...keys.map((key) => this.#ns.key(key))]);
    if (!Array.isArray(values) || values.length !== keys.length) throw this.#unexpected("MGET", values);
    return values.map(missing);
  }

  /**
   * The value and remaining TTL (ms; -1: none, -2: missing) of `key` in one command (a script), as
   * the local tier fills its copy.
   * @example
   * const [raw, pttl] = await backend.getWithExpiry("k"); // ["…", 29950]
   */
  async getWithExpiry(key: string): Promise<[raw: unknown, pttl: number]> {
    return (await this.getManyWithExpiry([key]))[0]!;
  }

  /**
   * {@link UpstashBackend.getWithExpiry} for many keys: one command (one script over all of them,
   * billed as one), in input order.
   * @example
   * const [[raw, pttl]] = await backend.getManyWithExpiry(["k"]);
   */
  async getManyWithExpiry(keys: readonly string[]): Promise<Array<[raw: unknown, pttl: number]>> {
    if (keys.length === 0) return [];
    const reply = await this.#eval(GET_WITH_TTL, keys.map((key) => this.#ns.key(key)), []);
    if (!Array.isArray(reply) || reply.length !== 2 * keys.length) throw this.#unexpected("GET_WITH_TTL", reply);
    return keys.map((_, i) => [missing(reply[2 * i]), Number(reply[2 * i + 1])]);
  }

  async set(key: string, value: unknown, expireMs: number | undefined, exist?: boolean, tags?: readonly string[]): Promise<boolean> {
    const command = setCommand(this.#ns.key(key), tags === undefined ? value : withTags(toText(value, "upstash"), tags), expireMs);
    if (exist === true) command.push("XX");
    else if (exist === false) command.push("NX");
    return (await this.#call(command)) !== null;
  }

  async setMany(entries: ReadonlyArray<readonly [string, unknown]>, expireMs: number | undefined): Promise<void> {
    if (entries.length === 0) return;
    if (toPx(expireMs) === undefined) {
      // One command: MSET also removes any TTL the keys had, like SET.
      const command = ["MSET"];
      for (const [key, value] of entries) command.push(this.#ns.key(key), toText(value, "upstash"));
      await this.#call(command);
      return;
    }
    // Issued in one tick: one request.
    const commands = entries.map(([key, value]) => setCommand(this.#ns.key(key), value, expireMs));
    await Promise.all(commands.map((command) => this.#call(command)));
  }

  async incr(key: string, by: number, expireMs: number | undefined, tags?: readonly string[]): Promise<number> {
    if (!Number.isSafeInteger(by)) throw new TypeError(`upstash: incr needs an integer increment, got ${by}`);
    const ms = toPx(expireMs);
    const k = this.#ns.key(key);
    const tagged = (): Promise<unknown> => this.#eval(TAG_INCR, k, [String(by), String(ms ?? -1), ...(tags ?? []).map(escapeTag)]);
    if (tags !== undefined && tags.length > 0) return Number(await tagged());
    try {
      return Number(ms === undefined ? await this.#call(["INCRBY", k, String(by)]) : await this.#eval(INCR_EXPIRE, k, [String(by), String(ms)]));
    } catch (error) {
      // A counter that carries tags is no plain integer to INCRBY: the script reads it.
      if (!messageOf(error).includes("not an integer")) throw error;
      return Number(await tagged());
    }
  }

  async delete(key: string): Promise<boolean> {
    return Number(await this.#call(["UNLINK", this.#ns.key(key)])) > 0;
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    return Number(await this.#call(["UNLINK", ...keys.map((key) => this.#ns.key(key))]));
  }

  async deleteMatch(pattern: string): Promise<number> {
    return this.#unlinkMatching(this.#ns.pattern(pattern));
  }

  async *scan(pattern: string, batchSize: number): AsyncIterable<string> {
    const count = Number.isFinite(batchSize) && batchSize >= 1 ? Math.floor(batchSize) : 100;
    const match = this.#ns.pattern(pattern);
    let cursor = "0";
    do {
      const [next, keys] = await this.#scanOnce(cursor, match, count);
      cursor = next;
      for (const key of keys) yield this.#ns.strip(key);
    } while (cursor !== "0");
  }

  async expire(key: string, expireMs: number | undefined): Promise<boolean> {
    const k = this.#ns.key(key);
    const ms = toPx(expireMs);
    if (ms !== undefined) return Number(await this.#call(["PEXPIRE", k, String(ms)])) === 1;
    // PERSIST answers 0 both for a missing key and for one without TTL: ask EXISTS in the same request.
    const [, exists] = await Promise.all([this.#call(["PERSIST", k]), this.#call(["EXISTS", k])]);
    return Number(exists) === 1;
  }

  async getExpire(key: string): Promise<number> {
    return Number(await this.#call(["PTTL", this.#ns.key(key)]));
  }

  async exists(key: string): Promise<boolean> {
    return Number(await this.#call(["EXISTS", this.#ns.key(key)])) === 1;
  }

  async ping(message?: string): Promise<string> {
    return String(await this.#call(message === undefined ? ["PING"] : ["PING", message]));
  }

  async getKeysCount(): Promise<number> {
    if (this.#ns.verbatim) return Number(await this.#call(["DBSIZE"]));
    // SCAN may return a key twice (while the table rehashes): count distinct keys.
    const seen = new Set<string>();
    const match = this.#ns.pattern("*");
    let cursor = "0";
    do {
      const [next, keys] = await this.#scanOnce(cursor, match, SCAN_COUNT);
      cursor = next;
      for (const key of keys) seen.add(key);
    } while (cursor !== "0");
    return seen.size;
  }

  async clear(): Promise<void> {
    if (this.#ns.verbatim) {
      await this.#call(["FLUSHDB"]);
      return;
    }
    await this.#unlinkMatching(this.#ns.pattern("*"));
  }

  async setLock(key: string, value: string, ttlMs: number): Promise<boolean> {
    const command = setCommand(this.#ns.key(key), value, ttlMs);
    command.push("NX");
    return (await this.#call(command)) !== null;
  }

  async unlock(key: string, value: string): Promise<boolean> {
    return Number(await this.#eval(UNLOCK, this.#ns.key(key), [value])) === 1;
  }

  /**
   * The limiter's atomic step: the `LIMIT` script (EVALSHA, EVAL on NOSCRIPT) on the server's
   * clock, over the rule keys and the ban key of `<namespace>:{<key>}` (see `limitKeys`); the
   * calls of one tick share one script: one command, however many calls.
   */
  limit(key: string, request: LimitRequest): Promise<LimitAnswer> {
    return this.#limits.limit(limitKeys(this.#ns.prefix, key, request.rules), request);
  }

  async slidingIncr(key: string, windowMs: number, limit: number): Promise<[count: number, resetMs: number]> {
    const reply = await this.#eval(SLIDING_INCR, this.#ns.key(key), slidingArgs(windowMs, limit));
    if (!Array.isArray(reply) || reply.length !== 2) throw this.#unexpected("SLIDING_INCR", reply);
    return [Number(reply[0]), Math.max(0, Number(reply[1]))];
  }

  async tagAdd(key: string, member: string, expireMs: number | undefined): Promise<void> {
    const ms = toPx(expireMs);
    await this.#eval(TAG_ADD, this.#ns.key(key), [member, String(ms ?? -1)]);
  }

  async tagPop(key: string, count: number): Promise<TagPopped> {
    const reply = await this.#eval(TAG_POP, this.#ns.key(key), [String(count)]);
    if (reply !== null && !Array.isArray(reply)) throw this.#unexpected("TAG_POP", reply);
    return poppedTags(reply);
  }

  async tagDelete(tag: string, keys: readonly string[]): Promise<number> {
    const needle = tagNeedle(tag);
    // Issued in one tick: one request.
    const replies = await Promise.all(keys.map((key) => this.#eval(TAG_DELETE, this.#ns.key(key), [needle])));
    return replies.reduce<number>((sum, reply) => sum + Number(reply), 0);
  }

  // ---------------------------------------------------------------- set commands

  async setAdd(key: string, members: readonly string[], expireMs: number | undefined): Promise<number> {
    return Number(await this.#eval(SET_ADD, this.#ns.key(key), [String(toPx(expireMs) ?? -1), ...members]));
  }

  async setRemove(key: string, members: readonly string[]): Promise<number> {
    return Number(await this.#call(["SREM", this.#ns.key(key), ...members]));
  }

  async setPop(key: string, count: number): Promise<string[]> {
    const reply = await this.#call(["SPOP", this.#ns.key(key), String(count)]);
    return Array.isArray(reply) ? reply.map(String) : [];
  }

  async setMembers(key: string): Promise<string[]> {
    const reply = await this.#call(["SMEMBERS", this.#ns.key(key)]);
    if (!Array.isArray(reply)) throw this.#unexpected("SMEMBERS", reply);
    return reply.map(String);
  }

  // ---------------------------------------------------------------- internals

  async #scanOnce(cursor: string, match: string, count: number): Promise<[string, string[]]> {
    const reply = await this.#call(["SCAN", cursor, "MATCH", match, "COUNT", String(count)]);
    if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) throw this.#unexpected("SCAN", reply);
    return [String(reply[0]), (reply[1] as unknown[]).map(String)];
  }

  /** SCAN + UNLINK; each batch's UNLINK travels in the same request as the next SCAN. */
  async #unlinkMatching(match: string): Promise<number> {
    const unlinks: Promise<unknown>[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await this.#scanOnce(cursor, match, SCAN_COUNT);
      cursor = next;
      if (keys.length > 0) {
        const unlink = this.#call(["UNLINK", ...keys]);
        unlink.catch(noop); // awaited below; a failing SCAN meanwhile must not leave it unhandled
        unlinks.push(unlink);
      }
    } while (cursor !== "0");
    let deleted = 0;
    for (const count of await Promise.all(unlinks)) deleted += Number(count);
    return deleted;
  }

  /** `EVALSHA`, falling back to `EVAL` (which also caches the script) when the server answers `NOSCRIPT`. */
  async #eval(script: LuaScript, key: string | readonly string[], args: string[], alone = false): Promise<unknown> {
    const keys = typeof key === "string" ? [key] : key;
    try {
      return await this.#call(["EVALSHA", script.sha1, String(keys.length), ...keys, ...args], undefined, alone);
    } catch (error) {
      if (!messageOf(error).includes("NOSCRIPT")) throw error;
      return this.#call(["EVAL", script.lua, String(keys.length), ...keys, ...args], undefined, alone);
    }
  }

  /**
   * Queues one command for this tick's request (`alone`: sends it now, in a request of its own);
   * resolves its raw reply or rejects with {@link CacheBackendError}.
   */
  #call(command: string[], get?: string, alone = false): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (alone) {
        this.#send([{ command, resolve, reject }]);
        return;
      }
      if (this.#queue.push({ command, get, resolve, reject }) === 1) atTickEnd(this.#size, this.#flush, MAX_SETTLE_HOPS);
    });
  }

  readonly #size = (): number => this.#queue.length;

  /** Sends the tick's commands as one pipeline request, adjacent GETs merged into one MGET. */
  readonly #flush = (): void => {
    const ops = this.#queue;
    this.#queue = [];
    this.#send(ops);
  };

  /** Sends `ops` as one pipeline request. */
  #send(ops: Op[]): void {
    if (ops.length === 0) return;
    if (this.#health.down) {
      const reason = this.#health.refuse();
      const cause = this.#health.cause;
      for (const op of ops) op.reject(new CacheBackendError(`upstash ${op.command[0]}: ${reason}`, { cause }));
      return;
    }
    const body: string[][] = [];
    const handlers: ((reply: Reply) => void)[] = [];
    for (let i = 0; i < ops.length; ) {
      let end = i + 1;
      if (ops[i]!.get !== undefined) while (end < ops.length && ops[end]!.get !== undefined) end++;
      if (end - i > 1) {
        const group = ops.slice(i, end);
        body.push(["MGET", ...group.map((op) => op.get!)]);
        handlers.push((reply) => {
          if (reply.error !== undefined) {
            for (const op of group) op.reject(this.#commandError("GET", reply.error));
          } else if (!Array.isArray(reply.result) || reply.result.length !== group.length) {
            for (const op of group) op.reject(this.#unexpected("MGET", reply.result));
          } else {
            const values = reply.result as unknown[];
            group.forEach((op, n) => op.resolve(values[n]));
          }
        });
      } else {
        const op = ops[i]!;
        body.push(op.command);
        handlers.push((reply) => {
          if (reply.error !== undefined) op.reject(this.#commandError(op.command[0]!, reply.error));
          else op.resolve(reply.result);
        });
      }
      i = end;
    }
    this.#post(body).then(
      (replies) => {
        replies.forEach((reply, n) => handlers[n]!(reply));
      },
      (error: unknown) => {
        if (isTimeout(error)) this.#health.markDown(error);
        const names = [...new Set(ops.map((op) => op.command[0]))].join("/");
        const wrapped = new CacheBackendError(`upstash ${names}: ${this.#reason(error)}`, { cause: error });
        for (const op of ops) op.reject(wrapped);
      },
    );
  }

  /** One `POST /pipeline`, bounded by `timeout`. */
  async #post(body: string[][]): Promise<Reply[]> {
    const requester = this.#ensureRequester();
    const timeout = this.#timeout;
    const request = requester.request({
      path: ["pipeline"],
      body,
      // Function form: an abort rejects (the object form would resolve with a fake "Aborted" result).
      ...(timeout !== undefined ? { signal: () => AbortSignal.timeout(timeout) } : {}),
    });
    const replies =
      timeout === undefined
        ? await request
        : await withDeadline(request, timeout, () => timeoutError(`timed out after ${timeout} ms`));
    if (!Array.isArray(replies) || replies.length !== body.length) throw this.#unexpected("pipeline", replies);
    return replies as Reply[];
  }

  /** The probe of an unresponsive endpoint: one PING in a request of its own (bounded and aborted by the caller). */
  async #probe(signal: AbortSignal): Promise<void> {
    const replies = await this.#ensureRequester().request({ path: ["pipeline"], body: [["PING"]], signal: () => signal });
    const reply = Array.isArray(replies) ? (replies[0] as Reply | undefined) : undefined;
    if (reply === undefined || reply.error !== undefined) throw this.#unexpected("PING", replies);
  }

  #ensureRequester(): Requester {
    if (this.#requester) return this.#requester;
    // Our own client on Node: node:http (see node-requester.ts); a supplied client keeps its own.
    if (!this.#userClient) this.#requester = nodeRequester(this.#baseUrl, this.#token!, this.#retries, RETRY_BACKOFF_MS);
    this.#requester ??= requesterOf(this.#ensureClient());
    if (!this.#requester) throw new Error("the @upstash/redis client has no HTTP requester");
    return this.#requester;
  }

  #ensureClient(): Redis {
    if (this.#userClient) return this.#userClient;
    if (this.#client) return this.#client;
    const timeout = this.#timeout;
    this.#client = new Redis({
      url: this.#baseUrl,
      token: this.#token!,
      // Our values are codec strings: never reinterpret them as JSON.
      automaticDeserialization: false,
      retry: this.#retries === 0 ? false : { retries: this.#retries, backoff: () => RETRY_BACKOFF_MS },
      ...(timeout !== undefined ? { signal: () => AbortSignal.timeout(timeout) } : {}),
    });
    return this.#client;
  }

  #commandError(command: string, error: string): CacheBackendError {
    return new CacheBackendError(`upstash ${command}: ${clip(error)}`);
  }

  #unexpected(command: string, reply: unknown): CacheBackendError {
    let shown: string;
    try {
      shown = clip(JSON.stringify(reply) ?? String(reply));
    } catch {
      shown = typeof reply;
    }
    return new CacheBackendError(`upstash ${command}: unexpected reply from ${this.#description}: ${shown}`);
  }

  /** A transport failure as text: a timeout says so, a network error names its code, a server error drops the echoed command (values). */
  #reason(error: unknown): string {
    const name = error instanceof Error ? error.name : "";
    if (name === "TimeoutError" || name === "AbortError") return `timed out after ${this.#timeout} ms (${this.#description})`;
    let text = messageOf(error).replace(/, command was: [\s\S]*$/, "");
    const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
    const detail = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : "";
    if (detail && !text.includes(detail)) text += ` (${detail})`;
    return `${clip(text)} (${this.#description})`;
  }
}

// ------------------------------------------------------------------ helpers

function requesterOf(client: unknown): Requester | undefined {
  if (typeof client !== "object" || client === null) return undefined;
  const inner = (client as { client?: unknown }).client;
  if (typeof inner !== "object" || inner === null) return undefined;
  return typeof (inner as Requester).request === "function" ? (inner as Requester) : undefined;
}

function missing(value: unknown): unknown {
  return value ?? MISSING;
}

function setCommand(key: string, value: unknown, expireMs: number | undefined): string[] {
  const command = ["SET", key, toText(value, "upstash")];
  const ms = toPx(expireMs);
  if (ms !== undefined) command.push("PX", String(ms));
  return command;
}


function timeoutError(message: string): Error {
  const error = new Error(message);
  error.name = "TimeoutError";
  return error;
}

/** A request that was not answered in time (our deadline, or the fetch's `AbortSignal.timeout`). */
function isTimeout(error: unknown): error is Error {
  return error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
}

function clip(text: string): string {
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text;
}
