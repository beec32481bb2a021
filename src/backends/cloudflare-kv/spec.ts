/**
 * The `cloudflare-kv://NAME` scheme (Cloudflare Workers KV): its options, its capabilities, and
 * the resolution of the KV namespace binding from the options, checked at `setup` without any I/O.
 *
 * This file imports no Workers type package: {@link KvNamespaceLike} describes the part of a
 * `KVNamespace` binding the backend uses.
 * @module
 */
import type { SchemeSpec } from "../../config/registry.js";
import { failer, type Fail } from "../../config/url.js";
import { capabilityError } from "../capabilities.js";
import type { BackendConfig } from "../types.js";
import { localOption } from "../../config/local.js";

/**
 * One entry of a KV `list` page: the stored key, its KV expiration (epoch seconds) and its metadata.
 * @example
 * const entry: KvListKey = { name: "cashews:user:1", expiration: 1767225600, metadata: { e: 1767225540000 } };
 */
export interface KvListKey {
  name: string;
  expiration?: number;
  metadata?: unknown;
}

/**
 * A page of a KV `list`: its keys, and the cursor of the next page unless `list_complete`.
 * @example
 * const page: KvListResult = { keys: [], list_complete: true };
 */
export interface KvListResult {
  keys: KvListKey[];
  list_complete: boolean;
  cursor?: string;
}

/**
 * A value and its metadata, as KV's `getWithMetadata` resolves them (`value` null: missing).
 * @example
 * const entry: KvValueWithMetadata = { value: "hello", metadata: { e: 1767225540000 } };
 */
export interface KvValueWithMetadata {
  value: string | null;
  metadata: unknown;
}

/**
 * The part of a Workers `KVNamespace` binding (`env.MY_KV`) the `cloudflare-kv://` backend uses.
 * The `KVNamespace` of `@cloudflare/workers-types`, and miniflare's `getKVNamespace()`, fit it.
 * @example
 * const kv: KvNamespaceLike = env.CACHE_KV;
 * await kv.put("greeting", "hello", { expirationTtl: 120 });
 */
export interface KvNamespaceLike {
  get(key: string, options?: { type?: "text"; cacheTtl?: number }): Promise<string | null>;
  get(keys: string[], options?: { type?: "text"; cacheTtl?: number }): Promise<Map<string, string | null>>;
  getWithMetadata(key: string, options?: { type?: "text"; cacheTtl?: number }): Promise<KvValueWithMetadata>;
  getWithMetadata(keys: string[], options?: { type?: "text"; cacheTtl?: number }): Promise<Map<string, KvValueWithMetadata | null>>;
  put(key: string, value: string, options?: { expiration?: number; expirationTtl?: number; metadata?: unknown }): Promise<void>;
  delete(key: string): Promise<void>;
  list(options?: { prefix?: string; limit?: number; cursor?: string }): Promise<KvListResult>;
}

/**
 * The shortest `cacheTtl` Workers KV accepts (30 s): how long a location may serve a read from its
 * edge cache without asking the central store.
 * @example
 * cache.setup("cloudflare-kv://CACHE_KV", { env, cacheTtl: MIN_CACHE_TTL_MS }); // "30s"
 */
export const MIN_CACHE_TTL_MS = 30_000;

/** Why a KV store lacks a capability, for every refusal. */
const WHY = "Workers KV is eventually consistent and has no atomic operations";

const fail: Fail = failer("cloudflare-kv");

/** The methods a KV namespace binding has (and the backend calls). */
const KV_METHODS = ["get", "getWithMetadata", "put", "delete", "list"] as const;

/**
 * Whether `value` looks like a Workers KV namespace binding: an object with `get`,
 * `getWithMetadata`, `put`, `delete` and `list` functions.
 * @example
 * isKvNamespace(env.CACHE_KV); // true
 * isKvNamespace(env.API_TOKEN); // false: a string
 */
export function isKvNamespace(value: unknown): value is KvNamespaceLike {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  try {
    return KV_METHODS.every((method) => typeof (value as Record<string, unknown>)[method] === "function");
  } catch {
    return false; // a proxy that throws on property access is no binding
  }
}

/** The binding names in `env` that look like KV namespaces, sorted, for messages. */
function kvNamesIn(env: object): string[] {
  let names: string[];
  try {
    names = Object.keys(env);
  } catch {
    return [];
  }
  return names.filter((name) => isKvNamespace((env as Record<string, unknown>)[name])).sort();
}

/** Describes a value for a message without echoing it (a binding may be a secret). */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object without get/getWithMetadata/put/delete/list methods";
  return `a ${typeof value}`;
}

/** "the KV namespaces in env are A, B" or "env has no KV namespace binding (keys: …)". */
function candidates(env: object): string {
  const names = kvNamesIn(env);
  if (names.length > 0) return `KV namespace bindings in env: ${names.join(", ")}`;
  let keys: string[] = [];
  try {
    keys = Object.keys(env);
  } catch {
    // keys unknown
  }
  return `env has no KV namespace binding${keys.length > 0 ? ` (its keys: ${keys.sort().join(", ")})` : ""}: add one to wrangler.toml ([[kv_namespaces]] binding = "…")`;
}

/**
 * The binding name of a `cloudflare-kv://NAME` URL (without its query), `""` when none is given.
 * @param url The setup URL without its query string.
 * @returns The binding name, e.g. `"CACHE_KV"`.
 * @throws {CacheConfigError} A URL that is not `cloudflare-kv://NAME`.
 * @example
 * kvBindingName("cloudflare-kv://CACHE_KV"); // "CACHE_KV"
 * kvBindingName("cloudflare-kv://");         // ""
 */
