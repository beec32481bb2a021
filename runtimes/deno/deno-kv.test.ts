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

/** Reads `key` from `cache` every 25 ms until it is `want`; the ms it took (fails after `within` ms). */
async function until(cache: Cache, key: string, want: unknown, within: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const got = await cache.get(key);
    if (got === want) return Date.now() - started;
    if (Date.now() - started > within) assert.fail(`${key}: still ${JSON.stringify(got)} after ${within} ms (want ${JSON.stringify(want)})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Sends commands to runtimes/deno/local-worker.ts; each resolves when the worker has run it. */
function commander(worker: Worker): (command: Record<string, unknown>) => Promise<void> {
  let next = 0;
  const waiting = new Map<number, { resolve(): void; reject(error: Error): void }>();
  worker.onmessage = (event: MessageEvent<{ done: number; error?: string }>) => {
    const pending = waiting.get(event.data.done);
    waiting.delete(event.data.done);
    if (event.data.error === undefined) pending?.resolve();
    else pending?.reject(new Error(`in the worker: ${event.data.error}`));
  };
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    for (const pending of waiting.values()) pending.reject(new Error(`the worker failed: ${event.message}`));
    waiting.clear();
  };
  return (command) =>
    new Promise<void>((resolve, reject) => {
      const n = ++next;
      const timer = setTimeout(() => {
        waiting.delete(n);
        reject(new Error(`the worker did not answer ${JSON.stringify(command)} within 20 s`));
      }, 20_000);
      waiting.set(n, {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      worker.postMessage({ ...command, n });
    });
}

describe("deno-kv:// with local on Deno: the ttl bound, and BroadcastChannel between isolates", { skip }, () => {
  const db = `${dir}/local.sqlite`;

  it("a change no channel carries is served stale within the local ttl and seen after it; the writer sees its own at once", async () => {
    const TTL = 2_000;
    const MARGIN = 3_000; // generous: a loaded machine
    // The writer uses a handle of its own: a local tier on a supplied handle has no channel, so
    // nothing it changes is published to the reader (as between two processes or regions).
    const kv = await deno.openKv!(db);
    const writer = new Cache("writer").setup("deno-kv://", { kv, namespace: "bound", safe: false, local: { ttl: TTL } });
    const reader = new Cache("reader").setup(`deno-kv://${db}?local=1&localTtl=${TTL}ms`, { namespace: "bound", safe: false });
    try {
      await writer.set("k", "v1", { expire: "10m" });
      let filled = Date.now();
      assert.equal(await reader.get("k"), "v1"); // the reader's copy is filled

      await writer.set("k", "v2", { expire: "10m" });
      assert.equal(await writer.get("k"), "v2", "the writer reads its own write at once");
      const early = Date.now() - filled;
      assert.equal(await reader.get("k"), "v1", `the reader's copy answers within the local ttl (${early} ms after the fill): the local tier is in use`);
      await until(reader, "k", "v2", TTL + MARGIN);
      const seen = Date.now() - filled;
      assert.ok(seen <= TTL + MARGIN, `seen ${seen} ms after the fill (bound ${TTL} ms + ${MARGIN} ms)`);

      filled = Date.now(); // at most: the read that filled "v2" started before this
      await writer.delete("k");
      assert.equal(await writer.get("k"), undefined, "the writer reads its own delete at once");
      assert.equal(await reader.get("k"), "v2", "the reader's copy still answers");
      await until(reader, "k", undefined, TTL + MARGIN);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
      kv.close();
    }
  });

  it("a Web Worker's writes and deletes reach main's local copy over BroadcastChannel, far within the 60 s local ttl", async () => {
    const url = `deno-kv://${db}?local=1&localTtl=60s`;
    const WITHIN = 5_000;
    const main = new Cache("main").setup(url, { namespace: "bc", safe: false });
    // Writes behind the tiers' backs (no local tier: nothing published), to show main's copy answers.
    const kv = await deno.openKv!(db);
    const behind = new Cache("behind").setup("deno-kv://", { kv, namespace: "bc", safe: false });
    const worker = new Worker(new URL("./local-worker.ts", import.meta.url), { type: "module" });
    const call = commander(worker);
    try {
      await call({ op: "setup", url, namespace: "bc" });
      await main.init();
      const took: number[] = [];
      for (let round = 0; round < 3; round++) {
        const key = `k${round}`;
        await main.set(key, `main${round}`, { expire: "10m" });
        await behind.set(key, `behind${round}`, { expire: "10m" });
        assert.equal(await main.get(key), `main${round}`, "main's copy answers (an unpublished change is not seen)");
        await call({ op: "set", key, value: `worker${round}` });
        took.push(await until(main, key, `worker${round}`, WITHIN));
        await call({ op: "delete", key });
        took.push(await until(main, key, undefined, WITHIN));
      }
      assert.ok(took.every((ms) => ms < WITHIN), `took ${took.join(", ")} ms`);
    } finally {
      await call({ op: "close" }).catch(() => {});
      worker.terminate();
      await Promise.all([main.close(), behind.close()]);
      kv.close();
    }
  });
});
