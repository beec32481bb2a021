// Shared by the property, fuzz and tampering tests: fast-check arbitraries of every value type the
// codec supports (src/codec/typed.ts), values it must reject, a strict structural comparison, and
// the fixed seed every run uses (override with FC_SEED=<n> to explore; fast-check prints the seed
// and the shrunk counterexample of a failing property).
import fc from "fast-check";
import { Raised } from "../../src/codec/raised.js";

/** The seed of every fast-check run in these suites. */
export const SEED = Number(process.env.FC_SEED ?? 0x5eed_ca5);

/** fast-check parameters: fixed seed, `numRuns` runs, no time-based behaviour. */
export function runs(numRuns: number): fc.Parameters<unknown> {
  return { seed: SEED, numRuns };
}

// ---------------------------------------------------------------- supported values

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const tricky = fc.constantFrom("~", "$", '"', "\\", "\u0000", "\u2028", "$s1:", "$l1:", "__proto__", "{", "[", "\uFFFD");
/** One unit of a string: any code point, a lone surrogate half, or a character the formats treat specially. */
const unit = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: loneSurrogate },
  { weight: 2, arbitrary: tricky },
);
/** Strings of any code points, including lone surrogates. */
export const text = fc.string({ unit, maxLength: 10 });
/** Object keys, biased towards the ones a codec or a prototype cares about. */
export const objectKey = fc.oneof(
  text,
  fc.constantFrom("~", "__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "v", "0", "1", "length", ""),
);

const number = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, 0, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 2, Number.MIN_VALUE, -Number.MAX_VALUE),
);

const FLAGS = ["d", "g", "i", "m", "s", "u", "v", "y"];
const regexp = fc
  .tuple(fc.oneof(text, fc.constantFrom("a+b", "^(?<x>\\d+)$", "[\\u{1F600}-\\u{1F64F}]", "\\/", "", "(?:)", "\n", "[/]")), fc.subarray(FLAGS))
  .map(([source, flags]) => {
    const f = flags.includes("u") && flags.includes("v") ? flags.filter((x) => x !== "v") : flags;
    try {
      return new RegExp(source, f.join(""));
    } catch {
      return new RegExp("x", f.join(""));
    }
  });

/** Every typed array kind, also as a view into a larger buffer (offset and length). */
const typedArray = fc
  .tuple(
    fc.oneof(
      fc.int8Array({ maxLength: 6 }),
      fc.uint8Array({ maxLength: 6 }),
      fc.uint8ClampedArray({ maxLength: 6 }),
      fc.int16Array({ maxLength: 6 }),
      fc.uint16Array({ maxLength: 6 }),
      fc.int32Array({ maxLength: 6 }),
      fc.uint32Array({ maxLength: 6 }),
      fc.float32Array({ maxLength: 6 }),
      fc.float64Array({ maxLength: 6 }),
      fc.bigInt64Array({ maxLength: 6 }),
      fc.bigUint64Array({ maxLength: 6 }),
    ),
    fc.boolean(),
  )
  .map(([array, view]) => (view && array.length > 1 ? array.subarray(1, array.length - 1) : array));

const bytes = fc.uint8Array({ maxLength: 12 });
const arrayBuffer = bytes.map((b) => b.buffer);
const dataView = bytes.map((b) => new DataView(b.buffer, b.length >> 2, b.length >> 1));
const date = fc.date({ noInvalidDate: false });

const ERROR_CLASSES = [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError];

/**
 * Every supported type, nested: plain objects (keys like `~` and `__proto__` included), arrays,
 * Maps, Sets, Errors with causes, and all the leaves.
 */
export const { value: supportedValue } = fc.letrec<{ value: unknown }>((tie) => {
  const error = fc
    .record(
      {
        ctor: fc.constantFrom(...ERROR_CLASSES),
        message: text,
        // A custom name on a plain Error (what a subclass's name is); the builtin error classes
        // keep theirs, since the class comes back from the name (documented in typed.ts).
        name: fc.option(text.filter((n) => !ERROR_CLASSES.some((c) => c.name === n)), { nil: undefined }),
        cause: fc.option(tie("value"), { nil: undefined, freq: 2 }),
        hasCause: fc.boolean(),
      },
      { noNullPrototype: true },
    )
    .map(({ ctor, message, name, cause, hasCause }) => {
      const e = hasCause ? new ctor(message, { cause }) : new ctor(message);
      if (name !== undefined && ctor === Error) e.name = name;
      return e;
    });
  return {
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      text,
      number,
      fc.bigInt(),
      fc.constantFrom(undefined, null, true, false),
      date,
      regexp,
      typedArray,
      arrayBuffer,
      dataView,
      error,
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(objectKey, tie("value"), { maxKeys: 4, noNullPrototype: true }),
      fc.array(fc.tuple(tie("value"), tie("value")), { maxLength: 3 }).map((entries) => new Map(entries)),
      fc.array(tie("value"), { maxLength: 3 }).map((items) => new Set(items)),
    ),
  };
});

// ---------------------------------------------------------------- unsupported values

