// redis://…?clientSide=1: a local copy kept coherent by Redis server-assisted client-side caching.
// Two real processes (test/support/child-client-side.ts) on their own redis-server: writes and
// deletes of one are seen by the other's next read within 100 ms; a dropped connection, a Redis
// restart and FLUSHDB never leave a stale local value. Plus single-process checks of the fill race,
// TTLs, signing and setup errors.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cache, CacheConfigError } from "../../../src/index.js";
import { stateOf } from "../../../src/core/state.js";
import "../../../src/redis.js";
import { MISSING } from "../../../src/backends/types.js";
import { LocalCopy } from "../../../src/backends/redis/client-side.js";
import { createRedisBackend } from "../../../src/backends/redis/backend.js";
import { hasRedisServer, startRedis, type RedisServer } from "../../support/redis-server.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const childScript = fileURLToPath(new URL("../../support/child-client-side.ts", import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const available = hasRedisServer() || process.env.CI === "true";

interface Peer {
  call<T = any>(op: string, args?: Record<string, unknown>): Promise<T>;
  get(key: string): Promise<{ value: unknown; local: boolean }>;
  state(): Promise<{ armed: boolean; size: number }>;
  stop(): Promise<void>;
}

function startPeer(url: string): Promise<Peer> {
  const child: ChildProcess = fork(childScript, [], {
    cwd: root,
    execArgv: ["--import", "tsx"],
    env: { ...process.env, REDIS_URL: url },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let next = 0;
  const waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`child exited (${code}) before it was ready`)));
    child.on("message", (message: any) => {
      if (message.ready) {
        const call = <T,>(op: string, args: Record<string, unknown> = {}): Promise<T> =>
          new Promise((res, rej) => {
            const id = ++next;
            waiting.set(id, { resolve: res, reject: rej });
            child.send({ id, op, ...args });
          });
        resolve({
          call,
          get: (key) => call("get", { key }),
          state: () => call("state"),
          async stop() {
            await call("close").catch(() => {});
            child.kill("SIGKILL");
          },
        });
        return;
      }
      const pending = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error) pending?.reject(new Error(message.error));
      else pending?.resolve(message.result);
    });
  });
}

/** Reads `key` in `peer` until it is served by the local copy (two reads fill and decode it). */
async function warm(peer: Peer, key: string, expected: unknown): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const read = await peer.get(key);
    expect(read.value).toEqual(expected);
    if (read.local) return;
    await sleep(10);
  }
  throw new Error(`${key} never served from the local copy`);
}

