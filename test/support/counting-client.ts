// An ioredis client that counts the commands it sends, by name, as they go on the wire (the
// redis:// backend coalesces concurrent GETs into one MGET, so counting calls would mislead).
// Used by the child processes that drive a cache on a client of their own.
import { Cluster, Redis } from "ioredis";
import { parseRedisUrl } from "../../src/backends/redis/url.js";

/**
 * A lazy ioredis client for `url`: a `Cluster` on the seed nodes of a `redis+cluster://` URL,
 * else a single-node client.
 */
export function rawClient(url: string): Redis | Cluster {
  if (!/^redis\+cluster:/i.test(url)) return new Redis(url, { lazyConnect: true });
  const parsed = parseRedisUrl(url);
  return new Cluster(parsed.nodes, { lazyConnect: true, redisOptions: parsed.password ? { password: parsed.password } : {} });
}

/** A connected client and its command counts (mutated as commands are sent). */
export async function countingClient(url: string): Promise<{ client: Redis | Cluster; commands: Record<string, number> }> {
  const client = rawClient(url);
  const commands: Record<string, number> = {};
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    commands[command.name] = (commands[command.name] ?? 0) + 1;
    return (send as (...args: unknown[]) => unknown)(command, ...rest);
  }) as typeof client.sendCommand;
  await client.connect();
  return { client, commands };
}
