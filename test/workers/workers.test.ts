// cashews/workers: withCache.
//
// In workerd (miniflare 4 running runtimes/workers/withcache-worker.ts bundled with esbuild), with
// `nodejs_compat` (async context) and with no compatibility flag (no async context): setup from
// the bindings once per isolate, prefix routing over a [url, options] list (mem://, and upstash://
// against test/support/upstash-server.ts when a redis-server is available), `early` refreshes
// that finish after the response through waitUntil (fetch, scheduled, queue, concurrent
// requests), the control without withCache (workerd cancels the refresh), and a bad setup.
//
// In Node (withCache called directly with a fake ctx): setup validation and its messages, retry
// after a failed setup, the returned object, and waitUntil binding.
import { Hono } from "hono";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, expectTypeOf, inject, it } from "vitest";
import { bundleWorker, type WorkerBundle } from "../../runtimes/workers/build.js";
import { Cache, CacheConfigError } from "../../src/index.js";
import { CoreCache } from "../../src/core.js";
import { withCache, type ExecutionContextLike, type WorkerHandler } from "../../src/workers.js";
import { installWaitUntilFallback, rememberContext } from "../../src/context/waituntil-fallback.js";
import { startUpstashServer, type UpstashServer } from "../support/upstash-server.js";
import { COMPATIBILITY_DATE, poll, sleep, startWorker } from "../support/workerd.js";

const redisUrl = inject("redisUrl");
/** The worker's earlyTtl is 200 ms: after this, a stored value is due for a refresh. */
const PAST_EARLY_TTL = 400;


let bundle: Promise<WorkerBundle> | undefined;
const worker = (): Promise<WorkerBundle> => (bundle ??= bundleWorker("runtimes/workers/withcache-worker.ts", ["src/upstash.ts"]));

const start = async (compatibilityFlags: string[], bindings: Record<string, string> = {}): Promise<Miniflare> =>
  startWorker(await worker(), compatibilityFlags, bindings);

/** The part of miniflare's worker stub the tests use (its types come from @cloudflare/workers-types, not installed). */
interface WorkerStub {
  scheduled(options: { cron?: string; scheduledTime?: Date }): Promise<{ outcome: string; noRetry: boolean }>;
  queue(
    queue: string,
    messages: { id: string; timestamp: Date; body: unknown; attempts: number }[],
  ): Promise<{ outcome: string; explicitAcks: string[]; retryMessages: unknown[] }>;
}
const workerOf = async (mf: Miniflare): Promise<WorkerStub> => (await mf.getWorker()) as unknown as WorkerStub;

async function json(mf: Miniflare, path: string): Promise<any> {
  const response = await mf.dispatchFetch(`http://localhost${path}`);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return JSON.parse(text);
}

let upstash: UpstashServer | undefined;
beforeAll(async () => {
  if (redisUrl !== "") upstash = await startUpstashServer({ redisUrl });
}, 30_000);
afterAll(async () => {
  await upstash?.stop();
});

const variants = [
  { label: "nodejs_compat (async context)", flags: ["nodejs_compat"], als: true },
  { label: "no compatibility flags (no async context)", flags: [] as string[], als: false },
];

