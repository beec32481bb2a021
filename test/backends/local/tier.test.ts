// The local tier (`local` option) on real remote stores: upstash:// through the local
// Upstash-compatible REST server (whose request counter proves hits cost no I/O) with the real
// @upstash/redis client, and deno-kv:// through @deno/kv with its handle wrapped to count reads.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { Cache, CacheConfigError, defineBackend, runWithWaitUntil, type Backend, type CacheEventInfo } from "../../../src/index.js";
import "../../../src/deno-kv.js";
import "../../../src/redis.js";
import { parseSetup } from "../../../src/config/parse.js";
import { LocalTier, withLocalTier } from "../../../src/backends/local/tier.js";
import type { Bus, BusListener, Invalidation } from "../../../src/backends/local/bus.js";
import { LOCK_PREFIX, MISSING } from "../../../src/backends/types.js";
import { startUpstashServer, type UpstashServer } from "../../support/upstash-server.js";

const redisUrl = inject("redisUrl");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

let namespaces = 0;
const ns = (): string => `local-tier-${process.pid}-${++namespaces}`;

/** Reads the store received: GET and MGET, and the script that reads values with their TTLs (one command for any number of keys). */
const reads = (server: UpstashServer): number => ["GET", "MGET", "EVALSHA", "EVAL"].reduce((sum, name) => sum + server.commandCount(name), 0);

async function ownServer(): Promise<UpstashServer> {
  const server = await startUpstashServer({ redisUrl });
  cleanup.push(() => server.stop());
  return server;
}

/** A cache on `server` with a local tier; `namespace` shared when given (two instances). */
function cacheOn(server: UpstashServer, local: Record<string, unknown> | true, options: Record<string, unknown> = {}): Cache {
  const cache = new Cache("local-tier").setup(server.url.replace(/^http:/, "upstash+http:"), { token: server.token, namespace: ns(), local, ...options });
  cleanup.push(() => cache.close());
  return cache;
}