export function kvBindingName(url: string): string {
  const match = /^cloudflare-kv:\/\/(.*)$/is.exec(url) ?? fail(`${JSON.stringify(url)} is not a cloudflare-kv:// URL`);
  const name = match[1]!.replace(/\/$/, "");
  if (name !== "" && !/^[A-Za-z_$][\w$]*$/.test(name)) {
    fail(`${JSON.stringify(name)} is not a binding name: use the name of a KV namespace binding (wrangler.toml's [[kv_namespaces]] binding), e.g. "cloudflare-kv://CACHE_KV"`);
  }
  return name;
}

/**
 * Resolves the KV namespace of a `cloudflare-kv://NAME` setup: the `binding` option when given
 * (NAME may then be omitted), else `env[NAME]`.
 * @param url The setup URL without its query string.
 * @param options The converted scheme options (`binding`, `env`, …).
 * @returns The binding and its name (`""` when a binding was passed without a name).
 * @throws {CacheConfigError} No binding or env, a NAME missing from env, or a value that is not a
 * KV namespace, naming the KV bindings env does have.
 * @example
 * resolveKvBinding("cloudflare-kv://CACHE_KV", { env }); // { binding: env.CACHE_KV, name: "CACHE_KV" }
 * resolveKvBinding("cloudflare-kv://", { binding: env.CACHE_KV }); // { binding: env.CACHE_KV, name: "" }
 */
export function resolveKvBinding(url: string, options: Record<string, unknown>): { binding: KvNamespaceLike; name: string } {
  const name = kvBindingName(url);
  const { binding, env } = options;
  if (binding !== undefined) {
    if (!isKvNamespace(binding)) {
      fail(`option "binding" must be a KV namespace binding (env.${name || "MY_KV"}), got ${describe(binding)}`);
    }
    return { binding, name };
  }
  if (env !== undefined) {
    if (typeof env !== "object" || env === null) fail(`option "env" must be the Worker's env object, got ${describe(env)}`);
    if (name === "") {
      fail(`the URL names no binding: use "cloudflare-kv://NAME" with the name of a KV namespace binding (${candidates(env)})`);
    }
    let value: unknown;
    try {
      value = (env as Record<string, unknown>)[name];
    } catch (error) {
      fail(`env.${name} could not be read`, { cause: error });
    }
    if (value === undefined) fail(`env has no binding ${JSON.stringify(name)} (${candidates(env)})`);
    if (!isKvNamespace(value)) fail(`env.${name} is not a KV namespace binding, got ${describe(value)} (${candidates(env)})`);
    return { binding: value, name };
  }
  return fail(
    `no KV namespace for ${JSON.stringify(`cloudflare-kv://${name}`)}: set the cache up in withCache (from "cashews/workers"), which passes the Worker's env, or pass it yourself: setup("cloudflare-kv://${name || "NAME"}", { env }) or setup(url, { binding: env.${name || "NAME"} })`,
  );
}

/**
 * Options of the `cloudflare-kv://NAME` scheme (plus the common ones: `prefix`, `enable`,
 * `secret`, `safe`, `timeout` (no bound unless given), `serializer`):
 *
 * - `env`: the Worker's env (bindings); `env[NAME]` is the KV namespace. `withCache` passes it.
 * - `binding`: the KV namespace itself (`env.CACHE_KV`); NAME may then be omitted.
 * - `namespace` (default `"cashews"`): keys are stored as `<namespace>:<key>`, so `clear()` removes
 *   only ours; `""` stores keys verbatim (and `clear()` empties the KV namespace).
 * - `cacheTtl` (a duration ≥ 30 s, default none): KV's edge read cache: a location may answer a
 *   read from its cache for this long, so reads may be that much staler (deletes and rewrites too).
 *
 * Capabilities: listing and exact expiry; no atomic operation, no lock, no strong consistency.
 * `validate` resolves the binding without I/O, so a missing or wrong binding is a
 * {@link CacheConfigError} at `setup`.
 * @example
 * cloudflareKvSpec.schemes;              // ["cloudflare-kv"]
 * Object.keys(cloudflareKvSpec.options); // ["env", "binding", "namespace", "cacheTtl"]
 */
export const cloudflareKvSpec: Omit<SchemeSpec, "module"> = {
  // A local tier in front (`local`): no long-lived channel in Workers, so its ttl is the staleness bound.
  local: localOption,
  schemes: ["cloudflare-kv"],
  options: {
    env: { kind: "object" },
    binding: { kind: "object" },
    namespace: { kind: "string", default: "cashews" },
    cacheTtl: { kind: "duration" },
  },
  capabilities: { atomic: false, locks: false, listing: true, exactExpiry: true, strongConsistency: false },
  refuse: (capability, command) => capabilityError("cloudflare-kv", capability, command, WHY),
  validate(config: BackendConfig): void {
    resolveKvBinding(config.url, config.options);
    const cacheTtl = config.options.cacheTtl;
    if (cacheTtl !== undefined && (typeof cacheTtl !== "number" || !(cacheTtl >= MIN_CACHE_TTL_MS) || !Number.isFinite(cacheTtl))) {
      fail(`option "cacheTtl" must be a duration of at least 30s (KV's minimum), got ${String(cacheTtl)} ms`);
    }
  },
};

/**
 * The refusal of a command on `cloudflare-kv://`: a {@link CacheCapabilityError} saying why and what to use instead.
 * @example
 * throw kvRefusal("atomic", "incr");
 */
export function kvRefusal(capability: "atomic" | "locks", command: string): Error {
  return capabilityError("cloudflare-kv", capability, command, WHY);
}
