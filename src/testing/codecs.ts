/**
 * Conformance of the value codecs: registered types (`cache.registerType`) and compression (the
 * `compress` setup option), alone and together, also between a cache that has them and one that
 * does not (where two caches on the target share values).
 * @module
 */
import { describe, expect, it } from "vitest";
import { SerializationError, type Cache, type CacheEventInfo } from "../index.js";
import { backendOf, itWhenShared, type TargetHandle } from "./target.js";

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}
class Point3 extends Point {
  constructor(
    x: number,
    y: number,
    readonly z: number,
  ) {
    super(x, y);
  }
}
/** A registered type that holds other registered instances and built-ins. */
class Path {
  constructor(
    readonly points: Point[],
    readonly at: Date,
  ) {}
}

function registerTypes(cache: Cache): Cache {
  return cache
    .registerType(Point, { name: "Point", encode: (p) => [p.x, p.y], decode: (d: number[]) => new Point(d[0]!, d[1]!) })
    .registerType(Path, { name: "geo.Path", encode: (p) => ({ points: p.points, at: p.at }), decode: (d: { points: Point[]; at: Date }) => new Path(d.points, d.at) });
}

/** A value whose encoded text is long (and compressible), with registered instances inside. */
function largeValue(): { text: string; path: Path; list: Point[]; m: Map<string, Point> } {
  const list = Array.from({ length: 200 }, (_, i) => new Point(i, -i));
  return { text: "cashews ".repeat(500), path: new Path(list.slice(0, 3), new Date(Date.UTC(2026, 0, 2))), list, m: new Map([["origin", new Point(0, 0)]]) };
}

const COMPRESSED = { g: /^(\$s1:[\w-]{43}:)?\$zg:[A-Za-z0-9+/=]+$/, d: /^(\$s1:[\w-]{43}:)?\$zd:[A-Za-z0-9+/=]+$/ };

/** Opens caches (with per-cache extra options) on an empty store for one test, closing them after it. */
async function withCaches(target: TargetHandle, extra: (Record<string, unknown> | undefined)[], fn: (caches: Cache[]) => Promise<void>): Promise<void> {
  const caches = await target.openEmpty(extra.map((_, i) => `${target.name} codecs ${i}`), extra);
  try {
    await fn(caches);
  } finally {
    if ((await target.capabilities()).listing) await caches[0]!.clear();
    await Promise.all(caches.map((c) => c.close()));
  }
}

/** The stored text of `key` as the backend holds it (a string for every serialising route). */
async function storedText(cache: Cache, key: string): Promise<unknown> {
  return (await backendOf(cache, key)).get(key);
}

