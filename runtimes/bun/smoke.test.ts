// The shared smoke set on Bun, against the library source (src/*.ts). Run from the repository root:
//
//   bun test runtimes/bun
//
// Bun runs TypeScript directly (TC39 decorators, `await using`), maps our `.js`-suffixed relative
// imports to the `.ts` files, and finds ioredis / @upstash/redis in the repository's node_modules.
// Backends: see runtimes/shared/smoke.ts (CASHEWS_REDIS_URL, CASHEWS_UPSTASH_URL/TOKEN).
import { registerSmoke } from "../shared/smoke.js";

registerSmoke();
