/**
 * The typed value codec: values round-trip with their types through a string.
 *
 * Two stored forms:
 * - **plain**: when a value holds nothing JSON cannot represent exactly, the text is exactly
 *   `JSON.stringify(value)` and decoding is a bare `JSON.parse` (no reviver, no walk). An integer
 *   counter written by Redis `INCR` (`"5"`) therefore decodes as the number `5`.
 * - **tagged**: otherwise `"~" + JSON.stringify(tree)` (a JSON text never starts with `~`). In the
 *   tree, special values are objects with a `"~"` key naming their type (see {@link encode}),
 *   and a plain object that itself has a `"~"` key is escaped as `{"~":"o","v":{…}}`.
 *
 * Supported: everything JSON has, plus `undefined` (also as an object value or array item),
 * `NaN`, `±Infinity`, `-0`, `bigint`, `Date` (also invalid), `Map`, `Set`, `RegExp`, every typed
 * array, `DataView`, `ArrayBuffer` and `Error` (name, message, cause, stack).
 *
 * Documented losses: array holes come back as `undefined`; non-index properties of arrays and
 * extra properties of built-ins (e.g. `RegExp#lastIndex`, a `Map`'s own fields) are dropped, as
 * JSON drops them; null-prototype objects come back as ordinary objects; a typed array comes back
 * with its own buffer (offset 0, bytes in host order, little-endian on every supported runtime);
 * shared (non-cyclic) references come back as separate copies; an `Error` subclass comes back as
 * an `Error` with the same `name` (the builtin error classes come back as themselves).
 * @module
 */

import { Raised } from "./raised.js";
import { SerializationError } from "../errors.js";
import { base64ToBytes, bytesToBase64 } from "./base64.js";

/** Returned by {@link decode} for text that `encode` did not produce (garbage, truncated, bad tags). */
export const UNDECODABLE: unique symbol = Symbol("cashews.undecodable");
/** The type of {@link UNDECODABLE}. */
export type Undecodable = typeof UNDECODABLE;

/** First character of the tagged form, and the key that marks a tagged node in its tree. */
const TAG = "~";

type TypedArrayCtor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/** Typed array kinds by name (the allowlist for decoding) and by prototype (for encoding). */
const TYPED_BY_NAME = new Map<string, TypedArrayCtor>();
const TYPED_BY_PROTO = new Map<object, string>();
for (const ctor of [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
  // Float16Array where the runtime has it.
  (globalThis as unknown as { Float16Array?: TypedArrayCtor }).Float16Array,
] as (TypedArrayCtor | undefined)[]) {
  if (ctor === undefined) continue;
  TYPED_BY_NAME.set(ctor.name, ctor);
  TYPED_BY_PROTO.set(ctor.prototype, ctor.name);
}

type ErrorCtor = new (message?: string, options?: { cause?: unknown }) => Error;
/** Builtin error classes that decode as themselves; any other name decodes as `Error`. */
const ERRORS_BY_NAME = new Map<string, ErrorCtor>([
  ["Error", Error], ["TypeError", TypeError], ["RangeError", RangeError],
  ["SyntaxError", SyntaxError], ["ReferenceError", ReferenceError], ["EvalError", EvalError],
  ["URIError", URIError],
]);

// ---------------------------------------------------------------------------------------------
// Encoding and validation: one walk. It returns the value itself when nothing under it needs a
// tag (so the plain form is `JSON.stringify(value)`), otherwise, in build mode, a copy where the
// special values are tagged nodes; in check mode (validate), the SPECIAL marker.

/** Thrown inside the walk; collects path segments while unwinding. */
class Reject {
  readonly segments: string[] = [];
  constructor(readonly reason: string, readonly cause?: unknown) {}
}

const SPECIAL = { special: true };
const UNDEFINED_NODE = { [TAG]: "u" };
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const { propertyIsEnumerable, hasOwnProperty } = Object.prototype;

function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? "." + key : "[" + JSON.stringify(key) + "]";
}

