// The upstash:// backend through the real @upstash/redis client against the project's own
// Upstash-compatible REST server (test/support/upstash-server.ts) in front of redis-server:
// setup and token discovery, request efficiency (counted by the server), exact value round trips
// (also through user-supplied clients with either automaticDeserialization), safe mode against a
// stopped or slow endpoint, namespaces, scripts.
import { Redis } from "@upstash/redis";
import { Redis as IORedis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { Cache, CacheBackendError, CacheConfigError } from "../../../src/index.js";
import { MISSING } from "../../../src/backends/types.js";
import { createUpstashBackend, resolveUpstashEndpoint, upstashSpec, type UpstashBackend } from "../../../src/upstash.js";
import { parseSetup } from "../../../src/config/parse.js";
import { freePort, startRedis, type RedisServer } from "../../support/redis-server.js";
import { startUpstashServer, type UpstashServer } from "../../support/upstash-server.js";

const redisUrl = inject("redisUrl");

/** Generous: these bounds only prove "no hang, no retrying for seconds", never speed. */
const BOUND_MS = 2000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

let namespaces = 0;
/** A fresh namespace per cache, so tests never see each other's keys. */
const ns = (): string => `up-test-${process.pid}-${++namespaces}`;

const upstashUrl = (server: UpstashServer): string => server.url.replace(/^http:/, "upstash+http:");

function cacheOn(server: UpstashServer, options: Record<string, unknown> = {}): Cache {
  const cache = new Cache("upstash-test").setup(upstashUrl(server), { token: server.token, namespace: ns(), ...options });
  cleanup.push(() => cache.close());
  return cache;
}

function backendOn(server: UpstashServer, options: Parameters<typeof createUpstashBackend>[1] = {}): UpstashBackend {
  const backend = createUpstashBackend(upstashUrl(server), { token: server.token, namespace: ns(), ...options });
  cleanup.push(() => backend.close());
  return backend;
}

async function ownServer(url = redisUrl): Promise<UpstashServer> {
  const server = await startUpstashServer({ redisUrl: url });
  cleanup.push(() => server.stop());
  return server;
}

/** Runs `fn` (setup and first use) and returns the CacheConfigError it throws or rejects with. */
async function configError(fn: () => unknown): Promise<CacheConfigError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CacheConfigError);
    return error as CacheConfigError;
  }
  throw new Error("expected a CacheConfigError");
}

/** How long `promise` took to settle, and its value. */
async function timed<T>(promise: Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await promise;
  return [value, performance.now() - started];
}

/** Raw strings a codec may produce, chosen to trip JSON parsing and base64 handling. */
const RAW_VALUES: Record<string, string> = {
  number: "123",
  bigNumber: "12345678901234567890",
  leadingZero: "0123",
  float: "1.50",
  negZero: "-0",
  json: '{"a":1}',
  jsonArray: "[1,2]",
  jsonString: '"quoted"',
  bool: "true",
  nil: "null",
  ok: "OK",
  queued: "QUEUED",
  pong: "PONG",
  empty: "",
  nul: "a\u0000b",
  unicode: "héllo ☃ 😀 \u2028 \uFFFF",
  base64ish: "T0s=",
  spaces: "  padded  ",
  long: "x".repeat(100_000),
};

