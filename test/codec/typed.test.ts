import { describe, expect, it } from "vitest";
import { SerializationError } from "../../src/errors.js";
import { decode, encode, UNDECODABLE, validate } from "../../src/codec/index.js";
import { diff } from "../support/values.js";

function roundTrip(value: unknown): unknown {
  return decode(encode(value));
}

function expectRoundTrip(value: unknown): string {
  const text = encode(value);
  expect(diff(decode(text), value)).toBeNull();
  expect(() => validate(value)).not.toThrow();
  return text;
}

function serializationMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SerializationError);
    return (error as Error).message;
  }
  throw new Error("expected a SerializationError");
}

describe("diff helper (sanity)", () => {
  it("tells apart what the codec must keep apart", () => {
    expect(diff(-0, 0)).not.toBeNull();
    expect(diff(NaN, NaN)).toBeNull();
    expect(diff({ a: undefined }, {})).not.toBeNull();
    expect(diff(new Map([[1, 1], [2, 2]]), new Map([[2, 2], [1, 1]]))).not.toBeNull();
    expect(diff(new Int8Array([1]), new Uint8Array([1]))).not.toBeNull();
    expect(diff(new Error("a"), new TypeError("a"))).not.toBeNull();
  });
});

describe("plain values: exactly JSON.stringify, decoded by JSON.parse", () => {
  const plain: unknown[] = [
    0, 1, -1, 42, -1.5, 1e300, 5e-324, Number.MAX_SAFE_INTEGER, "", "text", "~tilde", "$dollar", "ünïcødé 🎉",
    "lone \ud800 surrogate", true, false, null, [], {}, [1, "a", null, true, [[]], {}],
    { a: 1, b: { c: [1, 2, { d: "x" }] }, "key with spaces": "", "": 0, "1": "numeric key" },
    JSON.parse('{"__proto__":{"x":1},"constructor":{"prototype":{"y":2}}}'),
  ];

  it.each(plain.map((v) => [JSON.stringify(v), v]))("%s", (_label, value) => {
    const text = encode(value);
    expect(text).toBe(JSON.stringify(value));
    expect(diff(decode(text), value)).toBeNull();
    expect(diff(decode(text), JSON.parse(text))).toBeNull();
  });

  it("decodes a Redis INCR counter as a number", () => {
    expect(decode("5")).toBe(5);
    expect(decode("-12")).toBe(-12);
    expect(decode("0")).toBe(0);
  });

  it("null-prototype objects count as plain objects", () => {
    const o = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: [2] });
    expect(encode(o)).toBe('{"a":1,"b":[2]}');
    expect(diff(roundTrip(o), { a: 1, b: [2] })).toBeNull();
  });

  it("never starts with the tagged or signed markers", () => {
    for (const v of plain) expect(encode(v)[0]).not.toMatch(/[~$]/);
  });
});

