/**
 * HMAC-SHA256 signing of stored values: with Web Crypto (every runtime, no `node:crypto`), or
 * for the cache's own routes with the runtime's synchronous HMAC where it has one (see
 * {@link createFastSigner}; same format, same MACs).
 *
 * Stored form: `"$s1:" + base64url(mac) + ":" + payload`, where the MAC (43 characters, unpadded
 * base64url of 32 bytes) covers the UTF-8 bytes of `"s1:" + key.length + ":" + key + payload`.
 * The length prefix separates key and payload unambiguously, so a value copied to another key
 * does not verify. No encoded value starts with `$` (plain JSON starts with `{["-tfn` or a digit,
 * the tagged form with `~`), so a signed text is never mistaken for an unsigned one.
 * @module
 */

import { CacheConfigError } from "../errors.js";
import { base64UrlToBytes, bytesToBase64Url } from "../base64.js";
import { syncHmac, type HmacGlobals } from "./hmac.js";

/** Signs payloads for a key and verifies stored texts; see {@link createSigner}. */
export interface Signer {
  /** The stored text for `payload` under `key`: `"$s1:<mac>:<payload>"`. */
  sign(key: string, payload: string): Promise<string>;
  /**
   * The payload of a text that `sign` produced for this `key` with this secret, else `null`
   * (unsigned, truncated, tampered, another secret, another key). Never rejects for bad input.
   * Counters are not signed: check {@link isCounter} first.
   */
  verify(key: string, stored: string): Promise<string | null>;
}

/** Every signed text starts with this. */
export const SIGNED_PREFIX = "$s1:";
const MAC_CHARS = 43; // unpadded base64url of 32 bytes
const PAYLOAD_START = SIGNED_PREFIX.length + MAC_CHARS + 1;
const HMAC = { name: "HMAC", hash: "SHA-256" } as const;
const utf8 = new TextEncoder();

/** The text the MAC covers (its UTF-8 bytes): the length prefix separates key and payload. */
function macText(key: string, payload: string): string {
  return "s1:" + key.length + ":" + key + payload;
}

function macInput(key: string, payload: string): Uint8Array<ArrayBuffer> {
  return utf8.encode(macText(key, payload));
}

/** The payload of `stored` when it has the signed layout (prefix, 43 MAC characters, `:`), else null. */
function signedPayload(key: unknown, stored: unknown): string | null {
  if (typeof stored !== "string" || typeof key !== "string" || !stored.startsWith(SIGNED_PREFIX)) return null;
  // Also false for a text too short to hold the MAC (charCodeAt past the end is NaN).
  return stored.charCodeAt(PAYLOAD_START - 1) === 58 /* : */ ? stored.slice(PAYLOAD_START) : null;
}

function checkSecret(secret: unknown): asserts secret is string {
  if (typeof secret !== "string" || secret === "") throw new CacheConfigError("secret must be a non-empty string");
}

/**
 * Creates a signer for `secret`. The CryptoKey is imported once, on first use, and shared by
 * every call. Verification uses `crypto.subtle.verify`, which compares in constant time.
 * @throws {CacheConfigError} when `secret` is empty or the runtime has no Web Crypto.
 * @example
 * const signer = createSigner("my secret");
 * const stored = await signer.sign("user:1", '{"name":"Ada"}');
 * await signer.verify("user:1", stored); // '{"name":"Ada"}'
 * await signer.verify("user:2", stored); // null: bound to another key
 */
export function createSigner(secret: string): Signer {
  checkSecret(secret);
  const subtle = (globalThis.crypto as Crypto | undefined)?.subtle;
  if (subtle === undefined) throw new CacheConfigError("secret needs Web Crypto (crypto.subtle), which this runtime lacks");

  let keyPromise: Promise<CryptoKey> | undefined;
  const cryptoKey = (): Promise<CryptoKey> =>
    (keyPromise ??= subtle.importKey("raw", utf8.encode(secret), HMAC, false, ["sign", "verify"]).catch((error: unknown) => {
      keyPromise = undefined; // do not cache a failure
      throw error;
    }));

  return {
    async sign(key: string, payload: string): Promise<string> {
      const mac = await subtle.sign("HMAC", await cryptoKey(), macInput(key, payload));
      return SIGNED_PREFIX + bytesToBase64Url(new Uint8Array(mac)) + ":" + payload;
    },

    async verify(key: string, stored: string): Promise<string | null> {
      const payload = signedPayload(key, stored);
      if (payload === null) return null;
      const mac = base64UrlToBytes(stored.slice(SIGNED_PREFIX.length, PAYLOAD_START - 1));
      if (mac === null || mac.byteLength !== 32) return null;
      const ok = await subtle.verify("HMAC", await cryptoKey(), mac, macInput(key, payload));
      return ok ? payload : null;
    },
  };
}

/**
 * A signer whose answers are synchronous where the runtime has a synchronous HMAC: what a
 * cache's routes sign with.
 * @internal
 */
export interface FastSigner {
  sign(key: string, payload: string): string | Promise<string>;
  verify(key: string, stored: string): string | null | Promise<string | null>;
}

