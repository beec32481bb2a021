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
import { base64ToBytes, bytesToBase64 } from "../base64.js";
import type { TypeRegistry } from "./types.js";

/** Returned by {@link decode} for text that `encode` did not produce (garbage, truncated, bad tags). */
export const UNDECODABLE: unique symbol = Symbol("cashews.undecodable");
/** The type of {@link UNDECODABLE}. */
export type Undecodable = typeof UNDECODABLE;

/** First character of the tagged form, and the key that marks a tagged node in its tree. */
const TAG = "~";

type TypedArrayCtor = (new (buffer: ArrayBuffer) => ArrayBufferView) & { readonly BYTES_PER_ELEMENT: number };

/**
 * Typed array constructors by name (the allowlist for decoding) and by prototype (for encoding):
 * one map, as names (strings) and prototypes (objects) never collide.
 */
const TYPED = new Map<string | object, TypedArrayCtor>();
for (const ctor of [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
  // Float16Array where the runtime has it.
  (globalThis as { Float16Array?: Int8ArrayConstructor }).Float16Array,
]) {
  if (ctor) TYPED.set(ctor.name, ctor as never).set(ctor.prototype, ctor as never);
}

/** Whether `ctor` is one of the typed array classes (stored natively). */
export function isTypedArrayClass(ctor: { prototype: unknown }): boolean {
  return TYPED.has(ctor.prototype as object);
}

/** Builtin error classes that decode as themselves; any other name decodes as `Error`. */
export const ERRORS = [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError];

// ---------------------------------------------------------------------------------------------
// Encoding and validation: one walk. It returns the value itself when nothing under it needs a
// tag (so the plain form is `JSON.stringify(value)`), otherwise, in build mode, a copy where the
// special values are tagged nodes; in check mode (validate), the SPECIAL marker.

/** Thrown inside the walk; collects path segments while unwinding. */
class Reject {
  readonly segments: string[] = [];
  constructor(
    readonly reason: string,
    readonly cause?: unknown,
  ) {}
}

const SPECIAL = {};
/**
 * The registered types of the encode, validate or decode call under way (set and restored by
 * them: a user's encode or decode that reaches another cache's codec gets that cache's types).
 */
let types: TypeRegistry | undefined;
const { getPrototypeOf, prototype: OBJECT, keys: keysOf } = Object;
const hasOwn = Object.hasOwn as (o: object, key: PropertyKey) => boolean;

/** Adds the segment to a rejection (or wraps anything else, e.g. a getter that threw). */
function withSegment(error: unknown, segment: string): Reject {
  const reject = error instanceof Reject ? error : unserializable(error);
  reject.segments.push(segment);
  return reject;
}

function unserializable(error: unknown): Reject {
  return new Reject(`could not be serialized (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`, error);
}

/** A tagged node, built only in build mode. */
function tagged(build: boolean, tag: string, fields: () => Record<string, unknown>): unknown {
  return build ? { [TAG]: tag, ...fields() } : SPECIAL;
}

/** The bytes of an ArrayBuffer or (`view`) a view, as base64. */
function bytes(o: object, view?: boolean): string {
  const v = o as Uint8Array;
  return bytesToBase64(view ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(o as ArrayBuffer));
}

/** Pushes a container on the walk's stack of open containers, rejecting a cycle. */
function enter(stack: object[], o: object): void {
  if (stack.includes(o)) throw new Reject("is a circular reference (cycles cannot be stored)");
  stack.push(o);
}

