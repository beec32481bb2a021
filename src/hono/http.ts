/**
 * HTTP caching semantics for {@link cacheResponse} (RFC 9111, with RFC 9110 conditionals and
 * ranges, RFC 5861 stale directives and RFC 9213 targeted fields): pure functions over header
 * values and times, no I/O. Times are milliseconds (`Date.now()` scale); lifetimes and ages too.
 * @internal
 * @module
 */

/** `Cache-Control` directives: lowercased names to values (`""` when a directive has none). */
export type Directives = ReadonlyMap<string, string>;

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses a `Cache-Control` value (RFC 9111 §5.2): comma-separated `name[=token|quoted-string]`.
 * Names are lowercased; the first occurrence of a directive wins (§4.2.1 allows it); quoted
 * values are unescaped, so a comma inside quotes does not split. A malformed member is skipped
 * up to the next comma (its name is not recorded), so it can never set a directive by accident.
 */
export function parseDirectives(header: string | null | undefined): Directives {
  const out = new Map<string, string>();
  if (!header) return out;
  let at = 0;
  const n = header.length;
  while (at < n) {
    while (at < n && (header[at] === " " || header[at] === "\t" || header[at] === ",")) at++;
    const start = at;
    while (at < n && TOKEN_CHAR.test(header[at]!)) at++;
    const name = header.slice(start, at).toLowerCase();
    let value = "";
    let ok = name !== "";
    if (header[at] === "=") {
      at++;
      if (header[at] === '"') {
        at++;
        let text = "";
        let closed = false;
        while (at < n) {
          const ch = header[at++]!;
          if (ch === "\\" && at < n) text += header[at++];
          else if (ch === '"') {
            closed = true;
            break;
          } else text += ch;
        }
        ok &&= closed;
        value = text;
      } else {
        const from = at;
        while (at < n && TOKEN_CHAR.test(header[at]!)) at++;
        value = header.slice(from, at);
        ok &&= value !== "";
      }
    }
    while (at < n && (header[at] === " " || header[at] === "\t")) at++;
    if (at < n && header[at] !== ",") {
      ok = false;
      // Skip the rest of the malformed member, quoted strings included.
      let quoted = false;
      while (at < n && (quoted || header[at] !== ",")) {
        if (header[at] === '"') quoted = !quoted;
        else if (header[at] === "\\" && quoted) at++;
        at++;
      }
    }
    if (ok && !out.has(name)) out.set(name, value);
  }
  return out;
}

/** Largest delta-seconds a cache must handle (RFC 9111 §1.2.2): larger values mean this one. */
const MAX_DELTA = 2_147_483_648;

/**
 * A `delta-seconds` value in ms: digits only (leading zeros allowed), capped at 2^31 s.
 * `undefined` when the value is invalid (negative, decimal, quoted junk, empty).
 */
export function deltaMs(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Math.min(Number(value), MAX_DELTA) * 1000;
}

/** An HTTP-date (IMF-fixdate, RFC 850 or asctime) in ms, or `undefined` when it does not parse. */
export function parseDate(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  // Only date-shaped text: `Date.parse` would also take "0" or "2020" as a year.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Status codes a cache may store with heuristic freshness (RFC 9110 §15.1). */
const HEURISTIC = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]);

/** Status codes whose caching semantics this cache implements (for `must-understand`). */
const UNDERSTOOD = new Set([200, 203, 204, 300, 301, 302, 303, 307, 308, 400, 403, 404, 405, 410, 414, 451, 500, 501, 502, 503, 504]);

/**
 * Fields targeted at this cache (RFC 9213), most specific first: when one is present, its
 * directives replace `Cache-Control` and `Expires` for this cache.
 */
const TARGETED_FIELDS = ["cloudflare-cdn-cache-control", "cdn-cache-control"] as const;

/** Read access to a response's header fields (lowercase names; repeated fields joined with ", "). */
export type HeaderLookup = (name: string) => string | null;

/** Read access to stored header pairs, as a {@link HeaderLookup}. */
export function lookupOf(pairs: readonly (readonly [string, string])[]): HeaderLookup {
  return (name) => {
    let value: string | null = null;
    for (const [n, v] of pairs) if (n === name) value = value === null ? v : `${value}, ${v}`;
    return value;
  };
}

