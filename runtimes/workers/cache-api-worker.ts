// The Worker that test/workers/cache-api.test.ts bundles and runs in workerd (through miniflare),
// with `nodejs_compat` and with no compatibility flag: the default `cache` set up by `withCache`
// on `cloudflare-cache://` (the Workers Cache API, `caches.default`), and a decorated function
// that counts its calls in isolate state.
//
// - /page?slug=…  the decorated call: its value, and how many times the function ran so far.
// - /raw?slug=…   what `caches.default` holds at the entry's URL, read past cashews.
// - /refused      what `cache.incr` does here (a CacheCapabilityError, in safe mode too).
import { cache, CacheCapabilityError } from "../../src/index.js";
import { keyUrl, DEFAULT_ORIGIN, DEFAULT_NAMESPACE, EXPIRES_HEADER } from "../../src/cloudflare-cache.js";
import { withCache } from "../../src/workers.js";

let calls = 0;

const getPage = cache({ ttl: "1m", key: "page:{slug}" })(async (slug: string) => ({ slug, rendered: ++calls }));

declare const caches: { default: { match(url: string): Promise<Response | undefined> } };

export default withCache(
  { setup: () => "cloudflare-cache://" },
  {
    async fetch(request: Request): Promise<Response> {
      const url = new URL(request.url);
      const slug = url.searchParams.get("slug") ?? "home";
      switch (url.pathname) {
        case "/page":
          return Response.json({ page: await getPage(slug), calls, route: cache.route(`page:${slug}`).label });
        case "/raw": {
          const found = await caches.default.match(keyUrl(DEFAULT_ORIGIN, DEFAULT_NAMESPACE, `page:${slug}`));
          return Response.json(
            found
              ? { found: true, cacheControl: found.headers.get("cache-control"), expires: found.headers.get(EXPIRES_HEADER), body: await found.text() }
              : { found: false },
          );
        }
        case "/refused": {
          const error = await cache.incr("visits").then(() => undefined, (e: unknown) => e);
          return Response.json({
            capabilityError: error instanceof CacheCapabilityError,
            backend: (error as CacheCapabilityError | undefined)?.backend,
            capability: (error as CacheCapabilityError | undefined)?.capability,
          });
        }
        default:
          return new Response("not found", { status: 404 });
      }
    },
  },
);
