// The Worker that test/workers/cloudflare-kv.test.ts bundles and runs in workerd (through
// miniflare), with `nodejs_compat` and with no compatibility flag: a bare Hono app (`export default
// app`, no withCache) whose pages are cached by `cacheResponse` in a CoreCache on Workers KV. The
// binding only exists per request (`c.env`), so the cache is set up by the first request.
//
// - /page/:id  a handler that counts its runs (X-Runs) behind cacheResponse({ ttl: "1m" }).
// - /runs      how many times the handler ran.
import { Hono } from "hono";
import { CoreCache } from "../../src/core.js";
import "../../src/cloudflare-kv.js";
import { cacheResponse } from "../../src/hono/index.js";

const pages = new CoreCache("pages");

let runs = 0;

const app = new Hono<{ Bindings: { CACHE_KV: unknown } }>();

app.use(async (c, next) => {
  if (!pages.isSetup()) pages.setup("cloudflare-kv://CACHE_KV", { env: c.env });
  await next();
});

app.get("/runs", (c) => c.json({ runs }));

app.get("/page/:id", cacheResponse({ cache: pages, ttl: "1m" }), (c) => {
  runs++;
  c.header("x-runs", String(runs));
  return c.json({ id: c.req.param("id"), runs });
});

export default app;