describe.skipIf(!redisUrl)("local tier on upstash://", () => {
  // Reads are counted as the GETs the store receives: the bus's heartbeats are requests too.
  it("serves local hits without I/O; a miss fills with one command (value and PTTL by one script)", async () => {
    const server = await ownServer();
    const cache = cacheOn(server, true);
    await cache.set("k", { a: 1 }, { expire: "1m" });
    server.resetCount();
    for (let i = 0; i < 20; i++) expect(await cache.get("k")).toEqual({ a: 1 });
    expect(reads(server)).toBe(0); // the write itself filled the local copy
    // A decorated function's hits: no request either.
    let calls = 0;
    const fn = cache.cache({ ttl: "1m", key: "fn" })(async () => ++calls);
    expect(await fn()).toBe(1);
    server.resetCount();
    for (let i = 0; i < 20; i++) expect(await fn()).toBe(1);
    expect(reads(server)).toBe(0);
    expect(calls).toBe(1);
  });

  it("reads through on a miss with one request, then serves locally", async () => {
    const server = await ownServer();
    const namespace = ns();
    const writer = cacheOn(server, true, { namespace });
    const reader = cacheOn(server, true, { namespace });
    await writer.set("k", "v", { expire: "1m" });
    await reader.init();
    server.resetCount();
    expect(await reader.get("k")).toBe("v");
    expect(reads(server)).toBe(1);
    for (let i = 0; i < 10; i++) expect(await reader.get("k")).toBe("v");
    expect(reads(server)).toBe(1);
  });

  it("getMany reads what is not local in one command (values with their TTLs) and keeps it: the next reads cost nothing", async () => {
    const server = await ownServer();
    const namespace = ns();
    const writer = cacheOn(server, true, { namespace });
    const reader = cacheOn(server, true, { namespace });
    await writer.setMany({ a: 1, b: 2, c: 3 }, { expire: "1m" });
    await reader.init();
    expect(await reader.get("a")).toBe(1); // one key local already
    server.resetCount();
    expect(await reader.getMany(["a", "b", "c", "none"])).toEqual([1, 2, 3, undefined]);
    expect(reads(server)).toBe(1); // the three missing keys in one script
    expect(server.commandCount("PTTL")).toBe(0);
    server.resetCount();
    expect(await reader.getMany(["a", "b", "c"])).toEqual([1, 2, 3]);
    expect(await reader.get("b")).toBe(2);
    expect(reads(server)).toBe(0);
  });

  it("a write by this instance is seen by it at once (set, delete, incr)", async () => {
    const server = await ownServer();
    const cache = cacheOn(server, { ttl: "1m" });
    await cache.set("k", 1, { expire: "1m" });
    expect(await cache.get("k")).toBe(1);
    await cache.set("k", 2, { expire: "1m" });
    expect(await cache.get("k")).toBe(2);
    await cache.delete("k");
    expect(await cache.get("k")).toBeUndefined();
    expect(await cache.incr("n")).toBe(1);
    expect(await cache.get("n")).toBe(1);
    expect(await cache.incr("n")).toBe(2);
    expect(await cache.get("n")).toBe(2);
  });

  it("concurrent writes of this instance: it reads what the store holds after them", async () => {
    const server = await ownServer();
    const namespace = ns();
    const cache = cacheOn(server, { ttl: "1m" }, { namespace });
    const truth = new Cache("truth").setup(server.url.replace(/^http:/, "upstash+http:"), { token: server.token, namespace });
    cleanup.push(() => truth.close());
    for (let round = 0; round < 5; round++) {
      await Promise.all([cache.set("k", `a${round}`, { expire: "1m" }), cache.set("k", `b${round}`, { expire: "1m" })]);
      expect(await cache.get("k")).toBe(await truth.get("k"));
      await Promise.all([cache.set("k", `c${round}`, { expire: "1m" }), cache.delete("k"), cache.set("k", `d${round}`, { expire: "1m" })]);
      expect(await cache.get("k")).toBe(await truth.get("k"));
      await Promise.all([cache.delete("k"), cache.incr("k")]);
      expect(await cache.get("k")).toBe(await truth.get("k"));
    }
  });

  it("another instance's write is seen within the local ttl, not later, over several rounds", async () => {
    const server = await ownServer();
    const namespace = ns();
    const ttl = 300;
    const a = cacheOn(server, { ttl }, { namespace });
    const b = cacheOn(server, { ttl }, { namespace });
    for (let round = 0; round < 4; round++) {
      await b.set("shared", round, { expire: "1m" });
      // a reads it (filling its copy), then b writes the next value.
      await expect.poll(() => a.get("shared"), { timeout: 2 * ttl + 500, interval: 5 }).toBe(round);
      await b.set("shared", round + 100, { expire: "1m" });
      const written = performance.now();
      while ((await a.get("shared")) !== round + 100) {
        expect(performance.now() - written).toBeLessThan(ttl + 150); // the staleness bound (plus a request)
        await sleep(5);
      }
    }
  });

  it("a local entry never outlives its key's TTL", async () => {
    const server = await ownServer();
    const cache = cacheOn(server, { ttl: "1m" });
    await cache.set("short", "v", { expire: 150 });
    expect(await cache.get("short")).toBe("v");
    await sleep(200);
    expect(await cache.get("short")).toBeUndefined();
  });

  it("grace: when the remote store is down, serves the copy past its ttl within grace and emits stale; a miss after grace", async () => {
    const server = await ownServer();
    const cache = cacheOn(server, { ttl: 100, grace: 400 }, { timeout: 300 });
    const stale: CacheEventInfo[] = [];
    const errors: CacheEventInfo[] = [];
    cache.on("stale", (event) => stale.push(event));
    cache.on("error", (event) => errors.push(event));
    await cache.set("k", "v", { expire: "1m" });
    // Served locally: the bus has confirmed its subscription and the copy holds "k".
    await expect
      .poll(async () => {
        await cache.get("k");
        server.resetCount();
        await cache.get("k");
        return reads(server);
      })
      .toBe(0);
    await sleep(150); // past the local ttl
    await server.stop();
    expect(await cache.get("k")).toBe("v");
    expect(stale).toHaveLength(1);
    expect(stale[0]).toMatchObject({ type: "stale", key: "k", backend: "upstash+http" });
    expect(stale[0]!.error).toBeInstanceOf(Error);
    expect(errors).toHaveLength(0);
    await sleep(400); // past grace
    expect(await cache.get("k")).toBeUndefined();
    expect(errors.length).toBeGreaterThan(0);
    await server.restart();
  });

  it("grace: a remote read that times out serves the copy too", async () => {
    const server = await ownServer();
    const cache = cacheOn(server, { ttl: 100, grace: "5s" }, { timeout: 150 });
    const stale: CacheEventInfo[] = [];
    cache.on("stale", (event) => stale.push(event));
    await cache.set("k", "v", { expire: "1m" });
    await sleep(150);
    server.setDelay(1000);
    const started = performance.now();
    expect(await cache.get("k")).toBe("v");
    expect(performance.now() - started).toBeLessThan(900);
    expect(stale.map((e) => e.key)).toEqual(["k"]);
    server.setDelay(0);
  });

  it("grace covers getMany too: every missing key served from its stale copy, or the failure", async () => {
    const server = await ownServer();
    const cache = cacheOn(server, { ttl: 100, grace: "5s" }, { timeout: 150 });
    const stale: CacheEventInfo[] = [];
    cache.on("stale", (event) => stale.push(event));
    await cache.setMany({ a: 1, b: 2 }, { expire: "1m" });
    await sleep(150);
    server.setDelay(1000);
    expect(await cache.getMany(["a", "b"])).toEqual([1, 2]);
    expect(stale.map((e) => e.key).sort()).toEqual(["a", "b"]);
    // A key without a copy: the whole read fails (safe mode: misses), never a partial answer.
    expect(await cache.getMany(["a", "never-read"])).toEqual([undefined, undefined]);
    server.setDelay(0);
  });

  it("without grace, a remote failure is a miss even with a (ttl-expired) local copy", async () => {
    const server = await ownServer();
    const cache = cacheOn(server, { ttl: 100 }, { timeout: 300 });
    await cache.set("k", "v", { expire: "1m" });
    await sleep(150);
    await server.stop();
    expect(await cache.get("k")).toBeUndefined();
    await server.restart();
  });

  it("counters, locks and rate limits always go to the remote store", async () => {
    const server = await ownServer();
    const namespace = ns();
    const a = cacheOn(server, { ttl: "1m" }, { namespace });
    const b = cacheOn(server, { ttl: "1m" }, { namespace });
    expect(await a.incr("c")).toBe(1);
    expect(await b.incr("c")).toBe(2);
    expect(await a.incr("c")).toBe(3);
    const incrs = server.commandCount("INCRBY");
    expect(await b.incr("c")).toBe(4);
    // One command at the store (the bus's subscription and heartbeats are other requests).
    expect(server.commandCount("INCRBY")).toBe(incrs + 1);
    expect(await a.setLock("lock", "a", "10s")).toBe(true);
    expect(await b.setLock("lock", "b", "10s")).toBe(false);
    expect(await b.unlock("lock", "b")).toBe(false);
    expect(await a.unlock("lock", "a")).toBe(true);
    expect(await b.setLock("lock", "b", "10s")).toBe(true);
    let calls = 0;
    const limitA = a.rateLimit({ limit: 3, period: "1m", key: "rl", action: () => "limited" })(async () => ++calls);
    const limitB = b.rateLimit({ limit: 3, period: "1m", key: "rl", action: () => "limited" })(async () => ++calls);
    expect([await limitA(), await limitB(), await limitA(), await limitB()]).toEqual([1, 2, 3, "limited"]);
  });

  it("lock: true takes the distributed lock once across two instances", async () => {
    const server = await ownServer();
    const namespace = ns();
    const a = cacheOn(server, { ttl: "1m" }, { namespace });
    const b = cacheOn(server, { ttl: "1m" }, { namespace });
    let calls = 0;
    const body = async (): Promise<number> => {
      await sleep(100);
      return ++calls;
    };
    const fa = a.cache({ ttl: "1m", lock: true, key: "locked" })(body);
    const fb = b.cache({ ttl: "1m", lock: true, key: "locked" })(body);
    expect(await Promise.all([fa(), fb(), fa(), fb()])).toEqual([1, 1, 1, 1]);
    expect(calls).toBe(1);
  });

  it("signed values are verified once, when they enter the local copy", async () => {
    const server = await ownServer();
    const cache = cacheOn(server, { ttl: "1m" }, { secret: "s3cret" });
    await cache.set("k", { signed: true }, { expire: "1m" });
    const route = cache.route("");
    const decode = vi.spyOn(route, "decode");
    for (let i = 0; i < 10; i++) expect(await cache.get("k")).toEqual({ signed: true });
    expect(decode).toHaveBeenCalledTimes(1);
    const fn = cache.cache({ ttl: "1m", key: "f" })(async () => ({ x: 1 }));
    await fn();
    decode.mockClear();
    for (let i = 0; i < 10; i++) expect(await fn()).toEqual({ x: 1 });
    expect(decode).toHaveBeenCalledTimes(1); // f's first read after its own write
  });

  it("tags and invalidation clear this instance's local copies", async () => {
    const server = await ownServer();
    const cache = cacheOn(server, { ttl: "1m" });
    await cache.set("t1", 1, { expire: "1m", tags: ["group"] });
    await cache.set("t2", 2, { expire: "1m", tags: ["group"] });
    expect(await cache.get("t1")).toBe(1);
    await cache.deleteTags("group");
    expect(await cache.get("t1")).toBeUndefined();
    expect(await cache.get("t2")).toBeUndefined();
    await cache.set("m:1", 1, { expire: "1m" });
    expect(await cache.get("m:1")).toBe(1);
    await cache.deleteMatch("m:*");
    expect(await cache.get("m:1")).toBeUndefined();
  });
});

