/**
 * A caching reverse proxy: a Hono app with `cacheResponse` in front of `fetch` to an origin. The
 * origin's `Cache-Control` (or `CDN-Cache-Control`) decides what is stored and for how long;
 * `ttl` applies where it says nothing. Stale entries are revalidated with `If-None-Match` /
 * `If-Modified-Since`, `stale-while-revalidate` and `stale-if-error` work, and a successful
 * `POST`/`PUT`/`DELETE` through the proxy invalidates the URL it targeted. It runs the same on
 * Node, Bun, Deno and Workers (Web APIs only). An app of your own imports `cashews/core` and
 * `cashews/hono` instead of the library source. The HTTP cache-tests harness
 * (test/support/http-cache-suite.ts) measures this app.
 *
 *   ORIGIN=https://example.org node --import tsx runtimes/node/proxy.ts
 */
import { Hono } from "hono";
import type { CoreCache } from "../../src/core.js";
import { cacheResponse } from "../../src/hono/index.js";

/** Statuses whose responses have no body (undici may still hand an empty stream, which `new Response` rejects). */
const NULL_BODY = new Set([204, 205, 304]);

/** Codings that `fetch` decodes itself: when the origin used one, the body we hold is decoded. */
const DECODED_CODINGS = new Set(["gzip", "x-gzip", "deflate", "br", "zstd"]);

/**
 * Forwards `request` to the same path and query on `origin` and returns the origin's response.
 *
 * - The path stays a path on the origin: not `new URL(path, origin)`, where a path starting with
 *   `//` would resolve to another host (`//evil.example/x`), making this an open proxy.
 * - `Transfer-Encoding` is never forwarded (hop-by-hop; `fetch` has already de-chunked the body).
 * - `Content-Encoding` and `Content-Length` are forwarded unchanged, except when `Content-Encoding`
 *   names a coding that `fetch` decodes: then the body we hold is decoded, so both are dropped.
 *   Another value is kept (the cache-tests origin sends a made-up coding over a plain body and
 *   checks that the cache stores the header).
 * - A status a `Response` cannot carry (the origin sends 999 in some setups) is a bad gateway (502).
 */
export async function forward(origin: string, request: Request): Promise<Response> {
  const url = new URL(origin);
  const requested = new URL(request.url);
  url.pathname = requested.pathname;
  url.search = requested.search;
  const headers = new Headers(request.headers);
  headers.delete("host");
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  const upstream = await fetch(url, {
    method: request.method,
    headers,
    body: hasBody ? await request.arrayBuffer() : undefined,
    redirect: "manual",
  });
  const out = new Headers(upstream.headers);
  out.delete("transfer-encoding");
  const codings = (upstream.headers.get("content-encoding") ?? "").split(",").map((coding) => coding.trim().toLowerCase());
  if (codings.some((coding) => DECODED_CODINGS.has(coding))) {
    out.delete("content-encoding");
    out.delete("content-length");
  }
  if (upstream.status < 200 || upstream.status > 599) return new Response(null, { status: 502, headers: { "x-upstream-status": String(upstream.status) } });
  return new Response(NULL_BODY.has(upstream.status) ? null : upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: out });
}

/** The proxy app: every method and path of `origin`, cached in `cache`. */
export function createProxy(origin: string, cache: CoreCache): Hono {
  const app = new Hono();
  app.all("*", cacheResponse({ ttl: "1h", cache }), (c) => forward(origin, c.req.raw));
  return app;
}
