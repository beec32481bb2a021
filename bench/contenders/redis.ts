/**
 * Redis tier (and the signed tier): hits on a local redis-server, each contender in its own
 * database, 1 h TTL. Clients are created the way each library's docs show (no auto-pipelining
 * unless said).
 */
import { Redis } from "ioredis";
import { Cache } from "../../src/index.js";
import "../../src/redis.js";
import { KEYS, keys, load, value, withDb, type Env, type Factory } from "../lib/common.js";

const peer = (name: string): Promise<any> => import(name);
const HOUR_MS = 3_600_000;
const url = (env: Env): string => withDb(env.redisUrl!, env.db);

/** Raw ioredis: GET + JSON.parse; a missing key counts as a load (it must never happen). */
async function raw(env: Env) {
  const plain = new Redis(url(env));
  const pipelined = new Redis(url(env), { enableAutoPipelining: true });
  const reader = (client: Redis) => async (i: number) => {
    const text = await client.get(keys[i]!);
    return text === null ? load(i) : JSON.parse(text);
  };
  return {
    call: reader(plain),
    callFlight: reader(pipelined),
    async warm() {
      const pipeline = plain.pipeline();
      for (let i = 0; i < KEYS; i++) pipeline.set(keys[i]!, JSON.stringify(value(i)), "EX", 3600);
      await pipeline.exec();
    },
    async close() {
      plain.disconnect();
      pipelined.disconnect();
    },
  };
}

function cashews(options: Record<string, unknown> = {}): Factory {
  return async (env) => {
    const cache = new Cache("bench").setup(url(env), options);
    const call = cache({ ttl: "1h", key: "item:{i}" })(load);
    return { call, close: () => cache.close() };
  };
}

export const factories: Record<string, Factory> = {
  floor: raw,
  cashews: cashews(),
  async "floor-timer"(env) {
    // The floor, plus what a pending command timeout adds to the event loop: one armed timer.
    const base = await raw(env);
    const timer = setInterval(() => {}, 500);
    return {
      ...base,
      async close() {
        clearInterval(timer);
        await base.close();
      },
    };
  },
  "cashews-unbounded": cashews({ timeout: 0 }),

  async bentocache(env) {
    const { BentoCache, bentostore } = await peer("bentocache");
    const { redisDriver } = await peer("bentocache/drivers/redis");
    const client = new Redis(url(env));
    const bento = new BentoCache({ default: "redis", stores: { redis: bentostore().useL2Layer(redisDriver({ connection: client })) } });
    return {
      call: (i) => bento.getOrSet({ key: keys[i]!, factory: () => load(i), ttl: "1h" }),
      async close() {
        await bento.disconnectAll();
        client.disconnect();
      },
    };
  },

  async "cache-manager"(env) {
    const { createCache } = await peer("cache-manager");
    const { createKeyv } = await peer("@keyv/redis");
    const cache = createCache({ stores: [createKeyv(url(env))], ttl: HOUR_MS });
    return {
      call: (i) => cache.wrap(keys[i]!, () => load(i), HOUR_MS),
      close: () => cache.disconnect(),
    };
  },

  async "async-cache-dedupe"(env) {
    const { createCache } = await peer("async-cache-dedupe");
    const client = new Redis(url(env));
    const cache = createCache({ ttl: 3600, storage: { type: "redis", options: { client } } });
    cache.define("item", (i: number) => load(i));
    return {
      call: (i) => cache.item(i),
      async close() {
        client.disconnect();
      },
    };
  },
};

/** Signed tier: cashews redis:// without and with `secret` (HMAC-SHA256 over every value). */
export const signedFactories: Record<string, Factory> = {
  floor: cashews(),
  signed: cashews({ secret: "bench-secret-0123456789" }),
};


/** Client-side tier: plain cashews redis:// against the same with `clientSide` (a local copy kept coherent by Redis). */
export const clientSideFactories: Record<string, Factory> = {
  floor: cashews(),
  clientSide: cashews({ clientSide: true }),
};
