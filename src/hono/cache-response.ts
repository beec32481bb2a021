/**
 * The {@link cacheResponse} middleware: a shared HTTP cache (RFC 9111) in front of a Hono handler,
 * on any cashews backend. The HTTP rules themselves (directives, freshness, age, storability,
 * ranges) are pure functions in `./http.ts`; this module stores, looks up, revalidates and answers.
 * @module
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import type { CoreCache } from "../presets/core-cache.js";
import type { Duration } from "../durations.js";
import { CacheCapabilityError, CacheConfigError } from "../errors.js";
import { bytesToBase64Url } from "../base64.js";
import { sha256 } from "../keys/hash.js";
import { checkOptions, requiredTtl } from "../options.js";
import { inBackground, proceed } from "./context.js";
import { stateOf } from "../core/state.js";
import { asHeaderValue, seconds } from "./headers.js";
import { cacheOption, keyOf, keyOption, type ContextKey } from "./options.js";
import {
  ageHeader,
  byteRange,
  initialAge,
  KEPT_ON_UPDATE,
  listNames,
  lookupOf,
  matchesEtag,
  parseDate,
  policyOf,
  requestDirectives,
  shareable,
  storable,
  type HeaderLookup,
  type Policy,
  type RequestDirectives,
} from "./http.js";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Sets (or appends) a header, never throwing: a name or value the runtime refuses is left out. */
function trySet(headers: Headers, name: string, value: string, append = false): void {
  try {
    if (append) headers.append(name, value);
    else headers.set(name, value);
  } catch {
    // Not a valid header: a response without it beats a 500.
  }
}

/** Options of {@link cacheResponse}. */
export interface CacheResponseOptions {
  /**
   * The freshness lifetime of a response that states none (no `s-maxage`, `max-age` or
   * `Expires`) and whose status may be cached heuristically (200, 203, 204, 300, 301, 308, 404,
   * 405, 410, 414, 501): a Duration such as `"30s"`, or `null` for no expiry. Also how long a
   * stale response with a validator (`ETag`, `Last-Modified`) is kept to be revalidated.
   * Required.
   */
  ttl: Duration | null;
  /**
   * Whose freshness counts: `"response"` (default) follows the response's own directives
   * (targeted fields such as `CDN-Cache-Control`, then `s-maxage`, `max-age`, `Expires`) and uses
   * `ttl` only where it states none; `"ttl"`: the app owns its `Cache-Control` (e.g. written for
   * browsers), and every stored response is fresh for `ttl`, whatever its freshness directives,
   * `no-cache` or `must-revalidate` say (`no-store` and `private` are still honoured).
   */
  freshness?: "response" | "ttl";
  /**
   * The cache key of a request (may be async, e.g. to hash `await c.req.text()` for POST).
   * Default: `response:<METHOD>:<path>[?<query>]`, the query's parameters sorted by name (the
   * order of repeated ones kept) and re-encoded, so `?b=2&a=1` and `?a=1&b=%32` share an entry;
   * `HEAD` uses the `GET` entry. The host is not part of it: add it in a key function when one
   * app serves several hosts. A custom key is used as is (no prefix, no method); it does not
   * change who may share an entry (see `credentials`), and unsafe requests cannot invalidate it.
   */
  key?: ContextKey;
  /** The cache to store responses in. Default: the default `cache` instance of `cashews`. */
  cache?: CoreCache;
  /** Request methods whose responses are cached (upper-cased). Default `["GET"]` (`HEAD` included). */
  methods?: readonly string[];
  /**
   * Request header names whose values select the entry, in addition to those named by the
   * response's own `Vary` header. They are also added to the response's `Vary`. Listing
   * `authorization` or `cookie` caches requests carrying that header per value (per user).
   */
  vary?: readonly string[];
  /**
   * Requests with credentials (an `Authorization` or `Cookie` header): `"bypass"` (default)
   * neither reads nor writes the cache for them (as request `no-store`), unless `vary` lists that
   * header, or, for `Authorization`, the response allows sharing (`public`, `s-maxage` or
   * `must-revalidate`, RFC 9111 §3.5); `"share"` serves and stores them like any other request:
   * only for responses that do not depend on who asks (e.g. a site whose every browser request
   * carries analytics cookies).
   */
  credentials?: "bypass" | "share";
  /**
   * Largest body stored, in bytes (default 1 MiB, `1_048_576`; `Infinity`: no limit). A larger
   * response (by its `Content-Length`, or once that many bytes were read) is streamed through
   * untouched, bytes already read included, and not stored.
   */
  maxBodyBytes?: number;
}

