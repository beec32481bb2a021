/**
 * Redis URL parsing and the checks of a Redis setup that need no ioredis: run at `setup` (through
 * the scheme's `validate`) and again by the backend.
 * @module
 */
import { failer, parseBackendUrl, rejectClash } from "../../config/url.js";
import type { CacheConfigError } from "../../errors.js";
import type { BackendConfig } from "../types.js";

export interface RedisUrl {
  /** The scheme is `redis+cluster`. */
  cluster: boolean;
  tls: boolean;
  /** The (first) node. */
  host: string;
  port: number;
  /** Every node of the URL: one, or the seed nodes of a cluster (`h1:p1,h2:p2`). */
  nodes: { host: string; port: number }[];
  db: number | undefined;
  username: string | undefined;
  password: string | undefined;
}

const fail = failer("redis");

/**
 * Parses `redis://[[user]:password@]host[:port][/db]`, `rediss://…` and
 * `redis+cluster://[[user]:password@]host:port,host:port[/0]` (seed nodes of a cluster; a
 * `redis://` URL may list several too, with the `cluster` option). No query string: options go in
 * an object. Throws {@link CacheConfigError} for a bad URL (never quoting its password).
 * @example
 * parseRedisUrl("rediss://:s3cret@cache.example.com:6380/2");
 * // { cluster: false, tls: true, host: "cache.example.com", port: 6380, nodes: [{ host: "cache.example.com", port: 6380 }],
 * //   db: 2, username: undefined, password: "s3cret" }
 * parseRedisUrl("redis+cluster://10.0.0.1:7000,10.0.0.2:7000").nodes; // [{ host: "10.0.0.1", port: 7000 }, { host: "10.0.0.2", port: 7000 }]
 */
export function parseRedisUrl(url: string): RedisUrl {
  // What follows "redis" in the scheme: "" (redis://), "s" (rediss://) or "+cluster".
  const suffix = (/^redis(s|\+cluster)?:\/\//i.exec(url) ?? fail(`${JSON.stringify(url)} is not a redis:// or rediss:// URL`))[1]?.toLowerCase();
  const cluster = suffix === "+cluster";
  // `scheme://[userinfo@]h1:p1,h2:p2[/db]`: parsed as a URL on its first node.
  const [, head, hosts, tail] = /^(.*?\/\/(?:.*@)?)([^/@]*)(.*)$/s.exec(url)!;
  const seeds = hosts!.split(",");
  const shown = url.replace(/(\/\/[^@/]*:)[^@]*@/, "$1***@"); // never a password in a message
  // Each node alone: `new URL` checks its host and port, and must not rewrite it (e.g. a port "07000").
  if (cluster || seeds[1]) {
    for (const seed of seeds) {
      let href: string | undefined;
      try {
        href = new URL(`redis://${seed}`).href;
      } catch {}
      if (!seed || href !== `redis://${seed}` || /:0+$/.test(seed)) fail(`bad seed node ${JSON.stringify(seed)}: expected host:port (port 1-65535, IPv6 as [addr]:port)`);
    }
  }
  const parsed = parseBackendUrl(fail, shown, head! + seeds[0] + tail);
  const path = parsed.pathname.slice(1);
  if (!/^\d*$/.test(path)) fail(`the URL path must be a database number, got "/${path}"`);
  const decode = (text: string): string | undefined => (text ? decodeURIComponent(text) : undefined);
  const node = (u: URL) => ({ host: u.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost", port: Number(u.port || 6379) });
  const nodes = seeds.map((seed, i) => node(i ? new URL(`redis://${seed}`) : parsed));
  return {
    cluster,
    tls: suffix === "s",
    ...nodes[0]!,
    nodes,
    db: path === "" ? undefined : Number(path),
    username: decode(parsed.username),
    password: decode(parsed.password),
  };
}

/** Everything about a Redis setup that can be wrong before connecting. Throws {@link CacheConfigError}. */
export function validateRedisConfig(config: BackendConfig): void {
  const options = config.options;
  const url = parseRedisUrl(config.url);
  const client = options.client as { status?: unknown; sendCommand?: unknown; on?: unknown; isCluster?: boolean } | null | undefined;
  const cluster = options.cluster === true || url.cluster;
  const local = options.local as { size: number; ttl: number; grace: number } | undefined;
  if (local !== undefined && !cluster) {
    // `local` on Redis is clientSide: Redis tracking keeps the copy coherent; its ttl bounds an entry's
    // life; with grace, a read that fails while Redis is down serves the copy (RedisBackend.get).
    // On Cluster `local` is a local tier kept coherent by a pub/sub bus instead (redisModule, bus.ts).
    options.clientSide = true;
  }
  if (options.clientSide === true) {
    // Tracking is per node and needs connections of our own (one of them in RESP2 subscriber mode).
    if (client !== undefined) fail(`${local !== undefined ? `"local" on a single node is clientSide, which` : "clientSide"} opens its own connections: drop the "client" option, or ${local !== undefined ? `"local"` : "clientSide"} (on Redis Cluster a supplied Cluster client works with "local")`);
    if (cluster) fail("clientSide is not supported on Redis Cluster (tracking is per node): drop clientSide, or use a single node");
  }
  const selected = options.db ?? url.db;
  if ((cluster || client?.isCluster) && selected) fail(`Redis Cluster has database 0 only (no SELECT), got db ${selected}: use "namespace" to keep caches apart`);
  if (!cluster && url.nodes[1]) fail("several hosts need redis+cluster:// or cluster=1");
  if (client !== undefined) {
    if (typeof client !== "object" || typeof client?.status !== "string" || typeof client.sendCommand !== "function" || typeof client.on !== "function") {
      fail(`option "client" must be an ioredis client (new Redis(...))`);
    }
    if (cluster && !client!.isCluster) fail(`cluster needs an ioredis Cluster as "client"`);
    const fromUrl = url.db !== undefined || url.username || url.password ? ["the URL's db/credentials"] : [];
    rejectClash(fail, options, ["db", "username", "password", "connectTimeout"], fromUrl);
  }
  const db = options.db;
  if (db !== undefined && !(Number.isInteger(db) && (db as number) >= 0)) fail(`option "db" must be an integer >= 0`);
}