class Point {
  constructor(
    readonly x = 1,
    readonly y = 2,
  ) {}
}
class MyArray extends Array {}
class MyMap extends Map {}

/** Things the codec must reject (SerializationError), by themselves. */
export const unsupportedLeaf: fc.Arbitrary<unknown> = fc.constantFrom<(() => unknown)[]>(
  () => () => 1,
  () => async function named() {},
  () => Symbol("s"),
  () => ({ [Symbol("k")]: 1 }),
  () => new Point(),
  () => Promise.resolve(1),
  () => new WeakMap(),
  () => new WeakSet(),
  () => MyArray.from([1]),
  () => new MyMap(),
  () => new Number(1),
  () => new String("s"),
  () => Object.create({ inherited: 1 }),
  () => {
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    return cycle;
  },
  () => {
    const list: unknown[] = [1];
    list.push(new Map([["l", list]]));
    return list;
  },
).map((make) => make());

/** A supported container with an unsupported value somewhere inside. */
export const unsupportedValue: fc.Arbitrary<unknown> = fc.letrec<{ bad: unknown }>((tie) => ({
  bad: fc.oneof(
    { depthSize: "small", maxDepth: 4 },
    unsupportedLeaf,
    fc.tuple(fc.array(supportedValue, { maxLength: 2 }), tie("bad"), fc.nat(3)).map(([items, bad, at]) => {
      const copy = [...items];
      copy.splice(Math.min(at, copy.length), 0, bad);
      return copy;
    }),
    fc.tuple(fc.dictionary(objectKey, supportedValue, { maxKeys: 2, noNullPrototype: true }), objectKey, tie("bad")).map(([record, key, bad]) => {
      const copy = { ...record };
      Object.defineProperty(copy, key, { value: bad, enumerable: true, writable: true, configurable: true });
      return copy;
    }),
    tie("bad").map((bad) => new Map([["k", bad]])),
    tie("bad").map((bad) => new Map([[bad, "v"]])),
    tie("bad").map((bad) => new Set([1, bad])),
    tie("bad").map((bad) => new Error("e", { cause: bad })),
  ),
})).bad;

// ---------------------------------------------------------------- comparison

/**
 * First difference between `actual` and `expected` (a path and what differs), or null. Stricter
 * than toStrictEqual where the codec needs it: -0 vs 0, NaN, undefined vs a missing key, key,
 * Map and Set order, own `__proto__` keys, prototypes, typed array kinds and bytes, Error
 * name/message/stack/cause.
 */
