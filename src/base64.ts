/**
 * Base64 and base64url for byte arrays, on web standards only (`btoa`/`atob`), so it runs on
 * every runtime without `Buffer`.
 * @module
 */

const CHUNK = 0x8000;

/**
 * Standard base64 (with padding) of `bytes`.
 * @example
 * bytesToBase64(new Uint8Array([1, 2, 3])); // "AQID"
 */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return btoa(binary);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes standard, padded base64. Throws on anything else (whitespace, missing padding, other
 * characters), so hostile input cannot smuggle a lenient parse through.
 * @example
 * base64ToBytes("AQID"); // Uint8Array [1, 2, 3]
 */
export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  if (!BASE64.test(text)) throw new TypeError("invalid base64");
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Unpadded base64url (RFC 4648 §5) of `bytes`.
 * @example
 * bytesToBase64Url(new Uint8Array([251, 255])); // "-_8"
 */
export function bytesToBase64Url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/**
 * Decodes unpadded base64url. Returns `null` for anything that is not the canonical encoding of
 * some bytes (bad characters, impossible length, non-zero unused bits), so each byte string has
 * exactly one accepted text.
 * @example
 * base64UrlToBytes("-_8"); // Uint8Array [251, 255]
 */
export function base64UrlToBytes(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const bytes = base64ToBytes(padded);
  return bytesToBase64Url(bytes) === text ? bytes : null;
}
