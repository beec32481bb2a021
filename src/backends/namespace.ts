/**
 * The key namespace of a network backend: user key `K` is stored as `<namespace>:K`; `""` stores
 * keys verbatim. Shared by the Redis and Upstash backends.
 * @internal
 * @module
 */
import { CacheConfigError } from "../errors.js";
import { escapeGlob } from "./glob.js";

export class Namespace {
  /** The namespace (`""`: keys are stored verbatim). */
  readonly name: string;
  /** What stored keys start with: `"<name>:"`, or `""`. */
  readonly prefix: string;

  constructor(value: unknown, backend: string) {
    const name = value ?? "cashews";
    if (typeof name !== "string") throw new CacheConfigError(`${backend}: option "namespace" must be a string`);
    this.name = name;
    this.prefix = name === "" ? "" : `${name}:`;
  }

  /** True when keys are stored verbatim (the backend then owns its database). */
  get verbatim(): boolean {
    return this.prefix === "";
  }

  /** A user key as stored. */
  key(key: string): string {
    return this.prefix + key;
  }

  /** A user glob pattern as a server pattern: the namespace escaped, so it only ever matches itself. */
  pattern(pattern: string): string {
    return this.prefix === "" ? pattern : `${escapeGlob(this.name)}:${pattern}`;
  }

  /** A stored key back as the user's key. */
  strip(stored: string): string {
    return stored.slice(this.prefix.length);
  }
}
