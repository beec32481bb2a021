/**
 * `cashews/cloudflare-cache`: the `cloudflare-cache://[name]` backend on the Cloudflare Workers
 * Cache API: `cloudflare-cache://` is `caches.default`, `cloudflare-cache://NAME` is
 * `caches.open(NAME)`. A per-data-centre cache with exact expiry and nothing else: no listing, no
 * atomic counter, no lock (those commands reject with a `CacheCapabilityError`). On a Worker served
 * from `*.workers.dev` (no zone) the Cache API stores nothing: deploy on a custom domain or route.
 *
 * Importing this entry registers the scheme (eagerly: bundlers include the backend). It is never
 * loaded by scheme: `cache.setup("cloudflare-cache://")` without this import is refused with a
 * message saying to add it.
 * @example
 * import { cache } from "cashews";
 * import "cashews/cloudflare-cache";
 * import { withCache } from "cashews/workers";
 *
 * const getPage = cache({ ttl: "5m", key: "page:{slug}" })(async (slug: string) => renderPage(slug));
 * export default withCache({ setup: () => "cloudflare-cache://" }, {
 *   async fetch(request: Request) {
 *     return new Response(await getPage(new URL(request.url).pathname));
 *   },
 * });
 * @module
 */
import { registerScheme } from "./config/registry.js";
import { cloudflareCacheModule } from "./backends/cloudflare-cache/backend.js";
import { cloudflareCacheSpec } from "./backends/cloudflare-cache/spec.js";

registerScheme({ ...cloudflareCacheSpec, module: cloudflareCacheModule });

export {
  CloudflareCacheBackend,
  cloudflareCacheModule,
  createCloudflareCacheBackend,
  keyUrl,
  EXPIRES_HEADER,
  FOREVER_SECONDS,
  type CloudflareCacheBackendOptions,
} from "./backends/cloudflare-cache/backend.js";
export {
  cloudflareCacheSpec,
  resolveCloudflareCache,
  refuseCloudflareCache,
  CLOUDFLARE_CACHE_CAPABILITIES,
  CACHE_API_LIMITS,
  DEFAULT_ORIGIN,
  DEFAULT_NAMESPACE,
  type CacheLike,
  type CacheStorageLike,
  type CloudflareCacheTarget,
} from "./backends/cloudflare-cache/spec.js";
