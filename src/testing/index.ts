/**
 * `cashews/testing`: the conformance suite cashews runs against each of its own backends, for
 * any backend configuration (and, once backends can be defined publicly, anyone's backend). Called in a vitest test file, {@link conformanceSuite} registers `describe`
 * blocks that set caches up on the target and check every command (get/set, expiry, locks, scans,
 * `slidingIncr`, tags, value round trips) and every strategy's behaviour on it. Node, with vitest
 * (an optional peer dependency) as the test runner.
 *
 * @example
 * // redis-setup.test.ts: your Redis and your options, checked the way cashews checks its own
 * import { conformanceSuite } from "cashews/testing";
 *
 * conformanceSuite({ name: "redis://", url: () => process.env.REDIS_URL ?? "", options: { namespace: "conformance" } });
 * conformanceSuite({ name: "redis:// (signed)", url: () => process.env.REDIS_URL ?? "", options: { namespace: "conformance-signed", secret: "s3cret" } });
 * @module
 */
import { describe } from "vitest";
import { commandTests } from "./commands.js";
import { strategyTests } from "./strategies/index.js";
import { useTarget, type ConformanceTarget } from "./target.js";

export type { ConformanceTarget } from "./target.js";
export { commandSuite } from "./commands.js";
export { strategySuite } from "./strategies/index.js";

/**
 * Registers the whole conformance suite against `target` in one `describe` block: the command
 * tests ({@link commandSuite}) and the strategy tests ({@link strategySuite}). The target starts
 * once (`target.start`), each group of tests sets up its own caches on it and clears them after
 * each test, so give a shared store its own namespace or prefix. An empty `url()` skips the block.
 *
 * @example
 * import { conformanceSuite } from "cashews/testing";
 * conformanceSuite({ name: "mem:// (serialize)", url: () => "mem://?serialize=1" });
 * conformanceSuite({
 *   name: "redis://",
 *   url: () => process.env.REDIS_URL ?? "", // "" skips the suite
 *   options: { namespace: "conformance" },
 * });
 */
export function conformanceSuite(target: ConformanceTarget): void {
  describe.skipIf(!target.url())(`conformance on ${target.name}`, () => {
    const started = useTarget(target);
    commandTests(started);
    strategyTests(started);
  });
}
