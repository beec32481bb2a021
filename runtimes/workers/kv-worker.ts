// The Worker that test/workers/cloudflare-kv.test.ts bundles and runs in workerd (through
// miniflare) with a KV namespace bound as CACHE_KV, with `nodejs_compat` and with no compatibility
// flag. Two caches, each set up by `withCache` on the first event:
//
// - /explicit/item?id=…: setup passes env itself: `[["cloudflare-kv://CACHE_KV", { env }]]`;
// - /bare/item?id=…:     setup is the bare URL `"cloudflare-kv://CACHE_KV"`: works once withCache
//                        passes its env to every scheme that declares an `env` option.
//
// Each answers the decorated function's value and how many times this isolate has computed it,
// so a test can tell a value served from KV from a computed one. /explicit/incr shows the refusal.
//
// - /z/write?id=…, /z/read?id=…&via=writer|reader: compression in workerd (CompressionStream) with a
//   registered class and a secret: the writer compresses (gzip, from 0 characters), the reader has
//   no `compress` option; both read the value back with its Point instances.
import { Cache, CacheCapabilityError } from "../../src/index.js";
import "../../src/cloudflare-kv.js";
import { withCache } from "../../src/workers.js";

interface Env {
  CACHE_KV: unknown;
}

interface Ctx {
  waitUntil(promise: Promise<unknown>): void;
}

const explicit = new Cache("kv-explicit");
const bare = new Cache("kv-bare");

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}
const pointCodec = { name: "Point", encode: (p: Point) => [p.x, p.y], decode: (d: number[]) => new Point(d[0]!, d[1]!) };
const zWriter = new Cache("kv-z-writer").registerType(Point, pointCodec);
const zReader = new Cache("kv-z-reader").registerType(Point, pointCodec);
const zValue = (id: string) => ({ id, text: "workerd ".repeat(400), points: Array.from({ length: 50 }, (_, i) => new Point(i, i + 0.5)) });

function zHandler(cache: Cache, via: string) {
  return {
    async fetch(request: Request, _env: Env, _ctx?: Ctx): Promise<Response> {
      const url = new URL(request.url);
      const id = url.searchParams.get("id") ?? "1";
      if (url.pathname.endsWith("/write")) return Response.json({ written: await cache.set(`z:${id}`, zValue(id)) });
      const value = (await cache.get(`z:${id}`)) as ReturnType<typeof zValue> | undefined;
      const expected = zValue(id);
      return Response.json({
        via,
        found: value !== undefined,
        points: value?.points.every((p, i) => p instanceof Point && p.x === i && p.y === i + 0.5) ?? false,
        same: value !== undefined && value.text === expected.text && value.points.length === expected.points.length,
      });
    },
  };
}
const zSecret = "workers-secret";
const zWrite = withCache({ cache: zWriter, setup: (env: Env) => [["cloudflare-kv://CACHE_KV", { env, secret: zSecret, compress: "gzip", compressThreshold: 0 }]] }, zHandler(zWriter, "writer"));
const zRead = withCache({ cache: zReader, setup: (env: Env) => [["cloudflare-kv://CACHE_KV", { env, secret: zSecret }]] }, zHandler(zReader, "reader"));

/** Computations per cache and id, in this isolate. */
const calls = new Map<string, number>();

function decorated(cache: Cache, label: string): (id: string) => Promise<{ id: string; computedBy: string; at: number }> {
  return cache.cache({ ttl: "10m", key: `${label}:item:{id}` })(async function item(id: string) {
    const key = `${label}:${id}`;
    calls.set(key, (calls.get(key) ?? 0) + 1);
    return { id, computedBy: label, at: Date.now() };
  });
}

const items = { explicit: decorated(explicit, "explicit"), bare: decorated(bare, "bare") };

function handler(label: "explicit" | "bare", cache: Cache) {
  return {
    async fetch(request: Request, _env: Env, _ctx?: Ctx): Promise<Response> {
      const url = new URL(request.url);
      const id = url.searchParams.get("id") ?? "1";
      if (url.pathname.endsWith("/incr")) {
        try {
          await cache.incr("visits");
          return Response.json({ refused: false });
        } catch (error) {
          if (!(error instanceof CacheCapabilityError)) throw error;
          return Response.json({ refused: true, name: error.name, backend: error.backend, capability: error.capability });
        }
      }
      const value = await items[label](id);
      return Response.json({ value, calls: calls.get(`${label}:${id}`) ?? 0 });
    },
  };
}

const withEnv = withCache({ cache: explicit, setup: (env: Env) => [["cloudflare-kv://CACHE_KV", { env }]] }, handler("explicit", explicit));
const bareSetup = withCache({ cache: bare, setup: () => "cloudflare-kv://CACHE_KV" }, handler("bare", bare));

export default {
  async fetch(request: Request, env: Env, ctx: Ctx): Promise<Response> {
    const path = new URL(request.url).pathname;
    try {
      if (path.startsWith("/explicit/")) return (await withEnv.fetch(request, env, ctx)) as Response;
      if (path.startsWith("/bare/")) return (await bareSetup.fetch(request, env, ctx)) as Response;
      if (path.startsWith("/z/")) {
        const via = new URL(request.url).searchParams.get("via") === "reader" ? zRead : zWrite;
        return (await via.fetch(request, env, ctx)) as Response;
      }
      return new Response("not found", { status: 404 });
    } catch (error) {
      const e = error as Error;
      return Response.json({ error: e.name, message: e.message }, { status: 500 });
    }
  },
};