function walk(value: unknown, stack: object[], build: boolean): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0)
        ? value
        : tagged(build, "n", () => ({ v: value === 0 ? "-0" : String(value) }));
    case "undefined":
      return tagged(build, "u", () => ({}));
    case "bigint":
      return tagged(build, "b", () => ({ v: value.toString() }));
    case "function":
    case "symbol":
      throw new Reject(`is a ${typeof value}`);
  }
  if (value === null) return null;
  const o = value as object;
  const proto: unknown = getPrototypeOf(o);
  const isArray = proto === Array.prototype;
  if (isArray || proto === OBJECT || proto === null) return walkEntries(o as Record<string, unknown>, isArray, stack, build);
  if (proto === Date.prototype) {
    const time = (o as Date).getTime();
    return tagged(build, "D", () => ({ v: time === time ? time : null }));
  }
  if (proto === RegExp.prototype) return tagged(build, "R", () => ({ s: (o as RegExp).source, f: (o as RegExp).flags }));
  if (proto === ArrayBuffer.prototype) return tagged(build, "A", () => ({ v: bytes(o) }));
  if (proto === DataView.prototype) return tagged(build, "V", () => ({ v: bytes(o, true) }));
  const typed = TYPED.get(proto as object);
  if (typed) return tagged(build, "T", () => ({ k: typed.name, v: bytes(o, true) }));
  if (proto === Raised.prototype) {
    const inner = walk((o as Raised).error, stack, build);
    return tagged(build, "X", () => ({ v: inner }));
  }
  const registered = types?.byProto.get(proto as object);
  if (registered) return walkRegistered(o, registered, stack, build);
  const isMap = proto === Map.prototype;
  const isError = !isMap && proto !== Set.prototype;
  if (isError && !(o instanceof Error)) throw new Reject(describeInstance(o, proto));

  // Map, Set, Error: always tagged; the walk checks (and in build mode converts) what they hold.
  enter(stack, o);
  let node: unknown;
  if (isError) {
    // A throwing getter here is wrapped like any error thrown inside the walk (see withSegment).
    const { name, message, stack: trace } = o as Error as { name: unknown; message: unknown; stack: unknown };
    const error: Record<string, unknown> = {
      [TAG]: "E",
      n: typeof name === "string" ? name : "Error",
      m: typeof message === "string" ? message : String(message),
    };
    if (typeof trace === "string") error.s = trace;
    if (hasOwn(o, "cause")) {
      try {
        error.c = walk((o as Error).cause, stack, build);
      } catch (reason) {
        throw withSegment(reason, ".cause");
      }
    }
    node = build ? error : SPECIAL;
  } else {
    const items: unknown[] = [];
    let index = 0;
    for (const item of o as Map<unknown, unknown> | Set<unknown>) {
      // A Map entry is [key, value]: its parts are walked one by one, for the path in messages.
      let part = isMap ? "key" : "";
      try {
        if (isMap) {
          const [key, v] = item as [unknown, unknown];
          const k = walk(key, stack, build);
          part = "value";
          items.push([k, walk(v, stack, build)]);
        } else {
          items.push(walk(item, stack, build));
        }
      } catch (error) {
        const key = isMap ? (item as [unknown])[0] : undefined;
        throw withSegment(
          error,
          !isMap
            ? `[Set item ${index}]`
            : part === "value" && (typeof key === "string" || typeof key === "number" || typeof key === "boolean")
              ? `.get(${typeof key === "string" ? JSON.stringify(key) : String(key)})`
              : `[Map entry ${index} ${part}]`,
        );
      }
      index++;
    }
    node = tagged(build, isMap ? "M" : "S", () => ({ v: items }));
  }
  stack.pop();
  return node;
}

/** An instance of a registered class: `{"~":"C","n":name,"v":data}`, the data walked in turn. */
function walkRegistered(o: object, type: { name: string; encode(instance: object): unknown }, stack: object[], build: boolean): unknown {
  // On the stack while its data is walked: data that holds the instance itself is a cycle.
  enter(stack, o);
  let data: unknown;
  try {
    data = type.encode(o);
  } catch (error) {
    throw new Reject(`could not be encoded by the encode() of registered type "${type.name}" (${error instanceof Error ? error.message : String(error)})`, error);
  }
  let inner: unknown;
  try {
    inner = walk(data, stack, build);
  } catch (error) {
    throw withSegment(error, `[${type.name} data]`);
  }
  stack.pop();
  return tagged(build, "C", () => ({ n: type.name, v: inner }));
}

/** A plain object or an array. */
function walkEntries(o: Record<string, unknown>, isArray: boolean, stack: object[], build: boolean): unknown {
  if (!isArray) {
    for (const symbol of Object.getOwnPropertySymbols(o)) {
      if (OBJECT.propertyIsEnumerable.call(o, symbol)) throw new Reject(`has a symbol key ${String(symbol)}, which cannot be stored`);
    }
  }
  enter(stack, o);
  const keys = isArray ? undefined : keysOf(o);
  const length = keys ? keys.length : (o as unknown as unknown[]).length;
  let copy: Record<string, unknown> | unknown[] | undefined;
  let changed = false;
  let escape = false;
  let i = 0;
  let key: string | number = 0;
  try {
    for (; i < length; i++) {
      key = keys ? keys[i]! : i;
      if (key === TAG) escape = true;
      const child = o[key];
      const node = walk(child, stack, build);
      if (node !== child) {
        changed = true;
        // Null prototype: a "__proto__" key is then a plain data property.
        if (build && !copy) {
          copy = keys ? Object.create(null) : [];
          for (let j = 0; j < i; j++) (copy as Record<string, unknown>)[keys ? keys[j]! : j] = o[keys ? keys[j]! : j];
        }
      }
      if (copy) (copy as Record<string, unknown>)[key] = node;
    }
  } catch (error) {
    throw withSegment(error, typeof key === "number" ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? "." + key : `[${JSON.stringify(key)}]`);
  }
  stack.pop();
  if (!build) return changed || escape ? SPECIAL : o;
  const body = copy ?? o;
  return escape ? { [TAG]: "o", v: body } : body;
}

