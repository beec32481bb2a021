// cache.registerType (issue 17, item 7): user classes stored faithfully. The per-backend behaviour
// is in the conformance suite (src/testing/codecs.ts); here the registry's rules, the stored form,
// and what a reader does with what it cannot decode.
import { describe, expect, it } from "vitest";
import { Cache, CacheConfigError, SerializationError, type CacheEventInfo } from "../../src/index.js";
import { decode, encode, UNDECODABLE, validate } from "../../src/codec/index.js";
import { TypeRegistry } from "../../src/codec/types.js";

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}
const pointCodec = { name: "Point", encode: (p: Point) => ({ x: p.x, y: p.y }), decode: (d: { x: number; y: number }) => new Point(d.x, d.y) };

function registry(): TypeRegistry {
  const types = new TypeRegistry();
  types.register(Point, pointCodec);
  return types;
}

describe("registerType: the registry's rules", () => {
  it("refuses what is not a class, the built-ins stored natively, bad names and codecs, and clashes", () => {
    const cache = new Cache("rules");
    const bad: [unknown, unknown, RegExp][] = [
      [null, pointCodec, /must be a class, got null/],
      [() => 1, pointCodec, /must be a class/],
      [Date, { ...pointCodec, name: "Date2" }, /Date is stored natively/],
      [Map, { ...pointCodec, name: "M" }, /Map is stored natively/],
      [Error, { ...pointCodec, name: "E" }, /stored natively/],
      [Point, { ...pointCodec, name: "" }, /"name" must be 1 to 64 characters/],
      [Point, { ...pointCodec, name: "1abc" }, /"name" must be/],
      [Point, { ...pointCodec, name: "has space" }, /"name" must be/],
      [Point, { ...pointCodec, name: "x".repeat(65) }, /"name" must be/],
      [Point, { name: "P", encode: pointCodec.encode }, /needs encode\(instance\) and decode\(data\)/],
      [Point, undefined, /"name" must be/],
    ];
    for (const [ctor, codec, message] of bad) {
      expect(() => cache.registerType(ctor as typeof Point, codec as typeof pointCodec), String(message)).toThrow(CacheConfigError);
      expect(() => cache.registerType(ctor as typeof Point, codec as typeof pointCodec)).toThrow(message);
    }
    cache.registerType(Point, pointCodec);
    class Other {}
    expect(() => cache.registerType(Other, { name: "Point", encode: () => 1, decode: () => new Other() })).toThrow(/"Point" is already registered for Point/);
    expect(() => cache.registerType(Point, { ...pointCodec, name: "Point2" })).toThrow(/already registered as "Point"/);
    // The same class under the same name again replaces its functions (a reloaded module).
    expect(() => cache.registerType(Point, pointCodec)).not.toThrow();
    expect(() => cache.registerType(Point, { ...pointCodec, name: "geo.Point_v2:a-b" })).toThrow(CacheConfigError);
  });

  it("is per cache: another cache does not know the type", async () => {
    const a = new Cache("a").setup("mem://").registerType(Point, pointCodec);
    const b = new Cache("b").setup("mem://");
    await a.set("p", new Point(1, 2));
    await expect(b.set("p", new Point(1, 2))).rejects.toThrow(/value is an instance of Point, which cannot be stored faithfully .*registerType/);
  });
});

