// cashews/hono on its own in workerd: a bare Hono app (`export default app`, no withCache), bundled
// with esbuild from runtimes/workers/hono-worker.ts and run through miniflare with `nodejs_compat`
// (async context) and with no compatibility flag (no async context).
//
// - An `early` refresh behind `cacheContext()` finishes after the response through
//   `c.executionCtx.waitUntil`. Without async context the binding only lasts until the first
//   `await`; the middleware registers the request's context for the shared waitUntil fallback (the
//   one withCache uses), and workerd attaches the refresh to the request running it.
// - cacheDetectHeaders reports only the request's own hits with async context; without it, it
//   sends nothing by default (hits of concurrent requests cannot be told apart), and everything
//   with `withoutAsyncContext: "all"`.
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, type WorkerBundle } from "../../runtimes/workers/build.js";
import { poll, sleep, startWorker } from "../support/workerd.js";

/** The worker's earlyTtl is 200 ms: after this, a stored value is due for a refresh. */
const PAST_EARLY_TTL = 400;


let bundle: Promise<WorkerBundle> | undefined;
const worker = (): Promise<WorkerBundle> => (bundle ??= bundleWorker("runtimes/workers/hono-worker.ts"));

async function get(mf: Miniflare, path: string): Promise<{ body: any; headers: Headers }> {
  const response = await mf.dispatchFetch(`http://localhost${path}`);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return { body: JSON.parse(text), headers: response.headers };
}
const json = async (mf: Miniflare, path: string): Promise<any> => (await get(mf, path)).body;

for (const { label, flags, als } of [
  { label: "nodejs_compat (async context)", flags: ["nodejs_compat"], als: true },
  { label: "no compatibility flags (no async context)", flags: [] as string[], als: false },
]) {
  describe(`a bare Hono app with cashews/hono in workerd with ${label}`, () => {
    let mf: Miniflare;
    beforeAll(async () => {
      mf = await startWorker(await worker(), flags);
    }, 60_000);
    afterAll(async () => {
      await mf?.dispose();
    }, 30_000);

    it("runs with the expected context store", async () => {
      expect(await json(mf, "/info")).toEqual({ asyncContext: als });
    });

    it("finishes an early refresh after the response through c.executionCtx.waitUntil, without withCache", async () => {
      expect(await json(mf, "/early?id=f")).toEqual({ value: 1, started: 1, done: 1 });
      await sleep(PAST_EARLY_TTL);
      // Due: served at once while its refresh (300 ms) runs in the background.
      expect(await json(mf, "/early?id=f")).toMatchObject({ value: 1, done: 1 });
      // Work nobody hands to waitUntil is cancelled by workerd with its request (test/workers/workers.test.ts, the control).
      expect(await poll(() => json(mf, "/state?id=f"), (s) => s.done === 2)).toEqual({ started: 2, done: 2 });
      expect(await json(mf, "/early?id=f")).toEqual({ value: 2, started: 2, done: 2 });
    });

    it("cacheDetectHeaders names only the request's own hits, and nothing without async context", async () => {
      await Promise.all([json(mf, "/detect/alice"), json(mf, "/detect/bob")]); // stored
      const [alice, bob] = await Promise.all([get(mf, "/detect/alice?wait=50"), get(mf, "/detect/bob?wait=50")]);
      expect([alice.body, bob.body]).toEqual([{ name: "alice" }, { name: "bob" }]);
      if (als) {
        expect(alice.headers.get("x-from-cache")).toBe("user:alice");
        expect(bob.headers.get("x-from-cache")).toBe("user:bob");
        expect(Number(bob.headers.get("x-from-cache-expire-in"))).toBeGreaterThan(0);
      } else {
        // Concurrent requests' hits cannot be told apart: no header rather than someone else's key.
        expect(alice.headers.get("x-from-cache")).toBeNull();
        expect(bob.headers.get("x-from-cache")).toBeNull();
      }
      // Opted in: every hit while the request is in flight (here only its own: no concurrency).
      expect((await get(mf, "/detect-all/alice")).headers.get("x-from-cache")).toBe("user:alice");
    });
  });
}
