/**
 * Rate-limit tier (issue 18, item 4; bench/ratelimit.ts): one limiter per (contender, algorithm,
 * limit, period, ephemeral), each answering `limit(id)` with whether the call was admitted.
 *
 * - `cashews-upstash` / `cashews-redis`: cashews' `cache.limiter({ algorithm, limit, period, prefix,
 *   ephemeral })` on `upstash+http://` (the tier's REST server) / `redis://`.
 * - `upstash-ratelimit`: @upstash/ratelimit 2.x (`Ratelimit.fixedWindow`, `slidingWindow`,
 *   `tokenBucket`) with the real @upstash/redis client on the same REST server, client defaults
 *   (automatic deserialisation and auto-pipelining on: what its docs show), `analytics: false`,
 *   `ephemeralCache: new Map()` when ephemeral, else `false` (its default is a Map created for you).
 * - `rate-limiter-flexible`: `RateLimiterRedis` (ioredis, `useRedisPackage: false`): a fixed window
 *   (one counter per key, `SET NX EX` + `INCRBY` in one Lua script, the window starting at the first
 *   call), so it runs in the fixed rows only; ephemeral = `inMemoryBlockOnConsumed: limit + 1` (an id
 *   is blocked in-process until its window ends once it has gone over the limit).
 */
import { createHash } from "node:crypto";
import type { Env } from "../lib/common.js";
import { upstashEndpoint } from "./upstash.js";

export type Algorithm = "fixed" | "sliding" | "tokenBucket";
export const ALGORITHMS: readonly Algorithm[] = ["fixed", "sliding", "tokenBucket"];

export interface LimiterSpec {
  algorithm: Algorithm;
  limit: number;
  periodMs: number;
  ephemeral: boolean;
  /** Key prefix: every limiter of a run has its own (fresh ids). */
  prefix: string;
}

export interface BenchLimiter {
  /** Admitted? */
  limit(id: string): Promise<boolean>;
}

export interface RatelimitContender {
  /** The algorithms it has (others are not run for it). */
  algorithms: readonly Algorithm[];
  /** What its limiter for `spec` is; `env.redisUrl` may be the counting proxy's URL. */
  make(env: Env, spec: LimiterSpec): Promise<BenchLimiter>;
  close(): Promise<void>;
}

export type ContenderId = "cashews-upstash" | "upstash-ratelimit" | "cashews-redis" | "rate-limiter-flexible";

const peer = (name: string): Promise<any> => import(name);

/** Thrown when this branch's cashews has no `cache.limiter` yet: the row is shown as pending. */
export class PendingError extends Error {}

function cashews(backend: "upstash" | "redis"): () => RatelimitContender {
  return () => {
    const caches = new Map<string, any>();
    const cacheFor = async (env: Env): Promise<any> => {
      const url = backend === "upstash" ? upstashEndpoint(env.upstashUrl!) : env.redisUrl!;
      let cache = caches.get(url);
      if (!cache) {
        const { Cache } = await import("../../src/index.js");
        await import(backend === "upstash" ? "../../src/upstash.js" : "../../src/redis.js");
        cache = new Cache("bench-rl").setup(url, backend === "upstash" ? { token: env.upstashToken! } : {});
        caches.set(url, cache);
      }
      return cache;
    };
    return {
      algorithms: ALGORITHMS,
      async make(env, spec) {
        const cache = await cacheFor(env);
        if (typeof cache.limiter !== "function") throw new PendingError("pending: cache.limiter is not on this branch yet");
        const limiter = cache.limiter({ algorithm: spec.algorithm, limit: spec.limit, period: spec.periodMs, prefix: spec.prefix, ephemeral: spec.ephemeral });
        return {
          async limit(id: string) {
            const result = await limiter.limit(id);
            // Safe mode (a backend error or timeout) fails open with remaining NaN: counted, so it can't hide.
            if (Number.isNaN(result.remaining)) timeouts.count++;
            return result.success as boolean;
          },
        };
      },
      async close() {
        for (const cache of caches.values()) await cache.close();
      },
    };
  };
}

