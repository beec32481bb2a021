/**
 * Memory tier: every contender memoises `load` over the 1000 keys with its natural API, 1 h TTL,
 * room for 10000 entries where the store takes a bound.
 */
import { LRUCache } from "lru-cache";
import { Cache } from "../../src/index.js";
import { keys, load, type Factory, type Item } from "../lib/common.js";

// Peers are loaded by name, so the root typecheck never needs bench/node_modules.
const peer = (name: string): Promise<any> => import(name);
const HOUR_MS = 3_600_000;

export const factories: Record<string, Factory> = {
  /** The floor: an async function around lru-cache's get (set on a miss). */
  async floor() {
    const lru = new LRUCache<string, Item>({ max: 10_000 });
    return {
      async call(i) {
        const hit = lru.get(keys[i]!);
        if (hit !== undefined) return hit;
        const fresh = await load(i);
        lru.set(keys[i]!, fresh);
        return fresh;
      },
      async close() {},
    };
  },

  async cashews() {
    const cache = new Cache("bench").setup("mem://?size=10000");
    const call = cache({ ttl: "1h", key: "item:{i}" })(load);
    return { call, close: () => cache.close() };
  },

  async bentocache() {
    const { BentoCache, bentostore } = await peer("bentocache");
    const { memoryDriver } = await peer("bentocache/drivers/memory");
    const bento = new BentoCache({ default: "memory", stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })) } });
    return {
      call: (i) => bento.getOrSet({ key: keys[i]!, factory: () => load(i), ttl: "1h" }),
      close: () => bento.disconnectAll(),
    };
  },

  async "bentocache-live"() {
    const { BentoCache, bentostore } = await peer("bentocache");
    const { memoryDriver } = await peer("bentocache/drivers/memory");
    const bento = new BentoCache({
      default: "memory",
      stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000, serialize: false })) },
    });
    return {
      call: (i) => bento.getOrSet({ key: keys[i]!, factory: () => load(i), ttl: "1h" }),
      close: () => bento.disconnectAll(),
    };
  },

  async "cache-manager"() {
    const { createCache } = await peer("cache-manager");
    const cache = createCache({ ttl: HOUR_MS }); // default store: an in-memory Keyv
    return {
      call: (i) => cache.wrap(keys[i]!, () => load(i), HOUR_MS),
      close: () => cache.disconnect(),
    };
  },

  async cacheable() {
    const { Cacheable } = await peer("cacheable");
    const cache = new Cacheable(); // default primary: @cacheable/memory
    const call = cache.wrap(load, { ttl: "1h", keyPrefix: "item" });
    return { call, close: () => cache.disconnect() };
  },

  async cachified() {
    const { cachified, totalTtl } = await peer("@epic-web/cachified");
    // The adapter from cachified's README, around lru-cache.
    const lruInstance = new LRUCache<string, any>({ max: 10_000 });
    const lru = {
      set(key: string, entry: any) {
        const ttl = totalTtl(entry?.metadata);
        return lruInstance.set(key, entry, { ttl: ttl === Infinity ? undefined : ttl, start: entry?.metadata?.createdTime });
      },
      get: (key: string) => lruInstance.get(key),
      delete: (key: string) => lruInstance.delete(key),
    };
    return {
      call: (i) => cachified({ key: keys[i]!, cache: lru, getFreshValue: () => load(i), ttl: HOUR_MS }),
      async close() {},
    };
  },

  async "async-cache-dedupe"() {
    const { createCache } = await peer("async-cache-dedupe");
    const cache = createCache({ ttl: 3600, storage: { type: "memory", options: { size: 10_000 } } });
    cache.define("item", (i: number) => load(i));
    return { call: (i) => cache.item(i), async close() {} };
  },
};
