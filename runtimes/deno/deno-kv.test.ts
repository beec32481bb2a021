// deno-kv:// on Deno itself: the backend on `Deno.openKv` (no @deno/kv), against the library
// source. Run by test/runtimes/deno-kv.test.ts, which creates a temporary directory and runs:
//
//   deno test --sloppy-imports --no-lock --unstable-kv --allow-env --allow-read --allow-write=<dir> runtimes/deno/deno-kv.test.ts
//
// with CASHEWS_DENO_KV_DIR=<dir>. Without that variable, or without `Deno.openKv` (no
// --unstable-kv: as in the smoke run of the whole folder), the block is skipped and says why.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Cache, CacheConfigError } from "../../src/index.js";
import { createDenoKvBackend, type DenoKvBackend, type DenoKvHandle } from "../../src/deno-kv.js";
import { MISSING } from "../../src/backends/types.js";

interface DenoApi {
  openKv?: (path?: string) => Promise<DenoKvHandle>;
  env: { get(name: string): string | undefined };
}
const deno = (globalThis as unknown as { Deno: DenoApi }).Deno;
let dir: string | undefined;
try {
  dir = deno.env.get("CASHEWS_DENO_KV_DIR");
} catch {
  dir = undefined; // no --allow-env
}
const skip =
  dir === undefined
    ? "CASHEWS_DENO_KV_DIR is not set (test/runtimes/deno-kv.test.ts runs this file with it)"
    : typeof deno.openKv !== "function"
      ? "Deno.openKv is not available: run with --unstable-kv"
      : false;

describe("deno-kv:// setup on Deno without --unstable-kv", { skip: typeof deno.openKv === "function" ? "Deno.openKv is available" : false }, () => {
  it("is a CacheConfigError at setup that names the flag", () => {
    assert.throws(() => new Cache("no-kv").setup("deno-kv://./cache.db"), (error: unknown) => {
      assert.ok(error instanceof CacheConfigError);
      assert.match(error.message, /--unstable-kv/);
      return true;
    });
  });
});

describe("deno-kv:// on Deno (Deno.openKv)", { skip }, () => {
  it("deno-kv:// without a path is accepted at setup (Deno's default database, opened at first use)", async () => {
    const onDefault = new Cache("default").setup("deno-kv://");
    await onDefault.close(); // never opened: nothing written outside the temporary directory
  });

  const db = `${dir}/deno.sqlite`;
  let a: DenoKvBackend;
  let b: DenoKvBackend;
  let cache: Cache;
  let second: DenoKvHandle;

  before(async () => {
    // Backends of one process on one path share a connection: `b` gets a second one of its own.
    second = await deno.openKv!(db);
    a = createDenoKvBackend(`deno-kv://${db}`, { namespace: "deno" });
    b = createDenoKvBackend("deno-kv://", { namespace: "deno", kv: second });
    cache = new Cache("deno-kv").setup(`deno-kv://${db}`, { namespace: "deno-cache", safe: false });
    await Promise.all([a.init(), b.init(), cache.init()]);
  });
  after(async () => {
    await Promise.all([a.close(), b.close(), cache.close()]);
    second.close();
  });

  it("set/get with expiry, shared by two connections; a record past its expiry reads as missing", async () => {
    assert.equal(await a.set("k", "v", 60_000), true);
    assert.equal(await b.get("k"), "v");
    const left = await b.getExpire("k");
    assert.ok(left > 50_000 && left <= 60_000, `ttl ${left}`);
    const kv = await a.handle();
    await kv.set(["deno", "stale"], `v${Date.now() - 1}:old`); // past its expiry, not yet removed by KV
    assert.equal(await b.get("stale"), MISSING);
    assert.equal(await b.exists("stale"), false);
  });

  it("incr is atomic under concurrency: 40 calls on two connections give 1..40", async () => {
    const values = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).incr("counter", 1, 60_000)));
    assert.deepEqual([...values].sort((x, y) => x - y), Array.from({ length: 40 }, (_, i) => i + 1));
    assert.equal(await a.get("counter"), "40");
  });

  it("setLock: exactly one of 20 concurrent callers wins; unlock only by the owner", async () => {
    const won = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).setLock("lock", `o${i}`, 60_000)));
    assert.equal(won.filter(Boolean).length, 1);
    const owner = `o${won.indexOf(true)}`;
    assert.equal(await b.unlock("lock", "intruder"), false);
    assert.equal(await b.unlock("lock", owner), true);
    assert.equal(await a.exists("lock"), false);
  });

  it("slidingIncr admits exactly the limit of 15 concurrent callers", async () => {
    const results = await Promise.all(Array.from({ length: 15 }, (_, i) => (i % 2 ? a : b).slidingIncr("window", 60_000, 6)));
    assert.equal(results.filter(([count]) => count <= 6).length, 6);
  });

  it("the cache strategy, tags and the lock strategy on deno-kv://<file>", async () => {
    let calls = 0;
    const load = cache.cache({ ttl: "1m", key: "user:{id}", tags: ["users"] })(async (id: number) => ({ id, n: ++calls }));
    assert.deepEqual(await load(1), { id: 1, n: 1 });
    assert.deepEqual(await load(1), { id: 1, n: 1 });
    assert.equal(calls, 1);
    const other = new Cache("deno-kv other").setup(`deno-kv://${db}`, { namespace: "deno-cache", safe: false });
    try {
      assert.deepEqual(await other.get("user:1"), { id: 1, n: 1 });
      assert.equal(await other.deleteTags("users"), 1);
    } finally {
      await other.close();
    }
    assert.deepEqual(await load(1), { id: 1, n: 2 });
    let inside = 0;
    let most = 0;
    const job = cache.locked({ ttl: "10s", key: "job" })(async () => {
      most = Math.max(most, ++inside);
      await new Promise((resolve) => setTimeout(resolve, 20));
      inside--;
      return "done";
    });
    assert.deepEqual(await Promise.all([job(), job(), job()]), ["done", "done", "done"]);
    assert.equal(most, 1);
  });

  it("a handle from Deno.openKv(':memory:') as option kv: used, never closed", async () => {
    const kv = await deno.openKv!(":memory:");
    const onHandle = new Cache("handle").setup("deno-kv://", { kv, safe: false });
    await onHandle.set("x", [1, 2], { expire: "1m" });
    await onHandle.close();
    assert.notEqual((await kv.get(["cashews", "x"])).versionstamp, null);
    kv.close();
  });
});
