/**
 * Redis URL parsing and the checks of a Redis setup that need no ioredis: run at `setup` (through
 * the scheme's `validate`) and again by the backend.
 * @module
 */
import { parseBackendUrl, rejectClash } from "../../config.js";
import { CacheConfigError } from "../../errors.js";
import type { BackendConfig } from "../types.js";

export interface RedisUrl {
  cluster: boolean;
  tls: boolean;
  host: string;
  port: number;
  db: number | undefined;
  username: string | undefined;
  password: string | undefined;
}

const fail = (why: string): never => {
  throw new CacheConfigError(`redis: ${why}`);
};
const later = (what: string): never => fail(`${what} is not implemented yet (coming in a later version)`);

/**
 * Parses `redis://[[user]:password@]host[:port][/db]`, `rediss://…` and `redis+cluster://…`
 * (no query string: options go in an object). Throws {@link CacheConfigError} for a bad URL.
 * @example
 * parseRedisUrl("rediss://:s3cret@cache.example.com:6380/2");
 * // { cluster: false, tls: true, host: "cache.example.com", port: 6380, db: 2, username: undefined, password: "s3cret" }
 */
export function parseRedisUrl(url: string): RedisUrl {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]!.toLowerCase();
  const cluster = scheme === "redis+cluster";
  if (!cluster && scheme !== "redis" && scheme !== "rediss") fail(`${JSON.stringify(url)} is not a redis:// or rediss:// URL`);
  const parsed = cluster ? undefined : parseBackendUrl("redis", url);
  const path = parsed?.pathname.slice(1) ?? "";
  if (!/^\d*$/.test(path)) fail(`the URL path must be a database number, got "/${path}"`);
  const decode = (text = ""): string | undefined => (text === "" ? undefined : decodeURIComponent(text));
  return {
    cluster,
    tls: scheme === "rediss",
    host: cluster ? "" : parsed!.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost",
    port: cluster ? 0 : Number(parsed!.port || 6379),
    db: path === "" ? undefined : Number(path),
    username: decode(parsed?.username),
    password: decode(parsed?.password),
  };
}

/** Everything about a Redis setup that can be wrong before connecting. Throws {@link CacheConfigError}. */
export function validateRedisConfig(config: BackendConfig): void {
  const options = config.options;
  if (options.clientSide === true) later("clientSide (client-side caching)");
  const url = parseRedisUrl(config.url);
  if (options.cluster === true || url.cluster) later("Redis Cluster (redis+cluster:// or cluster=1)");
  const client = options.client as { status?: unknown; sendCommand?: unknown; on?: unknown; isCluster?: boolean } | null | undefined;
  if (client !== undefined) {
    if (typeof client !== "object" || typeof client?.status !== "string" || typeof client.sendCommand !== "function" || typeof client.on !== "function") {
      fail(`option "client" must be an ioredis client (new Redis(...))`);
    }
    if (client!.isCluster === true) later("an ioredis Cluster client");
    const clash = ["db", "username", "password", "connectTimeout"].filter((name) => options[name] !== undefined);
    if (url.db !== undefined || url.username || url.password) clash.push("the URL's db/credentials");
    rejectClash("redis", clash);
  }
  const db = options.db;
  if (db !== undefined && !(Number.isInteger(db) && (db as number) >= 0)) fail(`option "db" must be an integer >= 0`);
}