/**
 * The signer of a cache route: the format and MACs of {@link createSigner}, computed with the
 * runtime's synchronous HMAC-SHA256 when it has one (`node:crypto` reached through
 * `process.getBuiltinModule`, or Bun's `CryptoHasher`), else the Web Crypto signer itself.
 *
 * Verification recomputes the MAC and compares its canonical base64url text with the stored
 * one in constant time (every character, no early exit), so a non-canonical encoding of the
 * right bytes is rejected, as the Web Crypto path rejects it.
 *
 * A text that verified once for a key is remembered ({@link VerifiedTexts}): reading the very
 * same text for the same key again gives the same answer without recomputing the MAC (HMAC is
 * deterministic), so a hot key costs one MAC per distinct stored value, not one per read.
 * @param globals Where to look for the synchronous HMAC (a seam for tests; `{}` forces Web Crypto).
 * @internal
 */
export function createFastSigner(secret: string, globals?: HmacGlobals): FastSigner {
  checkSecret(secret);
  const hmac = syncHmac(secret, globals);
  const verified = new VerifiedTexts();
  const signer = hmac ? undefined : createSigner(secret);
  return {
    sign: signer ? signer.sign : (key, payload) => SIGNED_PREFIX + hmac!(macText(key, payload)) + ":" + payload,
    verify(key, stored) {
      if (verified.has(key, stored)) return stored.slice(PAYLOAD_START);
      if (signer) {
        return signer.verify(key, stored).then((payload) => {
          if (payload !== null) verified.add(key, stored);
          return payload;
        });
      }
      const payload = signedPayload(key, stored);
      if (payload === null) return null;
      const expected = hmac!(macText(key, payload));
      let diff = expected.length ^ MAC_CHARS;
      for (let i = 0; i < MAC_CHARS; i++) diff |= expected.charCodeAt(i) ^ stored.charCodeAt(SIGNED_PREFIX.length + i);
      if (diff !== 0) return null;
      verified.add(key, stored);
      return payload;
    },
  };
}

/** Entries one generation of {@link VerifiedTexts} holds at most. */
export const VERIFIED_ENTRIES = 2048;
/** Characters of stored text one generation holds at most (so two generations pin ≤ ~2 MiB). */
export const VERIFIED_CHARS = 1 << 19;
/** Longer texts are not remembered: verified on every read (the MAC is cheap next to what they would pin). */
export const VERIFIED_MAX_TEXT = 1 << 14;

/**
 * Stored texts that verified, with the key each verified for: two bounded generations (a read
 * that finds a text in the older one moves it to the younger; a full younger generation becomes
 * the older one and the oldest is dropped), so hot texts stay and memory stays bounded by
 * {@link VERIFIED_ENTRIES} and {@link VERIFIED_CHARS} per generation. Only texts whose MAC was
 * checked enter; a text is found only by exact equality, and only for the key it verified for.
 * @internal
 */
export class VerifiedTexts {
  #young = new Map<string, string>();
  #old = new Map<string, string>();
  #chars = 0;

  /** Whether `stored` verified before for `key`. */
  has(key: string, stored: string): boolean {
    const found = this.#young.get(stored);
    if (found !== undefined) return found === key;
    if (this.#old.get(stored) !== key) return false;
    this.add(key, stored);
    return true;
  }

  /** Remembers that `stored` verified for `key`. */
  add(key: string, stored: string): void {
    if (stored.length > VERIFIED_MAX_TEXT) return;
    if (this.#young.size >= VERIFIED_ENTRIES || this.#chars + stored.length > VERIFIED_CHARS) {
      this.#old = this.#young;
      this.#young = new Map();
      this.#chars = 0;
    }
    this.#young.set(stored, key);
    this.#chars += stored.length;
  }

  /** Entries and characters held (both generations). */
  get size(): { entries: number; chars: number } {
    let chars = 0;
    for (const map of [this.#young, this.#old]) for (const text of map.keys()) chars += text.length;
    return { entries: this.#young.size + this.#old.size, chars };
  }
}

/**
 * Whether `stored` starts like a signed text (it may still fail verification).
 * @example
 * isSigned("$s1:…:{}"); // true
 * isSigned("{}");       // false
 */
export function isSigned(stored: string): boolean {
  return typeof stored === "string" && stored.startsWith(SIGNED_PREFIX);
}

const INTEGER = /^(?:0|-?[1-9][0-9]{0,15})$/;

/**
 * Whether `stored` is a counter as Redis `INCR` writes it: a plain integer in the safe range
 * (optional `-`, digits, no leading zeros, no `+`, no spaces). Counters are stored unsigned, also
 * under a secret, and decode as numbers.
 * @example
 * isCounter("42");  // true
 * isCounter("-7");  // true
 * isCounter("007"); // false
 * isCounter("1.5"); // false
 */
export function isCounter(stored: string): boolean {
  // INTEGER allows at most 17 characters, so a long text fails it fast.
  return typeof stored === "string" && INTEGER.test(stored) && Number.isSafeInteger(Number(stored));
}
