// The cloudflare-kv:// backend on a real Workers KV namespace (miniflare's, in workerd): exact
// expiry under KV's 60-second minimum, value and expiry in one entry, bulk reads of more than 100
// keys, listing by glob under a namespace, the cacheTtl and timeout options, KV errors.
import { literalPrefix } from "../../../src/backends/glob.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cache, CacheBackendError } from "../../../src/index.js";
import {
  CloudflareKvBackend,
  createCloudflareKvBackend,
  KV_EXPIRY_MARGIN_S,
  KV_MIN_TTL_S,
  type KvNamespaceLike,
} from "../../../src/cloudflare-kv.js";
import { MISSING } from "../../../src/backends/types.js";
import { startKv, type KvServer } from "../../support/kv.js";
import { delayed, recorded, sleep } from "./helpers.js";

let server: KvServer;
let kv: KvNamespaceLike;
beforeAll(async () => {
  server = await startKv(["KV"]);
  kv = server.kv;
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

let n = 0;
/** A backend in a namespace of its own. */
const fresh = (options: { cacheTtl?: string; timeout?: number } = {}, binding: KvNamespaceLike = kv): CloudflareKvBackend =>
  createCloudflareKvBackend(binding, { namespace: `t${++n}`, ...options });

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out.sort();
}

describe("expiry: exact on read, also under KV's 60-second minimum", () => {
  it("a 1 s entry reads as missing once its second has passed, while KV still holds it", async () => {
    const backend = fresh();
    await backend.set("short", "v", 1_000);
    await backend.set("long", "w", 600_000);
    expect(await backend.get("short")).toBe("v");
    const left = await backend.getExpire("short");
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(1_000);
    await sleep(1_100);
    expect(await backend.get("short")).toBe(MISSING);
    expect(await backend.exists("short")).toBe(false);
    expect(await backend.getExpire("short")).toBe(-2);
    expect(await backend.getMany(["short", "long"])).toEqual([MISSING, "w"]);
    expect(await collect(backend.scan("*", 100))).toEqual(["long"]);
    expect(await backend.getKeysCount()).toBe(1);
    // KV itself still has it (its own TTL is at least 60 s): the expiry we read is ours.
    const raw = await kv.getWithMetadata(`${backend.namespace}:short`, { type: "text" });
    expect(raw.value).toBe("v");
    expect(await backend.expire("short", 60_000)).toBe(false);
    expect(await backend.delete("short")).toBe(false);
  });

  it("the expiry travels in the entry's metadata; KV's own expiration is max(60 s, ttl) plus the margin", async () => {
    const backend = fresh();
    const before = Date.now();
    await backend.set("a", "1", 1_000);
    await backend.set("b", "2", 600_000);
    await backend.set("c", "3", undefined);
    const after = Date.now();
    const page = await kv.list({ prefix: `${backend.namespace}:` });
    const byName = new Map(page.keys.map((key) => [key.name.slice(backend.namespace.length + 1), key]));
    const a = byName.get("a")!;
    const b = byName.get("b")!;
    expect((a.metadata as { e: number }).e).toBeGreaterThanOrEqual(before + 1_000);
    expect((a.metadata as { e: number }).e).toBeLessThanOrEqual(after + 1_000);
    // KV's expiration is in whole seconds, at least KV_MIN_TTL_S + margin ahead.
    expect(a.expiration! * 1000).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + (KV_MIN_TTL_S + KV_EXPIRY_MARGIN_S) * 1000);
    expect(b.expiration! * 1000).toBeGreaterThanOrEqual((b.metadata as { e: number }).e + KV_EXPIRY_MARGIN_S * 1000 - 1000);
    expect(byName.get("c")!.expiration).toBeUndefined();
    expect(byName.get("c")!.metadata ?? null).toBeNull();
  });

  it("getExpire, expire and a set without expiry: -1 without TTL, the new TTL after expire, -2 when missing", async () => {
    const backend = fresh();
    await backend.set("k", "v", 30_000);
    expect(await backend.getExpire("k")).toBeGreaterThan(25_000);
    await backend.set("k", "v2", undefined);
    expect(await backend.getExpire("k")).toBe(-1);
    expect(await backend.expire("k", 5_000)).toBe(true);
    const left = await backend.getExpire("k");
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(5_000);
    expect(await backend.get("k")).toBe("v2");
    expect(await backend.expire("k", undefined)).toBe(true);
    expect(await backend.getExpire("k")).toBe(-1);
    expect(await backend.expire("nope", 5_000)).toBe(false);
    expect(await backend.getExpire("nope")).toBe(-2);
  });

  it("through a Cache: a 1 s value is gone after it, and its remaining TTL is right", async () => {
    const cache = new Cache("kv-expiry").setup("cloudflare-kv://KV", { binding: kv, namespace: `t${++n}` });
    await cache.set("user:1", { name: "Ada" }, { expire: "1s" });
    expect(await cache.get("user:1")).toEqual({ name: "Ada" });
    const ttl = await cache.getExpire("user:1");
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1_000);
    await sleep(1_100);
    expect(await cache.get("user:1")).toBeUndefined();
    expect(await cache.getExpire("user:1")).toBe(-2);
    await cache.close();
  });
});

