/**
 * The command conformance tests: every command of API.md (with `slidingIncr` and tags) against one
 * backend, through a `Cache` set up on it.
 * @module
 */
import { describe, expect, it } from "vitest";
import { CacheConfigError, LockedError, SerializationError, type Cache } from "../index.js";
import { slidingTests } from "./sliding.js";
import { limitTests } from "./limits.js";
import { tagTests } from "./tags.js";
import { extraTests } from "./extras.js";
import { codecTests } from "./codecs.js";
import { backendOf, useTarget, useTargetCache, type ConformanceTarget, itNeeds, type TargetHandle } from "./target.js";
import { sleep } from "./wait.js";

/**
 * Registers a `describe` block with every command test (get/set and friends, expiry, locks, scans,
 * `slidingIncr`, tags, value round trips) against `target`; a part of {@link conformanceSuite}.
 *
 * @example
 * // backend.test.ts, run by vitest
 * import { commandSuite } from "cashews/testing";
 * commandSuite({ name: "mem:// (serialize)", url: () => "mem://?serialize=1" });
 */
export function commandSuite(target: ConformanceTarget): void {
  describe.skipIf(!target.url())(`commands on ${target.name}`, () => {
    commandTests(useTarget(target));
  });
}

/** Registers the command tests (commands, `slidingIncr`, tags, codecs) on a started target in the calling `describe`. */
export function commandTests(target: TargetHandle): void {
  describe("commands", () => {
    let cache: Cache;
    useTargetCache(target, target.name, (c) => (cache = c));

    it("set and get round-trip, a missing key gives the default", async () => {
      expect(await cache.set("k", { a: 1 })).toBe(true);
      expect(await cache.get("k")).toEqual({ a: 1 });
      expect(await cache.get("nope")).toBeUndefined();
      expect(await cache.get("nope", "dflt")).toBe("dflt");
    });

    it("a stored undefined is a hit, not the default", async () => {
      await cache.set("u", undefined);
      expect(await cache.exists("u")).toBe(true);
      expect(await cache.get("u", "dflt")).toBeUndefined();
    });

    it("expire is in milliseconds and getExpire answers ms, -1 and -2", async () => {
      await cache.set("short", 1, { expire: 150 });
      await cache.set("long", 1, { expire: "1h" });
      await cache.set("forever", 1);
      const left = await cache.getExpire("long");
      expect(left).toBeGreaterThan(3_500_000);
      expect(left).toBeLessThanOrEqual(3_600_000);
      expect(await cache.getExpire("short")).toBeLessThanOrEqual(150);
      expect(await cache.getExpire("forever")).toBe(-1);
      expect(await cache.getExpire("missing")).toBe(-2);
      await sleep(400);
      expect(await cache.get("short")).toBeUndefined();
      expect(await cache.exists("short")).toBe(false);
      expect(await cache.getExpire("short")).toBe(-2);
    });

    it("set without expire clears an existing TTL", async () => {
      await cache.set("k", 1, { expire: "1h" });
      await cache.set("k", 2);
      expect(await cache.getExpire("k")).toBe(-1);
      expect(await cache.get("k")).toBe(2);
    });

    itNeeds(target, ["atomic"], "exist: false writes only when absent (NX), true only when present (XX)", async () => {
      expect(await cache.set("nx", 1, { exist: false })).toBe(true);
      expect(await cache.set("nx", 2, { exist: false })).toBe(false);
      expect(await cache.get("nx")).toBe(1);
      expect(await cache.set("xx", 1, { exist: true })).toBe(false);
      expect(await cache.exists("xx")).toBe(false);
      expect(await cache.set("nx", 3, { exist: true })).toBe(true);
      expect(await cache.get("nx")).toBe(3);
    });

    it("rejects a bad expire at the call, before writing", async () => {
      await expect(cache.set("k", 1, { expire: "10 parsecs" })).rejects.toBeInstanceOf(CacheConfigError);
      await expect(cache.set("k", 1, { expire: -5 })).rejects.toBeInstanceOf(CacheConfigError);
      expect(await cache.exists("k")).toBe(false);
    });

    it("getMany and setMany keep input order and use one backend call each", async () => {
      const backend = await backendOf(cache);
      const calls = { getMany: 0, setMany: 0, get: 0, set: 0 };
      const spied = Object.fromEntries(
        (Object.keys(calls) as (keyof typeof calls)[]).map((name) => {
          const original = backend[name].bind(backend) as (...a: unknown[]) => unknown;
          (backend as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => {
            calls[name]++;
            return original(...a);
          };
          return [name, original];
        }),
      );
      try {
        await cache.setMany({ a: 1, b: "two", c: [3] }, { expire: "1m" });
        await cache.setMany([["d", { four: 4 }]]);
        const values = await cache.getMany(["c", "missing", "a", "b", "d"], null);
        expect(values).toEqual([[3], null, 1, "two", { four: 4 }]);
        expect(calls).toEqual({ getMany: 1, setMany: 2, get: 0, set: 0 });
        expect(await cache.getExpire("a")).toBeGreaterThan(50_000);
        expect(await cache.getExpire("d")).toBe(-1);
      } finally {
        for (const [name, original] of Object.entries(spied)) (backend as unknown as Record<string, unknown>)[name] = original;
      }
    });

    it("getOrSet computes once, then serves the stored value", async () => {
      let calls = 0;
      const factory = async () => {
        calls++;
        return { n: calls };
      };
      expect(await cache.getOrSet("g", factory, { expire: "1m" })).toEqual({ n: 1 });
      expect(await cache.getOrSet("g", factory, { expire: "1m" })).toEqual({ n: 1 });
      expect(calls).toBe(1);
      expect(await cache.getOrSet("plain", 42)).toBe(42);
      expect(await cache.get("plain")).toBe(42);
      await cache.set("nullish", null);
      expect(await cache.getOrSet("nullish", factory)).toBeNull();
      expect(calls).toBe(1);
    });

    itNeeds(target, ["atomic"], "incr is atomic, creates at 0, applies expire only on creation, and reads back as a number", async () => {
      expect(await cache.incr("c")).toBe(1);
      expect(await cache.incr("c", 5)).toBe(6);
      expect(await cache.incr("c", -2)).toBe(4);
      expect(await cache.get("c")).toBe(4);
      expect(await cache.getExpire("c")).toBe(-1);
      expect(await cache.incr("t", 3, { expire: "1m" })).toBe(3);
      expect(await cache.getExpire("t")).toBeGreaterThan(50_000);
      await cache.expire("t", 500_000);
      await cache.incr("t", 1, { expire: "1m" });
      expect(await cache.getExpire("t")).toBeGreaterThan(400_000);
      const results = await Promise.all(Array.from({ length: 50 }, () => cache.incr("race")));
      expect(new Set(results).size).toBe(50);
      expect(await cache.get("race")).toBe(50);
    });

    it("delete, deleteMany and exists", async () => {
      await cache.setMany({ a: 1, b: 2, c: 3 });
      expect(await cache.delete("a")).toBe(true);
      expect(await cache.delete("a")).toBe(false);
      expect(await cache.deleteMany(["b", "c", "zz"])).toBe(2);
      expect(await cache.exists("b")).toBe(false);
    });

    itNeeds(target, ["listing"], "glob patterns have Redis semantics in scan, getMatch and deleteMatch", async () => {
      const keys = ["user:1", "user:2", "user:10", "user:a", "users", "user:[x]", "a.b", "axb", "hello", "hallo", "hxllo"];
      await cache.setMany(keys.map((k) => [k, k] as const));
      const scan = async (pattern: string) => {
        const out: string[] = [];
        for await (const key of cache.scan(pattern)) out.push(key);
        return out.sort();
      };
      expect(await scan("user:*")).toEqual(["user:1", "user:10", "user:2", "user:[x]", "user:a"]);
      expect(await scan("user:?")).toEqual(["user:1", "user:2", "user:a"]);
      expect(await scan("user:[0-9]*")).toEqual(["user:1", "user:10", "user:2"]);
      expect(await scan("user:[^0-9]")).toEqual(["user:a"]);
      expect(await scan("user:\\[x\\]")).toEqual(["user:[x]"]);
      expect(await scan("a.b")).toEqual(["a.b"]);
      expect(await scan("h[ae]llo")).toEqual(["hallo", "hello"]);
      expect(await scan("nothing*")).toEqual([]);
      const pairs: [string, unknown][] = [];
      for await (const pair of cache.getMatch("user:?")) pairs.push(pair);
      expect(pairs.sort()).toEqual([["user:1", "user:1"], ["user:2", "user:2"], ["user:a", "user:a"]]);
      expect(await cache.deleteMatch("user:?")).toBe(3);
      expect(await scan("user*")).toEqual(["user:10", "user:[x]", "users"]);
      expect(await cache.deleteMatch("a?b")).toBe(2);
    });

    itNeeds(target, ["listing"], "scan yields every key once across batches", async () => {
      const entries = Array.from({ length: 250 }, (_, i) => [`many:${i}`, i] as const);
      await cache.setMany(entries);
      const seen: string[] = [];
      for await (const key of cache.scan("many:*", { batchSize: 7 })) seen.push(key);
      expect(seen.length).toBe(250);
      expect(new Set(seen).size).toBe(250);
      expect(await cache.getKeysCount()).toBe(250);
    });

    it("expire sets and removes a TTL, and answers false for a missing key", async () => {
      await cache.set("k", 1);
      expect(await cache.expire("k", "1m")).toBe(true);
      expect(await cache.getExpire("k")).toBeGreaterThan(50_000);
      expect(await cache.expire("k", 0)).toBe(true);
      expect(await cache.getExpire("k")).toBe(-1);
      expect(await cache.expire("k", null)).toBe(true);
      expect(await cache.expire("missing", "1m")).toBe(false);
      await cache.expire("k", 100);
      await sleep(300);
      expect(await cache.exists("k")).toBe(false);
    });

    it("ping answers PONG or echoes", async () => {
      expect(await cache.ping()).toBe("PONG");
      expect(await cache.ping("hello")).toBe("hello");
    });

    itNeeds(target, ["listing"], "getKeysCount and clear", async () => {
      await cache.setMany({ a: 1, b: 2, c: 3 });
      expect(await cache.getKeysCount()).toBe(3);
      await cache.clear();
      expect(await cache.getKeysCount()).toBe(0);
      expect(await cache.get("a")).toBeUndefined();
    });

    itNeeds(target, ["locks"], "setLock takes a free key once; unlock only by the owner", async () => {
      expect(await cache.setLock("lk", "me", "10s")).toBe(true);
      expect(await cache.setLock("lk", "you", "10s")).toBe(false);
      expect(await cache.unlock("lk", "you")).toBe(false);
      expect(await cache.isLocked("lk")).toBe(true);
      expect(await cache.unlock("lk", "me")).toBe(true);
      expect(await cache.isLocked("lk")).toBe(false);
      expect(await cache.unlock("lk", "me")).toBe(false);
      await expect(cache.setLock("lk", "me", 0)).rejects.toBeInstanceOf(CacheConfigError);
    });

    itNeeds(target, ["locks"], "a lock expires after its ttl", async () => {
      expect(await cache.setLock("lk", "me", 150)).toBe(true);
      await sleep(400);
      expect(await cache.setLock("lk", "you", "10s")).toBe(true);
    });

    itNeeds(target, ["locks"], "isLocked with wait polls until the lock is released, with back-off, not a hot loop", async () => {
      await cache.setLock("lk", "me", "10s");
      const backend = await backendOf(cache);
      const original = backend.exists.bind(backend);
      let polls = 0;
      backend.exists = (key: string) => {
        polls++;
        return original(key);
      };
      try {
        setTimeout(() => void cache.unlock("lk", "me"), 600);
        expect(await cache.isLocked("lk", { wait: "5s", step: 10 })).toBe(false);
        expect(polls).toBeGreaterThan(1);
        expect(polls).toBeLessThan(15);
        await cache.setLock("lk", "me", "10s");
        polls = 0;
        expect(await cache.isLocked("lk", { wait: 300, step: 10 })).toBe(true);
        expect(polls).toBeLessThan(10);
      } finally {
        backend.exists = original;
      }
    });

    itNeeds(target, ["locks"], "lock() works with await using and releases at the end of the scope", async () => {
      {
        await using lock = await cache.lock("res", "10s");
        expect(lock.acquired).toBe(true);
        expect(await cache.isLocked("res")).toBe(true);
        await expect(cache.lock("res", "10s", { wait: false })).rejects.toBeInstanceOf(LockedError);
        await expect(cache.lock("res", "10s", { wait: 100 })).rejects.toBeInstanceOf(LockedError);
      }
      expect(await cache.isLocked("res")).toBe(false);
    });

    itNeeds(target, ["locks"], "lock() waits for a holder to release, and withLock serialises bodies", async () => {
      const order: string[] = [];
      const body = (name: string) => async () => {
        order.push(`${name}:start`);
        await sleep(50);
        order.push(`${name}:end`);
        return name;
      };
      const results = await Promise.all([
        cache.withLock("job", "10s", body("a")),
        cache.withLock("job", "10s", body("b")),
        cache.withLock("job", "10s", body("c")),
      ]);
      expect(results).toEqual(["a", "b", "c"]);
      for (let i = 0; i < order.length; i += 2) {
        expect(order[i]!.split(":")[0]).toBe(order[i + 1]!.split(":")[0]);
      }
      expect(await cache.isLocked("job")).toBe(false);
      await expect(cache.withLock("job", "10s", async () => { throw new Error("boom"); })).rejects.toThrow("boom");
      expect(await cache.isLocked("job")).toBe(false);
    });

    it("rejects values that cannot round-trip, and writes nothing", async () => {
      await expect(cache.set("f", () => 1)).rejects.toBeInstanceOf(SerializationError);
      await expect(cache.set("f", { nested: { fn: () => 1 } })).rejects.toBeInstanceOf(SerializationError);
      await expect(cache.set("f", new (class Point { x = 1 })())).rejects.toBeInstanceOf(SerializationError);
      await expect(cache.set("f", Symbol("s"))).rejects.toBeInstanceOf(SerializationError);
      expect(await cache.exists("f")).toBe(false);
      await expect(cache.setMany({ ok: 1, bad: () => 2 })).rejects.toBeInstanceOf(SerializationError);
      expect(await cache.exists("ok")).toBe(false);
    });

    it("round-trips every supported type", async () => {
      const err = new TypeError("bad", { cause: new Error("root") });
      const values: Record<string, unknown> = {
        string: "héllo ☃ \u0000 end",
        emptyString: "",
        int: 42,
        negative: -7,
        float: 3.25,
        negZero: -0,
        nan: Number.NaN,
        inf: Number.POSITIVE_INFINITY,
        ninf: Number.NEGATIVE_INFINITY,
        big: 12345678901234567890123n,
        bool: false,
        nil: null,
        date: new Date("2026-11-24T10:00:00.123Z"),
        map: new Map<unknown, unknown>([["a", 1], [2, { b: [3] }]]),
        set: new Set([1, "two", 3n]),
        regexp: /ab+c/gi,
        bytes: new Uint8Array([0, 1, 255]),
        floats: new Float64Array([1.5, -0, Number.NaN]),
        buffer: new Uint8Array([9, 8, 7]).buffer,
        nested: { a: [1, undefined, { d: new Date(0), u: undefined }], m: new Map([["k", new Set([1])]]) },
        array: [1, "a", null, [2, [3]]],
        numericString: "5",
        objectWithTagLikeKeys: { "~": 1, $t: 2, __proto__x: 3 },
      };
      await cache.setMany(Object.entries(values));
      for (const [key, value] of Object.entries(values)) {
        expect(await cache.get(key), key).toStrictEqual(value);
      }
      await cache.set("err", err);
      const back = (await cache.get("err")) as Error;
      expect(back).toBeInstanceOf(Error);
      expect(back.name).toBe("TypeError");
      expect(back.message).toBe("bad");
      expect((back.cause as Error).message).toBe("root");
      expect(Object.is(await cache.get("negZero"), -0)).toBe(true);
      const nested = (await cache.get("nested")) as { a: unknown[] };
      expect(Object.keys(nested.a[2] as object)).toEqual(["d", "u"]);
    });
  });
  slidingTests(target);
  limitTests(target);
  tagTests(target);
  extraTests(target);
  codecTests(target);
}
