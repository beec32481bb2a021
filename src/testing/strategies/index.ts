/**
 * The strategy conformance tests: every strategy's behaviour that rests on the backend (what it
 * stores, counts, locks and expires), against one backend.
 * @module
 */
import { describe } from "vitest";
import { useTarget, type ConformanceTarget, type TargetHandle } from "../target.js";
import { adaptiveTests } from "./adaptive.js";
import { cacheTests } from "./cache.js";
import { invalidateTests } from "./invalidate.js";
import { iteratorTests } from "./iterator.js";
import { limitTests } from "./limits.js";
import { limiterTests } from "./limiter.js";
import { lockTests } from "./lock.js";
import { nestedTests } from "./nested.js";
import { schemaTests } from "./schema.js";
import { valueTests } from "./value.js";

/**
 * Registers a `describe` block with the strategy tests against `target`: cache, locked and
 * `cache({ lock: true })`, failover, hit, early, soft, the limiter, rateLimit, slidingRateLimit,
 * circuitBreaker, perf, iterator and invalidate, nested decorators, adaptive ttls and timeouts, and the `schema` option; a part of {@link conformanceSuite}. Tests of what
 * two processes share skip themselves on a target whose caches share nothing (like `mem://`).
 *
 * @example
 * // backend.test.ts, run by vitest
 * import { strategySuite } from "cashews/testing";
 * strategySuite({ name: "redis://", url: () => process.env.REDIS_URL ?? "", options: { namespace: "strategies" } });
 */
export function strategySuite(target: ConformanceTarget): void {
  describe.skipIf(!target.url())(`strategies on ${target.name}`, () => {
    strategyTests(useTarget(target));
  });
}

/** Registers the strategy tests on a started target in the calling `describe`. */
export function strategyTests(target: TargetHandle): void {
  cacheTests(target);
  lockTests(target);
  valueTests(target);
  adaptiveTests(target);
  schemaTests(target);
  nestedTests(target);
  limitTests(target);
  limiterTests(target);
  iteratorTests(target);
  invalidateTests(target);
}
