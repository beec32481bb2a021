/**
 * The default instance of `cashews` (a {@link Cache}), shared by the bound strategies of the entry,
 * the Hono middlewares and the Workers wrapper.
 * @module
 */
import { Cache } from "./cache.js";

/**
 * The default cache instance. Not configured at import: call `cache.setup(url)` first.
 * It is callable: `cache(options)` is `cache.cache(options)`.
 * @example
 * import { cache } from "cashews";
 * cache.setup("redis://localhost:6379");
 * const get = cache({ ttl: "1h" })(async function getUser(id: string) { return db.user(id); });
 */
export const cache: Cache = /* @__PURE__ */ new Cache("default");
