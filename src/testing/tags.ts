/**
 * Conformance of tags: `set(…, { tags })`, decorator `tags: ["user:{id}"]` and `cache.deleteTags`,
 * over the backend's `tagAdd`/`tagPop` primitives (set membership, TTL of the tag set, batches).
 * @module
 */
import { describe, expect, it } from "vitest";
import type { Cache } from "../index.js";
import { TAG_PREFIX } from "../core/state.js";
import { useTargetCache, itNeeds, type TargetHandle } from "./target.js";
import { sleep } from "./wait.js";

/** Registers the tag tests on a started target in the calling `describe` (no test may cause an `error` event). */
export function tagTests(target: TargetHandle): void {
  describe("tags", () => {
    let cache: Cache;
    useTargetCache(target, target.name, (c) => (cache = c), { noErrors: true });

    itNeeds(target, ["atomic"], "deleteTags removes exactly the tagged keys, then the tag", async () => {
      await cache.set("a", 1, { tags: ["t1"] });
      await cache.set("b", 2, { expire: "1m", tags: ["t1", "t2"] });
      await cache.set("c", 3, { tags: ["t2"] });
      await cache.set("d", 4);
      expect(await cache.deleteTags("t1")).toBe(2);
      expect(await cache.getMany(["a", "b", "c", "d"])).toEqual([undefined, undefined, 3, 4]);
      expect(await cache.exists(`${TAG_PREFIX}t1`)).toBe(false);
      // "b" was already deleted: a stale member is an absent-delete.
      expect(await cache.deleteTags("t2", "t1", "missing")).toBe(1);
      expect(await cache.get("c")).toBeUndefined();
      expect(await cache.get("d")).toBe(4);
      expect(await cache.deleteTags()).toBe(0);
    });

    itNeeds(target, ["atomic"], "does not tag a write that did not happen", async () => {
      await cache.set("k", 1);
      expect(await cache.set("k", 2, { exist: false, tags: ["t"] })).toBe(false);
      expect(await cache.exists(`${TAG_PREFIX}t`)).toBe(false);
      expect(await cache.deleteTags("t")).toBe(0);
      expect(await cache.get("k")).toBe(1);
    });

    itNeeds(target, ["atomic"], "keeps a long-lived member after a shorter-lived later add expires", async () => {
      await cache.set("long", "L", { expire: "1m", tags: ["mixed"] });
      await cache.set("short", "S", { expire: 150, tags: ["mixed"] });
      const ttl = await cache.getExpire(`${TAG_PREFIX}mixed`);
      expect(ttl).toBeGreaterThan(55_000);
      await sleep(400);
      expect(await cache.get("short")).toBeUndefined();
      expect(await cache.exists(`${TAG_PREFIX}mixed`)).toBe(true);
      expect(await cache.deleteTags("mixed")).toBe(1);
      expect(await cache.get("long")).toBeUndefined();
    });

    itNeeds(target, ["atomic"], "extends the tag set's TTL to the longest member and never shortens it", async () => {
      const tag = `${TAG_PREFIX}ttl`;
      await cache.set("x1", 1, { expire: "10s", tags: ["ttl"] });
      const first = await cache.getExpire(tag);
      expect(first).toBeGreaterThan(9000);
      expect(first).toBeLessThanOrEqual(10_000);
      await cache.set("x2", 2, { expire: "1s", tags: ["ttl"] });
      expect(await cache.getExpire(tag)).toBeGreaterThan(9000);
      await cache.set("x3", 3, { expire: "1h", tags: ["ttl"] });
      expect(await cache.getExpire(tag)).toBeGreaterThan(3_500_000);
      await cache.set("x4", 4, { tags: ["ttl"] }); // no expiry: the set becomes persistent
      expect(await cache.getExpire(tag)).toBe(-1);
      await cache.set("x5", 5, { expire: "1s", tags: ["ttl"] });
      expect(await cache.getExpire(tag)).toBe(-1);
      expect(await cache.deleteTags("ttl")).toBe(5);
      expect(await cache.getExpire(tag)).toBe(-2);
    });

    itNeeds(target, ["atomic"], "the tag set expires once its longest member did", async () => {
      await cache.set("e1", 1, { expire: 100, tags: ["gone"] });
      await cache.set("e2", 2, { expire: 200, tags: ["gone"] });
      await sleep(450);
      expect(await cache.exists(`${TAG_PREFIX}gone`)).toBe(false);
      expect(await cache.deleteTags("gone")).toBe(0);
    });

    itNeeds(target, ["atomic"], "deletes many (> 250) tagged keys in batches", async () => {
      const keys = Array.from({ length: 620 }, (_, i) => `many:${i}`);
      await Promise.all(keys.map((key, i) => cache.set(key, i, { expire: "1m", tags: ["many"] })));
      await cache.set("other", 1, { expire: "1m" });
      expect(await cache.deleteTags("many")).toBe(620);
      expect((await cache.getMany(keys)).every((v) => v === undefined)).toBe(true);
      expect(await cache.get("other")).toBe(1);
      expect(await cache.exists(`${TAG_PREFIX}many`)).toBe(false);
    });

    itNeeds(target, ["atomic"], "decorator tags: templates formatted with the call's args (cache strategy)", async () => {
      let calls = 0;
      const getUser = cache.cache({ ttl: "1m", key: "user:{id}", tags: ["user:{id}", "users"] })(async (id: string) => `u${id}:${++calls}`);
      const getPosts = cache.cache({ ttl: "1m", key: "posts:{id}:{page}", tags: ["user:{id}"] })(async (id: string, page: number) => `p${id}.${page}:${++calls}`);
      expect(await getUser("1")).toBe("u1:1");
      expect(await getUser("2")).toBe("u2:2");
      expect(await getPosts("1", 1)).toBe("p1.1:3");
      expect(await getUser("1")).toBe("u1:1"); // cached
      expect(await cache.deleteTags("user:1")).toBe(2);
      expect(await getUser("1")).toBe("u1:4");
      expect(await getUser("2")).toBe("u2:2"); // untouched
      expect(await getPosts("1", 1)).toBe("p1.1:5");
      expect(await cache.deleteTags("users")).toBe(2);
      expect(await getUser("2")).toBe("u2:6");
    });

    itNeeds(target, ["atomic"], "decorator tags on the value strategies (failover, early, soft, hit)", async () => {
      let calls = 0;
      const fn = async (id: string): Promise<string> => `${id}:${++calls}`;
      const failover = cache.failover({ ttl: "1m", key: "fo:{id}", tags: ["v:{id}"] })(fn);
      const early = cache.early({ ttl: "1m", key: "early:{id}", tags: ["v:{id}"] })(fn);
      const soft = cache.soft({ ttl: "1m", softTtl: "30s", key: "soft:{id}", tags: ["v:{id}"] })(fn);
      const hit = cache.hit({ ttl: "1m", cacheHits: 100, key: "hit:{id}", tags: ["v:{id}"] })(fn);
      await failover("a");
      await early("a");
      await soft("a");
      await hit("a");
      await early("b");
      // Each strategy's default prefix: "fail", "early", "soft", "hit".
      const stored = ["fail:fo:a", "early:early:a", "soft:soft:a", "hit:hit:a"];
      for (const key of stored) expect(await cache.exists(key)).toBe(true);
      expect(await cache.deleteTags("v:a")).toBe(4);
      for (const key of stored) expect(await cache.exists(key)).toBe(false);
      expect(await cache.exists("early:early:b")).toBe(true);
      calls = 0;
      expect(await early("a")).toBe("a:1"); // recomputed
    });
  });
}
