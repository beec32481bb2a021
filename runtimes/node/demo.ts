// The demo behind `npm start`: serves the example Hono app (runtimes/shared/app.ts) on a free port
// with @hono/node-server, requests it the way a browser would, prints what came from the cache, and
// stops. The cache is the embedded mem:// unless CACHE_URL says otherwise (REDIS_URL works too):
//
//   npm start
//   CACHE_URL=redis://localhost:6379 npm start
//
// To keep the server running instead: node --import tsx runtimes/node/server.ts
import { startServer } from "./server.js";

const cacheUrl = process.env.CACHE_URL ?? process.env.REDIS_URL ?? "mem://";
const server = await startServer(cacheUrl, 0);
server.cache.on("error", (e) => console.error(`  ! backend error: ${String((e.error as Error)?.message ?? e.error)}`));
console.log(`cashews demo: a Hono app on ${cacheUrl.replace(/\/\/[^@]*@/, "//***@")}, listening on ${server.url}\n`);

async function show(label: string, path: string, headers: Record<string, string> = {}): Promise<Response> {
  const started = performance.now();
  const response = await fetch(`${server.url}${path}`, { headers });
  const body = await response.text();
  const ms = performance.now() - started;
  const from = response.headers.get("x-from-cache");
  const cacheNote = from ? `from cache: ${from} (${response.headers.get("x-from-cache-expire-in")} s left)` : "computed";
  const limit = response.headers.get("ratelimit-remaining");
  const extra = limit === null ? cacheNote : `remaining ${limit}`;
  console.log(`${label.padEnd(26)} ${String(response.status).padEnd(4)}${ms.toFixed(1).padStart(8)} ms  ${extra}  ${body.slice(0, 90)}`);
  return response;
}

try {
  // Start from a cold cache on a shared backend.
  await server.cache.deleteMatch("*");
  await show("GET /users/1 (miss)", "/users/1");
  await show("GET /users/1 (hit)", "/users/1");
  await show("GET /users/2 (miss)", "/users/2");
  await show("GET /profile/1 (detect)", "/profile/1");
  for (let i = 1; i <= 6; i++) await show(`GET /limited #${i}`, "/limited", { "x-client-id": "demo" });
  const stats = (await (await fetch(`${server.url}/stats`)).json()) as { loads: number; hits: number; misses: number; sets: number };
  console.log(`\nstats: ${stats.loads} slow loads, ${stats.hits} hits, ${stats.misses} misses, ${stats.sets} sets`);
} finally {
  await server.close();
}
