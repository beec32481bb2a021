/**
 * Spawns a throw-away Redis Cluster for tests: 3 masters (no replicas), each a `redis-server` with
 * `cluster-enabled yes` on a free port of 127.0.0.1 (see {@link startRedis}), joined with
 * `redis-cli --cluster create`; resolves once every node reports `cluster_state:ok`.
 * Started once per run by global-setup.ts (`inject("redisClusterUrl")`).
 */
import { execFile } from "node:child_process";
import { Redis } from "ioredis";
import { isExecutable, startRedis, type RedisServer } from "./redis-server.js";

export interface RedisCluster {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`. */
  url: string;
  /** The ports of the masters. */
  ports: number[];
  /** Kills every node (idempotent). */
  stop(): Promise<void>;
}

const CLI = process.env.REDIS_CLI_BIN ?? "redis-cli";

/** Whether a `redis-cli` executable is on PATH (or at `$REDIS_CLI_BIN`). */
export function hasRedisCli(): boolean {
  return isExecutable(CLI);
}

/** Starts a 3-master cluster; rejects (after stopping what it started) if it does not form in time. */
export async function startRedisCluster(options: { masters?: number; readyTimeoutMs?: number } = {}): Promise<RedisCluster> {
  const count = options.masters ?? 3;
  const servers: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  };
  try {
    const started = await Promise.all(
      Array.from({ length: count }, () =>
        startRedis({
          args: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"],
        }),
      ),
    );
    servers.push(...started);
    const ports = servers.map((server) => server.port);
    await run(CLI, ["--cluster", "create", ...ports.map((port) => `127.0.0.1:${port}`), "--cluster-replicas", "0", "--cluster-yes"]);
    await waitForClusterOk(ports, options.readyTimeoutMs ?? 20_000);
    return { url: `redis+cluster://${ports.map((port) => `127.0.0.1:${port}`).join(",")}`, ports, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(" ")} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Polls `CLUSTER INFO` on every node until each says `cluster_state:ok` and knows every slot. */
async function waitForClusterOk(ports: number[], timeoutMs: number): Promise<void> {
  const clients = ports.map((port) => new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0 }));
  try {
    await Promise.all(clients.map((client) => client.connect()));
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      const infos = await Promise.all(clients.map((client) => client.cluster("INFO") as Promise<string>));
      last = infos.join("\n---\n");
      if (infos.every((info) => info.includes("cluster_state:ok") && info.includes("cluster_slots_ok:16384") && info.includes(`cluster_known_nodes:${ports.length}`))) {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the test Redis Cluster did not reach cluster_state:ok in ${timeoutMs} ms:\n${last}`);
  } finally {
    for (const client of clients) client.disconnect();
  }
}
