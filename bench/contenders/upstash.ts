/**
 * Upstash tier: hits over HTTP on the project's Upstash-compatible REST server (in the parent
 * process, in front of the tier's redis-server), which counts the requests. With the local tier
 * (issue 16): cashews with `local` (hits served from the in-process copy, kept coherent by the
 * invalidation bus), a `mem://` cashews row for reference (the "within 1.5× of a mem:// hit" target
 * is computed against it in the same run) and bentocache's memory L1 + Redis L2 + Redis bus as the
 * peer of the local tier.
 */
import { Redis } from "@upstash/redis";
import { Cache } from "../../src/index.js";
import "../../src/upstash.js";
import { KEYS, keys, load, value, withDb, type Factory } from "../lib/common.js";
import { factories as memory } from "./memory.js";

const peer = (name: string): Promise<any> => import(name);

/** The REST server's URL as a cashews setup URL (plain http: `upstash+http://`). */
export const upstashEndpoint = (url: string): string => url.replace(/^http:/, "upstash+http:");

/** ioredis connection options (host, port, db) from `redis://host:port` and a db. */
export function redisConnection(url: string, db = 0): { host: string; port: number; db: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 6379), db };
}

export const factories: Record<string, Factory> = {
  /** Raw @upstash/redis: GET + JSON.parse, its auto-pipelining on, automatic deserialisation off. */
  async floor(env) {
    const redis = new Redis({ url: env.upstashUrl!, token: env.upstashToken!, automaticDeserialization: false, enableAutoPipelining: true });
    const key = (i: number) => `raw:${keys[i]}`;
    return {
      async call(i) {
        const text = await redis.get<string>(key(i));
        return text === null ? load(i) : JSON.parse(text);
      },
      async warm() {
        const pipeline = redis.pipeline();
        for (let i = 0; i < KEYS; i++) pipeline.set(key(i), JSON.stringify(value(i)), { ex: 3600 });
        await pipeline.exec();
      },
      async close() {},
    };
  },

  async cashews(env) {
    const cache = new Cache("bench").setup(upstashEndpoint(env.upstashUrl!), { token: env.upstashToken! });
    const call = cache({ ttl: "1h", key: "item:{i}" })(load);
    return { call, close: () => cache.close() };
  },

  /**
   * cashews with the local tier: `local: { ttl: "1h" }` (the object form of `?local=1&localTtl=1h`),
   * so that every timed call is a local hit (the default local ttl of 5 s would re-read each of the
   * 1000 keys from Upstash once per 5 s). Own namespace: its own keys and invalidation channel.
   */
  async "cashews-local"(env) {
    const cache = new Cache("bench").setup(upstashEndpoint(env.upstashUrl!), { token: env.upstashToken!, namespace: "bench-local", local: { ttl: "1h" } });
    const call = cache({ ttl: "1h", key: "item:{i}" })(load);
    return { call, close: () => cache.close() };
  },

  /** For reference: the memory tier's cashews `mem://?size=10000` row, run here so the local rows compare with it in the same run. */
  "cashews-mem": memory.cashews!,

  /**
   * bentocache with its documented hybrid setup: memory L1, Redis L2, Redis bus (its defaults: L1
   * entries serialized). Not also with `serialize: false`: in 1.6.1 an L1 with `serialize: false`
   * over an L2 throws `Cannot read properties of undefined (reading 'deserialize')` as soon as it
   * reads an entry another instance wrote to the L2 (`CacheEntry.fromDriver` without a serializer
   * on a string), which is the case a bus exists for.
   */
  bentocache: bento({}),
};

function bento(memoryOptions: Record<string, unknown>): Factory {
  return async (env) => {
    const { BentoCache, bentostore } = await peer("bentocache");
    const { memoryDriver } = await peer("bentocache/drivers/memory");
    const { redisDriver, redisBusDriver } = await peer("bentocache/drivers/redis");
    const { Redis: IORedis } = await import("ioredis");
    const client = new IORedis(withDb(env.redisUrl!, env.db));
    const bus = redisBusDriver({ connection: redisConnection(env.redisUrl!, env.db) });
    const store = bentostore()
      .useL1Layer(memoryDriver({ maxItems: 10_000, ...memoryOptions }))
      .useL2Layer(redisDriver({ connection: client }))
      .useBus(bus);
    const cache = new BentoCache({ default: "hybrid", stores: { hybrid: store } });
    return {
      call: (i) => cache.getOrSet({ key: keys[i]!, factory: () => load(i), ttl: "1h" }),
      async close() {
        await cache.disconnectAll();
        client.disconnect();
      },
    };
  };
}
