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

    itNeeds(target, ["atomic"], "deletes only keys that carry the tag now: not one deleted, or written again without it", async () => {
      await cache.set("again", 1, { tags: ["now"] });
      await cache.set("again", 2); // written again without the tag
      await cache.set("gone", 1, { tags: ["now"] });
      await cache.delete("gone");
      await cache.set("gone", 2, { expire: "1m" }); // deleted, then created without it
      await cache.set("other", 1, { tags: ["now"] });
      await cache.set("other", 2, { tags: ["then"] }); // written again with other tags
      await cache.set("many", 1, { tags: ["now"] });
      await cache.setMany({ many: 2 }); // setMany writes without tags
      await cache.set("kept", 1, { tags: ["now"] });
      await cache.set("kept", 2, { expire: "1m", tags: ["then", "now"] }); // again with it: deleted
      expect(await cache.deleteTags("now")).toBe(1);
      expect(await cache.getMany(["again", "gone", "other", "many", "kept"])).toEqual([2, 2, 2, 2, undefined]);
      expect(await cache.getExpire("gone")).toBeGreaterThan(50_000);
      expect(await cache.deleteTags("then")).toBe(1);
      expect(await cache.get("other")).toBeUndefined();
      // A key created after its tag was deleted survives it.
      await cache.set("kept", 3);
      expect(await cache.deleteTags("now")).toBe(0);
      expect(await cache.get("kept")).toBe(3);
    });

    itNeeds(target, ["atomic"], "tagged values read back unchanged (get, getMany, getMatch, getOrSet)", async () => {
      const value = { name: "Ada", born: new Date(Date.UTC(1815, 11, 10)), tags: new Set(["x"]) };
      await cache.set("tv:1", value, { tags: ["tv", "t\u0001\\v"] });
      await cache.set("tv:2", "$t1:\u0001looks\u0001\u0002like a header", { tags: ["tv"] });
      await cache.set("tv:3", "$t1:\u0001looks\u0001\u0002like a header");
      expect(await cache.get("tv:1")).toEqual(value);
      expect(await cache.getMany(["tv:1", "tv:2", "tv:3"])).toEqual([value, "$t1:\u0001looks\u0001\u0002like a header", "$t1:\u0001looks\u0001\u0002like a header"]);
      expect(await cache.getOrSet("tv:2", () => "computed")).toBe("$t1:\u0001looks\u0001\u0002like a header");
      if ((await target.capabilities()).listing) {
        const found = new Map<string, unknown>();
        for await (const [key, v] of cache.getMatch("tv:*")) found.set(key, v);
        expect(found.get("tv:1")).toEqual(value);
      }
      expect(await cache.deleteTags("t\u0001\\v")).toBe(1);
      expect(await cache.deleteTags("t")).toBe(0); // a prefix of a tag is another tag
      expect(await cache.deleteTags("tv")).toBe(1);
      expect(await cache.get("tv:3")).toBe("$t1:\u0001looks\u0001\u0002like a header");
    });

    itNeeds(target, ["atomic"], "incr takes tags: the counter carries them until set again without", async () => {
      expect(await cache.incr("hits", 1, { expire: "1m", tags: ["counters"] })).toBe(1);
      expect(await cache.incr("hits")).toBe(2); // keeps its tags
      expect(await cache.incr("hits", 5, { tags: ["more"] })).toBe(7); // adds a tag
      expect(await cache.get("hits")).toBe(7);
      const ttl = await cache.getExpire("hits");
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
      expect(await cache.incr("plain", 2, { tags: ["counters"] })).toBe(2);
      await cache.set("plain", 41); // written again without tags
      expect(await cache.deleteTags("counters")).toBe(1);
      expect(await cache.exists("hits")).toBe(false);
      expect(await cache.get("plain")).toBe(41);
      expect(await cache.incr("hits", 1, { tags: ["more"] })).toBe(1); // a new counter
      await cache.delete("hits");
      expect(await cache.incr("hits")).toBe(1); // created again without the tag
      expect(await cache.deleteTags("more")).toBe(0);
      expect(await cache.get("hits")).toBe(1);
    });

    itNeeds(target, ["atomic"], "expired keys leave their tag sets", async () => {
      await cache.set("short:1", 1, { expire: 100, tags: ["exp"] });
      await cache.incr("short:2", 1, { expire: 100, tags: ["exp"] });
      await cache.set("long", 2, { expire: "1m", tags: ["exp"] });
      await sleep(300);
      await cache.set("later", 3, { expire: "1m", tags: ["exp"] });
      const backend = await cache.route(`${TAG_PREFIX}exp`).start();
      const popped = await backend.tagPop(`${TAG_PREFIX}exp`, 100);
      const members = Array.isArray(popped) ? popped : [...popped.members, ...popped.unchecked];
      expect(members.sort()).toEqual(["long", "later"].sort());
    });

    itNeeds(target, ["atomic"], "a write without the tag racing deleteTags is never deleted", async () => {
      const keys = Array.from({ length: 300 }, (_, i) => `race:${i}`);
      await Promise.all(keys.map((key) => cache.set(key, "tagged", { expire: "1m", tags: ["race"] })));
      const writes = keys.map((key, i) => (i % 3 === 0 ? cache.set(key, "untagged", { expire: "1m" }) : Promise.resolve(true)));
      const deleted = await Promise.all([cache.deleteTags("race"), ...writes]);
      const values = await cache.getMany(keys);
      keys.forEach((_, i) => expect(values[i]).toBe(i % 3 === 0 ? "untagged" : undefined));
      // The untagged ones count when their tagged value went first.
      expect(deleted[0]).toBeGreaterThanOrEqual(200);
      expect(deleted[0]).toBeLessThanOrEqual(300);
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
