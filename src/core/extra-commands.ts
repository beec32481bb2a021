/**
 * The commands of the full `Cache` that the lean core does without: raw text (`setRaw`,
 * `getRaw`), `getSize`, and sets (`setAdd`, `setRemove`, `setPop`, `setMembers`). Each is one
 * command on the route of its key, with the disable check of its own {@link Command} and
 * safe-mode handling; the middleware (`cache.use`) sees the backend command it runs.
 * @internal
 * @module
 */
import { capabilityError } from "../backends/capabilities.js";
import { MISSING, type Backend } from "../backends/types.js";
import { decode, encode, UNDECODABLE } from "../codec/index.js";
import type { TypeRegistry } from "../codec/types.js";
import { isDisabled, type Command } from "../context/scope.js";
import { SerializationError } from "../errors.js";
import type { Route } from "./route.js";
import type { CacheCore } from "./state.js";

/** The set commands a backend may lack (then refused with a CacheCapabilityError). */
export type SetMethod = "setAdd" | "setRemove" | "setPop" | "setMembers";

/**
 * Runs `fn` on the backend of `key` as `command`: `neutral` when disabled (for the cache or the
 * route's prefix) or when the backend fails in safe mode. With `sets`, the backend must have that
 * set command (and atomic operations): else it rejects with a CacheCapabilityError.
 */
export async function runCommand<T>(
  core: CacheCore,
  command: Command,
  key: string,
  neutral: T,
  fn: (backend: Backend, route: Route) => Promise<T>,
  sets?: SetMethod,
): Promise<T> {
  if (typeof key !== "string") throw new TypeError(`key must be a string, got ${typeof key}`);
  const route = core.route(key);
  if (sets !== undefined) {
    await route.declare("atomic");
    route.need(sets, "atomic");
  }
  if (!route.enabled || isDisabled(core, command, core.prefixes.get(route.prefix))) return neutral;
  const epoch = route.epoch;
  try {
    const backend = route.backend ?? (await route.start());
    if (sets !== undefined && typeof backend[sets] !== "function") {
      throw capabilityError(route.scheme, "atomic", sets, "this backend has no set commands");
    }
    const result = await fn(backend, route);
    if (route.down !== undefined) core.answered(route, epoch);
    return result;
  } catch (error) {
    core.failed(error, key, route, epoch);
    return neutral;
  }
}

const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";

/**
 * The stored text of a raw read: as stored on a backend of strings; on a route that stores live
 * values (`mem://` without `serialize`), the codec's text of the value, which is what a
 * serialising backend would hold. `undefined` when missing; a set is not text (WRONGTYPE).
 */
export function rawText(route: Route, raw: unknown, types?: TypeRegistry): string | undefined {
  if (raw === MISSING) return undefined;
  if (typeof raw === "string" && !route.live) return raw;
  if (typeof raw === "number") return String(raw);
  if (!route.live) throw new Error(WRONGTYPE);
  try {
    return encode(raw, types);
  } catch {
    throw new Error(WRONGTYPE);
  }
}

/**
 * What `setRaw` stores for `text` on `route`: the text itself, or on a route of live values the
 * value it encodes, when the codec writes exactly that text for it (anything else could not be
 * read back as written: SerializationError).
 */
export function rawValue(route: Route, text: unknown, types?: TypeRegistry): unknown {
  if (typeof text !== "string") throw new TypeError(`setRaw: the value must be a string (the text to store), got ${typeof text}`);
  if (!route.live) return text;
  const value = decode(text, types);
  if (value === UNDECODABLE || encode(value, types) !== text) {
    throw new SerializationError(
      `setRaw: ${route.label} stores values, not text, and this text is not one the codec writes; set the backend up with serialize: true to store any text`,
    );
  }
  return value;
}

/** Byte length of `text` in UTF-8 (a lone surrogate counts as U+FFFD, 3 bytes), without allocating. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Checks set members: strings (a single string is one member). */
export function checkMembers(what: string, members: string | Iterable<string>): string[] {
  const list = typeof members === "string" ? [members] : [...(members ?? [])];
  for (const member of list) if (typeof member !== "string") throw new TypeError(`${what}: members must be strings, got ${typeof member}`);
  return list;
}
