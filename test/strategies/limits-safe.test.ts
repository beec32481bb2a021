// Safe mode for the limit strategies: with the server stopped, rate limits allow, the circuit
// breaker counts nothing and stays closed, perf never marks; no backend error reaches the caller.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cache, CacheBackendError, CircuitBreakerOpenError, type CacheEventInfo } from "../../src/index.js";
import { hasRedisServer, startRedis, type RedisServer } from "../support/redis-server.js";
import { startUpstashServer, type UpstashServer } from "../support/upstash-server.js";

const TIMEOUT = 300;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
class Boom extends Error {}

interface Down {
  name: string;
  /** Starts the servers; resolves the cache's URL and options. */
  start(): Promise<{ url: string; options: Record<string, unknown> }>;
  /** Stops the backend the cache talks to. */
  down(): Promise<void>;
  /** Stops everything left. */
  cleanup(): Promise<void>;
}

let redis: RedisServer | undefined;
let upstash: UpstashServer | undefined;

const backends: Down[] = [
  {
    name: "redis://",
    async start() {
      redis = await startRedis();
      return { url: redis.url, options: { timeout: TIMEOUT } };
    },
    down: async () => redis?.stop(),
    cleanup: async () => redis?.stop(),
  },
  {
    name: "upstash://",
    async start() {
      redis = await startRedis();
      upstash = await startUpstashServer({ redisUrl: redis.url });
      return { url: upstash.url.replace(/^http:/, "upstash+http:"), options: { token: upstash.token, timeout: TIMEOUT } };
    },
    down: async () => upstash?.stop(),
    async cleanup() {
      await upstash?.stop();
      await redis?.stop();
    },
  },
];

for (const backend of backends) {
  describe.skipIf(!hasRedisServer())(`limit strategies in safe mode on ${backend.name}`, () => {
    let cache: Cache;
    let unsafe: Cache;
    const errors: CacheEventInfo[] = [];

    beforeAll(async () => {
      const { url, options } = await backend.start();
      cache = new Cache("safe").setup(url, options);
      unsafe = new Cache("unsafe").setup(url, { ...options, safe: false });
      cache.on("error", (e) => errors.push(e));
      await cache.init();
    });
    afterAll(async () => {
      await cache?.close();
      await unsafe?.close();
      await backend.cleanup();
    });

    it("fails open while the backend is down, reporting errors", async () => {
      let calls = 0;
      const limited = cache.rateLimit({ limit: 1, period: "1m", key: "rl" })(async () => ++calls);
      const sliding = cache.slidingRateLimit({ limit: 1, period: "1m", key: "srl" })(async () => ++calls);
      const failing = cache.circuitBreaker({ errorsRate: 1, period: "1m", ttl: "1m", key: "cb" })(async () => {
        calls++;
        throw new Boom("down");
      });
      let delay = 5;
      const timed = cache.perf({ ttl: "1m", window: 2, key: "perf" })(async () => {
        await sleep(delay);
        return ++calls;
      });
      // Up: the limits hold.
      await limited();
      await expect(limited()).rejects.toThrow("rate limit");

      await backend.down();
      errors.length = 0;
      const started = performance.now();
      for (let i = 0; i < 3; i++) {
        await expect(limited()).resolves.toBeTypeOf("number");
        await expect(sliding()).resolves.toBeTypeOf("number");
        // Every call reaches the function: the breaker counts nothing and stays closed.
        const error = await failing().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(Boom);
        expect(error).not.toBeInstanceOf(CircuitBreakerOpenError);
      }
      await timed();
      await timed();
      delay = 200;
      await timed(); // slow, but nothing can be marked
      delay = 5;
      await expect(timed()).resolves.toBeTypeOf("number");
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((e) => e.type === "error")).toBe(true);
      // Bounded by the command timeout: nobody hangs.
      expect(performance.now() - started).toBeLessThan(20 * (TIMEOUT + 500));

      // safe: false: the backend failure reaches the caller instead.
      const strict = unsafe.rateLimit({ limit: 1, period: "1m", key: "rl" })(async () => 1);
      await expect(strict()).rejects.toThrow(CacheBackendError);
    });
  });
}
