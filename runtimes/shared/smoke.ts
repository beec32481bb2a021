/**
 * The runtime smoke set, shared by `runtimes/bun` (`bun test`) and `runtimes/deno` (`deno test`).
 *
 * Written against `node:test` and `node:assert/strict`, which both runtimes provide natively: no
 * test dependency to download (Deno has no JSR access here, and `npm:` specifiers would need the
 * registry). It imports the library SOURCE (`src/*.ts`), not `dist/`.
 *
 * Backends come from the environment (set by `test/runtimes/smoke.test.ts`):
 * - `mem://` always;
 * - `redis://` when `CASHEWS_REDIS_URL` is set (ioredis, loaded lazily by the core);
 * - `upstash://` when `CASHEWS_UPSTASH_URL` (e.g. `upstash+http://127.0.0.1:PORT`) and
 *   `CASHEWS_UPSTASH_TOKEN` are set (@upstash/redis, loaded lazily by the core).
 *
 * Every backend runs the same block; `counts.ts` says how many tests that is (keep it in sync with
 * the `it` calls below). The runner asserts at least that many tests ran.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Cache, LockedError, createContextStore, withKeyContext, type CacheEventInfo } from "../../src/index.js";
import { MISSING, type Backend } from "../../src/backends/types.js";
import { SMOKE_ENV } from "./counts.js";
import { honoSmoke } from "./hono-smoke.js";

interface Target {
  label: string;
  url: string;
  options: Record<string, unknown>;
}

const env = (name: string): string => (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env[name] ?? "";
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The runtime's name, for labels and namespaces. */
export function runtimeName(): string {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun !== undefined) return "bun";
  if (g.Deno !== undefined) return "deno";
  return "node";
}

/** The backends to run, from the environment. */
export function targets(): Target[] {
  const namespace = `cashews-smoke-${runtimeName()}`;
  const list: Target[] = [{ label: "mem://", url: "mem://", options: {} }];
  const redisUrl = env(SMOKE_ENV.redisUrl);
  if (redisUrl) {
    list.push({ label: "redis://", url: redisUrl, options: { namespace, safe: false } });
    list.push({ label: "redis:// (clientSide)", url: redisUrl, options: { namespace: `${namespace}-cs`, safe: false, clientSide: true } });
  }
  const upstashUrl = env(SMOKE_ENV.upstashUrl);
  if (upstashUrl) {
    list.push({ label: "upstash://", url: upstashUrl, options: { namespace, safe: false, token: env(SMOKE_ENV.upstashToken) } });
  }
  return list;
}

