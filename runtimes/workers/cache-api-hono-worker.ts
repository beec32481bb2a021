// The Worker that test/workers/cache-api.test.ts bundles and runs in workerd (through miniflare),
// with `nodejs_compat` and with no compatibility flag: a bare Hono app (`export default app`, no
// withCache) whose pages are cached by `cacheResponse` in a CoreCache on `cloudflare-cache://pages`
// (the Workers Cache API, `caches.open("pages")`).
//
// - /page/:id  a handler that counts its runs (X-Runs) behind cacheResponse({ ttl: "1m" }).
// - /runs      how many times the handler ran.
import { Hono } from "hono";
import { CoreCache } from "../../src/core.js";
import "../../src/cloudflare-cache.js";
import { cacheResponse } from "../../src/hono/index.js";

// Setup does no I/O: fine at module scope (the global `caches` is there already).
const pages = new CoreCache("pages").setup("cloudflare-cache://pages");

let runs = 0;

const app = new Hono();

app.get("/runs", (c) => c.json({ runs }));

app.get("/page/:id", cacheResponse({ cache: pages, ttl: "1m" }), (c) => {
  runs++;
  c.header("x-runs", String(runs));
  return c.json({ id: c.req.param("id"), runs });
});

export default app;