/** What is stored per response (every backend round-trips it byte-exact through the typed codec). */
interface Entry {
  v: 2;
  status: number;
  /** Lowercased names; repeated headers combined with `", "` (Set-Cookie is never stored). */
  headers: [string, string][];
  body: Uint8Array;
  /** `Date.now()` when the response (or the 304 that last freshened it) was received. */
  at: number;
  /** Its corrected initial age then, in ms (RFC 9111 §4.2.3): upstream `Age` and `Date` included. */
  age: number;
  /** The `ETag` sent with it (quoted). */
  etag: string;
  /** True when the handler sent that `ETag` (so it can validate); false when this cache made it. */
  own: boolean;
}

/** Stored under the base key when responses vary: the sorted request header names they vary on. */
interface VaryIndex {
  v: 2;
  vary: string[];
  /** Part of every variant's key: a new index (after an invalidation) orphans the old variants. */
  gen: string;
}

/** One request through the middleware: what it asked, and what the cache found for it. */
interface Exchange {
  c: Context;
  next: Next;
  /** The base key: the entry's, or its vary index's. */
  base: string;
  /** Headers outer middleware set before `next()` (never stored; see `outerHeaders`). */
  outer: readonly [string, string][];
  requested: RequestDirectives;
  /** The request carries `Authorization` that does not bypass the cache (RFC 9111 §3.5 applies). */
  authorized: boolean;
  /** The vary index under the base key, when responses here vary. */
  index?: VaryIndex;
  /** The stored entry to revalidate (stale, or not usable for this request). */
  stale?: Found;
}

/** A stored entry found for a request. */
interface Found {
  key: string;
  entry: Entry;
  /** The index it was found under (when the responses vary). */
  index?: VaryIndex;
}

interface Computed {
  entry: Entry;
  /** The sorted header names it varies on. */
  vary: string[];
  /** {@link variantId} of the request that produced it. */
  variant: string;
  /** Where it was stored; undefined when not stored. */
  stored?: string;
  /** Answered from a stored entry (freshened by a 304, or stale-if-error). */
  hit?: boolean;
}

const isEntry = (value: unknown): value is Entry => {
  const e = value as Entry | null;
  return (
    typeof e === "object" &&
    e !== null &&
    e.v === 2 &&
    Number.isInteger(e.status) &&
    Array.isArray(e.headers) &&
    e.body instanceof Uint8Array &&
    typeof e.at === "number" &&
    typeof e.age === "number" &&
    typeof e.etag === "string" &&
    typeof e.own === "boolean"
  );
};

const isIndex = (value: unknown): value is VaryIndex => {
  const i = value as VaryIndex | null;
  return typeof i === "object" && i !== null && i.v === 2 && typeof i.gen === "string" && Array.isArray(i.vary) && i.vary.every((n) => typeof n === "string");
};

/** Statuses whose responses have no body (`new Response(body, { status })` rejects one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** Response headers never stored nor replayed: hop-by-hop, recomputed, or about this request only. */
const NOT_STORED = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authentication-info",
  "proxy-authorization",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "content-length",
  "set-cookie",
  "set-cookie2",
  "age",
  "x-from-cache",
  "x-from-cache-expire-in",
  "ratelimit",
  "ratelimit-limit",
  "ratelimit-remaining",
  "ratelimit-reset",
  "ratelimit-policy",
  "retry-after",
]);

/** The headers a 304 keeps (RFC 9110 §15.4.5), plus the cache's own. */
const KEPT_ON_304 = new Set(["cache-control", "content-location", "date", "etag", "expires", "vary", "age", "x-from-cache", "x-from-cache-expire-in", "last-modified"]);

/** Methods that never invalidate (RFC 9110 §9.2.1 safe methods). */
const SAFE = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

/** Statuses that let `stale-if-error` serve the stored response instead (RFC 5861 §4). */
const ERRORS = new Set([500, 502, 503, 504]);

/** Default of `maxBodyBytes`: 1 MiB. */
const MAX_BODY_BYTES = 1_048_576;

/** How many vary indexes one middleware remembers (see `lookup`). */
const KNOWN_INDEXES = 1000;

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** How long one background refresh may hold its lock (ms): it is released when done. */
const REFRESH_LOCK_MS = 30_000;

/**
 * A request header value for variant selection: absent → null, list whitespace normalised;
 * `Accept-Encoding` and `Accept-Language` are also case-normalised (their tokens are
 * case-insensitive), and `Accept-Encoding`'s members sorted (their order carries no preference).
 */
function headerValue(c: Context, name: string): string | null {
  const value = c.req.header(name);
  if (value === undefined) return null;
  const normal = value.trim().replace(/\s*([,;=])\s*/g, "$1");
  if (name === "accept-encoding") return normal.toLowerCase().split(",").sort().join(",");
  return name === "accept-language" ? normal.toLowerCase() : normal;
}

/** Identifies the variant of the request for the header names `vary` (names and values). */
const variantId = (vary: readonly string[], c: Context): string => JSON.stringify(vary.map((name) => [name, headerValue(c, name)]));

