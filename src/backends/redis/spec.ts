/**
 * The `redis://`, `rediss://` and `redis+cluster://` schemes: their options, validated at `setup`
 * without loading ioredis, and a lazy loader of the backend module (see `lazyModule` in
 * `config/load.ts` for where it is loaded from).
 *
 * This file must stay free of ioredis and of `node:*` imports: the core imports it, and the core
 * runs everywhere (Workers included).
 * @module
 */
import { lazyModule } from "../../config/load.js";
import type { SchemeSpec } from "../../config/registry.js";
import { validateRedisConfig } from "./url.js";
import { localOption } from "../../config/local.js";

/**
 * Options of the Redis schemes (plus the common ones: `prefix`, `enable`, `secret`, `safe`,
 * `timeout`, `serializer`):
 *
 * - `namespace` (default `"cashews"`): keys are stored as `<namespace>:<key>`; `""` stores keys
 *   verbatim, and then `clear()` flushes the database.
 * - `db`: database number (overrides the URL path), `username`, `password` (override the URL's).
 * - `connectTimeout` (alias `createConnectionTimeout` / `create_connection_timeout`): bound on
 *   establishing a connection, default 2 s.
 * - `client`: an existing ioredis instance, used as is and never closed by the backend.
 * - `clientSide`: keep a local copy of what this process reads, kept coherent by Redis
 *   server-assisted client-side caching (see `client-side.ts`); not with `client` or Cluster
 *   (a {@link CacheConfigError} at setup).
 * - `cluster` (implied by `redis+cluster://h1:p1,h2:p2`): Redis Cluster on an ioredis `Cluster`.
 *   The URL's hosts are seed nodes (the others are discovered); only database 0 exists (another
 *   `db` is a {@link CacheConfigError}); `client` may be an ioredis `Cluster`.
 * @example
 * redisSpec.schemes;               // ["redis", "rediss", "redis+cluster"]
 * Object.keys(redisSpec.options);  // ["namespace", "db", "username", "password", "clientSide", …]
 */
export const redisSpec: SchemeSpec = {
  schemes: ["redis", "rediss", "redis+cluster"],
  options: {
    namespace: { kind: "string", default: "cashews" },
    db: { kind: "int", min: 0 },
    username: { kind: "string" },
    password: { kind: "string" },
    clientSide: { kind: "boolean", default: false },
    cluster: { kind: "boolean", default: false },
    client: { kind: "object" },
    connectTimeout: { kind: "duration" },
  },
  aliases: { createConnectionTimeout: "connectTimeout" },
  module: lazyModule("redis", "ioredis"),
  validate: validateRedisConfig,
  // `local` is clientSide (Redis tracking is its coherence): validateRedisConfig maps it.
  local: localOption,
  localNative: true,
};
