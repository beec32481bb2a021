// Tags: the TAG_ADD script's checks, and tags validated at wrap and call time, through a method
// decorator too. `set(…, { tags })`, decorator tags and `cache.deleteTags` on every backend are in
// the conformance suite (src/testing/tags.ts, run by test/conformance/).
import { createHash, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import { TAG_ADD, TAG_DELETE, TAG_INCR, TAG_POP } from "../../src/backends/scripts.js";
import { Cache, CacheConfigError } from "../../src/index.js";

describe("tag scripts", () => {
  for (const script of [TAG_ADD, TAG_POP, TAG_DELETE, TAG_INCR]) {
    it(`${script.name} carries the SHA-1 of its source and touches only KEYS[1]`, () => {
      expect(script.sha1).toBe(createHash("sha1").update(script.lua).digest("hex"));
      expect(script.lua.match(/KEYS\[(\d+)\]/g)?.every((k) => k === "KEYS[1]")).toBe(true);
    });
  }
});

describe("tags written by the previous version (redis://)", () => {
  const redisUrl = inject("redisUrl");
  const redis = new Redis(redisUrl);
  const ns = `legacy-tags-${randomUUID()}`;
  const cache = new Cache("legacy-tags").setup(redisUrl, { namespace: ns, safe: false });
  afterAll(async () => {
    await cache.clear();
    await cache.close();
    redis.disconnect();
  });

  it("a plain tag set still deletes its members, unchecked as that version did; adding to it converts it and keeps its TTL", async () => {
    // As the previous version stored them: values without a tag header, members in a plain set.
    await cache.set("old:1", "a");
    await cache.set("old:2", "b", { expire: "1m" });
    await redis.sadd(`${ns}:_tag:old`, "old:1", "old:2");
    await redis.pexpire(`${ns}:_tag:old`, 600_000);
    await cache.set("old:3", "c");
    await redis.sadd(`${ns}:_tag:plain`, "old:3");
    await cache.set("new:1", "d", { expire: "1m", tags: ["old"] });
    expect(await redis.type(`${ns}:_tag:old`)).toBe("zset");
    expect(await redis.pttl(`${ns}:_tag:old`)).toBeGreaterThan(590_000);
    await cache.set("new:2", "e", { tags: ["old"] });
    await cache.set("new:2", "f"); // written again without the tag: checked, so it stays
    expect(await cache.deleteTags("old", "plain")).toBe(4);
    expect(await cache.getMany(["old:1", "old:2", "old:3", "new:1", "new:2"])).toEqual([undefined, undefined, undefined, undefined, "f"]);
    expect(await redis.exists(`${ns}:_tag:old`, `${ns}:_tag:plain`)).toBe(0);
  });
});

describe("tag validation", () => {
  const cache = new Cache("tags-validation").setup("mem://");
  afterAll(() => cache.close());

  it("fails at wrap time on an unknown placeholder in a decorator tag", () => {
    const fn = async (id: string): Promise<string> => id;
    expect(() => cache.cache({ ttl: "1m", tags: ["user:{uid}"] })(fn)).toThrow(CacheConfigError);
    expect(() => cache.early({ ttl: "1m", tags: ["user:{uid}"] })(fn)).toThrow(CacheConfigError);
    expect(() => cache.hit({ ttl: "1m", cacheHits: 3, tags: ["user:{uid}"] })(fn)).toThrow(CacheConfigError);
    expect(() => cache.cache({ ttl: "1m", tags: ["user:{id}"] })(fn)).not.toThrow();
    // @ts-expect-error tags must be an array
    expect(() => cache.cache({ ttl: "1m", tags: "user:{id}" })).toThrow(CacheConfigError);
  });

  it("rejects non-string tags in set and deleteTags with the one option error class", async () => {
    // @ts-expect-error tags must be strings
    await expect(cache.set("k", 1, { tags: [1] })).rejects.toThrow(CacheConfigError);
    await expect(cache.set("k", 1, { tags: [""] })).rejects.toThrow(/set: every tag must be a non-empty string/);
    // @ts-expect-error tags must be strings
    await expect(cache.deleteTags(1)).rejects.toThrow(CacheConfigError);
    await expect(cache.get("k")).resolves.toBeUndefined(); // nothing was written
  });

  it("tags through a method decorator use the method's arguments", async () => {
    class Users {
      @cache.cache({ ttl: "1m", key: "member:{id}", tags: ["member:{id}"] })
      async get(id: number): Promise<string> {
        return `m${id}:${Math.random()}`;
      }
    }
    const users = new Users();
    const first = await users.get(7);
    expect(await users.get(7)).toBe(first);
    expect(await cache.deleteTags("member:7")).toBe(1);
    expect(await users.get(7)).not.toBe(first);
  });
});
