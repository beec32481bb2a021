// Redis Cluster (redis+cluster://, cluster=1, a supplied ioredis Cluster): URL checks at setup,
// hash slots against the real cluster's CLUSTER KEYSLOT, multi-key commands and scans spread over
// every master (checked on the nodes themselves). The conformance suite runs on the shared cluster
// too (test/conformance/redis-cluster.test.ts).
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Cache, CacheBackendError, CacheConfigError } from "../../../src/index.js";
import { createRedisBackend, keySlot, parseRedisUrl } from "../../../src/redis.js";
import { groupBySlot } from "../../../src/backends/redis/slots.js";
import { freePort } from "../../support/redis-server.js";
import { startRedisCluster, type RedisCluster } from "../../support/redis-cluster.js";

const clusterUrl = inject("redisClusterUrl");
const RUN = `${process.pid}-${Date.now()}`;

describe("redis+cluster:// URLs", () => {
  it("parses seed nodes, credentials and IPv6, with the default port", () => {
    expect(parseRedisUrl("redis+cluster://u:p%40ss@10.0.0.1:7000,[::1]:7001,cache.local")).toEqual({
      cluster: true,
      tls: false,
      host: "10.0.0.1",
      port: 7000,
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "::1", port: 7001 },
        { host: "cache.local", port: 6379 },
      ],
      db: undefined,
      username: "u",
      password: "p@ss",
    });
    expect(parseRedisUrl("redis+cluster://h:1/0").db).toBe(0);
    expect(parseRedisUrl("redis://a:1,b:2").nodes).toHaveLength(2);
    expect(parseRedisUrl("redis://h:7000").nodes).toEqual([{ host: "h", port: 7000 }]);
  });

  it.each([
    ["redis+cluster://", {}, /bad seed node "": expected host:port/],
    ["redis+cluster://a:1,", {}, /bad seed node ""/],
    ["redis+cluster://:7000,b:1", {}, /bad seed node ":7000"/],
    ["redis+cluster://a:0", {}, /bad seed node "a:0".*port 1-65535/],
    ["redis+cluster://a:65536", {}, /bad seed node "a:65536"/],
    ["redis+cluster://a:70x0,b:1", {}, /bad seed node "a:70x0"/],
    ["redis+cluster://a:07000", {}, /bad seed node "a:07000"/],
    ["redis+cluster://a:1:2", {}, /bad seed node "a:1:2"/],
    ["redis+cluster://::1:7000", {}, /bad seed node.*\[addr\]:port/],
    ["redis+cluster://a b:1", {}, /bad seed node "a b:1"/],
    ["redis+cluster://a:1/x", {}, /database number/],
    ["redis+cluster://a:1/2", {}, /Cluster has database 0 only.*db 2.*namespace/],
    ["redis+cluster://a:1", { db: 1 }, /Cluster has database 0 only.*db 1/],
    ["redis://a:1?cluster=1&db=3", {}, /Cluster has database 0 only/],
    ["redis://a:1,b:2", {}, /several hosts need redis\+cluster:\/\/ or cluster=1/],
  ])("setup(%j, %j) is refused, naming the problem", (url, options, message) => {
    const setup = () => new Cache().setup(url, options);
    expect(setup).toThrow(CacheConfigError);
    expect(setup).toThrow(message);
  });

  it("never quotes a password in an error", () => {
    expect(parseRedisUrl("redis+cluster://:hu%2Fnt,er2@a:1,b:2").password).toBe("hu/nt,er2");
    for (const url of ["redis+cluster://:hunter2@a:x", "redis+cluster://:hunter2@:1", "redis+cluster://u:hunter2@a:1/5", "redis+cluster://:hunter2@a:1,b:2/x", "redis://:hunter2@a:99999"]) {
      let message = "";
      try {
        new Cache().setup(url);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, url).not.toBe("");
      expect(message).not.toContain("hunter2");
      expect(message).not.toContain("nter2");
    }
  });

  it("accepts cluster=1 and the cluster option; a single-node client with cluster is refused", () => {
    expect(() => new Cache().setup("redis://127.0.0.1:7000?cluster=1")).not.toThrow();
    expect(() => new Cache().setup("redis://a:1,b:2/0", { cluster: true })).not.toThrow();
    expect(() => createRedisBackend("redis://127.0.0.1:7000", { cluster: true })).not.toThrow();
    const single = new Redis({ lazyConnect: true });
    expect(() => createRedisBackend("redis://", { client: single, cluster: true })).toThrow(/cluster needs an ioredis Cluster as "client"/);
    single.disconnect();
  });
});

