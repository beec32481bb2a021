/**
 * `cashews/deno-kv`: the `deno-kv://` backend on Deno KV: `Deno.openKv` on Deno and Deno Deploy,
 * the `@deno/kv` package (an optional peer dependency, loaded at first use) on Node and Bun.
 *
 * Importing this entry registers the scheme (the core does not know it). URL forms:
 * `deno-kv://` (Deno's default database; on Deno Deploy the project's), `deno-kv:///abs/path.db`,
 * `deno-kv://./relative.db`, `deno-kv://:memory:`, `deno-kv://https://api.deno.com/databases/<id>/connect`;
 * or `deno-kv://` with an opened handle as option `kv`.
 * @example
 * import { cache } from "cashews";
 * import "cashews/deno-kv";
 *
 * cache.setup("deno-kv://");                                 // Deno / Deno Deploy: the default database
 * cache.setup("deno-kv:///var/data/cache.db");               // Node / Bun (npm install @deno/kv), or Deno
 * cache.setup("deno-kv://", { kv: await Deno.openKv() });    // a handle you opened (never closed by cashews)
 * @module
 */
import { registerScheme } from "./config/registry.js";
import { denoKvSpec } from "./backends/deno-kv/spec.js";

registerScheme(denoKvSpec);

export {
  createDenoKvBackend,
  denoKvModule,
  DenoKvBackend,
  DENO_KV_MAX_VALUE_BYTES,
  type DenoKvBackendOptions,
  type DenoKvHandle,
  type DenoKvAtomic,
  type DenoKvEntryMaybe,
  type DenoKvKey,
} from "./backends/deno-kv/backend.js";
export { denoKvSpec } from "./backends/deno-kv/spec.js";
export { resolveDenoKvTarget, denoRuntime, isKvHandle, type DenoKvTarget } from "./backends/deno-kv/target.js";
