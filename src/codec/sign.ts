/**
 * HMAC-SHA256 signing of stored values with Web Crypto (every runtime, no `node:crypto`).
 *
 * Stored form: `"$s1:" + base64url(mac) + ":" + payload`, where the MAC (43 characters, unpadded
 * base64url of 32 bytes) covers the UTF-8 bytes of `"s1:" + key.length + ":" + key + payload`.
 * The length prefix separates key and payload unambiguously, so a value copied to another key
 * does not verify. No encoded value starts with `$` (plain JSON starts with `{["-tfn` or a digit,
 * the tagged form with `~`), so a signed text is never mistaken for an unsigned one.
 * @module
 */

import { CacheConfigError } from "../errors.js";
import { base64UrlToBytes, bytesToBase64Url } from "./base64.js";

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

function macInput(key: string, payload: string): Uint8Array<ArrayBuffer> {
  return utf8.encode("s1:" + key.length + ":" + key + payload);
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
  if (typeof secret !== "string" || secret === "") throw new CacheConfigError("secret must be a non-empty string");
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
      if (typeof stored !== "string" || typeof key !== "string") return null;
      if (stored.length < PAYLOAD_START || !stored.startsWith(SIGNED_PREFIX)) return null;
      if (stored.charCodeAt(PAYLOAD_START - 1) !== 58 /* : */) return null;
      const mac = base64UrlToBytes(stored.slice(SIGNED_PREFIX.length, PAYLOAD_START - 1));
      if (mac === null || mac.byteLength !== 32) return null;
      const payload = stored.slice(PAYLOAD_START);
      const ok = await subtle.verify("HMAC", await cryptoKey(), mac, macInput(key, payload));
      return ok ? payload : null;
    },
  };
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
  return typeof stored === "string" && stored.length <= 17 && INTEGER.test(stored) && Number.isSafeInteger(Number(stored));
}
