// The core in workerd: runtimes/workers/test-worker.ts is bundled with esbuild (Workers export
// conditions, from src/) and run through miniflare twice, with `nodejs_compat` and with no
// compatibility flag at all. Each route's JSON result is asserted here, in Node.
//
// upstash:// runs too once src/upstash.ts exists and a redis-server is available: the bundle then
// imports src/upstash.ts (registering the scheme, as `import "cashews/upstash"` would) and the
// worker reaches test/support/upstash-server.ts on 127.0.0.1 through the UPSTASH_URL binding.
import { existsSync, readFileSync } from "node:fs";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { bundleWorker, type WorkerBundle } from "../../runtimes/workers/build.js";
import { startUpstashServer, type UpstashServer } from "../support/upstash-server.js";
import { sleep, startWorker } from "../support/workerd.js";

const root = new URL("../..", import.meta.url).pathname;
const redisUrl = inject("redisUrl");
const UPSTASH_ENTRY = "src/upstash.ts";
const hasUpstashBackend = existsSync(`${root}${UPSTASH_ENTRY}`);
const runUpstash = hasUpstashBackend && redisUrl !== "";

let testBundle: Promise<WorkerBundle> | undefined;
const testWorker = (): Promise<WorkerBundle> =>
  (testBundle ??= bundleWorker("runtimes/workers/test-worker.ts", hasUpstashBackend ? [UPSTASH_ENTRY] : []));

const start = startWorker;

async function fetchJson(mf: Miniflare, path: string): Promise<any> {
  const response = await mf.dispatchFetch(`http://localhost${path}`);
  const body = (await response.json()) as Record<string, unknown>;
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body;
}


let upstash: UpstashServer | undefined;
beforeAll(async () => {
  if (runUpstash) upstash = await startUpstashServer({ redisUrl });
}, 30_000);
afterAll(async () => {
  await upstash?.stop();
});

describe("worker bundle", () => {
  it("has no ioredis, no Redis backend and no Node built-in (esbuild metafile)", async () => {
    const { metafile } = await testWorker();
    const inputs = Object.keys(metafile.inputs);
    expect(inputs.filter((file) => file.includes("node_modules/ioredis"))).toEqual([]);
    expect(inputs).not.toContain("src/redis.ts");
    expect(inputs.filter((file) => file.startsWith("src/backends/redis/") && !/\/(spec|url)\.ts$/.test(file))).toEqual([]);
    expect(inputs).toContain("src/index.ts");
    if (hasUpstashBackend) {
      expect(inputs).toContain(UPSTASH_ENTRY);
      expect(inputs.some((file) => file.includes("node_modules/@upstash/redis/"))).toBe(true);
    }
    const imports = Object.values(metafile.outputs).flatMap((output) => output.imports.map((i) => i.path));
    expect(imports.filter((path) => path.startsWith("node:") || !path.startsWith("."))).toEqual([]);
  });
});

const variants: { label: string; flags: string[]; als: boolean }[] = [
  { label: "nodejs_compat", flags: ["nodejs_compat"], als: true },
  { label: "no compatibility flags", flags: [], als: false },
];

