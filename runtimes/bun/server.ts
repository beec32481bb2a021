// The example Hono app (runtimes/shared/app.ts) on Bun, served by `Bun.serve`. From the repository
// root:
//
//   bun runtimes/bun/server.ts
//
// PORT (default 3000; 0 picks a free one), HOST (default 127.0.0.1) and CACHE_URL (default mem://)
// come from the environment. An app of your own imports `cashews` and `cashews/hono`.
import { createApp, exampleCache } from "../shared/app.js";

interface BunServe {
  serve(options: { port: number; hostname: string; fetch: (request: Request) => Response | Promise<Response> }): { port: number };
}
const Bun = (globalThis as unknown as { Bun: BunServe }).Bun;

const cacheUrl = process.env.CACHE_URL ?? "mem://";
const app = createApp(exampleCache(cacheUrl));
const hostname = process.env.HOST ?? "127.0.0.1";
const server = Bun.serve({ port: Number(process.env.PORT ?? 3000), hostname, fetch: app.fetch });
console.log(`cashews example on Bun: listening on http://${hostname}:${server.port}`);