describe.skipIf(!redisUrl)("upstash:// backend", () => {
  let server: UpstashServer;
  beforeAll(async () => {
    server = await startUpstashServer({ redisUrl });
  });
  afterAll(async () => {
    await server?.stop();
  });

  describe("setup", () => {
    it("maps upstash:// to https and upstash+http:// to http, and registers both schemes", () => {
      expect(resolveUpstashEndpoint("upstash://eu1-cat-123.upstash.io", { token: "t" })).toEqual({
        baseUrl: "https://eu1-cat-123.upstash.io",
        token: "t",
      });
      expect(resolveUpstashEndpoint("upstash+http://127.0.0.1:8080/", { token: "t" }).baseUrl).toBe("http://127.0.0.1:8080");
      expect(upstashSpec.schemes).toEqual(["upstash", "upstash+http"]);
      const parsed = parseSetup("upstash://db.upstash.io?token=abc&retries=2&timeout=250ms");
      expect(parsed.backend.options).toMatchObject({ token: "abc", retries: 2, namespace: "cashews", timeout: 250 });
    });

    it("does no I/O at setup; init() checks the endpoint with one request", async () => {
      server.resetCount();
      const cache = cacheOn(server);
      await sleep(50);
      expect(server.requests).toBe(0);
      await cache.init();
      expect(server.requests).toBe(1);
      await cache.init();
      expect(server.requests).toBe(1);
    });

    it("rejects bad options by name", async () => {
      expect((await configError(() => cacheOn(server, { retries: -1 }))).message).toMatch(/retries/);
      expect((await configError(() => cacheOn(server, { tokn: "x" }))).message).toMatch(/tokn/);
      const url = server.url.replace("http://", "upstash+http://user:pw@");
      expect((await configError(() => new Cache().setup(url, { token: "t" }))).message).toMatch(/token/);
      expect((await configError(() => new Cache().setup("upstash://", { token: "t" }))).message).toMatch(/host/);
      const client = new Redis({ url: server.url, token: server.token });
      expect((await configError(() => new Cache().setup("upstash://", { client, retries: 2 }))).message).toMatch(/client/);
    });

    it("takes the token from the option, the query, or UPSTASH_REDIS_REST_TOKEN", async () => {
      await cacheOn(server).set("k", 1);
      const query = new Cache().setup(`${upstashUrl(server)}?token=${server.token}&namespace=${ns()}`, { safe: false });
      cleanup.push(() => query.close());
      expect(await query.set("k", 1)).toBe(true);

      const saved = process.env.UPSTASH_REDIS_REST_TOKEN;
      process.env.UPSTASH_REDIS_REST_TOKEN = server.token;
      cleanup.push(() => {
        if (saved === undefined) delete process.env.UPSTASH_REDIS_REST_TOKEN;
        else process.env.UPSTASH_REDIS_REST_TOKEN = saved;
      });
      const env = new Cache().setup(upstashUrl(server), { namespace: ns(), safe: false });
      cleanup.push(() => env.close());
      expect(await env.set("k", 2)).toBe(true);
      expect(await env.get("k")).toBe(2);

      delete process.env.UPSTASH_REDIS_REST_TOKEN;
      // At setup, not on first use.
      const error = await configError(() => new Cache().setup(upstashUrl(server), { namespace: ns() }));
      expect(error.message).toMatch(/token/);
      expect(error.message).toMatch(/UPSTASH_REDIS_REST_TOKEN/);
      expect(error.message).toMatch(/\?token=/);
    });

    it("a wrong token: init() reports it (safe mode) or rejects (safe: false)", async () => {
      const errors: unknown[] = [];
      const safe = cacheOn(server, { token: "wrong" });
      safe.on("error", (event) => errors.push(event.error));
      await safe.init();
      expect(errors.length).toBe(1);
      expect(String((errors[0] as Error).message)).toMatch(/Unauthorized/);
      expect(await safe.get("k", "dflt")).toBe("dflt");

      const strict = cacheOn(server, { token: "wrong", safe: false });
      await expect(strict.init()).rejects.toBeInstanceOf(CacheBackendError);
      await expect(strict.get("k")).rejects.toThrow(/Unauthorized/);
    });
  });

  describe("request efficiency (counted by the server)", () => {
    it("getMany of 100 keys is one request and one command; setMany is one request", async () => {
      const cache = cacheOn(server);
      await cache.init();
      const entries = Array.from({ length: 100 }, (_, i) => [`k${i}`, { i }] as const);
      server.resetCount();
      await cache.setMany(entries, { expire: "1m" });
      expect(server.requests).toBe(1);
      server.resetCount();
      await cache.setMany(entries);
      expect(server.requests).toBe(1);
      expect(server.commands).toBe(1); // MSET
      server.resetCount();
      const values = await cache.getMany(entries.map(([key]) => key));
      expect(values).toEqual(entries.map(([, value]) => value));
      expect(server.requests).toBe(1);
      expect(server.commands).toBe(1); // MGET
    });

    it("100 concurrent cached calls that hit use one request (at most 2)", async () => {
      for (const options of [{}, { secret: "s3cret" }]) {
        const cache = cacheOn(server, options);
        let calls = 0;
        const load = cache.cache({ ttl: "1m", key: "item:{id}" })(async (id: number) => {
          calls++;
          return { id, name: `item ${id}` };
        });
        const ids = Array.from({ length: 100 }, (_, i) => i);
        await Promise.all(ids.map((id) => load(id)));
        expect(calls).toBe(100);
        server.resetCount();
        const results = await Promise.all(ids.map((id) => load(id)));
        expect(calls).toBe(100);
        expect(results).toEqual(ids.map((id) => ({ id, name: `item ${id}` })));
        expect(server.requests).toBeLessThanOrEqual(2);
        expect(server.requests).toBe(1);
        expect(server.commands).toBe(1); // the GETs of one tick are one MGET
      }
    });

    it("backend commands of one tick share one request and keep their issue order", async () => {
      const backend = backendOn(server);
      await backend.init();
      server.resetCount();
      const results = await Promise.all([
        backend.get("a"),
        backend.set("a", "1", undefined),
        backend.get("a"),
        backend.get("b"),
        backend.incr("n", 5, undefined),
        backend.delete("a"),
        backend.get("a"),
      ]);
      expect(results).toEqual([MISSING, true, "1", MISSING, 5, true, MISSING]);
      expect(server.requests).toBe(1);
      expect(server.commands).toBe(6); // GET, SET, MGET a b, INCRBY, UNLINK, GET
    });

    it("deleteMatch sends each UNLINK with the next SCAN", async () => {
      const cache = cacheOn(server);
      await cache.setMany(Array.from({ length: 1200 }, (_, i) => [`m:${i}`, i] as const));
      server.resetCount();
      expect(await cache.deleteMatch("m:*")).toBe(1200);
      expect(await cache.getKeysCount()).toBe(0);
    });
  });

  describe("values round-trip exactly", () => {
    it("raw strings come back as stored (never JSON-parsed, base64 handled)", async () => {
      const backend = backendOn(server);
      await backend.setMany(Object.entries(RAW_VALUES), undefined);
      for (const [key, value] of Object.entries(RAW_VALUES)) expect(await backend.get(key), key).toBe(value);
      const many = await backend.getMany([...Object.keys(RAW_VALUES), "missing"]);
      expect(many).toEqual([...Object.values(RAW_VALUES), MISSING]);
      for (const [key, value] of Object.entries(RAW_VALUES)) {
        expect(await backend.set(key, value, 60_000)).toBe(true);
        expect(await backend.get(key), key).toBe(value);
      }
    });

    it("keys with any characters, scan strips the namespace", async () => {
      const backend = backendOn(server);
      const keys = ["plain", "with space", "ünïcödé ☃", "a\u0000b", "glob*?[x]", "col:on"];
      for (const key of keys) await backend.set(key, key, undefined);
      for (const key of keys) expect(await backend.get(key)).toBe(key);
      const seen: string[] = [];
      for await (const key of backend.scan("*", 2)) seen.push(key);
      expect(seen.sort()).toEqual([...keys].sort());
      expect(await backend.deleteMatch("glob\\*\\?\\[x\\]")).toBe(1);
    });

    for (const automaticDeserialization of [true, false]) {
      for (const enableAutoPipelining of [true, false]) {
        it(`a supplied client (automaticDeserialization: ${automaticDeserialization}, auto-pipelining: ${enableAutoPipelining})`, async () => {
          const client = new Redis({ url: server.url, token: server.token, automaticDeserialization, enableAutoPipelining });
          const cache = new Cache().setup("upstash://", { client, namespace: ns(), safe: false });
          cleanup.push(() => cache.close());
          const backend = createUpstashBackend("upstash://", { client, namespace: ns() });
          await backend.setMany(Object.entries(RAW_VALUES), undefined);
          for (const [key, value] of Object.entries(RAW_VALUES)) expect(await backend.get(key), key).toBe(value);
          expect(await backend.incr("n", 41, 60_000)).toBe(41);
          expect(await backend.get("n")).toBe("41");

          const values = { n: 123, s: "123", b: true, o: { a: [1, "2"] }, d: new Date(0), big: 10n, u: undefined };
          await cache.setMany(Object.entries(values));
          server.resetCount();
          expect(await cache.getMany(Object.keys(values))).toEqual(Object.values(values));
          expect(server.requests).toBe(1);
          expect(await cache.get("s")).toBe("123");
          // The client itself still works as configured.
          await client.set("plain-json", '{"a":1}');
          expect(await client.get("plain-json")).toEqual(automaticDeserialization ? { a: 1 } : '{"a":1}');
          await client.del("plain-json");
        });
      }
    }

    it("a supplied client: token/retries clash; a non-client is refused", async () => {
      const client = new Redis({ url: server.url, token: server.token });
      expect((await configError(() => createUpstashBackend("upstash://", { client, token: "x" }))).message).toMatch(/client/);
      expect((await configError(() => createUpstashBackend("upstash://", { client: {} as Redis }))).message).toMatch(
        /@upstash\/redis/,
      );
    });
  });

  describe("safe mode", () => {
    /** Every command's neutral value (API.md "Safe mode"), with the time each took. */
    async function everyCommand(cache: Cache): Promise<[string, unknown, number][]> {
      const runs: [string, () => Promise<unknown>][] = [
        ["get", () => cache.get("k", "dflt")],
        ["getMany", () => cache.getMany(["k", "j"], "dflt")],
        ["set", () => cache.set("k", 1)],
        ["setMany", () => cache.setMany({ a: 1, b: 2 }, { expire: "1m" })],
        ["incr", () => cache.incr("n")],
        ["incr+expire", () => cache.incr("n", 1, { expire: "1m" })],
        ["delete", () => cache.delete("k")],
        ["deleteMany", () => cache.deleteMany(["k", "j"])],
        ["deleteMatch", () => cache.deleteMatch("k*")],
        ["exists", () => cache.exists("k")],
        ["expire", () => cache.expire("k", "1m")],
        ["persist", () => cache.expire("k", null)],
        ["getExpire", () => cache.getExpire("k")],
        ["getKeysCount", () => cache.getKeysCount()],
        ["clear", () => cache.clear()],
        ["setLock", () => cache.setLock("l", "me", "10s")],
        ["unlock", () => cache.unlock("l", "me")],
        ["ping", () => cache.ping()],
        [
          "scan",
          async () => {
            const keys: string[] = [];
            for await (const key of cache.scan("*")) keys.push(key);
            return keys;
          },
        ],
      ];
      const out: [string, unknown, number][] = [];
      for (const [name, run] of runs) {
        const [value, ms] = await timed(run());
        out.push([name, value, ms]);
      }
      return out;
    }

    const NEUTRAL: Record<string, unknown> = {
      get: "dflt",
      getMany: ["dflt", "dflt"],
      set: false,
      setMany: undefined,
      incr: Number.NaN,
      "incr+expire": Number.NaN,
      delete: false,
      deleteMany: 0,
      deleteMatch: 0,
      exists: false,
      expire: false,
      persist: false,
      getExpire: -2,
      getKeysCount: 0,
      clear: undefined,
      setLock: false,
      unlock: false,
      ping: "",
      scan: [],
    };

    it("a stopped endpoint: every command resolves neutral within the bound, decorated calls still run, errors are reported", async () => {
      const own = await ownServer();
      const cache = cacheOn(own);
      const errors: unknown[] = [];
      cache.on("error", (event) => errors.push(event.error));
      let calls = 0;
      const load = cache.cache({ ttl: "1m" })(async function load(id: number) {
        calls++;
        return id * 2;
      });
      expect(await load(1)).toBe(2);
      expect(await load(1)).toBe(2);
      expect(calls).toBe(1);

      await own.stop();
      for (const [name, value, ms] of await everyCommand(cache)) {
        expect(value, name).toEqual(NEUTRAL[name]);
        expect(ms, name).toBeLessThan(BOUND_MS);
      }
      // Every failure is counted; while the endpoint is down its error events are rate-limited (see CacheEventType).
      expect(errors.length).toBeGreaterThanOrEqual(1);
      expect(cache.stats().errors).toBeGreaterThanOrEqual(Object.keys(NEUTRAL).length - 1);
      expect(errors.every((error) => error instanceof CacheBackendError)).toBe(true);
      const [result, ms] = await timed(load(1));
      expect(result).toBe(2);
      expect(calls).toBe(2);
      expect(ms).toBeLessThan(BOUND_MS);

      await own.restart();
      expect(await cache.set("k", "back")).toBe(true);
      expect(await cache.get("k")).toBe("back");
      expect(await load(1)).toBe(2);
    });

    it("a slow endpoint: each call is bounded by timeout; back to normal afterwards", async () => {
      const own = await ownServer();
      const cache = cacheOn(own, { timeout: 300 });
      const errors: unknown[] = [];
      cache.on("error", (event) => errors.push(event.error));
      await cache.set("k", "v");
      let calls = 0;
      const load = cache.cache({ ttl: "1m" })(async function slowLoad(id: number) {
        calls++;
        return `fresh ${id}`;
      });
      expect(await load(7)).toBe("fresh 7");

      own.setDelay(5000);
      for (const [name, value, ms] of await everyCommand(cache)) {
        expect(value, name).toEqual(NEUTRAL[name]);
        expect(ms, name).toBeLessThan(1000);
      }
      const [result, ms] = await timed(load(7));
      expect(result).toBe("fresh 7");
      expect(ms).toBeLessThan(1000);
      expect(errors.some((error) => /timed out after 300 ms/.test((error as Error).message))).toBe(true);

      own.setDelay(0);
      // Commands fail fast until a probe (the first command after a back-off of at most 1 s starts
      // it) finds the endpoint answering again: back within about a second.
      const deadline = performance.now() + 5000;
      while ((await cache.get("k")) !== "v" && performance.now() < deadline) await sleep(50);
      expect(await cache.get("k")).toBe("v");
      expect(await cache.set("k", "w")).toBe(true);
      expect(await cache.get("k")).toBe("w");
    });

    it("safe: false rejects with CacheBackendError within the bound", async () => {
      const port = await freePort();
      const cache = new Cache().setup(`upstash+http://127.0.0.1:${port}`, { token: "t", safe: false, namespace: ns() });
      cleanup.push(() => cache.close());
      const started = performance.now();
      await expect(cache.init()).rejects.toBeInstanceOf(CacheBackendError);
      await expect(cache.get("k")).rejects.toThrow(/ECONNREFUSED|fetch failed/);
      expect(performance.now() - started).toBeLessThan(BOUND_MS);
    });

    it("a supplied client with the SDK's default retries (5, seconds of back-off) is still bounded by timeout", async () => {
      const port = await freePort();
      const client = new Redis({ url: `http://127.0.0.1:${port}`, token: "t" });
      const cache = new Cache().setup("upstash://", { client, timeout: 300, namespace: ns() });
      cleanup.push(() => cache.close());
      const [value, ms] = await timed(cache.get("k", "dflt"));
      expect(value).toBe("dflt");
      expect(ms).toBeLessThan(1000);
    });
  });

  describe("on a redis-server of its own", () => {
    let redis: RedisServer;
    let own: UpstashServer;
    let raw: IORedis;
    beforeAll(async () => {
      redis = await startRedis();
      own = await startUpstashServer({ redisUrl: redis.url });
      raw = new IORedis(redis.url, { lazyConnect: true });
      await raw.connect();
    });
    afterAll(async () => {
      raw?.disconnect();
      await own?.stop();
      await redis?.stop();
    });

    it("clear() removes only its namespace; namespace \"\" owns (and flushes) the database", async () => {
      await raw.set("foreign", "1");
      const a = cacheOn(own, { namespace: "a" });
      const b = cacheOn(own, { namespace: "b" });
      await a.setMany({ x: 1, y: 2 });
      await b.set("x", 3);
      expect(await raw.get("a:x")).not.toBeNull();
      await a.clear();
      expect(await a.getKeysCount()).toBe(0);
      expect(await b.get("x")).toBe(3);
      expect(await raw.get("foreign")).toBe("1");

      const all = cacheOn(own, { namespace: "" });
      expect(await all.getKeysCount()).toBe(2); // foreign, b:x
      expect(await all.get("b:x")).toBe(3);
      await all.clear();
      expect(await raw.dbsize()).toBe(0);
    });

    it("scripts: EVALSHA, with EVAL when the server lost them (NOSCRIPT)", async () => {
      const cache = cacheOn(own);
      await cache.init();
      await raw.script("FLUSH");
      own.resetCount();
      expect(await cache.incr("c", 2, { expire: "1m" })).toBe(2);
      expect(own.requests).toBe(2); // EVALSHA → NOSCRIPT, then EVAL
      own.resetCount();
      expect(await cache.incr("c", 2, { expire: "1m" })).toBe(4);
      expect(own.requests).toBe(1);
      expect(await cache.getExpire("c")).toBeGreaterThan(50_000);
      await raw.script("FLUSH");
      expect(await cache.setLock("l", "me", "10s")).toBe(true);
      expect(await cache.unlock("l", "you")).toBe(false);
      expect(await cache.unlock("l", "me")).toBe(true);
    });

    it("incr on a non-integer is an error reported in safe mode, the others in its request are unaffected", async () => {
      const cache = cacheOn(own);
      const errors: unknown[] = [];
      cache.on("error", (event) => errors.push(event.error));
      await cache.set("text", "hello");
      const [n, text, other] = await Promise.all([cache.incr("text"), cache.get("text"), cache.incr("fine")]);
      expect(n).toBeNaN();
      expect(text).toBe("hello");
      expect(other).toBe(1);
      expect(errors.length).toBe(1);
      expect((errors[0] as Error).message).toMatch(/not an integer/);
    });
  });
});
