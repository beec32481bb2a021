// The network conformance targets: the upstash:// target, whose REST server (in front of the shared
// redis-server) starts with the suite, and the conformance suite for a network store. Backend-looping
// test files describe their backends as `ConformanceTarget`s (src/testing/target.ts) and start them
// with `useTarget` / `openTarget` from there.
import { describe, expect, it } from "vitest";
import { conformanceSuite } from "../../src/testing/index.js";
import { useTarget, type ConformanceTarget } from "../../src/testing/target.js";
import { startUpstashServer } from "./upstash-server.js";

/** The `url`/`start` of an upstash:// target: its own REST server in front of `redisUrl`. */
export function upstashTarget(redisUrl: string, options: Record<string, unknown>): Pick<ConformanceTarget, "url" | "start"> {
  return {
    url: () => (redisUrl ? "upstash+http://started-in-beforeAll" : ""),
    start: async () => {
      const server = await startUpstashServer({ redisUrl });
      return { url: server.url.replace(/^http:/, "upstash+http:"), options: { token: server.token, ...options }, stop: () => server.stop() };
    },
  };
}

/**
 * The conformance suite on one of our network stores, which two caches must share: the suite's
 * tests of what two processes share skip themselves where a probe finds nothing shared (right for
 * `mem://`), so here a failed probe fails a test instead of skipping them.
 */
export function networkConformanceSuite(target: ConformanceTarget): void {
  conformanceSuite(target);
  describe.skipIf(!target.url())(`two caches on ${target.name}`, () => {
    const started = useTarget(target);
    it("share their values, so the suite's tests of two processes run", async () => {
      expect(await started.shared()).toBe(true);
    });
  });
}
