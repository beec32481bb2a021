// cloudflare-cache:// against the real Workers Cache API: workerd's cache (miniflare with
// `cache: true`), reached from Node through miniflare's proxy and the thin adapter of
// test/support/workerd-caches.ts (which only converts Responses into miniflare's class).
//
// Round trips, exact expiry (the header, not the platform's eviction), getExpire and expire,
// named caches and namespaces kept apart, the key URLs, setup errors, and every refused command
// (CacheCapabilityError, also in safe mode and at wrap time).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cache, CacheCapabilityError, CacheConfigError } from "../../../src/index.js";
import {
  CACHE_API_LIMITS,
  CloudflareCacheBackend,
  EXPIRES_HEADER,
  FOREVER_SECONDS,
  createCloudflareCacheBackend,
  keyUrl,
  type CacheLike,
} from "../../../src/cloudflare-cache.js";
import { MISSING } from "../../../src/backends/types.js";
import { startWorkerdCaches, type WorkerdCaches } from "../../support/workerd-caches.js";
import { sleep } from "../../support/workerd.js";

let workerd: WorkerdCaches;
beforeAll(async () => {
  workerd = await startWorkerdCaches();
}, 60_000);
afterAll(async () => {
  await workerd?.dispose();
}, 30_000);

/** A fresh namespace: an empty store for one test (the Cache API cannot be cleared). */
const fresh = (): string => crypto.randomUUID();

const backendOn = (url = "cloudflare-cache://", options: Record<string, unknown> = {}): CloudflareCacheBackend =>
  new CloudflareCacheBackend({ url, options: { caches: workerd.caches, namespace: fresh(), ...options } });

const cacheOn = (url = "cloudflare-cache://", options: Record<string, unknown> = {}): Cache =>
  new Cache("cloudflare-cache test").setup(url, { caches: workerd.caches, namespace: fresh(), ...options });

/** What workerd holds at a URL, read past the backend (the raw cache). */
async function raw(url: string, cache: CacheLike = workerd.caches.default!): Promise<{ cacheControl: string | null; expires: string | null; body: string } | undefined> {
  const response = await cache.match(url);
  if (!response) return undefined;
  return { cacheControl: response.headers.get("cache-control"), expires: response.headers.get(EXPIRES_HEADER), body: await response.text() };
}

