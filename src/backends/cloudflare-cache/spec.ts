/**
 * The `cloudflare-cache://[name]` scheme (the Cloudflare Workers Cache API): its options, checked at
 * `setup` without creating the backend, its capabilities (exact expiry, nothing else), and the
 * error for what it cannot do.
 *
 * No `node:*` import, no I/O: this runs in the core's `setup`, on Workers.
 * @module
 */
import type { SchemeSpec } from "../../config/registry.js";
import { failer, parseBackendUrl } from "../../config/url.js";
import { capabilityError, type BackendCapabilities } from "../capabilities.js";
import type { BackendConfig } from "../types.js";
import type { CacheConfigError } from "../../errors.js";
import { localOption } from "../../config/local.js";

/**
 * The part of a Cache API `Cache` the backend uses: `match`, `put` and `delete` by URL. The
 * Workers `Cache` (`caches.default`, `await caches.open(name)`) and the standard `Cache` fit it.
 * @example
 * const cache: CacheLike = caches.default;
 * await cache.put("https://example.com/k", new Response("v", { headers: { "cache-control": "max-age=60" } }));
 */
export interface CacheLike {
  /** The stored response for `url`, or `undefined`. */
  match(url: string): Promise<Response | undefined>;
  /** Stores `response` under `url` (a GET request for it). */
  put(url: string, response: Response): Promise<void>;
  /** Deletes the response stored under `url`; resolves whether there was one. */
  delete(url: string): Promise<boolean>;
}

/**
 * The part of a `CacheStorage` (the global `caches`) the backend uses: `open(name)`, and on Workers
 * `default`. Pass one as the `caches` option outside Workers (tests, another runtime's Cache API).
 * @example
 * const storage: CacheStorageLike = caches; // on Workers
 * cache.setup("cloudflare-cache://pages", { caches: storage });
 */
export interface CacheStorageLike {
  /** The Workers default cache (`caches.default`); absent on runtimes that only have named caches. */
  readonly default?: CacheLike;
  /** Opens (creating if need be) the cache called `name`. */
  open(name: string): Promise<CacheLike>;
}

/**
 * The origin of the synthetic URLs keys are stored under when no `origin` is given. A reserved
 * name (`.internal`) that belongs to nobody; in production pass your Worker's own hostname as
 * `origin` (Cloudflare advises cache requests to use the hostname the Worker serves).
 * @example
 * cache.setup("cloudflare-cache://"); // keys stored as `${DEFAULT_ORIGIN}/cashews/<key>`
 */
export const DEFAULT_ORIGIN = "https://cashews.internal";

/**
 * The path segment keys are stored under when no `namespace` is given.
 * @example
 * cache.setup("cloudflare-cache://", { namespace: DEFAULT_NAMESPACE }); // the default
 */
export const DEFAULT_NAMESPACE = "cashews";

/**
 * Why the Cache API lacks what it lacks, in every {@link CacheCapabilityError} of this backend.
 * @example
 * console.log(CACHE_API_LIMITS); // "the Cache API is a per-location cache with no listing and no atomic operations"
 */
export const CACHE_API_LIMITS = "the Cache API is a per-location cache with no listing and no atomic operations";

/**
 * What `cloudflare-cache://` can do: entries read as missing from the millisecond they expire
 * (the expiry travels with the entry), and nothing else: no atomic read-modify-write, no lock, no
 * listing, and each data centre has its own cache (no consistency across locations).
 * @example
 * CLOUDFLARE_CACHE_CAPABILITIES.exactExpiry; // true
 * CLOUDFLARE_CACHE_CAPABILITIES.listing;     // false
 */
export const CLOUDFLARE_CACHE_CAPABILITIES: Readonly<BackendCapabilities> = Object.freeze({
  atomic: false,
  locks: false,
  listing: false,
  exactExpiry: true,
  strongConsistency: false,
});

/**
 * The {@link CacheCapabilityError} for `command`, which needs `capability`.
 * @example
 * throw refuseCloudflareCache("atomic", "incr");
 */
export function refuseCloudflareCache(capability: keyof BackendCapabilities, command: string): Error {
  return capabilityError("cloudflare-cache", capability, command, CACHE_API_LIMITS);
}

/** What a `cloudflare-cache://` setup resolves to (see {@link resolveCloudflareCache}). */
export interface CloudflareCacheTarget {
  /** The named cache (`caches.open(name)`), or `undefined` for `caches.default`. */
  name: string | undefined;
  /** Where the caches come from: the `caches` option, else the global `caches`. */
  caches: CacheStorageLike;
  /** `scheme://host[:port]` of the synthetic key URLs, without a trailing slash. */
  origin: string;
  /** The first path segment of the key URLs (`""`: keys directly under the origin). */
  namespace: string;
}

const fail = failer("cloudflare-cache");

const isFunction = (value: unknown): boolean => typeof value === "function";

