/**
 * The `redis://`, `rediss://` and `redis+cluster://` schemes: their options, validated at `setup`
 * without loading ioredis, and a lazy loader of the backend module.
 *
 * This file must stay free of ioredis and of `node:*` imports: the core imports it, and the core
 * runs everywhere (Workers included).
 * @module
 */
import type { BackendModule, SchemeSpec } from "../../config.js";
import { validateRedisConfig } from "./url.js";

/**
 * Where the ioredis backend lives. Specifiers are kept in variables so that neither bundlers
 * (esbuild, Vite's `new URL(…, import.meta.url)` asset handling) nor `tsc` follow them: bundling
 * `cashews` never pulls ioredis in.
 *
 * - Built (`dist/`): the package entry `cashews/redis`, resolved by Node, Bun and Deno through the
 *   package's own `exports` (package self-reference), so it shares the core's chunk (one scheme
 *   registry, one set of error classes). If that fails, `./redis.js` next to this chunk.
 * - From source (this file ends in `.ts`: vitest, tsx, Deno or Bun on `src/`): `src/redis.ts`, so
 *   source never mixes with a stale or missing `dist/`.
 */
const PACKAGE_ENTRY = "cashews/redis";
const BUILT_SIBLING = "./redis.js";
const SOURCE_ENTRY = "../../redis.ts";

function candidates(): string[] {
  const here = typeof import.meta.url === "string" ? import.meta.url : "";
  if (/\.[cm]?tsx?$/.test(here)) return [new URL(SOURCE_ENTRY, here).href];
  return here ? [PACKAGE_ENTRY, new URL(BUILT_SIBLING, here).href] : [PACKAGE_ENTRY];
}

/** Loads the ioredis backend module, turning a missing dependency into an error that says what to do. */
async function loadRedisModule(): Promise<BackendModule> {
  const failures: unknown[] = [];
  for (const specifier of candidates()) {
    let entry: { redisModule?: BackendModule };
    try {
      entry = (await import(/* @vite-ignore */ specifier)) as { redisModule?: BackendModule };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/['"]ioredis['"]/.test(message)) {
        throw new Error(
          'the redis:// backend needs the optional peer dependency "ioredis": install it with `npm install ioredis`',
          { cause: error },
        );
      }
      failures.push(error);
      continue;
    }
    if (!entry.redisModule || typeof entry.redisModule.create !== "function") {
      throw new Error(`"${specifier}" does not export the redis backend module`);
    }
    return entry.redisModule;
  }
  const first = failures[0];
  const reason = first instanceof Error ? first.message : String(first);
  throw new Error(
    `could not import "${PACKAGE_ENTRY}" (${reason}); when bundling, add \`import "cashews/redis"\` to register the backend eagerly`,
    { cause: first },
  );
}

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
 * - `clientSide`, `cluster`: accepted, but not implemented yet (the backend refuses them).
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
  module: loadRedisModule,
  validate: validateRedisConfig,
};
