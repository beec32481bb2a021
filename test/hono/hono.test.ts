// cashews/hono on a real Hono app (`app.request`), against every backend: whole-response caching
// (hits, binary bodies, what is never stored, request Cache-Control, ETag / 304, Vary, single
// flight), rate limits (fixed, sliding), cacheDetectHeaders, waitUntil, safe mode, config errors.
import { createHash, randomUUID } from "node:crypto";
import { Hono, type Context } from "hono";
import { cors } from "hono/cors";
import { describe, expect, inject, it } from "vitest";
import { Cache, CacheConfigError, type CacheEventInfo } from "../../src/index.js";
import { cacheContext, cacheDetectHeaders, cacheResponse, rateLimit } from "../../src/hono/index.js";
import { useTarget, useTargetCache, type ConformanceTarget } from "../../src/testing/target.js";
import { upstashTarget } from "../support/backends.js";
import { freePort } from "../support/redis-server.js";

const redisUrl = inject("redisUrl");
const RUN = randomUUID().slice(0, 8);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const targets: ConformanceTarget[] = [
  { name: "mem://", url: () => "mem://" },
  { name: "mem:// (serialize)", url: () => "mem://?serialize=1" },
  { name: "redis://", url: () => redisUrl, options: { namespace: `hono-${RUN}` } },
  { name: "redis:// (secret)", url: () => redisUrl, options: { namespace: `hono-s-${RUN}`, secret: "s3cret" } },
  { name: "upstash://", ...upstashTarget(redisUrl, { namespace: `hono-up-${RUN}` }) },
];

/** Every byte value, then bytes that are not valid UTF-8. */
const BINARY = new Uint8Array([...Array.from({ length: 256 }, (_, i) => i), 0xff, 0xfe, 0xc3, 0x28, 0x80, 0x00]);

/** The strong ETag the middleware must compute: SHA-256 of the body, base64url, quoted (computed here with node:crypto). */
const etagOf = (bytes: Uint8Array | string): string => `"${createHash("sha256").update(bytes).digest("base64url")}"`;

/** Headers without the ones that differ between a miss and a hit by design. */
function replayed(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (!["x-from-cache", "x-from-cache-expire-in", "age", "content-length"].includes(name)) out[name] = value;
  });
  return out;
}

const bytes = async (res: Response): Promise<Uint8Array> => new Uint8Array(await res.arrayBuffer());