/** Adds the segment to a rejection (or wraps anything else, e.g. a getter that threw). */
function withSegment(error: unknown, segment: string): Reject {
  const reject = error instanceof Reject ? error : new Reject(`could not be serialized (${describeError(error)})`, error);
  reject.segments.push(segment);
  return reject;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function walk(value: unknown, stack: object[], build: boolean): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (value === value && value !== Infinity && value !== -Infinity && (value !== 0 || 1 / value > 0)) return value;
      return build ? { [TAG]: "n", v: value === 0 ? "-0" : String(value) } : SPECIAL;
    case "undefined":
      return build ? UNDEFINED_NODE : SPECIAL;
    case "bigint":
      return build ? { [TAG]: "b", v: value.toString() } : SPECIAL;
    case "function":
      throw new Reject("is a function");
    case "symbol":
      throw new Reject("is a symbol");
  }
  if (value === null) return null;
  return walkObject(value as object, stack, build);
}

function walkObject(o: object, stack: object[], build: boolean): unknown {
  const proto: unknown = Object.getPrototypeOf(o);
  if (proto === Object.prototype || proto === null) return walkPlain(o as Record<string, unknown>, stack, build);
  if (proto === Array.prototype) return walkArray(o as unknown[], stack, build);
  if (proto === Date.prototype) {
    const time = (o as Date).getTime();
    return build ? { [TAG]: "D", v: time === time ? time : null } : SPECIAL;
  }
  if (proto === Map.prototype) return walkMap(o as Map<unknown, unknown>, stack, build);
  if (proto === Set.prototype) return walkSet(o as Set<unknown>, stack, build);
  if (proto === RegExp.prototype) {
    const re = o as RegExp;
    return build ? { [TAG]: "R", s: re.source, f: re.flags } : SPECIAL;
  }
  if (proto === ArrayBuffer.prototype) {
    return build ? { [TAG]: "A", v: bytesToBase64(new Uint8Array(o as ArrayBuffer)) } : SPECIAL;
  }
  if (proto === DataView.prototype) {
    const view = o as DataView;
    return build ? { [TAG]: "V", v: bytesToBase64(new Uint8Array(view.buffer, view.byteOffset, view.byteLength)) } : SPECIAL;
  }
  const typed = TYPED_BY_PROTO.get(proto as object);
  if (typed !== undefined) {
    const view = o as Uint8Array;
    return build ? { [TAG]: "T", k: typed, v: bytesToBase64(new Uint8Array(view.buffer, view.byteOffset, view.byteLength)) } : SPECIAL;
  }
  if (o instanceof Error) return walkError(o, stack, build);
  if (proto === Raised.prototype) {
    const inner = walk((o as Raised).error, stack, build);
    return build ? { [TAG]: "X", v: inner } : SPECIAL;
  }
  throw new Reject(describeInstance(o, proto));
}

function describeInstance(o: object, proto: unknown): string {
  if (o instanceof Promise) return "is a Promise (await it before caching)";
  if (Array.isArray(o)) return "is an instance of an Array subclass (convert it to a plain array)";
  let name: unknown;
  try {
    name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
  } catch {
    name = undefined;
  }
  const what = typeof name === "string" && name !== "" ? `an instance of ${name}` : "an object with a custom prototype";
  return `is ${what}, which cannot be stored faithfully (convert it to plain data first)`;
}

function enter(o: object, stack: object[]): void {
  if (stack.includes(o)) throw new Reject("is a circular reference (cycles cannot be stored)");
  stack.push(o);
}

function walkPlain(o: Record<string, unknown>, stack: object[], build: boolean): unknown {
  const symbols = Object.getOwnPropertySymbols(o);
  for (const symbol of symbols) {
    if (propertyIsEnumerable.call(o, symbol)) throw new Reject(`has a symbol key ${String(symbol)}, which cannot be stored`);
  }
  enter(o, stack);
  const keys = Object.keys(o);
  let copy: Record<string, unknown> | undefined;
  let changed = false;
  let escape = false;
  let i = 0;
  try {
    for (; i < keys.length; i++) {
      const key = keys[i]!;
      if (key === TAG) escape = true;
      const child = o[key];
      const node = walk(child, stack, build);
      if (node === child) {
        if (copy !== undefined) copy[key] = child;
        continue;
      }
      changed = true;
      if (!build) continue;
      if (copy === undefined) {
        // Null prototype: a "__proto__" key is then a plain data property.
        copy = Object.create(null) as Record<string, unknown>;
        for (let j = 0; j < i; j++) copy[keys[j]!] = o[keys[j]!];
      }
      copy[key] = node;
    }
  } catch (error) {
    throw withSegment(error, keySegment(keys[i]!));
  }
  stack.pop();
  if (!build) return changed || escape ? SPECIAL : o;
  const body = copy ?? o;
  return escape ? { [TAG]: "o", v: body } : body;
}

