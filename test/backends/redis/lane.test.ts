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

/**
 * Lone limit calls on `id` (one every 10 ms) until the server lists a lane other than `not` that
 * carried one of them (its last command a script); the lane and the remainders answered.
 */
async function callUntilLane(backend: RedisBackend, client: Redis, id: string, limit: number, not?: string): Promise<{ lane: Record<string, string>; remaining: number[] }> {
  const remaining: number[] = [];
  const deadline = Date.now() + 10_000 + LANE_RETRY_MS;
  for (;;) {
    remaining.push((await backend.limit(id, fixed(limit))).states[0]!.remaining);
    const lane = (await lanes(client)).find((one) => one.id !== not && one.cmd?.startsWith("eval"));
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

const countDown = (from: number, n: number) => Array.from({ length: n }, (_, i) => from - i);

describe.skipIf(!hasRedis)("the limit lane", () => {
  it("carries the LIMIT scripts once it is ready, lone calls and a tick's scripts, on the backend's database, with the answers of ioredis", async () => {
    const redis = await server();
    const client = admin(redis.url);
    const backend = backendOn(`${redis.url}/2`);
    await backend.init();
    await backend.set("k", "v", 60_000);
    expect(await lanes(client)).toEqual([]); // none before a limit call
    const { lane, remaining } = await callUntilLane(backend, client, "a", 1000);
    expect(remaining).toEqual(countDown(999, remaining.length));
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
      expect(tick.map((answer) => answer.states[0]!.remaining)).toEqual(countDown(999 - before - 5, 40));
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
    expect(first.remaining).toEqual(countDown(99, first.remaining.length));
    expect(second.remaining).toEqual(countDown(99, second.remaining.length));
  });

  it("sends the script again as EVAL when the server lost it (NOSCRIPT), once", async () => {
    const redis = await server();
    const client = admin(redis.url);
    const backend = backendOn(redis.url);
    const { lane, remaining } = await callUntilLane(backend, client, "n", 100);
    await client.script("FLUSH");
    const seen = await monitored(redis.url, async () => {
      expect((await backend.limit("n", fixed(100))).states[0]!.remaining).toBe(99 - remaining.length);
      expect((await backend.limit("n", fixed(100))).states[0]!.remaining).toBe(98 - remaining.length);
    });
    const scripts = seen.filter((line) => line.name.startsWith("eval"));
    expect(scripts).toEqual(["evalsha", "eval", "evalsha"].map((name) => ({ name, source: lane.addr })));
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
    expect([...first.remaining, ...second.remaining]).toEqual(countDown(999, first.remaining.length + second.remaining.length));
  });

  it("a call in flight on a lane that is lost fails, and is not sent again", async () => {
    const redis = await server();
    const client = admin(redis.url);
    const backend = backendOn(redis.url, { timeout: 10_000 });
    const { lane, remaining } = await callUntilLane(backend, client, "f", 1000);
    await client.client("PAUSE", "5000", "WRITE"); // scripts wait; CLIENT KILL does not
    const inFlight = backend.limit("f", fixed(1000));
    const outcome = inFlight.then(
      () => undefined,
      (error: unknown) => error,
    );
    await sleep(50);
    await client.client("KILL", "ID", lane.id!);
    expect(await outcome).toMatchObject({ name: "CacheBackendError", message: expect.stringMatching(/redis LIMIT: .*lost/) });
    await client.client("UNPAUSE");
    await sleep(LANE_RETRY_MS / 2);
    expect(await client.get("lane:{f}:f60000")).toBe(String(remaining.length));
    expect((await backend.limit("f", fixed(1000))).states[0]!.remaining).toBe(999 - remaining.length);
  });

  it("reads replies split across many reads", async () => {
    const redis = await server();
    const client = admin(redis.url);
    const proxy = await tcpProxy(redis.port, { split: true });
    const backend = backendOn(`redis://127.0.0.1:${proxy.port}`, { timeout: 10_000 });
    const { remaining } = await callUntilLane(backend, client, "s", 1000);
    const n = remaining.length;
    expect(remaining).toEqual(countDown(999, n));
    for (let i = 0; i < 3; i++) expect((await backend.limit("s", fixed(1000))).states[0]!.remaining).toBe(999 - n - i);
    const tick = await Promise.all(Array.from({ length: 20 }, () => backend.limit("s", fixed(1000))));
    expect(tick.map((answer) => answer.states[0]!.remaining)).toEqual(countDown(996 - n, 20));
    await client.set("lane:{bad}:f60000", "text");
    await expect(backend.limit("bad", fixed(3))).rejects.toMatchObject({ message: expect.stringMatching(/LIMIT: WRONGTYPE/) });
    expect(proxy.chunks()).toBeGreaterThan(200);
  });

  it("a lane that does not answer is given up after its call's timeout: the next calls go through ioredis, then on a new lane", async () => {
    const redis = await server();
    const client = admin(redis.url);
    const proxy = await tcpProxy(redis.port);
    const backend = backendOn(`redis://127.0.0.1:${proxy.port}`, { timeout: 300 });
    const first = await callUntilLane(backend, client, "h", 1000);
    expect(proxy.connections).toHaveLength(2); // ioredis, then the lane
    proxy.connections[1]!.freeze(); // silent from now on, both ways (a dead peer, a dropped NAT entry)
    await expect(backend.limit("h", fixed(1000))).rejects.toMatchObject({ name: "CacheBackendError", message: expect.stringMatching(/timed out/) });
    // Unresponsive until a probe (PING, on ioredis) answers; then every call answers again.
    const until = Date.now() + 5_000;
    let answered = 0;
    while (answered === 0) {
      if (Date.now() > until) throw new Error("no answer within 5 s");
      answered += await backend.limit("h", fixed(1000)).then(() => 1, () => 0);
      await sleep(20);
    }
    for (let i = 0; i < 10; i++) await backend.limit("h", fixed(1000));
    const second = await callUntilLane(backend, client, "h", 1000, first.lane.id);
    expect(proxy.connections).toHaveLength(3);
    // The call the silent lane took was never applied: each answered call counted once.
    const answeredCalls = first.remaining.length + 1 + 10 + second.remaining.length;
    expect(await client.get("lane:{h}:f60000")).toBe(String(answeredCalls));
  });

  it("follows a failover: a lane answered READONLY is dropped, and made again where ioredis reconnects", async () => {
    const [a, b] = [await server(), await server()];
    const [onA, onB] = [admin(a.url), admin(b.url)];
    const proxy = await tcpProxy(a.port);
    const backend = backendOn(`redis://127.0.0.1:${proxy.port}`);
    await callUntilLane(backend, onA, "r", 1000);
    // B takes over behind the same address; A is now its replica (its clients stay connected).
    proxy.retarget(b.port);
    await onA.replicaof("127.0.0.1", String(b.port));
    const until = Date.now() + 10_000;
    let refused = 0;
    for (;;) {
      if (Date.now() > until) throw new Error("still refused after 10 s");
      const ok = await backend.limit("r", fixed(1000)).then(
        () => true,
        (error: Error) => {
          expect(error.message).toMatch(/READONLY|no longer the master|unreachable|lost/);
          refused++;
          return false;
        },
      );
      if (ok && (await lanes(onB)).some((lane) => lane.cmd?.startsWith("eval"))) break;
      await sleep(20);
    }
    expect(refused).toBeGreaterThan(0);
    expect(await lanes(onA)).toEqual([]);
    expect((await backend.limit("r", fixed(1000))).success).toBe(true);
  });

  it("a handshake the server refuses is reported once, and the calls stay on ioredis", async () => {
    const redis = await server();
    const client = admin(redis.url);
    await client.acl("SETUSER", "noping", "on", ">pw", "~*", "+@all", "-ping");
    const errors: Error[] = [];
    const backend = backendOn(`redis://noping:pw@127.0.0.1:${redis.port}`, { onError: (error: Error) => errors.push(error) });
    const remaining: number[] = [];
    for (let i = 0; i < 50; i++) {
      remaining.push((await backend.limit("x", fixed(100))).states[0]!.remaining);
      await sleep(40); // 2 s: past LANE_RETRY_MS, short of LANE_REFUSED_RETRY_MS
    }
    expect(remaining).toEqual(countDown(99, 50));
    expect(errors.map((error) => error.message)).toEqual([expect.stringMatching(/refused the limit lane's handshake \(NOPERM/)]);
    expect(await lanes(client)).toEqual([]);
  });

  it("close() waits for the calls in flight on the lane", async () => {
    const redis = await server();
    const client = admin(redis.url);
    const backend = backendOn(redis.url);
    const { remaining } = await callUntilLane(backend, client, "c", 1000);
    const lone = backend.limit("c", fixed(1000)); // written at once
    const tick = Promise.all(Array.from({ length: 20 }, () => backend.limit("c", fixed(1000))));
    await new Promise((resolve) => setImmediate(resolve)); // the tick's scripts written too
    await backend.close();
    const answers = [await lone, ...(await tick)];
    expect(answers.map((answer) => answer.states[0]!.remaining)).toEqual(countDown(999 - remaining.length, 21));
    expect(await lanes(client)).toEqual([]);
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

interface ProxyConnection {
  /** Forwards nothing more, either way (the sockets stay open). */
  freeze(): void;
}

/**
 * A TCP proxy to `port` on 127.0.0.1 (`retarget`: new connections go to another port).
 * `split`: the server's bytes are handed on 1 to 3 at a time, a timer apart.
 */
async function tcpProxy(port: number, { split = false } = {}): Promise<{ port: number; connections: ProxyConnection[]; retarget(port: number): void; chunks: () => number }> {
  let target = port;
  let chunks = 0;
  const sockets = new Set<Socket>();
  const connections: ProxyConnection[] = [];
  const proxy: Server = createServer((downstream) => {
    const upstream = netConnect({ port: target, host: "127.0.0.1" });
    sockets.add(downstream).add(upstream);
    let frozen = false;
    connections.push({ freeze: () => (frozen = true) });
    downstream.on("data", (data: Buffer) => {
      if (!frozen) upstream.write(data);
    });
    let queue = Promise.resolve();
    upstream.on("data", (data: Buffer) => {
      if (frozen) return;
      if (!split) {
        downstream.write(data);
        return;
      }
      queue = queue.then(async () => {
        for (let at = 0; at < data.length && !frozen; ) {
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
  return {
    port: typeof address === "object" && address ? address.port : 0,
    connections,
    retarget: (to) => (target = to),
    chunks: () => chunks,
  };
}
