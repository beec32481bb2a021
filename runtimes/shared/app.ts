/**
 * The example Hono app that every runtime serves: the Node demo (`npm start`, on
 * @hono/node-server), the Deno server (`Deno.serve`), the Bun server (`Bun.serve`) and the Worker
 * (runtimes/workers/worker.ts). It imports the library source, as the other runtime files do; an
 * app of your own imports `cashews` and `cashews/hono` instead.
 *
 * Routes:
 * - `GET /users/:id`   a slow "database" read behind `cache()` (500 ms on a miss), whole
 *                      responses cached by `cacheResponse` for 30 s (`X-From-Cache` on hits)
 * - `GET /profile/:id` the same cached function, response not cached: `cacheDetectHeaders` says
 *                      which decorated calls were served from cache
 * - `GET /limited`     5 requests per 10 s per client (`RateLimit-*` headers, 429 after)
 * - `GET /stats`       the cache's counters
 */
import { Hono } from "hono";
import { Cache } from "../../src/index.js";
import { cacheDetectHeaders, cacheResponse, rateLimit } from "../../src/hono/index.js";

/** How long the example "database" takes to answer, in ms. */
export const SLOW_MS = 500;

const NAMES = ["Ada", "Grace", "Edsger", "Barbara", "Donald"];

/**
 * A cache for the examples: `url` (default `mem://`; e.g. `redis://localhost:6379`,
 * `upstash://my-db.upstash.io` with `UPSTASH_REDIS_REST_TOKEN` set). Network backends keep the
 * example's keys under their own namespace.
 */
export function exampleCache(url = "mem://"): Cache {
  return new Cache("example").setup(url, url.startsWith("mem:") ? {} : { namespace: "cashews-example" });
}

/** Builds the example app on `cache` (set up by the caller: mem://, redis://, upstash://…). */
export function createApp(cache: Cache): Hono {
  let loads = 0;
  const getUser = cache({ ttl: "30s", key: "user:{id}" })(async function getUser(id: string) {
    loads++;
    await new Promise((resolve) => setTimeout(resolve, SLOW_MS));
    const n = Number.parseInt(id, 10);
    return { id, name: NAMES[(Number.isNaN(n) ? id.length : n) % NAMES.length], loadedAt: new Date().toISOString() };
  });

  const app = new Hono();

  app.get("/", (c) => c.json({ routes: ["/users/:id", "/profile/:id", "/limited", "/stats"] }));

  app.get("/users/:id", cacheResponse({ ttl: "30s", cache }), async (c) => c.json(await getUser(c.req.param("id"))));

  app.get("/profile/:id", cacheDetectHeaders({ cache }), async (c) => c.json({ user: await getUser(c.req.param("id")) }));

  app.get(
    "/limited",
    rateLimit({ limit: 5, period: "10s", key: (c) => c.req.header("x-client-id") ?? "anonymous", cache }),
    (c) => c.json({ ok: true }),
  );

  app.get("/stats", (c) => c.json({ loads, ...cache.stats() }));

  return app;
}
