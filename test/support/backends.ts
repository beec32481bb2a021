// The upstash:// conformance target: its REST server (in front of the shared redis-server) starts
// with the suite. Backend-looping test files describe their backends as `ConformanceTarget`s
// (src/testing/target.ts) and start them with `useTarget` / `openTarget` from there.
import type { ConformanceTarget } from "../../src/testing/target.js";
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
