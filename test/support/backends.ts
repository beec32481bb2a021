// Backends that tests run against: the shape every backend-looping test file uses, and the
// upstash:// target, whose REST server (in front of the shared redis-server) starts with the suite.
import { Cache } from "../../src/index.js";
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
