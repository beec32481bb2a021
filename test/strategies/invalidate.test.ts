// The invalidate strategy on mem://: names checked at wrap time, argsMap/defaults and the key
// context, method targets, stacked functions, types, the bound export. Its behaviour on every
// backend (exact keys, globs, cached functions as targets) is in the conformance suite
// (src/testing/strategies/invalidate.ts, run by test/conformance/).
import { afterAll, beforeAll, beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import { Cache, CacheConfigError, invalidate, cache as defaultCache, withKeyContext } from "../../src/index.js";

describe("invalidate() wrapping", () => {
  let cache: Cache;
  beforeAll(() => {
    cache = new Cache("inv-wrap").setup("mem://");
  });
  beforeEach(() => cache.clear());
  afterAll(() => cache.close());

  it("validates names at wrap time, listing what exists", () => {
    const getUser = cache.cache({ ttl: "1m", key: "user:{id}" })(async (id: string, lang?: string) => `${id}${lang}`);
    const update = async (userId: string) => userId;
    expect(() => cache.invalidate("user:{nope}")(update)).toThrow(/nope[^]*userId/);
    expect(() => cache.invalidate(getUser, { argsMap: { bad: "userId" } })(update)).toThrow(/argsMap\.bad is not a parameter of[^]*id, lang/);
    expect(() => cache.invalidate(getUser, { argsMap: { id: "missing" } })(update)).toThrow(/"missing"[^]*parameters: userId/);
    expect(() => cache.invalidate(getUser, { defaults: { zzz: 1 } })(update)).toThrow(/defaults\.zzz[^]*id, lang/);
    expect(() => cache.invalidate(getUser, { argsMap: { id: 5 as never } })(update)).toThrow(CacheConfigError);
    expect(() => cache.invalidate(getUser, { other: 1 } as never)).toThrow(/unknown option "other"/);
    expect(() => cache.invalidate(async (id: string) => id)).toThrow(/not a cached function/);
    expect(() => cache.invalidate(42 as never)).toThrow(CacheConfigError);
    expect(() => cache.invalidate("user:{id")).toThrow(CacheConfigError);
  });

  it("a template can use argsMap/defaults, positions and the key context", async () => {
    await cache.setMany({ "acct:acme:u1:en": 1, "acct:acme:u1:de": 2, "pos:x:y": 3 });
    const f = cache.invalidate("acct:{@:get(tenant)}:{user}:{lang}", { argsMap: { user: "id" }, defaults: { lang: "en" } })(async (id: string) => id);
    await withKeyContext({ tenant: "acme" }, () => f("u1"));
    expect(await cache.exists("acct:acme:u1:en")).toBe(false);
    expect(await cache.exists("acct:acme:u1:de")).toBe(true);
    await cache.invalidate("pos:{0}:{1}")(async (a: string, b: string) => a + b)("x", "y");
    expect(await cache.exists("pos:x:y")).toBe(false);
  });

  it("a target parameter no source supplies is undefined, like a call that omits it", async () => {
    let calls = 0;
    const load = cache.cache({ ttl: "1m" })(async function feed(user: string, page?: number) {
      return [user, page, ++calls];
    });
    await load("u");
    await load("u", 2);
    await cache.invalidate(load)(async (user: string) => user)("u");
    expect(await cache.exists("feed:user:u:page:")).toBe(false);
    expect(await cache.exists("feed:user:u:page:2")).toBe(true);
    // By position, e.g. for a destructured parameter.
    await cache.invalidate(load, { defaults: { 1: 2 } })(async (user: string) => user)("u");
    expect(await cache.exists("feed:user:u:page:2")).toBe(false);
  });

  it("a method target rebuilds its class-named key from the decorated method's this", async () => {
    let loads = 0;
    class Repo {
      @cache.cache({ ttl: "1m" })
      async get(id: string): Promise<number> {
        return ++loads + id.length;
      }
    }
    // The target is the decorated method itself, taken from the prototype.
    const getMethod = Repo.prototype.get;
    class RepoWriter extends Repo {
      @cache.invalidate(getMethod)
      async put(id: string): Promise<string> {
        return id;
      }
    }
    const repo = new RepoWriter();
    await repo.get("a");
    expect(await cache.exists("RepoWriter.get:id:a")).toBe(true);
    await repo.put("a");
    expect(await cache.exists("RepoWriter.get:id:a")).toBe(false);
  });

  it("a function stacked over a cached one stays a valid target", async () => {
    let calls = 0;
    const inner = cache.cache({ ttl: "1m", key: "s:{id}" })(async (id: string) => ({ id, n: ++calls }));
    const logged = cache.invalidate("audit:{id}")(inner);
    await logged("1");
    expect(await cache.exists("s:1")).toBe(true);
    await cache.invalidate(logged)(async (id: string) => id)("1");
    expect(await cache.exists("s:1")).toBe(false);
  });

  it("keeps the decorated function's type; argsMap functions do not narrow its arguments", () => {
    const getUser = cache.cache({ ttl: "1m", key: "user:{id}" })(async (id: string) => id);
    const wrapped = cache.invalidate(getUser, { argsMap: { id: (user: { id: string }) => user.id } })(async function edit(user: { id: string }, name: string) {
      return name.length;
    });
    expectTypeOf(wrapped).toEqualTypeOf<(user: { id: string }, name: string) => Promise<number>>();
    expect(wrapped.name).toBe("edit");
    // @ts-expect-error with the arguments given explicitly, argsMap functions are checked against them
    cache.invalidate<[string]>(getUser, { argsMap: { id: (n: number) => n } });
  });

  it("the default instance exports invalidate()", async () => {
    defaultCache.setup("mem://");
    try {
      const get = defaultCache.cache({ ttl: "1m", key: "d:{id}" })(async (id: string) => id);
      await get("1");
      await invalidate(get)(async (id: string) => id)("1");
      expect(await defaultCache.exists("d:1")).toBe(false);
    } finally {
      await defaultCache.close();
    }
  });
});
