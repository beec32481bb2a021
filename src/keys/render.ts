/**
 * Rendering of argument values into cache key text (API.md "Keys", "Rendering").
 * @module
 */

import { CacheConfigError } from "../errors.js";

/** @internal The advice every key error ends with. */
export const KEY_FUNCTION = "pass a key function (key: (...args) => string)";

/**
 * Renders one argument value as cache key text.
 *
 * - strings as is; numbers with `String(n)`; booleans `true`/`false`; `null` → `null`;
 *   `undefined` → empty string; bigint → its digits;
 * - `Date` → ISO 8601 (`Invalid Date` for an invalid date);
 * - arrays and typed arrays → elements rendered and joined with `:`; `ArrayBuffer`/`DataView` → bytes;
 * - `Error` → `Name:message`;
 * - `Map` → `k:v` pairs sorted by rendered key; `Set` → rendered elements, sorted; both joined with `:`;
 * - an object with a `toJSON` method → its `toJSON()` result, rendered;
 * - a plain object (prototype `Object.prototype` or `null`) → own enumerable string keys, sorted,
 *   as `k:v` pairs joined with `:`;
 * - an object with a `toString` of its own (not `Object.prototype.toString`) → `String(value)`.
 *
 * Values of different shapes can render alike (`{ a: 1 }` and `["a", 1]` both give `a:1`): use the
 * `hash` transform or a key function where that matters.
 *
 * @param value - the value to render.
 * @param paramName - the parameter (or path) the value came from, named in errors.
 * @returns the key text.
 * @throws CacheConfigError for a symbol, a function, a circular structure, or an object that would
 *   render as `[object Object]` (a class instance with neither `toJSON` nor its own `toString`).
 */
export function renderValue(value: unknown, paramName: string): string {
  return render(value, paramName, []);
}

function cannot(name: string, why: string): CacheConfigError {
  return new CacheConfigError(`Cannot render parameter "${name}"${why}`);
}

const usePath = (name: string): string => `Use a path such as "{${name.split(/[.[ ]/)[0]}.id}"`;

function render(value: unknown, name: string, seen: object[]): string {
  const type = typeof value;
  if (type === "symbol" || type === "function") {
    throw cannot(name, ` into a cache key: it is a ${type}. Leave it out of the key template, or ${KEY_FUNCTION}.`);
  }
  if (value === undefined) return "";
  if (type !== "object" || value === null) return String(value);
  const object = value as object;
  if (seen.includes(object)) {
    throw cannot(name, ` into a cache key: it contains a circular reference. ${usePath(name)}, or ${KEY_FUNCTION}.`);
  }
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? "Invalid Date" : object.toISOString();
  seen.push(object);
  try {
    const nested = (v: unknown, path: string): string => render(v, path, seen);
    if (Array.isArray(object)) {
      const out: string[] = [];
      for (let i = 0; i < object.length; i++) out.push(nested(object[i], `${name}[${i}]`));
      return out.join(":");
    }
    const bytes =
      object instanceof ArrayBuffer
        ? new Uint8Array(object)
        : object instanceof DataView
          ? new Uint8Array(object.buffer, object.byteOffset, object.byteLength)
          : ArrayBuffer.isView(object) && object;
    if (bytes) return Array.prototype.join.call(bytes, ":");
    if (object instanceof Error) return `${object.name}:${object.message}`;
    if (object instanceof Map) {
      const pairs: [string, string][] = [];
      for (const [k, v] of object) {
        const key = nested(k, `${name} key`);
        pairs.push([key, nested(v, `${name}.${key}`)]);
      }
      return pairs
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map((p) => `${p[0]}:${p[1]}`)
        .join(":");
    }
    if (object instanceof Set) return [...object].map((v) => nested(v, `${name} element`)).sort().join(":");
    const toJSON = (object as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return nested(toJSON.call(object, ""), name);
    const proto: unknown = Object.getPrototypeOf(object);
    // A plain object, also from another realm (vm context, iframe).
    const protoCtor = (proto as { constructor?: unknown } | null)?.constructor;
    if (
      proto === null ||
      proto === Object.prototype ||
      (typeof proto === "object" && Object.getPrototypeOf(proto) === null && typeof protoCtor === "function" && protoCtor.name === "Object")
    ) {
      return Object.keys(object)
        .sort()
        .map((k) => `${k}:${nested((object as Record<string, unknown>)[k], `${name}.${k}`)}`)
        .join(":");
    }
    const toString = (object as { toString?: unknown }).toString;
    if (typeof toString === "function" && toString !== Object.prototype.toString) {
      const text = String(object);
      if (!text.startsWith("[object ")) return text;
    }
    const ctor = (object as { constructor?: unknown }).constructor;
    const className = typeof ctor === "function" ? ctor.name : "";
    throw cannot(
      name,
      ` (${className ? `a ${className} instance` : "an object"}) into a cache key: without toJSON() or its own toString() ` +
        `it renders as "[object Object]". ${usePath(name)}, give the class a toJSON() or toString(), or ${KEY_FUNCTION}.`,
    );
  } finally {
    seen.pop();
  }
}