export const contenders: Record<ContenderId, () => RatelimitContender> = {
  "cashews-upstash": cashews("upstash"),
  "cashews-redis": cashews("redis"),

  "upstash-ratelimit": () => {
    let client: any;
    return {
      algorithms: ALGORITHMS,
      async make(env, spec) {
        const { Ratelimit } = await peer("@upstash/ratelimit");
        const { Redis } = await peer("@upstash/redis");
        client ??= withoutKeyLocking(new Redis({ url: env.upstashUrl!, token: env.upstashToken! }));
        const window = `${spec.periodMs} ms`;
        const limiter =
          spec.algorithm === "fixed" ? Ratelimit.fixedWindow(spec.limit, window)
          : spec.algorithm === "sliding" ? Ratelimit.slidingWindow(spec.limit, window)
          : Ratelimit.tokenBucket(spec.limit, window, spec.limit);
        const ratelimit = new Ratelimit({ redis: client, limiter, prefix: spec.prefix, analytics: false, ephemeralCache: spec.ephemeral ? new Map() : false });
        return {
          async limit(id) {
            const result = await ratelimit.limit(id);
            // Its default 5 s timeout admits a call whose answer is late: counted, so it can't hide.
            if (result.reason === "timeout") timeouts.count++;
            return result.success as boolean;
          },
        };
      },
      async close() {},
    };
  },

  "rate-limiter-flexible": () => {
    const clients = new Map<string, { disconnect(): void }>();
    return {
      algorithms: ["fixed"],
      async make(env, spec) {
        const { RateLimiterRedis } = await peer("rate-limiter-flexible");
        const { Redis } = await import("ioredis");
        let client = clients.get(env.redisUrl!);
        if (!client) clients.set(env.redisUrl!, (client = new Redis(env.redisUrl!)));
        if (spec.periodMs % 1000 !== 0) throw new Error("rate-limiter-flexible: duration in whole seconds");
        const limiter = new RateLimiterRedis({
          storeClient: client,
          useRedisPackage: false,
          keyPrefix: spec.prefix,
          points: spec.limit,
          duration: spec.periodMs / 1000,
          ...(spec.ephemeral ? { inMemoryBlockOnConsumed: spec.limit + 1 } : {}),
        });
        return {
          async limit(id) {
            try {
              await limiter.consume(id);
              return true;
            } catch (error) {
              if (error instanceof Error) throw error; // a store error; a refusal rejects with a RateLimiterRes
              return false;
            }
          },
        };
      },
      async close() {
        for (const client of clients.values()) client.disconnect();
      },
    };
  },
};

/**
 * @upstash/ratelimit 2.2's scripts start with `#!lua flags=allow-key-locking`, a flag Upstash's
 * server accepts and redis-server (7.0 here, behind the REST server) refuses ("Unexpected flag in
 * script shebang"). This wraps the client's `eval`/`evalsha` to send the same script with the
 * shebang's flags dropped (`#!lua`), and maps the original script's SHA1 (which the library sends in
 * `EVALSHA`) to the sent one's, so that after the first `EVAL` its `EVALSHA` calls hit: the same
 * requests and commands as on Upstash, at the cost of a Map lookup per call.
 */
function withoutKeyLocking<T extends object>(client: T): T {
  const shas = new Map<string, string>();
  const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");
  const strip = (script: string) => script.replace(/^#!lua flags=allow-key-locking\n/, "#!lua\n");
  const target = client as any;
  return new Proxy(client, {
    get(t, property, receiver) {
      if (property === "evalsha") return (sha: string, keys: string[], args: unknown[]) => target.evalsha(shas.get(sha) ?? sha, keys, args);
      if (property === "eval")
        return (script: string, keys: string[], args: unknown[]) => {
          const sent = strip(script);
          if (sent !== script) shas.set(sha1(script), sha1(sent));
          return target.eval(sent, keys, args);
        };
      return Reflect.get(t, property, receiver);
    },
  });
}

/** Calls admitted without the store's answer: @upstash/ratelimit's `timeout` (5 s by default), cashews' safe mode (fail open, remaining NaN). */
export const timeouts = { count: 0 };
