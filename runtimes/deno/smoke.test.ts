// The shared smoke set on Deno, against the library source (src/*.ts). Run from the repository root:
//
//   deno test --sloppy-imports --no-lock --allow-env --allow-read --allow-net=127.0.0.1,localhost runtimes/deno
//
// `--sloppy-imports` maps our `.js`-suffixed relative imports to the `.ts` files. The root
// deno.json and package.json are found from the working directory, so npm packages (ioredis,
// @upstash/redis, and @types/node for the type check of `node:test`) come from the repository's
// node_modules ("manual" mode, Deno's default next to a package.json): nothing is downloaded.
// Backends: see runtimes/shared/smoke.ts (CASHEWS_REDIS_URL, CASHEWS_UPSTASH_URL/TOKEN).
import { registerSmoke } from "../shared/smoke.js";

registerSmoke();
