/**
 * Redis URL parsing and the checks of a Redis setup that need no ioredis: run at `setup` (through
 * the scheme's `validate`) and again by the backend.
 * @module
 */
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

/** Parses `redis://[[user]:password@]host[:port][/db]`, `rediss://…` and `redis+cluster://…`. */
export function parseRedisUrl(url: string): RedisUrl {
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  const scheme = match?.[1]?.toLowerCase();
  if (scheme === "redis+cluster") {
    return { cluster: true, tls: false, host: "", port: 0, db: undefined, username: undefined, password: undefined };
  }
  if (scheme !== "redis" && scheme !== "rediss") {
    throw new CacheConfigError(`redis: ${JSON.stringify(url)} is not a redis:// or rediss:// URL`);
  }
  if (url.includes("?")) {
    throw new CacheConfigError(`redis: pass options as an object, not in the URL's query (${JSON.stringify(url)})`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new CacheConfigError(`redis: invalid URL ${JSON.stringify(url)}`, { cause: error });
  }
  if (parsed.hash) throw new CacheConfigError(`redis: invalid URL ${JSON.stringify(url)} (it has a fragment)`);
  const path = parsed.pathname.replace(/^\//, "");
  if (path !== "" && !/^\d+$/.test(path)) {
    throw new CacheConfigError(`redis: the URL path must be a database number, got "/${path}"`);
  }
  const decode = (text: string): string | undefined => (text === "" ? undefined : decodeURIComponent(text));
  return {
    cluster: false,
    tls: scheme === "rediss",
    host: parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost",
    port: parsed.port === "" ? 6379 : Number(parsed.port),
    db: path === "" ? undefined : Number(path),
    username: decode(parsed.username),
    password: decode(parsed.password),
  };
}

/** Everything about a Redis setup that can be wrong before connecting. Throws {@link CacheConfigError}. */
export function validateRedisConfig(config: BackendConfig): void {
  const options = config.options;
  if (options.clientSide === true) {
    throw new CacheConfigError(
      "redis: clientSide (client-side caching) is not implemented yet; it arrives in a later version of cashews",
    );
  }
  const url = parseRedisUrl(config.url);
  if (options.cluster === true || url.cluster) {
    throw new CacheConfigError(
      "redis: Redis Cluster (redis+cluster:// or cluster=1) is not implemented yet; it arrives in a later version of cashews",
    );
  }
  if (options.client !== undefined) {
    const client = options.client as { status?: unknown; sendCommand?: unknown; on?: unknown; isCluster?: boolean } | null;
    if (
      typeof client !== "object" ||
      client === null ||
      typeof client.status !== "string" ||
      typeof client.sendCommand !== "function" ||
      typeof client.on !== "function"
    ) {
      throw new CacheConfigError(`redis: option "client" must be an ioredis client (new Redis(...))`);
    }
    if (client.isCluster === true) {
      throw new CacheConfigError("redis: an ioredis Cluster client is not supported yet; it arrives in a later version of cashews");
    }
    const clash = ["db", "username", "password", "connectTimeout"].filter((name) => options[name] !== undefined);
    if (url.db !== undefined || url.username || url.password) clash.push("the URL's db/credentials");
    if (clash.length > 0) {
      throw new CacheConfigError(`redis: with option "client", configure ${clash.join(", ")} on the client itself`);
    }
  }
  const db = options.db;
  if (db !== undefined && (typeof db !== "number" || !Number.isInteger(db) || db < 0)) {
    throw new CacheConfigError(`redis: option "db" must be an integer >= 0`);
  }
}
