/**
 * The `deno-kv://` scheme: its options, validated at `setup` without opening the database, and
 * its backend module. Registered by the `cashews/deno-kv` entry only (the core does not know it).
 *
 * No `node:*` import and no static import of `@deno/kv`: this runs on Deno, Deno Deploy, Node and Bun.
 * @module
 */
import type { SchemeSpec } from "../../config/registry.js";
import { ALL_CAPABILITIES, capabilityError } from "../capabilities.js";
import type { BackendConfig } from "../types.js";
import { denoKvModule } from "./backend.js";
import { resolveDenoKvTarget } from "./target.js";
import { localOption } from "../../config/local.js";

/**
 * Options of the `deno-kv://` scheme (plus the common ones: `prefix`, `enable`, `secret`, `safe`,
 * `timeout` (default: none), `serializer`):
 *
 * - `namespace` (default `"cashews"`): keys are stored as `[namespace, key]`; `clear()` removes
 *   only that prefix, so the database can hold other data.
 * - `kv`: an opened `Deno.Kv` (or `@deno/kv` `Kv`) handle, used as is and never closed by the
 *   backend; the URL is then just `"deno-kv://"`.
 *
 * `validate` checks the URL and the runtime (a path is needed off Deno; `--unstable-kv` on Deno)
 * without opening anything, so that a wrong setup is a {@link CacheConfigError} at `setup`.
 * Deno KV has every capability: atomic operations and locks (versionstamp checks), listing,
 * exact expiry (checked on every read) and strong consistency.
 * @example
 * denoKvSpec.schemes;              // ["deno-kv"]
 * Object.keys(denoKvSpec.options); // ["namespace", "kv"]
 */
export const denoKvSpec: SchemeSpec = {
  schemes: ["deno-kv"],
  options: {
    namespace: { kind: "string", default: "cashews" },
    kv: { kind: "object" },
  },
  module: denoKvModule,
  // A local tier in front (`local`): BroadcastChannel carries invalidations where the runtime has
  // it (see denoKvModule.localTier); its ttl bounds the rest.
  local: localOption,
  validate(config: BackendConfig): void {
    resolveDenoKvTarget(config.url, config.options);
  },
  capabilities: { ...ALL_CAPABILITIES },
  // Never called while every capability is true; there for a backend that narrows them.
  refuse: (capability, command) => capabilityError("deno-kv", capability, command),
};