/** A bus in this process: instances on one `hub` hear each other. */
class TestBus implements Bus {
  listener: BusListener | undefined;
  readonly published: Invalidation[] = [];
  constructor(readonly hub: Set<TestBus>) {}
  async start(listener: BusListener): Promise<void> {
    this.listener = listener;
    this.hub.add(this);
  }
  publish(message: Invalidation): void {
    this.published.push(message);
    for (const other of this.hub) if (other !== this) other.listener?.invalidate(message);
  }
  async close(): Promise<void> {
    this.hub.delete(this);
  }
}

describe.skipIf(!redisUrl)("local tier on upstash:// across instances: the invalidation bus", () => {
  /** Polls until `cache` serves `key` from its copy (no request reaches the server). */
  const servedLocally = async (server: UpstashServer, cache: Cache, key: string): Promise<void> => {
    await expect
      .poll(async () => {
        await cache.get(key);
        server.resetCount();
        await cache.get(key);
        return reads(server);
      })
      .toBe(0);
  };

  it("a write or delete in one instance is seen by the other within 200 ms, over many rounds, after it was served locally", async () => {
    const server = await ownServer();
    const namespace = ns();
    const a = cacheOn(server, { ttl: "1m" }, { namespace });
    const b = cacheOn(server, { ttl: "1m" }, { namespace });
    for (let round = 0; round < 20; round++) {
      await a.set("k", round, { expire: "1m" });
      await expect.poll(() => b.get("k"), { timeout: 2_000, interval: 5 }).toBe(round);
      await servedLocally(server, b, "k"); // b holds `round` locally (its ttl is a minute)
      expect(await b.get("k")).toBe(round);
      const changed = performance.now();
      if (round % 2 === 0) await a.set("k", -round, { expire: "1m" });
      else await a.delete("k");
      await expect.poll(() => b.get("k"), { timeout: 2_000, interval: 5 }).toBe(round % 2 === 0 ? -round : undefined);
      // A generous bound (a loaded CI machine), the 200 ms.
      expect(performance.now() - changed).toBeLessThan(200);
    }
  });

  it("a subscription killed by the server flushes and bypasses the copy until it is back: no stale read", async () => {
    const server = await ownServer();
    const namespace = ns();
    const a = cacheOn(server, { ttl: "1m" }, { namespace });
    const b = cacheOn(server, { ttl: "1m" }, { namespace });
    await a.set("k", 1, { expire: "1m" });
    await servedLocally(server, b, "k");
    server.dropSubscriptions();
    // Whatever b's bus knows meanwhile, a write by a is never hidden by b's copy.
    await a.set("k", 2, { expire: "1m" });
    await expect.poll(() => b.get("k"), { timeout: 2_000, interval: 5 }).toBe(2);
    // Back to local hits once the subscription is confirmed again.
    await servedLocally(server, b, "k");
    await a.set("k", 3, { expire: "1m" });
    await expect.poll(() => b.get("k"), { timeout: 2_000, interval: 5 }).toBe(3);
  });
});

