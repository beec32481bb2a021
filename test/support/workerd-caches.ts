// The real Workers Cache API from Node: workerd's cache (miniflare with `cache: true`), reached
// through miniflare's proxy (`mf.getCaches()`), for the cloudflare-cache:// tests that run in Node
// (conformance, backend tests).
//
// The proxy serialises what crosses into workerd and only knows miniflare's own Response class
// (a global Response fails with "DevalueError: Cannot stringify arbitrary non-POJOs"), so the
// adapter below rebuilds each Response the backend puts as a miniflare Response (same status,
// headers and body) before calling the real `put`, and each Response `match` finds as a global one
// (read whole: the proxy's body streams cannot be cancelled from Node). `delete` goes through unchanged.
// Nothing is stored on this side: every entry lives in workerd's cache.
import { Miniflare, Response as MiniflareResponse } from "miniflare";
import type { CacheLike, CacheStorageLike } from "../../src/cloudflare-cache.js";
import { COMPATIBILITY_DATE } from "./workerd.js";

/** The proxied Cache of miniflare (its types are workers-types', not the DOM's). */
export interface ProxiedCache {
  match(url: string): Promise<unknown>;
  put(url: string, response: MiniflareResponse): Promise<unknown>;
  delete(url: string): Promise<boolean>;
}

/** miniflare's proxied CacheStorage. */
export interface ProxiedStorage {
  default: ProxiedCache;
  open(name: string): Promise<ProxiedCache>;
}

/** A workerd cache seen as a {@link CacheLike}: global Responses converted on the way in. */
function adapt(cache: ProxiedCache): CacheLike & { puts: number } {
  const adapted = {
    puts: 0,
    async match(url: string): Promise<Response | undefined> {
      // Read whole on this side: cancelling a proxied body stream (an unread entry) makes
      // miniflare's proxy reject in the background ("Writer is not bound to a WritableStream").
      const found = (await cache.match(url)) as MiniflareResponse | undefined;
      if (!found) return undefined;
      const headers = new Headers();
      found.headers.forEach((value, name) => headers.append(name, value));
      return new Response(await found.arrayBuffer(), { status: found.status, headers });
    },
    async put(url: string, response: Response): Promise<void> {
      adapted.puts++;
      const body = await response.arrayBuffer();
      const headers: [string, string][] = [];
      response.headers.forEach((value, name) => headers.push([name, value]));
      await cache.put(url, new MiniflareResponse(body, { status: response.status, headers }));
    },
    delete(url: string): Promise<boolean> {
      return cache.delete(url);
    },
  };
  return adapted;
}

/** workerd's caches, adapted, and how many times each was opened (`opens`). */
export interface WorkerdCaches {
  /** A CacheStorage over workerd's: `default` and `open(name)`. */
  caches: CacheStorageLike & { opens: Map<string, number> };
  /** Stops workerd. */
  dispose(): Promise<void>;
}

/** Starts a workerd with the Cache API on (an idle Worker) and returns its caches as a CacheStorage. */
export async function startWorkerdCaches(): Promise<WorkerdCaches> {
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response('idle'); } };",
    compatibilityDate: COMPATIBILITY_DATE,
    cache: true,
  });
  await mf.ready;
  const real = (await mf.getCaches()) as unknown as ProxiedStorage;
  const opens = new Map<string, number>();
  const caches = {
    opens,
    default: adapt(real.default),
    async open(name: string): Promise<CacheLike> {
      opens.set(name, (opens.get(name) ?? 0) + 1);
      return adapt(await real.open(name));
    },
  };
  return { caches, dispose: () => mf.dispose() };
}