describe("cloudflare-cache:// commands on workerd's Cache API", () => {
  it("round-trips values through the cache: get, set, exists, delete, getMany, setMany, deleteMany", async () => {
    const cache = cacheOn();
    expect(await cache.get("user:1")).toBeUndefined();
    expect(await cache.set("user:1", { name: "Ada", tags: ["x"], at: new Date(0) }, { expire: "1m" })).toBe(true);
    expect(await cache.get("user:1")).toEqual({ name: "Ada", tags: ["x"], at: new Date(0) });
    expect(await cache.exists("user:1")).toBe(true);
    expect(await cache.exists("user:2")).toBe(false);

    await cache.setMany({ a: 1, b: "two", c: null }, { expire: "1m" });
    expect(await cache.getMany(["a", "missing", "b", "c"])).toEqual([1, undefined, "two", null]);
    // Overwritten, not merged.
    await cache.set("a", 10);
    expect(await cache.get("a")).toBe(10);

    expect(await cache.delete("user:1")).toBe(true);
    expect(await cache.delete("user:1")).toBe(false);
    expect(await cache.get("user:1")).toBeUndefined();
    expect(await cache.deleteMany(["a", "b", "nope"])).toBe(2);
    expect(await cache.getMany(["a", "b", "c"])).toEqual([undefined, undefined, null]);
    expect(cache.stats().errors).toBe(0);
    await cache.close();
  });

  it("gives every key its own URL: dots, slashes, percent signs, unicode, lone surrogates, the empty key", async () => {
    const backend = backendOn();
    const keys = ["", ".", "..", "...", "a/b", "a%2Fb", "%2E%2E", "a b?c#d", "ü", "😀", "\uD800", "\uDC00", "\uFFFD", "x\uD83Dy", "user:1"];
    await backend.setMany(
      keys.map((key, i) => [key, `value ${i}`]),
      60_000,
    );
    expect(await backend.getMany(keys)).toEqual(keys.map((_, i) => `value ${i}`));
    const urls = keys.map((key) => backend.url(key));
    expect(new Set(urls.map((url) => new URL(url).href)).size).toBe(keys.length);
    for (const url of urls) expect(new URL(url).href).toBe(url); // no normalisation left to do
    expect(keyUrl("https://cashews.internal", "cashews", "user:1")).toBe("https://cashews.internal/cashews/user%3A1");
    expect(keyUrl("https://api.example.com", "", "a b")).toBe("https://api.example.com/a%20b");
    expect(keyUrl("https://x.test", "ns", "..")).toBe("https://x.test/ns/....");
  });

  it("stores any string value exactly, lone surrogates and large values included", async () => {
    const backend = backendOn();
    const values = ["", "plain", "ü😀", "\uD800 alone", "tail \uDC00", "x".repeat(1_000_000)];
    for (const [i, value] of values.entries()) await backend.set(`v${i}`, value, undefined);
    for (const [i, value] of values.entries()) expect(await backend.get(`v${i}`)).toBe(value);
    // A number is stored as its text (the codec's counters).
    await backend.set("n", 42, undefined);
    expect(await backend.get("n")).toBe("42");
  });

  it("stores each entry as a GET-able Response with max-age and the absolute expiry header", async () => {
    const backend = backendOn();
    const before = Date.now();
    await backend.set("ttl", "v", 90_000);
    const stored = await raw(backend.url("ttl"));
    expect(stored?.body).toBe("v");
    expect(stored?.cacheControl).toBe("max-age=90");
    expect(Number(stored?.expires)).toBeGreaterThanOrEqual(before + 90_000);
    expect(Number(stored?.expires)).toBeLessThanOrEqual(Date.now() + 90_000);

    await backend.set("short", "v", 300);
    expect((await raw(backend.url("short")))?.cacheControl).toBe("max-age=1"); // rounded up: never evicted early

    await backend.set("forever", "v", undefined);
    expect(await raw(backend.url("forever"))).toMatchObject({ cacheControl: `max-age=${FOREVER_SECONDS}`, expires: null });
    // 0 and negative expiries mean "no expiry", as on every backend.
    await backend.set("zero", "v", 0);
    expect(await backend.getExpire("zero")).toBe(-1);
  });

  it("expires exactly: a 300 ms entry reads as missing once past, though the platform keeps it a second", async () => {
    const backend = backendOn();
    await backend.set("brief", "v", 300);
    expect(await backend.get("brief")).toBe("v");
    await sleep(1_100);
    expect(await backend.get("brief")).toBe(MISSING);
    expect(await backend.exists("brief")).toBe(false);
    expect(await backend.getExpire("brief")).toBe(-2);
    expect(await backend.delete("brief")).toBe(false);
  });

  it("reads an entry whose expiry header has passed as missing, whatever the platform still holds", async () => {
    const backend = backendOn();
    const url = backend.url("stale");
    // Written past the backend: max-age says a minute, the header says it expired a moment ago.
    await workerd.caches.default!.put(url, new Response("old", { headers: { "cache-control": "max-age=60", [EXPIRES_HEADER]: String(Date.now() - 1) } }));
    expect((await raw(url))?.body).toBe("old"); // the platform still has it
    expect(await backend.get("stale")).toBe(MISSING);
    expect(await backend.getMany(["stale"])).toEqual([MISSING]);
    expect(await backend.exists("stale")).toBe(false);
    expect(await backend.getExpire("stale")).toBe(-2);
    expect(await backend.expire("stale", 60_000)).toBe(false);
    // Deleting reports it missing, and removes it from the platform's cache too.
    expect(await backend.delete("stale")).toBe(false);
    expect(await raw(url)).toBeUndefined();
    // A header that is not an epoch-ms number is not trusted.
    await workerd.caches.default!.put(url, new Response("odd", { headers: { "cache-control": "max-age=60", [EXPIRES_HEADER]: "soon" } }));
    expect(await backend.get("stale")).toBe(MISSING);
  });

  it("getExpire: remaining ms, -1 without expiry, -2 when missing", async () => {
    const cache = cacheOn();
    await cache.set("k", "v", { expire: "1m" });
    const left = await cache.getExpire("k");
    expect(left).toBeGreaterThan(58_000);
    expect(left).toBeLessThanOrEqual(60_000);
    await cache.set("p", "v");
    expect(await cache.getExpire("p")).toBe(-1);
    expect(await cache.getExpire("none")).toBe(-2);
    // A later set without expiry removes the earlier one.
    await cache.set("k", "v2");
    expect(await cache.getExpire("k")).toBe(-1);
    await cache.close();
  });

  it("expire: extends, shortens and persists a live key, keeping its value; false when missing", async () => {
    const backend = backendOn();
    await backend.set("k", "\uD800 kept", 400);
    expect(await backend.expire("k", 60_000)).toBe(true);
    await sleep(600); // past the first expiry
    expect(await backend.get("k")).toBe("\uD800 kept");
    expect(await backend.getExpire("k")).toBeGreaterThan(58_000);
    expect((await raw(backend.url("k")))?.cacheControl).toBe("max-age=60");

    expect(await backend.expire("k", undefined)).toBe(true);
    expect(await backend.getExpire("k")).toBe(-1);
    expect(await raw(backend.url("k"))).toMatchObject({ cacheControl: `max-age=${FOREVER_SECONDS}`, expires: null });

    expect(await backend.expire("k", 200)).toBe(true);
    await sleep(1_100);
    expect(await backend.get("k")).toBe(MISSING);
    expect(await backend.expire("k", 60_000)).toBe(false);
    expect(await backend.expire("never", 60_000)).toBe(false);

    const cache = cacheOn();
    await cache.set("c", { n: 1 }, { expire: "1m" });
    expect(await cache.expire("c", null)).toBe(true);
    expect(await cache.getExpire("c")).toBe(-1);
    expect(await cache.get("c")).toEqual({ n: 1 });
    await cache.close();
  });

  it("keeps a named cache apart from caches.default, and opens it once", async () => {
    const namespace = fresh();
    const opensBefore = workerd.caches.opens.get("pages") ?? 0;
    const main = cacheOn("cloudflare-cache://", { namespace });
    const pages = cacheOn("cloudflare-cache://pages", { namespace });
    const other = cacheOn("cloudflare-cache://other", { namespace });
    await main.set("k", "in default", { expire: "1m" });
    await pages.set("k", "in pages", { expire: "1m" });
    expect(await main.get("k")).toBe("in default");
    expect(await pages.get("k")).toBe("in pages");
    expect(await other.get("k")).toBeUndefined();
    for (let i = 0; i < 5; i++) await pages.getMany(["k", `x${i}`]);
    expect((workerd.caches.opens.get("pages") ?? 0) - opensBefore).toBe(1);
    // The same URL, in two caches.
    const url = keyUrl("https://cashews.internal", namespace, "k");
    expect((await raw(url))?.body).toContain("in default");
    expect((await raw(url, await workerd.caches.open("pages")))?.body).toContain("in pages");
    await Promise.all([main.close(), pages.close(), other.close()]);
  });

  it("keeps namespaces and origins apart within one cache", async () => {
    const a = backendOn("cloudflare-cache://", { namespace: "ns-a-" + fresh() });
    const b = backendOn("cloudflare-cache://", { namespace: "ns-b-" + fresh() });
    const shared = fresh();
    const one = backendOn("cloudflare-cache://", { namespace: shared, origin: "https://one.example.com" });
    const two = backendOn("cloudflare-cache://", { namespace: shared, origin: "https://two.example.com" });
    const bare = backendOn("cloudflare-cache://", { namespace: "", origin: `https://${shared}.example.com` });
    await a.set("k", "a", 60_000);
    await one.set("k", "one", 60_000);
    await bare.set("k", "bare", 60_000);
    expect(await a.get("k")).toBe("a");
    expect(await b.get("k")).toBe(MISSING);
    expect(await one.get("k")).toBe("one");
    expect(await two.get("k")).toBe(MISSING);
    expect(bare.url("k")).toBe(`https://${shared}.example.com/k`);
    expect((await raw(`https://${shared}.example.com/k`))?.body).toBe("bare");
    expect(one.url("k")).toBe(`https://one.example.com/${shared}/k`);
  });

  it("ping answers once the cache is open; init and close are idempotent", async () => {
    const backend = backendOn("cloudflare-cache://pings");
    await backend.init();
    await backend.init();
    expect(await backend.ping()).toBe("PONG");
    expect(await backend.ping("hi")).toBe("hi");
    await backend.close();
    await backend.close();
    expect(await backend.ping()).toBe("PONG");
  });
});