export function diff(actual: unknown, expected: unknown, path = "value"): string | null {
  if (Object.is(actual, expected)) return null;
  if (typeof expected !== "object" || expected === null || typeof actual !== "object" || actual === null) {
    return `${path}: ${show(actual)} != ${show(expected)}`;
  }
  if (Object.getPrototypeOf(actual) !== Object.getPrototypeOf(expected)) return `${path}: different prototype`;
  if (expected instanceof Date) return Object.is((actual as Date).getTime(), expected.getTime()) ? null : `${path}: date`;
  if (expected instanceof RegExp) {
    const re = actual as RegExp;
    return re.source === expected.source && re.flags === expected.flags ? null : `${path}: regexp /${re.source}/${re.flags}`;
  }
  if (expected instanceof ArrayBuffer || ArrayBuffer.isView(expected)) {
    const view = (v: ArrayBuffer | ArrayBufferView): number[] =>
      v instanceof ArrayBuffer ? [...new Uint8Array(v)] : [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)];
    return view(actual as ArrayBuffer).join() === view(expected).join() ? null : `${path}: bytes`;
  }
  if (expected instanceof Error) {
    const error = actual as Error;
    if (error.name !== expected.name) return `${path}.name: ${show(error.name)} != ${show(expected.name)}`;
    if (error.message !== expected.message) return `${path}.message: ${show(error.message)} != ${show(expected.message)}`;
    if (error.stack !== expected.stack) return `${path}.stack`;
    if (Object.hasOwn(error, "cause") !== Object.hasOwn(expected, "cause")) return `${path}.cause presence`;
    return diff(error.cause, expected.cause, `${path}.cause`);
  }
  if (expected instanceof Map || expected instanceof Set) {
    const a = [...(actual as Map<unknown, unknown>).entries()];
    const e = [...expected.entries()];
    if (a.length !== e.length) return `${path}: size ${a.length} != ${e.length}`;
    for (let i = 0; i < e.length; i++) {
      const d = diff(a[i], e[i], `${path}[entry ${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (Array.isArray(expected)) {
    const a = actual as unknown[];
    if (a.length !== expected.length) return `${path}: length ${a.length} != ${expected.length}`;
    for (let i = 0; i < expected.length; i++) {
      if (!(i in a)) return `${path}[${i}]: hole`;
      const d = diff(a[i], expected[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (expected instanceof Raised) return diff((actual as Raised).error, expected.error, `${path}<raised>`);
  const ak = Reflect.ownKeys(actual);
  const ek = Reflect.ownKeys(expected);
  if (JSON.stringify(ak.map(String)) !== JSON.stringify(ek.map(String))) return `${path}: keys ${show(ak.map(String))} != ${show(ek.map(String))}`;
  for (const k of ek) {
    const d = diff(
      Object.getOwnPropertyDescriptor(actual, k)?.value,
      Object.getOwnPropertyDescriptor(expected, k)?.value,
      `${path}[${show(String(k))}]`,
    );
    if (d) return d;
  }
  return null;
}

function show(v: unknown): string {
  try {
    return typeof v === "bigint" ? `${v}n` : typeof v === "string" ? JSON.stringify(v) : Object.is(v, -0) ? "-0" : String(JSON.stringify(v) ?? String(v));
  } catch {
    return typeof v;
  }
}

// ---------------------------------------------------------------- prototypes

/** Every builtin prototype a decoded value could reach. */
export const PROTOTYPES: readonly object[] = [
  Object.prototype, Array.prototype, Function.prototype, String.prototype, Number.prototype, Boolean.prototype,
  BigInt.prototype, Symbol.prototype, Map.prototype, Set.prototype, Date.prototype, RegExp.prototype,
  ArrayBuffer.prototype, DataView.prototype, Promise.prototype, Error.prototype,
  ...ERROR_CLASSES.map((c) => c.prototype),
  Object.getPrototypeOf(Int8Array.prototype) as object,
  ...[Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array].map((c) => c.prototype),
  Raised.prototype,
];

interface ProtoState {
  proto: object;
  parent: unknown;
  extensible: boolean;
  keys: PropertyKey[];
  descriptors: PropertyDescriptor[];
}

/** A snapshot of every builtin prototype: own keys, their descriptors, its own prototype, extensibility. */
export function prototypeFingerprint(): ProtoState[] {
  return PROTOTYPES.map((proto) => {
    const keys = Reflect.ownKeys(proto);
    return {
      proto,
      parent: Object.getPrototypeOf(proto),
      extensible: Object.isExtensible(proto),
      keys,
      descriptors: keys.map((k) => Object.getOwnPropertyDescriptor(proto, k)!),
    };
  });
}

/**
 * True when every builtin prototype is still as in `baseline` (a {@link prototypeFingerprint}).
 * `full: false` is the cheap check (≈ 4 µs, for every fuzz run): same own prototype, no enumerable
 * own property (builtins have none; pollution by assignment adds one). `full: true` (≈ 0.7 ms)
 * also compares every own key and descriptor.
 */
export function sameFingerprint(baseline: ProtoState[], full = true): boolean {
  for (const { proto, parent, extensible, keys, descriptors } of baseline) {
    if (Object.getPrototypeOf(proto) !== parent || Object.isExtensible(proto) !== extensible) return false;
    if (!full) {
      for (const _ in proto) return false;
      continue;
    }
    const now = Reflect.ownKeys(proto);
    if (now.length !== keys.length) return false;
    for (let i = 0; i < keys.length; i++) {
      if (now[i] !== keys[i]) return false;
      const d = Object.getOwnPropertyDescriptor(proto, keys[i]!)!;
      const b = descriptors[i]!;
      if (!Object.is(d.value, b.value) || d.get !== b.get || d.set !== b.set || d.writable !== b.writable || d.enumerable !== b.enumerable || d.configurable !== b.configurable) return false;
    }
  }
  return true;
}

/** The prototypes a decoded value may have at any depth (the codec's types, nothing else). */
export const VALUE_PROTOTYPES: ReadonlySet<unknown> = new Set([
  Object.prototype, Array.prototype, Map.prototype, Set.prototype, Date.prototype, RegExp.prototype,
  ArrayBuffer.prototype, DataView.prototype, ...ERROR_CLASSES.map((c) => c.prototype), Raised.prototype,
  ...[Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array].map((c) => c.prototype),
]);

/** The first object inside `value` whose prototype is not one of {@link VALUE_PROTOTYPES}, as a path; or null. */
export function foreignPrototype(value: unknown, path = "value", seen = new Set<object>()): string | null {
  if (typeof value === "function") return `${path}: a function`;
  if (typeof value !== "object" || value === null || seen.has(value)) return null;
  seen.add(value);
  if (!VALUE_PROTOTYPES.has(Object.getPrototypeOf(value))) return `${path}: prototype ${String(Object.getPrototypeOf(value)?.constructor?.name)}`;
  const children: [string, unknown][] =
    value instanceof Map
      ? [...value].flatMap(([k, v], i) => [[`[key ${i}]`, k], [`[value ${i}]`, v]] as [string, unknown][])
      : value instanceof Set
        ? [...value].map((v, i) => [`[item ${i}]`, v])
        : value instanceof Error
          ? [["cause", value.cause]]
          : Reflect.ownKeys(value).map((k) => [`[${String(k)}]`, Object.getOwnPropertyDescriptor(value, k)?.value]);
  for (const [p, child] of children) {
    const found = foreignPrototype(child, path + p, seen);
    if (found) return found;
  }
  return null;
}
