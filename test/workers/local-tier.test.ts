// The `local` option in workerd: runtimes/workers/local-worker.ts bundled with esbuild and run by
// miniflare as two Workers, "reader" and "writer" (two isolates), both bound to one real KV
// namespace `KV`, each with caches on `cloudflare-kv://KV?local=1&localTtl=…` and
// `cloudflare-cache://?local=1&localTtl=…`. Workers have no channel between isolates, so the local
// ttl is the staleness bound: a change the reader's isolate did not make is not seen while its
// copy is fresh (the copy answers, with no KV read: KV already holds the new value), and is seen
// after the ttl; a write by an isolate is seen by it at once. workerd's clock moves on I/O, and
// every request is I/O, so waiting here between requests is time passing in the Worker too.
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker } from "../../runtimes/workers/build.js";
import type { KvNamespaceLike } from "../../src/cloudflare-kv.js";
import { COMPATIBILITY_DATE, sleep } from "../support/workerd.js";

/** The local ttl of both Workers (ms). */
const TTL = 1_500;
/** How long past the ttl a change may take to be seen (generous: a loaded machine). */
const MARGIN = 5_000;

let mf: Miniflare;

beforeAll(async () => {
  const { code } = await bundleWorker("runtimes/workers/local-worker.ts");
  const worker = (name: string) => ({
    name,
    modules: [{ type: "ESModule" as const, path: "worker.mjs", contents: code }],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: { KV: "shared-kv" },
    bindings: { LOCAL_TTL: String(TTL) },
  });
  mf = new Miniflare({ workers: [worker("reader"), worker("writer")] });
  await mf.ready;
}, 60_000);
afterAll(async () => {
  await mf?.dispose();
}, 30_000);

/** Worker `name`'s JSON answer at `path`. */
async function call(name: "reader" | "writer", path: string): Promise<Record<string, unknown>> {
  const fetcher = (await mf.getWorker(name)) as unknown as { fetch(url: string): Promise<{ status: number; text(): Promise<string> }> };
  const response = await fetcher.fetch(`http://localhost${path}`);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return JSON.parse(text) as Record<string, unknown>;
}

/** What Worker `name` answers at `path` ({ value }, null for missing). */
async function ask(name: "reader" | "writer", path: string): Promise<unknown> {
  return (await call(name, path)).value;
}

/** Asks the reader until it answers `want`; the ms since `since` when it did (fails past the bound). */
async function seenBy(path: string, want: unknown, since: number): Promise<number> {
  for (;;) {
    const got = await ask("reader", path);
    const elapsed = Date.now() - since;
    if (got === want) return elapsed;
    if (elapsed > TTL + MARGIN) throw new Error(`${path}: still ${JSON.stringify(got)} ${elapsed} ms after the reader's copy was filled (want ${JSON.stringify(want)})`);
    await sleep(50);
  }
}

describe("cloudflare-kv://KV?local=1 in workerd: two isolates on one KV namespace", () => {
  it("another isolate's write is served stale within the local ttl (no KV read) and seen after it; the writer reads its own at once", async () => {
    expect(await ask("writer", "/kv/set?key=k&value=v1")).toBe("v1");
    let filled = Date.now();
    expect(await ask("reader", "/kv/get?key=k")).toBe("v1"); // the reader's copy holds v1 now

    expect(await ask("writer", "/kv/set?key=k&value=v2")).toBe("v2"); // its own write, at once
    const kv = (await mf.getKVNamespace("KV")) as unknown as KvNamespaceLike;
    expect(await kv.get("cashews:k")).toContain("v2"); // KV holds v2 already
    expect(await ask("reader", "/kv/get?key=k"), `the copy answers ${Date.now() - filled} ms after its fill`).toBe("v1");
    expect(await seenBy("/kv/get?key=k", "v2", filled)).toBeLessThanOrEqual(TTL + MARGIN);

    filled = Date.now(); // the read that filled v2 started before this
    expect(await ask("writer", "/kv/delete?key=k")).toBeNull(); // its own delete, at once
    expect(await kv.get("cashews:k")).toBeNull();
    expect(await ask("reader", "/kv/get?key=k")).toBe("v2");
    expect(await seenBy("/kv/get?key=k", null, filled)).toBeLessThanOrEqual(TTL + MARGIN);
  }, 30_000);
});

describe("cloudflare-cache://?local=1 in workerd", () => {
  it("an entry removed from the Cache API past the isolate's copy is still served within the local ttl and gone after it; own writes at once", async () => {
    expect(await ask("reader", "/cache/set?key=page&value=p1")).toBe("p1"); // its own write, at once
    const filled = Date.now();
    expect(await ask("reader", "/cache/set?key=page&value=p2")).toBe("p2");
    expect(await call("reader", "/cache/forget?key=page")).toEqual({ deleted: true }); // the Cache API no longer holds it
    expect(await ask("reader", "/cache/get?key=page")).toBe("p2"); // the copy answers
    expect(await seenBy("/cache/get?key=page", null, filled)).toBeLessThanOrEqual(TTL + MARGIN);
  }, 30_000);
});
