// defineBackend / registerBackend (the public backend contract) and capabilities: what a backend
// lacks is refused with a CacheCapabilityError, at wrap time when every route lacks it, else by the
// command, in safe mode too, and never after a partial write.
import { describe, expect, it } from "vitest";
import { Cache, CacheCapabilityError, CacheConfigError, defineBackend, registerBackend, type Backend } from "../../src/index.js";
import { CoreCache, rateLimit } from "../../src/core.js";
import { withCache } from "../../src/workers.js";
import { mapBackend, registerMapBackend } from "../../runtimes/shared/map-backend.js";
import { MemoryBackend } from "../../src/backends/memory.js";

registerMapBackend();

let n = 0;
const fresh = (): string => `define-test-${++n}-${Math.random().toString(36).slice(2)}`;

describe("defineBackend", () => {
  it("needs get, set, delete, getExpire and expire, and says which is missing", () => {
    expect(() => defineBackend(null as never)).toThrow(CacheConfigError);
    const base = mapBackend({ namespace: fresh() });
    const { getExpire: _, ...withoutGetExpire } = base;
    expect(() => defineBackend({ ...withoutGetExpire, kind: "x" } as never)).toThrow(/defineBackend \(x\): "getExpire" must be a function/);
  });

  it("derives capabilities from the methods given: no keys → no listing; no incr… → not atomic; no setLock → no locks", () => {
    expect(mapBackend({ namespace: fresh() }).capabilities).toEqual({ atomic: false, locks: false, listing: true });
    expect(mapBackend({ namespace: fresh(), listing: false }).capabilities).toMatchObject({ listing: false });
  });

  it("commands it lacks reject with a CacheCapabilityError naming the backend, the capability and what to use instead", async () => {
    const backend: Backend = mapBackend({ namespace: fresh(), listing: false });
    const refused = async (call: () => unknown, capability: string): Promise<void> => {
      const error = await Promise.resolve()
        .then(call)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(CacheCapabilityError);
      expect(error).toMatchObject({ backend: "map", capability, name: "CacheCapabilityError" });
    };
    await refused(() => backend.incr("k", 1, undefined), "atomic");
    await refused(() => backend.slidingIncr("k", 1000, 5), "atomic");
    await refused(() => backend.tagAdd("t", "k", undefined), "atomic");
    await refused(() => backend.set("k", "v", undefined, false), "atomic");
    await refused(() => backend.setLock("k", "v", 1000), "locks");
    await refused(() => backend.deleteMatch("*"), "listing");
    await refused(() => backend.clear(), "listing");
    const error = await backend.incr("k", 1, undefined).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/incr needs atomic operations, which map:\/\/ does not have: .*redis:\/\//);
  });

  it("a definition's methods may answer plain values: the cache's commands still get them", async () => {
    // exists and ping are taken from the definition as they are (bound), so their answers reach
    // the core unwrapped: a plain boolean or string, not a promise.
    const base = mapBackend({ namespace: fresh() });
    const store = new Map<string, unknown>();
    registerBackend("plainmap", () =>
      defineBackend({
        ...base,
        kind: "plainmap",
        get: async (key: string) => store.get(key),
        set: async (key: string, value: unknown) => {
          store.set(key, value);
          return true;
        },
        exists: ((key: string) => store.has(key)) as never,
        ping: ((message?: string) => message ?? "PONG") as never,
      }),
    );
    const cache = new Cache("plain").setup("plainmap://", { safe: false });
    await cache.set("k", 1);
    expect(await cache.exists("k")).toBe(true);
    expect(await cache.exists("other")).toBe(false);
    expect(await cache.ping("hi")).toBe("hi");
  });

  it("matches glob patterns for a backend that only lists keys by prefix (Redis semantics)", async () => {
    const cache = new Cache("glob").setup("map://", { namespace: fresh() });
    await cache.setMany({ "user:1": 1, "user:2": 2, "user:10": 3, "userx:1": 4, "item:1": 5 });
    const found: string[] = [];
    for await (const key of cache.scan("user:?")) found.push(key);
    expect(found.sort()).toEqual(["user:1", "user:2"]);
    expect(await cache.deleteMatch("user:[12]*")).toBe(3);
    expect(await cache.getKeysCount()).toBe(2);
    await cache.clear();
    expect(await cache.getKeysCount()).toBe(0);
  });
});

