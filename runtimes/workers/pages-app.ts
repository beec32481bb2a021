// The Hono app both bare-Hono Workers serve (cache-api-hono-worker.ts, kv-hono-worker.ts): pages
// cached by `cacheResponse` in `pages`, a handler that counts its runs.
//
// - /page/:id  a handler that counts its runs (X-Runs) behind cacheResponse({ ttl: "1m" }).
// - /runs      how many times the handler ran.
import { Hono, type MiddlewareHandler } from "hono";
import type { CoreCache } from "../../src/core.js";
import { cacheResponse } from "../../src/hono/index.js";

/** The app; `before` runs first on every request (e.g. setting `pages` up from `c.env`). */
export function pagesApp(pages: CoreCache, before?: MiddlewareHandler): Hono {
  let runs = 0;
  const app = new Hono();
  if (before) app.use(before);
  app.get("/runs", (c) => c.json({ runs }));
  app.get("/page/:id", cacheResponse({ cache: pages, ttl: "1m" }), (c) => {
    runs++;
    c.header("x-runs", String(runs));
    return c.json({ id: c.req.param("id"), runs });
  });
  return app;
}
