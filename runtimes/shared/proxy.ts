/**
 * A caching reverse proxy: a Hono app with `cacheResponse` in front of `fetch` to an origin. The
 * origin's `Cache-Control` (or `CDN-Cache-Control`) decides what is stored and for how long;
 * `ttl` applies where it says nothing. Stale entries are revalidated with `If-None-Match` /
 * `If-Modified-Since`, `stale-while-revalidate` and `stale-if-error` work, and a successful
 * `POST`/`PUT`/`DELETE` through the proxy invalidates the URL it targeted. It runs the same on
 * Node, Bun, Deno and Workers (Web APIs only). An app of your own imports `cashews/core` and
 * `cashews/hono` instead of the library source.
 *
 *   ORIGIN=https://example.org node --import tsx runtimes/node/proxy.ts
 */
import { Hono } from "hono";
import type { CoreCache } from "../../src/core.js";
import { cacheResponse } from "../../src/hono/index.js";

/** Statuses whose responses have no body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** The proxy app: every method and path of `origin`, cached in `cache`. */
export function createProxy(origin: string, cache: CoreCache): Hono {
  const app = new Hono();
  app.all("*", cacheResponse({ ttl: "1h", cache }), async (c) => {
    // The request's path and query on the origin. Not `new URL(path, origin)`: a path starting with
    // `//` would resolve to another host (`//evil.example/x`), making this an open proxy.
    const url = new URL(origin);
    const requested = new URL(c.req.url);
    url.pathname = requested.pathname;
    url.search = requested.search;
    const headers = new Headers(c.req.raw.headers);
    headers.delete("host");
    const upstream = await fetch(url, {
      method: c.req.method,
      headers,
      body: c.req.method === "GET" || c.req.method === "HEAD" ? undefined : await c.req.arrayBuffer(),
      redirect: "manual",
    });
    const out = new Headers(upstream.headers);
    // fetch has decoded a compressed body and de-chunked it: those headers no longer describe it.
    if (/\b(gzip|deflate|br|zstd)\b/i.test(out.get("content-encoding") ?? "")) {
      out.delete("content-encoding");
      out.delete("content-length");
    }
    out.delete("transfer-encoding");
    return new Response(NULL_BODY.has(upstream.status) ? null : upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: out });
  });
  return app;
}