for (const { label, flags, als } of variants) {
  describe(`workerd with ${label}`, () => {
    let mf: Miniflare;
    beforeAll(async () => {
      const bindings: Record<string, string> = {};
      if (upstash) {
        // http://127.0.0.1:PORT → upstash+http://127.0.0.1:PORT (plain http, local server)
        bindings.UPSTASH_URL = upstash.url.replace(/^http:\/\//, "upstash+http://");
        bindings.UPSTASH_TOKEN = upstash.token;
      }
      mf = await start(await testWorker(), flags, bindings);
    }, 60_000);
    afterAll(async () => {
      await mf?.dispose();
    }, 30_000);

    it("starts with setup, wrapping and decorating at module scope", async () => {
      const info = await fetchJson(mf, "/info");
      expect(info).toMatchObject({
        userAgent: "Cloudflare-Workers",
        globalAsyncLocalStorage: "undefined",
        subtle: "function",
        moduleScope: { mem: true, typed: true, signed: true, ctx: true },
      });
      // The context store finds AsyncLocalStorage through process.getBuiltinModule (nodejs_compat only).
      expect(info.process).toBe(als ? "object" : "undefined");
      expect(info.getBuiltinModule).toBe(als ? "function" : "undefined");
      expect(info.contextStoreAsync).toBe(als);
    });

    it("runs every memory command", async () => {
      expect(await fetchJson(mf, "/memory")).toEqual({
        set: true,
        get: { a: 1 },
        missing: "dflt",
        getMany: [1, null, "two"],
        incr: [1, 6, 6],
        exists: [true, false],
        expireInRange: true,
        getExpire: [-1, -2],
        expire: [true, true, true, -1],
        nx: [true, false, 1],
        xx: [false, false],
        scan: ["a", "b", "k", "n", "nx", "t"],
        count: 6,
        ping: ["PONG", "hi"],
        getOrSet: [7, 7],
        lock: [true, false, false, true],
        withLock: [42, true],
        lockedAfter: false,
        deleteMatch: 2,
        delete: [true, false],
        deleteMany: 2,
        left: ["gos", "t"],
        serializationError: "SerializationError",
        serializationErrorIsClass: true,
        cleared: 0,
      });
    });

    it("round-trips typed values through the codec", async () => {
      expect(await fetchJson(mf, "/typed")).toEqual({
        rawIsString: true,
        date: "1970-01-01T00:00:00.000Z",
        map: [[1, "x"], ["y", { z: 2 }]],
        set: [1, 2],
        big: "12345678901234567890",
        undef: true,
        nan: true,
        inf: true,
        re: "/a+b/gi",
        bytes: [1, 2, 255],
        error: ["RangeError", "bad", "why"],
        storedUndefined: [true, null, true], // JSON has no undefined: the stored undefined came back (not "dflt")
      });
    });

    it("expires memory entries across requests (the hit-path clock does not go stale)", async () => {
      // A timer armed in a request that has already returned never fires in workerd, so the memory
      // backend must not rely on one to refresh the clock its hit path reads.
      expect(await fetchJson(mf, "/ttl?phase=set")).toEqual({ short: 1, long: 2, ticker: [1, 1] });
      await sleep(400);
      expect(await fetchJson(mf, "/ttl?phase=get")).toEqual({ short: null, ticker: 2, shortExists: false, shortExpire: -2, long: 2 });
    });

    it("caches decorated functions and TC39-decorated methods (hit/miss, single-flight, default keys)", async () => {
      const result = await fetchJson(mf, "/decorator");
      expect(result).toMatchObject({
        values: [9, 9, 16],
        squareCalls: 3, // 3 and 4 once each, and three concurrent calls of 5 once
        concurrent: [25, 25, 25],
        pages: [{ user: "ada", page: 2 }, { user: "ada", page: 2 }],
        defaultKeyCalls: 1,
        method: [{ id: "u1", n: 1 }, { id: "u1", n: 1 }, { id: "u2", n: 2 }, "A@B", "A@B"],
        methodCalls: 3,
        // Default keys are read from the function's source and name (kept by keepNames, as wrangler does).
        keys: ["Users.byEmail:email:a@b", "pageOf:user:ada:page:2", "square:3", "square:4", "square:5", "user:u1", "user:u2"],
        events: [
          "miss square:3",
          "hit square:3",
          "miss square:4",
          "miss square:5",
          "miss square:5",
          "miss square:5",
          "miss pageOf:user:ada:page:2",
          "hit pageOf:user:ada:page:2",
          "miss user:u1",
          "hit user:u1",
          "miss user:u2",
          "miss Users.byEmail:email:a@b",
          "hit Users.byEmail:email:a@b",
        ],
      });
      // Callers that join a computation under way (square:5, three at once) are misses too.
      expect(result.stats).toMatchObject({ hits: 4, misses: 9, sets: 7, errors: 0 });
    });

    it("shares one computation between concurrent requests (single-flight within the isolate)", async () => {
      const results = await Promise.all([fetchJson(mf, "/slow?n=7"), fetchJson(mf, "/slow?n=7")]);
      expect(results.map((r) => r.value)).toEqual([14, 14]);
      expect(results.map((r) => r.calls).sort()).toEqual([0, 1]);
      expect(await fetchJson(mf, "/slow?n=7")).toEqual({ value: 14, calls: 0, totalCalls: 1 });
    });

    it("signs values with Web Crypto: tampered, moved and unsigned values are misses with a tampered event", async () => {
      expect(await fetchJson(mf, "/signing")).toEqual({
        storedSigned: true,
        get: { admin: false },
        tamperedGet: "default",
        tamperedDeleted: true,
        moved: [1, null],
        unsigned: "default",
        counter: [2, 2],
        // miss, hit (1 call); tampered entry → miss, recomputed (2 calls), then a hit again
        decorator: [36, 36, 1, 36, 2, 36, 2],
        tampered: ["k", "b", "plain", "ssq:6"],
      });
    });

    it(
      als
        ? "withKeyContext follows awaits and timers (AsyncLocalStorage)"
        : "withKeyContext degrades to the synchronous extent of the callback, without leaking or crashing",
      async () => {
        const result = await fetchJson(mf, "/context");
        expect(result.sync).toEqual({ id: "sync" });
        expect(result.threw).toBe("TypeError");
        expect(result.async).toBe(als);
        expect(result.keys).toEqual(
          als
            ? [
                "plan::afterThrow",
                "plan::outside",
                "plan:acme:afterAwait",
                "plan:acme:afterTimer",
                "plan:acme:sync",
                "plan:t1:c1",
                "plan:t2:c2",
                "region:acme:eu",
              ]
            : [
                // After the first await the context is gone (empty, never another call's tenant).
                "plan::afterAwait",
                "plan::afterThrow",
                "plan::afterTimer",
                "plan::c1",
                "plan::c2",
                "plan::outside",
                "plan:acme:sync",
                "region:acme:eu",
              ],
        );
      },
    );

    it.skipIf(!runUpstash)("runs upstash:// against the local REST server on 127.0.0.1", async () => {
      const before = upstash!.requests;
      expect(await fetchJson(mf, "/upstash")).toEqual({
        ping: "PONG",
        set: true,
        get: [1, "1970-01-01T00:00:00.000Z"],
        getMany: ["value", null],
        incr: [1, 5],
        expireInRange: true,
        lock: [true, false, false, true],
        decorator: [6, 6, 1],
        tampered: ["default", ["k"]],
        keys: ["n", "triple:2"],
        deleteMatch: 2,
        count: 0,
        errors: 0,
      });
      expect(upstash!.requests).toBeGreaterThan(before);
    });
  });
}

/**
 * The example Worker (runtimes/workers/worker.ts: the example Hono app of runtimes/shared/app.ts
 * behind `withCache`), with the settings of wrangler.toml, on mem:// and, through the CACHE_URL
 * binding, on upstash:// against the local REST server: the Hono middleware inside workerd.
 */
const exampleBackends = [
  { label: "mem://", bindings: (): Record<string, string> | undefined => ({}) },
  {
    label: "upstash://",
    bindings: (): Record<string, string> | undefined =>
      upstash ? { CACHE_URL: upstash.url.replace(/^http:\/\//, "upstash+http://"), UPSTASH_REDIS_REST_TOKEN: upstash.token } : undefined,
  },
];

for (const backend of exampleBackends) {
  describe(`the example worker (runtimes/workers/worker.ts, settings of wrangler.toml) on ${backend.label}`, () => {
    const toml = readFileSync(`${root}wrangler.toml`, "utf8");
    const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
    const flags = [...(/^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? "").matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    let mf: Miniflare | undefined;
    beforeAll(async () => {
      const bindings = backend.bindings();
      if (!bindings) return;
      expect(/^main\s*=\s*"runtimes\/workers\/worker\.ts"/m.test(toml)).toBe(true);
      const bundle = await bundleWorker("runtimes/workers/worker.ts");
      mf = new Miniflare({
        modules: [{ type: "ESModule", path: "worker.mjs", contents: bundle.code }],
        compatibilityDate: date!,
        compatibilityFlags: flags,
        bindings,
      });
      await mf.ready;
    }, 60_000);
    afterAll(async () => {
      await mf?.dispose();
    }, 30_000);

    it.skipIf(backend.label !== "mem://" && !runUpstash)("cacheResponse, cacheDetectHeaders and rateLimit answer as on every other runtime", async () => {
      const get = (path: string, headers: Record<string, string> = {}): Promise<Response> =>
        mf!.dispatchFetch(`http://localhost${path}`, { headers }) as unknown as Promise<Response>;
      const requestsBefore = upstash?.requests ?? 0;
      const first = await get("/users/3");
      const firstBody = await first.json();
      expect(first.status).toBe(200);
      expect(first.headers.get("x-from-cache")).toBeNull();
      expect(firstBody).toMatchObject({ id: "3", name: "Barbara" });
      const second = await get("/users/3");
      expect(second.headers.get("x-from-cache")).toBe("response:GET:/users/3");
      expect(Number(second.headers.get("x-from-cache-expire-in"))).toBeGreaterThan(0);
      expect(await second.json()).toEqual(firstBody);
      expect((await get("/users/3", { "if-none-match": second.headers.get("etag")! })).status).toBe(304);

      const profile = await get("/profile/3");
      expect(profile.headers.get("x-from-cache")).toContain("user:3");
      expect(await profile.json()).toEqual({ user: firstBody });

      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const response = await get("/limited", { "x-client-id": "worker" });
        statuses.push(response.status);
        expect(response.headers.get("ratelimit-limit")).toBe("5");
        await response.arrayBuffer();
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
      expect(await (await get("/stats")).json()).toMatchObject({ loads: 1 });
      // On upstash:// every one of those went through the REST server.
      if (backend.label === "upstash://") expect(upstash!.requests).toBeGreaterThan(requestsBefore + 5);
    });
  });
}
