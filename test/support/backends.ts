// Backends that tests run against: the shape every backend-looping test file uses, and the
// upstash:// target, whose REST server (in front of the shared redis-server) starts with the suite.
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { Cache, type CacheEventInfo } from "../../src/index.js";
import { startUpstashServer } from "./upstash-server.js";

/** One backend a suite runs against. */
export interface BackendTarget {
  /** A label for the describe block. */
  name: string;
  /** The setup URL ("" skips the suite: no redis-server here). */
  url: () => string;
  /** Extra setup options. */
  options?: Record<string, unknown>;
  /** Starts what the backend needs; its `url` and `options` replace the ones above, `stop` runs after the suite. */
  start?: () => Promise<{ url: string; options: Record<string, unknown>; stop: () => Promise<void> }>;
}

/** The `url`/`start` of an upstash:// target: its own REST server in front of `redisUrl`. */
export function upstashTarget(redisUrl: string, options: Record<string, unknown>): Pick<BackendTarget, "url" | "start"> {
  return {
    url: () => (redisUrl ? "upstash+http://started-in-beforeAll" : ""),
    start: async () => {
      const server = await startUpstashServer({ redisUrl });
      return { url: server.url.replace(/^http:/, "upstash+http:"), options: { token: server.token, ...options }, stop: () => server.stop() };
    },
  };
}

/** Starts what `target` needs and sets a Cache up on it; `stop` releases both (call it in afterAll). */
export async function openTarget(target: BackendTarget, name: string): Promise<{ cache: Cache; stop: () => Promise<void> }> {
  const started = await target.start?.();
  const cache = new Cache(name).setup(started?.url ?? target.url(), { ...target.options, ...started?.options });
  return {
    cache,
    stop: async () => {
      await cache.close();
      await started?.stop();
    },
  };
}

/**
 * The lifecycle of a suite's cache on `target`, registered in the calling `describe`: opened,
 * initialised and cleared before the suite (then handed to `assign`), cleared after each test
 * (failing the test on any `error` event it caused when `noErrors`), closed after the suite.
 * Returns the list of `error` events of the current test.
 */
export function useTargetCache(target: BackendTarget, name: string, assign: (cache: Cache) => void, options: { noErrors?: boolean } = {}): CacheEventInfo[] {
  const errors: CacheEventInfo[] = [];
  let opened: { cache: Cache; stop: () => Promise<void> } | undefined;
  beforeAll(async () => {
    opened = await openTarget(target, name);
    opened.cache.on("error", (e) => void errors.push(e));
    await opened.cache.init();
    await opened.cache.clear();
    assign(opened.cache);
  });
  afterEach(async () => {
    if (options.noErrors) expect(errors).toEqual([]);
    await opened?.cache.clear();
    errors.length = 0;
  });
  afterAll(async () => {
    await opened?.stop();
  });
  return errors;
}