for (const { label, flags, als } of variants) {
  describe(`withCache in workerd with ${label}`, () => {
    let mf: Miniflare;
    const namespace = `withcache-${als ? "als" : "noals"}-${process.pid}-${Date.now()}`;
    beforeAll(async () => {
      const bindings: Record<string, string> = {};
      if (upstash) {
        bindings.UPSTASH_URL = upstash.url.replace(/^http:\/\//, "upstash+http://");
        bindings.UPSTASH_TOKEN = upstash.token;
        bindings.UPSTASH_NAMESPACE = namespace;
      }
      mf = await start(flags, bindings);
    }, 60_000);
    afterAll(async () => {
      await mf?.dispose();
    }, 30_000);

    it("sets the default cache up from the bindings once per isolate, on the first events", async () => {
      // Eight first events at once: setup ran before any of them reached the handler, exactly once.
      const infos = await Promise.all(Array.from({ length: 8 }, () => json(mf, "/info")));
      for (const info of infos) {
        expect(info).toEqual({
          setupCalls: 1,
          isSetup: true,
          asyncContext: als,
          self: "handler withcache-test", // `this` is the original handler object
          waitUntil: "function",
        });
      }
      expect((await json(mf, "/info")).setupCalls).toBe(1);
    });

    it("routes keys by the prefixes of the [url, options] list", async () => {
      const stamp = `${label}-${Date.now()}`;
      const before = upstash?.requests ?? 0;
      const result = await json(mf, `/routes?stamp=${encodeURIComponent(stamp)}`);
      const upRoute = upstash ? "upstash+http@up:" : "mem";
      expect(result.routes).toEqual(["mem", "mem@small:", upRoute]);
      expect(result.values).toEqual([`plain@${stamp}`, `small:k@${stamp}`, `up:k@${stamp}`]);
      expect(result.stats.errors).toBe(0);
      if (upstash) {
        // The up: key went over HTTP into Redis: read it back through the REST server from Node.
        expect(upstash.requests).toBeGreaterThan(before);
        const response = await fetch(upstash.url, {
          method: "POST",
          headers: { authorization: `Bearer ${upstash.token}` },
          body: JSON.stringify(["GET", `${namespace}:up:k`]),
        });
        expect(JSON.stringify(await response.json())).toContain(stamp);
        const plain = await fetch(upstash.url, {
          method: "POST",
          headers: { authorization: `Bearer ${upstash.token}` },
          body: JSON.stringify(["EXISTS", `${namespace}:plain`]),
        });
        expect(await plain.json()).toEqual({ result: 0 }); // the unprefixed key stayed in memory
      }
    });

    it("finishes an early refresh after the response was returned, through ctx.waitUntil", async () => {
      expect(await json(mf, "/early?id=f")).toEqual({ value: 1, started: 1, done: 1 });
      await sleep(PAST_EARLY_TTL);
      // The stored value is due: served at once, while its refresh (300 ms) runs in the background.
      expect(await json(mf, "/early?id=f")).toMatchObject({ value: 1, done: 1 });
      // Only waitUntil keeps that refresh alive in workerd once the response is out (see the control).
      expect(await poll(() => json(mf, "/state?id=f"), (s) => s.done === 2)).toMatchObject({ started: 2, done: 2 });
      // The next request is served the refreshed value from the cache (no third computation).
      expect(await json(mf, "/early?id=f")).toEqual({ value: 2, started: 2, done: 2 });
    });

    it("keeps concurrent requests' refreshes alive, also one started after another request finished", async () => {
      await Promise.all([json(mf, "/early?id=ca"), json(mf, "/early?id=cb")]);
      await sleep(PAST_EARLY_TTL);
      await json(mf, "/handovers");
      // A waits until B's handler has returned, then triggers its refresh.
      const [a, b] = await Promise.all([json(mf, "/early?id=ca&after=B&req=A"), json(mf, "/early?id=cb&req=B")]);
      expect([a, b]).toMatchObject([
        { value: 1, done: 1 },
        { value: 1, done: 1 },
      ]);
      for (const id of ["ca", "cb"]) {
        expect(await poll(() => json(mf, `/state?id=${id}`), (s) => s.done === 2)).toMatchObject({ done: 2 });
      }
      // With async context each refresh goes to its own request's ctx. Without, both go to the
      // latest ctx withCache saw, B's, though B had returned when A's refresh started: workerd's
      // waitUntil attaches the promise to the request running now (A), which kept it alive.
      expect(await json(mf, "/handovers")).toEqual(als ? ["B", "A"] : ["B", "B"]);
    });

    it("runs scheduled events with waitUntil bound", async () => {
      expect((await json(mf, "/early?id=cron")).value).toBe(1);
      await sleep(PAST_EARLY_TTL);
      await json(mf, "/handovers");
      const scheduler = await workerOf(mf);
      const result = await scheduler.scheduled({ cron: "cron", scheduledTime: new Date() });
      expect(result.outcome).toBe("ok");
      // The handler returned with the old value before the refresh had finished; the refresh still did.
      const state = await poll(() => json(mf, "/state?id=cron"), (s) => s.done === 2);
      expect(state).toEqual({ started: 2, done: 2, returned: { value: 1, done: 1 } });
      expect((await json(mf, "/early?id=cron")).value).toBe(2);
      expect(await json(mf, "/handovers")).toEqual(["scheduled:cron"]);
    });

    it("runs queue batches with waitUntil bound", async () => {
      await Promise.all([json(mf, "/early?id=q1"), json(mf, "/early?id=q2")]);
      await sleep(PAST_EARLY_TTL);
      await json(mf, "/handovers");
      const consumer = await workerOf(mf);
      const result = await consumer.queue("jobs", [
        { id: "m1", timestamp: new Date(), body: { id: "q1" }, attempts: 1 },
        { id: "m2", timestamp: new Date(), body: { id: "q2" }, attempts: 1 },
      ]);
      expect(result).toMatchObject({ outcome: "ok", explicitAcks: ["m1", "m2"], retryMessages: [] });
      for (const id of ["q1", "q2"]) {
        const state = await poll(() => json(mf, `/state?id=${id}`), (s) => s.done === 2);
        expect(state).toEqual({ started: 2, done: 2, returned: { value: 1, done: 1 } });
      }
      expect(await json(mf, "/handovers")).toEqual(["queue:jobs", "queue:jobs"]);
    });

    it("hands background work of unwrapped handlers in the same isolate to the current request (workerd fallback)", async () => {
      // /raw/ bypasses withCache; an event withCache saw earlier lends its ctx.waitUntil, which
      // workerd binds to the request running now.
      expect((await json(mf, "/raw/early?id=r")).value).toBe(1);
      await sleep(PAST_EARLY_TTL);
      expect(await json(mf, "/raw/early?id=r")).toMatchObject({ value: 1, done: 1 });
      expect(await poll(() => json(mf, "/raw/state?id=r"), (s) => s.done === 2)).toMatchObject({ done: 2 });
    });
  });

  describe(`the control, without withCache, in workerd with ${label}`, () => {
    let mf: Miniflare;
    beforeAll(async () => {
      mf = await start(flags);
    }, 60_000);
    afterAll(async () => {
      await mf?.dispose();
    }, 30_000);

    it("loses the early refresh when the response is returned: workerd cancels work nobody waits for", async () => {
      expect(await json(mf, "/raw/early?id=x")).toEqual({ value: 1, started: 1, done: 1 });
      await sleep(PAST_EARLY_TTL);
      expect(await json(mf, "/raw/early?id=x")).toMatchObject({ value: 1, done: 1 });
      // The refresh needs 300 ms; give it 4× that. It never finishes: its request is gone.
      await sleep(1_200);
      expect(await json(mf, "/raw/state?id=x")).toMatchObject({ done: 1 });
      expect((await json(mf, "/raw/early?id=x")).value).toBe(1); // still the old value
      expect((await json(mf, "/raw/info")).setupCalls).toBe(0);
    });
  });
}

describe("withCache in workerd with a bad setup", () => {
  let mf: Miniflare | undefined;
  afterAll(async () => {
    await mf?.dispose();
  }, 30_000);

  it("fails every event with a CacheConfigError naming the problem, and retries setup on the next event", async () => {
    mf = await start(["nodejs_compat"], { SETUP: JSON.stringify([["mem://", {}], ["memcache://cache.internal:11211", { prefix: "m:" }]]) });
    const message = 'withCache (cache "default"): setup failed for entry 2 of 2, prefix "m:": setup: unknown scheme "memcache://"';
    for (let i = 1; i <= 2; i++) {
      const response = await mf.dispatchFetch("http://localhost/info");
      const body = await response.text();
      expect(response.status).toBe(500);
      expect(body).toContain(`CacheConfigError: ${message}`);
      expect(body).not.toContain("cache.internal"); // the URL (it may hold a password) is not echoed
    }
    const worker = await workerOf(mf!);
    expect((await worker.scheduled({ cron: "cron" })).outcome).toBe("exception");
    const batch = await worker.queue("jobs", [{ id: "m1", timestamp: new Date(), body: { id: "q" }, attempts: 1 }]);
    expect(batch.outcome).toBe("exception");
    // Tried on each of the four events; the first entry was never applied: no half set-up cache.
    expect(await json(mf, "/raw/info")).toMatchObject({ setupCalls: 4, isSetup: false });
  });

  it("says so when setup(env) returns undefined (a missing binding)", async () => {
    await mf!.setOptions({
      modules: [{ type: "ESModule", path: "worker.mjs", contents: (await worker()).code }],
      compatibilityDate: COMPATIBILITY_DATE,
      compatibilityFlags: [],
      bindings: { SETUP: "undefined" },
    });
    const response = await mf!.dispatchFetch("http://localhost/info");
    expect(response.status).toBe(500);
    expect(await response.text()).toContain(
      'CacheConfigError: withCache (cache "default"): setup(env) returned undefined (is the binding set?); expected a URL string or a list of [url, options] entries',
    );
  });
});

// ------------------------------------------------------------------------------------ in Node

/** A fake ExecutionContext that records what is handed to waitUntil. */
function fakeCtx(): ExecutionContextLike & { promises: Promise<unknown>[] } {
  const promises: Promise<unknown>[] = [];
  return { promises, waitUntil: (promise) => void promises.push(promise) };
}

const request = new Request("http://localhost/");

/** Calls a wrapped worker's fetch as the runtime would; resolves to its Response. */
async function call(worker: WorkerHandler<any>, env: unknown = {}, ctx?: ExecutionContextLike): Promise<Response> {
  return (await worker.fetch!(request, env, ctx)) as Response;
}

describe("withCache (in Node)", () => {
  it("sets the given cache up once, from the env of the first event", async () => {
    const cache = new Cache("node");
    const envs: unknown[] = [];
    const worker = withCache(
      {
        cache,
        setup: (env: { URL: string }) => {
          envs.push(env);
          return [[env.URL, {}], ["mem://", { prefix: "p:" }]];
        },
      },
      { fetch: async () => new Response(String(cache.isSetup())) },
    );
    expect(cache.isSetup()).toBe(false); // lazy: nothing happens at wrap time
    expect(await (await call(worker, { URL: "mem://" }, fakeCtx())).text()).toBe("true");
    await call(worker, { URL: "mem://?size=1" }, fakeCtx());
    expect(envs).toEqual([{ URL: "mem://" }]);
    expect([cache.route("a").label, cache.route("p:a").label]).toEqual(["mem", "mem@p:"]);
  });

  it("binds ctx.waitUntil: background refreshes started in the event are handed to it", async () => {
    const cache = new Cache("bg");
    let calls = 0;
    const value = cache.early({ ttl: "1m", earlyTtl: "20ms", key: "v" })(async () => {
      await sleep(5);
      return ++calls;
    });
    const worker = withCache({ cache, setup: () => "mem://" }, { fetch: async () => Response.json(await value()) });
    const first = fakeCtx();
    expect(await (await call(worker, {}, first)).json()).toBe(1);
    expect(first.promises).toHaveLength(0);
    await sleep(40);
    const second = fakeCtx();
    expect(await (await call(worker, {}, second)).json()).toBe(1);
    expect(second.promises).toHaveLength(1); // the refresh, after an await: followed by async context
    await Promise.all(second.promises);
    expect(calls).toBe(2);
    expect(await (await call(worker, {}, fakeCtx())).json()).toBe(2);
  });

  it("keeps the handler's other properties and prototype, and calls handlers with the handler as `this`", async () => {
    class App {
      #secret = "s";
      name = "app";
      fetch(): Response {
        return new Response(`${this.#secret}:${this.name}`);
      }
      scheduled(this: App): string {
        return this.helper();
      }
      helper(): string {
        return "helped";
      }
    }
    const app = new App();
    const worker = withCache({ cache: new Cache("proto"), setup: () => "mem://" }, app);
    expect(worker).not.toBe(app);
    expect(worker).toBeInstanceOf(App);
    expect(worker.name).toBe("app");
    expect(worker.helper()).toBe("helped");
    expect(await worker.fetch().text()).toBe("s:app");
    expect(worker.scheduled()).toBe("helped");
    expect(worker.fetch).not.toBe(app.fetch);
    expect(Object.keys({ ...worker })).toEqual(["name", "fetch", "scheduled"]);
  });

  it("runs without a ctx (e.g. app.request in tests)", async () => {
    const worker = withCache({ cache: new Cache("noctx"), setup: () => "mem://" }, { fetch: () => new Response("ok") });
    expect(await (await call(worker)).text()).toBe("ok");
  });

  it("wraps a Hono app's request() too: it sets the cache up from its env and binds its ctx", async () => {
    const cache = new Cache("hono-request");
    let calls = 0;
    const value = cache.early({ ttl: "1m", earlyTtl: "20ms", key: "v" })(async () => {
      await sleep(5);
      return ++calls;
    });
    const app = new Hono();
    app.get("/", async (c) => c.text(`${cache.isSetup()}:${await value()}`));
    const envs: unknown[] = [];
    const worker = withCache({ cache, setup: (env: { URL: string }) => (envs.push(env), env.URL) }, app);
    expect(await (await worker.request("/", {}, { URL: "mem://" })).text()).toBe("true:1");
    expect(envs).toEqual([{ URL: "mem://" }]);
    await sleep(40);
    const ctx = { ...fakeCtx(), passThroughOnException: () => {}, props: {} };
    expect(await (await worker.request("/", {}, { URL: "mem://" }, ctx)).text()).toBe("true:1");
    expect(ctx.promises).toHaveLength(1); // the refresh went to the ctx given to request()
    await Promise.all(ctx.promises);
    expect(calls).toBe(2);
    expect(app.request).not.toBe(worker.request);
  });

  it("the waitUntil fallback (shared by withCache and cashews/hono) hands work started outside every scope to the latest context", async () => {
    const cache = new Cache("fallback").setup("mem://");
    let calls = 0;
    const value = cache.early({ ttl: "1m", earlyTtl: "20ms", key: "v" })(async () => ++calls);
    await value();
    await sleep(40);
    installWaitUntilFallback();
    installWaitUntilFallback(); // idempotent: one registration
    const [a, b] = [fakeCtx(), fakeCtx()];
    rememberContext(a);
    rememberContext(b);
    expect(await value()).toBe(1); // due: refreshed in the background, outside any scope
    expect([a.promises.length, b.promises.length]).toEqual([0, 1]);
    await Promise.all(b.promises);
    expect(calls).toBe(2);
  });

  it("infers Env from the handler and returns the handler's own type", () => {
    interface Env {
      CACHE_URL: string;
    }
    const worker = withCache(
      { cache: new Cache("types"), setup: (env: Env) => env.CACHE_URL },
      {
        extra: 1,
        async fetch(request, env, ctx) {
          expectTypeOf(env).toEqualTypeOf<Env>(); // contextually typed from setup's env
          expectTypeOf(ctx).toEqualTypeOf<ExecutionContextLike | undefined>();
          return new Response(request.url);
        },
      },
    );
    expectTypeOf(worker.extra).toEqualTypeOf<number>();
    expectTypeOf(worker.fetch).parameter(1).toEqualTypeOf<Env>();
    // Env inferred from the handler when setup's env is not annotated.
    withCache({ setup: (env) => env.CACHE_URL }, { fetch: (request: Request, env: Env) => new Response(env.CACHE_URL) });
    const plain: WorkerHandler<Env> = withCache<Env>({ setup: (env) => [[env.CACHE_URL, { prefix: "" }]] }, { fetch: () => new Response() });
    expect(typeof plain.fetch).toBe("function");
  });

  describe("a bad setup", () => {
    const fails = async (result: unknown, message: string | RegExp): Promise<void> => {
      const cache = new Cache("bad");
      let calls = 0;
      const worker = withCache({ cache, setup: () => (calls++, result as string) }, { fetch: () => new Response("ran") });
      for (let i = 0; i < 2; i++) {
        let thrown: unknown;
        try {
          await call(worker, {}, fakeCtx());
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(CacheConfigError);
        expect((thrown as Error).message).toMatch(message);
      }
      expect(calls).toBe(2); // retried on the next event
      expect(cache.isSetup()).toBe(false); // nothing applied
    };

    it("names what is wrong with what setup(env) returned", async () => {
      await fails(undefined, /setup\(env\) returned undefined \(is the binding set\?\)/);
      await fails("", /returned an empty string \(is the binding set\?\)/);
      await fails(null, /returned null; expected a URL string or a list of \[url, options\] entries/);
      await fails(42, /returned 42;/);
      await fails([], /returned an empty list/);
      await fails(["mem://", { prefix: "a" }], /returned a single \[url, options\] entry; return a list of them: \[\[url, options\]\]/);
      await fails([["mem://", {}], [undefined, {}]], /entry 2 of 2: the URL is undefined \(is the binding set\?\)/);
      await fails([["mem://", "size=1"]], /entry 1 of 1: the options are a string; expected an object/);
      await fails([{ url: "mem://" }], /entry 1 of 1 is an object; expected \[url, options\]/);
      await fails(Promise.resolve("mem://"), /returned a Promise: it must return synchronously/);
    });

    it("names the entry and the option setup rejected, applying none of the entries", async () => {
      await fails([["mem://", {}], ["mem://", { prefix: "x:", size: "many" }]], /setup failed for entry 2 of 2, prefix "x:": setup\("mem:\/\/"\): .*size/);
      await fails([["mem://", {}], ["mem://?size=5", { prefix: "a:" }], ["mem://?prefix=a:", {}]], /entries 2 and 3 both have prefix "a:": the second would replace the first/);
      await fails("redis+nope://:hunter2@host", /^(?!.*hunter2).*entry 1 of 1: setup: unknown scheme "redis\+nope:\/\/"/);
    });

    it("wraps an error thrown by setup(env)", async () => {
      const worker = withCache(
        {
          cache: new Cache("throws"),
          setup: (env: { vars?: { URL: string } }) => env.vars!.URL,
        },
        { fetch: () => new Response() },
      );
      await expect(Promise.resolve().then(() => call(worker, {}, fakeCtx()))).rejects.toThrow(/withCache \(cache "throws"\): setup\(env\) threw: .*URL/);
    });

    it("sets a lean CoreCache up as well", async () => {
      const lean = new CoreCache("lean");
      const worker = withCache({ cache: lean, setup: (env: { URL: string }) => env.URL }, { fetch: async () => new Response(String(await lean.set("k", 1))) });
      const response = (await call(worker, { URL: "mem://" }, fakeCtx())) as Response;
      expect(await response.text()).toBe("true");
      expect(lean.isSetup()).toBe(true);
      await lean.close();
    });

    it("rejects bad options and handlers at wrap time", () => {
      const setup = (): string => "mem://";
      expect(() => withCache({ setup, cahce: new Cache() } as never, { fetch: () => 1 })).toThrow(/unknown option "cahce"; known options: setup, cache/);
      expect(() => withCache({} as never, { fetch: () => 1 })).toThrow(/"setup" must be a function/);
      expect(() => withCache({ setup, cache: {} as Cache }, { fetch: () => 1 })).toThrow(/"cache" must be a cache \(a Cache or CoreCache instance\)/);
      expect(() => withCache({ setup }, {} as never)).toThrow(/has no fetch, scheduled or queue function/);
      expect(() => withCache({ setup }, null as never)).toThrow(CacheConfigError);
    });
  });
});