describe.skipIf(!redisUrl)("local tier with a bus", () => {
  async function pair(server: UpstashServer): Promise<[LocalTier, LocalTier, TestBus, TestBus]> {
    const namespace = ns();
    const hub = new Set<TestBus>();
    const remotes = await Promise.all(
      [0, 1].map(async () => {
        const cache = cacheOn(server, true, { namespace });
        return ((await cache.route("").start()) as LocalTier).remote;
      }),
    );
    const buses = [new TestBus(hub), new TestBus(hub)] as const;
    const tiers = remotes.map((remote, i) => withLocalTier(remote, { size: 100, ttl: 60_000 }, buses[i]));
    for (const tier of tiers) await tier.init();
    for (const bus of buses) bus.listener!.connected(true);
    return [tiers[0]!, tiers[1]!, buses[0], buses[1]];
  }

  it("publishes writes and deletes, drops what others publish, and bypasses the copy while disconnected", async () => {
    const server = await ownServer();
    const [a, b, busA] = await pair(server);
    await a.set("k", "1", 60_000);
    expect(busA.published).toEqual([{ keys: ["k"] }]);
    expect(await b.get("k")).toBe("1");
    server.resetCount();
    expect(await b.get("k")).toBe("1");
    expect(server.requests).toBe(0);
    await a.set("k", "2", 60_000); // b's copy is dropped through the bus (ttl is a minute)
    expect(await b.get("k")).toBe("2");
    await a.clear();
    expect(busA.published.at(-1)).toEqual({ all: true });
    expect(await b.get("k")).toBe(MISSING);
    await a.set("k", "3", 60_000);
    expect(await b.get("k")).toBe("3");
    // Disconnected: flushed and bypassed (every read goes remote).
    const busB = [...busA.hub].find((x) => x !== busA)!;
    busB.listener!.connected(false);
    expect(b.local.size).toBe(0);
    server.resetCount();
    expect(await b.get("k")).toBe("3");
    expect(await b.get("k")).toBe("3");
    expect(server.requests).toBe(2);
    expect(b.peek("k")).toBe(MISSING);
  });
});