for (const target of targets) {
  describe.skipIf(!target.url())(`cashews/hono on ${target.name}`, () => {
    let cache: Cache;
    const errors = useTargetCache(useTarget(target), `hono ${target.name}`, (c) => (cache = c), { noErrors: true });

    /** An app whose routes count handler calls in `calls`. */
    function counted(): { app: Hono; calls: Record<string, number>; count: (c: Context) => number } {
      const calls: Record<string, number> = {};
      const count = (c: Context): number => (calls[c.req.path] = (calls[c.req.path] ?? 0) + 1);
      return { app: new Hono(), calls, count };
    }

    describe("cacheResponse", () => {
      it("serves the second request from cache: same status, headers and binary body byte-exact", async () => {
        const { app, calls, count } = counted();
        app.get("/bin", cacheResponse({ ttl: "1m", cache }), (c) => {
          count(c);
          // 201 is stored only with explicit freshness (RFC 9111 §3): max-age gives it.
          return c.body(BINARY.slice(), 201, { "content-type": "application/octet-stream", "x-custom": "a, b", "cache-control": "max-age=60" });
        });

        const first = await app.request("/bin");
        expect(first.status).toBe(201);
        expect(first.headers.get("x-from-cache")).toBeNull();
        expect(first.headers.get("etag")).toBe(etagOf(BINARY));
        const firstBody = await bytes(first);
        expect(firstBody).toEqual(BINARY);

        const second = await app.request("/bin");
        expect(second.status).toBe(201);
        expect(second.headers.get("x-from-cache")).toBe("response:GET:/bin");
        const expireIn = Number(second.headers.get("x-from-cache-expire-in"));
        expect(expireIn).toBeGreaterThan(0);
        expect(expireIn).toBeLessThanOrEqual(60);
        expect(Number(second.headers.get("age"))).toBeGreaterThanOrEqual(0);
        expect(replayed(second)).toEqual(replayed(first));
        expect(await bytes(second)).toEqual(BINARY);
        expect(calls["/bin"]).toBe(1);
      });

      it("normalises the query in the default key (parameter order, encoding) but keeps it significant", async () => {
        const { app, calls, count } = counted();
        app.get("/q", cacheResponse({ ttl: "1m", cache }), (c) => c.text(`${count(c)}:${c.req.query("a")}`));
        expect(await (await app.request("/q?b=2&a=1")).text()).toBe("1:1");
        const again = await app.request("/q?a=%31&b=2");
        expect(again.headers.get("x-from-cache")).toBe("response:GET:/q?a=1&b=2");
        expect(await again.text()).toBe("1:1");
        expect(await (await app.request("/q?a=2&b=2")).text()).toBe("2:2");
        expect(await (await app.request("/q")).text()).toBe("3:undefined");
        expect(calls["/q"]).toBe(3);
      });

      it("answers HEAD from the GET entry", async () => {
        const { app, calls, count } = counted();
        app.get("/h", cacheResponse({ ttl: "1m", cache }), (c) => c.text(`v${count(c)}`));
        await app.request("/h");
        const head = await app.request("/h", { method: "HEAD" });
        expect(head.status).toBe(200);
        expect(head.headers.get("x-from-cache")).toBe("response:GET:/h");
        expect(await head.text()).toBe("");
        expect(calls["/h"]).toBe(1);
      });

      it("does not cache 201 without freshness, 5xx, 302, 206, Set-Cookie, Cache-Control private / no-store, Vary: * or event streams", async () => {
        const { app, calls, count } = counted();
        const mw = cacheResponse({ ttl: "1m", cache });
        app.get("/201", mw, (c) => c.text(`created ${count(c)}`, 201));
        app.get("/500", mw, (c) => c.text(`boom ${count(c)}`, 500));
        app.get("/302", mw, (c) => (count(c), c.redirect("/elsewhere")));
        app.get("/206", mw, (c) => c.text(`part ${count(c)}`, 206));
        app.get("/throws", mw, (c) => {
          count(c);
          throw new Error("handler failed");
        });
        app.get("/cookie", mw, (c) => c.text(`c ${count(c)}`, 200, { "set-cookie": "sid=1" }));
        app.get("/private", mw, (c) => c.text(`p ${count(c)}`, 200, { "cache-control": "private, max-age=60" }));
        app.get("/no-store", mw, (c) => c.text(`n ${count(c)}`, 200, { "cache-control": "No-Store" }));
        app.get("/vary-star", mw, (c) => c.text(`v ${count(c)}`, 200, { vary: "*" }));
        app.get("/sse", mw, (c) => c.text(`s ${count(c)}`, 200, { "content-type": "text/event-stream" }));
        const paths = ["/201", "/500", "/302", "/206", "/throws", "/cookie", "/private", "/no-store", "/vary-star", "/sse"];
        for (const path of paths) {
          for (let i = 0; i < 2; i++) {
            const res = await app.request(path);
            expect(res.headers.get("x-from-cache"), path).toBeNull();
            expect(res.headers.get("etag"), path).toBeNull();
            await res.arrayBuffer();
          }
          expect(calls[path], path).toBe(2);
        }
        const cookie = await app.request("/cookie");
        expect(cookie.headers.get("set-cookie")).toBe("sid=1");
        expect(await cache.getKeysCount()).toBe(0);
      });

      it("caches only the listed methods (POST not by default), with a custom key", async () => {
        const { app, calls, count } = counted();
        app.post("/default", cacheResponse({ ttl: "1m", cache }), (c) => c.text(`d${count(c)}`));
        app.post(
          "/search",
          cacheResponse({ ttl: "1m", cache, methods: ["post"], key: async (c) => `search:${await c.req.text()}` }),
          async (c) => c.text(`${count(c)}:${await c.req.text()}`),
        );
        for (let i = 0; i < 2; i++) await app.request("/default", { method: "POST" });
        expect(calls["/default"]).toBe(2);

        const post = (body: string): Promise<Response> => Promise.resolve(app.request("/search", { method: "POST", body }));
        expect(await (await post("cats")).text()).toBe("1:cats");
        const hit = await post("cats");
        expect(hit.headers.get("x-from-cache")).toBe("search:cats");
        expect(await hit.text()).toBe("1:cats");
        expect(await (await post("dogs")).text()).toBe("2:dogs");
        expect(await cache.exists("search:cats")).toBe(true);
      });

      it("uses a custom key function as the key, verbatim", async () => {
        const { app, calls, count } = counted();
        app.get("/items/:id", cacheResponse({ ttl: "1m", cache, key: (c) => `item:${c.req.param("id")}` }), (c) => c.json({ n: count(c) }));
        await app.request("/items/1?ignored=1");
        const hit = await app.request("/items/1?ignored=2");
        expect(hit.headers.get("x-from-cache")).toBe("item:1");
        expect(await hit.json()).toEqual({ n: 1 });
        expect(await cache.exists("item:1")).toBe(true);
        expect(calls["/items/1"]).toBe(1);
      });

      it("request Cache-Control: no-cache recomputes and stores; no-store neither reads nor writes", async () => {
        const { app, calls, count } = counted();
        app.get("/cc", cacheResponse({ ttl: "1m", cache }), (c) => c.text(`v${count(c)}`));
        const get = async (cc?: string): Promise<string> => (await app.request("/cc", cc ? { headers: { "cache-control": cc } } : {})).text();

        expect(await get("no-store")).toBe("v1");
        expect(await cache.exists("response:GET:/cc")).toBe(false);
        expect(await get()).toBe("v2"); // stored
        expect(await get()).toBe("v2");
        expect(await get("no-store")).toBe("v3"); // not read...
        expect(await get()).toBe("v2"); // ...nor written
        expect(await get("no-cache")).toBe("v4"); // recomputed...
        expect(await get()).toBe("v4"); // ...and stored
        const pragma = await app.request("/cc", { headers: { pragma: "no-cache" } });
        expect(await pragma.text()).toBe("v5");
        expect(calls["/cc"]).toBe(5);
      });

      it("request Cache-Control: max-age=N serves only entries stored at most N seconds ago", async () => {
        const { app, count } = counted();
        app.get("/age", cacheResponse({ ttl: "1m", cache }), (c) => c.text(`v${count(c)}`));
        const get = (cc?: string): Promise<Response> => Promise.resolve(app.request("/age", cc ? { headers: { "cache-control": cc } } : {}));
        expect(await (await get()).text()).toBe("v1");
        const young = await get("max-age=60");
        expect(young.headers.get("x-from-cache")).not.toBeNull();
        expect(await young.text()).toBe("v1");
        await sleep(20);
        const stale = await get("max-age=0");
        expect(stale.headers.get("x-from-cache")).toBeNull();
        expect(await stale.text()).toBe("v2");
        expect(await (await get("max-age=60")).text()).toBe("v2"); // the recomputed one was stored
      });

      it("sends a strong ETag and answers a matching If-None-Match with 304, also on the first response", async () => {
        const { app, calls, count } = counted();
        app.get("/e", cacheResponse({ ttl: "1m", cache }), (c) => {
          count(c);
          return c.json({ hello: "world" }, 200, { "cache-control": "public, max-age=30", vary: "Accept-Encoding" });
        });
        const etag = etagOf(JSON.stringify({ hello: "world" }));
        const req = (inm: string): Promise<Response> => Promise.resolve(app.request("/e", { headers: { "if-none-match": inm } }));

        const first = await req(etag); // uncached: computed, stored, answered 304
        expect(first.status).toBe(304);
        expect(first.headers.get("etag")).toBe(etag);
        expect(first.headers.get("x-from-cache")).toBeNull();
        expect(await first.text()).toBe("");
        expect(calls["/e"]).toBe(1);

        for (const inm of [etag, `"nope", ${etag}`, `W/${etag}`, "*", `W/"x",W/${etag}`]) {
          const res = await req(inm);
          expect(res.status, inm).toBe(304);
          expect(await res.text()).toBe("");
          expect(res.headers.get("etag")).toBe(etag);
          expect(res.headers.get("cache-control")).toBe("public, max-age=30");
          expect(res.headers.get("vary")).toBe("Accept-Encoding");
          expect(res.headers.get("content-type")).toBeNull();
          expect(res.headers.get("x-from-cache")).toMatch(/^response:GET:\/e:vary:/); // varies on Accept-Encoding
        }
        const other = await req(`"nope", W/"other"`);
        expect(other.status).toBe(200);
        expect(other.headers.get("etag")).toBe(etag);
        expect(await other.json()).toEqual({ hello: "world" });
        expect(calls["/e"]).toBe(1);
      });

      it("keeps the handler's own ETag and still answers 304 on it", async () => {
        const { app, calls, count } = counted();
        app.get("/own", cacheResponse({ ttl: "1m", cache }), (c) => c.text(`v${count(c)}`, 200, { etag: '"v1"' }));
        app.get("/weak", cacheResponse({ ttl: "1m", cache }), (c) => c.text(`w${count(c)}`, 200, { etag: 'W/"w1"' }));
        expect((await app.request("/own")).headers.get("etag")).toBe('"v1"');
        expect((await app.request("/own", { headers: { "if-none-match": 'W/"v1"' } })).status).toBe(304);
        expect(calls["/own"]).toBe(1);
        // A weak validator of the handler's: weak comparison, so a strong tag of the same value matches.
        expect((await app.request("/weak", { headers: { "if-none-match": '"w1"' } })).status).toBe(304);
        expect((await app.request("/weak", { headers: { "if-none-match": '"w2"' } })).status).toBe(200);
      });

      it("stores one entry per value of the headers named by the response's Vary", async () => {
        const { app, calls, count } = counted();
        app.get("/greet", cacheResponse({ ttl: "1m", cache }), (c) => {
          count(c);
          const hello = c.req.header("accept-language")?.startsWith("fr") ? "bonjour" : "hello";
          return c.text(hello, 200, { vary: "Accept-Language" });
        });
        const get = (lang?: string): Promise<Response> => Promise.resolve(app.request("/greet", lang ? { headers: { "accept-language": lang } } : {}));
        expect(await (await get("en")).text()).toBe("hello");
        expect(await (await get("fr")).text()).toBe("bonjour");
        const en = await get("en");
        const fr = await get("fr");
        expect(await en.text()).toBe("hello");
        expect(await fr.text()).toBe("bonjour");
        expect(en.headers.get("x-from-cache")).toMatch(/^response:GET:\/greet:vary:[\w-]{8}:[0-9a-f]{32}$/);
        expect(fr.headers.get("x-from-cache")).toMatch(/^response:GET:\/greet:vary:[\w-]{8}:[0-9a-f]{32}$/);
        expect(en.headers.get("x-from-cache")).not.toBe(fr.headers.get("x-from-cache"));
        expect(en.headers.get("vary")).toBe("Accept-Language");
        expect(calls["/greet"]).toBe(2);
        expect(await (await get()).text()).toBe("hello"); // no header: a variant of its own
        expect(calls["/greet"]).toBe(3);
        expect(await (await get(" en ")).text()).toBe("hello"); // whitespace normalised: the "en" entry
        expect(calls["/greet"]).toBe(3);
      });

      it("varies on the `vary` option's headers and adds them to the response's Vary", async () => {
        const { app, calls, count } = counted();
        app.get("/t", cacheResponse({ ttl: "1m", cache, vary: ["X-Tenant"] }), (c) => c.text(`${c.req.header("x-tenant")}:${count(c)}`));
        const get = (tenant: string): Promise<Response> => Promise.resolve(app.request("/t", { headers: { "x-tenant": tenant } }));
        const a = await get("a");
        expect(a.headers.get("vary")).toBe("x-tenant");
        expect(await a.text()).toBe("a:1");
        expect(await (await get("b")).text()).toBe("b:2");
        const again = await get("a");
        expect(again.headers.get("x-from-cache")).toMatch(/:vary:/);
        expect(await again.text()).toBe("a:1");
        expect(calls["/t"]).toBe(2);
      });

      it("bypasses the cache for requests with Authorization or Cookie whatever the key; vary or credentials: share opt in", async () => {
        const { app, calls, count } = counted();
        const who = (c: Context): string => `${c.req.header("authorization") ?? c.req.header("cookie")}:${count(c)}`;
        app.get("/me", cacheResponse({ ttl: "1m", cache }), (c) => c.text(who(c)));
        app.get("/keyed", cacheResponse({ ttl: "1m", cache, key: (c) => `acct:${c.req.path}` }), (c) => c.text(who(c)));
        app.get("/me2", cacheResponse({ ttl: "1m", cache, vary: ["authorization"] }), (c) => c.text(who(c)));
        app.get("/jar", cacheResponse({ ttl: "1m", cache, vary: ["cookie"] }), (c) => c.text(who(c)));
        app.get("/shared", cacheResponse({ ttl: "1m", cache, credentials: "share" }), (c) => c.text(`same for all:${count(c)}`));
        const get = (path: string, headers: Record<string, string>): Promise<Response> => Promise.resolve(app.request(path, { headers }));

        for (const path of ["/me", "/keyed"]) {
          for (const header of ["authorization", "cookie"]) {
            expect(await (await get(path, { [header]: "alice" })).text()).toMatch(/^alice:/);
            const bob = await get(path, { [header]: "bob" });
            expect(await bob.text()).toMatch(/^bob:/); // never alice's
            expect(bob.headers.get("x-from-cache")).toBeNull();
            expect(bob.headers.get("etag")).toBeNull(); // nothing to store or answer: passed through untouched
          }
        }
        expect(calls["/me"]).toBe(4);
        expect(calls["/keyed"]).toBe(4);
        expect(await cache.getKeysCount()).toBe(0);

        // vary on the credential header: one entry per user.
        for (const [path, header] of [["/me2", "authorization"], ["/jar", "cookie"]] as const) {
          expect(await (await get(path, { [header]: "alice" })).text()).toBe("alice:1");
          expect(await (await get(path, { [header]: "bob" })).text()).toBe("bob:2");
          expect(await (await get(path, { [header]: "alice" })).text()).toBe("alice:1");
          expect(calls[path]).toBe(2);
        }
        // A Cookie still bypasses an entry that only varies on Authorization.
        expect(await (await get("/me2", { authorization: "alice", cookie: "sid=1" })).text()).toBe("alice:3");

        // credentials: "share": explicitly one entry for everyone.
        expect(await (await get("/shared", { cookie: "_ga=1" })).text()).toBe("same for all:1");
        const shared = await get("/shared", { authorization: "Bearer x" });
        expect(shared.headers.get("x-from-cache")).toBe("response:GET:/shared");
        expect(await shared.text()).toBe("same for all:1");
      });

      it("runs the handler once for concurrent misses of the same key", async () => {
        const { app, calls, count } = counted();
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        app.get("/slow", cacheResponse({ ttl: "1m", cache }), async (c) => {
          const n = count(c);
          await gate;
          return c.text(`v${n}`);
        });
        let misses = 0;
        const off = cache.on("miss", (e) => {
          if (e.key === "response:GET:/slow") misses++;
        });
        const responses = Array.from({ length: 5 }, () => app.request("/slow"));
        // Every request has looked the key up (and so led or joined) before the handler may finish.
        for (let i = 0; misses < 5 && i < 500; i++) await sleep(10);
        await sleep(200);
        off();
        release();
        const all = await Promise.all(responses);
        expect(await Promise.all(all.map((r) => r.text()))).toEqual(["v1", "v1", "v1", "v1", "v1"]);
        expect(calls["/slow"]).toBe(1);
        // The requests that waited for the first one's response say it came from the cache.
        const fromCache = all.map((r) => r.headers.get("x-from-cache"));
        expect(fromCache.filter((h) => h === null)).toHaveLength(1);
        expect(fromCache.filter((h) => h === "response:GET:/slow")).toHaveLength(4);
        for (const r of all.filter((r) => r.headers.get("x-from-cache") !== null)) {
          expect(r.headers.get("age")).toBe("0");
          expect(Number(r.headers.get("x-from-cache-expire-in"))).toBeGreaterThan(55);
        }
      });

      it("does not share a computation across Vary variants", async () => {
        const { app, calls, count } = counted();
        app.get("/lang", cacheResponse({ ttl: "1m", cache }), async (c) => {
          count(c);
          await sleep(50);
          return c.text(c.req.header("accept-language") ?? "-", 200, { vary: "accept-language" });
        });
        await app.request("/lang", { headers: { "accept-language": "en" } }); // index known: en, fr lead their own flights
        await cache.deleteMatch("response:GET:/lang:vary:*");
        const [en, fr] = await Promise.all(["en", "fr"].map((l) => app.request("/lang", { headers: { "accept-language": l } })));
        expect(await en!.text()).toBe("en");
        expect(await fr!.text()).toBe("fr");
        expect(calls["/lang"]).toBe(3);
      });
      it("does not store headers outer middleware set before next(): each request gets its own, also on hits and 304s", async () => {
        const app = new Hono();
        let n = 0;
        app.use("*", async (c, next) => {
          c.header("x-request-id", `req-${++n}`);
          c.header("x-user", c.req.header("x-user") ?? "anon");
          c.header("x-frame", "outer");
          await next();
        });
        app.use("*", cors({ origin: ["https://a.example", "https://b.example"] }));
        app.get("/r", cacheResponse({ ttl: "1m", cache }), (c) => c.text("hello", 200, { "x-handler": "h" }));
        const get = (headers: Record<string, string>): Promise<Response> => Promise.resolve(app.request("/r", { headers }));

        const a = await get({ "x-user": "alice", origin: "https://a.example" });
        expect([a.headers.get("x-request-id"), a.headers.get("x-user"), a.headers.get("access-control-allow-origin")]).toEqual(["req-1", "alice", "https://a.example"]);
        const stored = (await cache.get("response:GET:/r")) as { headers: [string, string][] };
        expect(stored.headers.map(([name]) => name)).toEqual(expect.arrayContaining(["x-handler", "etag", "content-type"]));
        for (const name of ["x-request-id", "x-user", "access-control-allow-origin", "x-frame"]) expect(stored.headers.map(([n]) => n)).not.toContain(name);

        const b = await get({ "x-user": "bob", origin: "https://evil.example" });
        expect(b.headers.get("x-from-cache")).toBe("response:GET:/r");
        expect(await b.text()).toBe("hello");
        expect([b.headers.get("x-request-id"), b.headers.get("x-user"), b.headers.get("x-frame"), b.headers.get("x-handler")]).toEqual(["req-2", "bob", "outer", "h"]);
        expect(b.headers.get("access-control-allow-origin")).toBeNull(); // not alice's origin

        const c304 = await get({ "x-user": "carol", "if-none-match": a.headers.get("etag")! });
        expect(c304.status).toBe(304);
        expect([c304.headers.get("x-request-id"), c304.headers.get("x-user")]).toEqual(["req-3", "carol"]);

        // A header the handler changed is the handler's: stored, and replayed over the outer default.
        const own = new Hono();
        own.use("*", async (c, next) => {
          c.header("x-frame", "outer");
          await next();
        });
        own.get("/o", cacheResponse({ ttl: "1m", cache }), (c) => c.text("o", 200, { "x-frame": "handler" }));
        expect((await own.request("/o")).headers.get("x-frame")).toBe("handler");
        const hit = await own.request("/o");
        expect([hit.headers.get("x-from-cache"), hit.headers.get("x-frame")]).toEqual(["response:GET:/o", "handler"]);
      });

      it("serves hits whose key is not a valid header value: X-From-Cache percent-encoded", async () => {
        const { app, calls, count } = counted();
        app.post("/search", cacheResponse({ ttl: "1m", cache, methods: ["POST"], key: async (c) => `search:${await c.req.text()}` }), async (c) => {
          count(c);
          return c.text(`r:${await c.req.text()}`);
        });
        app.get("/p/:n", cacheResponse({ ttl: "1m", cache, key: (c) => ` p:${c.req.param("n")} ` }), (c) => c.text(`p${count(c)}`));
        const cases: [string, string][] = [
          ["line1\nline2\r\u0000", "search:line1%0Aline2%0D%00"],
          ["日本語", "search:%E6%97%A5%E6%9C%AC%E8%AA%9E"],
          ["José 100%", "search:Jos%C3%A9 100%"],
        ];
        for (const [body, header] of cases) {
          await app.request("/search", { method: "POST", body });
          const hit = await app.request("/search", { method: "POST", body });
          expect(hit.status, body).toBe(200);
          expect(hit.headers.get("x-from-cache")).toBe(header);
          expect(await hit.text()).toBe(`r:${body}`);
        }
        expect(calls["/search"]).toBe(3);
        await app.request(`/p/${encodeURIComponent("日")}`);
        const hit = await app.request(`/p/${encodeURIComponent("日")}`);
        expect(hit.status).toBe(200);
        expect(hit.headers.get("x-from-cache")).toBe("%20p:%E6%97%A5%20"); // spaces at the ends would be trimmed
      });

      it("passes responses that will not be stored through untouched, streaming (no-store, credentials, HEAD misses)", async () => {
        let release!: () => void;
        const app = new Hono();
        const text = new TextEncoder();
        app.get("/s", cacheResponse({ ttl: "1m", cache }), (c) => {
          const gate = new Promise<void>((resolve) => (release = resolve));
          return c.body(
            new ReadableStream<Uint8Array>({
              async start(controller) {
                controller.enqueue(text.encode("a"));
                await gate;
                controller.enqueue(text.encode("b"));
                controller.close();
              },
            }),
            200,
            { "content-type": "application/x-ndjson" },
          );
        });
        for (const headers of [{ "cache-control": "no-store" }, { authorization: "Bearer x" }, { cookie: "sid=1" }] as Record<string, string>[]) {
          for (const method of ["GET", "HEAD"]) {
            const res = await Promise.race([Promise.resolve(app.request("/s", { method, headers })), sleep(2_000).then(() => "timeout" as const)]);
            expect(res, `${method} ${JSON.stringify(headers)}`).not.toBe("timeout"); // before the body is complete
            if (res === "timeout") return;
            expect(res.headers.get("etag")).toBeNull();
            release();
            expect(await res.text()).toBe(method === "HEAD" ? "" : "ab");
          }
        }
        expect(await cache.getKeysCount()).toBe(0);
      });

      it("maxBodyBytes: larger bodies are streamed through whole and not stored (Content-Length or counted)", async () => {
        const { app, calls, count } = counted();
        const mw = cacheResponse({ ttl: "1m", cache, maxBodyBytes: 10 });
        const chunks = (n: number, gate?: Promise<void>): ReadableStream<Uint8Array> =>
          new ReadableStream<Uint8Array>({
            async start(controller) {
              for (let i = 0; i < n; i++) {
                if (i === n - 1 && gate) await gate;
                controller.enqueue(new Uint8Array(8).fill(97 + i));
              }
              controller.close();
            },
          });
        let release!: () => void;
        app.get("/big", mw, (c) => (count(c), c.body(chunks(3, new Promise<void>((resolve) => (release = resolve))))));
        app.get("/length", mw, (c) => (count(c), c.body(chunks(3, new Promise<void>((resolve) => (release = resolve))), 200, { "content-length": "24" })));
        app.get("/small", mw, (c) => c.text(`s${count(c)}`));
        app.get("/edge", mw, (c) => (count(c), c.body(new Uint8Array(10).fill(120))));
        const expected = "a".repeat(8) + "b".repeat(8) + "c".repeat(8);
        for (const path of ["/big", "/length"]) {
          for (let i = 0; i < 2; i++) {
            // Answered before the last chunk exists: beyond the limit it is not buffered.
            const res = await Promise.race([Promise.resolve(app.request(path)), sleep(2_000).then(() => "timeout" as const)]);
            expect(res, path).not.toBe("timeout");
            if (res === "timeout") return;
            release();
            expect(res.headers.get("x-from-cache")).toBeNull();
            expect(await res.text()).toBe(expected); // no byte lost
          }
          expect(calls[path]).toBe(2);
        }
        for (const path of ["/small", "/edge"]) {
          await app.request(path);
          expect((await app.request(path)).headers.get("x-from-cache"), path).toBe(`response:GET:${path}`);
        }
        expect(await cache.getKeysCount()).toBe(2);
        expect(() => cacheResponse({ ttl: "1m", maxBodyBytes: -1 })).toThrow(CacheConfigError);
        expect(() => cacheResponse({ ttl: "1m", maxBodyBytes: Number.POSITIVE_INFINITY })).not.toThrow();
      });

      it("lets a response whose body was already read through, unstored", async () => {
        const app = new Hono();
        app.get("/used", cacheResponse({ ttl: "1m", cache }), async () => {
          const res = new Response("used");
          await res.text();
          return res;
        });
        const res = await app.request("/used");
        expect(res.status).toBe(200);
        expect(res.bodyUsed).toBe(true);
        expect(await cache.getKeysCount()).toBe(0);
      });

      it("HEAD reads the GET entry but never stores one (its handler may send no body)", async () => {
        const { app, calls, count } = counted();
        app.get("/x", cacheResponse({ ttl: "1m", cache }), (c) => {
          count(c);
          return c.req.method === "HEAD" ? c.body(null, 200, { "content-type": "text/plain" }) : c.text("full body");
        });
        const head = await app.request("/x", { method: "HEAD" });
        expect(head.status).toBe(200);
        expect(head.headers.get("x-from-cache")).toBeNull();
        expect(await cache.getKeysCount()).toBe(0);
        expect(await (await app.request("/x")).text()).toBe("full body");
        const hit = await app.request("/x");
        expect([hit.headers.get("x-from-cache"), await hit.text()]).toEqual(["response:GET:/x", "full body"]);
        expect((await app.request("/x", { method: "HEAD" })).headers.get("x-from-cache")).toBe("response:GET:/x");
        expect(calls["/x"]).toBe(2);
      });

      it("follows the response's Cache-Control: s-maxage over max-age, either over ttl; no-cache and max-age=0 without a validator are not stored", async () => {
        const { app, calls, count } = counted();
        const mw = cacheResponse({ ttl: "1m", cache });
        app.get("/short", mw, (c) => c.text(`s${count(c)}`, 200, { "cache-control": "public, max-age=5" }));
        app.get("/shared", mw, (c) => c.text(`d${count(c)}`, 200, { "cache-control": "max-age=600, s-maxage=7" }));
        app.get("/long", mw, (c) => c.text(`l${count(c)}`, 200, { "cache-control": "max-age=3600" }));
        app.get("/no-cache", mw, (c) => c.text(`n${count(c)}`, 200, { "cache-control": "no-cache" }));
        app.get("/zero", mw, (c) => c.text(`z${count(c)}`, 200, { "cache-control": "s-maxage=0, max-age=60" }));
        for (const path of ["/short", "/shared", "/long", "/no-cache", "/zero"]) await app.request(path);
        const left = async (key: string): Promise<number> => cache.getExpire(key);
        expect(await left("response:GET:/short")).toBeGreaterThan(3_000);
        expect(await left("response:GET:/short")).toBeLessThanOrEqual(5_000);
        expect(await left("response:GET:/shared")).toBeLessThanOrEqual(7_000);
        // Explicit freshness wins over ttl, longer too (ttl is for responses that state none).
        expect(await left("response:GET:/long")).toBeLessThanOrEqual(3_600_000);
        expect(await left("response:GET:/long")).toBeGreaterThan(3_500_000);
        for (const path of ["/no-cache", "/zero"]) {
          const again = await app.request(path);
          expect(again.headers.get("x-from-cache"), path).toBeNull();
          expect(calls[path]).toBe(2);
        }
      });

      it("quotes a handler's unquoted ETag and matches it", async () => {
        const app = new Hono();
        app.get("/e", cacheResponse({ ttl: "1m", cache }), (c) => c.text("x", 200, { etag: "abc" }));
        expect((await app.request("/e")).headers.get("etag")).toBe('"abc"');
        expect((await app.request("/e", { headers: { "if-none-match": '"abc"' } })).status).toBe(304);
        expect((await app.request("/e", { headers: { "if-none-match": "abc" } })).status).toBe(304);
        expect((await app.request("/e", { headers: { "if-none-match": "abd" } })).status).toBe(200);
      });

      it("varies an encoded response on Accept-Encoding", async () => {
        const { app, calls, count } = counted();
        app.get("/z", cacheResponse({ ttl: "1m", cache }), (c) => {
          count(c);
          const gzip = (c.req.header("accept-encoding") ?? "").includes("gzip");
          return gzip ? c.body("gzipped-bytes", 200, { "content-encoding": "gzip" }) : c.text("plain");
        });
        const gz = await app.request("/z", { headers: { "accept-encoding": "gzip" } });
        expect(gz.headers.get("vary")).toBe("accept-encoding");
        const plain = await app.request("/z", { headers: { "accept-encoding": "identity" } });
        expect(plain.headers.get("content-encoding")).toBeNull();
        expect(await plain.text()).toBe("plain");
        expect((await app.request("/z", { headers: { "accept-encoding": "gzip" } })).headers.get("x-from-cache")).toMatch(/:vary:/);
        expect(calls["/z"]).toBe(2);
      });
    });

    describe("rateLimit", () => {
      for (const sliding of [false, true]) {
        it(`${sliding ? "sliding" : "fixed"} window: 429 with Retry-After over the limit, RateLimit-* on every response, per key`, async () => {
          const { app, calls, count } = counted();
          app.get("/limited", rateLimit({ limit: 3, period: "1m", sliding, cache, key: (c) => c.req.header("x-client") ?? "anon" }), (c) => {
            count(c);
            return c.text("ok");
          });
          const get = (client: string): Promise<Response> => Promise.resolve(app.request("/limited", { headers: { "x-client": client } }));
          const seen: [number, string | null, string | null][] = [];
          for (let i = 0; i < 5; i++) {
            const res = await get("a");
            seen.push([res.status, res.headers.get("ratelimit-limit"), res.headers.get("ratelimit-remaining")]);
            const reset = Number(res.headers.get("ratelimit-reset"));
            expect(reset).toBeGreaterThan(0);
            expect(reset).toBeLessThanOrEqual(60);
            if (res.status === 429) {
              const retry = Number(res.headers.get("retry-after"));
              expect(retry).toBeGreaterThanOrEqual(1);
              expect(retry).toBeLessThanOrEqual(60);
              expect(await res.text()).toBe("Too Many Requests");
            } else {
              expect(res.headers.get("retry-after")).toBeNull();
            }
          }
          expect(seen).toEqual([
            [200, "3", "2"],
            [200, "3", "1"],
            [200, "3", "0"],
            [429, "3", "0"],
            [429, "3", "0"],
          ]);
          expect(calls["/limited"]).toBe(3);
          const other = await get("b");
          expect(other.status).toBe(200);
          expect(other.headers.get("ratelimit-remaining")).toBe("2");
          // State of its own, apart from the rateLimit/slidingRateLimit strategies' (rate_limit:, srl:).
          const algorithm = sliding ? "sliding" : "fixed";
          const own = cache.limiter({ algorithm, limit: 3, period: "1m", prefix: sliding ? "hono_srl" : "hono_rl" });
          const strategies = cache.limiter({ algorithm, limit: 3, period: "1m", prefix: sliding ? "srl" : "rate_limit" });
          expect((await own.getRemaining("a")).remaining).toBe(0);
          expect((await strategies.getRemaining("a")).remaining).toBe(3);
        });
      }

      it("adds the headers to error responses of the handler too", async () => {
        const app = new Hono();
        app.get("/err", rateLimit({ limit: 2, period: "1m", cache, key: () => "err" }), (c) => c.text("no", 500));
        const res = await app.request("/err");
        expect(res.status).toBe(500);
        expect(res.headers.get("ratelimit-remaining")).toBe("1");
      });

      it('headers: "draft" sends RateLimit-Policy and RateLimit for every limit; "both" adds the trio; false none', async () => {
        const app = new Hono();
        const limits = [
          { limit: 2, period: "1s" },
          { limit: 5, period: "1h" },
        ];
        app.get("/d", rateLimit({ algorithm: "sliding", limits, headers: "draft", cache, key: () => "d" }), (c) => c.text("ok"));
        app.get("/b", rateLimit({ limit: 4, period: "1m", headers: "both", cache, key: () => "b" }), (c) => c.text("ok"));
        app.get("/n", rateLimit({ limit: 1, period: "1m", headers: false, cache, key: () => "n" }), (c) => c.text("ok"));
        const first = await app.request("/d");
        expect(first.headers.get("ratelimit-policy")).toBe('"2-per-1s";q=2;w=1, "5-per-3600s";q=5;w=3600');
        expect(first.headers.get("ratelimit")).toMatch(/^"2-per-1s";r=1;t=1, "5-per-3600s";r=4;t=(3600|3599)$/);
        expect(first.headers.get("ratelimit-limit")).toBeNull();
        await app.request("/d");
        const refused = await app.request("/d");
        expect(refused.status).toBe(429);
        expect(refused.headers.get("ratelimit")).toMatch(/^"2-per-1s";r=0;t=1, "5-per-3600s";r=3;t=(3600|3599)$/);
        expect(refused.headers.get("retry-after")).toBe("1");
        const both = await app.request("/b");
        expect([both.headers.get("ratelimit-policy"), both.headers.get("ratelimit-limit"), both.headers.get("ratelimit-remaining")]).toEqual(['"default";q=4;w=60', "4", "3"]);
        expect(both.headers.get("ratelimit")).toMatch(/^"default";r=3;t=(60|59)$/);
        expect((await app.request("/n")).headers.get("ratelimit-limit")).toBeNull();
        const over = await app.request("/n");
        expect([over.status, over.headers.get("retry-after"), over.headers.get("ratelimit-limit")]).toEqual([429, expect.stringMatching(/^(60|59)$/), null]);
      });

      it("a token bucket with a per-request cost: a burst up to the bucket, then refused with the refill time", async () => {
        const app = new Hono();
        app.post("/upload", rateLimit({ algorithm: "tokenBucket", limit: 10, period: "1h", refill: 1, cost: (c) => Number(c.req.header("x-size") ?? "1"), cache, key: () => "u" }), (c) => c.text("ok"));
        const upload = (size: number): Promise<Response> => Promise.resolve(app.request("/upload", { method: "POST", headers: { "x-size": String(size) } }));
        expect((await upload(6)).headers.get("ratelimit-remaining")).toBe("4");
        const big = await upload(5);
        expect(big.status).toBe(429);
        // One token per hour: a whole token is back in an hour (minus the few ms since the burst).
        expect(Number(big.headers.get("retry-after"))).toBeGreaterThan(3500);
        expect(Number(big.headers.get("retry-after"))).toBeLessThanOrEqual(3600);
        expect((await upload(4)).status).toBe(200); // a smaller request still fits
        expect((await upload(1)).status).toBe(429);
      });

      it("refuses contradicting or bad options at creation", () => {
        expect(() => rateLimit({ limit: 1, period: "1m", sliding: true, algorithm: "fixed", cache, key: () => "k" })).toThrow(/contradict/);
        expect(() => rateLimit({ limit: 1, period: "1m", headers: "new" as never, cache, key: () => "k" })).toThrow(/"headers" must be/);
        expect(() => rateLimit({ limit: 1, period: "1m", cost: 0, cache, key: () => "k" })).toThrow(/"cost" must be/);
        expect(() => rateLimit({ limit: 1, limits: [{ limit: 1, period: "1s" }], cache, key: () => "k" } as never)).toThrow(/limiter: give either "limits" or "limit"/);
      });

      it("does not count nor limit CORS preflights", async () => {
        const app = new Hono();
        app.use("/api/*", rateLimit({ limit: 1, period: "1m", cache, key: () => "cors" }));
        app.on(["GET", "OPTIONS"], "/api/x", (c) => c.text("x"));
        const preflight = { method: "OPTIONS", headers: { origin: "https://a.example", "access-control-request-method": "GET" } };
        for (let i = 0; i < 3; i++) {
          const res = await app.request("/api/x", preflight);
          expect(res.status).toBe(200);
          expect(res.headers.get("ratelimit-limit")).toBeNull();
        }
        const get = await app.request("/api/x");
        expect([get.status, get.headers.get("ratelimit-remaining")]).toEqual([200, "0"]);
        expect((await app.request("/api/x", { method: "OPTIONS" })).status).toBe(429); // a plain OPTIONS counts
      });

      it("a fixed window resets once its period is over", async () => {
        const app = new Hono();
        app.get("/w", rateLimit({ limit: 1, period: 300, cache, key: () => "w" }), (c) => c.text("ok"));
        expect((await app.request("/w")).status).toBe(200);
        expect((await app.request("/w")).status).toBe(429);
        await sleep(400);
        expect((await app.request("/w")).status).toBe(200);
      });
    });

    describe("cacheDetectHeaders", () => {
      it("names the decorated calls served from cache while handling the request", async () => {
        let loads = 0;
        const getUser = cache({ ttl: "1m", key: "user:{id}" })(async (id: string) => ({ id, n: ++loads }));
        const getPlan = cache({ ttl: "10s", key: "plan:{id}" })(async (id: string) => ({ plan: id }));
        const app = new Hono();
        app.get("/profile/:id", cacheDetectHeaders({ cache }), async (c) => c.json({ user: await getUser(c.req.param("id")) }));
        app.get("/both/:id", cacheDetectHeaders({ cache }), async (c) => {
          const id = c.req.param("id");
          return c.json({ user: await getUser(id), plan: await getPlan(id) });
        });

        const first = await app.request("/profile/1");
        expect(first.headers.get("x-from-cache")).toBeNull();
        expect(await first.json()).toEqual({ user: { id: "1", n: 1 } });
        const second = await app.request("/profile/1");
        expect(second.headers.get("x-from-cache")).toBe("user:1");
        const left = Number(second.headers.get("x-from-cache-expire-in"));
        expect(left).toBeGreaterThan(10);
        expect(left).toBeLessThanOrEqual(60);
        expect(await second.json()).toEqual({ user: { id: "1", n: 1 } });

        await app.request("/both/1"); // plan:1 computed, user:1 from cache
        const both = await app.request("/both/1");
        expect(both.headers.get("x-from-cache")).toBe("user:1, plan:1");
        const min = Number(both.headers.get("x-from-cache-expire-in"));
        expect(min).toBeGreaterThan(0);
        expect(min).toBeLessThanOrEqual(10); // the stalest part
        expect(loads).toBe(1);
      });
    });
  });
}