describe("cloudflare-cache:// setup", () => {
  const setup = (url: string, options: Record<string, unknown> = {}): (() => unknown) => () => new Cache().setup(url, options);

  it("needs the Cache API: without a global `caches` (not Workers) and no option, a CacheConfigError at setup", () => {
    expect((globalThis as { caches?: unknown }).caches).toBeUndefined(); // Node
    expect(setup("cloudflare-cache://")).toThrow(CacheConfigError);
    expect(setup("cloudflare-cache://pages")).toThrow(/runs on Cloudflare Workers.*pass a CacheStorage as setup\(url, \{ caches \}\)/);
    expect(() => createCloudflareCacheBackend("cloudflare-cache://")).toThrow(/runs on Cloudflare Workers/);
  });

  it("refuses a bad caches option, and a storage without caches.default for cloudflare-cache://", () => {
    expect(setup("cloudflare-cache://", { caches: "caches" })).toThrow(/option "caches" must be an object/);
    expect(setup("cloudflare-cache://", { caches: {} })).toThrow(/option "caches" must be a CacheStorage/);
    const namedOnly = { open: workerd.caches.open.bind(workerd.caches) };
    expect(setup("cloudflare-cache://", { caches: namedOnly })).toThrow(/no Workers default cache \(caches.default\): name a cache, e.g. "cloudflare-cache:\/\/pages"/);
    expect(setup("cloudflare-cache://pages", { caches: namedOnly })).not.toThrow();
  });

  it("refuses URLs with a path or a query, bad names and bad origins, naming the problem", () => {
    const caches = workerd.caches;
    expect(setup("cloudflare-cache://pages/x", { caches })).toThrow(/without a path/);
    expect(setup("cloudflare-cache:///", { caches })).toThrow(/without a path/);
    expect(setup("cloudflare-cache://pages?origin=https://a.example", { caches })).not.toThrow(); // a query parameter is an option
    expect(setup("cloudflare-cache://pages?nope=1", { caches })).toThrow(/unknown query parameter "nope"/);
    expect(setup("cloudflare-cache://%E0%A4%A", { caches })).toThrow(/not valid percent-encoding/);
    expect(setup("cloudflare-cache://", { caches, origin: "ftp://example.com" })).toThrow(/http:\/\/ or https:\/\/ origin/);
    expect(setup("cloudflare-cache://", { caches, origin: "https://example.com/path" })).toThrow(/an origin alone/);
    expect(setup("cloudflare-cache://", { caches, origin: "https://user:pw@example.com" })).toThrow(/an origin alone/);
    expect(setup("cloudflare-cache://", { caches, origin: "not a url" })).toThrow(/invalid URL/);
    expect(setup("cloudflare-cache://", { caches, origin: "https://example.com/" })).not.toThrow();
    expect(setup("cloudflare-cache://", { caches, namespace: 3 })).toThrow(/"namespace" must be a string/);
    for (const bad of [setup("cloudflare-cache://x/y", { caches })]) expect(bad).toThrow(CacheConfigError);
  });

  it("decodes a percent-encoded cache name", async () => {
    const backend = new CloudflareCacheBackend({ url: "cloudflare-cache://custom%3Acache", options: { caches: workerd.caches } });
    expect(backend.name).toBe("custom:cache");
    const direct = new CloudflareCacheBackend({ url: "cloudflare-cache://custom:cache", options: { caches: workerd.caches } });
    expect(direct.name).toBe("custom:cache");
  });
});

