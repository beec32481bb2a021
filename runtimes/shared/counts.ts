/**
 * How many tests the shared smoke set registers, so that the runner
 * (`test/runtimes/smoke.test.ts`) can fail an empty or truncated run. Kept apart from
 * `smoke.ts`, which imports `node:test`, so vitest can import these numbers alone.
 */

/** Tests of the runtime block (ALS, Web Crypto, `await using`). */
export const RUNTIME_TESTS = 3;
/**
 * Tests each backend registers (mem://, and redis:// / upstash:// when configured), over its two
 * top-level `describe` blocks. Keep `it` directly inside top-level `describe`s: Deno reports them
 * as steps, and would count a nested `describe` as a step too.
 */
export const SMOKE_TESTS_PER_BACKEND = 11;

/** Tests each backend registers in the Hono block (hono-smoke.ts). */
export const HONO_TESTS_PER_BACKEND = 3;

/** The environment variables the smoke set reads. */
export const SMOKE_ENV = {
  redisUrl: "CASHEWS_REDIS_URL",
  upstashUrl: "CASHEWS_UPSTASH_URL",
  upstashToken: "CASHEWS_UPSTASH_TOKEN",
} as const;

/** Leaf tests expected for the given backends. */
export function expectedTests(backends: { redis: boolean; upstash: boolean }): number {
  // With Redis: redis:// and redis:// (clientSide) blocks, plus the clientSide invalidation test.
  const blocks = 1 + 2 * Number(backends.redis) + Number(backends.upstash);
  return RUNTIME_TESTS + (SMOKE_TESTS_PER_BACKEND + HONO_TESTS_PER_BACKEND) * blocks + CLIENT_SIDE_TESTS * Number(backends.redis);
}

/** Tests of the clientSide invalidation block (with Redis). */
export const CLIENT_SIDE_TESTS = 1;