describe("registerBackend", () => {
  it("refuses bad and built-in schemes, and a factory that returns no backend", async () => {
    expect(() => registerBackend("Bad Scheme", () => mapBackend())).toThrow(/registerBackend: the scheme must be/);
    expect(() => registerBackend("redis", () => mapBackend())).toThrow(/built-in scheme/);
    expect(() => registerBackend("nofactory", undefined as never)).toThrow(/factory must be a function/);
    registerBackend("broken-factory", () => ({}) as never);
    const cache = new Cache("broken").setup("broken-factory://", { safe: false });
    await expect(cache.get("k")).rejects.toThrow(/factory must return a backend \(use defineBackend\)/);
  });

  it("validates the scheme's options at setup", () => {
    expect(() => new Cache("x").setup("map://?delay=soon")).toThrow(CacheConfigError);
    expect(() => new Cache("x").setup("map://?colour=red")).toThrow(/unknown query parameter "colour"; known options: .*delay/);
  });
});

describe("capabilities in the cache", () => {
  it("refuses a strategy at wrap time when every route lacks what it needs", () => {
    const cache = new Cache("wrap").setup("map://", { namespace: fresh() });
    expect(() => cache.rateLimit({ limit: 1, period: "1s" })).toThrow(CacheCapabilityError);
    expect(() => rateLimit(cache, { limit: 1, period: "1s" })).toThrow(/rateLimit needs atomic operations, which map:\/\//);
    expect(() => cache.slidingRateLimit({ limit: 1, period: "1s" })).toThrow(CacheCapabilityError);
    expect(() => cache.circuitBreaker({ errorsRate: 0.5, period: "1s", ttl: "1s" })).toThrow(CacheCapabilityError);
    expect(() => cache.hit({ ttl: "1m", cacheHits: 3 })).toThrow(CacheCapabilityError);
    expect(() => cache.locked({ ttl: "1s" })).toThrow(/locked needs atomic locks/);
    expect(() => cache.perf({ ttl: "1s" })).toThrow(CacheCapabilityError);
    expect(() => cache({ ttl: "1m", lock: true })).toThrow(/cache: lock: true needs atomic locks/);
    expect(() => cache({ ttl: "1m", key: "k", tags: ["users"] })(async () => 1)).toThrow(/cache: tags needs atomic operations/);
    // What needs nothing more is fine.
    expect(() => cache({ ttl: "1m" })).not.toThrow();
    expect(() => cache.early({ ttl: "1m" })).not.toThrow();
    expect(() => cache.failover({ ttl: "1m" })).not.toThrow();
  });

  it("with a route that has it, wraps; a call whose key reaches the route without it is refused, in safe mode too", async () => {
    const cache = new Cache("mixed").setup("map://", { namespace: fresh() }).setup("mem://", { prefix: "local:" });
    const onMemory = cache.rateLimit({ limit: 5, period: "1m", prefix: "local:rl" })(async (id: string) => id);
    const onMap = cache.rateLimit({ limit: 5, period: "1m" })(async (id: string) => id);
    expect(await onMemory("user")).toBe("user");
    await expect(onMap("user")).rejects.toBeInstanceOf(CacheCapabilityError);
    await expect(cache.incr("counter")).rejects.toMatchObject({ backend: "map", capability: "atomic" });
    await expect(cache.lock("job", "1s")).rejects.toBeInstanceOf(CacheCapabilityError);
    expect(await cache.incr("local:counter")).toBe(1);
  });

  it("checks tags before writing: a refused tag leaves no untagged value behind", async () => {
    const cache = new Cache("tags").setup("mem://").setup("map://", { prefix: "_tag:", namespace: fresh() });
    await expect(cache.set("user:1", "Ada", { tags: ["users"] })).rejects.toBeInstanceOf(CacheCapabilityError);
    expect(await cache.exists("user:1")).toBe(false);
    const load = cache({ ttl: "1m", key: "user:{id}", tags: ["users"] })(async (id: string) => id);
    await expect(load("2")).rejects.toBeInstanceOf(CacheCapabilityError);
    expect(await cache.exists("user:2")).toBe(false);
  });

  it("early refreshes without a lock on a store that has none (one refresh per process)", async () => {
    const cache = new Cache("early").setup("map://", { namespace: fresh() });
    let calls = 0;
    const feed = cache.early({ ttl: "1m", earlyTtl: 30, key: "feed" })(async () => ++calls);
    expect(await feed()).toBe(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(await feed()).toBe(1); // stale-early: served, refresh in the background
    await expect.poll(async () => feed(), { timeout: 5_000 }).toBe(2);
  });
});

describe("refused before the function runs, never after it (no side effect, then an error)", () => {
  it("circuitBreaker, perf, tags and glob invalidate wrapped before setup: the first call is refused and the function never ran", async () => {
    const cache = new Cache("late-setup");
    let ran = 0;
    const work = async function work(id: string) {
      ran++;
      return id;
    };
    const breaker = cache.circuitBreaker({ errorsRate: 50, period: "1m", ttl: "30s" })(work);
    const timed = cache.perf({ ttl: "1m" })(work);
    const tagged = cache({ ttl: "1m", key: "t:{id}", tags: ["things"] })(work);
    const unlisted = new Cache("late-setup, no listing");
    const invalidating = unlisted.invalidate("t:*")(work);
    cache.setup("map://", { namespace: fresh() }); // as withCache does, on the first request
    unlisted.setup("map://?listing=0", { namespace: fresh() });
    for (const [name, call] of Object.entries({ breaker, timed, tagged, invalidating })) {
      await expect(call("1"), name).rejects.toBeInstanceOf(CacheCapabilityError);
    }
    expect(ran).toBe(0);
    expect(await cache.exists("t:1")).toBe(false);
  });

  it("glob invalidate is refused at wrap time when no backend lists keys", async () => {
    const cache = new Cache("no-listing").setup("map://?listing=0", { namespace: fresh() });
    await cache.get("x"); // map:// states its listing once created (cloudflare-cache:// declares it in its scheme)
    expect(() => cache.invalidate("items:page:*")).toThrow(/invalidate\("items:page:\*"\) needs listing keys by pattern/);
    expect(() => cache.invalidate("items:{id}")).not.toThrow(); // an exact key is deleted by name
  });

  it("a tagged first write on a custom backend that has not started yet is refused before writing", async () => {
    registerBackend("lazy-map", () => mapBackend({ namespace: "lazy-map" })); // no capabilities declared: known once created
    const cache = new Cache("lazy").setup("lazy-map://");
    await expect(cache.set("k", 1, { tags: ["t"] })).rejects.toBeInstanceOf(CacheCapabilityError);
    expect(await cache.exists("k")).toBe(false);
  });

  it("a capability the scheme declares false stays false once the backend (with its own defaults) is created", async () => {
    registerBackend("weak-map", () => mapBackend({ namespace: fresh() }), { capabilities: { strongConsistency: false } });
    const cache = new Cache("weak").setup("weak-map://");
    expect(() => cache.rateLimit({ limit: 1, period: "1s" })).toThrow(CacheCapabilityError);
    await cache.get("x"); // starts the backend
    expect(cache.route("").capabilities).toMatchObject({ strongConsistency: false, atomic: false });
    expect(() => cache.rateLimit({ limit: 1, period: "1s" })).toThrow(CacheCapabilityError);
  });
});

describe("withCache and bindings", () => {
  it("gives env to a scheme that declares an env option, unless the entry passes its own", async () => {
    const seen: unknown[] = [];
    registerBackend(
      "binding-test",
      (config) => {
        seen.push(config.options.env);
        return mapBackend({ namespace: fresh() });
      },
      { options: { env: { kind: "object" } } },
    );
    const env = { STORE: "bound" };
    const cache = new CoreCache("bindings");
    const worker = withCache({ cache, setup: () => "binding-test://STORE" }, { fetch: async () => new Response(String(await cache.set("k", 1))) });
    expect(await (await (worker.fetch as (r: Request, e: unknown) => Promise<Response>)(new Request("https://x.test/"), env)).text()).toBe("true");
    expect(seen).toEqual([env]);
    const own = { STORE: "own" };
    const other = new CoreCache("bindings-own");
    const worker2 = withCache({ cache: other, setup: () => [["binding-test://STORE", { env: own }]] }, { fetch: async () => new Response(String(await other.set("k", 1))) });
    await (worker2.fetch as (r: Request, e: unknown) => Promise<Response>)(new Request("https://x.test/"), env);
    expect(seen).toEqual([env, own]);
  });
});

describe("defineBackend: tags on a store with atomic operations", () => {
  // A definition over a serialising memory store (strings, like any custom store): it keeps no
  // tags itself, so the derived backend writes them in a header and checks it before deleting.
  const store = (): MemoryBackend => new MemoryBackend({ serialize: true, checkInterval: 0 });
  const definition = (mem: MemoryBackend) => ({
    kind: "atomic-map",
    get: (key: string) => mem.get(key),
    set: (key: string, value: unknown, expireMs: number | undefined, exist?: boolean) => mem.set(key, value, expireMs, exist),
    delete: (key: string) => mem.delete(key),
    getExpire: (key: string) => mem.getExpire(key),
    expire: (key: string, expireMs: number | undefined) => mem.expire(key, expireMs),
    incr: (key: string, by: number, expireMs: number | undefined) => mem.incr(key, by, expireMs),
    slidingIncr: (key: string, windowMs: number, limit: number) => mem.slidingIncr(key, windowMs, limit),
    tagAdd: (key: string, member: string, expireMs: number | undefined) => mem.tagAdd(key, member, expireMs),
    tagPop: (key: string, count: number) => mem.tagPop(key, count),
    setLock: (key: string, value: string, ttlMs: number) => mem.setLock(key, value, ttlMs),
    unlock: (key: string, value: string) => mem.unlock(key, value),
  });
  registerBackend("atomic-map", () => defineBackend(definition(store())));

  it("deleteTags deletes only what carries the tag now; a value written again without it stays", async () => {
    const cache = new Cache("define-tags").setup("atomic-map://");
    await cache.set("a", { n: 1 }, { tags: ["t"] });
    await cache.set("b", 2, { tags: ["t"] });
    await cache.set("b", 3); // again without the tag
    await cache.set("c", 4, { tags: ["u"] });
    expect(await cache.get("a")).toEqual({ n: 1 });
    expect(await cache.deleteTags("t")).toBe(1);
    expect(await cache.getMany(["a", "b", "c"])).toEqual([undefined, 3, 4]);
    await cache.close();
  });

  it("stores the tags in a header on the text, and refuses incr with tags (the definition's incr cannot keep them)", async () => {
    const mem = store();
    const backend = defineBackend(definition(mem));
    await backend.set("k", "1", undefined, undefined, ["t"]);
    expect(await mem.get("k")).toBe("$t1:\u0001t\u0001\u00021");
    expect(await backend.tagDelete("t", ["k", "missing"])).toBe(1);
    await expect(backend.incr("n", 1, undefined, ["t"])).rejects.toBeInstanceOf(CacheCapabilityError);
    expect(await backend.incr("n", 1, undefined)).toBe(1);
    // Without unlock there is no compare-and-delete: refused, never an unchecked delete.
    const { unlock: _, ...withoutUnlock } = definition(mem);
    await expect(defineBackend(withoutUnlock).tagDelete("t", ["k"])).rejects.toBeInstanceOf(CacheCapabilityError);
  });

  it("a definition that implements tagDelete owns the tags: set and incr receive them", async () => {
    const mem = store();
    const seen: unknown[] = [];
    const backend = defineBackend({
      ...definition(mem),
      set: (key: string, value: unknown, expireMs: number | undefined, exist?: boolean, tags?: readonly string[]) => (seen.push(tags), mem.set(key, value, expireMs, exist, tags)),
      incr: (key: string, by: number, expireMs: number | undefined, tags?: readonly string[]) => (seen.push(tags), mem.incr(key, by, expireMs, tags)),
      tagDelete: (tag: string, keys: readonly string[]) => mem.tagDelete(tag, keys),
    });
    await backend.set("k", "v", undefined, undefined, ["t"]);
    await backend.incr("n", 1, undefined, ["t"]);
    expect(seen).toEqual([["t"], ["t"]]);
    expect(await mem.get("k")).toBe("v");
    expect(await backend.tagDelete("t", ["k", "n"])).toBe(2);
  });

  it("a definition with tagDelete but no incr (atomic declared) still owns its tags: its tagDelete is called, no header is added", async () => {
    const mem = store();
    let called = 0;
    const { incr: _incr, ...noIncr } = definition(mem) as Record<string, unknown>;
    const backend = defineBackend({
      ...(noIncr as ReturnType<typeof definition>),
      capabilities: { atomic: true },
      set: (key: string, value: unknown, expireMs: number | undefined, exist?: boolean, tags?: readonly string[]) => mem.set(key, value, expireMs, exist, tags),
      tagDelete: (tag: string, keys: readonly string[]) => (called++, mem.tagDelete(tag, keys)),
    });
    await backend.set("k", "v", undefined, undefined, ["t"]);
    expect(await mem.get("k")).toBe("v");
    expect(await backend.tagDelete("t", ["k"])).toBe(1);
    expect(called).toBe(1);
  });
});
