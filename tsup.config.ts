import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", redis: "src/redis.ts" },
  format: ["esm"],
  target: "es2022",
  platform: "neutral",
  dts: true,
  // Entries share one copy of the core (the scheme registry above all): split shared code into chunks.
  splitting: true,
  sourcemap: true,
  clean: true,
  treeshake: true,
  external: ["ioredis"],
});