/** Backend of the default route (to write raw, tampered values). Internal API, as in the vitest suites. */
async function backendOf(cache: Cache): Promise<Backend> {
  return (cache as unknown as { route(key: string): { start(): Promise<Backend> } }).route("").start();
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Registers everything: the runtime checks, then one block per backend. */
export function registerSmoke(): void {
  runtimeSmoke();
  for (const target of targets()) {
    backendSmoke(target);
    honoSmoke(target, runtimeName());
  }
  const redisUrl = env(SMOKE_ENV.redisUrl);
  if (redisUrl) clientSideSmoke(redisUrl);
}

/** The invalidation stream works on this runtime's sockets: another client's write reaches the local copy. */
function clientSideSmoke(url: string): void {
  describe(`redis clientSide invalidations (${runtimeName()})`, () => {
    it("a write by another client is seen by the next read, after the value was served locally", async () => {
      const namespace = `cashews-smoke-cs2-${runtimeName()}`;
      const local = new Cache("smoke-cs-local").setup(url, { namespace, safe: false, clientSide: true });
      const other = new Cache("smoke-cs-other").setup(url, { namespace, safe: false });
      try {
        await Promise.all([local.init(), other.init()]);
        await other.set("k", 1);
        const backend = await backendOf(local);
        for (let i = 0; i < 50 && backend.peek?.("k") === MISSING; i++) assert.equal(await local.get("k"), 1);
        assert.equal(backend.peek?.("k"), 1, "never served from the local copy");
        await other.set("k", 2);
        await sleep(100);
        assert.equal(await local.get("k"), 2);
        await other.delete("k");
        await sleep(100);
        assert.equal(await local.get("k"), undefined);
      } finally {
        await local.close();
        await other.close();
      }
    });
  });
}

function runtimeSmoke(): void {
  describe(`${runtimeName()} runtime`, () => {
    it("finds AsyncLocalStorage through process.getBuiltinModule and keeps it across await", async () => {
      const store = createContextStore<number>();
      assert.equal(store.async, true, "the context store fell back to the synchronous extent: no AsyncLocalStorage");
      const seen = await Promise.all(
        [1, 2, 3].map((n) =>
          store.run(n, async () => {
            await sleep(10 * (4 - n));
            await Promise.resolve();
            return store.get();
          }),
        ),
      );
      assert.deepEqual(seen, [1, 2, 3]);
      assert.equal(store.get(), undefined);
    });

    it("has Web Crypto HMAC", async () => {
      const subtle = globalThis.crypto?.subtle;
      assert.ok(subtle, "crypto.subtle missing");
      const key = await subtle.importKey("raw", new TextEncoder().encode("k"), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
      const data = new TextEncoder().encode("payload");
      const sig = await subtle.sign("HMAC", key, data);
      assert.equal(sig.byteLength, 32);
      assert.equal(await subtle.verify("HMAC", key, sig, data), true);
    });

    it("supports await using (Symbol.asyncDispose)", async () => {
      assert.equal(typeof Symbol.asyncDispose, "symbol");
      const log: string[] = [];
      {
        await using _resource = { [Symbol.asyncDispose]: async () => void log.push("disposed") };
        log.push("body");
      }
      assert.deepEqual(log, ["body", "disposed"]);
    });
  });
}

function backendSmoke(target: Target): void {
  describe(`cashews on ${target.label} (${runtimeName()})`, () => {
    let cache: Cache;
    before(async () => {
      cache = new Cache(`smoke-${target.label}`).setup(target.url, target.options);
      await cache.init();
    });
    beforeEach(async () => {
      await cache.clear();
    });
    after(async () => {
      await cache?.clear();
      await cache?.close();
    });

    it("set/get round-trips typed values; a missing key gives the default", async () => {
      const value = { a: 1, when: new Date(0), tags: new Set(["x"]), big: 10n, nothing: undefined };
      assert.equal(await cache.set("k", value), true);
      assert.deepEqual(await cache.get("k"), value);
      assert.equal(await cache.get("nope"), undefined);
      assert.equal(await cache.get("nope", "dflt"), "dflt");
      assert.equal(await cache.ping(), "PONG");
    });

    it("compress (CompressionStream) with a registered type and a secret: stored compressed, read back by caches with and without the option", async () => {
      class Point {
        constructor(
          readonly x: number,
          readonly y: number,
        ) {}
      }
      const codec = { name: "Point", encode: (p: Point) => [p.x, p.y], decode: (d: number[]) => new Point(d[0]!, d[1]!) };
      const options = { ...target.options, secret: "smoke-secret" };
      const writer = new Cache(`smoke-z-${target.label}`).setup(target.url, { ...options, compress: "gzip", compressThreshold: 0 }).registerType(Point, codec);
      const reader = new Cache(`smoke-r-${target.label}`).setup(target.url, options).registerType(Point, codec);
      try {
        const value = { text: "runtime ".repeat(300), points: [new Point(1, 2), new Point(3, 4)], at: new Date(5) };
        await writer.set("z", value);
        const stored = await (await backendOf(writer)).get("z");
        assert.match(String(stored), /^\$s1:[\w-]{43}:\$zg:[A-Za-z0-9+/]+=*$/);
        assert.ok(String(stored).length < 1000, `stored ${String(stored).length} characters`);
        const back = (await writer.get("z")) as typeof value;
        assert.deepEqual(back, value);
        assert.ok(back.points[1] instanceof Point);
        // mem:// shares nothing between two caches: there the reader gets the stored text handed over.
        if (target.url === "mem://") await (await backendOf(reader)).set("z", stored, undefined);
        assert.deepEqual(await reader.get("z"), value);
      } finally {
        await writer.delete("z");
        await Promise.all([writer.close(), reader.close()]);
      }
    });

    it("expire is in milliseconds: getExpire answers ms, the key disappears", async () => {
      await cache.set("long", 1, { expire: "1h" });
      await cache.set("short", 1, { expire: 40 });
      await cache.set("forever", 1);
      const left = await cache.getExpire("long");
      assert.ok(left > 3_500_000 && left <= 3_600_000, `getExpire("long") = ${left}`);
      assert.equal(await cache.getExpire("forever"), -1);
      assert.equal(await cache.getExpire("missing"), -2);
      await sleep(200);
      assert.equal(await cache.get("short", "gone"), "gone");
      assert.equal(await cache.exists("short"), false);
    });

    // On redis:// the calls after the first go on the limit lane (node:net) once it is open.
    it("limiter: calls one after another, then 20 at once, each counted once", async () => {
      const api = cache.limiter({ algorithm: "fixed", limit: 100, period: "1m", prefix: "smoke-limiter" });
      const remaining: number[] = [];
      for (let i = 0; i < 30; i++) {
        remaining.push((await api.limit("id")).remaining);
        await sleep(5); // the lane opens in the background after the first call
      }
      const burst = await Promise.all(Array.from({ length: 20 }, () => api.limit("id")));
      remaining.push(...burst.map((result) => result.remaining));
      assert.deepEqual(remaining, Array.from({ length: 50 }, (_, i) => 99 - i));
    });

    it("getMany/setMany keep input order; incr is atomic; deleteMatch uses Redis globs", async () => {
      await cache.setMany({ a: 1, b: "two", c: [3] });
      assert.deepEqual(await cache.getMany(["c", "missing", "a", "b"], null), [[3], null, 1, "two"]);
      assert.equal(await cache.incr("n"), 1);
      assert.equal(await cache.incr("n", 5), 6);
      const results = await Promise.all(Array.from({ length: 20 }, () => cache.incr("race")));
      assert.equal(new Set(results).size, 20);
      assert.equal(await cache.get("race"), 20);
      await cache.setMany(["user:1", "user:2", "user:10", "users"].map((k) => [k, k] as const));
      assert.equal(await cache.deleteMatch("user:?"), 2);
      assert.deepEqual((await collect(cache.scan("user*"))).sort(), ["user:10", "users"]);
    });

    it("lock() with await using releases at the end of the scope", async () => {
      {
        await using lock = await cache.lock("res", "10s");
        assert.equal(lock.acquired, true);
        assert.equal(await cache.isLocked("res"), true);
        await assert.rejects(cache.lock("res", "10s", { wait: false }), LockedError);
      }
      assert.equal(await cache.isLocked("res"), false);
      assert.equal(await cache.withLock("res", "10s", async () => "done"), "done");
      assert.equal(await cache.isLocked("res"), false);
    });

    it("cache() as a function wrapper: miss, then hit under the default key", async () => {
      let calls = 0;
      const load = cache.cache({ ttl: "1m" })(async function getUser(id: string) {
        calls++;
        return { id, n: calls };
      });
      const events: [string, string | undefined][] = [];
      const off = cache.on("hit", (e) => events.push([e.type, e.key]));
      try {
        assert.deepEqual(await load("1"), { id: "1", n: 1 });
        assert.deepEqual(await load("1"), { id: "1", n: 1 });
        assert.deepEqual(await load("2"), { id: "2", n: 2 });
      } finally {
        off();
      }
      assert.equal(calls, 2);
      assert.deepEqual(await cache.get("getUser:id:1"), { id: "1", n: 1 });
      assert.ok(events.length >= 1, "no hit event");
    });

    it("cache() as a TC39 (stage 3) method decorator", async () => {
      let calls = 0;
      class Users {
        constructor(readonly tenant: string) {}
        @cache.cache({ ttl: "1m" })
        async get(id: string): Promise<string> {
          calls++;
          return `${this.tenant}:${id}`;
        }
        @cache.cache({ ttl: "1m", key: "posts:{id}" })
        async posts(id: string): Promise<string[]> {
          calls++;
          return [id];
        }
      }
      const users = new Users("acme");
      assert.equal(await users.get("1"), "acme:1");
      assert.equal(await users.get("1"), "acme:1");
      assert.deepEqual(await users.posts("9"), ["9"]);
      assert.deepEqual(await users.posts("9"), ["9"]);
      assert.equal(calls, 2);
      assert.equal(await cache.get("Users.get:id:1"), "acme:1");
      assert.deepEqual(await cache.get("posts:9"), ["9"]);
    });

    it("withKeyContext feeds {@:get(name)} and stays isolated between concurrent calls", async () => {
      const fn = cache.cache({ ttl: "1m", key: "plan:{@:get(tenant)}:{id}" })(async (id: string) => id);
      await withKeyContext({ tenant: "acme" }, () => fn("p1"));
      assert.equal(await cache.get("plan:acme:p1"), "p1");
      await Promise.all([
        withKeyContext({ tenant: "a" }, async () => {
          await sleep(20);
          return fn("x");
        }),
        withKeyContext({ tenant: "b" }, () => fn("x")),
      ]);
      assert.equal(await cache.get("plan:a:x"), "x");
      assert.equal(await cache.get("plan:b:x"), "x");
      await fn("none");
      assert.equal(await cache.get("plan::none"), "none");
    });
  });

  // A separate top-level block (not nested): Deno counts nested `describe`s as steps too.
  describe(`signed values on ${target.label} (${runtimeName()})`, () => {
    let signed: Cache;
    let backend: Backend;
    let tampered: CacheEventInfo[] = [];
    before(async () => {
      signed = new Cache(`signed-${target.label}`).setup(target.url, { ...target.options, secret: "right" });
      backend = await backendOf(signed);
      signed.on("tampered", (e) => void tampered.push(e));
    });
    beforeEach(async () => {
      tampered = [];
      await signed.clear();
    });
    after(async () => {
      await signed?.clear();
      await signed?.close();
    });

    it("round-trips a signed value", async () => {
      await signed.set("k", { admin: false, n: 1 });
      assert.deepEqual(await signed.get("k"), { admin: false, n: 1 });
      assert.deepEqual(tampered, []);
    });

    it("a tampered value is a miss, is deleted and fires `tampered`", async () => {
      await signed.set("k", { admin: false });
      const stored = await backend.get("k");
      assert.equal(typeof stored, "string");
      assert.ok((stored as string).includes("false"), `stored: ${String(stored)}`);
      await backend.set("k", (stored as string).replace("false", "true "), undefined);
      assert.equal(await signed.get("k", "default"), "default");
      assert.deepEqual(
        tampered.map((e) => e.key),
        ["k"],
      );
      assert.equal(await backend.get("k"), MISSING);
    });
  });
}
