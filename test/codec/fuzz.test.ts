// Decoder fuzzing (fast-check, fixed seed: test/support/values.ts, FC_SEED to override).
//
// The property, read off src/codec/typed.ts and src/core/route.ts: for any stored text s,
// - decoding never throws and leaves every builtin prototype exactly as it was;
// - decode(s) is UNDECODABLE, or a value x that the codec itself could have written: every object
//   in it has one of the codec's prototypes, encode(x) succeeds, decode(encode(x)) equals x, and
//   encode is a fixed point there (encode(decode(encode(x))) === encode(x));
// - cache.get returns exactly that: the default when s is undecodable (or a lock token), else
//   decode(s) (a cached error unwrapped) — on mem://?serialize=1 and on redis:// (also for raw
//   bytes, as the client hands them over: UTF-8 decoded); under a secret, an unsigned s is a
//   counter (documented exception), a lock token (a miss) or a tampered miss, and a correctly
//   signed s behaves as without a secret.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Cache } from "../../src/index.js";
import { createSigner, decode, encode, isCounter, Raised, UNDECODABLE } from "../../src/codec/index.js";
import type { Backend } from "../../src/backends/types.js";
import { backendOf } from "../../src/testing/target.js";
import { diff, foreignPrototype, objectKey, prototypeFingerprint, runs, sameFingerprint, SEED, supportedValue, text } from "../support/values.js";

const redisUrl = inject("redisUrl");
const RUN = randomUUID().slice(0, 8);
const MISS = Symbol("miss");
const LOCK_PREFIX = "$l1:";
const utf8 = new TextDecoder();

// ---------------------------------------------------------------- hostile inputs

const TAGS = ["u", "n", "b", "D", "M", "S", "R", "T", "A", "V", "E", "X", "o", "~", "", "__proto__", "constructor", "prototype", "toString"];
const FIELDS = ["~", "v", "k", "s", "f", "n", "m", "c", "__proto__", "constructor", "prototype", "length", "byteLength"];
const LOOKALIKE_STRINGS = [
  "NaN", "-0", "0", "Infinity", "-Infinity", "nan", "1e3", "-", "01", "123", "-5", "9007199254740993", "",
  "Int8Array", "Uint8Array", "Float64Array", "BigInt64Array", "Float16Array", "Function", "Object", "Array",
  "__proto__", "constructor", "prototype", "Error", "TypeError", "AggregateError", "DOMException",
  "gimsuy", "uv", "gg", "d", "(", "a{99999}", "AAAA", "AAA=", "AA==", "A===", "AQID", "////", "AAAAAAAA8D8=",
];
const lookalikeString = fc.oneof(fc.constantFrom(...LOOKALIKE_STRINGS), fc.base64String({ maxLength: 16 }), text);
const jsonNumber = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(8.64e15, 8.64e15 + 1, 1e300, 0.5));

const TYPED_NAMES = ["Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"];
/** Global names a lax lookup would turn into constructors (`new String(buffer)`, …), and prototype keys. */
const GLOBAL_NAMES = ["Float16Array", "Function", "Object", "Array", "String", "Number", "Boolean", "Date", "Map", "Set", "Promise", "Proxy", "Error", "__proto__", "constructor", "toString"];
const base64 = fc.uint8Array({ maxLength: 24 }).map((b) => btoa(String.fromCharCode(...b)));
/** Base64 of a byte count that every typed array kind accepts (a multiple of 8), mostly. */
const elementBase64 = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 3 }).map((b) => btoa(String.fromCharCode(...b, ...b, ...b, ...b, ...b, ...b, ...b, ...b))) },
  base64,
);
const flags = fc.subarray([..."dgimsuvy"]).map((f) => f.join(""));

/**
 * JSON trees shaped like the tagged form: for each tag, its fields in a valid shape, then maybe
 * broken (a field dropped, replaced by any tree, or an extra field such as `__proto__`); plus
 * arrays and objects with tag and prototype-ish keys, and lookalike leaves.
 */
