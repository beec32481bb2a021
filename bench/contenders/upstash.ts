/**
 * Upstash tier: hits over HTTP on the project's Upstash-compatible REST server (in the parent
 * process, in front of the tier's redis-server), which counts the requests.
 */
import { Redis } from "@upstash/redis";
import { Cache } from "../../src/index.js";
import "../../src/upstash.js";
import { KEYS, keys, load, value, type Factory } from "../lib/common.js";

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
    const endpoint = env.upstashUrl!.replace(/^http:/, "upstash+http:");
    const cache = new Cache("bench").setup(endpoint, { token: env.upstashToken! });
    const call = cache({ ttl: "1h", key: "item:{i}" })(load);
    return { call, close: () => cache.close() };
  },
};