describe("keySlot", () => {
  it("follows CRC16/XMODEM and hash tags", () => {
    expect(keySlot("123456789")).toBe(0x31c3 % 16384);
    expect(keySlot("foo")).toBe(12182);
    expect(keySlot("{user1000}.following")).toBe(keySlot("user1000"));
    expect(keySlot("foo{}{bar}")).toBe(keySlot("foo{}{bar}")); // empty first tag: the whole key
    expect(keySlot("foo{{bar}}zap")).toBe(keySlot("{bar"));
    expect(keySlot("foo{bar}{zap}")).toBe(keySlot("bar"));
    expect(groupBySlot(["{a}1", "b", "{a}2"])).toEqual([[0, 2], [1]]);
  });

  it.skipIf(!clusterUrl)("agrees with the cluster's CLUSTER KEYSLOT", async () => {
    const client = new Redis(parseRedisUrl(clusterUrl).nodes[0]!);
    try {
      const keys = [
        "", "a", "foo", "bar", "123456789", "cashews:user:1", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap",
        "foo{bar}{zap}", "{}", "}{", "{a", "héllo ☃", "日本語{キー}", "emoji 🎉", "tab\tnew\nline",
        ...Array.from({ length: 200 }, (_, i) => `k:${i}:${(i * 7919).toString(36)}`),
      ];
      const pipeline = client.pipeline();
      for (const key of keys) pipeline.cluster("KEYSLOT", key);
      const replies = (await pipeline.exec())!;
      expect(keys.map(keySlot)).toEqual(replies.map(([, slot]) => slot));
    } finally {
      client.disconnect();
    }
  });
});

/** Direct connections to each master of the cluster at `url`, to look at where keys landed. */
async function nodesOf(url: string): Promise<Redis[]> {
  const first = new Redis(parseRedisUrl(url).nodes[0]!);
  try {
    const slots = await first.cluster("SLOTS");
    const addresses = [...new Set(slots.map(([, , master]) => `${master![0]}:${master![1]}`))];
    return addresses.map((address) => {
      const [host, port] = address.split(":");
      return new Redis({ host: host!, port: Number(port) });
    });
  } finally {
    first.disconnect();
  }
}

/** The keys matching `pattern` on each node (KEYS is fine on a test cluster). */
const keysPerNode = (nodes: Redis[], pattern: string): Promise<string[][]> => Promise.all(nodes.map(async (node) => (await node.keys(pattern)).sort()));