/** How a stored response may be used, from its status, headers and times (RFC 9111 §4.2). */
export interface Policy {
  /** Freshness lifetime in ms (`Infinity`: never stale). */
  lifetime: number;
  /** The response gave its own freshness (a targeted field, `s-maxage`, `max-age` or `Expires`). */
  explicit: boolean;
  /** `no-cache`: every use needs a successful revalidation. */
  noCache: boolean;
  /** `must-revalidate`, `proxy-revalidate` or `s-maxage`: never served stale. */
  mustRevalidate: boolean;
  /** `stale-while-revalidate` window in ms (0: none). */
  staleWhileRevalidate: number;
  /** `stale-if-error` window in ms (0: none). */
  staleIfError: number;
  /** Header names a qualified `no-cache="…"` or `private="…"` keeps out of the stored response. */
  unstored: string[];
}

/** The directives that govern this cache: the first targeted field present, else `Cache-Control`. */
export function governing(headers: HeaderLookup): { directives: Directives; targeted: boolean } {
  for (const field of TARGETED_FIELDS) {
    const value = headers(field);
    if (value !== null) {
      const directives = parseDirectives(value);
      if (directives.size > 0) return { directives, targeted: true };
    }
  }
  return { directives: parseDirectives(headers("cache-control")), targeted: false };
}

/** Header names in a qualified directive value (`no-cache="set-cookie, x-a"`). */
const fieldNames = (value: string | undefined): string[] =>
  value ? value.split(",").map((name) => name.trim().toLowerCase()).filter((name) => name !== "") : [];

/**
 * The {@link Policy} of a response.
 * @param fallback lifetime (ms, `Infinity` for none) where the response states no freshness and
 *   its status allows heuristic freshness; also the lifetime of every response when `override`.
 * @param receivedAt when the response was received (its `Date` when it has none or an invalid one).
 */
export function policyOf(status: number, headers: HeaderLookup, fallback: number, override: boolean, receivedAt: number): Policy {
  const { directives: cc, targeted } = governing(headers);
  const sharedMax = cc.get("s-maxage");
  const policy: Policy = {
    lifetime: 0,
    explicit: false,
    noCache: !override && cc.has("no-cache") && cc.get("no-cache") === "",
    mustRevalidate: !override && (cc.has("must-revalidate") || cc.has("proxy-revalidate") || sharedMax !== undefined),
    staleWhileRevalidate: deltaMs(cc.get("stale-while-revalidate")) ?? 0,
    staleIfError: deltaMs(cc.get("stale-if-error")) ?? 0,
    unstored: [...fieldNames(cc.get("no-cache")), ...fieldNames(cc.get("private"))],
  };
  if (override) {
    policy.lifetime = fallback;
    return policy;
  }
  if (!targeted && sharedMax !== undefined) {
    policy.explicit = true;
    policy.lifetime = deltaMs(sharedMax) ?? 0;
  } else if (cc.has("max-age")) {
    policy.explicit = true;
    policy.lifetime = deltaMs(cc.get("max-age")) ?? 0;
  } else if (!targeted && headers("expires") !== null) {
    policy.explicit = true;
    const expires = parseDate(headers("expires"));
    const date = parseDate(headers("date")) ?? receivedAt;
    policy.lifetime = expires === undefined ? 0 : Math.max(0, expires - date);
  } else if (HEURISTIC.has(status) || cc.has("public")) {
    policy.lifetime = fallback;
  }
  return policy;
}

/**
 * True when a response may be stored (RFC 9111 §3); `authorized`: the request carried
 * `Authorization` and the response is not {@link shareable}, so it may not. A response with
 * `Set-Cookie` is never stored (a deliberate deviation: one user's cookie must not reach another).
 */
export function storable(status: number, headers: HeaderLookup, authorized: boolean): boolean {
  if (status < 200 || status === 206 || status === 304 || authorized) return false;
  const { directives: cc, targeted } = governing(headers);
  if (cc.has("must-understand")) {
    if (!UNDERSTOOD.has(status) && !HEURISTIC.has(status)) return false;
  } else if (cc.has("no-store")) return false;
  if (cc.get("private") === "") return false;
  if (headers("set-cookie") !== null || headers("set-cookie2") !== null) return false;
  if (listNames(headers("vary")).includes("*")) return false;
  if ((headers("content-type") ?? "").toLowerCase().startsWith("text/event-stream")) return false;
  // Explicit freshness, or a status (or `public`) that allows heuristic freshness.
  return cc.has("max-age") || (!targeted && (cc.has("s-maxage") || headers("expires") !== null)) || HEURISTIC.has(status) || cc.has("public");
}