function walkArray(a: unknown[], stack: object[], build: boolean): unknown {
  enter(a, stack);
  let copy: unknown[] | undefined;
  let changed = false;
  let i = 0;
  try {
    for (; i < a.length; i++) {
      const child = a[i];
      const node = walk(child, stack, build);
      if (node === child) {
        if (copy !== undefined) copy.push(child);
        continue;
      }
      changed = true;
      if (!build) continue;
      if (copy === undefined) copy = a.slice(0, i);
      copy.push(node);
    }
  } catch (error) {
    throw withSegment(error, `[${i}]`);
  }
  stack.pop();
  if (!build) return changed ? SPECIAL : a;
  return copy ?? a;
}

function entrySegment(key: unknown, index: number, part: "key" | "value"): string {
  if (part === "value" && (typeof key === "string" || typeof key === "number" || typeof key === "boolean")) {
    return `.get(${typeof key === "string" ? JSON.stringify(key) : String(key)})`;
  }
  return `[Map entry ${index} ${part}]`;
}

function walkMap(map: Map<unknown, unknown>, stack: object[], build: boolean): unknown {
  enter(map, stack);
  const entries: [unknown, unknown][] = [];
  let index = 0;
  for (const [key, value] of map) {
    let part: "key" | "value" = "key";
    try {
      const k = walk(key, stack, build);
      part = "value";
      const v = walk(value, stack, build);
      if (build) entries.push([k, v]);
    } catch (error) {
      throw withSegment(error, entrySegment(key, index, part));
    }
    index++;
  }
  stack.pop();
  return build ? { [TAG]: "M", v: entries } : SPECIAL;
}

function walkSet(set: Set<unknown>, stack: object[], build: boolean): unknown {
  enter(set, stack);
  const items: unknown[] = [];
  let index = 0;
  for (const item of set) {
    try {
      const node = walk(item, stack, build);
      if (build) items.push(node);
    } catch (error) {
      throw withSegment(error, `[Set item ${index}]`);
    }
    index++;
  }
  stack.pop();
  return build ? { [TAG]: "S", v: items } : SPECIAL;
}

function walkError(error: Error, stack: object[], build: boolean): unknown {
  enter(error, stack);
  let name: unknown;
  let message: unknown;
  let trace: unknown;
  try {
    name = error.name;
    message = error.message;
    trace = error.stack;
  } catch (cause) {
    throw new Reject(`could not be serialized (${describeError(cause)})`, cause);
  }
  const node: Record<string, unknown> = {
    [TAG]: "E",
    n: typeof name === "string" ? name : "Error",
    m: typeof message === "string" ? message : String(message),
  };
  if (typeof trace === "string") node.s = trace;
  if (hasOwnProperty.call(error, "cause")) {
    try {
      node.c = walk((error as { cause?: unknown }).cause, stack, build);
    } catch (reason) {
      throw withSegment(reason, ".cause");
    }
  }
  stack.pop();
  return build ? node : SPECIAL;
}

const MAX_PATH_SEGMENTS = 24;

function toSerializationError(error: unknown): SerializationError {
  const reject = error instanceof Reject ? error : withSegment(error, "");
  const segments = reject.segments.reverse();
  if (segments.length > MAX_PATH_SEGMENTS) {
    segments.splice(MAX_PATH_SEGMENTS / 2, segments.length - MAX_PATH_SEGMENTS, "…");
  }
  const options = reject.cause === undefined ? undefined : { cause: reject.cause };
  return new SerializationError(`value${segments.join("")} ${reject.reason}`, options);
}

function run(value: unknown, build: boolean): unknown {
  try {
    return walk(value, [], build);
  } catch (error) {
    // A Reject, a getter that threw, or a RangeError from nesting deeper than the call stack.
    throw toSerializationError(error);
  }
}

