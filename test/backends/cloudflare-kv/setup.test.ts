// cloudflare-kv:// at setup: the binding from `binding` or `env[NAME]`, and a CacheConfigError
// naming what is wrong (no binding, a wrong one, a name env does not have, a bad cacheTtl), with
// no I/O. Then the refused commands: CacheCapabilityError from the backend and through a Cache,
// in safe mode too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cache, CacheCapabilityError, CacheConfigError } from "../../../src/index.js";
import { cloudflareKvSpec, createCloudflareKvBackend, isKvNamespace, kvBindingName, type KvNamespaceLike } from "../../../src/cloudflare-kv.js";
import { startKv, type KvServer } from "../../support/kv.js";

let server: KvServer;
let env: Record<string, unknown>;
beforeAll(async () => {
  server = await startKv(["CACHE_KV", "OTHER_KV"]);
  env = { CACHE_KV: server.bindings.CACHE_KV, OTHER_KV: server.bindings.OTHER_KV, API_TOKEN: "secret-token", RATE: 5 };
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

/** The CacheConfigError `setup(url, options)` throws. */
function setupError(url: string, options: Record<string, unknown>): CacheConfigError {
  try {
    new Cache("kv-setup").setup(url, options);
  } catch (error) {
    expect(error).toBeInstanceOf(CacheConfigError);
    return error as CacheConfigError;
  }
  throw new Error(`setup(${url}) did not throw`);
}

describe("setup: where the binding comes from", () => {
  it("env[NAME], or a binding (NAME may then be omitted): both reach the same KV", async () => {
    const viaEnv = new Cache("kv-env").setup("cloudflare-kv://CACHE_KV", { env });
    const viaBinding = new Cache("kv-binding").setup("cloudflare-kv://", { binding: env.CACHE_KV });
    const other = new Cache("kv-other").setup("cloudflare-kv://OTHER_KV", { env });
    await viaEnv.set("k", "from env", { expire: "1m" });
    expect(await viaBinding.get("k")).toBe("from env");
    expect(await other.get("k")).toBeUndefined();
    await Promise.all([viaEnv.close(), viaBinding.close(), other.close()]);
  });

  it("binding wins over env (withCache passes env to every scheme)", async () => {
    const cache = new Cache("kv-both").setup("cloudflare-kv://CACHE_KV", { env, binding: env.OTHER_KV, namespace: "both" });
    await cache.set("k", 1, { expire: "1m" });
    expect(await (env.OTHER_KV as KvNamespaceLike).get("both:k", { type: "text" })).not.toBeNull();
    expect(await (env.CACHE_KV as KvNamespaceLike).get("both:k", { type: "text" })).toBeNull();
    await cache.close();
  });

  it("neither env nor binding: says to use withCache or pass { env } / { binding: env.NAME }", () => {
    const error = setupError("cloudflare-kv://CACHE_KV", {});
    expect(error.message).toMatch(/^cloudflare-kv: /);
    expect(error.message).toContain("withCache");
    expect(error.message).toContain('setup("cloudflare-kv://CACHE_KV", { env })');
    expect(error.message).toContain("{ binding: env.CACHE_KV }");
  });

  it("env without NAME: lists env's KV namespace bindings (and not its other keys)", () => {
    const error = setupError("cloudflare-kv://", { env });
    expect(error.message).toContain("cloudflare-kv://NAME");
    expect(error.message).toContain("KV namespace bindings in env: CACHE_KV, OTHER_KV");
    expect(error.message).not.toContain("API_TOKEN");
  });

  it("a NAME env does not have: names it and lists the KV bindings; an env without any says so", () => {
    const missing = setupError("cloudflare-kv://CACHE", { env });
    expect(missing.message).toContain('env has no binding "CACHE"');
    expect(missing.message).toContain("CACHE_KV, OTHER_KV");
    const none = setupError("cloudflare-kv://CACHE", { env: { API_TOKEN: "x" } });
    expect(none.message).toContain("env has no KV namespace binding (its keys: API_TOKEN)");
    expect(none.message).not.toContain('"x"');
  });

  it("env[NAME] that is not a KV namespace: says what it is, without echoing it", () => {
    const error = setupError("cloudflare-kv://API_TOKEN", { env });
    expect(error.message).toContain("env.API_TOKEN is not a KV namespace binding, got a string");
    expect(error.message).not.toContain("secret-token");
    expect(setupError("cloudflare-kv://RATE", { env }).message).toContain("got a number");
  });

  it("a wrong binding: an object without the KV methods, a string, a partial KV", () => {
    expect(setupError("cloudflare-kv://X", { binding: {} }).message).toContain('option "binding" must be a KV namespace binding (env.X)');
    expect(setupError("cloudflare-kv://X", { binding: "CACHE_KV" }).message).toContain("must be an object");
    const partial = { get: async () => null, put: async () => {}, delete: async () => {} };
    expect(setupError("cloudflare-kv://X", { binding: partial }).message).toContain("without get/getWithMetadata/put/delete/list");
    expect(() => createCloudflareKvBackend({} as KvNamespaceLike)).toThrow(CacheConfigError);
  });

  it("env that is not an object, a bad binding name, a cacheTtl under 30 s, an unknown option", () => {
    expect(setupError("cloudflare-kv://CACHE_KV", { env: "nope" }).message).toContain("must be an object");
    expect(setupError("cloudflare-kv://a/b", { env }).message).toContain('"a/b" is not a binding name');
    expect(setupError("cloudflare-kv://CACHE_KV", { env, cacheTtl: "10s" }).message).toContain('"cacheTtl" must be a duration of at least 30s');
    expect(setupError("cloudflare-kv://CACHE_KV?cache_ttl=5000", { env }).message).toContain("at least 30s");
    expect(setupError("cloudflare-kv://CACHE_KV", { env, token: "x" }).message).toContain("unknown option");
    expect(() => new Cache("ok").setup("cloudflare-kv://CACHE_KV?namespace=q&cache_ttl=1m", { env })).not.toThrow();
  });

  it("helpers: kvBindingName, isKvNamespace", () => {
    expect(kvBindingName("cloudflare-kv://CACHE_KV")).toBe("CACHE_KV");
    expect(kvBindingName("CLOUDFLARE-KV://")).toBe("");
    expect(isKvNamespace(env.CACHE_KV)).toBe(true);
    expect(isKvNamespace(env.API_TOKEN)).toBe(false);
    expect(isKvNamespace(null)).toBe(false);
    expect(cloudflareKvSpec.capabilities).toEqual({ atomic: false, locks: false, listing: true, exactExpiry: true, strongConsistency: false });
  });
});

describe("refused: what Workers KV cannot do atomically", () => {
  const expectRefusal = async (promise: Promise<unknown>, capability: "atomic" | "locks", command: string): Promise<void> => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CacheCapabilityError);
    const refusal = error as CacheCapabilityError;
    expect(refusal.name).toBe("CacheCapabilityError");
    expect(refusal.backend).toBe("cloudflare-kv");
    expect(refusal.capability).toBe(capability);
    expect(refusal.message).toContain(command);
    expect(refusal.message).toContain("Workers KV is eventually consistent and has no atomic operations");
    // What to use instead:
    expect(refusal.message).toMatch(capability === "atomic" ? /keep counters.*redis:\/\// : /take locks on a store that has them.*redis:\/\//);
  };

  it("the backend's own commands reject with CacheCapabilityError and write nothing", async () => {
    const backend = createCloudflareKvBackend(env.CACHE_KV as KvNamespaceLike, { namespace: "refused" });
    await expectRefusal(backend.incr("c", 1, undefined), "atomic", "incr");
    await expectRefusal(backend.slidingIncr("s", 1_000, 5), "atomic", "slidingIncr");
    await expectRefusal(backend.tagAdd("t", "m", undefined), "atomic", "tagAdd");
    await expectRefusal(backend.tagPop("t", 10), "atomic", "tagPop");
    await expectRefusal(backend.setLock("l", "owner", 1_000), "locks", "setLock");
    await expectRefusal(backend.unlock("l", "owner"), "locks", "unlock");
    await expectRefusal(backend.set("x", "v", undefined, false), "atomic", "set with exist: false (NX");
    await expectRefusal(backend.set("x", "v", undefined, true), "atomic", "set with exist: true (XX");
    expect(await backend.getKeysCount()).toBe(0);
  });

  for (const safe of [true, false]) {
    it(`through a Cache (safe: ${safe}): commands reject, strategies are refused when wrapped`, async () => {
      const cache = new Cache(`kv-refused-${safe}`).setup("cloudflare-kv://CACHE_KV", { env, safe, namespace: `refused-${safe}` });
      const errors: unknown[] = [];
      cache.on("error", (event) => void errors.push(event.error));
      await expectRefusal(cache.incr("visits"), "atomic", "incr");
      await expectRefusal(cache.slidingIncr("api", "1m", { limit: 5 }), "atomic", "slidingIncr");
      await expectRefusal(cache.set("job", 1, { exist: false }), "atomic", "NX");
      await expectRefusal(cache.set("job", 1, { exist: true }), "atomic", "XX");
      await expectRefusal(cache.set("user:1", 1, { tags: ["users"] }), "atomic", "tags");
      await expectRefusal(cache.deleteTags("users"), "atomic", "tagPop");
      await expectRefusal(cache.setLock("lock", "me", "10s"), "locks", "setLock");
      await expectRefusal(cache.unlock("lock", "me"), "locks", "unlock");
      await expectRefusal(cache.lock("lock", "10s"), "locks", "setLock");
      const fn = async (): Promise<number> => 1;
      await expectRefusal((async () => cache.rateLimit({ limit: 1, period: "1m" })(fn))(), "atomic", "rateLimit");
      await expectRefusal((async () => cache.slidingRateLimit({ limit: 1, period: "1m" })(fn))(), "atomic", "slidingRateLimit");
      await expectRefusal((async () => cache.circuitBreaker({ errorsRate: 0.5, period: "1m", ttl: "1m" })(fn))(), "atomic", "circuitBreaker");
      await expectRefusal((async () => cache.locked({ ttl: "1m" })(fn))(), "locks", "locked");
      await expectRefusal((async () => cache.cache({ ttl: "1m", lock: true })(fn))(), "locks", "lock: true");
      await expectRefusal((async () => cache.hit({ ttl: "1m", cacheHits: 3 })(fn))(), "atomic", "hit");
      // Refusals are not backend failures: nothing reported, nothing stored.
      expect(errors).toEqual([]);
      expect(await cache.getKeysCount()).toBe(0);
      await cache.close();
    });
  }
});
