/**
 * The Redis backend's options: their names and defaults, and what a backend config makes of them
 * ({@link readSettings}): the bounds, the error listener, and the options of the ioredis client
 * (or the supplied client, or a cluster's seed nodes).
 * @module
 */
import type { Cluster, Redis, RedisOptions } from "ioredis";
import { CacheConfigError } from "../../errors.js";
import { optionalMs } from "../remote.js";
import type { BackendConfig } from "../types.js";
import type { RedisClient } from "./cluster.js";
import { parseRedisUrl } from "./url.js";

/**
 * Per-command bound (ms) when no `timeout` is configured.
 * @example
 * cache.setup("redis://localhost:6379", { timeout: DEFAULT_TIMEOUT_MS * 2 }); // 1 s per command
 */
export const DEFAULT_TIMEOUT_MS = 500;
/**
 * Bound (ms) on establishing a connection when no `connectTimeout` is configured.
 * @example
 * cache.setup("redis://redis.internal:6379", { connectTimeout: DEFAULT_CONNECT_TIMEOUT_MS * 5 });
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
/**
 * Longest pause (ms) between two reconnect attempts: a backend that comes back is used again
 * within about this long.
 * @example
 * await sleep(MAX_RECONNECT_DELAY_MS); // in a test: give the client time to reconnect
 */
export const MAX_RECONNECT_DELAY_MS = 2000;
/** ioredis' `disconnectTimeout` (its default, 2 s, keeps a closed process alive that long). */
export const DISCONNECT_TIMEOUT_MS = 100;

/**
 * Options of {@link createRedisBackend} (the same names as the `redis://` setup options).
 * @example
 * const backend = createRedisBackend("redis://localhost:6379", { db: 2, namespace: "jobs", timeout: "200ms", connectTimeout: "1s" });
 */
export interface RedisBackendOptions {
  /** Key namespace, default `"cashews"`; `""` stores keys verbatim (and `clear()` flushes the db). */
  namespace?: string;
  /** Database number; overrides the one in the URL path. */
  db?: number;
  username?: string;
  password?: string;
  /** Per-command bound (ms or a duration string), default 500 ms; `0` disables it. */
  timeout?: number | string;
  /** Bound on establishing a connection (ms or a duration string), default 2 s. */
  connectTimeout?: number | string;
  /** An existing ioredis client (`new Redis(…)` or `new Cluster(…)`), used as is and never closed by the backend. */
  client?: Redis | Cluster;
  /**
   * Keep a local copy of what this process reads, kept coherent by Redis server-assisted
   * client-side caching (one extra connection receives invalidations). Not with `client` or Cluster.
   */
  clientSide?: boolean;
  /**
   * Redis Cluster (also implied by a `redis+cluster://` URL): the URL's hosts are seed nodes, the
   * others are discovered; multi-key commands are split by hash slot, scans reach every master.
   */
  cluster?: boolean;
  /**
   * Receives connection errors, and once per outage the server turning unresponsive (otherwise
   * they are swallowed; commands still reject).
   */
  onError?: (error: Error) => void;
}

/** What a Redis backend's config says of its connection (see {@link readSettings}). */
export interface RedisSettings {
  /** Per-command bound (ms); undefined: none (`timeout: 0`). */
  readonly timeout: number | undefined;
  /** Bound on establishing a connection (ms); 0: ioredis' default. */
  readonly connectTimeout: number;
  /** Hands an error to the `onError` listener, if any. */
  readonly report: (error: Error) => void;
  /** The supplied client (`client`): used as is, never closed. */
  readonly userClient: RedisClient | undefined;
  /** The options of our own client (undefined with a supplied client). */
  readonly redisOptions: RedisOptions | undefined;
  /** Redis Cluster: the seed nodes (undefined: a single node). */
  readonly seeds: { host: string; port: number }[] | undefined;
  /** The server as error messages name it. */
  readonly description: string;
}

/** Reads (and checks) the options of a Redis backend config and its URL. */
export function readSettings(config: BackendConfig): RedisSettings {
  const options = config.options;
  const timeout = optionalMs(options.timeout, "timeout", DEFAULT_TIMEOUT_MS, "redis");
  const connectTimeout = optionalMs(options.connectTimeout, "connectTimeout", DEFAULT_CONNECT_TIMEOUT_MS, "redis") ?? 0;
  const onError = typeof options.onError === "function" ? (options.onError as (error: Error) => void) : undefined;
  let userClient: RedisClient | undefined;
  let redisOptions: RedisOptions | undefined;
  let seeds: { host: string; port: number }[] | undefined;
  let description: string;

  const url = parseRedisUrl(config.url);
  if (options.client !== undefined) {
    const client = options.client as Partial<RedisClient>;
    userClient = client as RedisClient;
    description = "the supplied ioredis client";
  } else {
    const db = (options.db as number | undefined) ?? url.db ?? 0;
    const username = stringOption(options.username, "username") ?? url.username;
    const password = stringOption(options.password, "password") ?? url.password;
    redisOptions = {
      host: url.host,
      port: url.port,
      db,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(url.tls ? { tls: {} } : {}),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: connectTimeout || undefined,
      disconnectTimeout: DISCONNECT_TIMEOUT_MS,
      // No `commandTimeout`: its timer per command (and the `delete` that clears it, which turns
      // every command object into a slow dictionary) costs more than a loopback round trip.
      // The connection's Deadlines bound every command with one timer instead.
      retryStrategy: reconnectDelay,
      reconnectOnError: (error: Error) => error.message.startsWith("READONLY"),
    };
    description = `${url.tls ? "rediss" : "redis"}://${url.host.includes(":") ? `[${url.host}]` : url.host}:${url.port}/${db}`;
    if (options.cluster === true || url.cluster) {
      seeds = url.nodes;
      const nodes = url.nodes.map(({ host, port }) => `${host.includes(":") ? `[${host}]` : host}:${port}`);
      description = `${url.tls ? "rediss" : "redis"}+cluster://${nodes.join(",")}`;
    }
  }
  const report = (error: Error): void => {
    if (onError) {
      try {
        onError(error);
      } catch {
        // a failing listener must not break the connection handling
      }
    }
  };
  return { timeout, connectTimeout, report, userClient, redisOptions, seeds, description };
}

/** Capped exponential back-off with jitter: 50 ms, 100 ms, … up to {@link MAX_RECONNECT_DELAY_MS}. Never gives up. */
export function reconnectDelay(attempt: number): number {
  const base = Math.min(50 * 2 ** Math.min(Math.max(attempt - 1, 0), 16), MAX_RECONNECT_DELAY_MS);
  return base + Math.floor(Math.random() * 100);
}

function stringOption(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new CacheConfigError(`redis: option "${name}" must be a string`);
  return value;
}
