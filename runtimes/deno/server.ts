// The example Hono app (runtimes/shared/app.ts) on Deno, served by `Deno.serve`. From the
// repository root:
//
//   deno run --sloppy-imports --no-lock --allow-env --allow-read --allow-net runtimes/deno/server.ts
//
// PORT (default 8000; 0 picks a free one), HOST (default 127.0.0.1) and CACHE_URL (default mem://)
// come from the environment. An app of your own imports `npm:cashews` and `npm:cashews/hono` (or
// `jsr:@cashews/cashews`).
import { createApp, exampleCache } from "../shared/app.js";

interface DenoServe {
  env: { get(name: string): string | undefined };
  serve(
    options: { port: number; hostname: string; onListen(addr: { port: number; hostname: string }): void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { finished: Promise<void> };
}
const Deno = (globalThis as unknown as { Deno: DenoServe }).Deno;

const cacheUrl = Deno.env.get("CACHE_URL") ?? "mem://";
const app = createApp(exampleCache(cacheUrl));
const hostname = Deno.env.get("HOST") ?? "127.0.0.1";
Deno.serve({ port: Number(Deno.env.get("PORT") ?? 8000), hostname, onListen: ({ port }) => console.log(`cashews example on Deno: listening on http://${hostname}:${port}`) }, app.fetch);
