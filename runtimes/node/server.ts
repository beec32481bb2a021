// The example Hono app (runtimes/shared/app.ts) on Node, served by @hono/node-server.
//
//   node --import tsx runtimes/node/server.ts            # http://localhost:3000, mem://
//   CACHE_URL=redis://localhost:6379 PORT=8080 node --import tsx runtimes/node/server.ts
import { serve } from "@hono/node-server";
import type { Cache } from "../../src/index.js";
import { createApp, exampleCache } from "../shared/app.js";

export interface RunningServer {
  /** The base URL, e.g. `http://127.0.0.1:3000`. */
  url: string;
  cache: Cache;
  /** Stops the server and closes the cache. */
  close(): Promise<void>;
}

/** Serves the example app on `port` (0: any free port) with a cache on `cacheUrl`. */
export function startServer(cacheUrl: string, port: number, hostname = "127.0.0.1"): Promise<RunningServer> {
  const cache = exampleCache(cacheUrl);
  const app = createApp(cache);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname }, (info) => {
      resolve({
        url: `http://${hostname}:${info.port}`,
        cache,
        close: async () => {
          await new Promise<void>((done) => server.close(() => done()));
          await cache.close();
        },
      });
    });
    server.once("error", reject);
  });
}

const main = import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (main) {
  const cacheUrl = process.env.CACHE_URL ?? "mem://";
  const server = await startServer(cacheUrl, Number(process.env.PORT ?? 3000), process.env.HOST ?? "127.0.0.1");
  console.log(`cashews example on ${cacheUrl.replace(/\/\/[^@]*@/, "//***@")}: listening on ${server.url}`);
  const stop = (): void => void server.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