/**
 * Encodes a value to a string that {@link decode} turns back into an equal value of the same
 * types. Values JSON represents exactly are stored as exactly `JSON.stringify(value)`; anything
 * else as `"~"` + a JSON tree with tagged nodes:
 * `{"~":"u"}` undefined, `{"~":"n","v":"NaN"|"Infinity"|"-Infinity"|"-0"}`, `{"~":"b","v":"123"}`
 * bigint, `{"~":"D","v":ms|null}` Date, `{"~":"M","v":[[k,v],…]}` Map, `{"~":"S","v":[…]}` Set,
 * `{"~":"R","s":source,"f":flags}` RegExp, `{"~":"T","k":"Float32Array","v":base64}` typed array,
 * `{"~":"A","v":base64}` ArrayBuffer, `{"~":"V","v":base64}` DataView,
 * `{"~":"E","n":name,"m":message,"s"?:stack,"c"?:cause}` Error, `{"~":"o","v":{…}}` an escaped
 * plain object that has a `"~"` key.
 *
 * @throws {SerializationError} for anything that cannot be stored faithfully: a function, a
 *   symbol, an object with an enumerable symbol key, a class instance (other than the supported
 *   built-ins and `Error`s), a Promise, a WeakMap, a cycle. The message names the path, e.g.
 *   `value.user.callback is a function, …`.
 * @example
 * encode({ a: 1 });             // '{"a":1}'
 * encode({ at: new Date(0) });  // '~{"at":{"~":"D","v":0}}'
 */
export function encode(value: unknown): string {
  const tree = run(value, true);
  try {
    return tree === value ? JSON.stringify(value) : TAG + JSON.stringify(tree);
  } catch (error) {
    // Only reachable through a getter that changed its answer, or a value too large for a string.
    throw toSerializationError(error);
  }
}

/**
 * Runs the checks of {@link encode} without producing output: throws the same
 * `SerializationError` for the same values. Cheap for primitives. Used by backends that store
 * live values, so they reject exactly what a string backend rejects.
 * @example
 * validate({ ok: true }); // passes
 * validate({ f() {} });   // throws SerializationError: value.f is a function, …
 */
export function validate(value: unknown): void {
  const type = typeof value;
  if (type !== "object" && type !== "function" && type !== "symbol") return;
  run(value, false);
}

// ---------------------------------------------------------------------------------------------
// Decoding. The plain form is `JSON.parse`. The tagged form is `JSON.parse` followed by one walk
// that replaces tagged nodes in place (the tree is fresh, nobody else holds it). Anything that
// does not fit the format throws BAD inside and becomes UNDECODABLE.

const BAD = new Error("undecodable");
const SPECIAL_NUMBERS = new Map<unknown, number>([["NaN", NaN], ["Infinity", Infinity], ["-Infinity", -Infinity], ["-0", -0]]);
const BIGINT = /^-?(?:0|[1-9][0-9]*)$/;
const REGEXP_FLAGS = /^[dgimsuvy]*$/;
const MAX_TIME = 8.64e15;

/**
 * Decodes a text produced by {@link encode}. Returns {@link UNDECODABLE} for anything else.
 * Never throws, never executes code, never touches a prototype (`__proto__`, `constructor`,
 * `prototype` keys come back as own data properties), and allocates at most in proportion to
 * the text's length.
 * @example
 * decode('{"a":1}');                 // { a: 1 }
 * decode("5");                       // 5 (a Redis INCR counter)
 * decode('~{"~":"D","v":0}');        // new Date(0)
 * decode("garbage") === UNDECODABLE; // true
 */
export function decode(text: string): unknown {
  try {
    if (text.charCodeAt(0) !== 126 /* ~ */) return JSON.parse(text);
    return revive(JSON.parse(text.slice(1)));
  } catch {
    return UNDECODABLE;
  }
}

function revive(node: unknown): unknown {
  if (typeof node !== "object" || node === null) return node;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const child: unknown = node[i];
      const value = revive(child);
      if (value !== child) node[i] = value;
    }
    return node;
  }
  const record = node as Record<string, unknown>;
  if (hasOwnProperty.call(record, TAG)) return reviveTagged(record);
  reviveMembers(record);
  return record;
}

