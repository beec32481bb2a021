import { defineConfig } from "tsup";

export default defineConfig({
  // One entry per package export (package.json `exports`, deno.json `exports`).
  entry: { index: "src/index.ts", core: "src/core.ts", redis: "src/redis.ts", upstash: "src/upstash.ts", "cloudflare-kv": "src/cloudflare-kv.ts", "cloudflare-cache": "src/cloudflare-cache.ts", "deno-kv": "src/deno-kv.ts", hono: "src/hono/index.ts", workers: "src/workers.ts", testing: "src/testing/index.ts", otel: "src/otel.ts", prometheus: "src/prometheus/index.ts" },
  format: ["esm"],
  target: "es2022",
  platform: "neutral",
  dts: true,
  // Entries share one copy of the core (the scheme registry above all): split shared code into chunks.
  // No chunk does work at module scope (schemes are registered by the Cache/CoreCache constructors),
  // so package.json `sideEffects` lists only the backend entries, which register their scheme on import.
  splitting: true,
  sourcemap: true,
  clean: true,
  treeshake: true,
  // Optional peer dependencies: never bundled, imported only by their backend entry (vitest: by
  // cashews/testing, the conformance suite; @opentelemetry/api: by cashews/otel; prom-client: by cashews/prometheus).
  external: ["ioredis", "@upstash/redis", "@deno/kv", "hono", /^hono\//, "vitest", "@opentelemetry/api", "prom-client"],
});