describe("special values round-trip with their types (tagged form)", () => {
  const cases: [string, unknown][] = [
    ["undefined", undefined],
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["-Infinity", -Infinity],
    ["-0", -0],
    ["bigint", 123n],
    ["negative bigint", -(2n ** 130n)],
    ["bigint 0", 0n],
    ["Date", new Date("2024-02-29T12:34:56.789Z")],
    ["Date before 1970", new Date(-1e12)],
    ["invalid Date", new Date(NaN)],
    ["Map", new Map<unknown, unknown>([["b", 1], ["a", 2], [3, "three"]])],
    ["Map with object and special keys", new Map<unknown, unknown>([[{ k: 1 }, "obj"], [NaN, "nan"], [undefined, null], [new Date(5), [1]]])],
    ["empty Map", new Map()],
    ["Set", new Set([3, 1, 2, "x", undefined, 1n])],
    ["RegExp", /a+b?\/[x-z]$/giu],
    ["RegExp with every flag", new RegExp("(?<n>x)", "dgimsy")],
    ["ArrayBuffer", new Uint8Array([0, 1, 254, 255]).buffer],
    ["empty ArrayBuffer", new ArrayBuffer(0)],
    ["DataView", new DataView(new Uint8Array([9, 8, 7]).buffer)],
    ["Error", new Error("boom")],
    ["Error with cause chain", new Error("outer", { cause: new Error("inner", { cause: { code: 42, at: new Date(0) } }) })],
    ["Error with undefined cause", new Error("x", { cause: undefined })],
    ["TypeError", new TypeError("bad type")],
    ["RangeError", new RangeError("bad range")],
    ["SyntaxError", new SyntaxError("bad syntax")],
    ["array with undefined", [1, undefined, 3]],
    ["object with undefined value", { a: undefined, b: 1 }],
    ["object with a ~ key", { "~": "u" }],
    ["object with a ~ key holding specials", { "~": "D", v: new Date(1) }],
    ["nested ~ keys", { x: { "~": { "~": 1 } }, y: [{ "~": "o", v: {} }] }],
  ];

  it.each(cases)("%s", (_label, value) => {
    const text = expectRoundTrip(value);
    expect(text.startsWith("~")).toBe(true);
  });

  it("keeps undefined distinct from a missing key", () => {
    const back = roundTrip({ a: undefined }) as object;
    expect(Object.hasOwn(back, "a")).toBe(true);
    expect(Object.keys(back)).toEqual(["a"]);
  });

  it("keeps -0 inside containers", () => {
    const back = roundTrip({ z: [-0, 0] }) as { z: number[] };
    expect(Object.is(back.z[0], -0)).toBe(true);
    expect(Object.is(back.z[1], 0)).toBe(true);
  });

  it("keeps Map and Set insertion order", () => {
    const map = roundTrip(new Map([["z", 1], ["a", 2], ["m", 3]])) as Map<string, number>;
    expect([...map.keys()]).toEqual(["z", "a", "m"]);
    const set = roundTrip(new Set(["z", "a", "m"])) as Set<string>;
    expect([...set]).toEqual(["z", "a", "m"]);
  });

  it("turns array holes into undefined (documented)", () => {
    // eslint-disable-next-line no-sparse-arrays
    const back = roundTrip([1, , 3]) as unknown[];
    expect(back).toHaveLength(3);
    expect(back[1]).toBeUndefined();
    expect(1 in back).toBe(true);
  });

  it("round-trips every typed array kind", () => {
    const arrays: ArrayBufferView[] = [
      new Int8Array([-128, 0, 127]),
      new Uint8Array([0, 128, 255]),
      new Uint8ClampedArray([0, 200, 255]),
      new Int16Array([-32768, 1, 32767]),
      new Uint16Array([0, 65535]),
      new Int32Array([-(2 ** 31), 2 ** 31 - 1]),
      new Uint32Array([0, 2 ** 32 - 1]),
      new Float32Array([1.5, -0, NaN, Infinity, 3.4e38]),
      new Float64Array([Math.PI, -0, NaN, -Infinity, Number.MIN_VALUE]),
      new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n]),
      new BigUint64Array([0n, 2n ** 64n - 1n]),
      new Float64Array(0),
    ];
    for (const array of arrays) {
      const back = roundTrip(array) as ArrayBufferView;
      expect(diff(back, array)).toBeNull();
      expect(back.constructor).toBe(array.constructor);
      if ((array instanceof Float64Array || array instanceof Float32Array) && array.length > 1) {
        expect(Object.is((back as Float64Array)[1], -0)).toBe(true);
      }
    }
  });

  it("stores only the bytes a typed array view covers", () => {
    const big = new Uint16Array([1, 2, 3, 4, 5, 6]);
    const view = big.subarray(2, 4);
    const back = roundTrip(view) as Uint16Array;
    expect([...back]).toEqual([3, 4]);
    expect(back.byteOffset).toBe(0);
    expect(back.buffer.byteLength).toBe(4);
  });

  it("round-trips Error name, message, cause and stack", () => {
    const original = new Error("outer", { cause: new TypeError("inner") });
    const back = roundTrip(original) as Error;
    expect(back).toBeInstanceOf(Error);
    expect(back.message).toBe("outer");
    expect(back.stack).toBe(original.stack);
    expect(back.cause).toBeInstanceOf(TypeError);
    expect((back.cause as Error).message).toBe("inner");
    expect(Object.hasOwn(roundTrip(new Error("no cause")) as Error, "cause")).toBe(false);
  });

  it("brings Error subclasses back as Error with the same name", () => {
    class NotFound extends Error {
      override name = "NotFound";
    }
    const back = roundTrip(new NotFound("gone")) as Error;
    expect(back).toBeInstanceOf(Error);
    expect(back.name).toBe("NotFound");
    expect(back.message).toBe("gone");
    const cacheError = roundTrip(new SerializationError("nope", { cause: 1n })) as Error;
    expect(cacheError.name).toBe("SerializationError");
    expect(cacheError.cause).toBe(1n);
  });

  it("round-trips a deeply mixed structure", () => {
    const value = {
      id: 1n,
      when: new Date(1700000000000),
      tags: new Set(["a", "b"]),
      index: new Map<unknown, unknown>([
        ["list", [1, undefined, NaN, { deep: new Map([[new Set([1]), new Float32Array([1, 2])]]) }]],
        [{ "~": "key" }, { re: /x/g, err: new RangeError("r", { cause: [Infinity, -0] }) }],
      ]),
      raw: new Uint8Array([1, 2, 3]).buffer,
      plain: { a: [1, 2, { b: "c" }], "~": true },
      nothing: undefined,
      nul: null,
    };
    expectRoundTrip(value);
    expectRoundTrip([value, [value]]); // shared references are duplicated, not rejected
  });

  it("keeps own __proto__ keys as data through the tagged form", () => {
    const value = JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}}}') as Record<string, unknown>;
    value.when = new Date(0);
    const back = roundTrip(value) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.hasOwn(back, "__proto__")).toBe(true);
    expect(diff(back, value)).toBeNull();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("values that cannot be stored faithfully", () => {
  class Point {
    constructor(public x = 1) {}
  }
  const cycle: Record<string, unknown> = { a: { b: [1] } };
  ((cycle.a as { b: unknown[] }).b).push(cycle.a);
  const selfMap = new Map<string, unknown>();
  selfMap.set("me", selfMap);
  const selfSet = new Set<unknown>();
  selfSet.add([selfSet]);
  const selfError = new Error("loop");
  selfError.cause = selfError;

  const cases: [string, unknown, string][] = [
    ["function", { user: { callback: () => 1 } }, "value.user.callback is a function"],
    ["top-level function", () => 1, "value is a function"],
    ["class constructor", { cls: Point }, "value.cls is a function"],
    ["symbol value", { s: Symbol("x") }, "value.s is a symbol"],
    ["symbol in an array", [1, Symbol("x")], "value[1] is a symbol"],
    ["symbol key", { nested: { [Symbol("secret")]: 1 } }, "value.nested has a symbol key Symbol(secret)"],
    ["class instance", { items: [new Point()] }, "value.items[0] is an instance of Point"],
    ["WeakMap", { w: new WeakMap() }, "value.w is an instance of WeakMap"],
    ["WeakSet", new WeakSet(), "value is an instance of WeakSet"],
    ["Promise", { p: Promise.resolve(1) }, "value.p is a Promise"],
    ["boxed primitive", { s: new String("x") }, "value.s is an instance of String"],
    ["Map subclass", new (class Registry extends Map {})(), "value is an instance of Registry"],
    ["Array subclass", { list: new (class List extends Array {})() }, "value.list is an instance of an Array subclass"],
    ["object with toJSON method", { d: { toJSON: () => "x" } }, "value.d.toJSON is a function"],
    ["non-identifier key", { "a b": { "c-d": () => 1 } }, 'value["a b"]["c-d"] is a function'],
    ["in a Map value", new Map([["k", { f: () => 1 }]]), 'value.get("k").f is a function'],
    ["in a Map key", new Map([[Symbol("k"), 1]]), "value[Map entry 0 key] is a symbol"],
    ["in a Set", new Set([1, () => 1]), "value[Set item 1] is a function"],
    ["in an Error cause", new Error("x", { cause: { fn: () => 1 } }), "value.cause.fn is a function"],
    ["object cycle", cycle, "value.a.b[1] is a circular reference"],
    ["Map cycle", selfMap, 'value.get("me") is a circular reference'],
    ["Set cycle", selfSet, "value[Set item 0][0] is a circular reference"],
    ["Error cause cycle", selfError, "value.cause is a circular reference"],
  ];

  it.each(cases)("%s", (_label, value, message) => {
    expect(serializationMessage(() => encode(value))).toContain(message);
    expect(serializationMessage(() => validate(value))).toContain(message);
  });

  it("wraps a throwing getter, keeping it as cause", () => {
    const failure = new Error("getter failed");
    const value = {
      get broken(): never {
        throw failure;
      },
    };
    let caught: unknown;
    try {
      encode({ x: value });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SerializationError);
    expect((caught as Error).message).toContain("value.x.broken could not be serialized");
    expect((caught as Error).cause).toBe(failure);
  });

  it("rejects nesting deeper than the stack with SerializationError", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(() => encode(deep)).toThrow(SerializationError);
    expect(() => validate(deep)).toThrow(SerializationError);
  });

  it("ignores non-enumerable symbol keys, as JSON does", () => {
    const o = { a: 1 };
    Object.defineProperty(o, Symbol("hidden"), { value: 1, enumerable: false });
    expect(encode(o)).toBe('{"a":1}');
  });

  it("validate accepts everything encode accepts, and primitives cheaply", () => {
    for (const v of [1, "s", null, undefined, 1n, NaN, true, { a: [new Date()] }, new Map([[1, new Set()]])]) {
      expect(() => validate(v)).not.toThrow();
    }
  });

  it("validate does not touch the value", () => {
    const value = { d: new Date(0), m: new Map([[1, 2]]), list: [undefined] };
    validate(value);
    expect(value.d).toBeInstanceOf(Date);
    expect(value.m).toBeInstanceOf(Map);
    expect(value.list).toEqual([undefined]);
  });
});