describe("cloudflare-cache:// refuses what the Cache API cannot do", () => {
  const refusals: [command: string, capability: string, run: (cache: Cache) => Promise<unknown>][] = [
    ["incr", "atomic", (c) => c.incr("n")],
    ["slidingIncr", "atomic", (c) => c.slidingIncr("s", "1m", { limit: 3 })],
    ["tags", "atomic", (c) => c.set("t", 1, { tags: ["users"] })],
    ["tagPop", "atomic", (c) => c.deleteTags("users")],
    ["set with exist: false", "atomic", (c) => c.set("nx", 1, { exist: false })],
    ["set with exist: true", "atomic", (c) => c.set("xx", 1, { exist: true })],
    ["setLock", "locks", (c) => c.setLock("l", "me", "10s")],
    ["unlock", "locks", (c) => c.unlock("l", "me")],
    ["scan", "listing", async (c) => { for await (const key of c.scan("*")) void key; }],
    ["scan", "listing", async (c) => { for await (const entry of c.getMatch("*")) void entry; }],
    ["deleteMatch", "listing", (c) => c.deleteMatch("user:*")],
    ["getKeysCount", "listing", (c) => c.getKeysCount()],
    ["clear", "listing", (c) => c.clear()],
  ];

  for (const safe of [true, false]) {
    for (const [command, capability, run] of refusals) {
      it(`${command}: a CacheCapabilityError (${capability}) ${safe ? "in safe mode" : "with safe: false"}`, async () => {
        const cache = cacheOn("cloudflare-cache://", { safe });
        const errors: unknown[] = [];
        cache.on("error", (e) => void errors.push(e));
        const error = await run(cache).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(CacheCapabilityError);
        expect(error).toBeInstanceOf(CacheConfigError);
        const refused = error as CacheCapabilityError;
        expect(refused.backend).toBe("cloudflare-cache");
        expect(refused.capability).toBe(capability);
        expect(refused.message).toContain(command);
        expect(refused.message).toContain("cloudflare-cache://");
        expect(refused.message).toContain(CACHE_API_LIMITS);
        // …and says what to use instead.
        expect(refused.message).toMatch(capability === "listing" ? /delete keys by name/ : /redis:\/\/|mem:\/\//);
        expect(errors).toEqual([]); // refused, not reported as a backend failure
        await cache.close();
      });
    }
  }

  it("every refused command of the backend itself rejects with the capability named", async () => {
    const backend = backendOn();
    const calls: [string, string, () => Promise<unknown>][] = [
      ["incr", "atomic", () => backend.incr()],
      ["slidingIncr", "atomic", () => backend.slidingIncr()],
      ["tagAdd", "atomic", () => backend.tagAdd()],
      ["tagPop", "atomic", () => backend.tagPop()],
      ["set with exist: false", "atomic", () => backend.set("k", "v", 1000, false)],
      ["setLock", "locks", () => backend.setLock()],
      ["unlock", "locks", () => backend.unlock()],
      ["scan", "listing", async () => { for await (const key of backend.scan()) void key; }],
      ["deleteMatch", "listing", () => backend.deleteMatch()],
      ["getKeysCount", "listing", () => backend.getKeysCount()],
      ["clear", "listing", () => backend.clear()],
    ];
    for (const [command, capability, call] of calls) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      expect(error, command).toBeInstanceOf(CacheCapabilityError);
      expect((error as CacheCapabilityError).capability, command).toBe(capability);
      expect((error as CacheCapabilityError).message, command).toContain(command);
    }
    // A refused conditional write wrote nothing.
    expect(await backend.get("k")).toBe(MISSING);
    expect(backend.capabilities).toEqual({ atomic: false, locks: false, listing: false, exactExpiry: true, strongConsistency: false });
  });

  it("refuses strategies that need a lock or atomic counters when they are wrapped", () => {
    const cache = cacheOn();
    const fn = async (id: string) => id;
    for (const wrap of [
      () => cache.hit({ ttl: "1m", cacheHits: 3 })(fn),
      () => cache.rateLimit({ limit: 3, period: "1m", ttl: "1m" })(fn),
      () => cache.slidingRateLimit({ limit: 3, period: "1m" })(fn),
      () => cache.locked({ ttl: "1m" })(fn),
      () => cache.circuitBreaker({ errorsRate: 50, period: "1m", ttl: "1m" })(fn),
      () => cache.perf({ ttl: "1m" })(fn),
      () => cache({ ttl: "1m", lock: true })(fn),
    ]) {
      expect(wrap).toThrow(CacheCapabilityError);
    }
  });
});

