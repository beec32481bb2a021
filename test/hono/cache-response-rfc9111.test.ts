// cacheResponse as an RFC 9111 shared cache, on a real Hono app whose handler plays the origin:
// freshness (s-maxage, max-age, Expires, Age, targeted fields, heuristics, invalid values),
// what is stored, revalidation with 304, stale-while-revalidate / stale-if-error, request
// directives, invalidation by unsafe methods, ranges. Staleness comes from the origin's own
// `Age` / `max-age=0`, never from sleeping. The http-cache-tests suite (http-cache-conformance
// test) checks the same end to end; these name each rule and run on memory and Redis.
import { randomUUID } from "node:crypto";
import { Hono, type Context } from "hono";
import { describe, expect, inject, it } from "vitest";
import { Cache } from "../../src/index.js";
import { cacheResponse } from "../../src/hono/index.js";
import { parseDirectives, byteRange, initialAge, deltaMs } from "../../src/hono/http.js";
import { useTarget, useTargetCache, type ConformanceTarget } from "../../src/testing/target.js";
import { registerMapBackend } from "../../runtimes/shared/map-backend.js";

const redisUrl = inject("redisUrl");
const RUN = randomUUID().slice(0, 8);

registerMapBackend();

const targets: ConformanceTarget[] = [
  { name: "mem://", url: () => "mem://" },
  { name: "redis://", url: () => redisUrl, options: { namespace: `rfc-${RUN}` } },
  // A store without locks (as Workers KV and the Cache API): background refreshes go without the
  // cross-process lock.
  { name: "map:// (no locks)", url: () => "map://", options: { namespace: `rfc-${RUN}` } },
];

/** Polls `check` (a generous bound: it only guards against hanging). */
async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

describe("HTTP rules (pure)", () => {
  it("parses Cache-Control: first occurrence wins, quoted values unescaped, malformed members dropped", () => {
    const cc = parseDirectives(`Max-Age=60, max-age=5, ext="a, max-age=1", private="x", no-cache, b@d=1, s-maxage='9'`);
    expect(cc.get("max-age")).toBe("60");
    expect(cc.get("ext")).toBe("a, max-age=1");
    expect(cc.get("private")).toBe("x");
    expect(cc.get("no-cache")).toBe("");
    expect(cc.has("b")).toBe(false);
    expect(deltaMs(cc.get("s-maxage"))).toBeUndefined(); // single quotes are not a quoted-string
    expect(deltaMs("003600")).toBe(3_600_000);
    expect(deltaMs("99999999999")).toBe(2_147_483_648_000);
    expect(deltaMs("-1")).toBeUndefined();
  });

  it("takes the larger of Age plus transit and how old Date says; an invalid Age is stale", () => {
    const at = Date.UTC(2026, 0, 1, 0, 0, 10);
    const headers = (h: Record<string, string>) => (name: string) => h[name] ?? null;
    const date = new Date(at - 10_000).toUTCString();
    expect(initialAge(headers({ age: "30", date }), at - 500, at)).toBe(30_500);
    expect(initialAge(headers({ date }), at, at)).toBe(10_000);
    for (const age of ["abc", "-1", "1.5", "0, 0", "7200;x=1"]) expect(initialAge(headers({ age }), at, at)).toBe(Infinity);
  });

  it("reads one byte range: a-b, a-, -n; unsatisfiable past the end; anything else is the whole", () => {
    expect(byteRange("bytes=0-1", 11)).toEqual([0, 1]);
    expect(byteRange("bytes=5-", 11)).toEqual([5, 10]);
    expect(byteRange("bytes=-3", 11)).toEqual([8, 10]);
    expect(byteRange("bytes=3-100", 11)).toEqual([3, 10]);
    expect(byteRange("bytes=20-", 11)).toBe("unsatisfiable");
    expect(byteRange("bytes=0-1,3-4", 11)).toBeUndefined();
    expect(byteRange("items=0-1", 11)).toBeUndefined();
  });
});

