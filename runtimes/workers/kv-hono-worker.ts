// The Worker that test/workers/cloudflare-kv.test.ts bundles and runs in workerd (through
// miniflare), with `nodejs_compat` and with no compatibility flag: a bare Hono app (`export default
// app`, no withCache) whose pages are cached by `cacheResponse` in a CoreCache on Workers KV. The
// binding only exists per request (`c.env`), so the cache is set up by the first request. The app:
// pages-app.ts.
import { CoreCache } from "../../src/core.js";
import "../../src/cloudflare-kv.js";
import { pagesApp } from "./pages-app.js";

const pages = new CoreCache("pages");

export default pagesApp(pages, async (c, next) => {
  if (!pages.isSetup()) pages.setup("cloudflare-kv://CACHE_KV", { env: c.env });
  await next();
});
