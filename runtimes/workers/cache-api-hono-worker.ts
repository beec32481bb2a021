// The Worker that test/workers/cache-api.test.ts bundles and runs in workerd (through miniflare),
// with `nodejs_compat` and with no compatibility flag: a bare Hono app (`export default app`, no
// withCache) whose pages are cached by `cacheResponse` in a CoreCache on `cloudflare-cache://pages`
// (the Workers Cache API, `caches.open("pages")`). The app: pages-app.ts.
import { CoreCache } from "../../src/core.js";
import "../../src/cloudflare-cache.js";
import { pagesApp } from "./pages-app.js";

// Setup does no I/O: fine at module scope (the global `caches` is there already).
export default pagesApp(new CoreCache("pages").setup("cloudflare-cache://pages"));
