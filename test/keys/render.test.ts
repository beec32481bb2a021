import { createHash } from "node:crypto";
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import { CacheConfigError } from "../../src/errors.js";
import { md5, renderValue, sha1, sha256 } from "../../src/keys/index.js";

const r = (v: unknown): string => renderValue(v, "p");

describe("renderValue: primitives", () => {
  it("strings as is", () => {
    expect(r("abc")).toBe("abc");
    expect(r("")).toBe("");
    expect(r("a:b{c}")).toBe("a:b{c}");
  });
  it("numbers with String(n)", () => {
    expect(r(42)).toBe("42");
    expect(r(-1.5)).toBe("-1.5");
    expect(r(1e21)).toBe("1e+21");
    expect(r(NaN)).toBe("NaN");
    expect(r(-0)).toBe("0");
    expect(r(Infinity)).toBe("Infinity");
  });
  it("booleans, null, undefined, bigint", () => {
    expect(r(true)).toBe("true");
    expect(r(false)).toBe("false");
    expect(r(null)).toBe("null");
    expect(r(undefined)).toBe("");
    expect(r(12345678901234567890n)).toBe("12345678901234567890");
  });
  it("symbols and functions throw, naming the parameter", () => {
    expect(() => renderValue(Symbol("s"), "token")).toThrow(CacheConfigError);
    expect(() => renderValue(Symbol("s"), "token")).toThrow(/parameter "token".*symbol.*key function/);
    expect(() => renderValue(() => 1, "cb")).toThrow(/parameter "cb".*function/);
  });
});

describe("renderValue: objects", () => {
  it("Date → ISO; invalid date → Invalid Date", () => {
    expect(r(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)))).toBe("2024-01-02T03:04:05.006Z");
    expect(r(new Date(NaN))).toBe("Invalid Date");
  });
  it("arrays joined with ':' (nested, with null/undefined)", () => {
    expect(r([1, "a", true])).toBe("1:a:true");
    expect(r([])).toBe("");
    expect(r([1, [2, 3], null, undefined])).toBe("1:2:3:null:");
  });
  it("typed arrays and buffers: elements joined with ':'", () => {
    expect(r(new Uint8Array([1, 2, 255]))).toBe("1:2:255");
    expect(r(new Float64Array([1.5]))).toBe("1.5");
    expect(r(new Uint8Array([7, 8]).buffer)).toBe("7:8");
    expect(r(new DataView(new Uint8Array([1, 2, 3]).buffer, 1))).toBe("2:3");
  });
  it("plain objects: own keys sorted, k:v joined with ':'", () => {
    expect(r({ e: true, d: 1 })).toBe("d:1:e:true");
    expect(r({})).toBe("");
    expect(r({ b: { y: 2, x: 1 }, a: [1, 2] })).toBe("a:1:2:b:x:1:y:2");
    const nullProto = Object.assign(Object.create(null) as object, { z: 1, a: "x" });
    expect(r(nullProto)).toBe("a:x:z:1");
  });
  it("objects from another realm count as plain objects", () => {
    const foreign: unknown = vm.runInNewContext("({ b: 2, a: 1 })");
    expect(r(foreign)).toBe("a:1:b:2");
  });
  it("Map → sorted k:v; Set → sorted elements", () => {
    expect(r(new Map<unknown, unknown>([["b", 2], ["a", 1]]))).toBe("a:1:b:2");
    expect(r(new Map([[2, "x"], [1, "y"]]))).toBe("1:y:2:x");
    expect(r(new Set(["c", "a", "b"]))).toBe("a:b:c");
    expect(r(new Set([3, 1, 2]))).toBe(r(new Set([2, 3, 1])));
  });
  it("toJSON: the result is rendered", () => {
    expect(r({ toJSON: () => "custom" })).toBe("custom");
    class Money {
      constructor(
        readonly amount: number,
        readonly currency: string,
      ) {}
      toJSON(): object {
        return { currency: this.currency, amount: this.amount };
      }
    }
    expect(r(new Money(5, "EUR"))).toBe("amount:5:currency:EUR");
    expect(r(new URL("https://example.com/a?b=1"))).toBe("https://example.com/a?b=1");
  });
  it("own toString → String(value); RegExp and boxed primitives too", () => {
    class Id {
      constructor(readonly v: string) {}
      toString(): string {
        return `id-${this.v}`;
      }
    }
    expect(r(new Id("7"))).toBe("id-7");
    expect(r(/a+b/gi)).toBe("/a+b/gi");
    expect(r(Object("x"))).toBe("x");
  });
  it("Error → Name:message", () => {
    expect(r(new Error("boom"))).toBe("Error:boom");
    expect(r(new TypeError("bad"))).toBe("TypeError:bad");
    class MyError extends Error {
      override name = "MyError";
    }
    expect(r(new MyError("x"))).toBe("MyError:x");
  });
  it("class instance without toJSON or own toString throws, naming the parameter", () => {
    class User {
      constructor(readonly id: number) {}
    }
    const call = (): string => renderValue(new User(1), "user");
    expect(call).toThrow(CacheConfigError);
    expect(call).toThrow(/parameter "user" \(a User instance\).*"\[object Object\]"/);
    expect(call).toThrow(/"\{user\.id\}".*toJSON\(\) or toString\(\).*key function/);
  });
  it("nested class instances name the path", () => {
    class Opaque {}
    expect(() => renderValue({ a: [new Opaque()] }, "opts")).toThrow(/parameter "opts\.a\[0\]" \(a Opaque instance\)/);
    expect(() => renderValue(new Map([["k", new Opaque()]]), "m")).toThrow(/parameter "m\.k"/);
  });
  it("a toString returning [object …] still throws", () => {
    const sneaky = Object.create({ toString: () => "[object Thing]" }) as object;
    expect(() => r(sneaky)).toThrow(/\[object Object\]/);
  });
  it("circular structures throw instead of overflowing", () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    expect(() => renderValue(a, "a")).toThrow(/circular/);
    const list: unknown[] = [1];
    list.push(list);
    expect(() => renderValue(list, "list")).toThrow(/circular/);
    // the same object twice (not a cycle) is fine
    const shared = { v: 1 };
    expect(r([shared, shared])).toBe("v:1:v:1");
  });
  it("values of different shapes can render alike (documented)", () => {
    expect(r({ a: 1 })).toBe(r(["a", 1]));
  });
});

describe("hash: md5, sha1, sha256", () => {
  it("known vectors", () => {
    expect(md5("test")).toBe("098f6bcd4621d373cade4e832627b4f6");
    expect(md5("")).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(sha1("")).toBe("da39a3ee5e6b4b0d3255bfef95601890afd80709");
    expect(sha1("abc")).toBe("a9993e364706816aba3e25717850c26c9cd0d89d");
    expect(sha256("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(md5("The quick brown fox jumps over the lazy dog")).toBe("9e107d9d372bb6826bd81d3542a419d6");
  });

  it("match node:crypto for every length across block boundaries, ASCII and unicode", () => {
    const samples: string[] = [];
    for (let n = 0; n <= 200; n++) samples.push("x".repeat(n));
    for (let n = 0; n <= 70; n++) samples.push("é😀名".repeat(n));
    samples.push("a".repeat(100_000), "\u0000\uffff", "lone \ud800 surrogate");
    for (const s of samples) {
      expect(md5(s)).toBe(createHash("md5").update(s, "utf8").digest("hex"));
      expect(sha1(s)).toBe(createHash("sha1").update(s, "utf8").digest("hex"));
      expect(sha256(s)).toBe(createHash("sha256").update(s, "utf8").digest("hex"));
    }
  });
});
