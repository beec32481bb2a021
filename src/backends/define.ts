/**
 * Backends anyone can add: {@link defineBackend} turns a small implementation (get, set, delete and
 * expiry) into a full {@link Backend}, deriving the rest and refusing what it cannot do with a
 * {@link CacheCapabilityError}; {@link registerBackend} makes it a setup URL scheme.
 * @module
 */
import { CacheConfigError } from "../errors.js";
import { registerScheme, type OptionSpec } from "../config/registry.js";
import { capabilityError, type BackendCapabilities, type Capability } from "./capabilities.js";
import { MISSING, type Backend, type BackendConfig } from "./types.js";
import { compileGlob, literalPrefix } from "./glob.js";
import { carries, withTags } from "./tagged.js";

/**
 * What a custom backend implements. Required: `get`, `set`, `delete`, `getExpire`, `expire`. The
 * rest is optional: many-key commands, `exists`, `ping`, `init`/`close` are derived from the
 * required ones; with `keys` the listing commands (`scan`, `deleteMatch`, `getKeysCount`, `clear`)
 * are derived from it (glob patterns matched for you, with Redis semantics), without it they are
 * refused; without `incr`, `slidingIncr`, `tagAdd`/`tagPop` or
 * `setLock`/`unlock`, the commands and strategies that need them are refused (counters and rate
 * limits, tags, locks), and so are the set commands (`setAdd`, `setRemove`, `setPop`,
 * `setMembers`) each one it lacks. Implement an optional command only if it is atomic across every client of
 * the store. Semantics of each method: those of {@link Backend}. Values are strings (encoded by the
 * cache above); `get` may answer `undefined` for a missing key.
 *
 * Tags: a key's tags travel in a header in front of its stored string (`set` receives the text
 * with it), and `tagDelete` is derived from `get` and `unlock` (compare-and-delete: a key written
 * again without the tag is never deleted); `incr` with tags is refused. A definition that
 * implements `tagDelete` itself owns the tags instead: `set` and `incr` receive them as their
 * last argument.
 * @example
 * const backend = defineBackend({
 *   kind: "map",
 *   async get(key) { return live(key)?.value; },
 *   async set(key, value, expireMs, exist) { … },
 *   async delete(key) { return map.delete(key); },
 *   async getExpire(key) { … },
 *   async expire(key, expireMs) { … },
 * });
 */
export interface BackendDefinition
  extends Pick<Backend, "set" | "delete" | "getExpire" | "expire">,
    Partial<Omit<Backend, "kind" | "get" | "set" | "delete" | "getExpire" | "expire" | "capabilities" | "storesValues" | "scan" | "peek" | "peekDecoded" | "keep">> {
  /** Short name for events, stats and errors (default `"custom"`). */
  kind?: string;
  /** The stored value (a string), or `undefined` (or {@link MISSING}) for a missing or expired key. */
  get(key: string): Promise<unknown>;
  /**
   * The live keys starting with `prefix` (`""`: all), each at least once; keys that do not start
   * with it may be yielded too (they are filtered out). Makes the store list its keys.
   */
  keys?(prefix: string): AsyncIterable<string>;
  /**
   * Overrides the capabilities derived from the methods given (e.g. `strongConsistency: false`
   * for a store whose reads may lag behind writes).
   */
  capabilities?: Partial<BackendCapabilities>;
}

/** The commands each capability covers, refused when the definition lacks them. */
const NEEDS: Readonly<Record<string, Capability>> = {
  incr: "atomic",
  slidingIncr: "atomic",
  limit: "atomic",
  tagAdd: "atomic",
  tagPop: "atomic",
  tagDelete: "atomic",
  setLock: "locks",
  unlock: "locks",
  keys: "listing",
  scan: "listing",
  deleteMatch: "listing",
  getKeysCount: "listing",
  clear: "listing",
};

/**
 * A full {@link Backend} from a small implementation (see {@link BackendDefinition}): derived
 * many-key commands, listing commands derived from `keys`, and commands the definition lacks
 * refused with a {@link CacheCapabilityError} naming the backend and the capability.
 * @example
 * const map = new Map<string, { value: string; expiresAt?: number }>();
 * const live = (key: string) => { const e = map.get(key); return e && (e.expiresAt ?? Infinity) > Date.now() ? e : undefined; };
 * const backend = defineBackend({
 *   kind: "map",
 *   async get(key) { return live(key)?.value; },
 *   async set(key, value, expireMs, exist) {
 *     if (exist !== undefined && exist !== (live(key) !== undefined)) return false;
 *     map.set(key, { value: value as string, expiresAt: expireMs === undefined ? undefined : Date.now() + expireMs });
 *     return true;
 *   },
 *   async delete(key) { const had = live(key) !== undefined; map.delete(key); return had; },
 *   async getExpire(key) { const e = live(key); return e === undefined ? -2 : e.expiresAt === undefined ? -1 : e.expiresAt - Date.now(); },
 *   async expire(key, expireMs) { const e = live(key); if (!e) return false; e.expiresAt = expireMs === undefined ? undefined : Date.now() + expireMs; return true; },
 * });
 */