/**
 * True when a response may be shared with requests that carry `Authorization` (RFC 9111 §3.5):
 * it says `public`, `s-maxage` or `must-revalidate` (in `Cache-Control`: targeted fields are
 * about freshness here, not about who may see the response).
 */
export function shareable(headers: HeaderLookup): boolean {
  const cc = parseDirectives(headers("cache-control"));
  return cc.has("public") || cc.has("s-maxage") || cc.has("must-revalidate");
}

/** Header names listed in a `Vary` or `Connection` value, lowercased. */
export function listNames(header: string | null | undefined): string[] {
  if (!header) return [];
  return header
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== "");
}

/**
 * The corrected initial age of a response in ms (RFC 9111 §4.2.3): its `Age` plus the time it
 * took to arrive, or how old its `Date` says it is, whichever is more. An `Age` that is not a
 * single non-negative integer makes the response stale (`Infinity`).
 */
export function initialAge(headers: HeaderLookup, requestedAt: number, receivedAt: number): number {
  const age = headers("age");
  let ageValue = 0;
  if (age !== null) {
    if (!/^\s*\d+\s*$/.test(age)) return Number.POSITIVE_INFINITY;
    ageValue = Math.min(Number(age), MAX_DELTA) * 1000;
  }
  const date = parseDate(headers("date"));
  const apparent = date === undefined ? 0 : Math.max(0, receivedAt - date);
  return Math.max(apparent, ageValue + Math.max(0, receivedAt - requestedAt));
}

/** The value of an `Age` header for a current age in ms. */
export const ageHeader = (ageMs: number): string => String(Math.floor(Math.min(ageMs, MAX_DELTA * 1000) / 1000));

/**
 * Headers of a `304` that must not replace the stored ones (RFC 9111 §3.2 and what caches
 * agree on): the body's framing and identity stay those of the stored body.
 */
export const KEPT_ON_UPDATE = new Set(["content-encoding", "content-length", "content-md5", "content-range", "etag"]);

/** Request directives that matter to a cache (RFC 9111 §5.2.1), with `Pragma: no-cache` (§5.4). */
export interface RequestDirectives {
  noStore: boolean;
  noCache: boolean;
  onlyIfCached: boolean;
  /** `max-age` in ms (the oldest response the client accepts). */
  maxAge?: number;
  /** `max-stale` in ms (`Infinity` for a bare `max-stale`). */
  maxStale?: number;
  /** `min-fresh` in ms. */
  minFresh?: number;
  /** `stale-if-error` in ms. */
  staleIfError?: number;
}

/** The cache directives of a request. */
export function requestDirectives(cacheControl: string | undefined, pragma: string | undefined): RequestDirectives {
  const cc = parseDirectives(cacheControl);
  const maxStale = cc.get("max-stale");
  return {
    noStore: cc.has("no-store"),
    noCache: cc.has("no-cache") || (cacheControl === undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(pragma ?? "")),
    onlyIfCached: cc.has("only-if-cached"),
    maxAge: cc.has("max-age") ? (deltaMs(cc.get("max-age")) ?? 0) : undefined,
    maxStale: maxStale === undefined ? undefined : maxStale === "" ? Number.POSITIVE_INFINITY : deltaMs(maxStale),
    minFresh: deltaMs(cc.get("min-fresh")),
    staleIfError: deltaMs(cc.get("stale-if-error")),
  };
}

/**
 * A single byte range of a representation `size` bytes long (RFC 9110 §14.1.2): `[start, end]`
 * inclusive; `"unsatisfiable"`; or `undefined` when the header is not one range this cache
 * answers (then the whole representation is sent, as a server may do).
 */
export function byteRange(header: string, size: number): [number, number] | "unsatisfiable" | undefined {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (match === null) return undefined;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === "") {
    if (last === "") return undefined;
    const suffix = Number(last);
    if (suffix === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== "" && Number(last) < start) return undefined;
  if (start >= size) return "unsatisfiable";
  return [start, end];
}

/**
 * True when an `If-None-Match` value matches `etag` (weak comparison, RFC 9110 §13.1.2): `*`,
 * or a listed tag equal to it with `W/` ignored. A bare tag (a client echoing an unquoted
 * `ETag`) is taken as quoted.
 */
export function matchesEtag(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  const own = etag.replace(/^W\//, "");
  for (const match of header.matchAll(/(?:W\/)?("[^"]*")/g)) if (match[1] === own) return true;
  return header.split(",").some((tag) => `"${tag.trim().replace(/^W\//, "")}"` === own);
}