describe("registerType: the stored form", () => {
  it('is {"~":"C","n":name,"v":data}, the data encoded like any value', () => {
    const types = registry();
    expect(encode(new Point(1, 2), types)).toBe('~{"~":"C","n":"Point","v":{"x":1,"y":2}}');
    const text = encode([new Point(NaN, -0)], types);
    expect(text).toBe('~[{"~":"C","n":"Point","v":{"x":{"~":"n","v":"NaN"},"y":{"~":"n","v":"-0"}}}]');
    expect(decode(text, types)).toStrictEqual([new Point(NaN, -0)]);
    // Without the registry, encoding refuses and decoding gives nothing.
    expect(() => encode(new Point(1, 2))).toThrow(SerializationError);
    expect(decode(text)).toBe(UNDECODABLE);
  });

  it("a registered Error subclass comes back as itself (unregistered, it comes back as an Error)", () => {
    class HttpError extends Error {
      constructor(readonly status: number, message: string) {
        super(message);
        this.name = "HttpError";
      }
    }
    const types = new TypeRegistry();
    types.register(HttpError, { name: "HttpError", encode: (e: HttpError) => [e.status, e.message], decode: ([status, message]: [number, string]) => new HttpError(status, message) });
    const back = decode(encode(new HttpError(404, "gone"), types), types) as HttpError;
    expect(back).toBeInstanceOf(HttpError);
    expect([back.status, back.message]).toEqual([404, "gone"]);
    expect(decode(encode(new HttpError(404, "gone")))).not.toBeInstanceOf(HttpError);
  });

  it("an encode that throws, returns the instance itself, or returns something unstorable is a SerializationError naming the path", () => {
    class Loop {}
    class Throws {}
    class Fn {}
    const types = new TypeRegistry();
    types.register(Loop, { name: "Loop", encode: (l: Loop) => ({ self: l }), decode: () => new Loop() });
    types.register(Throws, { name: "Throws", encode: () => { throw new Error("nope"); }, decode: () => new Throws() });
    types.register(Fn, { name: "Fn", encode: () => ({ f: () => 1 }), decode: () => new Fn() });
    expect(() => encode({ a: new Loop() }, types)).toThrow(/value\.a\[Loop data\]\.self is a circular reference/);
    expect(() => encode([new Throws()], types)).toThrow(/value\[0\] could not be encoded by the encode\(\) of registered type "Throws" \(nope\)/);
    expect(() => validate({ b: new Fn() }, types)).toThrow(/value\.b\[Fn data\]\.f is a function/);
  });
});

describe("registerType: what a reader cannot decode is a miss with an error event, never a wrong value", () => {
  async function readBack(writerTypes: (c: Cache) => void, readerTypes: (c: Cache) => void): Promise<{ value: unknown; errors: CacheEventInfo[] }> {
    const writer = new Cache("w").setup("mem://?serialize=1");
    writerTypes(writer);
    await writer.set("k", { list: [1, new Point(1, 2)] });
    const stored = await writer.route("k").backend!.get("k");
    const reader = new Cache("r").setup("mem://?serialize=1");
    readerTypes(reader);
    await (await reader.route("k").start()).set("k", stored, undefined);
    const errors: CacheEventInfo[] = [];
    reader.on("error", (e) => void errors.push(e));
    return { value: await reader.get("k", "default"), errors };
  }

  it("a type the reader has not registered", async () => {
    const { value, errors } = await readBack((c) => c.registerType(Point, pointCodec), () => undefined);
    expect(value).toBe("default");
    expect(errors.map((e) => [e.key, e.backend, (e.error as Error).name])).toEqual([["k", "mem", "SerializationError"]]);
    expect((errors[0]!.error as Error).message).toMatch(/instance of type "Point", which is not registered on this cache/);
  });

  it("a decode that throws, or returns something else than an instance", async () => {
    const throws = await readBack((c) => c.registerType(Point, pointCodec), (c) => c.registerType(Point, { ...pointCodec, decode: () => { throw new Error("bad data"); } }));
    expect(throws.value).toBe("default");
    expect((throws.errors[0]!.error as Error).message).toMatch(/decode\(\) of registered type "Point" threw: bad data/);
    const wrong = await readBack((c) => c.registerType(Point, pointCodec), (c) => c.registerType(Point, { ...pointCodec, decode: (d) => d as unknown as Point }));
    expect(wrong.value).toBe("default");
    expect((wrong.errors[0]!.error as Error).message).toMatch(/did not return an instance of Point/);
  });
});

describe("registerType on mem:// with live values", () => {
  it("keeps the instance itself (as it keeps every value), checking it like a string backend would", async () => {
    class Sub extends Point {}
    const cache = new Cache("live").setup("mem://").registerType(Point, pointCodec);
    const p = new Point(3, 4);
    await cache.set("p", { p });
    expect(((await cache.get("p")) as { p: Point }).p).toBe(p);
    await expect(cache.set("s", new Sub(1, 1))).rejects.toThrow(/instance of Sub, a subclass of the registered type "Point"/);
    expect(await cache.exists("s")).toBe(false);
  });
});