export function defineBackend(definition: BackendDefinition): Backend {
  if (typeof definition !== "object" || definition === null) {
    throw new CacheConfigError(`defineBackend: expected an object with get, set, delete, getExpire and expire, got ${definition === null ? "null" : typeof definition}`);
  }
  const kind = definition.kind ?? "custom";
  for (const name of ["get", "set", "delete", "getExpire", "expire"] as const) {
    if (typeof definition[name] !== "function") throw new CacheConfigError(`defineBackend (${kind}): "${name}" must be a function`);
  }
  const def = definition as BackendDefinition & Record<string, unknown>;
  const has = (name: string): boolean => typeof def[name] === "function";
  // Derived from the methods given (what is missing is refused); the rest only as declared.
  const capabilities: Partial<BackendCapabilities> = {
    atomic: has("incr") && has("slidingIncr") && has("tagAdd") && has("tagPop"),
    locks: has("setLock") && has("unlock"),
    listing: has("keys"),
    ...definition.capabilities,
  };
  // A definition with its own tagDelete keeps the tags itself (no header on its strings).
  const ownsTags = has("tagDelete");
  const get = async (key: string): Promise<unknown> => {
    const value = await definition.get(key);
    return value === undefined ? MISSING : value;
  };
  const list = definition.keys?.bind(definition);
  const scan = list
    ? async function* (pattern: string): AsyncIterable<string> {
        const matches = compileGlob(pattern);
        for await (const key of list(literalPrefix(pattern))) if (matches(key)) yield key;
      }
    : undefined;
  const keysOf = async (pattern: string): Promise<string[]> => {
    const keys = new Set<string>();
    for await (const key of scan!(pattern)) keys.add(key);
    return [...keys];
  };
  const deleteMany = definition.deleteMany?.bind(definition) ?? (async (keys: readonly string[]) => (await Promise.all(keys.map((k) => definition.delete(k)))).filter(Boolean).length);
  const backend: Backend = {
    kind,
    storesValues: false,
    capabilities,
    init: async () => definition.init?.(),
    close: async () => definition.close?.(),
    get,
    getMany: definition.getMany ? async (keys) => (await definition.getMany!(keys)).map((v) => (v === undefined ? MISSING : v)) : (keys) => Promise.all(keys.map(get)),
    // A conditional write (NX/XX) is atomic only on a store with atomic operations. Tags: see
    // BackendDefinition (a header on the text, unless the definition owns them).
    set: capabilities.atomic
      ? ownsTags
        ? definition.set.bind(definition)
        : (key, value, expireMs, exist, tags) => definition.set(key, tags === undefined ? value : withTags(value as string, tags), expireMs, exist)
      : (key, value, expireMs, exist) => (exist === undefined ? definition.set(key, value, expireMs) : Promise.reject(capabilityError(kind, "atomic", "set with exist (NX/XX)"))),
    setMany: definition.setMany?.bind(definition) ?? (async (entries, expireMs) => void (await Promise.all(entries.map(([k, v]) => definition.set(k, v, expireMs))))),
    delete: definition.delete.bind(definition),
    deleteMany,
    exists: definition.exists?.bind(definition) ?? (async (key) => (await get(key)) !== MISSING),
    getExpire: definition.getExpire.bind(definition),
    expire: definition.expire.bind(definition),
    ping: definition.ping?.bind(definition) ?? (async (message) => message ?? "PONG"),
    scan: scan ?? refuse(kind, "scan"),
    deleteMatch: definition.deleteMatch?.bind(definition) ?? (scan ? async (pattern) => deleteMany(await keysOf(pattern)) : refuse(kind, "deleteMatch")),
    getKeysCount: definition.getKeysCount?.bind(definition) ?? (scan ? async () => (await keysOf("*")).length : refuse(kind, "getKeysCount")),
    clear: definition.clear?.bind(definition) ?? (scan ? async () => void (await deleteMany(await keysOf("*"))) : refuse(kind, "clear")),
    incr: !definition.incr
      ? refuse(kind, "incr")
      : ownsTags
        ? definition.incr.bind(definition)
        : (key, by, expireMs, tags) =>
            tags === undefined || tags.length === 0 ? definition.incr!(key, by, expireMs) : Promise.reject(capabilityError(kind, "atomic", "incr with tags (implement tagDelete to keep tags yourself)")),
    slidingIncr: definition.slidingIncr?.bind(definition) ?? refuse(kind, "slidingIncr"),
    limit: definition.limit?.bind(definition) ?? refuse(kind, "limit"),
    tagAdd: definition.tagAdd?.bind(definition) ?? refuse(kind, "tagAdd"),
    tagPop: definition.tagPop?.bind(definition) ?? refuse(kind, "tagPop"),
    tagDelete: ownsTags
      ? definition.tagDelete!.bind(definition)
      : capabilities.atomic && has("unlock")
        ? async (tag, keys) => {
            // Compare-and-delete of the text read: a key written again meanwhile stays.
            const raws = await Promise.all(keys.map(get));
            const deleted = await Promise.all(keys.map((key, i) => (carries(raws[i], tag) ? definition.unlock!(key, raws[i] as string) : false)));
            return deleted.filter(Boolean).length;
          }
        : refuse(kind, "tagDelete"),
    setLock: definition.setLock?.bind(definition) ?? refuse(kind, "setLock"),
    unlock: definition.unlock?.bind(definition) ?? refuse(kind, "unlock"),
  };
  // Set commands: only those the definition has (the cache refuses the others).
  for (const name of ["setAdd", "setRemove", "setPop", "setMembers"] as const) {
    if (has(name)) (backend as unknown as Record<string, unknown>)[name] = (def[name] as (...args: unknown[]) => unknown).bind(definition);
  }
  return backend;
}

