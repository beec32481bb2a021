/**
 * `cashews/upstash`: the `upstash://` (https) and `upstash+http://` (plain http, for local
 * servers) backend on @upstash/redis, for every runtime (Node, Bun, Deno, Workers).
 *
 * Importing this entry registers the Upstash schemes with the backend module loaded eagerly, which
 * bundlers (Workers) need. Without it, `cache.setup("upstash://…")` still works on Node, Bun and
 * Deno: the core loads this entry lazily by scheme.
 * @example
 * import { cache } from "cashews";
 * import "cashews/upstash";
 *
 * cache.setup("upstash://eu1-example-12345.upstash.io", { token: env.UPSTASH_REDIS_REST_TOKEN });
 * @module
 */
import { registerScheme } from "./config/registry.js";
import { upstashModule } from "./backends/upstash/backend.js";
import { upstashSpec } from "./backends/upstash/spec.js";

registerScheme({ ...upstashSpec, module: upstashModule });

export {
  createUpstashBackend,
  upstashModule,
  UpstashBackend,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_RETRIES,
  type UpstashBackendOptions,
} from "./backends/upstash/backend.js";
export { upstashSpec, resolveUpstashEndpoint, envToken, TOKEN_ENV, type UpstashEndpoint } from "./backends/upstash/spec.js";
export { INCR_EXPIRE, UNLOCK, type LuaScript } from "./backends/scripts.js";
