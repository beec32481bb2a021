/**
 * The {@link cacheDetectHeaders} middleware: `X-From-Cache*` headers for decorated calls served
 * from cache while a request was handled.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { CoreCache } from "../presets/core-cache.js";
import { CacheDetect } from "../context/scope.js";
import { hasAsyncContext } from "../context/waituntil-fallback.js";
import { CacheConfigError } from "../errors.js";
import { checkOptions } from "../options.js";
import { proceed } from "./context.js";
import { asHeaderValue, seconds } from "./headers.js";
import { cacheOption } from "./options.js";

/** Options of {@link cacheDetectHeaders}. */
export interface CacheDetectHeadersOptions {
  /** The cache asked for the remaining TTLs. Default: the default `cache` instance of `cashews`. */
  cache?: CoreCache;
  /**
   * What to report where the runtime has no async context (Workers without `nodejs_compat` or
   * `nodejs_als`), where a hit cannot be told apart from a concurrent request's:
   * `"omit"` (default) sends no `X-From-Cache*` headers at all; `"all"` reports every decorated
   * hit in the isolate while the request is in flight (other requests' keys included: for
   * debugging, never where keys name users). With async context it has no effect.
   */
  withoutAsyncContext?: "omit" | "all";
}

/**
 * Runs the rest of the chain inside a {@link CacheDetect} scope; when decorated calls
 * (`cache(...)`, `early(...)`, …) were served from cache while handling the request, adds
 * `X-From-Cache` (their keys, in first-hit order, joined with `", "`; appended to one already
 * there; characters outside printable ASCII percent-encoded as UTF-8) and
 * `X-From-Cache-Expire-In` (the smallest remaining TTL among them, in seconds: the response is
 * as fresh as its stalest part; absent when none expires).
 *
 * With AsyncLocalStorage (Node, Bun, Deno, Workers with `nodejs_als` or `nodejs_compat`) only the
 * request's own work counts. Without it, hits cannot be attributed to a request: by default no
 * header is sent (see `withoutAsyncContext`).
 * @example
 * const getUser = cache({ ttl: "10m", key: "user:{id}" })(async (id: string) => db.user(id));
 * app.get("/profile/:id", cacheDetectHeaders(), async (c) => c.json(await getUser(c.req.param("id"))));
 * // second request: X-From-Cache: user:1, X-From-Cache-Expire-In: 597
 */
export function cacheDetectHeaders(options: CacheDetectHeadersOptions = {}): MiddlewareHandler {
  const name = "cacheDetectHeaders";
  checkOptions(name, options, ["cache", "withoutAsyncContext"]);
  const cache = cacheOption(name, options.cache);
  const unscoped = options.withoutAsyncContext ?? "omit";
  if (unscoped !== "omit" && unscoped !== "all") {
    throw new CacheConfigError(`${name}: "withoutAsyncContext" must be "omit" or "all", got ${JSON.stringify(unscoped)}`);
  }

  return async function cacheDetectHeadersMiddleware(c, next) {
    if (unscoped === "omit" && !hasAsyncContext()) return void (await proceed(c, next));
    const detect = new CacheDetect();
    await detect.run(() => proceed(c, next));
    const keys = Object.keys(detect.keys);
    if (keys.length === 0) return;
    const left = (await Promise.all(keys.map((key) => cache.getExpire(key)))).filter((ms) => ms > 0);
    try {
      const before = Number(c.res.headers.get("x-from-cache-expire-in") ?? Number.NaN);
      c.header("X-From-Cache", keys.map(asHeaderValue).join(", "), { append: true });
      if (left.length > 0) c.header("X-From-Cache-Expire-In", String(Math.min(seconds(Math.min(...left)), Number.isNaN(before) ? Number.POSITIVE_INFINITY : before)));
    } catch {
      // Headers the response cannot take: it goes out without them.
    }
  };
}