describe("cloudflare-cache:// strategies that need only get/set and exact expiry", () => {
  it("cache: a second call is served from the Cache API", async () => {
    const cache = cacheOn();
    let calls = 0;
    const get = cache({ ttl: "1m", key: "user:{id}" })(async (id: string) => ({ id, n: ++calls }));
    expect(await get("1")).toEqual({ id: "1", n: 1 });
    expect(await get("1")).toEqual({ id: "1", n: 1 });
    expect(await get("2")).toEqual({ id: "2", n: 2 });
    expect(calls).toBe(2);
    expect(await cache.get("user:1")).toEqual({ id: "1", n: 1 });
    await cache.close();
  });

  it("early refreshes in the background without a lock; soft serves the stale value when the refresh fails", async () => {
    const cache = cacheOn();
    let version = 0;
    const early = cache.early({ ttl: "1m", earlyTtl: "200ms", key: "early" })(async () => ++version);
    expect(await early()).toBe(1);
    await sleep(300);
    expect(await early()).toBe(1); // due: served while it refreshes
    for (let i = 0; i < 100 && version < 2; i++) await sleep(20);
    await sleep(100); // the refreshed value is being stored
    expect(await early()).toBe(2);
    expect(version).toBe(2); // served from the cache, not computed again

    let fail = false;
    let n = 0;
    const soft = cache.soft({ ttl: "1m", softTtl: "200ms", key: "soft" })(async () => {
      if (fail) throw new Error("down");
      return ++n;
    });
    expect(await soft()).toBe(1);
    await sleep(300);
    fail = true;
    expect(await soft()).toBe(1);
    await cache.close();
  });

  it("failover serves the last stored value when the function fails; iterator replays a completed run", async () => {
    const cache = cacheOn();
    let fail = false;
    const rates = cache.failover({ ttl: "1m", key: "rates" })(async () => {
      if (fail) throw new Error("upstream down");
      return { eur: 1.1 };
    });
    expect(await rates()).toEqual({ eur: 1.1 });
    fail = true;
    expect(await rates()).toEqual({ eur: 1.1 });

    let runs = 0;
    const rows = cache.iterator({ ttl: "1m", key: "rows" })(async function* () {
      runs++;
      yield 1;
      yield 2;
    });
    const collect = async (): Promise<number[]> => {
      const out: number[] = [];
      for await (const row of rows()) out.push(row as number);
      return out;
    };
    expect(await collect()).toEqual([1, 2]);
    expect(await collect()).toEqual([1, 2]);
    expect(runs).toBe(1);
    await cache.close();
  });
});
