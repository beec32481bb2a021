// A Cloudflare Worker using the cashews core on mem:// (bundled and run in workerd by the tests of
// the runtimes release; described by wrangler.toml at the repository root).
import { Cache } from "../../src/index.js";

const cache = new Cache("worker").setup("mem://");

const slowSquare = cache({ ttl: "1m", key: "square:{n}" })(async (n: number) => {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return n * n;
});

export default {
  async fetch(request: Request): Promise<Response> {
    const n = Number(new URL(request.url).searchParams.get("n") ?? "2");
    const started = Date.now();
    const value = await slowSquare(n);
    return Response.json({ n, value, ms: Date.now() - started, stats: cache.stats() });
  },
};
