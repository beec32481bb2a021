// Connection behaviour of the Redis backend, each test on a redis-server of its own (stopped,
// restarted, paused, flushed, password-protected): lazy connection, readiness, bounded failures
// while Redis is down, recovery without re-creating the backend, user-supplied clients.
import { createServer, type Socket } from "node:net";
import { Redis } from "ioredis";
import { afterEach, describe, expect, inject, it } from "vitest";
import { CacheBackendError, CacheConfigError } from "../../../src/errors.js";
import { MISSING } from "../../../src/backends/types.js";
import { createRedisBackend, type RedisBackend } from "../../../src/redis.js";
import { freePort, startRedis, type RedisServer } from "../../support/redis-server.js";

// An empty URL means the run has no redis-server binary.
const available = inject("redisUrl") !== "";

/** Generous: these bounds only prove "no hang, no retrying for seconds", never speed. */
const SLACK_MS = 1500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function server(options?: Parameters<typeof startRedis>[0]): Promise<RedisServer> {
  const started = await startRedis(options);
  cleanup.push(() => started.stop());
  return started;
}

function backendFor(url: string, options: Parameters<typeof createRedisBackend>[1] = {}): RedisBackend {
  const backend = createRedisBackend(url, { namespace: "safe", ...options });
  cleanup.push(() => backend.close());
  return backend;
}

async function rawClient(url: string): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on("error", () => {});
  cleanup.push(() => client.disconnect());
  await client.connect();
  return client;
}

/** Resolves how long `promise` took to settle, and whether it rejected with a CacheBackendError. */
async function timeRejection(promise: Promise<unknown>): Promise<number> {
  const started = performance.now();
  await expect(promise).rejects.toBeInstanceOf(CacheBackendError);
  return performance.now() - started;
}

async function eventually<T>(fn: () => Promise<T>, withinMs = 10_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

async function clientCount(raw: Redis): Promise<number> {
  const list = (await raw.client("LIST")) as string;
  return list.split("\n").filter((line) => line.includes("cmd=")).length;
}

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out;
}

/** Every command of the backend, each returning a promise. */
function everyCommand(backend: RedisBackend): [string, () => Promise<unknown>][] {
  return [
    ["get", () => backend.get("k")],
    ["getMany", () => backend.getMany(["k", "l"])],
    ["set", () => backend.set("k", "v", 1000)],
    ["setMany", () => backend.setMany([["k", "v"]], undefined)],
    ["incr", () => backend.incr("n", 1, undefined)],
    ["incr+expire", () => backend.incr("n", 1, 1000)],
    ["delete", () => backend.delete("k")],
    ["deleteMany", () => backend.deleteMany(["k", "l"])],
    ["deleteMatch", () => backend.deleteMatch("k*")],
    ["scan", () => collect(backend.scan("*", 10))],
    ["expire", () => backend.expire("k", 1000)],
    ["persist", () => backend.expire("k", undefined)],
    ["getExpire", () => backend.getExpire("k")],
    ["exists", () => backend.exists("k")],
    ["ping", () => backend.ping()],
    ["getKeysCount", () => backend.getKeysCount()],
    ["clear", () => backend.clear()],
    ["setLock", () => backend.setLock("lock", "me", 1000)],
    ["unlock", () => backend.unlock("lock", "me")],
  ];
}

describe("lazy connection", () => {
  it("creating a backend does no I/O; the first command connects", async () => {
    const sockets: Socket[] = [];
    const listener = createServer((socket) => {
      sockets.push(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          listener.close(() => resolve());
        }),
    );
    const port = (listener.address() as { port: number }).port;
    const backend = backendFor(`redis://127.0.0.1:${port}`, { timeout: 200 });
    await sleep(300);
    expect(sockets).toHaveLength(0);
    // Not a Redis server: the command times out (bounded), but it did connect.
    await timeRejection(backend.get("k"));
    expect(sockets.length).toBeGreaterThan(0);
  });
});

