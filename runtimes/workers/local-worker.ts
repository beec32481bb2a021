// The Worker that test/workers/local-tier.test.ts bundles and runs in workerd (through miniflare)
// as two Workers (two isolates) bound to one KV namespace `KV`: the `local` option's tier in front
// of Workers KV and of the Cache API, whose only coherence is its ttl (binding LOCAL_TTL, ms).
// Each isolate keeps its caches (and their local copies) in module scope across requests.
//
// - /kv/get?key=…, /cache/get?key=…              the cache's answer: { value } (null: missing)
// - /kv/set?key=…&value=…, /cache/set?key=…&value=…  writes through the cache, then reads it back
// - /kv/delete?key=…, /cache/delete?key=…        deletes through the cache, then reads it back
// - /cache/forget?key=…                          deletes the entry from `caches.default` past
//                                                cashews (as another isolate's write would change it)
import { Cache } from "../../src/index.js";
import "../../src/cloudflare-kv.js";
import { keyUrl, DEFAULT_ORIGIN, DEFAULT_NAMESPACE } from "../../src/cloudflare-cache.js";

interface Env {
  KV: unknown;
  LOCAL_TTL: string;
}

declare const caches: { default: { delete(url: string): Promise<boolean> } };

let kv: Cache | undefined;
let api: Cache | undefined;

function cachesFor(env: Env): { kv: Cache; api: Cache } {
  const local = `local=1&localTtl=${Number(env.LOCAL_TTL)}ms`;
  kv ??= new Cache("kv-local").setup(`cloudflare-kv://KV?${local}`, { env, safe: false });
  api ??= new Cache("cache-api-local").setup(`cloudflare-cache://?${local}`, { safe: false });
  return { kv, api };
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const key = url.searchParams.get("key") ?? "k";
    const [, store, op] = url.pathname.split("/");
    const cache = store === "kv" ? cachesFor(env).kv : store === "cache" ? cachesFor(env).api : undefined;
    if (cache === undefined) return new Response("not found", { status: 404 });
    try {
      switch (op) {
        case "set":
          await cache.set(key, url.searchParams.get("value"), { expire: "10m" });
          break;
        case "delete":
          await cache.delete(key);
          break;
        case "forget":
          return Response.json({ deleted: await caches.default.delete(keyUrl(DEFAULT_ORIGIN, DEFAULT_NAMESPACE, key)) });
        case "get":
          break;
        default:
          return new Response("not found", { status: 404 });
      }
      return Response.json({ value: (await cache.get(key)) ?? null });
    } catch (error) {
      const e = error as Error;
      return Response.json({ error: e.name, message: e.message }, { status: 500 });
    }
  },
};
