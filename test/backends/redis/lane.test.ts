// The limit lane (src/backends/redis/lane.ts): once a backend makes limit calls, a second, lean
// connection named "cashews-limits" carries its LIMIT scripts. Each test on a redis-server of its
// own (CLIENT LIST, MONITOR and CLIENT PAUSE see every connection of a server).
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { Redis } from "ioredis";
import { afterEach, describe, expect, inject, it } from "vitest";
import { createRedisBackend, type RedisBackend } from "../../../src/backends/redis/backend.js";
import { LANE_NAME, LANE_RETRY_MS } from "../../../src/backends/redis/lane.js";
import type { LimitRequest } from "../../../src/backends/types.js";
import { startRedis, type RedisServer } from "../../support/redis-server.js";

// "" = no redis-server binary; global-setup already failed the run if CI=true.
const hasRedis = inject("redisUrl") !== "";

const fixed = (limit: number): LimitRequest => ({ rules: [{ algorithm: "fixed", limit, periodMs: 60_000, refill: limit }], cost: 1 });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function server(args: string[] = [], password?: string): Promise<RedisServer> {
  const started = await startRedis({ args, password });
  cleanup.push(() => started.stop());
  return started;
}

function admin(url: string): Redis {
  const client = new Redis(url);
  cleanup.push(() => client.disconnect());
  return client;
}

function backendOn(url: string, options: Record<string, unknown> = {}): RedisBackend {
  const backend = createRedisBackend(url, { namespace: "lane", ...options });
  cleanup.push(() => backend.close());
  return backend;
}

/** The server's connections named cashews-limits, each as its CLIENT LIST fields. */
async function lanes(client: Redis): Promise<Record<string, string>[]> {
  const list = (await client.client("LIST")) as string;
  return list
    .split("\n")
    .filter((line) => line.includes(` name=${LANE_NAME} `))
    .map((line) => Object.fromEntries(line.split(" ").map((field) => [field.slice(0, field.indexOf("=")), field.slice(field.indexOf("=") + 1)])));
}

/** Lone limit calls on `id` (one every 10 ms) until the server lists a lane other than `not`; the lane and the remainders answered. */
async function callUntilLane(backend: RedisBackend, client: Redis, id: string, limit: number, not?: string): Promise<{ lane: Record<string, string>; remaining: number[] }> {
  const remaining: number[] = [];
  const deadline = Date.now() + 10_000 + LANE_RETRY_MS;
  for (;;) {
    remaining.push((await backend.limit(id, fixed(limit))).states[0]!.remaining);
    const lane = (await lanes(client)).find((one) => one.id !== not);
    if (lane !== undefined) return { lane, remaining };
    if (Date.now() > deadline) throw new Error("no lane within 10 s");
    await sleep(10);
  }
}

/** The commands MONITOR saw while `run` ran, each with the address it came from. */
async function monitored(url: string, run: () => Promise<void>): Promise<{ name: string; source: string }[]> {
  const base = new Redis(url);
  const monitor = await base.monitor();
  const seen: { name: string; source: string }[] = [];
  monitor.on("monitor", (_time: string, args: string[], source: string) => seen.push({ name: args[0]!.toLowerCase(), source }));
  try {
    await run();
    await sleep(100);
    return seen;
  } finally {
    monitor.disconnect();
    base.disconnect();
  }
}

const countUp = (from: number, n: number) => Array.from({ length: n }, (_, i) => from - i);