describe.skipIf(!clusterUrl)("commands across the masters of the shared cluster", () => {
  const namespace = `cl-${RUN}`;
  let cache: Cache;
  let nodes: Redis[];
  beforeAll(async () => {
    cache = new Cache("cluster").setup(clusterUrl, { namespace, safe: false });
    await cache.init();
    nodes = await nodesOf(clusterUrl);
  });
  afterAll(async () => {
    await cache?.clear();
    await cache?.close();
    for (const node of nodes ?? []) node.disconnect();
  });

  it("has 3 masters", () => {
    expect(nodes).toHaveLength(3);
  });

  it("setMany, getMany and deleteMany with keys on every master", async () => {
    const entries = Array.from({ length: 40 }, (_, i) => [`many:${i}`, { i }] as const);
    await cache.setMany(entries, { expire: "1m" });
    const placed = await keysPerNode(nodes, `${namespace}:many:*`);
    for (const keys of placed) expect(keys.length).toBeGreaterThan(0); // every master holds some
    expect(placed.flat().sort()).toEqual(entries.map(([k]) => `${namespace}:${k}`).sort());
    for (const node of nodes) {
      for (const key of await node.keys(`${namespace}:many:*`)) expect(await node.pttl(key)).toBeGreaterThan(50_000);
    }

    const keys = ["many:39", "nope", ...entries.map(([k]) => k), "many:0"];
    const values = await cache.getMany(keys, null);
    expect(values).toEqual([{ i: 39 }, null, ...entries.map(([, v]) => v), { i: 0 }]);
    // The tick-batched GETs split by slot too.
    expect(await Promise.all(["many:1", "many:2", "nope", "many:3"].map((k) => cache.get(k)))).toEqual([{ i: 1 }, { i: 2 }, undefined, { i: 3 }]);

    expect(await cache.deleteMany(["many:0", "many:1", "nope", ...entries.slice(2, 30).map(([k]) => k)])).toBe(30);
    expect((await keysPerNode(nodes, `${namespace}:many:*`)).flat()).toHaveLength(10);
    expect(await cache.getKeysCount()).toBe(10);
    await cache.clear();
  });

  it("scan, getMatch, deleteMatch and clear reach every master", async () => {
    const entries = Array.from({ length: 60 }, (_, i) => [`s:${i % 2 ? "odd" : "even"}:${i}`, i] as const);
    await cache.setMany(entries);
    const perNode = await keysPerNode(nodes, `${namespace}:s:odd:*`);
    for (const keys of perNode) expect(keys.length).toBeGreaterThan(0);

    const scanned: string[] = [];
    for await (const key of cache.scan("s:odd:*", { batchSize: 3 })) scanned.push(key);
    expect(scanned.sort()).toEqual(entries.filter(([k]) => k.includes("odd")).map(([k]) => k).sort());
    let sum = 0;
    for await (const [, value] of cache.getMatch("s:even:*")) sum += value as number;
    expect(sum).toBe(entries.filter(([k]) => k.includes("even")).reduce((a, [, v]) => a + v, 0));

    expect(await cache.deleteMatch("s:odd:*")).toBe(30);
    expect((await keysPerNode(nodes, `${namespace}:s:odd:*`)).flat()).toEqual([]);
    expect(await cache.getKeysCount()).toBe(30);

    // Keys of another namespace, on every master: clear() leaves them alone.
    const foreign = new Cache("foreign").setup(clusterUrl, { namespace: `foreign-${RUN}`, safe: false });
    try {
      await foreign.setMany(Array.from({ length: 30 }, (_, i) => [`f:${i}`, i] as const));
      for (const keys of await keysPerNode(nodes, `foreign-${RUN}:*`)) expect(keys.length).toBeGreaterThan(0);
      await cache.clear();
      expect((await keysPerNode(nodes, `${namespace}:*`)).flat()).toEqual([]);
      expect(await cache.getKeysCount()).toBe(0);
      expect(await foreign.getKeysCount()).toBe(30);
      await foreign.clear();
    } finally {
      await foreign.close();
    }
  });

  it("incr, locks and sliding windows work on keys of every master", async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `c:${i}`);
    expect(await Promise.all(keys.map((k) => cache.incr(k, 2, { expire: "1m" })))).toEqual(keys.map(() => 2));
    expect(await Promise.all(keys.map((k) => cache.setLock(`l:${k}`, "me", "10s")))).toEqual(keys.map(() => true));
    expect(await Promise.all(keys.map((k) => cache.setLock(`l:${k}`, "you", "10s")))).toEqual(keys.map(() => false));
    expect(await Promise.all(keys.map((k) => cache.unlock(`l:${k}`, "me")))).toEqual(keys.map(() => true));
    await cache.clear();
  });

  it("limit calls one after another stay on the cluster's connections: no limit lane (lane.ts is for a single node)", async () => {
    const api = cache.limiter({ algorithm: "fixed", limit: 100, period: "1m", prefix: `lane-${RUN}` });
    for (let i = 0; i < 20; i++) {
      expect((await api.limit(`id-${i % 4}`)).remaining).toBe(99 - Math.floor(i / 4));
      await new Promise((resolve) => setTimeout(resolve, 10)); // time enough for a lane to open, were one made
    }
    for (const node of nodes) expect(String(await node.client("LIST"))).not.toContain(" name=cashews-limits ");
    await cache.clear();
  });

  it("a supplied ioredis Cluster is used as is, and left open on close", async () => {
    const client = new Cluster(parseRedisUrl(clusterUrl).nodes, { lazyConnect: true });
    await client.connect();
    const other = new Cache("supplied").setup("redis://", { client, namespace, safe: false });
    try {
      await other.setMany(Array.from({ length: 20 }, (_, i) => [`sup:${i}`, i] as const));
      expect(await cache.getMany(["sup:0", "sup:19"])).toEqual([0, 19]);
      expect(await other.deleteMatch("sup:*")).toBe(20);
    } finally {
      await other.close();
    }
    expect(client.status).toBe("ready");
    expect(await client.ping()).toBe("PONG");
    client.disconnect();
  });

  it("redis://host:port?cluster=1 (one seed) discovers the other masters", async () => {
    const seed = parseRedisUrl(clusterUrl).nodes[0]!;
    const other = new Cache("one-seed").setup(`redis://${seed.host}:${seed.port}?cluster=1`, { namespace, safe: false });
    try {
      await other.setMany(Array.from({ length: 30 }, (_, i) => [`seed:${i}`, i] as const));
      const perNode = await keysPerNode(nodes, `${namespace}:seed:*`);
      for (const keys of perNode) expect(keys.length).toBeGreaterThan(0);
      expect(await other.getKeysCount()).toBe(30);
      await other.clear();
    } finally {
      await other.close();
    }
  });
});

