// The invalidate strategy: after the decorated function succeeds, delete a key template's entries
// (exact key or glob) or a cached function's entry, on every backend.
import { afterAll, beforeAll, beforeEach, describe, expect, expectTypeOf, inject, it } from "vitest";
import { Cache, CacheConfigError, invalidate, cache as defaultCache, withKeyContext } from "../../src/index.js";
import { openTarget, type ConformanceTarget } from "../../src/testing/target.js";
import { upstashTarget } from "../support/backends.js";

const redisUrl = inject("redisUrl");
const redisClusterUrl = inject("redisClusterUrl");

type Target = ConformanceTarget;

const targets: Target[] = [
  { name: "mem://", url: () => "mem://" },
  { name: "redis://", url: () => redisUrl, options: { namespace: `inv-${process.pid}` } },
  { name: "redis:// (clientSide)", url: () => redisUrl, options: { namespace: `inv-cs-${process.pid}`, clientSide: true } },
  { name: "redis+cluster://", url: () => redisClusterUrl, options: { namespace: `inv-${process.pid}` } },
  { name: "upstash://", ...upstashTarget(redisUrl, { namespace: `inv-up-${process.pid}` }) },
];

async function keys(cache: Cache): Promise<string[]> {
  const out: string[] = [];
  for await (const key of cache.scan("*")) out.push(key);
  return out.sort();
}

for (const target of targets) {
  describe.skipIf(!target.url())(`invalidate() on ${target.name}`, () => {
    let cache: Cache;
    let stop: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      ({ cache, stop } = await openTarget(target, "inv"));
    });
    beforeEach(async () => {
      await cache.clear();
    });
    afterAll(async () => {
      await cache?.clear();
      await stop?.();
    });

    it("a template formatted with the call's arguments deletes that key only", async () => {
      let calls = 0;
      const getUser = cache.cache({ ttl: "1m", key: "user:{id}" })(async (id: string) => ({ id, n: ++calls }));
      const rename = cache.invalidate("user:{id}")(async (id: string, name: string) => `${id}=${name}`);
      await getUser("1");
      await getUser("2");
      await cache.set("user:1:extra", "kept");
      expect(await rename("1", "Ada")).toBe("1=Ada");
      expect(await keys(cache)).toEqual(["user:1:extra", "user:2"]);
      expect(await getUser("1")).toEqual({ id: "1", n: 3 });
      expect(await getUser("2")).toEqual({ id: "2", n: 2 });
    });

    it("a template with * deletes every match; unrelated keys survive", async () => {
      await cache.setMany({ "items:page:1": 1, "items:page:2": 2, "items:count": 3, "other:page:1": 4 });
      const add = cache.invalidate("items:page:*")(async (item: string) => item);
      await add("x");
      expect(await keys(cache)).toEqual(["items:count", "other:page:1"]);
    });

    it("glob characters in argument values are literal: an id of * deletes nothing else", async () => {
      await cache.setMany({ "user:1:posts:a": 1, "user:1:posts:b": 2, "user:2:posts:a": 3, "user:*:posts:a": 4 });
      const drop = cache.invalidate("user:{id}:posts:*")(async (id: string) => id);
      await drop("*");
      expect(await keys(cache)).toEqual(["user:1:posts:a", "user:1:posts:b", "user:2:posts:a"]);
      await drop("1");
      expect(await keys(cache)).toEqual(["user:2:posts:a"]);
      // Without a glob in the template the key is deleted exactly, whatever it contains.
      await cache.set("tag:a*", 1);
      await cache.set("tag:ab", 2);
      await cache.invalidate("tag:{t}")(async (t: string) => t)("a*");
      expect(await keys(cache)).toEqual(["tag:ab", "user:2:posts:a"]);
    });

    it("a cached function as the target: its key is rebuilt from the call's same-named parameters", async () => {
      let calls = 0;
      // (a binding named like the function would make esbuild rename the function)
      const load = cache.cache({ ttl: "1m" })(async function getUser(id: string, full = false) {
        return { id, full, n: ++calls };
      });
      const rename = cache.invalidate(load)(async function rename(id: string, name: string) {
        return name;
      });
      await load("1");
      await load("2");
      expect(await keys(cache)).toEqual(["getUser:id:1:full:", "getUser:id:2:full:"]);
      await rename("1", "Ada");
      expect(await keys(cache)).toEqual(["getUser:id:2:full:"]);
      expect(await load("1")).toEqual({ id: "1", full: false, n: 3 });
    });

    it("argsMap (function and parameter-name forms) and defaults supply the target's parameters", async () => {
      let calls = 0;
      const getPost = cache.cache({ ttl: "1m", key: "post:{userId}:{postId}:{lang}" })(async (userId: number, postId: number, lang: string) => ({
        userId,
        postId,
        lang,
        n: ++calls,
      }));
      await getPost(1, 10, "en");
      await getPost(1, 10, "de");
      await getPost(1, 11, "en");
      await getPost(2, 10, "en");
      const edit = cache.invalidate(getPost, {
        argsMap: { userId: (post: { author: number }) => post.author, postId: "id" },
        defaults: { lang: "en" },
      })(async (post: { author: number }, id: number) => `${post.author}/${id}`);
      expect(await edit({ author: 1 }, 10)).toBe("1/10");
      expect(await keys(cache)).toEqual(["post:1:10:de", "post:1:11:en", "post:2:10:en"]);
      expect(calls).toBe(4);
      await getPost(1, 10, "en");
      expect(calls).toBe(5);
    });

    it("a failing function invalidates nothing", async () => {
      await cache.setMany({ "user:1": 1, "list:a": 2 });
      const getUser = cache.cache({ ttl: "1m", key: "user:{id}" })(async (id: string) => id);
      const failing = cache.invalidate("user:{id}")(async (id: string) => {
        throw new Error(`cannot update ${id}`);
      });
      const failingFn = cache.invalidate(getUser)(async (_id: string) => {
        throw new Error("nope");
      });
      const failingGlob = cache.invalidate("list:*")(async () => Promise.reject(new Error("nope")));
      await expect(failing("1")).rejects.toThrow("cannot update 1");
      await expect(failingFn("1")).rejects.toThrow("nope");
      await expect(failingGlob()).rejects.toThrow("nope");
      expect(await keys(cache)).toEqual(["list:a", "user:1"]);
    });

    it("works as a TC39 method decorator and stacks with other decorators", async () => {
      let loads = 0;
      const getUser = cache.cache({ ttl: "1m", key: "user:{id}" })(async (id: string) => ({ id, n: ++loads }));
      class Users {
        @cache.invalidate(getUser)
        @cache.invalidate("users:list:*")
        async rename(id: string, name: string): Promise<string> {
          return `${id}:${name}`;
        }
      }
      await getUser("7");
      await cache.setMany({ "users:list:1": [1], "users:list:2": [2], "users:count": 2 });
      expect(await new Users().rename("7", "Bo")).toBe("7:Bo");
      expect(await keys(cache)).toEqual(["users:count"]);
      expect(await getUser("7")).toEqual({ id: "7", n: 2 });
    });
  });
}

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
