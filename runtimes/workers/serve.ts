// Runs the example Worker (runtimes/workers/worker.ts) locally in workerd through miniflare, with the
// settings of wrangler.toml, bundled with esbuild the way wrangler does:
//
//   npm run worker                                   # http://127.0.0.1:8787, mem://
//   CACHE_URL=upstash://my-db.upstash.io UPSTASH_REDIS_REST_TOKEN=… npm run worker
//
// PORT (default 8787; 0 picks a free one) and HOST (default 127.0.0.1) come from the environment.
import { readFileSync } from "node:fs";
import { Miniflare } from "miniflare";
import { bundleWorker } from "./build.js";

const root = new URL("../..", import.meta.url).pathname;
const toml = readFileSync(`${root}wrangler.toml`, "utf8");
const setting = (name: string): string | undefined => new RegExp(`^${name}\\s*=\\s*"([^"]+)"`, "m").exec(toml)?.[1];
const flags = [...(/^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? "").matchAll(/"([^"]+)"/g)].map((m) => m[1]!);

const bindings: Record<string, string> = {};
for (const name of ["CACHE_URL", "UPSTASH_REDIS_REST_TOKEN"]) {
  const value = process.env[name];
  if (value) bindings[name] = value;
}

const bundle = await bundleWorker(setting("main") ?? "runtimes/workers/worker.ts");
const mf = new Miniflare({
  modules: [{ type: "ESModule", path: "worker.mjs", contents: bundle.code }],
  compatibilityDate: setting("compatibility_date") ?? "2025-09-01",
  compatibilityFlags: flags,
  bindings,
  host: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 8787),
});
const url = await mf.ready;
console.log(`cashews example Worker (${setting("name")}) in workerd on ${bindings.CACHE_URL ?? "mem://"}: listening on ${url.origin}`);
const stop = (): void => void mf.dispose().then(() => process.exit(0));
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