/** The key of one variant: `<base>:vary:<gen>:<sha-256 of the header names and values, 128 bits hex>`. */
const variantKey = (base: string, gen: string, variant: string): string => `${base}:vary:${gen}:${sha256(variant).slice(0, 32)}`;

/** A random id (a vary index's generation, a refresh lock's token). */
const randomId = (): string => bytesToBase64Url(crypto.getRandomValues(new Uint8Array(6)));

/** A backend expiry for keeping something `keepMs` (`Infinity`: no expiry). */
const expireOf = (keepMs: number): number | null => (Number.isFinite(keepMs) ? Math.max(1, Math.ceil(keepMs)) : null);

/** A strong ETag: the SHA-256 of the body, base64url, quoted. */
async function etagOf(body: Uint8Array<ArrayBuffer>): Promise<string> {
  return `"${bytesToBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", body)))}"`;
}

/** A handler's ETag as a valid entity tag: an unquoted `abc` becomes `"abc"`; a quoted or `W/"…"` one is kept. */
const quotedEtag = (etag: string): string => (/^(W\/)?"[^"]*"$/.test(etag) ? etag : `"${etag.replace(/"/g, "")}"`);

/** The conditional and range headers of the client's request, answered by this cache from an entry. */
interface Asked {
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  range?: string;
  ifRange?: string;
}

/** True when the client's conditional request is answered by `entry` with a 304 (RFC 9110 §13.2.2). */
function notModified(entry: Entry, asked: Asked, headers: HeaderLookup): boolean {
  if (asked.ifNoneMatch !== undefined) return matchesEtag(asked.ifNoneMatch, entry.etag);
  if (asked.ifModifiedSince === undefined) return false;
  const since = parseDate(asked.ifModifiedSince);
  const modified = parseDate(headers("last-modified")) ?? parseDate(headers("date"));
  return since !== undefined && modified !== undefined && modified <= since;
}

/** The byte range to send for the client's `Range` (honouring `If-Range`), if any. */
function rangeOf(entry: Entry, asked: Asked, headers: HeaderLookup): [number, number] | "unsatisfiable" | undefined {
  if (asked.range === undefined || entry.status !== 200) return undefined;
  if (asked.ifRange !== undefined) {
    const ifRange = asked.ifRange.trim();
    const strongMatch = ifRange.startsWith('"') && !entry.etag.startsWith("W/") && ifRange === entry.etag;
    if (!strongMatch && ifRange !== headers("last-modified")) return undefined;
  }
  return byteRange(asked.range, entry.body.byteLength);
}

/** The response for `entry`: a 304 or 206/416 when the client asked for one, else the whole entry. */
function respond(entry: Entry, asked: Asked, extra: [string, string][]): Response {
  const stored = lookupOf(entry.headers);
  const unchanged = notModified(entry, asked, stored);
  const headers = new Headers();
  for (const [name, value] of entry.headers) if (!unchanged || KEPT_ON_304.has(name)) trySet(headers, name, value, true);
  for (const [name, value] of extra) trySet(headers, name, asHeaderValue(value));
  if (unchanged) return new Response(null, { status: 304, headers });
  const range = rangeOf(entry, asked, stored);
  const size = entry.body.byteLength;
  if (range === "unsatisfiable") {
    headers.set("content-range", `bytes */${size}`);
    return new Response(null, { status: 416, headers });
  }
  if (range !== undefined) {
    headers.set("content-range", `bytes ${range[0]}-${range[1]}/${size}`);
    return new Response(entry.body.slice(range[0], range[1] + 1) as Uint8Array<ArrayBuffer>, { status: 206, headers });
  }
  return new Response(NULL_BODY.has(entry.status) ? null : (entry.body as Uint8Array<ArrayBuffer>), { status: entry.status, headers });
}

/** `X-From-Cache`, `Age` and `X-From-Cache-Expire-In` (seconds of freshness left) for an entry served from `key`. */
function hitHeaders(key: string, age: number, freshLeft: number): [string, string][] {
  const extra: [string, string][] = [
    ["x-from-cache", key],
    ["age", ageHeader(age)],
  ];
  if (freshLeft > 0 && Number.isFinite(freshLeft)) extra.push(["x-from-cache-expire-in", String(seconds(freshLeft))]);
  return extra;
}

/**
 * The headers of the response as it stands before `next()`: those set by outer middleware
 * (`c.header` before `next()`). Read through `c.newResponse` so that `c.res` is not created
 * (which would change how Hono merges them into the handler's response).
 */
function outerHeaders(c: Context): [string, string][] {
  let headers: Headers;
  try {
    headers = c.newResponse(null).headers;
  } catch {
    headers = c.res.headers;
  }
  const pairs: [string, string][] = [];
  headers.forEach((value, name) => void pairs.push([name, value]));
  return pairs;
}

/** Replaces the context's response (`c.res = undefined` first: Hono would merge the old headers in). */
function replace(c: Context, response: Response): void {
  c.res = undefined;
  c.res = response;
}

/**
 * Sends `response` (built from an entry) with the outer middleware's headers added back (they
 * are per request and never stored); the entry's own win over them, as the handler's did.
 */
function deliver(c: Context, response: Response, outer: readonly [string, string][]): void {
  const own = new Set<string>();
  response.headers.forEach((_, name) => void own.add(name));
  for (const [name, value] of outer) {
    if (own.has(name) || (response.status === 304 && name.startsWith("content-"))) continue;
    trySet(response.headers, name, value, true);
  }
  replace(c, response);
}

/**
 * The body of `res`, at most `max` bytes. Over that, returns undefined and sets `c.res` to a
 * response that streams the bytes already read, then the rest.
 */
async function readBody(c: Context, res: Response, max: number): Promise<Uint8Array | undefined> {
  if (res.body === null) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > max) {
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(chunk);
          chunks.length = 0;
        },
        async pull(controller) {
          try {
            const next = await reader.read();
            if (next.done) controller.close();
            else controller.enqueue(next.value);
          } catch (error) {
            controller.error(error);
          }
        },
        cancel: (reason) => reader.cancel(reason),
      });
      replace(c, new Response(stream, { status: res.status, statusText: res.statusText, headers: res.headers }));
      return undefined;
    }
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

/**
 * A shared HTTP cache (RFC 9111) for whole responses (status, headers, body) in any cashews
 * backend, on any runtime.
 *
 * - **Freshness** (RFC 9111 §4.2): from the first of `Cloudflare-CDN-Cache-Control` and
 *   `CDN-Cache-Control` (RFC 9213) present, else `s-maxage`, `max-age`, then `Expires` (against
 *   `Date`); invalid values make the response stale. A response that states none gets `ttl` when
 *   its status may be cached heuristically. With `freshness: "ttl"`, every response gets `ttl`.
 *   Age is the upstream `Age` plus the time in transit and in this cache; every hit carries it.
 * - **What is stored** (§3): any final status but 206/304 with explicit freshness, or a
 *   heuristically cacheable one; never `no-store` (unless `must-understand` and a status this
 *   cache understands), unqualified `private`, `Vary: *`, event streams, nor a body over
 *   `maxBodyBytes` (streamed through instead). Fields named by `no-cache="…"` / `private="…"`, by
 *   `Connection`, and hop-by-hop fields are left out. A response with `Set-Cookie` is never
 *   stored: a deliberate deviation, so one user's cookie never reaches another.
 * - **Revalidation** (§4.3): a stale entry with a validator (the handler's `ETag`, or
 *   `Last-Modified`) runs the handler with `If-None-Match` / `If-Modified-Since`; a `304`
 *   freshens the stored headers and is answered from the entry. Response `no-cache` revalidates
 *   every use; `must-revalidate`, `proxy-revalidate` and `s-maxage` forbid serving stale.
 * - **Stale serving** (RFC 5861): within `stale-while-revalidate`, the stale entry is answered at
 *   once and refreshed in the background (through `waitUntil` where the runtime has one; one
 *   refresh at a time per entry, across processes on a shared backend); within `stale-if-error`
 *   (response or request directive), a 500/502/503/504 from the handler is replaced by the entry.
 * - **Request directives**: `no-store` neither reads nor writes; `no-cache` (or `Pragma:
 *   no-cache`) revalidates; `max-age`, `max-stale`, `min-fresh` bound what is served;
 *   `only-if-cached` answers `504` instead of running the handler.
 * - **Invalidation** (§4.4): a `POST`, `PUT`, `DELETE`, `PATCH` or other unsafe request that
 *   succeeds (2xx/3xx) removes the entries of its URL and of a same-origin `Location` /
 *   `Content-Location`, every variant included. This needs the default key, and the middleware
 *   on those routes too (e.g. `app.use("/api/*", cacheResponse(...))`).
 * - **Conditionals and ranges**: every stored or cacheable response carries a strong `ETag` (the
 *   handler's own, quoted if it was not, else the SHA-256 of the body, base64url); a matching
 *   `If-None-Match` (weak comparison) or, without one, `If-Modified-Since` gets a `304`. A
 *   single `Range` (`bytes=a-b`, `a-`, `-n`, honouring `If-Range`) of a stored 200 gets a `206`;
 *   the handler is always asked for the complete response.
 * - `Vary`: the request headers named by the response's `Vary` and by the `vary` option select
 *   the entry (`Accept-Encoding` and `Accept-Language` values case- and space-normalised).
 * - Hits carry `X-From-Cache` (the key the entry is stored under) and `X-From-Cache-Expire-In`
 *   (seconds of freshness left; absent when it never goes stale), and so do concurrent requests
 *   served the response another one computed: concurrent misses of one variant in one process
 *   run the handler once.
 * - A request with credentials (`Authorization` or `Cookie`) bypasses the cache (as `no-store`)
 *   unless `vary` lists that header or `credentials: "share"` is given: one user's response is
 *   never served to another by default, whatever the `key`.
 * - `HEAD` is answered from the `GET` entry but never stores one (its handler may send no body).
 * - The stored headers are those the handler produced: not those an outer middleware set before
 *   `next()` (they are per request and added again, fresh, to every response), nor
 *   `Content-Length`, `Age`, `X-From-Cache*`, `RateLimit-*` and `Retry-After`.
 * - Safe mode: a failing backend is a miss and a skipped write; the handler's response goes
 *   through. With `safe: false` the backend error propagates.
 *
 * Bad options throw {@link CacheConfigError} here, not at request time.
 * @example
 * app.get("/users/:id", cacheResponse({ ttl: "5m", vary: ["accept-language"] }), (c) => c.json(user(c.req.param("id"))));
 * // A caching reverse proxy (the upstream's Cache-Control decides, 1 h where it says nothing):
 * // see runtimes/shared/proxy.ts for the forwarding handler.
 * app.all("*", cacheResponse({ ttl: "1h" }), forwardToOrigin);
 */
export function cacheResponse(options: CacheResponseOptions): MiddlewareHandler {
  const name = "cacheResponse";
  checkOptions(name, options, ["ttl", "freshness", "key", "cache", "methods", "vary", "credentials", "maxBodyBytes"]);
  const ttl = requiredTtl(name, options.ttl) ?? null;
  const fallback = ttl ?? Number.POSITIVE_INFINITY;
  const override = options.freshness === "ttl";
  if (options.freshness !== undefined && options.freshness !== "response" && !override) {
    throw new CacheConfigError(`${name}: "freshness" must be "response" or "ttl", got ${JSON.stringify(options.freshness)}`);
  }
  const customKey = keyOption(name, options.key, false);
  const cache = cacheOption(name, options.cache);
  const methods = new Set(headerList(name, "methods", options.methods ?? ["GET"], false).map((m) => m.toUpperCase()));
  const optionVary = [...new Set(headerList(name, "vary", options.vary ?? [], true).map((v) => v.toLowerCase()))].sort();
  const credentials = options.credentials ?? "bypass";
  if (credentials !== "bypass" && credentials !== "share") {
    throw new CacheConfigError(`${name}: "credentials" must be "bypass" or "share", got ${JSON.stringify(credentials)}`);
  }
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
  if (typeof maxBodyBytes !== "number" || !(maxBodyBytes >= 0) || (maxBodyBytes !== Number.POSITIVE_INFINITY && !Number.isSafeInteger(maxBodyBytes))) {
    throw new CacheConfigError(`${name}: "maxBodyBytes" must be an integer >= 0 or Infinity, got ${String(maxBodyBytes)}`);
  }
  const inflight = new Map<string, Promise<Computed | undefined>>();
  /** Entry keys being refreshed in the background by this process. */
  const refreshing = new Set<string>();
  /** Where background refreshes report errors (as the strategies' background work does). */
  const report = stateOf(cache, name);

  /** The policy of a stored entry. */
  const policy = (entry: Entry): Policy => policyOf(entry.status, lookupOf(entry.headers), fallback, override, entry.at);

  /** How long to keep a response stored (ms): fresh, then stale while it may still serve or be revalidated. */
  const keepFor = (p: Policy, age: number, validator: boolean): number =>
    p.lifetime - age + Math.max(p.staleWhileRevalidate, p.staleIfError, validator ? fallback : 0);

  /** The hit headers of `entry` served from `key` now. */
  const served = (key: string, entry: Entry): [string, string][] => {
    const age = entry.age + (Date.now() - entry.at);
    return hitHeaders(key, age, policy(entry).lifetime - age);
  };

  /**
   * How the request's credentials stand: `"personal"` (they bypass the cache), `"authorized"`
   * (an `Authorization` the cache may serve only responses that allow sharing for) or undefined.
   */
  const credentialsOf = (c: Context): "personal" | "authorized" | undefined => {
    if (credentials === "share") return undefined;
    if (c.req.header("cookie") !== undefined && !optionVary.includes("cookie")) return "personal";
    if (c.req.header("authorization") !== undefined && !optionVary.includes("authorization")) return "authorized";
    return undefined;
  };

  /**
   * The vary index last seen per base key, bounded: a varying hit then reads the index and its
   * variant in one round trip (the index read alongside tells whether the guess held).
   */
  const indexes = new Map<string, VaryIndex>();
  const remember = (base: string, index: VaryIndex | undefined): void => {
    indexes.delete(base);
    if (index === undefined) return;
    if (indexes.size >= KNOWN_INDEXES) indexes.delete(indexes.keys().next().value!);
    indexes.set(base, index);
  };

  /** The stored entry for this request (if any), and the vary index its variants are under. */
  async function lookup(base: string, c: Context): Promise<{ found?: Found; index?: VaryIndex }> {
    const guess = indexes.get(base);
    let value: unknown;
    if (guess !== undefined) {
      const key = variantKey(base, guess.gen, variantId(guess.vary, c));
      const [index, entry] = await cache.getMany([base, key]);
      if (isIndex(index) && index.gen === guess.gen && sameList(index.vary, guess.vary)) {
        return isEntry(entry) ? { found: { key, entry, index }, index } : { index };
      }
      value = index;
    } else value = await cache.get(base);
    if (isEntry(value) || !isIndex(value)) {
      remember(base, undefined);
      return isEntry(value) ? { found: { key: base, entry: value } } : {};
    }
    remember(base, value);
    const key = variantKey(base, value.gen, variantId(value.vary, c));
    const entry = await cache.get(key);
    return isEntry(entry) ? { found: { key, entry, index: value }, index: value } : { index: value };
  }

  /**
   * Removes the entries (every variant: a new vary index orphans the old ones) of the request's
   * URL and of a same-origin `Location` / `Content-Location` of its response (RFC 9111 §4.4).
   */
  async function invalidate(c: Context): Promise<void> {
    const self = new URL(c.req.url);
    const targets = [self];
    for (const header of ["location", "content-location"]) {
      const value = c.res.headers.get(header);
      if (value === null) continue;
      try {
        const url = new URL(value, self);
        if (url.origin === self.origin) targets.push(url);
      } catch {
        // Not a URL: nothing to invalidate.
      }
    }
    const keys = targets.map((url) => defaultKey(url, "GET"));
    for (const key of keys) remember(key, undefined);
    await cache.deleteMany(keys);
  }

  /**
   * Runs the handler and stores what may be stored (with `store`). For a GET it asks for the
   * complete response (the client's conditionals and `Range` are answered here) and, when
   * revalidating `x.stale`, sends its validators: a 304 freshens it, and a 5xx within
   * `stale-if-error` is answered with it. Undefined when the handler's response goes out as it is.
   */
  async function compute(x: Exchange, store: boolean): Promise<Computed | undefined> {
    const { c, stale } = x;
    const raw = c.req.raw;
    if (raw.method === "GET") {
      const headers = new Headers(raw.headers);
      if (store) for (const header of ["if-none-match", "if-modified-since", "range", "if-range"]) headers.delete(header);
      if (stale !== undefined) {
        const lastModified = lookupOf(stale.entry.headers)("last-modified");
        if (stale.entry.own) headers.set("if-none-match", stale.entry.etag);
        if (lastModified !== null) headers.set("if-modified-since", lastModified);
      }
      c.req.raw = new Request(raw, { headers });
    }
    const requestedAt = Date.now();
    try {
      await proceed(c, x.next);
    } finally {
      c.req.raw = raw;
    }
    const receivedAt = Date.now();
    const res = c.res;
    const fields: HeaderLookup = (header) => res.headers.get(header);

    if (stale !== undefined) {
      if (res.status === 304) return freshen(x, stale, res, requestedAt, receivedAt);
      if (ERRORS.has(res.status)) {
        const p = policy(stale.entry);
        const age = stale.entry.age + (receivedAt - stale.entry.at);
        const window = Math.max(p.staleIfError, x.requested.staleIfError ?? 0);
        if (window > 0 && !p.mustRevalidate && !p.noCache && age - p.lifetime <= window) {
          await res.body?.cancel();
          const vary = stale.index?.vary ?? [];
          return { entry: stale.entry, vary, variant: variantId(vary, c), stored: stale.key, hit: true };
        }
      }
    }
    if (res.bodyUsed || !storable(res.status, fields, x.authorized && !shareable(fields))) return undefined;
    const p = policyOf(res.status, fields, fallback, override, receivedAt);
    const age = initialAge(fields, requestedAt, receivedAt);
    const keep = keepFor(p, age, fields("etag") !== null || fields("last-modified") !== null);
    // Nothing it could ever be served for: already stale (or always revalidated) with no validator nor stale window.
    if ((p.lifetime <= age || p.noCache) && !(keep > 0)) return undefined;
    const length = res.headers.get("content-length");
    if (length !== null && /^\d+$/.test(length.trim()) && Number(length) > maxBodyBytes) return undefined;
    const body = await readBody(c, res, maxBodyBytes);
    if (body === undefined) return undefined;
    const drop = new Set([...NOT_STORED, ...listNames(res.headers.get("connection")), ...p.unstored]);
    const before = new Map<string, string>();
    for (const [header, value] of x.outer) before.set(header, before.has(header) ? `${before.get(header)}, ${value}` : value);
    const headers = new Headers();
    res.headers.forEach((value, header) => {
      if (!drop.has(header) && before.get(header) !== value) headers.append(header, value);
    });
    const own = listNames(headers.get("vary"));
    // The option's names, those other responses here were stored under (a response that forgets
    // its Vary must not replace their index), and for an encoded body Accept-Encoding (it must not
    // reach a client that did not accept that encoding).
    const wanted = [...optionVary, ...(x.index?.vary ?? []), ...(headers.has("content-encoding") ? ["accept-encoding"] : [])];
    const added = [...new Set(wanted)].filter((header) => !own.includes(header));
    if (added.length > 0) headers.set("vary", [headers.get("vary"), ...added].filter(Boolean).join(", "));
    const handlerEtag = headers.get("etag");
    const etag = handlerEtag === null ? await etagOf(body as Uint8Array<ArrayBuffer>) : quotedEtag(handlerEtag);
    headers.set("etag", etag);
    const pairs: [string, string][] = [];
    headers.forEach((value, header) => void pairs.push([header, value]));
    const entry: Entry = { v: 2, status: res.status, headers: pairs, body, at: receivedAt, age, etag, own: handlerEtag !== null };
    const vary = [...new Set([...own, ...added])].sort();
    const variant = variantId(vary, c);
    if (!store) return { entry, vary, variant };
    return { entry, vary, variant, stored: await put(x, entry, vary, variant, keep) };
  }

  /** Stores `entry` for `keepMs` (`Infinity`: no expiry), under a vary index when it varies; returns its key. */
  async function put(x: Exchange, entry: Entry, vary: string[], variant: string, keepMs: number): Promise<string> {
    const expire = expireOf(keepMs);
    if (vary.length === 0) {
      await cache.setMany([[x.base, entry]], { expire });
      return x.base;
    }
    const index = x.index;
    const next: VaryIndex = index !== undefined && sameList(index.vary, vary) ? index : { v: 2, vary, gen: randomId() };
    remember(x.base, next);
    const key = variantKey(x.base, next.gen, variant);
    // The index lives as long as its longest-lived variant could (ttl: null keeps it forever).
    await cache.setMany([[x.base, next], [key, entry]], { expire });
    return key;
  }

  /** Freshens `stale` with a 304 (RFC 9111 §4.3.4): its headers replace the stored ones; stored again, same key. */
  async function freshen(x: Exchange, stale: Found, res: Response, requestedAt: number, receivedAt: number): Promise<Computed> {
    const update = new Map<string, string>();
    const drop = new Set([...NOT_STORED, ...KEPT_ON_UPDATE, ...listNames(res.headers.get("connection"))]);
    res.headers.forEach((value, header) => {
      if (!drop.has(header)) update.set(header, update.has(header) ? `${update.get(header)}, ${value}` : value);
    });
    const headers: [string, string][] = stale.entry.headers.filter(([header]) => !update.has(header));
    for (const pair of update) headers.push(pair);
    // The 304's own Date and Age date the freshened response; the stored Age never counts twice.
    const fields = lookupOf(headers);
    const dated: HeaderLookup = (header) => res.headers.get(header) ?? (header === "age" ? null : fields(header));
    const entry: Entry = { ...stale.entry, headers, at: receivedAt, age: initialAge(dated, requestedAt, receivedAt) };
    const keep = keepFor(policy(entry), entry.age, true);
    await cache.setMany([[stale.key, entry]], { expire: expireOf(keep) });
    const vary = stale.index?.vary ?? [];
    return { entry, vary, variant: variantId(vary, x.c), stored: stale.key, hit: true };
  }

  /**
   * Refreshes `stale` once this request's response is out: one refresh per entry here, and one
   * per lock across processes sharing the backend. The work goes to the request's `waitUntil`
   * where there is one; its errors are reported as the cache's `error` events.
   */
  function refreshLater(x: Exchange, stale: Found): void {
    if (refreshing.has(stale.key)) return;
    refreshing.add(stale.key);
    const { c } = x;
    const lock = `${stale.key}:refresh`;
    const token = randomId();
    const task = (async () => {
      // After the middleware chain has returned this request's response (a macrotask later), the
      // handler runs again on its context: Hono no longer reads that context's response.
      await new Promise((resolve) => setTimeout(resolve, 0));
      // A store without locks (Workers KV, the Cache API) refuses setLock: refresh without the
      // cross-process lock then (one refresh per process, as `early` does).
      const locked = await cache.setLock(lock, token, REFRESH_LOCK_MS).catch((error: unknown) => {
        if (error instanceof CacheCapabilityError) return undefined;
        throw error;
      });
      if (locked === false) return;
      try {
        c.res = undefined;
        c.finalized = false;
        const computed = await compute({ ...x, stale, index: stale.index }, true);
        if (computed === undefined) await c.res.body?.cancel();
      } finally {
        if (locked) await cache.unlock(lock, token);
      }
    })().finally(() => refreshing.delete(stale.key));
    inBackground(c, report, task);
  }

  return async function cacheResponseMiddleware(c, next) {
    const method = c.req.method;
    const head = method === "HEAD";
    const cached = head ? "GET" : method;
    if (!methods.has(cached)) {
      await proceed(c, next);
      if (!SAFE.has(method) && customKey === undefined && c.res.status >= 200 && c.res.status < 400) await invalidate(c);
      return;
    }
    const requested = requestDirectives(c.req.header("cache-control"), c.req.header("pragma"));
    const asked: Asked =
      cached === "GET"
        ? { ifNoneMatch: c.req.header("if-none-match"), ifModifiedSince: c.req.header("if-modified-since"), range: c.req.header("range"), ifRange: c.req.header("if-range") }
        : {};
    const who = credentialsOf(c);
    const bypass = requested.noStore || who === "personal";
    // HEAD reads entries but never writes one nor leads a computation: its handler may send no body.
    const write = !bypass && !head;
    // Nothing to store and no If-None-Match to answer: the response goes through untouched (streamed).
    if (bypass && (head || asked.ifNoneMatch === undefined)) return void (await proceed(c, next));
    const base = customKey === undefined ? defaultKey(new URL(c.req.url), cached) : await keyOf(name, customKey, c);
    const x: Exchange = { c, next, base, outer: outerHeaders(c), requested, authorized: who === "authorized" };

    let settle: ((computed: Computed | undefined) => void) | undefined;
    let flight: string | undefined;
    if (!bypass) {
      const { found, index } = await lookup(base, c);
      x.index = index;
      if (found !== undefined) {
        const entry = found.entry;
        const p = policy(entry);
        const age = entry.age + (Date.now() - entry.at);
        const freshLeft = p.lifetime - age;
        const acceptable =
          (!x.authorized || shareable(lookupOf(entry.headers))) &&
          !requested.noCache &&
          !p.noCache &&
          (requested.maxAge === undefined || age <= requested.maxAge) &&
          (requested.minFresh === undefined || freshLeft >= requested.minFresh);
        const staleOk = !p.mustRevalidate && requested.maxStale !== undefined && -freshLeft <= requested.maxStale;
        if (acceptable && (freshLeft > 0 || staleOk)) return deliver(c, respond(entry, asked, hitHeaders(found.key, age, freshLeft)), x.outer);
        if (acceptable && !head && !p.mustRevalidate && p.staleWhileRevalidate > 0 && -freshLeft <= p.staleWhileRevalidate) {
          deliver(c, respond(entry, asked, hitHeaders(found.key, age, freshLeft)), x.outer);
          return refreshLater(x, found);
        }
        x.stale = found;
      }
      if (requested.onlyIfCached) return void replace(c, new Response(null, { status: 504 }));
      // Single flight: join a computation of the same variant already under way here.
      const id = `${base}\n${variantId(index?.vary ?? optionVary, c)}`;
      const pending = inflight.get(id);
      if (pending !== undefined) {
        const shared = await pending;
        if (shared !== undefined && variantId(shared.vary, c) === shared.variant) {
          return deliver(c, respond(shared.entry, asked, shared.stored === undefined ? [] : served(shared.stored, shared.entry)), x.outer);
        }
      } else if (write) {
        flight = id;
        inflight.set(id, new Promise<Computed | undefined>((resolve) => (settle = resolve)));
      }
    }
    if (head) return void (await proceed(c, next));

    let computed: Computed | undefined;
    try {
      computed = await compute(x, write);
    } finally {
      if (flight !== undefined) inflight.delete(flight);
      settle?.(computed);
    }
    if (computed === undefined) return;
    const { entry } = computed;
    // A response just received carries its upstream age (RFC 9111 §5.1) once that is a second or more.
    const extra: [string, string][] = computed.hit ? served(computed.stored!, entry) : entry.age >= 1000 ? [["age", ageHeader(entry.age + (Date.now() - entry.at))]] : [];
    deliver(c, respond(entry, asked, extra), x.outer);
  };
}

/** The default key: `response:<METHOD>:<path>[?<sorted query>]`. */
function defaultKey(url: URL, method: string): string {
  const params = [...url.searchParams].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const query = new URLSearchParams(params).toString();
  return `response:${method}:${url.pathname}${query === "" ? "" : `?${query}`}`;
}

/** Validates a list of HTTP tokens (methods, header names). */
function headerList(middleware: string, option: string, value: unknown, allowEmpty: boolean): string[] {
  const valid = (v: unknown): boolean => typeof v === "string" && TOKEN.test(v) && v !== "*";
  if (!Array.isArray(value) || (!allowEmpty && value.length === 0) || !value.every(valid)) {
    const what = option === "methods" ? "HTTP method names" : "request header names";
    throw new CacheConfigError(`${middleware}: "${option}" must be ${allowEmpty ? "an" : "a non-empty"} array of ${what}, got ${JSON.stringify(value)}`);
  }
  return value as string[];
}
