/**
 * Redis Cluster for the Redis backend: the ioredis `Cluster` client with the same safety options as
 * the single-node client, and the multi-key commands split by hash slot (a cluster refuses a
 * multi-key command whose keys live in different slots with `CROSSSLOT`).
 *
 * Every helper takes either client: on a single node it sends the one command it always sent.
 * @internal
 * @module
 */
import { Cluster } from "ioredis";
import type { ChainableCommander, ClusterOptions, Redis, RedisOptions } from "ioredis";
import { messageOf } from "../../errors.js";
import type { LuaScript } from "../scripts.js";
import { groupBySlot } from "./slots.js";

/** The client of a Redis backend: one node, or a cluster. */
export type RedisClient = Redis | Cluster;

/** Whether `client` is an ioredis `Cluster` (ioredis marks it with `isCluster`). */
export function isCluster(client: unknown): client is Cluster {
  return (client as { isCluster?: unknown } | null)?.isCluster === true;
}

/** What {@link createCluster} needs besides the seed nodes. */
export interface ClusterSettings {
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
  /** Bound (ms) on connecting to a node and on refreshing the slot map; 0: ioredis' defaults. */
  connectTimeout: number;
  disconnectTimeout: number;
  /** Delay before the next attempt to reach the cluster (never gives up). */
  reconnectDelay: (attempt: number) => number;
}

/**
 * A lazy ioredis `Cluster` on `nodes` (the seeds; the others are discovered), "safe" like the
 * single-node client: commands sent only while ready, no retries per request, no resending (also not after a
 * connection closed under a command: `retryDelayOnFailover: 0`), reads from masters only, and a
 * bounded back-off that keeps reconnecting in the background.
 */
export function createCluster(nodes: ReadonlyArray<{ host: string; port: number }>, settings: ClusterSettings): Cluster {
  const redisOptions: ClusterOptions["redisOptions"] & RedisOptions = {
    ...(settings.username ? { username: settings.username } : {}),
    ...(settings.password ? { password: settings.password } : {}),
    ...(settings.tls ? { tls: {} } : {}),
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: settings.connectTimeout || undefined,
    disconnectTimeout: settings.disconnectTimeout,
  };
  return new Cluster(
    nodes.map(({ host, port }) => ({ host, port })),
    {
      lazyConnect: true,
      // Unlike the single-node client's, this queue must stay on: with it off, ioredis refuses a
      // command for a node whose connection is still being made ("Connection is closed."), and
      // node connections are made lazily, on their first command. It holds nothing in practice:
      // the backend only sends while the cluster is "ready" (otherwise it waits or fails fast),
      // and then each command goes to its node's connection (whose own queue, while it connects,
      // is bounded by connectTimeout and flushed with an error if the connection fails).
      enableOfflineQueue: true,
      scaleReads: "master",
      clusterRetryStrategy: (attempt) => settings.reconnectDelay(attempt),
      // A command whose connection closed may have been applied: never send it again.
      retryDelayOnFailover: 0,
      // CLUSTERDOWN (a master failed, no replica promoted yet): fail at once, in safe mode a miss,
      // rather than resend every 100 ms until `timeout`, which would take the backend for
      // unresponsive (every slot refused until a probe answers) beyond the promotion.
      retryDelayOnClusterDown: 0,
      ...(settings.connectTimeout ? { slotsRefreshTimeout: settings.connectTimeout } : {}),
      redisOptions,
    },
  );
}

/** `MGET keys` in key order; on a cluster one MGET per slot, sent together. (Not async: no extra promise on one node.) */
export function mget(client: RedisClient, keys: string[]): Promise<(string | null)[]> {
  return isCluster(client) ? clusterMget(client, keys) : client.mget(keys);
}

async function clusterMget(client: Cluster, keys: string[]): Promise<(string | null)[]> {
  const groups = groupBySlot(keys);
  if (groups.length === 1) return client.mget(keys);
  const values = new Array<string | null>(keys.length);
  await Promise.all(
    groups.map(async (group) => {
      const reply = await client.mget(group.map((i) => keys[i]!));
      for (let j = 0; j < group.length; j++) values[group[j]!] = reply[j] ?? null;
    }),
  );
  return values;
}

/** `UNLINK keys`; on a cluster one UNLINK per slot. Resolves how many keys existed. */
export function unlink(client: RedisClient, keys: string[]): Promise<number> {
  return isCluster(client) ? clusterUnlink(client, keys) : client.unlink(keys);
}

async function clusterUnlink(client: Cluster, keys: string[]): Promise<number> {
  const groups = groupBySlot(keys);
  if (groups.length === 1) return client.unlink(keys);
  const counts = await Promise.all(groups.map((group) => client.unlink(group.map((i) => keys[i]!))));
  return counts.reduce((sum, n) => sum + n, 0);
}

/**
 * Sends each `SET` (arguments from the key on) in a MULTI transaction; on a cluster one
 * transaction per slot (atomic per slot, not across slots), sent together.
 */
export async function setAll(client: RedisClient, commands: ReadonlyArray<(string | number)[]>): Promise<void> {
  const groups = isCluster(client) ? groupBySlot(commands.map((args) => String(args[0]))) : [commands.map((_, i) => i)];
  await Promise.all(
    groups.map(async (group) => {
      const multi = client.multi();
      for (const i of group) multi.call("SET", ...commands[i]!);
      await exec(multi);
    }),
  );
}

/** Sends a MULTI transaction: its replies, or the error of the first command that failed. */
export async function exec(multi: ChainableCommander): Promise<[error: Error | null, reply: unknown][]> {
  const results = await multi.exec();
  if (!results) throw new Error("the transaction was aborted");
  const failed = results.find(([error]) => error);
  if (failed) throw failed[0];
  return results;
}

/**
 * `EVALSHA` of `script` over `keys`, falling back to `EVAL` (which also caches the script) when the
 * server answers `NOSCRIPT`. No async frame of its own: a limit call sent alone pays only the round trip.
 */
export function evalScript(client: RedisClient, script: LuaScript, keys: readonly string[], args: readonly (string | number)[] = []): Promise<unknown> {
  // ioredis flattens an array argument: one array (spread: `concat` looks up isConcatSpreadable).
  const items = [...keys, ...args] as string[];
  return client.evalsha(script.sha1, keys.length, items).catch((error: unknown) => {
    if (!messageOf(error).startsWith("NOSCRIPT")) throw error;
    return client.eval(script.lua, keys.length, items);
  });
}

/** The nodes that hold the keys: the client itself, or every master of a cluster. */
export function masters(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes("master") : [client];
}