/**
 * Resolves and checks a `cloudflare-cache://[name]` setup: the cache name from the URL, the
 * CacheStorage (the `caches` option, else the global `caches` of Workers), the `origin` and the
 * `namespace` of the key URLs.
 * @param url The setup URL without its query string.
 * @param options The converted scheme options (`caches`, `origin`, `namespace`).
 * @throws {CacheConfigError} A bad URL or origin, no CacheStorage (not on Workers and no `caches`
 * option), or a storage without `default` for `cloudflare-cache://`.
 * @example
 * resolveCloudflareCache("cloudflare-cache://pages", { caches });
 * // { name: "pages", caches, origin: "https://cashews.internal", namespace: "cashews" }
 */
export function resolveCloudflareCache(url: string, options: Record<string, unknown>): CloudflareCacheTarget {
  const match = /^cloudflare-cache:\/\//i.exec(url) ?? fail(`${JSON.stringify(url)} is not a cloudflare-cache:// URL`);
  const rest = url.slice(match[0].length);
  if (/[?#]/.test(rest)) fail(`pass options as an object, not in the URL (${JSON.stringify(url)})`);
  if (rest.includes("/")) {
    fail(`the URL is cloudflare-cache:// (caches.default) or cloudflare-cache://NAME (caches.open(NAME)), without a path; got ${JSON.stringify(url)}`);
  }
  let name: string | undefined;
  if (rest !== "") {
    try {
      name = decodeURIComponent(rest);
    } catch (cause) {
      fail(`the cache name in ${JSON.stringify(url)} is not valid percent-encoding`, { cause });
    }
  }

  const given = options.caches;
  const storage = (given ?? (globalThis as { caches?: unknown }).caches) as CacheStorageLike | undefined;
  if (storage === undefined || storage === null) {
    fail(
      "there is no global `caches` here: this backend runs on Cloudflare Workers (the Cache API); elsewhere pass a CacheStorage as setup(url, { caches })",
    );
  }
  const from = given === undefined ? "the global `caches`" : 'option "caches"';
  if (typeof storage !== "object" || !isFunction((storage as CacheStorageLike).open)) fail(`${from} must be a CacheStorage (with open(name))`);
  if (name === undefined) {
    const fallback = (storage as CacheStorageLike).default;
    if (typeof fallback !== "object" || fallback === null || !isFunction(fallback.match) || !isFunction(fallback.put) || !isFunction(fallback.delete)) {
      fail(`${from} has no Workers default cache (caches.default): name a cache, e.g. "cloudflare-cache://pages"`);
    }
  }

  const originText = (options.origin as string | undefined) ?? DEFAULT_ORIGIN;
  const parsed = parseBackendUrl(fail, originText);
  if (!/^https?:$/.test(parsed.protocol)) fail(`option "origin" must be an http:// or https:// origin, got ${JSON.stringify(originText)}`);
  if (parsed.username || parsed.password || parsed.pathname !== "/" || originText.replace(/\/$/, "") !== parsed.origin) {
    fail(`option "origin" must be an origin alone (scheme and host, e.g. "https://example.com"), got ${JSON.stringify(originText)}`);
  }
  const namespace = (options.namespace as string | undefined) ?? DEFAULT_NAMESPACE;
  return { name, caches: storage as CacheStorageLike, origin: parsed.origin, namespace };
}

/**
 * Options of `cloudflare-cache://` (plus the common ones: `prefix`, `enable`, `secret`, `safe`,
 * `timeout` (a bound on each Cache API call; none by default), `serializer`):
 *
 * - `caches`: the CacheStorage to use instead of the global `caches` of Workers (tests, another
 *   runtime with the Cache API: then name a cache, `cloudflare-cache://NAME`).
 * - `origin` (default {@link DEFAULT_ORIGIN}): the scheme and host of the synthetic URLs entries are
 *   stored under; on a deployed Worker, your Worker's own hostname (e.g. `"https://api.example.com"`).
 * - `namespace` (default `"cashews"`): the first path segment of those URLs, so that the entries
 *   never meet other users of the same cache; `""` puts keys directly under the origin.
 *
 * `validate` finds the CacheStorage and checks the URL and the origin at `setup`.
 * @example
 * cloudflareCacheSpec.schemes;              // ["cloudflare-cache"]
 * Object.keys(cloudflareCacheSpec.options); // ["caches", "origin", "namespace"]
 */
export const cloudflareCacheSpec: Omit<SchemeSpec, "module"> = {
  // A local tier in front (`local`): no long-lived channel in Workers, so its ttl is the staleness bound.
  local: localOption,
  schemes: ["cloudflare-cache"],
  options: {
    caches: { kind: "object" },
    origin: { kind: "string" },
    namespace: { kind: "string", default: DEFAULT_NAMESPACE },
  },
  validate(config: BackendConfig): void {
    resolveCloudflareCache(config.url, config.options);
  },
  capabilities: CLOUDFLARE_CACHE_CAPABILITIES,
  refuse: refuseCloudflareCache,
};