describe("decode of hostile or broken input", () => {
  const bad: string[] = [
    "", " ", "garbage", "undefined", "NaN", "{", "[1,", '"unterminated', "{'a':1}", "01", "1.", "~", "~~", "~{",
    "~garbage",
    '~{"~":"zz"}', '~{"~":1}', '~{"~":null}', '~{"~":"u","extra":1}',
    '~{"~":"n","v":"nan"}', '~{"~":"n","v":0}', '~{"~":"n"}',
    '~{"~":"b","v":"12x"}', '~{"~":"b","v":12}', '~{"~":"b","v":"0x10"}', '~{"~":"b","v":""}',
    '~{"~":"D","v":"2020-01-01"}', '~{"~":"D","v":1e20}', '~{"~":"D","v":1.5}',
    '~{"~":"M","v":{}}', '~{"~":"M","v":[[1]]}', '~{"~":"M","v":[1]}', '~{"~":"S","v":"abc"}',
    '~{"~":"R","s":"(","f":""}', '~{"~":"R","s":"a","f":"q"}', '~{"~":"R","s":1,"f":""}',
    '~{"~":"T","k":"Function","v":""}', '~{"~":"T","k":"constructor","v":""}', '~{"~":"T","k":"Uint16Array","v":"AQ=="}',
    '~{"~":"T","k":"Uint8Array","v":"!!!!"}', '~{"~":"T","k":"Uint8Array","v":"AQ"}',
    '~{"~":"T","k":"Uint8Array","v":"","length":1000000000000}',
    '~{"~":"A","v":5}', '~{"~":"V"}',
    '~{"~":"E","n":1,"m":"x"}', '~{"~":"E","n":"Error"}', '~{"~":"E","n":"Error","m":"x","s":5}',
    '~{"~":"E","n":"Error","m":"x","zzz":1}',
    '~{"~":"o","v":[1]}', '~{"~":"o","v":null}', '~{"~":"o"}',
    '~[1,{"~":"u"},{"~":"bogus"}]', '~{"a":{"b":{"~":"x"}}}',
  ];

  it.each(bad.map((t) => [t]))("%j → UNDECODABLE", (text) => {
    expect(decode(text)).toBe(UNDECODABLE);
  });

  it("never throws on non-string input", () => {
    for (const v of [undefined, null, 5, {}, new Uint8Array([123, 125]), Symbol("x")]) {
      expect(decode(v as unknown as string)).toBe(UNDECODABLE);
    }
  });

  it("returns UNDECODABLE for every truncation of a tagged text", () => {
    const text = encode({ a: [1, undefined, new Date(3)], m: new Map([["k", new Uint8Array([1, 2, 3])]]), e: new Error("x") });
    for (let n = 0; n < text.length; n++) expect(decode(text.slice(0, n))).toBe(UNDECODABLE);
  });

  it("returns UNDECODABLE for truncated plain JSON objects", () => {
    const text = encode({ a: [1, 2], b: "x" });
    for (let n = 0; n < text.length; n++) expect(decode(text.slice(0, n))).toBe(UNDECODABLE);
  });

  it("does not pollute prototypes from plain JSON", () => {
    const back = decode('{"__proto__":{"polluted":1}}') as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.hasOwn(back, "__proto__")).toBe(true);
    expect(Object.getOwnPropertyDescriptor(back, "__proto__")?.value).toEqual({ polluted: 1 });
    expect(back.polluted).toBeUndefined();
  });

  it("does not pollute prototypes from the tagged form", () => {
    const texts = [
      '~{"__proto__":{"polluted":1},"u":{"~":"u"}}',
      '~{"__proto__":{"~":"M","v":[["polluted",1]]}}',
      '~{"~":"o","v":{"__proto__":{"polluted":1},"~":1}}',
      '~{"~":"o","v":{"__proto__":{"~":"D","v":0}}}',
      '~{"constructor":{"prototype":{"polluted":1}},"x":{"~":"u"}}',
      '~[{"__proto__":{"~":"S","v":[1]}}]',
      '~{"~":"M","v":[["__proto__",{"polluted":1}],[{"__proto__":{"polluted":1}},{"~":"u"}]]}',
      '~{"~":"E","n":"__proto__","m":"x","c":{"__proto__":{"polluted":1}}}',
    ];
    for (const text of texts) {
      const back = decode(text);
      expect(back).not.toBe(UNDECODABLE);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    }
    const first = decode(texts[0]!) as Record<string, unknown>;
    expect(Object.getPrototypeOf(first)).toBe(Object.prototype);
    expect(Object.hasOwn(first, "__proto__")).toBe(true);
    expect(Object.hasOwn(first, "u")).toBe(true);
    const second = decode(texts[1]!) as Record<string, unknown>;
    expect(Object.getPrototypeOf(second)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(second, "__proto__")?.value).toBeInstanceOf(Map);
    const escaped = decode(texts[3]!) as Record<string, unknown>;
    expect(Object.getPrototypeOf(escaped)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(escaped, "__proto__")?.value).toBeInstanceOf(Date);
  });

  it("bounds allocation by the text's length", () => {
    const back = decode('~{"~":"T","k":"Float64Array","v":"AAAAAAAA8D8="}') as Float64Array;
    expect([...back]).toEqual([1]);
    expect(decode('~{"~":"T","k":"Float64Array","v":"AAAAAAAA8D8=","length":1000000000000}')).toBe(UNDECODABLE);
  });

  it("survives very deep nesting without throwing", () => {
    const depth = 1_000_000;
    expect(() => decode("~" + "[".repeat(depth) + "]".repeat(depth))).not.toThrow();
    expect(() => decode("~" + '{"a":'.repeat(depth) + "1" + "}".repeat(depth))).not.toThrow();
    expect(decode("[".repeat(depth))).toBe(UNDECODABLE);
  });

  it("never throws on random mutations of valid texts", () => {
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const samples = [
      encode({ a: [1, undefined, NaN], d: new Date(5), m: new Map([[1n, new Set([/x/g])]]) }),
      encode({ t: new Int32Array([1, -1]), b: new ArrayBuffer(3), e: new TypeError("t", { cause: -0 }), "~": 1 }),
      encode({ plain: [1, 2, { x: "y" }] }),
    ];
    const alphabet = '~{}[]":,01-nNaeEuoMSDRTAVbv\\ ';
    for (let i = 0; i < 5000; i++) {
      const chars = [...samples[random(samples.length)]!];
      const edits = 1 + random(3);
      for (let e = 0; e < edits; e++) {
        const at = random(chars.length);
        const op = random(3);
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, alphabet[random(alphabet.length)]!);
        else chars[at] = alphabet[random(alphabet.length)]!;
      }
      expect(() => decode(chars.join(""))).not.toThrow();
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
