// Signed values: tampered, truncated, unsigned, foreign or moved values never reach the caller.
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { Cache, type CacheEventInfo } from "../../src/index.js";
import { MISSING, type Backend } from "../../src/backends/types.js";
import { backendOf, type ConformanceTarget } from "../../src/testing/target.js";

const redisUrl = inject("redisUrl");

const targets: ConformanceTarget[] = [
  { name: "mem://", url: () => "mem://" },
  { name: "redis://", url: () => redisUrl, options: { namespace: "signing" } },
];

for (const target of targets) {
  describe.skipIf(!target.url())(`signed values on ${target.name}`, () => {
    let cache: Cache;
    let other: Cache;
    let backend: Backend;
    let tampered: CacheEventInfo[];
    beforeAll(async () => {
      cache = new Cache("signed").setup(target.url(), { ...target.options, secret: "right" });
      other = new Cache("other").setup(target.url(), { ...target.options, secret: "wrong" });
      backend = await backendOf(cache);
      cache.on("tampered", (e) => tampered.push(e));
    });
    beforeEach(async () => {
      tampered = [];
      await cache.clear();
    });
    afterAll(async () => {
      await cache.clear();
      await cache.close();
      await other.close();
    });

    const raw = async (key: string): Promise<string> => {
      const value = await backend.get(key);
      expect(typeof value).toBe("string");
      return value as string;
    };

    const expectRejected = async (key: string) => {
      expect(await cache.get(key, "default")).toBe("default");
      expect(tampered.map((e) => e.key)).toEqual([key]);
      expect(await backend.get(key)).toBe(MISSING);
    };

    it("stores signed text and reads it back", async () => {
      await cache.set("k", { secret: "data", n: 1 });
      const stored = await raw("k");
      expect(stored).not.toBe(JSON.stringify({ secret: "data", n: 1 }));
      expect(stored).toContain("data");
      expect(await cache.get("k")).toEqual({ secret: "data", n: 1 });
      expect(tampered).toEqual([]);
    });

    it("a tampered payload is a miss, is deleted and reported", async () => {
      await cache.set("k", { admin: false });
      const stored = await raw("k");
      await backend.set("k", stored.replace("false", "true "), undefined);
      await expectRejected("k");
    });

    it("a flipped character anywhere is rejected", async () => {
      await cache.set("k", "value");
      const stored = await raw("k");
      for (let i = 0; i < stored.length; i++) {
        const flipped = stored.slice(0, i) + String.fromCharCode(stored.charCodeAt(i) ^ 1) + stored.slice(i + 1);
        await backend.set("k", flipped, undefined);
        expect(await cache.get("k", "default"), `position ${i}`).toBe("default");
      }
      expect(tampered.length).toBe(stored.length);
    });

    it("a truncated value is rejected", async () => {
      await cache.set("k", { a: "long enough value" });
      const stored = await raw("k");
      await backend.set("k", stored.slice(0, stored.length - 3), undefined);
      await expectRejected("k");
    });

    it("an unsigned value is rejected", async () => {
      await backend.set("k", JSON.stringify({ forged: true }), undefined);
      await expectRejected("k");
    });

    it("a value signed with another secret is rejected", async () => {
      await other.set("k", "from elsewhere");
      const foreign = await (await backendOf(other)).get("k");
      await backend.set("k", foreign, undefined);
      await expectRejected("k");
    });

    it("a value moved to another key is rejected; the original still verifies", async () => {
      await cache.set("price:1", 100);
      await backend.set("price:2", await raw("price:1"), undefined);
      await expectRejected("price:2");
      expect(await cache.get("price:1")).toBe(100);
    });

    it("a lock key reads as a miss and is left alone (not taken for a tampered value)", async () => {
      await using lock = await cache.lock("job:nightly", "1m");
      expect(lock.acquired).toBe(true);
      const seen: unknown[] = [];
      for await (const pair of cache.getMatch("job:*")) seen.push(pair);
      expect(seen).toEqual([]);
      expect(await cache.get("job:nightly", "none")).toBe("none");
      expect(tampered).toEqual([]);
      expect(await cache.isLocked("job:nightly")).toBe(true);
      await expect(cache.lock("job:nightly", "1m", { wait: false })).rejects.toThrow(/locked/);
    });

    it("counters stay plain integers and read back as numbers", async () => {
      expect(await cache.incr("hits", 3)).toBe(3);
      expect(await cache.get("hits")).toBe(3);
      expect(tampered).toEqual([]);
    });

    it("a decorated call recomputes when its entry was tampered with", async () => {
      let calls = 0;
      const fn = cache.cache({ ttl: "1m", key: "fn" })(async () => ++calls);
      expect(await fn()).toBe(1);
      await backend.set("fn", (await raw("fn")).replace(/1$/, "9"), undefined);
      expect(await fn()).toBe(2);
      expect(tampered.map((e) => e.key)).toEqual(["fn"]);
    });
  });
}