describe.skipIf(!available)("connection handling (own redis-server)", () => {
  it("commands issued before the connection is ready wait for it", async () => {
    const redis = await server();
    const backend = backendFor(redis.url);
    const [set, ping, value] = await Promise.all([backend.set("k", "v", undefined), backend.ping(), backend.get("k")]);
    expect(set).toBe(true);
    expect(ping).toBe("PONG");
    expect(value === "v" || value === MISSING).toBe(true); // GET may run before SET: both are fine
    expect(await backend.get("k")).toBe("v");
  });

  it("init is idempotent and concurrent calls share one connection", async () => {
    const redis = await server();
    const raw = await rawClient(redis.url);
    const before = await clientCount(raw);
    const backend = backendFor(redis.url);
    await Promise.all([backend.init(), backend.init(), backend.get("x"), backend.init()]);
    await backend.init();
    expect(await clientCount(raw)).toBe(before + 1);
  });

  it("close is idempotent; the backend can be used again after it", async () => {
    const redis = await server();
    const raw = await rawClient(redis.url);
    const backend = backendFor(redis.url);
    await backend.init();
    await backend.set("k", "v", undefined);
    await backend.close();
    await backend.close();
    await eventually(async () => expect(await clientCount(raw)).toBe(1));
    expect(await backend.get("k")).toBe("v"); // connects again
    await backend.init();
    expect(await clientCount(raw)).toBe(2);
  });

  it("while Redis is down every command rejects within the timeout; it recovers by itself", async () => {
    const redis = await server();
    const errors: Error[] = [];
    const backend = backendFor(redis.url, { timeout: 300, onError: (error) => errors.push(error) });
    await backend.init();
    await backend.set("k", "before", undefined);

    await redis.stop();
    for (let round = 0; round < 2; round++) {
      if (round === 1) await sleep(600); // now between (failing) reconnect attempts
      for (const [name, run] of everyCommand(backend)) {
        const elapsed = await timeRejection(run());
        expect(elapsed, name).toBeLessThan(300 + SLACK_MS);
      }
    }

    await redis.restart();
    await eventually(() => backend.ping(), 10_000);
    expect(await backend.set("k", "after", undefined)).toBe(true);
    expect(await backend.get("k")).toBe("after");
    expect(errors.length).toBeGreaterThan(0); // reconnect failures were reported, not thrown
  });

  it("a command in flight when Redis dies rejects, and is not replayed after the reconnect", async () => {
    const redis = await server();
    const backend = backendFor(redis.url, { timeout: 2000 });
    await backend.init();
    const raw = await rawClient(redis.url);
    await raw.client("PAUSE", "500", "WRITE");
    const pending = expect(backend.incr("counter", 1, undefined)).rejects.toBeInstanceOf(CacheBackendError);
    await sleep(100);
    await redis.restart(); // kills the server while the INCR waits
    await pending;
    await eventually(() => backend.ping());
    await sleep(300);
    expect(await backend.get("counter")).toBe(MISSING); // not resent by ioredis
  });

  it("a stalled server costs one timeout per command, and the connection stays usable", async () => {
    const redis = await server();
    const backend = backendFor(redis.url, { timeout: 200 });
    await backend.set("k", "v", undefined);
    const raw = await rawClient(redis.url);
    await raw.client("PAUSE", "1500", "ALL");
    const elapsed = await timeRejection(backend.get("k"));
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(200 + SLACK_MS);
    expect(await eventually(() => backend.get("k"))).toBe("v");
  });

  it("a server that is down at start: init and commands fail fast, and work once it is up", async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const backend = backendFor(url, { timeout: 300 });
    let started = performance.now();
    await expect(backend.init()).rejects.toThrow(/could not connect/);
    expect(performance.now() - started).toBeLessThan(2000 + SLACK_MS);
    started = performance.now();
    await expect(backend.get("k")).rejects.toBeInstanceOf(CacheBackendError);
    expect(performance.now() - started).toBeLessThan(300 + SLACK_MS);

    await server({ port });
    expect(await eventually(() => backend.get("k"))).toBe(MISSING);
    await backend.init();
  });

  it("close() while Redis is down returns promptly", async () => {
    const redis = await server();
    const backend = backendFor(redis.url, { timeout: 300 });
    await backend.init();
    await redis.stop();
    await sleep(100);
    const started = performance.now();
    await backend.close();
    expect(performance.now() - started).toBeLessThan(SLACK_MS);
  });

  it("password in the URL or in the options; a wrong one fails init", async () => {
    const redis = await server({ args: ["--requirepass", "p@ss:word"], password: "p@ss:word" });
    const inUrl = backendFor(redis.url);
    await inUrl.set("k", "v", undefined);
    const port = redis.port;
    const inOptions = backendFor(`redis://127.0.0.1:${port}`, { password: "p@ss:word" });
    expect(await inOptions.get("k")).toBe("v");
    const wrong = backendFor(`redis://:nope@127.0.0.1:${port}`, { timeout: 300 });
    await expect(wrong.init()).rejects.toBeInstanceOf(CacheBackendError);
  });

  it("username and password (ACL)", async () => {
    const redis = await server({ args: ["--user", "ann", "on", ">secret", "~*", "&*", "+@all"] });
    const backend = backendFor(`redis://ann:secret@127.0.0.1:${redis.port}`);
    expect(await backend.set("k", "v", undefined)).toBe(true);
    const viaOptions = backendFor(`redis://127.0.0.1:${redis.port}`, { username: "ann", password: "secret" });
    expect(await viaOptions.get("k")).toBe("v");
  });

  it("db from the URL path; the db option wins", async () => {
    const redis = await server();
    const raw = await rawClient(redis.url);
    await backendFor(`${redis.url}/3`).set("k", "three", undefined);
    await backendFor(`${redis.url}/3`, { db: 5 }).set("k", "five", undefined);
    await raw.select(3);
    expect(await raw.get("safe:k")).toBe("three");
    await raw.select(5);
    expect(await raw.get("safe:k")).toBe("five");
    await raw.select(0);
    expect(await raw.get("safe:k")).toBe(null);
  });

  it('namespace "" stores keys verbatim and owns the database: DBSIZE and FLUSHDB', async () => {
    const redis = await server();
    const raw = await rawClient(redis.url);
    const backend = backendFor(redis.url, { namespace: "" });
    await backend.set("a", "1", undefined);
    await raw.set("b", "2");
    expect(await raw.get("a")).toBe("1");
    expect(await backend.getKeysCount()).toBe(2);
    expect((await collect(backend.scan("*", 10))).sort()).toEqual(["a", "b"]);
    await backend.clear();
    expect(await raw.dbsize()).toBe(0);
  });

  it("Lua scripts still work after SCRIPT FLUSH (NOSCRIPT → EVAL)", async () => {
    const redis = await server();
    const raw = await rawClient(redis.url);
    const backend = backendFor(redis.url);
    expect(await backend.incr("n", 2, 5000)).toBe(2);
    await backend.setLock("l", "me", 5000);
    await raw.script("FLUSH");
    expect(await backend.incr("n", 2, 5000)).toBe(4);
    expect(await backend.unlock("l", "me")).toBe(true);
    await raw.script("FLUSH");
    expect(await backend.unlock("l", "me")).toBe(false);
    expect(await backend.incr("m", 1, 5000)).toBe(1);
    expect(await backend.getExpire("m")).toBeGreaterThan(0);
  });

  it("a supplied client is used as is and left open by close()", async () => {
    const redis = await server();
    const client = new Redis(redis.url); // default options: offline queue on, connects at once
    cleanup.push(() => client.disconnect());
    const backend = createRedisBackend("redis://", { client, namespace: "mine", timeout: 300 });
    expect(await backend.set("k", "v", undefined)).toBe(true);
    expect(await client.get("mine:k")).toBe("v");
    await backend.close();
    expect(client.status).toBe("ready");
    expect(await client.ping()).toBe("PONG");
    expect(client.listenerCount("ready")).toBe(0);

    // Its own retry settings would queue commands for seconds: the backend still bounds them.
    await redis.stop();
    const elapsed = await timeRejection(backend.get("k"));
    expect(elapsed).toBeLessThan(300 + SLACK_MS);
  });

  it("close() keeps the bound of a read in flight on a supplied client (the server stalls)", async () => {
    const redis = await server();
    const client = new Redis(redis.url);
    cleanup.push(() => client.disconnect());
    const backend = createRedisBackend("redis://", { client, namespace: "mine", timeout: 300 });
    expect(await backend.set("k", "v", undefined)).toBe(true);
    const raw = await rawClient(redis.url);
    await raw.client("PAUSE", "4000", "ALL");
    const read = backend.get("k"); // written at once: in flight on the supplied client
    await backend.close();
    // Bounded by the timeout, not left to the server (which would answer "v" once the pause ends).
    await expect(read).rejects.toThrow(/timed out after 300 ms/);
    expect(client.listenerCount("ready")).toBe(0); // the expiry after close started no probe on the client
  });

  it("a supplied client that was quit is reported, not reconnected", async () => {
    const redis = await server();
    const client = new Redis(redis.url);
    await client.quit();
    await eventually(async () => expect(client.status).toBe("end"));
    const backend = createRedisBackend("redis://", { client });
    await expect(backend.get("k")).rejects.toThrow(/not usable/);
  });
});