describe.skipIf(!available)("redis clientSide across two processes", () => {
  let server: RedisServer;
  let a: Peer;
  let b: Peer;
  let raw: Redis;

  beforeAll(async () => {
    server = await startRedis();
    [a, b] = await Promise.all([startPeer(server.url), startPeer(server.url)]);
    raw = new Redis(server.url);
  }, 60_000);

  afterAll(async () => {
    raw?.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
    await server?.stop();
  });

  it("a write or delete in one process is seen by the other's next read within 100 ms", async () => {
    for (let round = 0; round < 15; round++) {
      const key = `shared:${round}`;
      await b.call("set", { key, value: { round, v: 0 } });
      await warm(a, key, { round, v: 0 }); // a serves it locally from now on
      await b.call("set", { key, value: { round, v: 1 } });
      await sleep(100);
      expect((await a.get(key)).value).toEqual({ round, v: 1 });
      await warm(a, key, { round, v: 1 });
      await b.call("delete", { key });
      await sleep(100);
      expect((await a.get(key)).value).toBeNull();
    }
  });

  it("writes of a process itself are seen by its own next read at once", async () => {
    await a.call("set", { key: "own", value: 1 });
    await warm(a, "own", 1);
    await a.call("set", { key: "own", value: 2 });
    expect((await a.get("own")).value).toBe(2);
    await a.call("delete", { key: "own" });
    expect((await a.get("own")).value).toBeNull();
  });

  it("flushes the local copy when its connection drops, and serves nothing stale after", async () => {
    await b.call("set", { key: "drop", value: "before" });
    await warm(a, "drop", "before");
    expect((await a.state()).size).toBeGreaterThan(0);
    // Drop every subscriber connection (the invalidation connections): invalidations of the
    // write below can then not reach anyone.
    await raw.call("CLIENT", "KILL", "TYPE", "pubsub");
    await b.call("set", { key: "drop", value: "after" });
    await sleep(100);
    const read = await a.get("drop");
    expect(read.value).toBe("after");
    // Re-armed after the reconnect; the local copy works again.
    await warm(a, "drop", "after");
    expect((await a.state()).armed).toBe(true);
  });

  it("empties the local copy at once when the invalidation connection closes", async () => {
    await b.call("set", { key: "closing", value: 1 });
    await warm(a, "closing", 1);
    await raw.call("CLIENT", "KILL", "TYPE", "pubsub");
    // Until it is re-armed, a's copy is empty and unused (the state reads race the reconnect).
    let sawDisarmed = false;
    for (let i = 0; i < 200 && !sawDisarmed; i++) {
      const state = await a.state();
      if (!state.armed) {
        sawDisarmed = true;
        expect(state.size).toBe(0);
      }
    }
    expect(sawDisarmed).toBe(true);
    await warm(a, "closing", 1);
  });

  it("never serves a stale value across a Redis restart", async () => {
    await b.call("set", { key: "restart", value: "old" });
    await warm(a, "restart", "old");
    await warm(b, "restart", "old");
    await server.restart(); // empty afterwards
    const seen = new Set<unknown>();
    const deadline = Date.now() + 8_000;
    let written = false;
    while (Date.now() < deadline) {
      const read = await a.get("restart").catch(() => ({ value: "error", local: false }));
      seen.add(read.value);
      if (!written) {
        written = await b.call<boolean>("set", { key: "restart", value: "new" }).catch(() => false);
      } else if (read.value === "new" && read.local) break;
      await sleep(20);
    }
    expect(seen.has("old")).toBe(false);
    expect(written).toBe(true);
    await warm(a, "restart", "new");
  }, 30_000);

  it("FLUSHDB clears every local copy", async () => {
    for (const key of ["f1", "f2"]) {
      await a.call("set", { key, value: key });
      await warm(a, key, key);
      await warm(b, key, key);
    }
    await raw.flushdb();
    await sleep(100);
    for (const peer of [a, b]) {
      expect((await peer.state()).size).toBe(0);
      expect((await peer.get("f1")).value).toBeNull();
      expect((await peer.get("f2")).value).toBeNull();
    }
  });
});

