/**
 * `cashews/redis`: the `redis://`, `rediss://` and `redis+cluster://` (Redis Cluster) backend on ioredis.
 *
 * Importing this entry registers the Redis schemes with the backend module loaded eagerly, which
 * bundlers need. Without it, `cache.setup("redis://…")` still works on Node, Bun and Deno: the core
 * loads this entry lazily by scheme.
 * @module
 */
import { registerScheme } from "./config/registry.js";
import { redisModule } from "./backends/redis/backend.js";
import { redisSpec } from "./backends/redis/spec.js";

registerScheme({ ...redisSpec, module: redisModule });

export { createRedisBackend, redisModule, RedisBackend } from "./backends/redis/backend.js";
export {
  DEFAULT_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  MAX_RECONNECT_DELAY_MS,
  type RedisBackendOptions,
} from "./backends/redis/options.js";
export { parseRedisUrl } from "./backends/redis/url.js";
export { redisSpec } from "./backends/redis/spec.js";
export { keySlot } from "./backends/redis/slots.js";
export { INCR_EXPIRE, UNLOCK, type LuaScript } from "./backends/scripts.js";
