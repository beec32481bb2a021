// deno-kv:// on Bun through @deno/kv (opened with its limited V8 serialiser: Bun's `v8` module
// writes JavaScriptCore's format). Run by test/runtimes/deno-kv.test.ts with CASHEWS_DENO_KV_DIR
// set to a temporary directory; without it (the smoke run of the whole folder) it is skipped.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Cache } from "../../src/index.js";
import { createDenoKvBackend } from "../../src/deno-kv.js";

const dir = process.env.CASHEWS_DENO_KV_DIR;

describe("deno-kv:// on Bun (@deno/kv)", () => {
  it("set/get, exact incr and setLock across two connections, the cache strategy", async (t) => {
    if (dir === undefined) return t.skip("CASHEWS_DENO_KV_DIR is not set");
    const db = `${dir}/bun.sqlite`;
    const a = createDenoKvBackend(`deno-kv://${db}`, { namespace: "bun" });
    const b = createDenoKvBackend(`deno-kv://${db}`, { namespace: "bun" });
    const cache = new Cache("bun").setup(`deno-kv://${db}`, { namespace: "bun-cache", safe: false });
    try {
      assert.equal(await a.set("k", "v", 60_000), true);
      assert.equal(await b.get("k"), "v");
      const values = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).incr("n", 1, 60_000)));
      assert.deepEqual([...values].sort((x, y) => x - y), Array.from({ length: 30 }, (_, i) => i + 1));
      const won = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).setLock("lock", `o${i}`, 60_000)));
      assert.equal(won.filter(Boolean).length, 1);
      let calls = 0;
      const load = cache.cache({ ttl: "1m", key: "u:{id}" })(async (id: number) => ({ id, n: ++calls }));
      assert.deepEqual(await load(1), { id: 1, n: 1 });
      assert.deepEqual(await load(1), { id: 1, n: 1 });
      assert.equal(calls, 1);
    } finally {
      await Promise.all([a.close(), b.close(), cache.close()]);
    }
  });
});