describe("getMany: KV's bulk read, 100 keys a call, in input order", () => {
  it("reads 250 keys (some missing, some expired, some repeated) in three bulk calls, in input order", async () => {
    const { binding, calls } = recorded(kv);
    const backend = fresh({}, binding);
    const keys = Array.from({ length: 240 }, (_, i) => `k${i}`);
    await backend.setMany(keys.filter((_, i) => i % 3 !== 0).map((key) => [key, `v:${key}`] as const), 600_000);
    await backend.set("k1", "gone soon", 1_000);
    await sleep(1_100);
    const asked = [...keys.slice().reverse(), "k2", "k2", "missing-1", "k5"];
    calls.length = 0;
    const values = await backend.getMany(asked);
    expect(values).toEqual(asked.map((key) => (key === "k1" || key.startsWith("missing") || Number(key.slice(1)) % 3 === 0 ? MISSING : `v:${key}`)));
    const bulk = calls.filter((call) => call.method === "getWithMetadata");
    expect(bulk.length).toBe(3);
    for (const call of bulk) {
      expect(Array.isArray(call.args[0])).toBe(true);
      expect((call.args[0] as string[]).length).toBeLessThanOrEqual(100);
    }
    expect(calls.every((call) => call.method === "getWithMetadata")).toBe(true);
  });

  it("an empty list reads nothing", async () => {
    const { binding, calls } = recorded(kv);
    expect(await fresh({}, binding).getMany([])).toEqual([]);
    expect(calls).toEqual([]);
  });
});

describe("listing under a namespace: scan, deleteMatch, getKeysCount, clear", () => {
  it("scan matches Redis globs on the user's keys, lists only the pattern's literal prefix, and follows cursors", async () => {
    const { binding, calls } = recorded(kv);
    const a = createCloudflareKvBackend(binding, { namespace: "scan-a" });
    const b = createCloudflareKvBackend(kv, { namespace: "scan-b" });
    for (const key of ["user:1", "user:2", "user:3", "user:x1", "user*lit", "item:1", "userless"]) await a.set(key, "v", 60_000);
    await b.set("user:1", "other namespace", 60_000);
    calls.length = 0;
    expect(await collect(a.scan("user:[0-9]", 1))).toEqual(["user:1", "user:2", "user:3"]);
    const lists = calls.filter((call) => call.method === "list");
    expect(lists.length).toBeGreaterThanOrEqual(3); // one key a page: cursors were followed
    for (const call of lists) expect((call.args[0] as { prefix: string }).prefix).toBe("scan-a:user:");
    expect(await collect(a.scan("user\\*lit", 100))).toEqual(["user*lit"]);
    expect(await collect(a.scan("*1", 100))).toEqual(["item:1", "user:1", "user:x1"]);
    expect(await collect(a.scan("?ser*", 100))).toEqual(["user*lit", "user:1", "user:2", "user:3", "user:x1", "userless"]);
    expect(await a.getKeysCount()).toBe(7);
  });

  it("deleteMatch deletes what matches in its namespace only, and counts live keys", async () => {
    const a = createCloudflareKvBackend(kv, { namespace: "dm-a" });
    const b = createCloudflareKvBackend(kv, { namespace: "dm-b" });
    for (const key of ["user:1", "user:2", "user:x", "item:1"]) await a.set(key, "v", 60_000);
    await a.set("user:3", "expiring", 1_000);
    await b.set("user:1", "b's", 60_000);
    await sleep(1_100);
    expect(await a.deleteMatch("user:[0-9]")).toBe(2); // user:3 had expired: deleted, not counted
    expect(await collect(a.scan("*", 100))).toEqual(["item:1", "user:x"]);
    expect(await kv.get("dm-a:user:3", { type: "text" })).toBeNull();
    expect(await b.get("user:1")).toBe("b's");
    expect(await a.deleteMatch("nothing:*")).toBe(0);
  });

  it("clear removes the namespace's keys only; the verbatim namespace \"\" owns (and clears) everything", async () => {
    const { mf, bindings, stop } = await startKv(["OWN"]);
    try {
      const own = bindings.OWN!;
      const a = createCloudflareKvBackend(own, { namespace: "a" });
      const b = createCloudflareKvBackend(own, { namespace: "b" });
      for (let i = 0; i < 30; i++) await a.set(`k${i}`, "v", 60_000);
      await b.set("k", "v", undefined);
      await own.put("foreign", "not ours");
      expect(await a.getKeysCount()).toBe(30);
      await a.clear();
      expect(await a.getKeysCount()).toBe(0);
      expect(await b.get("k")).toBe("v");
      expect(await own.get("foreign", { type: "text" })).toBe("not ours");
      const verbatim = createCloudflareKvBackend(own, { namespace: "" });
      expect(await verbatim.get("foreign")).toBe("not ours"); // no metadata: no expiry
      expect(await verbatim.getExpire("foreign")).toBe(-1);
      expect(await verbatim.getKeysCount()).toBe(2);
      await verbatim.clear();
      expect((await own.list()).keys).toEqual([]);
      void mf;
    } finally {
      await stop();
    }
  });

  it("literalPrefix: the text before the first special, escapes resolved", () => {
    expect(literalPrefix("user:*")).toBe("user:");
    expect(literalPrefix("a\\*b?")).toBe("a*b");
    expect(literalPrefix("[ab]*")).toBe("");
    expect(literalPrefix("plain")).toBe("plain");
    expect(literalPrefix("end\\")).toBe("end\\");
  });
});