function describeInstance(o: object, proto: unknown): string {
  if (o instanceof Promise) return "is a Promise (await it before caching)";
  if (Array.isArray(o)) return "is an instance of an Array subclass (convert it to a plain array)";
  let name: unknown;
  try {
    name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
  } catch {
    // a throwing getter: no name
  }
  const what = typeof name === "string" && name !== "" ? `an instance of ${name}` : "an object with a custom prototype";
  const base = types?.baseOf(o);
  if (base) return `is ${what}, a subclass of the registered type "${base.name}": register the subclass itself (cache.registerType) to store it faithfully`;
  return `is ${what}, which cannot be stored faithfully (convert it to plain data first, or register its class with cache.registerType)`;
}

const MAX_PATH_SEGMENTS = 24;

function run(value: unknown, build: boolean, registry: TypeRegistry | undefined): unknown {
  const outer = types;
  types = registry;
  try {
    return walk(value, [], build);
  } catch (error) {
    // A Reject, a getter that threw, or a RangeError from nesting deeper than the call stack.
    throw toSerializationError(error);
  } finally {
    types = outer;
  }
}

function toSerializationError(error: unknown): SerializationError {
  const reject = error instanceof Reject ? error : withSegment(error, "");
  const segments = reject.segments.reverse();
  if (segments.length > MAX_PATH_SEGMENTS) {
    segments.splice(MAX_PATH_SEGMENTS / 2, segments.length - MAX_PATH_SEGMENTS, "…");
  }
  return new SerializationError(
    `value${segments.join("")} ${reject.reason}`,
    reject.cause === undefined ? undefined : { cause: reject.cause },
  );
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
 * plain object that has a `"~"` key, `{"~":"C","n":name,"v":data}` an instance of a class in
 * `registry` (its `encode` gave `data`, itself encoded the same way).
 *
 * @throws {SerializationError} for anything that cannot be stored faithfully: a function, a
 *   symbol, an object with an enumerable symbol key, a class instance (other than the supported
 *   built-ins, `Error`s and the classes in `registry`), a Promise, a WeakMap, a cycle. The message names the path, e.g.
 *   `value.user.callback is a function, …`.
 * @example
 * encode({ a: 1 });             // '{"a":1}'
 * encode({ at: new Date(0) });  // '~{"at":{"~":"D","v":0}}'
 */
export function encode(value: unknown, registry?: TypeRegistry): string {
  const tree = run(value, true, registry);
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
export function validate(value: unknown, registry?: TypeRegistry): void {
  const type = typeof value;
  if (type === "object" || type === "function" || type === "symbol") run(value, false, registry);
}

// ---------------------------------------------------------------------------------------------
// Decoding. The plain form is `JSON.parse`. The tagged form is `JSON.parse` followed by one walk
// that replaces tagged nodes in place (the tree is fresh, nobody else holds it). Anything that
// does not fit the format throws BAD inside and becomes UNDECODABLE.

const BAD = new Error("undecodable");

/** Why a well-formed registered node could not be decoded (unknown name, a decode that failed). */
class TypeProblem {
  constructor(readonly error: SerializationError) {}
}
const SPECIAL_NUMBERS = new Map<unknown, number>([["NaN", NaN], ["Infinity", Infinity], ["-Infinity", -Infinity], ["-0", -0]]);

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
 *
 * A registered instance (`{"~":"C",…}`) decodes with `registry`'s `decode` for its name; when the
 * name is not registered there, or its `decode` throws or returns no instance of the class, the
 * whole value is {@link UNDECODABLE} (never a partial or wrong value) and `onTypeError` hears why.
 */
export function decode(text: string, registry?: TypeRegistry, onTypeError?: (error: SerializationError) => void): unknown {
  // The plain form (the hit path of most values): a bare JSON.parse, nothing else.
  try {
    if (text.charCodeAt(0) !== 126 /* ~ */) return JSON.parse(text);
  } catch {
    return UNDECODABLE;
  }
  return decodeTagged(text, registry, onTypeError);
}

function decodeTagged(text: string, registry: TypeRegistry | undefined, onTypeError: ((error: SerializationError) => void) | undefined): unknown {
  const outer = types;
  types = registry;
  try {
    return revive(JSON.parse(text.slice(1)));
  } catch (error) {
    if (error instanceof TypeProblem) onTypeError?.(error.error);
    return UNDECODABLE;
  } finally {
    types = outer;
  }
}

function reviveRegistered(name: string, node: unknown): unknown {
  const type = types?.byName.get(name);
  if (type === undefined) throw new TypeProblem(new SerializationError(`the stored value holds an instance of type "${name}", which is not registered on this cache (cache.registerType)`));
  const data = revive(node);
  let value: unknown;
  try {
    value = type.decode(data);
  } catch (error) {
    throw new TypeProblem(new SerializationError(`the decode() of registered type "${name}" threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
  }
  if (!(value instanceof type.ctor)) throw new TypeProblem(new SerializationError(`the decode() of registered type "${name}" did not return an instance of ${type.ctor.name || "its class"}`));
  return value;
}

function revive(node: unknown): unknown {
  if (typeof node !== "object" || node === null) return node;
  if (!Array.isArray(node) && hasOwn(node, TAG)) return reviveTagged(node as Record<string, unknown>);
  reviveMembers(node as Record<string, unknown>);
  return node;
}

function reviveMembers(record: Record<string, unknown>): void {
  for (const key of keysOf(record)) {
    const child = record[key];
    const value = revive(child);
    if (value === child) continue;
    if (key === "__proto__") define(record, key, value, true);
    else record[key] = value;
  }
}

function define(o: object, key: string, value: unknown, enumerable?: boolean): void {
  Object.defineProperty(o, key, { value, writable: true, enumerable, configurable: true });
}

function reviveTagged(node: Record<string, unknown>): unknown {
  const tag = node[TAG];
  /** Checks that the node has exactly `count` own keys (the tag and its fields). */
  const shape = (count: number): void => {
    if (keysOf(node).length !== count) throw BAD;
  };
  const field = (name: string, type?: string): unknown => {
    if (!hasOwn(node, name) || (type && (type === "array" ? !Array.isArray(node[name]) : typeof node[name] !== type))) throw BAD;
    return node[name];
  };
  const buffer = (): ArrayBuffer => base64ToBytes(field("v", "string") as string).buffer;
  if (tag === "E") {
    const name = field("n", "string") as string;
    const message = field("m", "string") as string;
    const hasStack = hasOwn(node, "s");
    const hasCause = hasOwn(node, "c");
    shape(3 + Number(hasStack) + Number(hasCause));
    const ctor = ERRORS.find((c) => c.name === name) ?? Error;
    const error = hasCause ? new ctor(message, { cause: revive(node.c) }) : new ctor(message);
    if (error.name !== name) define(error, "name", name);
    if (hasStack) define(error, "stack", field("s", "string"));
    return error;
  }
  shape(tag === "u" ? 1 : tag === "R" || tag === "T" || tag === "C" ? 3 : 2);
  switch (tag) {
    case "u":
      return undefined;
    case "n": {
      const value = SPECIAL_NUMBERS.get(field("v"));
      if (value === undefined) throw BAD;
      return value;
    }
    case "b": {
      const digits = field("v", "string") as string;
      if (!/^-?(?:0|[1-9][0-9]*)$/.test(digits)) throw BAD;
      return BigInt(digits);
    }
    case "D": {
      const time = field("v");
      if (time === null) return new Date(NaN);
      if (!Number.isInteger(time) || Math.abs(time as number) > 8.64e15) throw BAD;
      return new Date(time as number);
    }
    case "M":
      return new Map(
        (field("v", "array") as unknown[]).map((entry) => {
          if (!Array.isArray(entry) || entry.length !== 2) throw BAD;
          return [revive(entry[0]), revive(entry[1])];
        }),
      );
    case "S":
      return new Set((field("v", "array") as unknown[]).map(revive));
    case "R": {
      const flags = field("f", "string") as string;
      if (!/^[dgimsuvy]*$/.test(flags)) throw BAD;
      // Constructing a RegExp compiles it; nothing runs until the caller matches with it.
      return new RegExp(field("s", "string") as string, flags);
    }
    case "T": {
      const ctor = TYPED.get(field("k", "string") as string);
      if (!ctor) throw BAD;
      // The length comes from the data, so the allocation is bounded by the text's length.
      const data = buffer();
      if (data.byteLength % ctor.BYTES_PER_ELEMENT !== 0) throw BAD;
      return new ctor(data);
    }
    case "A":
      return buffer();
    case "V":
      return new DataView(buffer());
    case "X":
      return new Raised(revive(node.v));
    case "C":
      return reviveRegistered(field("n", "string") as string, field("v"));
    case "o": {
      const body = field("v", "object") as Record<string, unknown> | null;
      if (body === null || Array.isArray(body)) throw BAD;
      reviveMembers(body);
      return body;
    }
  }
  throw BAD;
}