describe("local tier on deno-kv://", () => {
  it("serves hits without reading the KV; fills carry the record's expiry; grace after the KV is closed", async () => {
    const { openKv } = (await import("@deno/kv")) as unknown as { openKv(path: string): Promise<Record<string, unknown> & { close(): void }> };
    const dir = mkdtempSync(join(tmpdir(), "cashews-local-tier-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const kv = await openKv(join(dir, "kv.db"));
    let reads = 0;
    let down = false;
    const counted = new Proxy(kv, {
      get(target, name) {
        const value = Reflect.get(target, name) as unknown;
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (down) throw new Error("KV is down");
          if (name === "get" || name === "getMany") reads++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    cleanup.push(() => kv.close());
    const writer = new Cache("dkv-writer").setup("deno-kv://", { kv: counted, local: { ttl: 100, grace: 1000 } });
    const stale: CacheEventInfo[] = [];
    writer.on("stale", (event) => stale.push(event));
    cleanup.push(() => writer.close());
    await writer.set("k", "v", { expire: "1m" });
    await writer.set("short", "s", { expire: 150 });
    reads = 0;
    for (let i = 0; i < 10; i++) expect(await writer.get("k")).toBe("v");
    expect(reads).toBe(0);
    await sleep(120); // past the local ttl: one read (value and expiry from one record)
    expect(await writer.get("k")).toBe("v");
    expect(reads).toBe(1);
    // getMany: one bulk read for what is not local, kept with each record's expiry.
    await writer.setMany({ m1: 1, m2: 2 }, { expire: "1m" });
    await sleep(120);
    reads = 0;
    expect(await writer.getMany(["m1", "m2", "none"])).toEqual([1, 2, undefined]);
    expect(reads).toBe(1);
    expect(await writer.getMany(["m1", "m2"])).toEqual([1, 2]);
    expect(await writer.get("m2")).toBe(2);
    expect(reads).toBe(1);
    await sleep(120);
    down = true;
    expect(await writer.get("k")).toBe("v"); // grace
    expect(stale.map((e) => e.key)).toEqual(["k"]);
    expect(await writer.get("short")).toBeUndefined(); // its key expired: no grace past that
  });
});

describe("local tier: locks", () => {
  it("a lock read with getMany (as lock: true's waiters poll) is never kept: its release elsewhere is seen at once", async () => {
    const { openKv } = (await import("@deno/kv")) as unknown as { openKv(path: string): Promise<{ close(): void }> };
    const dir = mkdtempSync(join(tmpdir(), "cashews-local-lock-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const kv = await openKv(join(dir, "kv.db"));
    cleanup.push(() => kv.close());
    // No bus (a supplied handle has no channel): only the copy's own rules decide.
    const waiter = new Cache("lock-waiter").setup("deno-kv://", { kv, local: { ttl: "1m" } });
    const holder = new Cache("lock-holder").setup("deno-kv://", { kv });
    cleanup.push(() => waiter.close(), () => holder.close());
    const tier = (await waiter.route("").start()) as unknown as LocalTier;
    const store = await holder.route("").start();
    expect(await store.setLock("k:lock", `${LOCK_PREFIX}t`, 60_000)).toBe(true);
    expect((await tier.getMany(["k", "k:lock"]))[1]).toBe(`${LOCK_PREFIX}t`);
    expect(tier.local.raw("k:lock")).toBeUndefined();
    expect(await store.unlock("k:lock", `${LOCK_PREFIX}t`)).toBe(true);
    expect((await tier.getMany(["k", "k:lock"]))[1]).toBe(MISSING);
    expect(await tier.get("k:lock")).toBe(MISSING);
  });
});

describe("local tier on cloudflare-kv://", () => {
  it("serves hits without reading the binding; this instance's writes at once", async () => {
    const { startKv } = await import("../../support/kv.js");
    const server = await startKv(["KV"]);
    cleanup.push(() => server.stop());
    let reads = 0;
    const binding = new Proxy(server.kv, {
      get(target, name) {
        const value = Reflect.get(target, name) as unknown;
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (name === "get" || name === "getWithMetadata") reads++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    await import("../../../src/cloudflare-kv.js");
    const cache = new Cache("kv-local").setup("cloudflare-kv://KV?local=1&localTtl=1m", { binding });
    cleanup.push(() => cache.close());
    await cache.set("k", { v: 1 }, { expire: "1h" });
    reads = 0;
    for (let i = 0; i < 10; i++) expect(await cache.get("k")).toEqual({ v: 1 });
    expect(reads).toBe(0);
    await cache.set("k", { v: 2 }, { expire: "1h" });
    expect(await cache.get("k")).toEqual({ v: 2 });
    expect(reads).toBe(0);
    await cache.delete("k");
    expect(await cache.get("k")).toBeUndefined();
    // getMany of what another writer put there: one bulk read, then kept.
    const other = new Cache("kv-other").setup("cloudflare-kv://KV", { binding: server.kv });
    cleanup.push(() => other.close());
    await other.setMany({ m1: 1, m2: 2 }, { expire: "1h" });
    reads = 0;
    expect(await cache.getMany(["m1", "m2"])).toEqual([1, 2]);
    expect(reads).toBe(1);
    expect(await cache.getMany(["m1", "m2"])).toEqual([1, 2]);
    expect(await cache.get("m1")).toBe(1);
    expect(reads).toBe(1);
  });
});

describe("local tier inside a scope", () => {
  it("a local hit inside runWithWaitUntil (as withCache runs every request) is the kept decoded value: decoded once", async () => {
    const { startKv } = await import("../../support/kv.js");
    const server = await startKv(["KV"]);
    cleanup.push(() => server.stop());
    await import("../../../src/cloudflare-kv.js");
    let decodes = 0;
    const serializer = { encode: (value: unknown) => JSON.stringify(value), decode: (text: string) => (decodes++, JSON.parse(text) as unknown) };
    const cache = new Cache("kv-scope").setup("cloudflare-kv://KV?local=1&localTtl=1m", { binding: server.kv, serializer });
    cleanup.push(() => cache.close());
    await cache.set("k", { a: 1 }, { expire: "1h" });
    const fn = cache.cache({ ttl: "1h", key: "fn" })(async () => ({ b: 2 }));
    await runWithWaitUntil(
      () => {},
      async () => {
        for (let i = 0; i < 10; i++) expect(await cache.get("k")).toEqual({ a: 1 });
        for (let i = 0; i < 10; i++) expect(await fn()).toEqual({ b: 2 });
      },
    );
    expect(decodes).toBe(2); // once per value, when it entered the copy
    // A scope that invalidates reads still reaches the store (the copy is not consulted).
    await cache.invalidateFurther(async () => expect(await cache.get("k")).toBeUndefined());
  });
});

describe.skipIf(!redisUrl)("local on redis://", () => {
  it("is clientSide: armed by Redis tracking, with the given size", async () => {
    const cache = new Cache("redis-local").setup(`${redisUrl}?local=1&localSize=10`, { namespace: ns() });
    cleanup.push(() => cache.close());
    await cache.set("k", "v", { expire: "1m" });
    const backend = (await cache.route("").start()) as unknown as { clientSideState(): { armed: boolean; size: number } | undefined };
    await expect.poll(() => backend.clientSideState()?.armed, { timeout: 3000 }).toBe(true);
    for (let i = 0; i < 20; i++) await cache.set(`k${i}`, i, { expire: "1m" });
    for (let i = 0; i < 20; i++) expect(await cache.get(`k${i}`)).toBe(i);
    expect(backend.clientSideState()!.size).toBeLessThanOrEqual(10);
    expect(backend.clientSideState()!.size).toBeGreaterThan(0);
  });

  it("grace: while Redis is down, a read serves the copy (stale event) within grace; nothing past grace or past the key's expiry; fresh reads once it is back", async () => {
    const { startRedis } = await import("../../support/redis-server.js");
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const cache = new Cache("redis-grace").setup(`${server.url}?local=1&localTtl=50&localGrace=1500`, { timeout: 300 });
    cleanup.push(() => cache.close());
    const stale: CacheEventInfo[] = [];
    cache.on("stale", (event) => stale.push(event));
    const backend = (await cache.route("").start()) as unknown as { clientSideState(): { armed: boolean } | undefined };
    await expect.poll(() => backend.clientSideState()?.armed, { timeout: 5000 }).toBe(true);
    await cache.set("k", "v", { expire: "1m" });
    await cache.set("short", "s", { expire: 400 });
    expect(await cache.get("k")).toBe("v"); // read: now in the copy
    expect(await cache.get("short")).toBe("s");
    await server.stop();
    await expect.poll(() => backend.clientSideState()?.armed, { timeout: 5000 }).toBe(false);
    expect(await cache.get("k")).toBe("v");
    expect(stale.map((e) => e.key)).toContain("k");
    expect(await cache.getMany(["k"])).toEqual(["v"]);
    await sleep(450);
    expect(await cache.get("short")).toBeUndefined(); // its key expired: grace never goes past that
    await sleep(1200); // past ttl + grace
    expect(await cache.get("k")).toBeUndefined();
    await server.restart(); // empty: the value is gone, and no stale copy answers for it
    await expect.poll(() => backend.clientSideState()?.armed, { timeout: 8000 }).toBe(true);
    expect(await cache.get("k")).toBeUndefined();
  });

  it("without grace, a read while Redis is down is a miss (the copy is dropped when the connection is)", async () => {
    const { startRedis } = await import("../../support/redis-server.js");
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const cache = new Cache("redis-nograce").setup(`${server.url}?local=1&localTtl=1m`, { timeout: 300 });
    cleanup.push(() => cache.close());
    const backend = (await cache.route("").start()) as unknown as { clientSideState(): { armed: boolean } | undefined };
    await expect.poll(() => backend.clientSideState()?.armed, { timeout: 5000 }).toBe(true);
    await cache.set("k", "v", { expire: "1m" });
    expect(await cache.get("k")).toBe("v");
    await server.stop();
    await expect.poll(() => backend.clientSideState()?.armed, { timeout: 5000 }).toBe(false);
    expect(await cache.get("k")).toBeUndefined();
  });
});

describe("the local option at setup", () => {
  const configError = (url: string, options?: Record<string, unknown>): string => {
    try {
      parseSetup(url, options);
    } catch (error) {
      expect(error).toBeInstanceOf(CacheConfigError);
      return (error as Error).message;
    }
    throw new Error("expected a CacheConfigError");
  };
  const up = "upstash+http://127.0.0.1:1";

  it("takes an object or the URL form, with defaults", () => {
    expect(parseSetup(up, { token: "t", local: true }).common.local).toEqual({ size: 10_000, ttl: 5_000, grace: 0 });
    expect(parseSetup(`${up}?local=1&localSize=50&localTtl=2s&localGrace=500`, { token: "t" }).common.local).toEqual({ size: 50, ttl: 2000, grace: 500 });
    expect(parseSetup(up, { token: "t", local: { size: 5, ttl: "1s" } }).common.local).toEqual({ size: 5, ttl: 1000, grace: 0 });
    expect(parseSetup(up, { token: "t" }).common.local).toBeUndefined();
    expect(parseSetup(`${up}?local=0`, { token: "t" }).common.local).toBeUndefined();
    expect(parseSetup("deno-kv:///tmp/x.db?local=1").common.local).toBeDefined();
  });

  it("refuses what is wrong with a clear CacheConfigError", () => {
    expect(configError("mem://?local=1")).toMatch(/remote stores only/);
    expect(configError(`${up}?localTtl=1s`, { token: "t" })).toMatch(/need local/);
    expect(configError(up, { token: "t", local: { size: 0 } })).toMatch(/option "local.size" must be an integer >= 1/);
    expect(configError(up, { token: "t", local: { ttl: 0 } })).toMatch(/more than 0/);
    expect(configError(up, { token: "t", local: { ttl: "soon" } })).toMatch(/option "local.ttl"/);
    expect(configError(up, { token: "t", local: { sized: 1 } })).toMatch(/unknown option "local.sized"/);
    expect(configError(up, { token: "t", local: 7 })).toMatch(/option "local" must be a boolean/);
    expect(configError("redis://localhost:6379?local=1", { client: new Redis({ lazyConnect: true }) })).toMatch(/"local" on a single node is clientSide, which opens its own connections: drop the "client" option, or "local"/);
  });

  it("on redis:// maps onto clientSide (which keeps working as before)", () => {
    expect(parseSetup("redis://localhost?local=1&localSize=10").backend.options.clientSide).toBe(true);
    expect(parseSetup("redis://localhost?clientSide=1").backend.options.clientSide).toBe(true);
    expect(configError("redis://localhost", { local: true, client: {} })).toMatch(/clientSide/);
  });
});

describe("local tier: an own write in flight never puts back a value someone else changed", () => {
  /** A store whose writes apply at once but answer `replyMs` later (a slow reply), shared by reference. */
  function slowReplyStore(replyMs: number): { backend: Backend; map: Map<string, string> } {
    const map = new Map<string, string>();
    const later = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, replyMs));
    const backend = defineBackend({
      kind: "slow",
      async get(key) {
        return map.get(key);
      },
      async set(key, value) {
        map.set(key, value as string);
        await later();
        return true;
      },
      async delete(key) {
        const had = map.delete(key);
        await later();
        return had;
      },
      async getExpire(key) {
        return map.has(key) ? -1 : -2;
      },
      async expire(key) {
        return map.has(key);
      },
      async *keys(prefix) {
        for (const key of map.keys()) if (key.startsWith(prefix)) yield key;
      },
    });
    return { backend, map };
  }

  async function tierOn(replyMs: number): Promise<{ tier: LocalTier; bus: TestBus; map: Map<string, string> }> {
    const { backend, map } = slowReplyStore(replyMs);
    const bus = new TestBus(new Set());
    const tier = withLocalTier(backend, { size: 100, ttl: 60_000 }, bus);
    await tier.init();
    bus.listener!.connected(true);
    return { tier, bus, map };
  }

  const cases: [string, (bus: TestBus) => void][] = [
    ["another instance's write of the key (invalidate)", (bus) => bus.listener!.invalidate({ keys: ["k"] })],
    ["a clear or deleteMatch elsewhere ({ all })", (bus) => bus.listener!.invalidate({ all: true })],
    ["a reconnect of the bus (changes may have been missed)", (bus) => {
      bus.listener!.connected(false);
      bus.listener!.connected(true);
    }],
  ];
  for (const [name, change] of cases) {
    it(`after ${name} during the write, the next read asks the store`, async () => {
      const { tier, bus, map } = await tierOn(50);
      const writing = tier.set("k", "A", undefined);
      await new Promise((resolve) => setTimeout(resolve, 10));
      map.set("k", "B"); // someone else's write lands after ours…
      change(bus); // …and its invalidation arrives while our reply is still on its way
      expect(await writing).toBe(true);
      expect(tier.peek("k")).toBe(MISSING);
      expect(await tier.get("k")).toBe("B");
    });
  }

  it("a fill never outlives its key by the reply's travel time", async () => {
    const map = new Map<string, string>([["k", "v"]]);
    const expiresAt = Date.now() + 80;
    const backend = defineBackend({
      kind: "slow-read",
      async get(key) {
        const value = map.get(key);
        await new Promise((resolve) => setTimeout(resolve, 100)); // the reply takes longer than the key has left
        return value;
      },
      async set() {
        return true;
      },
      async delete() {
        return true;
      },
      async getExpire() {
        return Math.max(1, expiresAt - Date.now());
      },
      async expire() {
        return true;
      },
    });
    const tier = withLocalTier(backend, { size: 100, ttl: 60_000 });
    await tier.init();
    expect(await tier.get("k")).toBe("v");
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt); // the key is gone by now…
    expect(tier.peek("k")).toBe(MISSING); // …and so is the copy
  });
});
