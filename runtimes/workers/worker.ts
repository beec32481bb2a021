// The example Worker: the example Hono app (runtimes/shared/app.ts) behind `withCache`, described
// by wrangler.toml at the repository root. The cache is mem:// (one per isolate) unless the
// CACHE_URL binding names another backend, e.g. Upstash:
//
//   wrangler secret put UPSTASH_REDIS_REST_TOKEN
//   [vars] CACHE_URL = "upstash://my-db.upstash.io"
//
// The tests bundle it with esbuild (as wrangler does) and run it in workerd through miniflare.
// A Worker of your own imports `cashews`, `cashews/upstash`, `cashews/hono` and `cashews/workers`.
import { Cache } from "../../src/index.js";
import "../../src/upstash.js"; // registers upstash:// eagerly: bundlers for Workers need it
import { withCache } from "../../src/workers.js";
import { createApp } from "../shared/app.js";

interface Env {
  CACHE_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
}

const cache = new Cache("example");
const app = createApp(cache);

export default withCache<Env>(
  {
    cache,
    setup: (env) =>
      env.CACHE_URL ? [[env.CACHE_URL, { token: env.UPSTASH_REDIS_REST_TOKEN, namespace: "cashews-example" }]] : "mem://",
  },
  { fetch: app.fetch },
);
