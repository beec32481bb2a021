/**
 * The {@link cacheResponse} middleware: whole-response HTTP caching with `ETag` / `304`, request
 * `Cache-Control` and `Vary`.
 * @module
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import type { CoreCache } from "../presets/core-cache.js";
import type { Duration } from "../durations.js";
import { CacheConfigError } from "../errors.js";
import { bytesToBase64Url } from "../base64.js";
import { sha256 } from "../keys/hash.js";
import { checkOptions, requiredTtl } from "../options.js";
import { proceed } from "./context.js";
import { asHeaderValue, seconds } from "./headers.js";
import { cacheOption, keyOf, keyOption, type ContextKey } from "./options.js";

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

/** `Cache-Control` directives, lowercased names, unquoted values (the first occurrence wins). */
function directives(header: string | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (name === "" || out.has(name)) continue;
    let value = eq < 0 ? "" : part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out.set(name, value);
  }
  return out;
}

/** Header names listed in a `Vary` (or `Connection`) value, lowercased. */
function names(header: string | null | undefined): string[] {
  if (!header) return [];
  return header
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== "");
}

/** Options of {@link cacheResponse}. */
export interface CacheResponseOptions {
  /**
   * How long a response is kept (required): a Duration such as `"30s"`, or `null` for no expiry.
   * A response's own `Cache-Control: s-maxage` (else `max-age`) shortens it.
   */
  ttl: Duration | null;
  /**
   * The cache key of a request (may be async, e.g. to hash `await c.req.text()` for POST).
   * Default: `response:<METHOD>:<path>[?<query>]`, the query's parameters sorted by name (the
   * order of repeated ones kept) and re-encoded, so `?b=2&a=1` and `?a=1&b=%32` share an entry;
   * `HEAD` uses the `GET` entry. The host is not part of it: add it in a key function when one
   * app serves several hosts. A custom key is used as is (no prefix, no method); it does not
   * change who may share an entry (see `credentials`).
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
   * header; `"share"` serves and stores them like any other request: only for responses that do
   * not depend on who asks (e.g. a site whose every browser request carries analytics cookies).
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
  v: 1;
  status: number;
  /** Lowercased names; repeated headers combined with `", "` (Set-Cookie is never stored). */
  headers: [string, string][];
  body: Uint8Array;
  /** `Date.now()` when stored (for request `max-age` and `Age`). */
  storedAt: number;
  /** The `ETag` sent with it (quoted). */
  etag: string;
}

/** Stored under the base key when responses vary: the sorted request header names they vary on. */
interface VaryIndex {
  v: 1;
  vary: string[];
}

interface Computed {
  entry: Entry;
  /** The sorted header names it varies on. */
  vary: string[];
  /** {@link variantId} of the request that produced it. */
  variant: string;
  /** Where it was stored and for how long (ms; null: no expiry); undefined when not stored. */
  stored?: { key: string; expire: number | null };
}

const isEntry = (value: unknown): value is Entry => {
  const e = value as Entry | null;
  return (
    typeof e === "object" &&
    e !== null &&
    e.v === 1 &&
    Number.isInteger(e.status) &&
    Array.isArray(e.headers) &&
    e.body instanceof Uint8Array &&
    typeof e.storedAt === "number" &&
    typeof e.etag === "string"
  );
};

