// The built package, imported the way a user would: `import { cache } from "cashews"`.
// `npm test` builds dist/ before running the tests.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startUpstashServer, type UpstashServer } from "../support/upstash-server.js";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;
const redisUrl = inject("redisUrl");

async function runScript(name: string, source: string): Promise<unknown> {
  const dir = `${root}.tmp`;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/${name}.mjs`;
  writeFileSync(file, source);
  const { stdout } = await run(process.execPath, [file], { cwd: root, timeout: 20_000 });
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

describe("dist/", () => {
  it("is built (npm test runs the build first)", () => {
    expect(existsSync(`${root}dist/index.js`), "run `npm run build`").toBe(true);
    expect(existsSync(`${root}dist/index.d.ts`)).toBe(true);
    for (const entry of ["index", "core", "redis", "upstash", "cloudflare-kv", "cloudflare-cache", "deno-kv", "hono", "workers", "testing", "otel", "prometheus"]) {
      expect(existsSync(`${root}dist/${entry}.js`), `dist/${entry}.js`).toBe(true);
      expect(existsSync(`${root}dist/${entry}.d.ts`), `dist/${entry}.d.ts`).toBe(true);
    }
  });

  it("works on mem:// through `import { cache } from \"cashews\"`", async () => {
    const out = await runScript(
      "dist-mem",
      `
      import { cache, CacheConfigError } from "cashews";
      cache.setup("mem://?checkInterval=10ms", { secret: "k" });
      let calls = 0;
      const get = cache({ ttl: "1m", key: "u:{id}" })(async (id) => { calls++; return { id, at: new Date(0) }; });
      await get(1); const hit = await get(1);
      let configError = "";
      try { cache.setup("mem://?size=0"); } catch (e) { configError = e instanceof CacheConfigError ? e.message : "wrong class"; }
      await cache.close();
      console.log(JSON.stringify({ calls, date: hit.at instanceof Date, configError }));
      `,
    );
    expect(out).toEqual({ calls: 1, date: true, configError: expect.stringContaining("size") });
  });

  it("works through `import { CoreCache, failover } from \"cashews/core\"`, sharing its classes with \"cashews\"", async () => {
    const out = await runScript(
      "dist-core",
      `
      import { CoreCache, failover, CacheConfigError } from "cashews/core";
      import { Cache, CacheConfigError as FullConfigError } from "cashews";
      const lean = new CoreCache("lean").setup("mem://");
      let calls = 0;
      const get = lean.cache({ ttl: "1m", key: "u:{id}" })(async (id) => { calls++; return { id }; });
      await get(1); await get(1);
      let fails = 0;
      const rates = failover(lean, { ttl: "1m", key: "rates" })(async () => { if (++fails > 1) throw new Error("down"); return 1.08; });
      await rates();
      const served = await rates();
      await lean.close();
      console.log(JSON.stringify({ calls, served, shared: new Cache() instanceof CoreCache, sameErrors: CacheConfigError === FullConfigError }));
      `,
    );
    expect(out).toEqual({ calls: 1, served: 1.08, shared: true, sameErrors: true });
  });

  it("instruments a cache of \"cashews\" through `import { instrument, metricsHandler } from \"cashews/prometheus\"` (prom-client external)", async () => {
    const out = await runScript(
      "dist-prometheus",
      `
      import { Cache, CacheConfigError } from "cashews";
      import { instrument, metricsHandler } from "cashews/prometheus";
      import { Registry } from "prom-client";
      const cache = new Cache().setup("mem://");
      const registry = new Registry();
      const stop = instrument(cache, { registry });
      const get = cache({ ttl: "1m", key: "u:{id}" })(async (id) => ({ id }));
      await get(1); await get(1);
      let twice = "";
      try { instrument(cache, { registry }); } catch (e) { twice = e instanceof CacheConfigError ? "CacheConfigError" : String(e); }
      const res = await metricsHandler({ registry })();
      const text = await res.text();
      stop();
      await cache.close();
      console.log(JSON.stringify({ type: res.headers.get("content-type"), hit: text.includes('cashews_hits_total{backend="mem",strategy="cache"} 1'), twice }));
      `,
    );
    expect(out).toEqual({ type: "text/plain; version=0.0.4; charset=utf-8", hit: true, twice: "CacheConfigError" });
  });

  it.skipIf(!redisUrl)("loads the redis:// backend lazily after importing only \"cashews\"", async () => {
    const out = await runScript(
      "dist-redis",
      `
      import { Cache, CacheBackendError } from "cashews";
      const cache = new Cache().setup(${JSON.stringify(redisUrl)}, { namespace: "dist-test" });
      let calls = 0;
      const get = cache({ ttl: "1m", key: "u:{id}" })(async (id) => { calls++; return new Map([[id, 1n]]); });
      await get(1); const hit = await get(1);
      const left = await cache.getExpire("u:1");
      await cache.clear();
      await cache.close();
      const dead = new Cache().setup("redis://127.0.0.1:1", { safe: false, timeout: 200 });
      let err = "";
      try { await dead.get("k"); } catch (e) { err = e instanceof CacheBackendError ? "CacheBackendError" : String(e); }
      await dead.close();
      console.log(JSON.stringify({ calls, map: hit instanceof Map && hit.get(1) === 1n, ttlOk: left > 50000, err }));
      `,
    );
    expect(out).toEqual({ calls: 1, map: true, ttlOk: true, err: "CacheBackendError" });
  });

  it.skipIf(!redisUrl)("registers redis:// eagerly with `import \"cashews/redis\"`, sharing the core's classes", async () => {
    const out = await runScript(
      "dist-redis-eager",
      `
      import { Cache, CacheBackendError, CacheError } from "cashews";
      import { createRedisBackend, parseRedisUrl, redisModule, redisSpec, RedisBackend, INCR_EXPIRE, UNLOCK } from "cashews/redis";
      const exported = [createRedisBackend, parseRedisUrl, RedisBackend].every((f) => typeof f === "function")
        && typeof redisModule.create === "function" && redisSpec.schemes.includes("redis")
        && typeof INCR_EXPIRE.lua === "string" && typeof UNLOCK.sha1 === "string";
      const cache = new Cache().setup(${JSON.stringify(redisUrl)}, { namespace: "dist-eager" });
      await cache.set("k", { n: 1 }, { expire: "1m" });
      const value = await cache.get("k");
      await cache.clear();
      await cache.close();
      const dead = new Cache().setup("redis://127.0.0.1:1", { safe: false, timeout: 200 });
      let err = "";
      try { await dead.get("k"); } catch (e) { err = e instanceof CacheBackendError && e instanceof CacheError ? "CacheBackendError" : String(e); }
      await dead.close();
      console.log(JSON.stringify({ exported, value, err }));
      `,
    );
    expect(out).toEqual({ exported: true, value: { n: 1 }, err: "CacheBackendError" });
  });
});