for (const target of targets) {
  describe.skipIf(!target.url())(`cacheResponse (RFC 9111) on ${target.name}`, () => {
    let cache: Cache;
    useTargetCache(useTarget(target), `rfc9111 ${target.name}`, (c) => (cache = c), { noErrors: true });

    /** An app with `cacheResponse(options)` on every route; `origin` answers, counting calls per path. */
    function proxy(origin: (c: Context, n: number) => Response | Promise<Response>, options: Partial<Parameters<typeof cacheResponse>[0]> = {}) {
      const calls: Record<string, number> = {};
      const seen: Request[] = [];
      const app = new Hono();
      app.all("*", cacheResponse({ ttl: "1h", cache, ...options }), (c) => {
        seen.push(c.req.raw);
        calls[c.req.path] = (calls[c.req.path] ?? 0) + 1;
        return origin(c, calls[c.req.path]!);
      });
      return { app, calls, seen };
    }
    const text = (body: string, headers: Record<string, string>, status = 200): Response => new Response(body, { status, headers });

    it("treats a response as stale when Expires is past, Age exceeds max-age, or max-age is invalid", async () => {
      const { app, calls } = proxy((c, n) => {
        const h: Record<string, Record<string, string>> = {
          "/expired": { expires: new Date(Date.now() - 60_000).toUTCString(), date: new Date().toUTCString() },
          "/aged": { "cache-control": "max-age=60", age: "120" },
          "/negative": { "cache-control": "max-age=-1" },
          "/quoted": { "cache-control": "max-age='3600'" },
          "/fresh": { "cache-control": "max-age=60", age: "30" },
        };
        return text(`${c.req.path} ${n}`, h[c.req.path]!);
      });
      for (const path of ["/expired", "/aged", "/negative", "/quoted", "/fresh"]) {
        await app.request(path);
        const again = await app.request(path);
        expect(await again.text(), path).toBe(`${path} ${path === "/fresh" ? 1 : 2}`);
      }
      const hit = await app.request("/fresh");
      expect(Number(hit.headers.get("age"))).toBeGreaterThanOrEqual(30); // upstream Age counts
      expect(Number(hit.headers.get("x-from-cache-expire-in"))).toBeLessThanOrEqual(30);
      expect(calls["/fresh"]).toBe(1);
    });

    it("stores heuristically cacheable statuses for ttl, others only with explicit freshness", async () => {
      const { app, calls } = proxy((c, n) => {
        const [status, cc] = ({ "/404": [404, ""], "/410": [410, ""], "/302": [302, ""], "/500": [500, ""], "/500-fresh": [500, "max-age=60"], "/202": [202, ""] } as Record<string, [number, string]>)[c.req.path]!;
        return text(`${n}`, cc ? { "cache-control": cc } : {}, status);
      });
      for (const [path, stored] of [["/404", true], ["/410", true], ["/302", false], ["/500", false], ["/500-fresh", true], ["/202", false]] as const) {
        await app.request(path);
        await app.request(path);
        expect(calls[path], path).toBe(stored ? 1 : 2);
      }
    });

    it("uses CDN-Cache-Control over Cache-Control, and with freshness: 'ttl' ignores the response's freshness", async () => {
      const targeted = proxy((_c, n) => text(`${n}`, { "cache-control": "no-cache", "cdn-cache-control": "max-age=60" }));
      await targeted.app.request("/t");
      expect(await (await targeted.app.request("/t")).text()).toBe("1");
      const owned = proxy((_c, n) => text(`${n}`, { "cache-control": "max-age=0, must-revalidate" }), { freshness: "ttl" });
      await owned.app.request("/o");
      const hit = await owned.app.request("/o");
      expect(await hit.text()).toBe("1");
      expect(hit.headers.get("cache-control")).toBe("max-age=0, must-revalidate"); // passed on to browsers as is
    });

    it("leaves out headers named by Connection, hop-by-hop ones and no-cache=\"…\" fields", async () => {
      const { app } = proxy(() => text("x", { "cache-control": 'max-age=60, no-cache="x-secret"', connection: "x-hop", "x-hop": "1", "x-secret": "s", "x-kept": "k" }));
      await app.request("/h");
      const hit = await app.request("/h");
      expect(hit.headers.get("x-from-cache")).not.toBeNull();
      expect(hit.headers.get("x-kept")).toBe("k");
      expect(hit.headers.get("x-hop")).toBeNull();
      expect(hit.headers.get("x-secret")).toBeNull();
    });

    it("revalidates a stale entry with the handler's validators; a 304 freshens the stored headers", async () => {
      const { app, calls, seen } = proxy((c, n) => {
        if (n === 1) return text("body", { etag: '"v1"', "last-modified": "Wed, 01 Jan 2020 00:00:00 GMT", "cache-control": "max-age=0", "x-version": "1" });
        expect(c.req.header("if-none-match")).toBe('"v1"');
        expect(c.req.header("if-modified-since")).toBe("Wed, 01 Jan 2020 00:00:00 GMT");
        return new Response(null, { status: 304, headers: { "cache-control": "max-age=60", "x-version": "2" } });
      });
      await app.request("/r");
      const revalidated = await app.request("/r", { headers: { "if-none-match": '"elsewhere"' } });
      expect(revalidated.status).toBe(200);
      expect(await revalidated.text()).toBe("body");
      expect(revalidated.headers.get("x-version")).toBe("2");
      expect(revalidated.headers.get("x-from-cache")).toBe("response:GET:/r");
      expect(seen[1]!.headers.get("if-none-match")).toBe('"v1"'); // the client's own conditional is not forwarded
      const hit = await app.request("/r");
      expect(hit.headers.get("x-version")).toBe("2");
      expect(hit.headers.get("etag")).toBe('"v1"');
      expect(calls["/r"]).toBe(2);
    });

    it("revalidates no-cache responses on every use and never serves must-revalidate stale", async () => {
      const { app, calls } = proxy((c, n) => {
        if (c.req.path === "/nc") return c.req.header("if-none-match") === '"a"' ? new Response(null, { status: 304 }) : text("nc", { etag: '"a"', "cache-control": "no-cache" });
        return text(`mr ${n}`, { etag: `"${n}"`, "cache-control": "max-age=0, must-revalidate" });
      });
      for (let i = 0; i < 3; i++) expect(await (await app.request("/nc")).text()).toBe("nc");
      expect(calls["/nc"]).toBe(3);
      await app.request("/mr");
      expect(await (await app.request("/mr", { headers: { "cache-control": "max-stale=600" } })).text()).toBe("mr 2");
    });

    it("honours request max-age, max-stale, min-fresh, no-cache and only-if-cached", async () => {
      const { app, calls } = proxy((c, n) => text(`${c.req.path} ${n}`, { "cache-control": c.req.path === "/stale" ? "max-age=10" : "max-age=600", age: c.req.path === "/stale" ? "20" : "100", etag: `"${n}"` }));
      await app.request("/a");
      expect(await (await app.request("/a", { headers: { "cache-control": "max-age=50" } })).text()).toBe("/a 2");
      expect(await (await app.request("/a", { headers: { "cache-control": "min-fresh=550" } })).text()).toBe("/a 3");
      expect(await (await app.request("/a", { headers: { "cache-control": "no-cache" } })).text()).toBe("/a 4");
      expect(await (await app.request("/a")).text()).toBe("/a 4");
      await app.request("/stale");
      expect(await (await app.request("/stale", { headers: { "cache-control": "max-stale=60" } })).text()).toBe("/stale 1");
      expect(await (await app.request("/stale", { headers: { "cache-control": "max-stale=5" } })).text()).toBe("/stale 2");
      const missing = await app.request("/never", { headers: { "cache-control": "only-if-cached" } });
      expect(missing.status).toBe(504);
      expect(calls["/never"]).toBeUndefined();
    });

    it("serves stale-while-revalidate at once and refreshes once in the background", async () => {
      const { app, calls } = proxy((_c, n) => text(`v${n}`, { "cache-control": "max-age=0, stale-while-revalidate=600" }));
      expect(await (await app.request("/swr")).text()).toBe("v1");
      const stale = await Promise.all([app.request("/swr"), app.request("/swr"), app.request("/swr")]);
      for (const res of stale) {
        expect(await res.text()).toBe("v1");
        expect(res.headers.get("x-from-cache")).toBe("response:GET:/swr");
      }
      await eventually(() => calls["/swr"] === 2);
      let body = "";
      for (let i = 0; i < 100 && body !== "v2"; i++) {
        body = await (await app.request("/swr", { headers: { "cache-control": "max-stale" } })).text();
        if (body !== "v2") await new Promise((r) => setTimeout(r, 10));
      }
      expect(body).toBe("v2");
    });

    it("refreshes a stale-while-revalidate entry once across two middlewares sharing the backend (as two processes)", async (ctx) => {
      ctx.skip(target.name.includes("no locks"), "no cross-process lock on a store without locks: one refresh per process");
      let calls = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const apps = [0, 1].map(() => {
        const app = new Hono();
        app.get("*", cacheResponse({ ttl: "1h", cache }), async () => {
          calls++;
          if (calls > 1) await gate; // the refresh is still running when the other one looks
          return text(`v${calls}`, { "cache-control": "max-age=0, stale-while-revalidate=600" });
        });
        return app;
      });
      await apps[0]!.request("/shared");
      const stale = await Promise.all([apps[0]!.request("/shared"), apps[1]!.request("/shared")]);
      for (const res of stale) expect(await res.text()).toBe("v1");
      await eventually(() => calls === 2);
      await new Promise((r) => setTimeout(r, 50)); // room for a second refresh, which the lock refuses
      expect(calls).toBe(2);
      release();
    });

    it("serves stale-if-error when the handler fails, and only within the window", async () => {
      const { app } = proxy((c, n) => {
        if (n === 1) return text("good", { "cache-control": c.req.path === "/sie" ? "max-age=0, stale-if-error=600" : "max-age=0", etag: '"g"' });
        if (c.req.path === "/throws") throw new Error("origin down");
        return text("bad", {}, 503);
      });
      await app.request("/sie");
      const rescued = await app.request("/sie");
      expect(rescued.status).toBe(200);
      expect(await rescued.text()).toBe("good");
      await app.request("/plain");
      expect((await app.request("/plain")).status).toBe(503);
      await app.request("/throws");
      expect((await app.request("/throws", { headers: { "cache-control": "stale-if-error=60" } })).status).toBe(200);
    });

    it("invalidates the URL, Location and Content-Location (every variant) on a successful unsafe request", async () => {
      const { app, calls } = proxy((c, n) => {
        if (c.req.method !== "GET") {
          const status = c.req.header("x-fail") ? 500 : 201;
          return text("ok", c.req.method === "POST" ? { location: "/items/2", "content-location": "https://elsewhere.example/items/3" } : {}, status);
        }
        return text(`${c.req.path} ${c.req.header("accept-language")} ${n}`, { "cache-control": "max-age=600", vary: "accept-language" });
      });
      const get = async (path: string, lang: string) => (await app.request(path, { headers: { "accept-language": lang } })).text();
      for (const path of ["/items", "/items/2"]) for (const lang of ["en", "fr"]) await get(path, lang);
      await app.request("/items", { method: "POST", headers: { "x-fail": "1" } }); // fails (call 3): nothing invalidated
      expect(await get("/items", "fr")).toBe("/items fr 2");
      await app.request("/items", { method: "POST" }); // call 4
      expect(await get("/items", "en")).toBe("/items en 5");
      expect(await get("/items", "fr")).toBe("/items fr 6");
      expect(await get("/items/2", "fr")).toBe("/items/2 fr 3"); // its Location
      expect(await get("/items/2", "fr")).toBe("/items/2 fr 3");
      await app.request("/other", { method: "DELETE" });
      expect(await get("/items/2", "fr")).toBe("/items/2 fr 3");
      await app.request("/items/2", { method: "PATCH" });
      expect(await get("/items/2", "fr")).toBe("/items/2 fr 5");
    });

    it("reads a varying hit (index and variant) in one round trip", async () => {
      const { app, calls } = proxy((c) => text(`hello ${c.req.header("accept-language")}`, { "cache-control": "max-age=600", vary: "accept-language" }));
      const get = (lang: string) => app.request("/v", { headers: { "accept-language": lang } });
      await get("en");
      const reads: string[] = [];
      const real = { get: cache.get.bind(cache), getMany: cache.getMany.bind(cache) };
      Object.assign(cache, {
        get: (...args: Parameters<Cache["get"]>) => (reads.push("get"), real.get(...args)),
        getMany: (...args: Parameters<Cache["getMany"]>) => (reads.push("getMany"), real.getMany(...args)),
      });
      try {
        expect(await (await get("en")).text()).toBe("hello en");
        expect(reads).toEqual(["getMany"]);
        reads.length = 0;
        expect(await (await get("fr")).text()).toBe("hello fr"); // a miss: the same one read, then the handler
        expect(reads).toEqual(["getMany"]);
      } finally {
        Object.assign(cache, real);
        delete (cache as Partial<Record<"get" | "getMany", unknown>>).get;
        delete (cache as Partial<Record<"get" | "getMany", unknown>>).getMany;
      }
      expect(calls["/v"]).toBe(2);
    });

    it("answers a Range from a stored complete response with 206, or 416; If-Range must match", async () => {
      const { app, calls, seen } = proxy(() => text("01234567890", { "cache-control": "max-age=600", etag: '"r"' }));
      const first = await app.request("/r", { headers: { range: "bytes=0-1" } });
      expect(seen[0]!.headers.get("range")).toBeNull(); // the handler is asked for the whole
      expect(first.status).toBe(206);
      expect(await first.text()).toBe("01");
      const tail = await app.request("/r", { headers: { range: "bytes=-3" } });
      expect(tail.status).toBe(206);
      expect(tail.headers.get("content-range")).toBe("bytes 8-10/11");
      expect(await tail.text()).toBe("890");
      expect((await app.request("/r", { headers: { range: "bytes=50-" } })).status).toBe(416);
      expect((await app.request("/r", { headers: { range: "bytes=0-1", "if-range": '"other"' } })).status).toBe(200);
      expect(calls["/r"]).toBe(1);
    });

    it("stores a response to an Authorization request only when it allows sharing", async () => {
      const { app, calls } = proxy((c, n) => text(`${n}`, { "cache-control": c.req.path === "/public" ? "public, max-age=60" : "max-age=60" }));
      const auth = { headers: { authorization: "Bearer x" } };
      for (const path of ["/public", "/plain"]) {
        await app.request(path, auth);
        await app.request(path, auth);
      }
      expect(calls["/public"]).toBe(1);
      expect(calls["/plain"]).toBe(2);
    });
  });
}