const { node: lookalikeNode, tagged: lookalikeTagged } = fc.letrec<{ node: unknown; tagged: unknown }>((tie) => {
  const node = tie("node");
  const fieldsByTag: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
    u: fc.constant({}),
    n: fc.record({ v: fc.constantFrom("NaN", "Infinity", "-Infinity", "-0") }),
    b: fc.record({ v: fc.bigInt().map(String) }),
    D: fc.record({ v: fc.oneof(fc.constant(null), fc.integer({ min: -8.64e15, max: 8.64e15 })) }),
    M: fc.record({ v: fc.array(fc.tuple(node, node), { maxLength: 3 }) }),
    S: fc.record({ v: fc.array(node, { maxLength: 3 }) }),
    R: fc.record({ s: fc.oneof(lookalikeString, fc.constantFrom("a+", "(?<n>x)", "\\d", "[")), f: flags }),
    T: fc.record({ k: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...TYPED_NAMES) }, fc.constantFrom(...GLOBAL_NAMES)), v: elementBase64 }),
    A: fc.record({ v: base64 }),
    V: fc.record({ v: base64 }),
    E: fc.record({ n: lookalikeString, m: text, s: text, c: node }, { requiredKeys: ["n", "m"] }),
    X: fc.record({ v: node }),
    o: fc.record({ v: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), objectKey), node), { maxLength: 3 }).map((e) => Object.fromEntries([["~", 1], ...e])) }),
  };
  const breakage = fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    fc.tuple(fc.constant("add"), fc.constantFrom(...FIELDS), node),
    fc.tuple(fc.constant("drop"), fc.nat()),
    fc.tuple(fc.constant("replace"), fc.nat(), node),
  );
  const tagged = fc
    .tuple(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...Object.keys(fieldsByTag)) }, fc.constantFrom(...TAGS)), breakage)
    .chain(([tag, broken]) =>
      (Object.hasOwn(fieldsByTag, tag) ? fieldsByTag[tag]! : fc.constant({})).map((fields) => {
        const entries: [string, unknown][] = [["~", tag], ...Object.entries(fields)];
        if (broken?.[0] === "add") entries.push([broken[1], broken[2]]);
        else if (broken?.[0] === "drop") entries.splice(broken[1] % entries.length, 1);
        else if (broken?.[0] === "replace") entries[broken[1] % entries.length]![1] = broken[2];
        return Object.fromEntries(entries) as unknown;
      }),
    );
  return {
    tagged,
    node: fc.oneof(
      { depthSize: "small", maxDepth: 5 },
      fc.constantFrom(null, true, false),
      jsonNumber,
      lookalikeString,
      tie("tagged"),
      fc.array(node, { maxLength: 4 }),
      fc.array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), objectKey), node), { maxLength: 4 }).map((e) => Object.fromEntries(e)),
    ),
  };
});

/** "~" + JSON (the tagged form) most of the time, else plain JSON. */
const lookalikeTree = fc.oneof({ weight: 2, arbitrary: lookalikeTagged }, lookalikeNode);
const lookalikeText = fc.tuple(lookalikeTree, fc.integer({ min: 0, max: 4 })).map(([tree, n]) => (n > 0 ? "~" : "") + JSON.stringify(tree));

/** A valid encoding with a few character edits (delete, insert, replace) from the format's alphabet. */
const ALPHABET = '~{}[]":,0123456789-.eE nNaulfsotrbMSDRTAVXEvkmc\\=+/$';
const mutatedEncoding = fc
  .tuple(supportedValue, fc.array(fc.tuple(fc.nat(), fc.nat(2), fc.constantFrom(...ALPHABET)), { minLength: 1, maxLength: 3 }))
  .map(([value, edits]) => {
    const chars = [...encode(value)];
    for (const [at, op, c] of edits) {
      const i = chars.length === 0 ? 0 : at % chars.length;
      if (op === 0) chars.splice(i, 1);
      else if (op === 1) chars.splice(i, 0, c);
      else chars[i] = c;
    }
    return chars.join("");
  });

/** Arbitrary byte sequences as a reader sees them (UTF-8 decoded, invalid sequences replaced). */
const bytesAsText = fc.uint8Array({ maxLength: 64 }).map((b) => utf8.decode(b));

