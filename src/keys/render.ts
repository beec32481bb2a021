/**
 * Rendering of argument values into cache key text (API.md "Keys", "Rendering").
 * @module
 */

import { CacheConfigError } from "../errors.js";

const objectToString = Object.prototype.toString;

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
  switch (typeof value) {
    case "string":
      return value;
    case "number":
    case "bigint":
      return String(value);
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
      return "";
    case "object":
      return value === null ? "null" : renderObject(value, paramName, []);
    default:
      throw new CacheConfigError(
        `Cannot render parameter "${paramName}" into a cache key: it is a ${typeof value}. ` +
          `Leave it out of the key template, or pass a key function (key: (...args) => string).`,
      );
  }
}

function renderNested(value: unknown, paramName: string, seen: object[]): string {
  if (typeof value === "object" && value !== null) return renderObject(value, paramName, seen);
  return renderValue(value, paramName);
}

function renderObject(value: object, paramName: string, seen: object[]): string {
  if (seen.includes(value)) {
    throw new CacheConfigError(
      `Cannot render parameter "${paramName}" into a cache key: it contains a circular reference. ` +
        `Use a path such as "{${paramName.split(/[.[]/)[0]}.id}" or pass a key function.`,
    );
  }
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  }
  seen.push(value);
  try {
    if (Array.isArray(value)) {
      let out = "";
      for (let i = 0; i < value.length; i++) {
        if (i > 0) out += ":";
        out += renderNested(value[i], `${paramName}[${i}]`, seen);
      }
      return out;
    }
    if (ArrayBuffer.isView(value)) {
      if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength).join(":");
      return Array.prototype.join.call(value, ":");
    }
    if (value instanceof ArrayBuffer) return new Uint8Array(value).join(":");
    if (value instanceof Error) return `${value.name}:${value.message}`;
    if (value instanceof Map) {
      const pairs: [string, string][] = [];
      for (const [k, v] of value) {
        const key = renderNested(k, `${paramName} key`, seen);
        pairs.push([key, renderNested(v, `${paramName}.${key}`, seen)]);
      }
      pairs.sort(byKey);
      return pairs.map((p) => `${p[0]}:${p[1]}`).join(":");
    }
    if (value instanceof Set) {
      const items: string[] = [];
      for (const v of value) items.push(renderNested(v, `${paramName} element`, seen));
      return items.sort().join(":");
    }
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") {
      return renderNested(toJSON.call(value, ""), paramName, seen);
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === null || proto === Object.prototype || isForeignObjectPrototype(proto)) {
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      let out = "";
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (i > 0) out += ":";
        out += `${k}:${renderNested(record[k], `${paramName}.${k}`, seen)}`;
      }
      return out;
    }
    const toString = (value as { toString?: unknown }).toString;
    if (typeof toString === "function" && toString !== objectToString) {
      const text = String(value);
      if (!text.startsWith("[object ")) return text;
    }
    throw new CacheConfigError(
      `Cannot render parameter "${paramName}" (${describe(value)}) into a cache key: it has neither a ` +
        `toJSON() method nor a toString() of its own, so it would render as "[object Object]". ` +
        `Use a path to a field in the key template (e.g. "{${paramName.split(/[.[ ]/)[0]}.id}"), give the class ` +
        `a toJSON() or toString(), or pass a key function (key: (...args) => string).`,
    );
  } finally {
    seen.pop();
  }
}

/** An `Object.prototype` from another realm (vm context, iframe). */
function isForeignObjectPrototype(proto: unknown): boolean {
  if (typeof proto !== "object" || proto === null || Object.getPrototypeOf(proto) !== null) return false;
  const ctor = (proto as { constructor?: unknown }).constructor;
  return typeof ctor === "function" && ctor.name === "Object";
}

function describe(value: object): string {
  const ctor = (value as { constructor?: unknown }).constructor;
  const name = typeof ctor === "function" ? ctor.name : "";
  return name ? `a ${name} instance` : "an object";
}

function byKey(a: [string, string], b: [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