function reviveMembers(record: Record<string, unknown>): void {
  for (const key of Object.keys(record)) {
    const child = record[key];
    const value = revive(child);
    if (value === child) continue;
    if (key === "__proto__") {
      Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
    } else {
      record[key] = value;
    }
  }
}

/** Checks that a tagged node has exactly `count` own keys (the tag and its fields). */
function shape(node: Record<string, unknown>, count: number): void {
  if (Object.keys(node).length !== count) throw BAD;
}

function field(node: Record<string, unknown>, name: string): unknown {
  if (!hasOwnProperty.call(node, name)) throw BAD;
  return node[name];
}

function stringField(node: Record<string, unknown>, name: string): string {
  const value = field(node, name);
  if (typeof value !== "string") throw BAD;
  return value;
}

function arrayField(node: Record<string, unknown>, name: string): unknown[] {
  const value = field(node, name);
  if (!Array.isArray(value)) throw BAD;
  return value;
}

function reviveTagged(node: Record<string, unknown>): unknown {
  switch (node[TAG]) {
    case "u":
      shape(node, 1);
      return undefined;
    case "n": {
      shape(node, 2);
      const value = SPECIAL_NUMBERS.get(field(node, "v"));
      if (value === undefined) throw BAD;
      return value;
    }
    case "b": {
      shape(node, 2);
      const digits = stringField(node, "v");
      if (!BIGINT.test(digits)) throw BAD;
      return BigInt(digits);
    }
    case "D": {
      shape(node, 2);
      const time = field(node, "v");
      if (time === null) return new Date(NaN);
      if (typeof time !== "number" || !Number.isInteger(time) || Math.abs(time) > MAX_TIME) throw BAD;
      return new Date(time);
    }
    case "M": {
      shape(node, 2);
      const map = new Map<unknown, unknown>();
      for (const entry of arrayField(node, "v")) {
        if (!Array.isArray(entry) || entry.length !== 2) throw BAD;
        map.set(revive(entry[0]), revive(entry[1]));
      }
      return map;
    }
    case "S": {
      shape(node, 2);
      const set = new Set<unknown>();
      for (const item of arrayField(node, "v")) set.add(revive(item));
      return set;
    }
    case "R": {
      shape(node, 3);
      const flags = stringField(node, "f");
      if (!REGEXP_FLAGS.test(flags)) throw BAD;
      // Constructing a RegExp compiles it; nothing runs until the caller matches with it.
      return new RegExp(stringField(node, "s"), flags);
    }
    case "T": {
      shape(node, 3);
      const ctor = TYPED_BY_NAME.get(stringField(node, "k"));
      if (ctor === undefined) throw BAD;
      // The length comes from the data, so the allocation is bounded by the text's length.
      const bytes = base64ToBytes(stringField(node, "v"));
      if (bytes.byteLength % ctor.BYTES_PER_ELEMENT !== 0) throw BAD;
      return new ctor(bytes.buffer);
    }
    case "A":
      shape(node, 2);
      return base64ToBytes(stringField(node, "v")).buffer;
    case "V":
      shape(node, 2);
      return new DataView(base64ToBytes(stringField(node, "v")).buffer);
    case "E":
      return reviveError(node);
    case "X":
      shape(node, 2);
      return new Raised(revive(node.v));
    case "o": {
      shape(node, 2);
      const body = field(node, "v");
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw BAD;
      reviveMembers(body as Record<string, unknown>);
      return body;
    }
    default:
      throw BAD;
  }
}

function reviveError(node: Record<string, unknown>): Error {
  const name = stringField(node, "n");
  const message = stringField(node, "m");
  const hasStack = hasOwnProperty.call(node, "s");
  const hasCause = hasOwnProperty.call(node, "c");
  shape(node, 3 + Number(hasStack) + Number(hasCause));
  const ctor = ERRORS_BY_NAME.get(name) ?? Error;
  const error = hasCause ? new ctor(message, { cause: revive(node.c) }) : new ctor(message);
  if (error.name !== name) {
    Object.defineProperty(error, "name", { value: name, writable: true, enumerable: false, configurable: true });
  }
  if (hasStack) {
    const stack = node.s;
    if (typeof stack !== "string") throw BAD;
    Object.defineProperty(error, "stack", { value: stack, writable: true, enumerable: false, configurable: true });
  }
  return error;
}