describe.skipIf(!clusterUrl)('namespace "" on a cluster of its own', () => {
  // FLUSHDB would wipe the shared cluster under the other test files: a dedicated one.
  let cluster: RedisCluster;
  let nodes: Redis[];
  beforeAll(async () => {
    cluster = await startRedisCluster();
    nodes = await nodesOf(cluster.url);
  }, 60_000);
  afterAll(async () => {
    for (const node of nodes ?? []) node.disconnect();
    await cluster?.stop();
  });

  it("getKeysCount is DBSIZE over every master, clear is FLUSHDB on every master", async () => {
    const cache = new Cache("verbatim").setup(cluster.url, { namespace: "", safe: false });
    try {
      await cache.setMany(Array.from({ length: 50 }, (_, i) => [`v:${i}`, i] as const));
      const sizes = await Promise.all(nodes.map((node) => node.dbsize()));
      for (const size of sizes) expect(size).toBeGreaterThan(0);
      expect(await cache.getKeysCount()).toBe(50);
      await cache.clear();
      expect(await Promise.all(nodes.map((node) => node.dbsize()))).toEqual([0, 0, 0]);
      expect(await cache.getKeysCount()).toBe(0);
    } finally {
      await cache.close();
    }
  });
});

describe("an unreachable cluster", () => {
  it("safe: false rejects init and commands with CacheBackendError; safe mode serves defaults", async () => {
    const url = `redis+cluster://127.0.0.1:${await freePort()},127.0.0.1:${await freePort()}`;
    const strict = new Cache("down").setup(url, { safe: false, connectTimeout: 200, timeout: 300 });
    const safe = new Cache("down-safe").setup(url, { connectTimeout: 200, timeout: 300 });
    const errors: unknown[] = [];
    safe.on("error", (e) => void errors.push(e));
    try {
      await expect(strict.init()).rejects.toBeInstanceOf(CacheBackendError);
      await expect(strict.get("k")).rejects.toBeInstanceOf(CacheBackendError);
      expect(await safe.get("k", "dflt")).toBe("dflt");
      expect(await safe.getMany(["a", "b"], 0)).toEqual([0, 0]);
      expect(await safe.set("k", 1)).toBe(false);
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      await strict.close();
      await safe.close();
    }
  });
});
