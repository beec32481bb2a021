// The caching reverse proxy (runtimes/shared/proxy.ts) on Node, served by @hono/node-server.
//
//   ORIGIN=https://example.org node --import tsx runtimes/node/proxy.ts        # http://127.0.0.1:3000, mem://
//   ORIGIN=http://127.0.0.1:8080 CACHE_URL=redis://localhost:6379 PORT=8081 node --import tsx runtimes/node/proxy.ts
import { serve } from "@hono/node-server";
import { CoreCache } from "../../src/core.js";
import "../../src/redis.js";
import { createProxy } from "../shared/proxy.js";

const origin = process.env.ORIGIN;
if (!origin) throw new Error("set ORIGIN to the URL to proxy, e.g. ORIGIN=https://example.org");
const cacheUrl = process.env.CACHE_URL ?? "mem://";
const cache = new CoreCache("proxy").setup(cacheUrl, cacheUrl.startsWith("mem:") ? {} : { namespace: "cashews-proxy" });
const hostname = process.env.HOST ?? "127.0.0.1";
serve({ fetch: createProxy(origin, cache).fetch, port: Number(process.env.PORT ?? 3000), hostname }, (info) => {
  console.log(`cashews proxy for ${origin}: listening on http://${hostname}:${info.port}`);
});
