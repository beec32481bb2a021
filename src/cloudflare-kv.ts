/**
 * `cashews/cloudflare-kv`: the `cloudflare-kv://NAME` backend on Cloudflare Workers KV, where
 * NAME is the KV namespace binding (wrangler.toml's `[[kv_namespaces]] binding`).
 *
 * Importing this entry registers the scheme with its backend loaded eagerly (Workers bundles need
 * it). The binding comes from the `env` option (`withCache` passes the Worker's env) or from the
 * `binding` option. Workers KV lists keys and (through entry metadata) expires entries exactly,
 * but is eventually consistent and has no atomic operation: counters, rate limits, tags, locks and
 * circuit breakers are refused with a `CacheCapabilityError`.
 * @example
 * import { cache } from "cashews";
 * import "cashews/cloudflare-kv";
 * import { withCache } from "cashews/workers";
 *
 * const getUser = cache.cache({ ttl: "10m", key: "user:{id}" })(fetchUser);
 *
 * export default withCache({ setup: (env: Env) => [["cloudflare-kv://CACHE_KV", { env }]] }, {
 *   async fetch(request: Request): Promise<Response> {
 *     return Response.json(await getUser(new URL(request.url).searchParams.get("id")!));
 *   },
 * });
 * @module
 */
import { registerScheme } from "./config/registry.js";
import { cloudflareKvModule } from "./backends/cloudflare-kv/backend.js";
import { cloudflareKvSpec } from "./backends/cloudflare-kv/spec.js";

registerScheme({ ...cloudflareKvSpec, module: cloudflareKvModule });

export {
  createCloudflareKvBackend,
  cloudflareKvModule,
  CloudflareKvBackend,
  KV_MIN_TTL_S,
  KV_EXPIRY_MARGIN_S,
  type CloudflareKvBackendOptions,
} from "./backends/cloudflare-kv/backend.js";
export {
  cloudflareKvSpec,
  resolveKvBinding,
  kvBindingName,
  isKvNamespace,
  kvRefusal,
  MIN_CACHE_TTL_MS,
  type KvNamespaceLike,
  type KvListKey,
  type KvListResult,
  type KvValueWithMetadata,
} from "./backends/cloudflare-kv/spec.js";