/** Registers the codec tests on a started target in the calling `describe`. */
export function codecTests(target: TargetHandle): void {
  describe("codecs", () => {
    it("registerType: instances round-trip faithfully, nested in arrays, objects, Maps, Sets and other registered types", async () => {
      await withCaches(target, [undefined], async ([cache]) => {
        registerTypes(cache!);
        const path = new Path([new Point(1, 2), new Point(3, 4)], new Date(0));
        const value = { path, list: [new Point(5, 6)], map: new Map([[new Point(0, 0), new Set([new Point(7, 8)])]]) };
        await cache!.set("geo", value);
        await cache!.set("point", new Point(-1, 0.5));
        const back = (await cache!.get("geo")) as typeof value;
        expect(back).toStrictEqual(value);
        expect(back.path).toBeInstanceOf(Path);
        expect(back.path.points[1]).toBeInstanceOf(Point);
        expect([...back.map.keys()][0]).toBeInstanceOf(Point);
        expect([...[...back.map.values()][0]!][0]).toBeInstanceOf(Point);
        expect(await cache!.get("point")).toStrictEqual(new Point(-1, 0.5));
        await cache!.setMany({ a: new Point(1, 1), b: [new Path([], new Date(5))] });
        const [a, b] = (await cache!.getMany(["a", "b"])) as [Point, Path[]];
        expect(a).toBeInstanceOf(Point);
        expect(b[0]).toStrictEqual(new Path([], new Date(5)));
      });
    });

    it("registerType: an unregistered class instance, or a subclass of a registered one, is still a SerializationError and writes nothing", async () => {
      await withCaches(target, [undefined], async ([cache]) => {
        registerTypes(cache!);
        await expect(cache!.set("k", new Point3(1, 2, 3))).rejects.toThrow(SerializationError);
        await expect(cache!.set("k", { ok: new Point(1, 2), bad: new (class Other {})() })).rejects.toThrow(/value\.bad is an instance of Other/);
        await expect(cache!.set("k", new Path([new Point3(1, 2, 3)], new Date(0)))).rejects.toThrow(/subclass of the registered type "Point"/);
        await expect(cache!.setMany({ fine: new Point(1, 1), bad: new Point3(0, 0, 0) })).rejects.toThrow(SerializationError);
        expect(await cache!.exists("k")).toBe(false);
        expect(await cache!.exists("fine")).toBe(false);
      });
    });

    itWhenShared(
      target,
      "registerType: a cache without the registration reads a miss and an error event (never a wrong value), then the value once it registers",
      [],
      async () => {
        await withCaches(target, [undefined, undefined], async ([writer, reader]) => {
          registerTypes(writer!);
          const errors: CacheEventInfo[] = [];
          reader!.on("error", (e) => void errors.push(e));
          await writer!.set("geo", { p: new Point(1, 2) });
          expect(await reader!.get("geo", "default")).toBe("default");
          expect(errors).toHaveLength(1);
          expect(errors[0]!.key).toBe("geo");
          expect(errors[0]!.error).toBeInstanceOf(SerializationError);
          expect(String(errors[0]!.error)).toMatch(/type "Point", which is not registered/);
          // Registering after setup applies to the cache's routes at once.
          registerTypes(reader!);
          expect(await reader!.get("geo")).toStrictEqual({ p: new Point(1, 2) });
        });
      },
      { freshAcross: true },
    );

    it("compress: a text of at least compressThreshold characters is stored compressed (gzip and deflate) and round-trips; a shorter one is stored as is", async () => {
      await withCaches(target, [{ compress: "gzip", compressThreshold: 200 }, { compress: "deflate" }], async ([gzip, deflate]) => {
        registerTypes(gzip!);
        registerTypes(deflate!);
        const value = largeValue();
        await gzip!.set("big", value);
        await gzip!.set("small", { text: "short" });
        await deflate!.set("big-d", value, { expire: "1h" });
        expect(await storedText(gzip!, "big")).toMatch(COMPRESSED.g);
        expect(await storedText(deflate!, "big-d")).toMatch(COMPRESSED.d);
        expect(String(await storedText(gzip!, "small"))).not.toContain("$z");
        // Compressed: far shorter than the 4000-character text it holds.
        expect(String(await storedText(gzip!, "big")).length).toBeLessThan(2000);
        const back = (await gzip!.get("big")) as ReturnType<typeof largeValue>;
        expect(back).toStrictEqual(value);
        expect(back.path.points[0]).toBeInstanceOf(Point);
        expect(await deflate!.get("big-d")).toStrictEqual(value);
        expect(await gzip!.get("small")).toStrictEqual({ text: "short" });
        await gzip!.setMany({ m1: value, m2: "x".repeat(300) });
        expect(await gzip!.getMany(["m1", "m2", "small"])).toStrictEqual([value, "x".repeat(300), { text: "short" }]);
        expect(await gzip!.getOrSet("computed", async () => value)).toStrictEqual(value);
        expect(await gzip!.get("computed")).toStrictEqual(value);
      });
    });

    itWhenShared(
      target,
      "compress: a cache without the option reads compressed values (the stored text says how it was encoded)",
      [],
      async () => {
        await withCaches(target, [{ compress: "gzip" }, undefined], async ([writer, reader]) => {
          const value = { text: "edge ".repeat(1000), at: new Date(1), n: 12n };
          await writer!.set("z", value);
          expect(await storedText(reader!, "z")).toMatch(COMPRESSED.g);
          expect(await reader!.get("z")).toStrictEqual(value);
          // And the other way round: an uncompressed value reads through a compressing cache.
          await reader!.set("plain", value);
          expect(String(await storedText(writer!, "plain"))).not.toContain("$z");
          expect(await writer!.get("plain")).toStrictEqual(value);
        });
      },
      { freshAcross: true },
    );
  });
}
