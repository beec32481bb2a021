/**
 * A custom backend, as a user would write one with `defineBackend` and `registerBackend`: a `Map`
 * behind a simulated network delay, shared by every cache set up on the same `namespace` (like a
 * network store), with get/set/delete, expiry and (unless `listing: false`) `keys`, from which the
 * cache derives scan, deleteMatch, getKeysCount and clear. It implements
 * no atomic operation and no lock, so counters, rate limits, tags and locks are refused on it with
 * a `CacheCapabilityError`. `npm test` checks it with the conformance suite (`cashews/testing`),
 * both with and without listing (test/conformance/custom.test.ts).
 *
 *   import { registerMapBackend } from "./map-backend.js";
 *   registerMapBackend();
 *   cache.setup("map://?delay=2ms&namespace=app");
 */
import { defineBackend, registerBackend, type Backend } from "../../src/core.js";

interface Entry {
  value: string;
  /** Epoch ms; undefined: no expiry. */
  expiresAt: number | undefined;
}

/** The stores, one per namespace, shared by every backend on it (a "server"). */
const stores = new Map<string, Map<string, Entry>>();

/** Options of {@link mapBackend}. */
export interface MapBackendOptions {
  /** Simulated network delay per command, in ms (default 0: the next macrotask). */
  delayMs?: number;
  /** Which store (default ""). */
  namespace?: string;
  /** Offer `scan` (and with it deleteMatch, getKeysCount, clear). Default true. */
  listing?: boolean;
}

/** A backend over a shared `Map`, with a simulated network delay. */
export function mapBackend(options: MapBackendOptions = {}): Backend {
  const { delayMs = 0, namespace = "", listing = true } = options;
  const map = stores.get(namespace) ?? new Map<string, Entry>();
  stores.set(namespace, map);
  const network = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, delayMs));
  const live = (key: string): Entry | undefined => {
    const entry = map.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      map.delete(key);
      return undefined;
    }
    return entry;
  };
  const at = (expireMs: number | undefined): number | undefined => (expireMs === undefined ? undefined : Date.now() + expireMs);
  return defineBackend({
    kind: "map",
    async get(key) {
      await network();
      return live(key)?.value;
    },
    async set(key, value, expireMs, exist) {
      await network();
      // `exist` (NX/XX) is never given: without atomic operations the cache refuses it first.
      void exist;
      map.set(key, { value: value as string, expiresAt: at(expireMs) });
      return true;
    },
    async delete(key) {
      await network();
      const had = live(key) !== undefined;
      map.delete(key);
      return had;
    },
    async getExpire(key) {
      await network();
      const entry = live(key);
      return entry === undefined ? -2 : entry.expiresAt === undefined ? -1 : Math.max(0, entry.expiresAt - Date.now());
    },
    async expire(key, expireMs) {
      await network();
      const entry = live(key);
      if (entry === undefined) return false;
      entry.expiresAt = at(expireMs);
      return true;
    },
    ...(listing && {
      async *keys(prefix: string) {
        await network();
        for (const key of [...map.keys()]) if (key.startsWith(prefix) && live(key) !== undefined) yield key;
      },
    }),
  });
}

/**
 * Registers `map://` (options `delay`, `namespace`, `listing`) for `cache.setup("map://…")`.
 * @example
 * registerMapBackend();
 * cache.setup("map://?delay=1ms&namespace=tests");
 */
export function registerMapBackend(): void {
  registerBackend(
    "map",
    (config) =>
      mapBackend({
        delayMs: config.options.delay as number | undefined,
        namespace: config.options.namespace as string,
        listing: config.options.listing as boolean,
      }),
    {
      options: {
        delay: { kind: "duration" },
        namespace: { kind: "string", default: "" },
        listing: { kind: "boolean", default: true },
      },
      // Known without creating a backend: strategies that need these are refused at wrap time.
      capabilities: { atomic: false, locks: false },
    },
  );
}
