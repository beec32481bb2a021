// cloudflare-kv:// in workerd: runtimes/workers/kv-worker.ts bundled with esbuild (from src/, no
// Node built-in) and run through miniflare with a real KV namespace bound as CACHE_KV, with
// `nodejs_compat` and with no compatibility flag. A second request is served from KV (the
// decorated function is not called again); two workerd instances sharing one kvPersist directory
// see each other's writes; KV refuses counters with a CacheCapabilityError inside the Worker.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, type WorkerBundle } from "../../runtimes/workers/build.js";
import type { KvNamespaceLike } from "../../src/cloudflare-kv.js";
import { COMPATIBILITY_DATE } from "../support/workerd.js";

let bundle: Promise<WorkerBundle> | undefined;
const worker = (): Promise<WorkerBundle> => (bundle ??= bundleWorker("runtimes/workers/kv-worker.ts"));

async function startKvWorker(compatibilityFlags: string[], kvPersist?: string): Promise<Miniflare> {
  const mf = new Miniflare({
    modules: [{ type: "ESModule", path: "worker.mjs", contents: (await worker()).code }],
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags,
    kvNamespaces: ["CACHE_KV"],
    ...(kvPersist === undefined ? {} : { kvPersist }),
  });
  await mf.ready;
  return mf;
}

async function json(mf: Miniflare, path: string): Promise<any> {
  const response = await mf.dispatchFetch(`http://localhost${path}`);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return JSON.parse(text);
}

