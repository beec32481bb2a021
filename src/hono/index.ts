/**
 * cashews/hono: Hono middleware on any cashews backend (`mem://`, `redis://`, `upstash://`) and any
 * runtime (Web APIs only: `Response`, `Headers`, `crypto.subtle`).
 *
 * - {@link cacheResponse}: whole-response HTTP caching with `ETag` / `304`, request
 *   `Cache-Control` and `Vary`.
 * - {@link rateLimit}: the limiter per request (fixed, sliding, token bucket; several limits; a cost), `429` with `Retry-After`, the IETF draft's `RateLimit-Policy`/`RateLimit` fields or the `RateLimit-*` trio.
 * - {@link cacheDetectHeaders}: `X-From-Cache*` headers for decorated calls served from cache.
 * - {@link cacheContext}: background work of decorated calls (early/hit refreshes) goes to
 *   `c.executionCtx.waitUntil`. Every middleware of this module does that for the rest of the
 *   chain already; use this one when you use none of them.
 *
 * @example
 * import { Hono } from "hono";
 * import { cache } from "cashews";
 * import { cacheResponse, rateLimit } from "cashews/hono";
 *
 * cache.setup("redis://localhost:6379");
 * const app = new Hono();
 * app.use("/api/*", rateLimit({ limit: 100, period: "1m", key: (c) => c.req.header("x-api-key") ?? "anonymous" }));
 * app.get("/api/items", cacheResponse({ ttl: "30s" }), (c) => c.json(items()));
 * @module
 */
export { cacheResponse, type CacheResponseOptions } from "./cache-response.js";
export { rateLimit, type RateLimitMiddlewareOptions, type RateLimitHeaders } from "./rate-limit.js";
export { cacheDetectHeaders, type CacheDetectHeadersOptions } from "./detect-headers.js";
export { cacheContext } from "./context.js";
export type { ContextKey } from "./options.js";
