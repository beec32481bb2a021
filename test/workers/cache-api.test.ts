// cashews/cloudflare-cache in workerd (miniflare 4 running Workers bundled with esbuild), with
// `nodejs_compat` (async context) and with no compatibility flag:
//
// - runtimes/workers/cache-api-worker.ts: `withCache({ setup: () => "cloudflare-cache://" })` and
//   a decorated function: the second request is served from the Cache API (`caches.default`): the
//   function ran once, the entry is in workerd's cache (read by the Worker past cashews, and from
//   Node through miniflare), and once that entry is deleted the function runs again.
// - runtimes/workers/cache-api-hono-worker.ts: a bare Hono app with `cacheResponse` on a CoreCache
//   set up on `cloudflare-cache://pages`: a second GET is a hit (X-From-Cache, the handler ran once),
//   stored in the named cache `pages`, not in `caches.default`.
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, type WorkerBundle } from "../../runtimes/workers/build.js";
import { DEFAULT_NAMESPACE, DEFAULT_ORIGIN, keyUrl } from "../../src/cloudflare-cache.js";
import { startWorker } from "../support/workerd.js";
import type { ProxiedStorage } from "../support/workerd-caches.js";

/** workerd's caches, seen from Node through miniflare's proxy. */
const cachesOf = async (mf: Miniflare): Promise<ProxiedStorage> => (await mf.getCaches()) as unknown as ProxiedStorage;

let decorated: Promise<WorkerBundle> | undefined;
let hono: Promise<WorkerBundle> | undefined;
const decoratedWorker = (): Promise<WorkerBundle> => (decorated ??= bundleWorker("runtimes/workers/cache-api-worker.ts"));
const honoWorker = (): Promise<WorkerBundle> => (hono ??= bundleWorker("runtimes/workers/cache-api-hono-worker.ts"));

async function json(mf: Miniflare, path: string): Promise<any> {
  const response = await mf.dispatchFetch(`http://localhost${path}`);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return JSON.parse(text);
}

/** What workerd's cache `name` (default: `caches.default`) holds at `url`, read from Node. */
async function stored(mf: Miniflare, url: string, name?: string): Promise<string | undefined> {
  const caches = await cachesOf(mf);
  const cache = name === undefined ? caches.default : await caches.open(name);
  const found = (await cache.match(url)) as Response | undefined;
  return found ? await found.text() : undefined;
}

const variants = [
  { label: "nodejs_compat (async context)", flags: ["nodejs_compat"] },
  { label: "no compatibility flags (no async context)", flags: [] as string[] },
];

for (const { label, flags } of variants) {
  describe(`cloudflare-cache:// with withCache in workerd with ${label}`, () => {
    let mf: Miniflare;
    beforeAll(async () => {
      mf = await startWorker(await decoratedWorker(), flags);
    }, 60_000);
    afterAll(async () => {
      await mf?.dispose();
    }, 30_000);

    it("serves the second request from the Cache API: the function ran once", async () => {
      expect(await json(mf, "/raw?slug=home")).toEqual({ found: false });
      expect(await json(mf, "/page?slug=home")).toEqual({ page: { slug: "home", rendered: 1 }, calls: 1, route: "cloudflare-cache" });
      expect(await json(mf, "/page?slug=home")).toEqual({ page: { slug: "home", rendered: 1 }, calls: 1, route: "cloudflare-cache" });
      expect(await json(mf, "/page?slug=about")).toMatchObject({ page: { slug: "about", rendered: 2 }, calls: 2 });

      // The entry is a Response in caches.default, with max-age and the exact expiry.
      const raw = await json(mf, "/raw?slug=home");
      expect(raw).toMatchObject({ found: true, cacheControl: "max-age=60" });
      expect(Number(raw.expires)).toBeGreaterThan(Date.now());
      expect(JSON.parse(raw.body)).toMatchObject({ slug: "home", rendered: 1 });
      const url = keyUrl(DEFAULT_ORIGIN, DEFAULT_NAMESPACE, "page:home");
      expect(await stored(mf, url)).toBe(raw.body); // the same entry, seen from Node

      // Deleted from the Cache API (from Node): the next request runs the function again.
      expect(await (await cachesOf(mf)).default.delete(url)).toBe(true);
      expect(await json(mf, "/page?slug=home")).toMatchObject({ page: { slug: "home", rendered: 3 }, calls: 3 });
      expect(await json(mf, "/page?slug=home")).toMatchObject({ page: { slug: "home", rendered: 3 }, calls: 3 });
    });

    it("refuses a counter with a CacheCapabilityError, in safe mode too", async () => {
      expect(await json(mf, "/refused")).toEqual({ capabilityError: true, backend: "cloudflare-cache", capability: "atomic" });
    });
  });

  describe(`cloudflare-cache://pages behind cacheResponse in a bare Hono app in workerd with ${label}`, () => {
    let mf: Miniflare;
    beforeAll(async () => {
      mf = await startWorker(await honoWorker(), flags);
    }, 60_000);
    afterAll(async () => {
      await mf?.dispose();
    }, 30_000);

    it("answers a second GET from the named cache: X-From-Cache, the handler ran once", async () => {
      const first = await mf.dispatchFetch("http://localhost/page/1");
      expect(first.status).toBe(200);
      expect(await first.json()).toEqual({ id: "1", runs: 1 });
      expect(first.headers.get("x-from-cache")).toBeNull();

      const second = await mf.dispatchFetch("http://localhost/page/1");
      expect(second.status).toBe(200);
      expect(await second.json()).toEqual({ id: "1", runs: 1 });
      expect(second.headers.get("x-from-cache")).toBe("response:GET:/page/1");
      expect(second.headers.get("x-runs")).toBe("1");
      expect(await json(mf, "/runs")).toEqual({ runs: 1 });

      // Another page is another entry.
      const other = await mf.dispatchFetch("http://localhost/page/2");
      expect(await other.json()).toEqual({ id: "2", runs: 2 });
      expect(other.headers.get("x-from-cache")).toBeNull();

      // Stored in caches.open("pages"), not in caches.default.
      const url = keyUrl(DEFAULT_ORIGIN, DEFAULT_NAMESPACE, "response:GET:/page/1");
      expect(await stored(mf, url, "pages")).toBeDefined();
      expect(await stored(mf, url)).toBeUndefined();
    });
  });
}