describe("configuration errors", () => {
  it("refuses unsupported combinations, bad URLs and clashing options", () => {
    expect(() => createRedisBackend("redis://localhost", { clientSide: true, client: new Redis({ lazyConnect: true }) })).toThrow(/clientSide opens its own connections/);
    expect(() => createRedisBackend("redis+cluster://a:1,b:2", { clientSide: true })).toThrow(/not supported on Redis Cluster/);
    expect(() => createRedisBackend("redis://localhost", { clientSide: true, cluster: true })).toThrow(/not supported on Redis Cluster/);
    expect(() => createRedisBackend("redis://localhost", { cluster: true, db: 2 })).toThrow(/Cluster has database 0 only/);
    expect(() => createRedisBackend("redis+cluster://a:1,b:x")).toThrow(/bad seed node "b:x"/);
    expect(() => createRedisBackend("redis://localhost/abc")).toThrow(/database number/);
    expect(() => createRedisBackend("redis://localhost?db=1")).toThrow(CacheConfigError);
    expect(() => createRedisBackend("http://localhost")).toThrow(CacheConfigError);
    expect(() => createRedisBackend("redis://localhost", { timeout: "soon" })).toThrow(CacheConfigError);
    expect(() => createRedisBackend("redis://localhost", { client: {} as Redis })).toThrow(/ioredis client/);
    const client = new Redis({ lazyConnect: true });
    expect(() => createRedisBackend("redis://localhost", { client, db: 1 })).toThrow(/on the client itself/);
    expect(() => createRedisBackend("redis://localhost/2", { client })).toThrow(/on the client itself/);
    client.disconnect();
  });
});
