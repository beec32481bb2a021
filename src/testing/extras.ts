/**
 * Conformance of the original's remaining commands (issue 17): raw text (`setRaw`, `getRaw`),
 * `getSize`, sets (`setAdd`, `setRemove`, `setPop`, `setMembers`) and command middleware
 * (`cache.use`), on one backend.
 * @module
 */
import { describe, expect, it } from "vitest";
import { Command, SerializationError, type Cache, type CacheEventInfo } from "../index.js";
import { isSigned } from "../codec/index.js";
import { backendOf, itNeeds, useTargetCache, type TargetHandle } from "./target.js";
import { sleep } from "./wait.js";

/** UTF-8 bytes of `text`, the reference for `getSize`. */
const bytes = (text: string): number => new TextEncoder().encode(text).length;

/** Registers the tests of raw text, sizes, sets and middleware on a started target in the calling `describe`. */
export function extraTests(target: TargetHandle): void {
  describe("raw text, sizes, sets, middleware", () => {
    let cache: Cache;
    const errors = useTargetCache(target, target.name, (c) => (cache = c));

    it("setRaw and getRaw store and read text as is, with set's options; getRaw of a set value is the codec's text", async () => {
      await cache.set("v", { a: [1, "é"] });
      const text = await cache.getRaw("v");
      expect(typeof text).toBe("string");
      const signed = isSigned(text!);
      // The stored text written back under another key reads as the same value (unsigned text only).
      if (!signed) {
        expect(await cache.setRaw("copy", text!)).toBe(true);
        expect(await cache.get("copy")).toEqual({ a: [1, "é"] });
        expect(await cache.getRaw("copy")).toBe(text);
      }
      expect(await cache.getRaw("missing")).toBeUndefined();
      const live = (await backendOf(cache)).storesValues;
      if (live) {
        // mem:// stores values: text the codec would not write cannot be stored (nothing is written).
        await expect(cache.setRaw("plain", "plain ☃ text")).rejects.toBeInstanceOf(SerializationError);
        expect(await cache.exists("plain")).toBe(false);
      } else {
        expect(await cache.setRaw("plain", "plain ☃ text", { expire: "1m" })).toBe(true);
        expect(await cache.getRaw("plain")).toBe("plain ☃ text");
        expect(await cache.getExpire("plain")).toBeGreaterThan(50_000);
        // Not the codec's text: a miss for get (under a secret: unsigned, so tampered), never a throw.
        expect(await cache.get("plain", "dflt")).toBe("dflt");
      }
      await expect(cache.setRaw("bad", 42 as unknown as string)).rejects.toBeInstanceOf(TypeError);
      expect(await cache.exists("bad")).toBe(false);
    });

    itNeeds(target, ["atomic"], "setRaw honours exist (NX/XX); getRaw of a counter is its digits", async () => {
      expect(await cache.incr("n", 25)).toBe(25);
      expect(await cache.getRaw("n")).toBe("25");
      expect(await cache.getSize("n")).toBe(2);
      expect(await cache.setRaw("n", "7", { exist: false })).toBe(false);
      expect(await cache.setRaw("n", "7", { exist: true })).toBe(true);
      expect(await cache.get("n")).toBe(7);
    });

    it("getSize answers the UTF-8 bytes of the stored text, -2 when missing", async () => {
      await cache.set("s", "héllo ☃");
      const text = (await cache.getRaw("s"))!;
      expect(await cache.getSize("s")).toBe(bytes(text));
      expect(bytes(text)).toBeGreaterThan(text.length); // multi-byte characters count as bytes
      expect(await cache.getSize("missing")).toBe(-2);
      await cache.set("empty", "");
      expect(await cache.getSize("empty")).toBe(bytes((await cache.getRaw("empty"))!));
    });

    itNeeds(target, ["atomic"], "setAdd, setMembers, setRemove: counts, members, removal of the emptied set", async () => {
      expect(await cache.setAdd("set", ["a", "b", "c"])).toBe(3);
      expect(await cache.setAdd("set", ["c", "d"])).toBe(1);
      expect(await cache.setAdd("set", "a")).toBe(0);
      expect((await cache.setMembers("set")).sort()).toEqual(["a", "b", "c", "d"]);
      expect(await cache.setMembers("none")).toEqual([]);
      errors.length = 0; // a set is never a value: a miss (some backends report the WRONGTYPE)
      expect(await cache.get("set", "dflt")).toBe("dflt");
      expect(await cache.getMany(["set"], "dflt")).toEqual(["dflt"]);
      errors.length = 0;
      expect(await cache.setRemove("set", "a", "zz")).toBe(1);
      expect(await cache.setRemove("none", "a")).toBe(0);
      expect((await cache.setMembers("set")).sort()).toEqual(["b", "c", "d"]);
      expect(await cache.setRemove("set", "b", "c", "d")).toBe(3);
      expect(await cache.exists("set")).toBe(false);
      expect(await cache.setAdd("set", [])).toBe(0);
      await expect(cache.setAdd("set", [1 as unknown as string])).rejects.toBeInstanceOf(TypeError);
      expect(errors).toEqual([]);
    });

    itNeeds(target, ["atomic"], "setAdd with expire sets the whole set's TTL on every add; without it the TTL stays", async () => {
      expect(await cache.setAdd("ttl", ["a"], { expire: "1h" })).toBe(1);
      expect(await cache.getExpire("ttl")).toBeGreaterThan(3_500_000);
      await cache.setAdd("ttl", ["b"]);
      expect(await cache.getExpire("ttl")).toBeGreaterThan(3_500_000);
      await cache.setAdd("ttl", ["c"], { expire: 200 });
      expect(await cache.getExpire("ttl")).toBeLessThanOrEqual(200);
      await sleep(450);
      expect(await cache.exists("ttl")).toBe(false);
      expect(await cache.setMembers("ttl")).toEqual([]);
      // A set created again after it expired holds only its new members.
      expect(await cache.setAdd("ttl", ["z"], { expire: "1m" })).toBe(1);
      expect(await cache.setMembers("ttl")).toEqual(["z"]);
    });

    itNeeds(target, ["atomic"], "setAdd that moves the expiry later keeps every earlier member for the new TTL", async () => {
      await cache.setAdd("grow", ["old1", "old2"], { expire: 300 });
      await cache.setAdd("grow", ["new"], { expire: "1m" });
      await sleep(600);
      expect((await cache.setMembers("grow")).sort()).toEqual(["new", "old1", "old2"]);
    });

    itNeeds(target, ["atomic"], "setPop removes and returns distinct members, also concurrently; [] when missing", async () => {
      const members = Array.from({ length: 30 }, (_, i) => `m${i}`);
      expect(await cache.setAdd("pool", members)).toBe(30);
      const first = await cache.setPop("pool", 5);
      expect(first.length).toBe(5);
      const rest = (await Promise.all(Array.from({ length: 25 }, () => cache.setPop("pool")))).flat();
      expect([...first, ...rest].sort()).toEqual([...members].sort());
      expect(await cache.exists("pool")).toBe(false);
      expect(await cache.setPop("pool", 3)).toEqual([]);
      await expect(cache.setPop("pool", 0)).rejects.toBeInstanceOf(TypeError);
    });

    itNeeds(target, ["atomic"], "a set is not a value: set commands on a value key fail (safe mode: neutral, reported), the value stays", async () => {
      await cache.set("val", "text");
      expect(await cache.setAdd("val", ["a"])).toBe(0);
      expect(await cache.setMembers("val")).toEqual([]);
      expect(errors.length).toBeGreaterThanOrEqual(2);
      errors.length = 0;
      expect(await cache.get("val")).toBe("text");
    });

    it("use: every command runs through the middleware, the last registered outermost, decorated hits included", async () => {
      const seen: string[] = [];
      const offOuter = cache.use(async (command, args, next) => {
        seen.push(`outer:${command}:${String(args[0])}`);
        return next();
      });
      const offInner = cache.use(async (command, args, next) => {
        seen.push(`inner:${command}:${String(args[0])}`);
        return next();
      });
      try {
        await cache.set("mw", 1);
        expect(await cache.get("mw")).toBe(1);
        expect(seen).toEqual(["inner:set:mw", "outer:set:mw", "inner:get:mw", "outer:get:mw"]);
        seen.length = 0;
        let calls = 0;
        const double = cache({ ttl: "1m", key: "double:{n}" })(async (n: number) => (calls++, n * 2));
        expect(await double(2)).toBe(4);
        expect(await double(2)).toBe(4);
        expect(calls).toBe(1);
        // The hit read the backend through the middleware too (no fast path around it).
        expect(seen.filter((s) => s.startsWith("inner:get") && s.endsWith(":double:2")).length).toBe(2);
        seen.length = 0;
        offInner();
        await cache.delete("mw");
        expect(seen).toEqual(["outer:delete:mw"]);
      } finally {
        offOuter();
        offInner();
      }
      seen.length = 0;
      await cache.get("mw");
      expect(seen).toEqual([]);
    });

    it("use: a middleware may change the arguments and the result; events stay as they were", async () => {
      const events: CacheEventInfo[] = [];
      const offEvents = cache.on("set", (e) => void events.push(e));
      // Every write gets a one-minute expiry; `exists` of "anything" answers true.
      const off = cache.use(async (command, args, next) => {
        if (command === Command.SET) return next([args[0], args[1], 60_000, args[3]]);
        if (command === Command.EXISTS && args[0] === "anything") return true;
        return next();
      });
      try {
        expect(await cache.set("target", "t")).toBe(true);
        expect(await cache.getExpire("target")).toBeGreaterThan(50_000);
        expect(await cache.get("target")).toBe("t");
        expect(await cache.exists("anything")).toBe(true);
        expect(events.map((e) => e.key)).toEqual(["target"]);
      } finally {
        off();
        offEvents();
      }
      expect(await cache.exists("anything")).toBe(false);
    });

    it("use: a middleware that throws fails the command like the backend would (safe mode: neutral and reported)", async () => {
      await cache.set("boom", 1);
      const off = cache.use(async (command, _args, next) => {
        if (command === Command.GET) throw new Error("middleware failed");
        return next();
      });
      try {
        expect(await cache.get("boom", "dflt")).toBe("dflt");
        expect(errors.map((e) => (e.error as Error).message)).toEqual(["middleware failed"]);
        errors.length = 0;
        expect(await cache.exists("boom")).toBe(true);
      } finally {
        off();
      }
      expect(await cache.get("boom")).toBe(1);
    });
  });
}
