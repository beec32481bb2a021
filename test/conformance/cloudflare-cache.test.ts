// The conformance suite (cashews/testing, src/testing/) on cloudflare-cache://, plain and signed,
// against workerd's real Cache API (miniflare with `cache: true`), reached from Node through the
// thin adapter of test/support/workerd-caches.ts (it converts Responses into miniflare's class).
//
// The Cache API cannot list keys, so `clear()` is refused: the suite opens a fresh store per test
// through `fresh` (a new namespace: an empty set of URLs), once it knows that hook. Until the
// suite is capability-aware, the tests that clear between tests fail with CacheCapabilityError.
import "../../src/cloudflare-cache.js";
import { conformanceSuite, type ConformanceTarget } from "../../src/testing/index.js";
import { startWorkerdCaches } from "../support/workerd-caches.js";

/** A target on a fresh workerd per suite; `fresh` gives every test its own namespace. */
function cacheApiTarget(name: string, url: string, options: Record<string, unknown> = {}): ConformanceTarget & { fresh: () => Record<string, unknown> } {
  return {
    name,
    url: () => url,
    options: { namespace: "conformance", ...options },
    async start() {
      const workerd = await startWorkerdCaches();
      return { options: { caches: workerd.caches }, stop: () => workerd.dispose() };
    },
    fresh: () => ({ namespace: crypto.randomUUID() }),
  };
}

const targets = [
  cacheApiTarget("cloudflare-cache:// (caches.default)", "cloudflare-cache://"),
  cacheApiTarget("cloudflare-cache://conformance (named, secret)", "cloudflare-cache://conformance", { secret: "s3cret" }),
];
for (const target of targets) conformanceSuite(target);