describe.skipIf(!hasRedis)("the limit lane", () => {
  it("carries the LIMIT scripts once it is ready, lone calls and a tick's scripts, on the backend's database, with the answers of ioredis", async () => {
    const redis = await server();
    const client = admin(redis.url);
    const backend = backendOn(`${redis.url}/2`);
    await backend.init();
    await backend.set("k", "v", 60_000);
    expect(await lanes(client)).toEqual([]); // none before a limit call
    const { lane, remaining } = await callUntilLane(backend, client, "a", 1000);
    expect(remaining).toEqual(countUp(999, remaining.length));
    expect(lane.db).toBe("2");

    // The backend's ioredis connection: neither this test's nor the lane.
    const own = String(await client.client("ID"));
    const ioredisAddr = ((await client.client("LIST")) as string)
      .split("\n")
      .filter((line) => line.startsWith("id=") && !line.startsWith(`id=${own} `) && !line.includes(` name=${LANE_NAME} `))
      .map((line) => line.match(/addr=(\S+)/)?.[1]);
    expect(ioredisAddr).toHaveLength(1);
    const before = remaining.length;
    const seen = await monitored(redis.url, async () => {
      for (let i = 0; i < 5; i++) expect((await backend.limit("a", fixed(1000))).states[0]!.remaining).toBe(999 - before - i);
      // A tick of 40 calls: 3 scripts (16 calls each at most), decided in issue order.
      const tick = await Promise.all(Array.from({ length: 40 }, () => backend.limit("a", fixed(1000))));
      expect(tick.map((answer) => answer.states[0]!.remaining)).toEqual(countUp(999 - before - 5, 40));
      await backend.get("k");
    });
    const scripts = seen.filter((line) => line.name === "evalsha");
    expect(scripts.length).toBeGreaterThanOrEqual(5 + 3);
    expect(new Set(scripts.map((line) => line.source))).toEqual(new Set([lane.addr]));
    expect(seen.filter((line) => line.name === "get").map((line) => line.source)).toEqual(ioredisAddr);

    // The state is on db 2, under the namespace, as ioredis would have written it.
    const db2 = admin(`${redis.url}/2`);
    expect(await db2.get("lane:{a}:f60000")).toBe(String(before + 45));
    expect(await client.exists("lane:{a}:f60000")).toBe(0);

    // A call the script refuses (a key of another type) fails alone, on the lane too.
    await db2.set("lane:{bad}:f60000", "text");
    await expect(backend.limit("bad", fixed(3))).rejects.toMatchObject({ name: "CacheBackendError", message: expect.stringMatching(/LIMIT: WRONGTYPE/) });
    expect((await backend.limit("a", fixed(1000))).states[0]!.remaining).toBe(999 - before - 45);
  });

  it("authenticates as the backend does: a password, or an ACL user", async () => {
    const redis = await server(["--requirepass", "secret"], "secret");
    const client = admin(redis.url);
    await client.acl("SETUSER", "limiter", "on", ">pw", "~*", "+@all");
    const port = redis.port;
    const withPassword = backendOn(`redis://:secret@127.0.0.1:${port}/1`);
    const asUser = backendOn(`redis://limiter:pw@127.0.0.1:${port}/3`);
    const first = await callUntilLane(withPassword, client, "p", 100);
    const second = await callUntilLane(asUser, client, "u", 100, first.lane.id);
    expect([first.lane.user, first.lane.db]).toEqual(["default", "1"]);
    expect([second.lane.user, second.lane.db]).toEqual(["limiter", "3"]);
    expect(first.remaining).toEqual(countUp(99, first.remaining.length));
    expect(second.remaining).toEqual(countUp(99, second.remaining.length));
  });

  it("sends the script again as EVAL when the server lost it (NOSCRIPT), once", async () => {
    const redis = await server();
    const client = admin(redis.url);
    const backend = backendOn(redis.url);
    const { remaining } = await callUntilLane(backend, client, "n", 100);
    await client.script("FLUSH");
    const seen = await monitored(redis.url, async () => {
      expect((await backend.limit("n", fixed(100))).states[0]!.remaining).toBe(99 - remaining.length);
      expect((await backend.limit("n", fixed(100))).states[0]!.remaining).toBe(98 - remaining.length);
    });
    expect(seen.map((line) => line.name).filter((name) => name.startsWith("eval"))).toEqual(["evalsha", "eval", "evalsha"]);
  });

  it("a lane lost between calls: the next calls go on ioredis, then on a new lane; each call counted once", async () => {
    const redis = await server();
    const client = admin(redis.url);
    const backend = backendOn(redis.url);
    const first = await callUntilLane(backend, client, "k", 1000);
    await client.client("KILL", "ID", first.lane.id!);
    await sleep(50); // the lane reads the server's close (as one an idle timeout closed would be read long before the next call)
    const second = await callUntilLane(backend, client, "k", 1000, first.lane.id);
    expect(second.lane.id).not.toBe(first.lane.id);
    expect([...first.remaining, ...second.remaining]).toEqual(countUp(999, first.remaining.length + second.remaining.length));
  });

  it("a call in flight on a lane that is lost fails, and is not sent again", async () => {
    const redis = await server();
    const client = admin(redis.url);
    const backend = backendOn(redis.url, { timeout: 10_000 });
    const { lane, remaining } = await callUntilLane(backend, client, "f", 1000);
    await client.client("PAUSE", "5000", "WRITE"); // scripts wait; CLIENT KILL does not
    const inFlight = backend.limit("f", fixed(1000));
    await sleep(50);
    await client.client("KILL", "ID", lane.id!);
    await expect(inFlight).rejects.toMatchObject({ name: "CacheBackendError", message: expect.stringMatching(/redis LIMIT: .*lost/) });
    await client.client("UNPAUSE");
    await sleep(LANE_RETRY_MS / 2);
    expect(await client.get("lane:{f}:f60000")).toBe(String(remaining.length));
    expect((await backend.limit("f", fixed(1000))).states[0]!.remaining).toBe(999 - remaining.length);
  });

  it("reads replies split across many reads", async () => {
    const redis = await server();
    const client = admin(redis.url);
    const proxy = await splittingProxy(redis.port);
    const backend = backendOn(`redis://127.0.0.1:${proxy.port}`, { timeout: 10_000 });
    const { remaining } = await callUntilLane(backend, client, "s", 1000);
    const n = remaining.length;
    expect(remaining).toEqual(countUp(999, n));
    for (let i = 0; i < 3; i++) expect((await backend.limit("s", fixed(1000))).states[0]!.remaining).toBe(999 - n - i);
    const tick = await Promise.all(Array.from({ length: 20 }, () => backend.limit("s", fixed(1000))));
    expect(tick.map((answer) => answer.states[0]!.remaining)).toEqual(countUp(996 - n, 20));
    await client.set("lane:{bad}:f60000", "text");
    await expect(backend.limit("bad", fixed(3))).rejects.toMatchObject({ message: expect.stringMatching(/LIMIT: WRONGTYPE/) });
    expect(proxy.chunks()).toBeGreaterThan(200);
  });

  it("is not made for a supplied client", async () => {
    const redis = await server();
    const client = admin(redis.url);
    const backend = backendOn(redis.url, { client: admin(redis.url) });
    for (let i = 0; i < 20; i++) {
      await backend.limit("c", fixed(100));
      await sleep(10);
    }
    expect(await lanes(client)).toEqual([]);
  });
});

/** A TCP proxy to `port` that hands the server's bytes on 1 to 3 at a time, a timer apart. */
async function splittingProxy(port: number): Promise<{ port: number; chunks: () => number }> {
  let chunks = 0;
  const sockets = new Set<Socket>();
  const proxy: Server = createServer((downstream) => {
    const upstream = netConnect({ port, host: "127.0.0.1" });
    sockets.add(downstream).add(upstream);
    downstream.pipe(upstream);
    let queue = Promise.resolve();
    upstream.on("data", (data: Buffer) => {
      queue = queue.then(async () => {
        for (let at = 0; at < data.length; ) {
          const size = 1 + (at % 3);
          downstream.write(data.subarray(at, at + size));
          chunks++;
          at += size;
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      });
    });
    const end = () => {
      downstream.destroy();
      upstream.destroy();
    };
    upstream.on("close", end).on("error", end);
    downstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  cleanup.push(
    () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(resolve);
      }),
  );
  const address = proxy.address();
  return { port: typeof address === "object" && address ? address.port : 0, chunks: () => chunks };
}