describe("deletes and writes", () => {
  it("delete and deleteMany answer what existed (live), and remove the entries", async () => {
    const backend = fresh();
    await backend.setMany([["a", "1"], ["b", "2"], ["c", "3"]], undefined);
    await backend.set("d", "4", 1_000);
    expect(await backend.delete("a")).toBe(true);
    expect(await backend.delete("a")).toBe(false);
    await sleep(1_100);
    expect(await backend.deleteMany(["b", "c", "d", "zz", "b"])).toBe(2);
    expect(await backend.getMany(["a", "b", "c", "d"])).toEqual([MISSING, MISSING, MISSING, MISSING]);
    expect(await kv.get(`${backend.namespace}:d`, { type: "text" })).toBeNull();
  });

  it("values must be strings (the codec's output); numbers are stored as text", async () => {
    const backend = fresh();
    await expect(backend.set("o", { a: 1 }, undefined)).rejects.toThrow(TypeError);
    await backend.set("n", 42, undefined);
    expect(await backend.get("n")).toBe("42");
  });

  it("ping answers PONG or the message, after a read from KV", async () => {
    const { binding, calls } = recorded(kv);
    const backend = fresh({}, binding);
    expect(await backend.ping()).toBe("PONG");
    expect(await backend.ping("hi")).toBe("hi");
    expect(calls.map((call) => call.method)).toEqual(["get", "get"]);
  });
});

describe("options: cacheTtl and timeout", () => {
  it("cacheTtl reaches KV (seconds) on value reads; KV accepts it", async () => {
    const { binding, calls } = recorded(kv);
    const cache = new Cache("kv-cachettl").setup("cloudflare-kv://KV", { binding, cacheTtl: "45s", namespace: `t${++n}` });
    await cache.set("k", "v", { expire: "1m" });
    expect(await cache.get("k")).toBe("v");
    expect(await cache.getMany(["k", "other"])).toEqual(["v", undefined]);
    expect(await cache.exists("k")).toBe(true);
    const reads = calls.filter((call) => call.method === "getWithMetadata");
    expect(reads.length).toBe(3);
    for (const call of reads) expect(call.args[1]).toEqual({ type: "text", cacheTtl: 45 });
    await cache.close();
  });

  it("without cacheTtl, no cacheTtl is sent", async () => {
    const { binding, calls } = recorded(kv);
    const backend = fresh({}, binding);
    await backend.get("k");
    expect(calls[0]!.args[1]).toEqual({ type: "text" });
  });

  it("timeout bounds each KV call: a late answer is a CacheBackendError (a miss in safe mode)", async () => {
    const slow = delayed(kv, 400);
    const backend = fresh({ timeout: 50 }, slow);
    await expect(backend.get("k")).rejects.toThrow(CacheBackendError);
    await expect(backend.get("k")).rejects.toThrow(/timed out after 50 ms/);
    const cache = new Cache("kv-timeout").setup("cloudflare-kv://KV", { binding: slow, timeout: 50, namespace: `t${++n}` });
    const errors: unknown[] = [];
    cache.on("error", (event) => void errors.push(event.error));
    expect(await cache.get("k")).toBeUndefined();
    expect(errors.length).toBe(1);
    // No timeout: the late answer is waited for.
    expect(await fresh({}, slow).get("k")).toBe(MISSING);
    await cache.close();
  });
});

describe("errors from KV are ordinary backend errors", () => {
  it("a key over KV's 512-byte limit: CacheBackendError from the backend, a miss and an error event in safe mode, thrown with safe: false", async () => {
    const long = "x".repeat(600);
    const backend = fresh();
    await expect(backend.set(long, "v", undefined)).rejects.toThrow(CacheBackendError);
    await expect(backend.get(long)).rejects.toThrow(/cloudflare-kv GET/);
    const safe = new Cache("kv-safe").setup("cloudflare-kv://KV", { binding: kv });
    const errors: unknown[] = [];
    safe.on("error", (event) => void errors.push(event.error));
    expect(await safe.get(long)).toBeUndefined();
    expect(await safe.set(long, 1)).toBe(false);
    expect(errors.length).toBe(2);
    const unsafe = new Cache("kv-unsafe").setup("cloudflare-kv://KV", { binding: kv, safe: false });
    await expect(unsafe.get(long)).rejects.toThrow(CacheBackendError);
    await Promise.all([safe.close(), unsafe.close()]);
  });
});
