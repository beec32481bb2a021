/**
 * Spawns a throw-away Redis Cluster for tests: 3 masters (no replicas), each a `redis-server` with
 * `cluster-enabled yes` on a free port of 127.0.0.1 (see {@link startRedis}), joined with
 * `redis-cli --cluster create`; resolves once every node reports `cluster_state:ok`.
 * Started once per run by global-setup.ts (`inject("redisClusterUrl")`).
 *
 * `replicas: 1` (failover tests, on a cluster of their own) adds one replica per master and waits
 * until each replica is in sync; `kill(port)` SIGKILLs a node, `masterOf(key)` says which node
 * serves a key's slot right now; a small `nodeTimeoutMs` makes the replica take over within seconds.
 */
import { execFile } from "node:child_process";
import { Redis } from "ioredis";
import { isExecutable, startRedis, type RedisServer } from "./redis-server.js";

export interface RedisCluster {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` (the masters at start). */
  url: string;
  /** The ports of the masters at start. */
  ports: number[];
  /** The ports of the replicas at start (none by default). */
  replicaPorts: number[];
  /** Kills every node (idempotent). */
  stop(): Promise<void>;
  /** SIGKILLs the node on `port` (no shutdown, no failover handshake: a crash) and waits for its exit. */
  kill(port: number): Promise<void>;
  /** The port of the node that serves `key`'s slot now (CLUSTER KEYSLOT and CLUSTER SLOTS, asked of a live node). */
  masterOf(key: string): Promise<number>;
}

export interface StartRedisClusterOptions {
  /** Masters, default 3. */
  masters?: number;
  /** Replicas per master, default 0. */
  replicas?: number;
  /** `cluster-node-timeout` (ms), default 5000: how long a node may be unreachable before it is failed (and a replica promoted). */
  nodeTimeoutMs?: number;
  /** How long to wait for the cluster to form, default 20 s. */
  readyTimeoutMs?: number;
}

const CLI = process.env.REDIS_CLI_BIN ?? "redis-cli";

/** Whether a `redis-cli` executable is on PATH (or at `$REDIS_CLI_BIN`). */
export function hasRedisCli(): boolean {
  return isExecutable(CLI);
}

/** Starts a 3-master cluster (by default); rejects (after stopping what it started) if it does not form in time. */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  const count = masters * (1 + replicas);
  const servers: RedisServer[] = [];
  const killed = new Set<number>();
  const stop = async (): Promise<void> => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  };
  try {
    const started = await Promise.all(
      Array.from({ length: count }, () =>
        startRedis({
          args: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", String(options.nodeTimeoutMs ?? 5000)],
        }),
      ),
    );
    servers.push(...started);
    const all = servers.map((server) => server.port);
    await run(CLI, ["--cluster", "create", ...all.map((port) => `127.0.0.1:${port}`), "--cluster-replicas", String(replicas), "--cluster-yes"]);
    await waitForClusterOk(all, options.readyTimeoutMs ?? 20_000, replicas > 0);
    // redis-cli picks which nodes are masters: ask the cluster.
    const ports = replicas === 0 ? all : await masterPorts(all[0]!);
    const replicaPorts = all.filter((port) => !ports.includes(port));
    const live = (): number => {
      const port = all.find((p) => !killed.has(p));
      if (port === undefined) throw new Error("every node of the test cluster was killed");
      return port;
    };
    return {
      url: `redis+cluster://${ports.map((port) => `127.0.0.1:${port}`).join(",")}`,
      ports,
      replicaPorts,
      stop,
      async kill(port) {
        const server = servers.find((s) => s.port === port);
        if (!server) throw new Error(`no node of the test cluster on port ${port}`);
        killed.add(port);
        process.kill(server.pid, "SIGKILL");
        await server.stop(); // waits for the exit (the SIGTERM it sends finds nothing to do)
      },
      async masterOf(key) {
        const client = new Redis({ host: "127.0.0.1", port: live(), lazyConnect: true, maxRetriesPerRequest: 0 });
        try {
          await client.connect();
          const slot = (await client.cluster("KEYSLOT", key)) as number;
          const ranges = (await client.cluster("SLOTS")) as unknown as [number, number, [string, number, ...unknown[]], ...unknown[]][];
          const range = ranges.find(([from, to]) => from <= slot && slot <= to);
          if (!range) throw new Error(`no node serves slot ${slot} (of ${JSON.stringify(key)})`);
          return Number(range[2][1]);
        } finally {
          client.disconnect();
        }
      },
    };
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

/** The ports of the masters that serve slots (CLUSTER SLOTS asked of the node on `port`). */
async function masterPorts(port: number): Promise<number[]> {
  const client = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await client.connect();
    const ranges = (await client.cluster("SLOTS")) as unknown as [number, number, [string, number, ...unknown[]], ...unknown[]][];
    return [...new Set(ranges.map((range) => Number(range[2][1])))];
  } finally {
    client.disconnect();
  }
}

/**
 * Polls `CLUSTER INFO` on every node until each says `cluster_state:ok` and knows every slot;
 * `withReplicas`: also until every replica's link to its master is up (synced, so it can take over).
 */
async function waitForClusterOk(ports: number[], timeoutMs: number, withReplicas = false): Promise<void> {
  const clients = ports.map((port) => new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0 }));
  try {
    await Promise.all(clients.map((client) => client.connect()));
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      const infos = await Promise.all(clients.map((client) => client.cluster("INFO") as Promise<string>));
      last = infos.join("\n---\n");
      if (infos.every((info) => info.includes("cluster_state:ok") && info.includes("cluster_slots_ok:16384") && info.includes(`cluster_known_nodes:${ports.length}`))) {
        if (!withReplicas) return;
        const replication = await Promise.all(clients.map((client) => client.info("replication")));
        last = replication.join("\n---\n");
        if (replication.every((info) => info.includes("role:master") || info.includes("master_link_status:up"))) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the test Redis Cluster did not reach cluster_state:ok in ${timeoutMs} ms:\n${last}`);
  } finally {
    for (const client of clients) client.disconnect();
  }
}