const hostileTexts: [string, fc.Arbitrary<string>][] = [
  ["arbitrary strings (any code points, lone surrogates)", text],
  ["arbitrary printable strings", fc.string({ maxLength: 40 })],
  ["arbitrary JSON texts", fc.json({ maxDepth: 4 })],
  ["arbitrary JSON texts behind the tag", fc.json({ maxDepth: 4 }).map((j) => "~" + j)],
  ["tagged-form lookalikes (__proto__, constructor, prototype keys)", lookalikeText],
  ["mutated valid encodings", mutatedEncoding],
  ["arbitrary bytes", bytesAsText],
];
const anyHostile = fc.oneof(...hostileTexts.map(([, arb]) => arb));

// ---------------------------------------------------------------- the property

/** What `cache.get` must return for a stored text s (no secret): the codec's own answer. */
function expectedGet(s: string): unknown {
  if (s.startsWith(LOCK_PREFIX)) return MISS;
  const x = decode(s);
  return x === UNDECODABLE ? MISS : x instanceof Raised ? x.error : x;
}

/** Checks that a decoded value is one the codec could have written, and that encoding is a fixed point there. */
function checkEncodable(x: unknown, s: string): void {
  const context = `input ${JSON.stringify(s)} (seed ${SEED})`;
  expect(foreignPrototype(x), context).toBeNull();
  let again: string;
  try {
    again = encode(x);
  } catch (error) {
    throw new Error(`${context}: the decoded value cannot be encoded: ${String(error)}`);
  }
  const back = decode(again);
  expect(diff(back, x), context).toBeNull();
  expect(encode(back), context).toBe(again);
}

const baseline = prototypeFingerprint();
let checks = 0;
/** After each input: the cheap check always, the full one (every key and descriptor) every 50th time. */
function checkPrototypes(s: string): void {
  if (!sameFingerprint(baseline, ++checks % 50 === 0)) throw new Error(`a builtin prototype changed after ${JSON.stringify(s)} (seed ${SEED})`);
}
afterAll(() => {
  if (!sameFingerprint(baseline)) throw new Error(`a builtin prototype changed during the fuzz run (seed ${SEED})`);
});