describe.skipIf(!available)("redis clientSide in one process", () => {
  let server: RedisServer;
  let raw: Redis;
  const caches: Cache[] = [];
  const open = async (options: Record<string, unknown> = {}): Promise<Cache> => {
    const cache = new Cache("cs").setup(server.url, { clientSide: true, ...options });
    caches.push(cache);
    await cache.init();
    return cache;
  };
  const backendOf = (cache: Cache): any => stateOf(cache).routes[0]!.backend;

  beforeAll(async () => {
    server = await startRedis({ args: ["--enable-debug-command", "local"] });
    raw = new Redis(server.url);
  }, 60_000);
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.stop();
  });

  it("serves repeated decorated hits from the local copy, with no Redis command", async () => {
    const cache = await open();
    let loads = 0;
    const load = cache({ ttl: "1h", key: "item:{id}" })(async (id: number) => ({ id, loads: ++loads }));
    await load(1);
    await load(1); // fills the local copy
    await load(1); // decodes once into it
    const before = Number(/total_commands_processed:(\d+)/.exec(await raw.info("stats"))![1]);
    for (let i = 0; i < 200; i++) expect(await load(1)).toEqual({ id: 1, loads: 1 });
    const after = Number(/total_commands_processed:(\d+)/.exec(await raw.info("stats"))![1]);
    expect(after - before).toBe(1); // the INFO call itself
    expect(loads).toBe(1);
  });

  it("a local entry never outlives the key's TTL, even without an invalidation", async () => {
    const cache = await open();
    await raw.call("DEBUG", "SET-ACTIVE-EXPIRE", "0"); // no expiry events: only the TTL read with the value can end it
    try {
      await cache.set("short", "v", { expire: "300ms" });
      expect(await cache.get("short")).toBe("v");
      expect(await cache.get("short")).toBe("v");
      expect(backendOf(cache).peek("short")).toBe("v");
      await sleep(450);
      expect(backendOf(cache).peek("short")).toBe(MISSING);
    } finally {
      await raw.call("DEBUG", "SET-ACTIVE-EXPIRE", "1");
    }
  });

  it("signed values are verified once when filled, and a tampered write is reported and never served", async () => {
    const cache = await open({ secret: "s3cret", namespace: "signed" });
    const events: string[] = [];
    cache.on("tampered", (event) => events.push(event.key!));
    await cache.set("doc", { ok: true });
    expect(await cache.get("doc")).toEqual({ ok: true });
    expect(await cache.get("doc")).toEqual({ ok: true });
    await raw.set("signed:doc", '{"ok":false}'); // unsigned: invalidates, then fails verification
    await sleep(100);
    expect(await cache.get("doc")).toBeUndefined();
    expect(events).toEqual(["doc"]);
  });

  it("a read whose key changes while it is in flight does not fill the local copy", () => {
    const local = new LocalCopy();
    local.armed = true;
    const ticket = local.begin("k")!;
    local.invalidate("k"); // the invalidation overtook the reply
    local.finish("k", ticket, "old", 60_000);
    expect(local.raw("k")).toBeUndefined();

    const second = local.begin("k")!;
    local.flush(); // a reconnect or FLUSHDB meanwhile
    local.finish("k", second, "old", 60_000);
    expect(local.raw("k")).toBeUndefined();

    local.armed = false;
    expect(local.begin("k")).toBeUndefined(); // not armed: nothing fills

    local.armed = true;
    const third = local.begin("k")!;
    local.finish("k", third, "fresh", -1); // no TTL: kept for LOCAL_MAX_TTL_MS
    expect(local.raw("k")).toBe("fresh");
  });

  it("stays within its size", () => {
    const local = new LocalCopy(100);
    local.armed = true;
    for (let i = 0; i < 1000; i++) local.finish(`k${i}`, local.begin(`k${i}`)!, `v${i}`, 60_000);
    expect(local.size).toBe(100);
    expect(local.raw("k999")).toBe("v999");
    expect(local.raw("k0")).toBeUndefined();
  });

  it("says once that it is off when the server refuses tracking (ACL), and reads from Redis", async () => {
    await raw.call("ACL", "SETUSER", "notrack", "on", ">pw", "~*", "&*", "+@all", "-client");
    const cache = new Cache("acl").setup(server.url.replace("redis://", "redis://notrack:pw@"), { clientSide: true });
    caches.push(cache);
    await cache.init();
    await cache.set("k", "v");
    for (let i = 0; i < 3; i++) expect(await cache.get("k")).toBe("v");
    const state = backendOf(cache).clientSideState();
    expect(state).toMatchObject({ armed: false, size: 0 });
    expect(state.off).toMatch(/refused client tracking.*NOPERM/);
    await sleep(500); // no retry loop: only the data connection of that user is left
    const clients = String(await raw.call("CLIENT", "LIST")).split("\n").filter((line) => line.includes("user=notrack"));
    expect(clients).toHaveLength(1);
  });

  it("keys that hold no string (tag sets) read as misses, as with MGET, without failing the other reads", async () => {
    const cache = await open({ namespace: "types" });
    await cache.set("user:1", "ada", { tags: ["users"] });
    await cache.set("user:2", "bob", { tags: ["users"] });
    await raw.sadd("types:aset", "x");
    expect(await cache.getMany(["user:1", "aset", "user:2"])).toEqual(["ada", undefined, "bob"]);
    const [a, s, b] = await Promise.all([cache.get("user:1"), cache.get("aset"), cache.get("user:2")]);
    expect([a, s, b]).toEqual(["ada", undefined, "bob"]);
    const matched = [];
    for await (const [key, value] of cache.getMatch("user:*")) matched.push([key, value]);
    expect(matched.sort()).toEqual([["user:1", "ada"], ["user:2", "bob"]]);
  });

  it("after deleteMatch or clear resolves, no deleted value is served, also one read while they ran", async () => {
    const cache = await open({ namespace: "dm" });
    const backend = backendOf(cache);
    for (let round = 0; round < 150; round++) {
      await cache.set("d:1", round);
      expect(await cache.get("d:1")).toBe(round);
      const deleting = round % 2 ? cache.deleteMatch("d:*") : cache.clear();
      const during = cache.get("d:1"); // between the flush and the UNLINK
      await deleting;
      await during;
      expect(backend.peek("d:1")).toBe(MISSING);
      expect(await cache.get("d:1")).toBeUndefined();
    }
  });

  it("fills with MULTI where an ACL refuses scripts, and still serves locally", async () => {
    await raw.call("ACL", "SETUSER", "noscript", "on", ">pw", "~*", "&*", "+@all", "-@scripting");
    const cache = new Cache("noscript").setup(server.url.replace("redis://", "redis://noscript:pw@"), { clientSide: true, namespace: "ns-acl" });
    caches.push(cache);
    await cache.init();
    await cache.set("k", { v: 1 }, { expire: "1m" });
    expect(await cache.get("k")).toEqual({ v: 1 });
    expect(await cache.get("k")).toEqual({ v: 1 });
    expect(backendOf(cache).peek("k")).toEqual({ v: 1 });
    expect(backendOf(cache).clientSideState()).toMatchObject({ armed: true });
  });

  it("keys with a lone surrogate are never kept locally (their invalidations would name another key)", async () => {
    const cache = await open({ namespace: "sur" });
    const other = new Cache("other").setup(server.url, { namespace: "sur" });
    caches.push(other);
    const key = "bad\uD800";
    await other.set(key, "v1");
    expect(await cache.get(key)).toBe("v1");
    expect(await cache.get(key)).toBe("v1");
    await other.set(key, "v2");
    await sleep(100);
    expect(await cache.get(key)).toBe("v2");
    expect(backendOf(cache).peek(key)).toBe(MISSING);
  });

  it("when the data connection comes back, the invalidation connection is reopened and re-armed with it", async () => {
    const cache = await open({ namespace: "move" });
    await cache.set("k", 1);
    await cache.get("k");
    await cache.get("k");
    const clients = async () => String(await raw.call("CLIENT", "LIST")).split("\n").filter(Boolean);
    const trackerId = async () => (await clients()).find((line) => line.includes("flags=P") || / sub=1 /.test(line))?.match(/\bid=(\d+)/)?.[1];
    const before = await trackerId();
    expect(before).toBeDefined();
    // Kill the data connection only (normal, not subscribed, not this test's own).
    const own = String(await raw.client("ID"));
    const data = (await clients()).filter((line) => / sub=0 /.test(line) && !line.includes(`id=${own} `));
    for (const line of data) await raw.call("CLIENT", "KILL", "ID", line.match(/\bid=(\d+)/)![1]!);
    let after: string | undefined;
    for (let i = 0; i < 100 && (after === undefined || after === before); i++) {
      await sleep(20);
      after = await trackerId();
    }
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    for (let i = 0; i < 100 && !backendOf(cache).clientSideState().armed; i++) await sleep(20);
    expect(await cache.get("k")).toBe(1);
    expect(await cache.get("k")).toBe(1);
    expect(backendOf(cache).peek("k")).toBe(1);
  });

  it("close() with a read still queued opens no connection afterwards", async () => {
    const count = async () => String(await raw.call("CLIENT", "LIST")).split("\n").filter(Boolean).length;
    const before = await count();
    const backend = createRedisBackend(server.url, { clientSide: true });
    await backend.init();
    const outcome = backend.get("x").then(
      () => "resolved",
      (error: unknown) => String(error),
    );
    await backend.close();
    expect(await outcome).toMatch(/closed/);
    await sleep(300);
    expect(await count()).toBe(before);
  });

  it("refuses clientSide with a supplied client or on Cluster, at setup", () => {
    const client = new Redis(server.url, { lazyConnect: true });
    expect(() => new Cache("x").setup(server.url, { clientSide: true, client })).toThrow(CacheConfigError);
    expect(() => new Cache("x").setup("redis+cluster://127.0.0.1:7000,127.0.0.1:7001", { clientSide: true })).toThrow(/not supported on Redis Cluster/);
    client.disconnect();
  });
});