/** A command the definition lacks: rejects (`scan`: throws on iteration) with the capability error. */
function refuse(kind: string, command: string): (...args: never[]) => never {
  const error = (): Error => capabilityError(kind, NEEDS[command]!, command);
  return (command === "scan" ? async function* () { throw error(); } : () => Promise.reject(error())) as never;
}

/** Options of {@link registerBackend}. */
export interface RegisterBackendOptions {
  /**
   * The scheme's own setup options (URL query parameters or the options object) and their kinds:
   * `"string"`, `"int"` (with `min`), `"boolean"`, `"duration"` (to ms), `"object"`; validated at
   * `setup`, with `default` applied. Other names are refused at setup.
   */
  options?: Readonly<Record<string, OptionSpec>>;
  /** What the backend can do, when known without creating it: lets strategies be refused at wrap time. */
  capabilities?: Partial<BackendCapabilities>;
  /** Checks the URL and options at `setup` (throw {@link CacheConfigError} for what is wrong). */
  validate?: (config: BackendConfig) => void;
}

const SCHEME = /^[a-z][a-z0-9+.-]*$/;
/** The schemes cashews defines: never replaced by a custom backend. */
const BUILT_IN = /^(mem|redis|rediss|redis\+cluster|upstash|upstash\+http|cloudflare-kv|cloudflare-cache|deno-kv)$/;

/**
 * Makes `scheme://` a setup URL for a custom backend: `cache.setup("scheme://…", options)` then
 * calls `factory({ url, options })` on first use (`url` without its query string, `options` the
 * validated scheme options, plus `timeout`). Registering the same scheme again replaces it; the
 * built-in schemes cannot be replaced.
 * @example
 * registerBackend("map", () => defineBackend({ kind: "map", get, set, delete: del, getExpire, expire }));
 * cache.setup("map://");
 */
export function registerBackend(scheme: string, factory: (config: BackendConfig) => Backend, options: RegisterBackendOptions = {}): void {
  if (typeof scheme !== "string" || !SCHEME.test(scheme)) {
    throw new CacheConfigError(`registerBackend: the scheme must be lowercase letters, digits, "+", "-" or "." starting with a letter, without "://", got ${JSON.stringify(scheme)}`);
  }
  if (BUILT_IN.test(scheme)) throw new CacheConfigError(`registerBackend: "${scheme}://" is a built-in scheme; choose another name`);
  if (typeof factory !== "function") throw new CacheConfigError(`registerBackend("${scheme}"): the factory must be a function (config) => Backend`);
  registerScheme({
    schemes: [scheme],
    options: options.options ?? {},
    module: {
      create(config) {
        const backend = factory(config);
        if (typeof backend?.get !== "function" || typeof backend.set !== "function") {
          throw new CacheConfigError(`${scheme}://: the factory must return a backend (use defineBackend), got ${backend === null ? "null" : typeof backend}`);
        }
        return backend;
      },
    },
    capabilities: options.capabilities,
    refuse: (capability, command) => capabilityError(scheme, capability, command),
    validate: options.validate,
  });
}
