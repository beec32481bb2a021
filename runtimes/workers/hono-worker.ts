// The Worker that test/hono/workers-hono.test.ts bundles and runs in workerd (through miniflare), with
// `nodejs_compat` and with no compatibility flag (no async context): a bare Hono app
// (`export default app`, no `withCache`) using the `cashews/hono` middlewares from src/hono/.
//
// - /early?id=…       an `early` function behind `cacheContext()`: fast on its first call, slow
//                     (SLOW_MS) on every refresh; /state?id=… says which computation finished last.
// - /detect/:name     a decorated `cache` call behind `cacheDetectHeaders()`, after `wait` ms.
// - /detect-all/:name the same with `withoutAsyncContext: "all"`.
import { Hono } from "hono";
import { cache, createContextStore } from "../../src/index.js";
import { cacheContext, cacheDetectHeaders } from "../../src/hono/index.js";
import { sleep, versionedEarly } from "./early-fixture.js";

// Setup does no I/O and starts no timer: fine at module scope.
cache.setup("mem://");

const { stateOf, versioned } = versionedEarly(cache, () => ({ started: 0, done: 0 }));

const getUser = cache({ ttl: "1m", key: "user:{name}" })(async (name: string) => ({ name }));

const app = new Hono();

app.get("/info", (c) => c.json({ asyncContext: createContextStore().async }));

app.get("/early", cacheContext(), async (c) => {
  const id = c.req.query("id")!;
  const value = await versioned(id);
  return c.json({ value, ...stateOf(id) });
});

app.get("/state", (c) => c.json(stateOf(c.req.query("id")!)));

const user = async (c: { req: { param(name: string): string; query(name: string): string | undefined } }): Promise<{ name: string }> => {
  await sleep(Number(c.req.query("wait") ?? 0));
  return getUser(c.req.param("name"));
};
app.get("/detect/:name", cacheDetectHeaders(), async (c) => c.json(await user(c)));
app.get("/detect-all/:name", cacheDetectHeaders({ withoutAsyncContext: "all" }), async (c) => c.json(await user(c)));

export default app;