const isIndex = (value: unknown): value is VaryIndex => {
  const i = value as VaryIndex | null;
  return typeof i === "object" && i !== null && i.v === 1 && Array.isArray(i.vary) && i.vary.every((n) => typeof n === "string");
};

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Statuses whose responses have no body (`new Response(body, { status })` rejects one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** Response headers never stored nor replayed: hop-by-hop, recomputed, or about this request only. */
const NOT_STORED = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "content-length",
  "set-cookie",
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
const KEPT_ON_304 = new Set(["cache-control", "content-location", "date", "etag", "expires", "vary", "age", "x-from-cache", "x-from-cache-expire-in"]);

/** Default of `maxBodyBytes`: 1 MiB. */
const MAX_BODY_BYTES = 1_048_576;

/** A request header value for variant selection: absent → null, list whitespace normalised. */
const headerValue = (c: Context, name: string): string | null => {
  const value = c.req.header(name);
  return value === undefined ? null : value.trim().replace(/\s*,\s*/g, ",");
};

/** Identifies the variant of the request for the header names `vary` (names and values). */
const variantId = (vary: readonly string[], c: Context): string => JSON.stringify(vary.map((name) => [name, headerValue(c, name)]));

/** The key of one variant: `<base>:vary:<sha-256 of the header names and values, 128 bits hex>`. */
const variantKey = (base: string, variant: string): string => `${base}:vary:${sha256(variant).slice(0, 32)}`;

/** A strong ETag: the SHA-256 of the body, base64url, quoted. */
async function etagOf(body: Uint8Array<ArrayBuffer>): Promise<string> {
  return `"${bytesToBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", body)))}"`;
}

/** A handler's ETag as a valid entity tag: an unquoted `abc` becomes `"abc"`; a quoted or `W/"…"` one is kept. */
const quotedEtag = (etag: string): string => (/^(W\/)?"[^"]*"$/.test(etag) ? etag : `"${etag.replace(/"/g, "")}"`);

/** The opaque tags of an `If-None-Match` list (weak comparison: `W/` dropped); `*` alone matches any. */
function ifNoneMatch(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  const own = etag.replace(/^W\//, "");
  for (const match of header.matchAll(/(?:W\/)?("[^"]*")/g)) if (match[1] === own) return true;
  // A bare tag (clients echoing an unquoted ETag as they got it).
  return header.split(",").some((tag) => `"${tag.trim().replace(/^W\//, "")}"` === own);
}

/** The response for `entry`: a 304 when `conditional` (a GET's If-None-Match) matches its ETag. */
function respond(entry: Entry, conditional: string | undefined, extra: [string, string][]): Response {
  const notModified = conditional !== undefined && ifNoneMatch(conditional, entry.etag);
  const headers = new Headers();
  for (const [name, value] of entry.headers) if (!notModified || KEPT_ON_304.has(name)) trySet(headers, name, value, true);
  for (const [name, value] of extra) trySet(headers, name, asHeaderValue(value));
  if (notModified) return new Response(null, { status: 304, headers });
  return new Response(NULL_BODY.has(entry.status) ? null : (entry.body as Uint8Array<ArrayBuffer>), { status: entry.status, headers });
}

/** `X-From-Cache`, `Age` and `X-From-Cache-Expire-In` for an entry served from `key`. */
function hitHeaders(key: string, storedAt: number, expireMs: number): [string, string][] {
  const extra: [string, string][] = [
    ["x-from-cache", key],
    ["age", String(Math.floor(Math.max(0, Date.now() - storedAt) / 1000))],
  ];
  if (expireMs > 0) extra.push(["x-from-cache-expire-in", String(seconds(expireMs))]);
  return extra;
}

/**
 * True for a response that may be stored: 2xx but 206, body not already read, no Set-Cookie,
 * not `private`/`no-store`/`no-cache`, not `Vary: *`, not an event stream.
 */
function storable(res: Response): boolean {
  if (res.status < 200 || res.status > 299 || res.status === 206 || res.bodyUsed) return false;
  const headers = res.headers;
  if (headers.has("set-cookie")) return false;
  const cc = directives(headers.get("cache-control"));
  if (cc.has("private") || cc.has("no-store") || cc.has("no-cache")) return false;
  if (names(headers.get("vary")).includes("*")) return false;
  return !(headers.get("content-type") ?? "").toLowerCase().startsWith("text/event-stream");
}

/** The response's own lifetime for a shared cache in ms (`s-maxage`, else `max-age`), if it gives one. */
function lifetimeOf(res: Response): number | undefined {
  const cc = directives(res.headers.get("cache-control"));
  const value = cc.get("s-maxage") ?? cc.get("max-age");
  return value !== undefined && /^\d+$/.test(value) ? Number(value) * 1000 : undefined;
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
 * Caches whole responses (status, headers, body) in a cashews backend. Only successful responses
 * are stored: 2xx except 206, without `Set-Cookie`, without `Cache-Control: private`, `no-store`
 * or `no-cache` (nor `max-age=0`/`s-maxage=0`), without `Vary: *`, not `text/event-stream`, and
 * with a body of at most `maxBodyBytes` (default 1 MiB; a larger one is streamed through). The
 * stored TTL is `ttl`, shortened by the response's `s-maxage` (else `max-age`).
 *
 * - Hits carry `X-From-Cache` (the key the entry is stored under), `X-From-Cache-Expire-In`
 *   (seconds left; absent with `ttl: null`) and `Age` (seconds since stored); so do concurrent
 *   requests served the response another one computed. In `X-From-Cache`, characters outside
 *   printable ASCII (e.g. non-ASCII or a newline in a custom key) are percent-encoded (UTF-8).
 * - Every cacheable response, hit or not, carries a strong `ETag` (the handler's own if it set
 *   one, quoted if it was not, else the SHA-256 of the body, base64url); a GET/HEAD whose
 *   `If-None-Match` matches it (a list, `*`, `W/` ignored: weak comparison) gets a `304` without
 *   body, keeping `ETag`, `Cache-Control`, `Vary`, `Date`, `Expires`, `Content-Location`.
 * - Request `Cache-Control`: `no-cache` (or `Pragma: no-cache`) recomputes and stores;
 *   `no-store` neither reads nor writes; `max-age=N` serves only entries stored at most N
 *   seconds ago (else recomputes and stores).
 * - `Vary`: the request headers named by the response's `Vary` and by the `vary` option select
 *   the entry. The base key then holds `{ vary: [names] }` and each variant is stored under
 *   `<key>:vary:<hash of those header values>`; `Vary: *` is never stored.
 * - A request with credentials (`Authorization` or `Cookie`) bypasses the cache (as `no-store`)
 *   unless `vary` lists that header (one entry per value) or `credentials: "share"` is given: one
 *   user's response is never served to another by default, whatever the `key`.
 * - `HEAD` is answered from the `GET` entry but never stores one (its handler may send no body).
 * - Requests that will not be stored (bypassed, `no-store`, `HEAD` misses) without an
 *   `If-None-Match` to answer get the handler's response untouched (streamed, no `ETag`).
 * - Concurrent misses of the same variant in one process run the handler once (the others get
 *   its response); a response that turns out not cacheable lets each of them run its own.
 * - The stored headers are those the handler produced: not those an outer middleware set before
 *   `next()` (compared by value; they are per request, and added again, fresh, to every
 *   response), nor hop-by-hop ones, `Content-Length`, `Age`, `X-From-Cache*`, `RateLimit-*` and
 *   `Retry-After`. Headers an outer middleware sets after `next()` are never seen here.
 * - Safe mode: a failing backend is a miss and a skipped write; the handler's response goes
 *   through. With `safe: false` the backend error propagates.
 *
 * Bad options throw {@link CacheConfigError} here, not at request time.
 * @example
 * app.get("/users/:id", cacheResponse({ ttl: "5m", vary: ["accept-language"] }), (c) => c.json(user(c.req.param("id"))));
 * app.post("/search", cacheResponse({ ttl: "1m", methods: ["POST"], key: async (c) => `search:${await c.req.text()}` }), search);
 */
export function cacheResponse(options: CacheResponseOptions): MiddlewareHandler {
  const name = "cacheResponse";
  checkOptions(name, options, ["ttl", "key", "cache", "methods", "vary", "credentials", "maxBodyBytes"]);
  const ttl = requiredTtl(name, options.ttl) ?? null;
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

  /** True when the request carries credentials that the entry does not vary on (and they are not shared). */
  const personal = (c: Context): boolean =>
    credentials === "bypass" &&
    ((c.req.header("authorization") !== undefined && !optionVary.includes("authorization")) ||
      (c.req.header("cookie") !== undefined && !optionVary.includes("cookie")));

  /** Reads an entry and its remaining TTL in one round trip. */
  const read = (key: string): Promise<[unknown, number]> => Promise.all([cache.get(key), cache.getExpire(key)]);

  /** The stored entry for this request (if any), and the header names its variants are known to vary on. */
  async function lookup(base: string, c: Context): Promise<{ found?: { key: string; entry: Entry; expireMs: number }; vary: string[] }> {
    let vary = optionVary;
    if (vary.length === 0) {
      const [value, expireMs] = await read(base);
      if (isEntry(value)) return { found: { key: base, entry: value, expireMs }, vary };
      if (!isIndex(value)) return { vary };
      vary = value.vary;
    } else {
      // The usual case needs one round trip: the index and the variant for the option's names.
      const key = variantKey(base, variantId(vary, c));
      const [[index, value], expireMs] = await Promise.all([cache.getMany([base, key]), cache.getExpire(key)]);
      if (!isIndex(index)) return { vary };
      if (sameList(index.vary, vary)) return isEntry(value) ? { found: { key, entry: value, expireMs }, vary } : { vary };
      vary = index.vary;
    }
    const key = variantKey(base, variantId(vary, c));
    const [value, expireMs] = await read(key);
    return isEntry(value) ? { found: { key, entry: value, expireMs }, vary } : { vary };
  }

  /** Runs the handler; for a cacheable response builds (and with `store`, stores) its entry. */
  async function compute(c: Context, next: Next, base: string, store: boolean, outer: readonly [string, string][], known: readonly string[]): Promise<Computed | undefined> {
    await proceed(c, next);
    const res = c.res;
    if (!storable(res)) return undefined;
    const lifetime = lifetimeOf(res);
    if (lifetime === 0) return undefined;
    const length = res.headers.get("content-length");
    if (length !== null && /^\d+$/.test(length.trim()) && Number(length) > maxBodyBytes) return undefined;
    const body = await readBody(c, res, maxBodyBytes);
    if (body === undefined) return undefined;
    const drop = new Set([...NOT_STORED, ...names(res.headers.get("connection"))]);
    const before = new Map<string, string>();
    for (const [header, value] of outer) before.set(header, before.has(header) ? `${before.get(header)}, ${value}` : value);
    const headers = new Headers();
    res.headers.forEach((value, header) => {
      if (!drop.has(header) && before.get(header) !== value) headers.append(header, value);
    });
    const own = names(headers.get("vary"));
    // The option's names, those other responses here were stored under (a response that forgets
    // its Vary must not replace their index), and for an encoded body Accept-Encoding (it must not
    // reach a client that did not accept that encoding).
    const wanted = [...known, ...(headers.has("content-encoding") ? ["accept-encoding"] : [])];
    const added = [...new Set(wanted)].filter((header) => !own.includes(header));
    if (added.length > 0) headers.set("vary", [headers.get("vary"), ...added].filter(Boolean).join(", "));
    let etag = headers.get("etag");
    if (etag === null) etag = await etagOf(body as Uint8Array<ArrayBuffer>);
    else etag = quotedEtag(etag);
    headers.set("etag", etag);
    const pairs: [string, string][] = [];
    headers.forEach((value, header) => void pairs.push([header, value]));
    const entry: Entry = { v: 1, status: res.status, headers: pairs, body, storedAt: Date.now(), etag };
    const vary = [...new Set([...own, ...added])].sort();
    const variant = variantId(vary, c);
    if (!store) return { entry, vary, variant };
    const expire = lifetime === undefined ? ttl : ttl === null ? lifetime : Math.min(ttl, lifetime);
    const key = vary.length === 0 ? base : variantKey(base, variant);
    if (vary.length === 0) await cache.setMany([[base, entry]], { expire });
    else await cache.setMany([[base, { v: 1, vary } satisfies VaryIndex], [key, entry]], { expire });
    return { entry, vary, variant, stored: { key, expire } };
  }

  return async function cacheResponseMiddleware(c, next) {
    const head = c.req.method === "HEAD";
    const method = head ? "GET" : c.req.method;
    if (!methods.has(method)) return void (await proceed(c, next));
    const requested = directives(c.req.header("cache-control") ?? (/no-cache/i.test(c.req.header("pragma") ?? "") ? "no-cache" : undefined));
    const conditional = method === "GET" ? c.req.header("if-none-match") : undefined;
    const bypass = requested.has("no-store") || personal(c);
    // HEAD reads entries but never writes one nor leads a computation: its handler may send no body.
    const write = !bypass && !head;
    // Nothing to store and no If-None-Match to answer: the response goes through untouched (streamed).
    if (bypass && (head || conditional === undefined)) return void (await proceed(c, next));
    const base = customKey === undefined ? defaultKey(c, method) : await keyOf(name, customKey, c);
    const outer = outerHeaders(c);

    let settle: ((computed: Computed | undefined) => void) | undefined;
    let flight: string | undefined;
    let known: readonly string[] = optionVary;
    if (!bypass && !requested.has("no-cache")) {
      const maxAge = requested.get("max-age");
      const oldest = maxAge !== undefined && /^\d+$/.test(maxAge) ? Date.now() - Number(maxAge) * 1000 : Number.NEGATIVE_INFINITY;
      const { found, vary } = await lookup(base, c);
      known = vary;
      if (found !== undefined && found.entry.storedAt >= oldest) {
        return deliver(c, respond(found.entry, conditional, hitHeaders(found.key, found.entry.storedAt, found.expireMs)), outer);
      }
      // Single flight: join a computation of the same variant already under way here.
      const id = `${base}\n${variantId(vary, c)}`;
      const pending = inflight.get(id);
      if (pending !== undefined) {
        const shared = await pending;
        if (shared !== undefined && variantId(shared.vary, c) === shared.variant) {
          const { stored, entry } = shared;
          const extra = stored === undefined ? [] : hitHeaders(stored.key, entry.storedAt, stored.expire === null ? 0 : Math.max(1, stored.expire - (Date.now() - entry.storedAt)));
          return deliver(c, respond(entry, conditional, extra), outer);
        }
      } else if (write) {
        flight = id;
        inflight.set(id, new Promise<Computed | undefined>((resolve) => (settle = resolve)));
      }
    }
    if (head) return void (await proceed(c, next));

    let computed: Computed | undefined;
    try {
      computed = await compute(c, next, base, write, outer, known);
    } finally {
      if (flight !== undefined) inflight.delete(flight);
      settle?.(computed);
    }
    if (computed !== undefined) deliver(c, respond(computed.entry, conditional, []), outer);
  };
}

/** The default key: `response:<METHOD>:<path>[?<sorted query>]`. */
function defaultKey(c: Context, method: string): string {
  const url = new URL(c.req.url);
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