describe("decode on hostile texts (property)", () => {
  for (const [label, arb] of hostileTexts) {
    it(`${label}: never throws, never touches a prototype, yields only encodable values`, () => {
      let decoded = 0;
      fc.assert(
        fc.property(arb, (s) => {
          let x: unknown;
          expect(() => (x = decode(s))).not.toThrow();
          checkPrototypes(s);
          if (x !== UNDECODABLE) {
            decoded++;
            checkEncodable(x, s);
            // The plain form is exactly JSON.parse.
            if (s.charCodeAt(0) !== 126) expect(diff(x, JSON.parse(s))).toBeNull();
          }
        }),
        runs(1000),
      );
      // The generators reach both outcomes (otherwise the property says little).
      if (label !== "arbitrary strings (any code points, lone surrogates)") expect(decoded).toBeGreaterThan(0);
    });
  }

  it("lookalikes reach every tag's decoder (not just rejections)", () => {
    const seen = new Set<string>();
    const collect = (x: unknown, depth = 0): void => {
      seen.add(x === undefined ? "u" : typeof x === "object" && x !== null ? (Object.getPrototypeOf(x) as object).constructor.name : typeof x);
      if (typeof x !== "object" || x === null || depth > 8) return;
      const children = x instanceof Map ? [...x].flat() : x instanceof Set ? [...x] : x instanceof Raised ? [x.error] : x instanceof Error ? [x.cause] : Object.values(x);
      for (const child of children) collect(child, depth + 1);
    };
    let decoded = 0;
    for (const s of fc.sample(lookalikeText, { seed: SEED, numRuns: 5000 })) {
      const x = decode(s);
      if (x !== UNDECODABLE) {
        decoded++;
        collect(x);
      }
    }
    // Both outcomes are frequent: the generator probes the decoders, not only the rejections.
    expect(decoded).toBeGreaterThan(500);
    expect(decoded).toBeLessThan(4500);
    for (const kind of ["u", "number", "bigint", "Date", "Map", "Set", "RegExp", "ArrayBuffer", "DataView", "Error", "Raised", "Object", "Array", ...TYPED_NAMES]) {
      expect(seen, kind).toContain(kind);
    }
  });

  it("own __proto__ / constructor / prototype keys stay own data and never change a prototype", () => {
    const texts = [
      '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}}}',
      '~{"__proto__":{"~":"M","v":[["polluted",1]]},"constructor":{"prototype":{"~":"u"}}}',
      '~{"~":"o","v":{"__proto__":{"~":"D","v":0},"~":{"polluted":3}}}',
      '~{"~":"E","n":"__proto__","m":"constructor","c":{"__proto__":{"~":"b","v":"1"}}}',
      '~[{"~":"S","v":[{"__proto__":{"~":"n","v":"NaN"}}]}]',
    ];
    for (const s of texts) {
      const x = decode(s);
      expect(x).not.toBe(UNDECODABLE);
      checkEncodable(x, s);
      checkPrototypes(s);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const first = decode(texts[1]!) as Record<string, unknown>;
    expect(Object.getPrototypeOf(first)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(first, "__proto__")?.value).toBeInstanceOf(Map);
  });
});

// ---------------------------------------------------------------- through the cache

describe("cache.get on hostile stored values (property)", { timeout: 60_000 }, () => {
  describe("mem://?serialize=1", () => {
    let cache: Cache;
    let backend: Backend;
    const events: string[] = [];
    beforeAll(async () => {
      cache = new Cache("fuzz-mem").setup("mem://?serialize=1");
      backend = await backendOf(cache);
      cache.on("error", (e) => events.push(`error ${String(e.error)}`));
      cache.on("tampered", (e) => events.push(`tampered ${e.key}`));
    });
    afterAll(() => cache.close());

    it("get returns exactly the codec's answer, never throws", async () => {
      await fc.assert(
        fc.asyncProperty(anyHostile, async (s) => {
          await backend.set("k", s, undefined);
          const [got, many] = [await cache.get("k", MISS), (await cache.getMany(["k"], MISS))[0]];
          checkPrototypes(s);
          const expected = expectedGet(s);
          expect(diff(got, expected), JSON.stringify(s)).toBeNull();
          expect(diff(many, expected), JSON.stringify(s)).toBeNull();
          if (got !== MISS) checkEncodable(got, s);
        }),
        runs(1000),
      );
      expect(events).toEqual([]);
    });
  });

  // A cached error (what withExceptions stores, tag X) reads back as the error through get,
  // getMany and getOrSet alike, never as the internal Raised wrapper.
  it("getMany and getOrSet unwrap a cached error as get does", async () => {
    const cache = new Cache("fuzz-raised").setup("mem://?serialize=1");
    const backend = await backendOf(cache);
    await backend.set("k", '~{"~":"X","v":{"~":"E","n":"Error","m":"boom"}}', undefined);
    expect(await cache.get("k")).toBeInstanceOf(Error);
    const [many] = await cache.getMany(["k"]);
    const orSet = await cache.getOrSet("k", () => "computed");
    await cache.close();
    expect(many).toBeInstanceOf(Error);
    expect(orSet).toBeInstanceOf(Error);
  });

  it("very deep nesting: get never throws (the tagged form is a miss)", async () => {
    // Generators above stay shallow: the codec's encode walk is recursive, so a plain JSON text
    // nested deeper than ~2 500 levels decodes (JSON.parse) to a value encode would reject (noted
    // in the report, not a safety issue). Safety holds at any depth:
    const cache = new Cache("fuzz-deep").setup("mem://?serialize=1");
    const backend = await backendOf(cache);
    const depth = 200_000;
    await backend.set("tagged", "~" + "[".repeat(depth) + "]".repeat(depth), undefined);
    await backend.set("plain", '{"a":'.repeat(depth) + "1" + "}".repeat(depth), undefined);
    await backend.set("open", "[".repeat(depth), undefined);
    expect(await cache.get("tagged", MISS)).toBe(MISS);
    expect(await cache.get("open", MISS)).toBe(MISS);
    expect(typeof (await cache.get("plain", MISS))).toBe("object");
    checkPrototypes("deep");
    await cache.close();
  });

  describe("mem://?serialize=1 with a secret", () => {
    let cache: Cache;
    let backend: Backend;
    const tampered: string[] = [];
    const signer = createSigner("fuzz-secret");
    beforeAll(async () => {
      cache = new Cache("fuzz-signed").setup("mem://", { secret: "fuzz-secret" });
      backend = await backendOf(cache);
      cache.on("tampered", (e) => tampered.push(e.key!));
    });
    afterAll(() => cache.close());

    it("an unsigned hostile text is a counter, a lock token's miss, or a reported tampered miss", async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(anyHostile, fc.integer().map(String)), async (s) => {
          tampered.length = 0;
          await backend.set("k", s, undefined);
          const got = await cache.get("k", MISS);
          checkPrototypes(s);
          if (isCounter(s)) {
            expect(got).toBe(Number(s));
            expect(tampered).toEqual([]);
          } else {
            expect(got).toBe(MISS);
            expect(tampered).toEqual(s.startsWith(LOCK_PREFIX) ? [] : ["k"]);
          }
        }),
        runs(1000),
      );
    });

    it("a correctly signed hostile text decodes exactly as without a secret", async () => {
      await fc.assert(
        fc.asyncProperty(anyHostile, async (s) => {
          tampered.length = 0;
          await backend.set("k", await signer.sign("k", s), undefined);
          const got = await cache.get("k", MISS);
          checkPrototypes(s);
          const x = decode(s);
          expect(diff(got, x === UNDECODABLE ? MISS : x instanceof Raised ? x.error : x), JSON.stringify(s)).toBeNull();
          expect(tampered).toEqual([]);
        }),
        runs(500),
      );
    });
  });

  describe.skipIf(!redisUrl)("redis://", () => {
    const namespace = `fuzz-${RUN}`;
    let cache: Cache;
    let raw: Redis;
    const events: string[] = [];
    beforeAll(async () => {
      cache = new Cache("fuzz-redis").setup(redisUrl, { namespace, timeout: 5000 });
      raw = new Redis(redisUrl, { lazyConnect: true });
      await raw.connect();
      cache.on("error", (e) => events.push(`error ${String(e.error)}`));
      cache.on("tampered", (e) => events.push(`tampered ${e.key}`));
    });
    afterAll(async () => {
      await cache.clear();
      await cache.close();
      raw.disconnect();
    });

    it("hostile strings: get returns exactly the codec's answer for what Redis hands back", async () => {
      await fc.assert(
        fc.asyncProperty(anyHostile, async (s) => {
          await raw.set(`${namespace}:k`, s);
          const got = await cache.get("k", MISS);
          checkPrototypes(s);
          // Redis stores UTF-8: a lone surrogate comes back as U+FFFD.
          const seen = utf8.decode(new TextEncoder().encode(s));
          expect(diff(got, expectedGet(seen)), JSON.stringify(s)).toBeNull();
        }),
        runs(400),
      );
      expect(events).toEqual([]);
    });

    it("hostile bytes (invalid UTF-8 included): get never throws and answers as the codec does", async () => {
      const bytes = fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        mutatedEncoding.chain((s) =>
          fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 }).map((edits) => {
            const b = new TextEncoder().encode(s);
            for (const [at, byte] of edits) if (b.length > 0) b[at % b.length] = byte;
            return b;
          }),
        ),
      );
      await fc.assert(
        fc.asyncProperty(bytes, async (b) => {
          await raw.set(`${namespace}:k`, Buffer.from(b));
          const got = await cache.get("k", MISS);
          const seen = utf8.decode(b);
          checkPrototypes(seen);
          expect(diff(got, expectedGet(seen)), JSON.stringify(seen)).toBeNull();
        }),
        runs(400),
      );
      expect(events).toEqual([]);
    });
  });
});