describe.skipIf(!redisUrl)("dist/: cashews/upstash against the local Upstash-compatible server", () => {
  let server: UpstashServer;
  beforeAll(async () => {
    server = await startUpstashServer({ redisUrl });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const endpoint = (): string => server.url.replace(/^http:/, "upstash+http:");

  it("loads the upstash+http:// backend lazily after importing only \"cashews\"", async () => {
    const out = await runScript(
      "dist-upstash-lazy",
      `
      import { Cache } from "cashews";
      const cache = new Cache().setup(${JSON.stringify(endpoint())}, { token: ${JSON.stringify(server.token)}, namespace: "dist-upstash" });
      let calls = 0;
      const get = cache({ ttl: "1m", key: "u:{id}" })(async (id) => { calls++; return new Map([[id, new Date(0)]]); });
      await get(1); const hit = await get(1);
      const left = await cache.getExpire("u:1");
      await cache.clear();
      await cache.close();
      console.log(JSON.stringify({ calls, map: hit instanceof Map && hit.get(1) instanceof Date, ttlOk: left > 50000 }));
      `,
    );
    expect(out).toEqual({ calls: 1, map: true, ttlOk: true });
  });

  it("registers upstash:// eagerly with `import \"cashews/upstash\"`, sharing the core's classes", async () => {
    const out = await runScript(
      "dist-upstash-eager",
      `
      import { Cache, CacheBackendError } from "cashews";
      import { createUpstashBackend, upstashModule, upstashSpec, UpstashBackend, resolveUpstashEndpoint } from "cashews/upstash";
      const exported = [createUpstashBackend, UpstashBackend, resolveUpstashEndpoint].every((f) => typeof f === "function")
        && typeof upstashModule.create === "function" && upstashSpec.schemes.includes("upstash");
      const cache = new Cache().setup(${JSON.stringify(endpoint())}, { token: ${JSON.stringify(server.token)}, namespace: "dist-upstash-eager" });
      await cache.set("k", [1, "two"], { expire: "1m" });
      const value = await cache.get("k");
      await cache.clear();
      await cache.close();
      const dead = new Cache().setup("upstash+http://127.0.0.1:1", { token: "t", safe: false, timeout: 300 });
      let err = "";
      try { await dead.get("k"); } catch (e) { err = e instanceof CacheBackendError ? "CacheBackendError" : String(e); }
      await dead.close();
      console.log(JSON.stringify({ exported, value, err }));
      `,
    );
    expect(out).toEqual({ exported: true, value: [1, "two"], err: "CacheBackendError" });
  });

  it("traces through `import { instrument } from \"cashews/otel\"`, sharing the core's classes", async () => {
    const out = await runScript(
      "dist-otel",
      `
      import { Cache, CacheConfigError } from "cashews";
      import { instrument } from "cashews/otel";
      import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
      const exporter = new InMemorySpanExporter();
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
      const cache = new Cache("dist-otel").setup("mem://");
      const off = instrument(cache, { tracer: provider.getTracer("t"), meter: false });
      let twice = "";
      try { instrument(cache); } catch (e) { twice = e instanceof CacheConfigError ? "CacheConfigError" : "wrong class"; }
      const get = cache({ ttl: "1m", key: "u:{id}" })(async function getUser(id) { return { id }; });
      await get(1); await get(1);
      off();
      await cache.close();
      const spans = exporter.getFinishedSpans().filter((s) => s.name.startsWith("cashews "));
      console.log(JSON.stringify({ outcomes: spans.map((s) => s.attributes["cashews.outcome"]), twice }));
      `,
    );
    expect(out).toEqual({ outcomes: ["miss", "hit"], twice: "CacheConfigError" });
  });
});
