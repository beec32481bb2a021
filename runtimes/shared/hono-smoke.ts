/**
 * The Hono middleware (`cashews/hono`) in the runtime smoke set: a real Hono app, requested with
 * `app.request`, on each backend of the run (see smoke.ts). `counts.ts` says how many tests one
 * backend registers here (HONO_TESTS_PER_BACKEND).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { Cache } from "../../src/index.js";
import { cacheDetectHeaders, cacheResponse, rateLimit } from "../../src/hono/index.js";

interface Target {
  label: string;
  url: string;
  options: Record<string, unknown>;
}

/** Registers the Hono block for one backend (a top-level describe: Deno counts nested ones as steps). */
export function honoSmoke(target: Target, runtime: string): void {
  describe(`cashews/hono on ${target.label} (${runtime})`, () => {
    let cache: Cache;
    let app: Hono;
    const calls = { page: 0, user: 0 };
    before(async () => {
      cache = new Cache(`hono-${target.label}`).setup(target.url, target.options);
      await cache.clear();
      const getUser = cache({ ttl: "1m", key: "user:{id}" })(async (id: string) => {
        calls.user++;
        return { id };
      });
      app = new Hono();
      app.get("/page/:id", cacheResponse({ ttl: "1m", cache }), (c) => {
        calls.page++;
        return c.body(new Uint8Array([0, 255, 128, calls.page]), 200, { "content-type": "application/octet-stream" });
      });
      app.get("/limited", rateLimit({ limit: 2, period: "1m", key: (c) => c.req.header("x-client") ?? "-", cache }), (c) => c.text("ok"));
      app.get("/user/:id", cacheDetectHeaders({ cache }), async (c) => c.json(await getUser(c.req.param("id"))));
    });
    after(async () => {
      await cache?.clear();
      await cache?.close();
    });

    it("cacheResponse: a miss runs the handler, a hit replays the bytes with X-From-Cache, If-None-Match gets 304", async () => {
      const first = await app.request("/page/1");
      assert.equal(first.status, 200);
      assert.equal(first.headers.get("x-from-cache"), null);
      assert.deepEqual([...new Uint8Array(await first.arrayBuffer())], [0, 255, 128, 1]);
      const second = await app.request("/page/1");
      assert.equal(second.status, 200);
      assert.equal(second.headers.get("x-from-cache"), "response:GET:/page/1");
      assert.ok(Number(second.headers.get("x-from-cache-expire-in")) > 0);
      assert.equal(second.headers.get("content-type"), "application/octet-stream");
      assert.deepEqual([...new Uint8Array(await second.arrayBuffer())], [0, 255, 128, 1]);
      assert.equal(calls.page, 1);
      const etag = second.headers.get("etag");
      assert.match(etag ?? "", /^"[^"]+"$/);
      const notModified = await app.request("/page/1", { headers: { "if-none-match": etag! } });
      assert.equal(notModified.status, 304);
      const fresh = await app.request("/page/1", { headers: { "cache-control": "no-cache" } });
      assert.deepEqual([...new Uint8Array(await fresh.arrayBuffer())], [0, 255, 128, 2]);
    });

    it("rateLimit: RateLimit-* on every response, 429 with Retry-After past the limit, per key", async () => {
      const responses = [];
      for (let i = 0; i < 3; i++) responses.push(await app.request("/limited", { headers: { "x-client": "a" } }));
      assert.deepEqual(responses.map((r) => r.status), [200, 200, 429]);
      assert.deepEqual(responses.map((r) => r.headers.get("ratelimit-remaining")), ["1", "0", "0"]);
      assert.ok(responses.every((r) => r.headers.get("ratelimit-limit") === "2" && Number(r.headers.get("ratelimit-reset")) > 0));
      assert.ok(Number(responses[2]!.headers.get("retry-after")) > 0);
      assert.equal((await app.request("/limited", { headers: { "x-client": "b" } })).status, 200);
    });

    it("cacheDetectHeaders: names the decorated calls served from cache", async () => {
      const miss = await app.request("/user/7");
      assert.equal(miss.headers.get("x-from-cache"), null);
      const hit = await app.request("/user/7");
      assert.equal(hit.headers.get("x-from-cache"), "user:7");
      assert.deepEqual(await hit.json(), { id: "7" });
      assert.equal(calls.user, 1);
    });
  });
}