describe("cashews/hono without a backend-specific setup", () => {
  it("rejects bad options at creation with CacheConfigError", () => {
    const cache = new Cache("config").setup("mem://");
    const bad: [string, () => unknown][] = [
      ["no options", () => cacheResponse(undefined as never)],
      ["ttl missing", () => cacheResponse({} as never)],
      ["ttl not a duration", () => cacheResponse({ ttl: "soon" })],
      ["ttl 0", () => cacheResponse({ ttl: 0 })],
      ["ttl negative", () => cacheResponse({ ttl: -1 })],
      ["methods a string", () => cacheResponse({ ttl: "1m", methods: "GET" as never })],
      ["methods empty", () => cacheResponse({ ttl: "1m", methods: [] })],
      ["methods not strings", () => cacheResponse({ ttl: "1m", methods: [1] as never })],
      ["vary with a space", () => cacheResponse({ ttl: "1m", vary: ["accept language"] })],
      ["vary *", () => cacheResponse({ ttl: "1m", vary: ["*"] })],
      ["key not a function", () => cacheResponse({ ttl: "1m", key: "k" as never })],
      ["cache not a Cache", () => cacheResponse({ ttl: "1m", cache: {} as never })],
      ["unknown option", () => cacheResponse({ ttl: "1m", tll: 1 } as never)],
      ["limit missing", () => rateLimit({ period: "1m", key: () => "k" } as never)],
      ["limit 0", () => rateLimit({ limit: 0, period: "1m", key: () => "k" })],
      ["limit fractional", () => rateLimit({ limit: 1.5, period: "1m", key: () => "k" })],
      ["period missing", () => rateLimit({ limit: 1, key: () => "k" } as never)],
      ["period bad", () => rateLimit({ limit: 1, period: "1 minute", key: () => "k" })],
      ["rate key missing", () => rateLimit({ limit: 1, period: "1m" } as never)],
      ["sliding not boolean", () => rateLimit({ limit: 1, period: "1m", key: () => "k", sliding: "yes" as never })],
      ["rate cache bad", () => rateLimit({ limit: 1, period: "1m", key: () => "k", cache: null as never })],
      ["detect unknown option", () => cacheDetectHeaders({ cache, ttl: 1 } as never)],
      ["credentials bad", () => cacheResponse({ ttl: "1m", credentials: "yes" as never })],
      ["maxBodyBytes fractional", () => cacheResponse({ ttl: "1m", maxBodyBytes: 1.5 })],
      ["maxBodyBytes a string", () => cacheResponse({ ttl: "1m", maxBodyBytes: "1MB" as never })],
      ["withoutAsyncContext bad", () => cacheDetectHeaders({ withoutAsyncContext: "some" as never })],
    ];
    for (const [what, make] of bad) expect(make, what).toThrow(CacheConfigError);
    expect(() => cacheResponse({ ttl: null, cache, methods: ["GET", "POST"], vary: ["Accept-Language"], key: () => "k" })).not.toThrow();
    expect(() => rateLimit({ limit: 1, period: 1000, key: () => "k", sliding: true, cache })).not.toThrow();
  });

  it("cacheDetectHeaders percent-encodes keys that are not valid header values instead of failing the request", async () => {
    const cache = new Cache("detect-utf8").setup("mem://");
    const getUser = cache({ ttl: "1m", key: "user:{name}" })(async (name: string) => ({ name }));
    const app = new Hono();
    app.get("/u/:name", cacheDetectHeaders({ cache }), async (c) => c.json(await getUser(c.req.param("name"))));
    const path = `/u/${encodeURIComponent("José\n日")}`;
    await app.request(path);
    const hit = await app.request(path);
    expect(hit.status).toBe(200);
    expect(hit.headers.get("x-from-cache")).toBe("user:Jos%C3%A9%0A%E6%97%A5");
    expect(await hit.json()).toEqual({ name: "José\n日" });
    await cache.close();
  });

  it("ttl: null stores without expiry (no X-From-Cache-Expire-In on hits)", async () => {
    const cache = new Cache("forever").setup("mem://");
    const app = new Hono();
    app.get("/f", cacheResponse({ ttl: null, cache }), (c) => c.text("f"));
    await app.request("/f");
    const hit = await app.request("/f");
    expect(hit.headers.get("x-from-cache")).toBe("response:GET:/f");
    expect(hit.headers.get("x-from-cache-expire-in")).toBeNull();
    expect(await cache.getExpire("response:GET:/f")).toBe(-1);
    await cache.close();
  });

  it("a key function that returns no string fails the request, not silently", async () => {
    const cache = new Cache("badkey").setup("mem://");
    const app = new Hono();
    app.get("/k", cacheResponse({ ttl: "1m", cache, key: () => "" }), (c) => c.text("k"));
    app.onError((error, c) => c.text(error.message, 500));
    const res = await app.request("/k");
    expect(res.status).toBe(500);
    expect(await res.text()).toMatch(/non-empty string/);
  });

  it("hands background work to c.executionCtx.waitUntil when the runtime provides one", async () => {
    const cache = new Cache("waituntil").setup("mem://");
    let loads = 0;
    const getFeed = cache.early({ ttl: "1m", earlyTtl: 50, key: "feed:{id}" })(async (id: string) => `${id}:${++loads}`);
    const app = new Hono();
    app.get("/feed/:id", cacheContext(), async (c) => c.text(await getFeed(c.req.param("id"))));
    app.get("/cached/:id", cacheResponse({ ttl: "1m", cache }), async (c) => c.text(await getFeed(c.req.param("id"))));
    app.get("/detect/:id", cacheDetectHeaders({ cache }), async (c) => c.text(await getFeed(c.req.param("id"))));

    const promises: Promise<unknown>[] = [];
    const executionCtx = { waitUntil: (p: Promise<unknown>) => void promises.push(p), passThroughOnException: () => {}, props: {} };

    for (const route of ["feed", "cached", "detect"]) {
      promises.length = 0;
      await cache.clear();
      loads = 0;
      expect(await (await app.request(`/${route}/1`)).text()).toBe("1:1"); // no execution context: no throw
      await sleep(80); // older than earlyTtl: the next hit refreshes in the background
      const res = await app.request(`/${route}/${route === "cached" ? "1?x=1" : "1"}`, {}, {}, executionCtx);
      expect(await res.text(), route).toBe("1:1"); // the cached value, right away
      expect(promises.length, route).toBeGreaterThanOrEqual(1);
      await Promise.all(promises);
      expect(loads, route).toBe(2);
      expect(await getFeed("1")).toBe("1:2");
    }
    await cache.close();
  });

  it("safe mode: with the backend down every middleware still lets the handler's response through", async () => {
    const port = await freePort(); // nothing listens there
    const cache = new Cache("down").setup(`redis://127.0.0.1:${port}`, { timeout: 200, connectTimeout: 200 });
    const errors: CacheEventInfo[] = [];
    cache.on("error", (e) => errors.push(e));
    const getUser = cache({ ttl: "1m", key: "user:{id}" })(async (id: string) => ({ id }));
    let calls = 0;
    const app = new Hono();
    app.get("/r", cacheResponse({ ttl: "1m", cache }), (c) => c.text(`r${++calls}`));
    app.get("/l", rateLimit({ limit: 1, period: "1m", cache, key: () => "x" }), (c) => c.text("l"));
    app.get("/s", rateLimit({ limit: 1, period: "1m", cache, key: () => "x", sliding: true }), (c) => c.text("s"));
    app.get("/d/:id", cacheDetectHeaders({ cache }), async (c) => c.json(await getUser(c.req.param("id"))));

    const started = Date.now();
    for (let i = 1; i <= 2; i++) {
      const r = await app.request("/r");
      expect(r.status).toBe(200);
      expect(await r.text()).toBe(`r${i}`);
      expect(r.headers.get("etag")).not.toBeNull();
      for (const path of ["/l", "/s"]) {
        const res = await app.request(path);
        expect(res.status, path).toBe(200); // fail open: not limited
        expect(res.headers.get("ratelimit-limit")).toBe("1");
        expect(res.headers.get("ratelimit-remaining")).toBeNull();
      }
      const d = await app.request("/d/7");
      expect(await d.json()).toEqual({ id: "7" });
      expect(d.headers.get("x-from-cache")).toBeNull();
    }
    expect(Date.now() - started).toBeLessThan(15_000); // bounded by the timeouts: no hang
    expect(errors.length).toBeGreaterThan(0);
    await cache.close();
  });
});