it("the bundle has no node: import and bundles the KV backend", async () => {
  const { metafile, code } = await worker();
  const inputs = Object.keys(metafile.inputs);
  expect(inputs.some((file) => file.includes("src/backends/cloudflare-kv/backend.ts"))).toBe(true);
  expect(inputs.filter((file) => file.startsWith("node:"))).toEqual([]);
  expect(code).not.toMatch(/from\s*["']node:/);
});

const variants = [
  { label: "nodejs_compat", flags: ["nodejs_compat"] },
  { label: "no compatibility flags", flags: [] as string[] },
];

for (const { label, flags } of variants) {
  describe(`cloudflare-kv:// in workerd with ${label}`, () => {
    let mf: Miniflare;
    beforeAll(async () => {
      mf = await startKvWorker(flags);
    }, 60_000);
    afterAll(async () => {
      await mf?.dispose();
    }, 30_000);

    it("setup with { env }: the second request is served from KV, not computed again", async () => {
      const first = await json(mf, "/explicit/item?id=7");
      expect(first.calls).toBe(1);
      const second = await json(mf, "/explicit/item?id=7");
      expect(second.calls).toBe(1);
      expect(second.value).toEqual(first.value);
      // The entry is in KV, under the namespace, with its expiry in metadata.
      const kv = (await mf.getKVNamespace("CACHE_KV")) as unknown as KvNamespaceLike;
      const page = await kv.list({ prefix: "cashews:explicit:item:" });
      expect(page.keys.map((key) => key.name)).toEqual(["cashews:explicit:item:7"]);
      expect((page.keys[0]!.metadata as { e: number }).e).toBeGreaterThan(Date.now());
      // Another id is computed once too.
      expect((await json(mf, "/explicit/item?id=8")).calls).toBe(1);
    });

    it("an entry deleted from KV outside the Worker is computed again (it reads KV, not a local copy)", async () => {
      const kv = (await mf.getKVNamespace("CACHE_KV")) as unknown as KvNamespaceLike;
      await json(mf, "/explicit/item?id=9");
      await kv.delete("cashews:explicit:item:9");
      const again = await json(mf, "/explicit/item?id=9");
      expect(again.calls).toBe(2);
    });

    it("compress in workerd: a signed gzip value with registered instances is stored compressed in KV and read back by caches with and without the option", async () => {
      const id = `${label.replace(/\W/g, "")}-${Date.now()}`;
      expect(await json(mf, `/z/write?id=${id}`)).toEqual({ written: true });
      const kv = (await mf.getKVNamespace("CACHE_KV")) as unknown as KvNamespaceLike;
      const stored = (await kv.get(`cashews:z:${id}`)) as string;
      expect(stored).toMatch(/^\$s1:[\w-]{43}:\$zg:[A-Za-z0-9+/]+=*$/);
      expect(stored.length).toBeLessThan(1500); // 3 200 characters of text and 50 points, compressed
      expect(await json(mf, `/z/read?id=${id}&via=writer`)).toEqual({ via: "writer", found: true, points: true, same: true });
      expect(await json(mf, `/z/read?id=${id}&via=reader`)).toEqual({ via: "reader", found: true, points: true, same: true });
    });

    it("counters are refused inside the Worker with a CacheCapabilityError", async () => {
      expect(await json(mf, "/explicit/incr")).toEqual({ refused: true, name: "CacheCapabilityError", backend: "cloudflare-kv", capability: "atomic" });
    });

    it("bare setup \"cloudflare-kv://CACHE_KV\": withCache passes env; the second request is served from KV", async () => {
      const first = await json(mf, "/bare/item?id=1");
      expect(first.calls).toBe(1);
      const second = await json(mf, "/bare/item?id=1");
      expect(second.calls).toBe(1);
      expect(second.value).toEqual(first.value);
    });
  });
}

let honoBundle: Promise<WorkerBundle> | undefined;

for (const { label, flags } of variants) {
  describe(`a bare Hono app with cacheResponse on cloudflare-kv:// in workerd with ${label}`, () => {
    let mf: Miniflare;
    beforeAll(async () => {
      const { code } = await (honoBundle ??= bundleWorker("runtimes/workers/kv-hono-worker.ts"));
      mf = new Miniflare({
        modules: [{ type: "ESModule", path: "worker.mjs", contents: code }],
        compatibilityDate: COMPATIBILITY_DATE,
        compatibilityFlags: flags,
        kvNamespaces: ["CACHE_KV"],
      });
      await mf.ready;
    }, 60_000);
    afterAll(async () => {
      await mf?.dispose();
    }, 30_000);

    it("the second GET is a hit from KV: the handler runs once, the entry is in the namespace", async () => {
      const first = await mf.dispatchFetch("http://localhost/page/1");
      expect(first.headers.get("x-from-cache")).toBeNull();
      const body = await first.json();
      const second = await mf.dispatchFetch("http://localhost/page/1");
      expect(second.headers.get("x-from-cache")).not.toBeNull();
      expect(await second.json()).toEqual(body);
      expect(await json(mf, "/runs")).toEqual({ runs: 1 });
      const kv = (await mf.getKVNamespace("CACHE_KV")) as unknown as KvNamespaceLike;
      expect((await kv.list({ prefix: "cashews:" })).keys.length).toBeGreaterThan(0);
    });
  });
}

describe("two workerd instances sharing one kvPersist directory", () => {
  let dir: string;
  let a: Miniflare;
  let b: Miniflare;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cashews-kv-"));
    a = await startKvWorker(["nodejs_compat"], dir);
    b = await startKvWorker([], dir);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.dispose(), b?.dispose()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it("what one computes and stores, the other serves from KV without computing", async () => {
    const fromA = await json(a, "/explicit/item?id=shared");
    expect(fromA.calls).toBe(1);
    const fromB = await json(b, "/explicit/item?id=shared");
    expect(fromB.calls).toBe(0); // b's isolate never computed it
    expect(fromB.value).toEqual(fromA.value);
    const fromB2 = await json(b, "/explicit/item?id=other");
    expect(fromB2.calls).toBe(1);
    const fromA2 = await json(a, "/explicit/item?id=other");
    expect(fromA2.calls).toBe(0);
    expect(fromA2.value).toEqual(fromB2.value);
  });
});
