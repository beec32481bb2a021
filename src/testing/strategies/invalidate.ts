/**
 * Conformance of the invalidate strategy: after the decorated function succeeds, delete a key
 * template's entries (exact key or glob) or a cached function's entry.
 * @module
 */
import { describe, expect, it } from "vitest";
import type { Cache } from "../../index.js";
import { useTargetCache, itNeeds, type TargetHandle } from "../target.js";

/**
 * The keys in the store, sorted: every key (scan) where the store lists them, else those of
 * `written` (every key the test wrote) that exist.
 */
async function keys(target: TargetHandle, cache: Cache, written: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  if ((await target.capabilities()).listing) for await (const key of cache.scan("*")) out.push(key);
  else for (const key of written) if (await cache.exists(key)) out.push(key);
  return out.sort();
}

/** Registers the tests of the invalidate strategy on a started target in the calling `describe`. */
export function invalidateTests(target: TargetHandle): void {
  describe("invalidate()", () => {
    let cache: Cache;
    useTargetCache(target, "inv", (c) => (cache = c));

    it("a template formatted with the call's arguments deletes that key only", async () => {
      let calls = 0;
      const getUser = cache.cache({ ttl: "1m", key: "user:{id}" })(async (id: string) => ({ id, n: ++calls }));
      const rename = cache.invalidate("user:{id}")(async (id: string, name: string) => `${id}=${name}`);
      await getUser("1");
      await getUser("2");
      await cache.set("user:1:extra", "kept");
      expect(await rename("1", "Ada")).toBe("1=Ada");
      expect(await keys(target, cache, ["user:1", "user:2", "user:1:extra"])).toEqual(["user:1:extra", "user:2"]);
      expect(await getUser("1")).toEqual({ id: "1", n: 3 });
      expect(await getUser("2")).toEqual({ id: "2", n: 2 });
    });

    itNeeds(target, ["listing"], "a template with * deletes every match; unrelated keys survive", async () => {
      await cache.setMany({ "items:page:1": 1, "items:page:2": 2, "items:count": 3, "other:page:1": 4 });
      const add = cache.invalidate("items:page:*")(async (item: string) => item);
      await add("x");
      expect(await keys(target, cache, [])).toEqual(["items:count", "other:page:1"]);
    });

    itNeeds(target, ["listing"], "glob characters in argument values are literal: an id of * deletes nothing else", async () => {
      await cache.setMany({ "user:1:posts:a": 1, "user:1:posts:b": 2, "user:2:posts:a": 3, "user:*:posts:a": 4 });
      const drop = cache.invalidate("user:{id}:posts:*")(async (id: string) => id);
      await drop("*");
      expect(await keys(target, cache, [])).toEqual(["user:1:posts:a", "user:1:posts:b", "user:2:posts:a"]);
      await drop("1");
      expect(await keys(target, cache, [])).toEqual(["user:2:posts:a"]);
      // Without a glob in the template the key is deleted exactly, whatever it contains.
      await cache.set("tag:a*", 1);
      await cache.set("tag:ab", 2);
      await cache.invalidate("tag:{t}")(async (t: string) => t)("a*");
      expect(await keys(target, cache, [])).toEqual(["tag:ab", "user:2:posts:a"]);
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
      expect(await keys(target, cache, ["getUser:id:1:full:", "getUser:id:2:full:"])).toEqual(["getUser:id:1:full:", "getUser:id:2:full:"]);
      await rename("1", "Ada");
      expect(await keys(target, cache, ["getUser:id:1:full:", "getUser:id:2:full:"])).toEqual(["getUser:id:2:full:"]);
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
      expect(await keys(target, cache, ["post:1:10:en", "post:1:10:de", "post:1:11:en", "post:2:10:en"])).toEqual(["post:1:10:de", "post:1:11:en", "post:2:10:en"]);
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
      await expect(failing("1")).rejects.toThrow("cannot update 1");
      await expect(failingFn("1")).rejects.toThrow("nope");
      if ((await target.capabilities()).listing) {
        const failingGlob = cache.invalidate("list:*")(async () => Promise.reject(new Error("nope")));
        await expect(failingGlob()).rejects.toThrow("nope");
      }
      expect(await keys(target, cache, ["user:1", "list:a"])).toEqual(["list:a", "user:1"]);
    });

    itNeeds(target, ["listing"], "works as a TC39 method decorator and stacks with other decorators", async () => {
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
      expect(await keys(target, cache, [])).toEqual(["users:count"]);
      expect(await getUser("7")).toEqual({ id: "7", n: 2 });
    });
  });
}
