// Tags: the TAG_ADD script's checks, and tags validated at wrap and call time, through a method
// decorator too. `set(…, { tags })`, decorator tags and `cache.deleteTags` on every backend are in
// the conformance suite (src/testing/tags.ts, run by test/conformance/).
import { createHash } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { TAG_ADD } from "../../src/backends/scripts.js";
import { Cache, CacheConfigError } from "../../src/index.js";

describe("TAG_ADD script", () => {
  it("carries the SHA-1 of its source and touches only KEYS[1]", () => {
    expect(TAG_ADD.sha1).toBe(createHash("sha1").update(TAG_ADD.lua).digest("hex"));
    expect(TAG_ADD.lua.match(/KEYS\[(\d+)\]/g)?.every((k) => k === "KEYS[1]")).toBe(true);
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
