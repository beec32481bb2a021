/**
 * Synchronous MD5, SHA-1 and SHA-256 in plain TypeScript, for the `{x:hash}` key transforms.
 *
 * Key building is synchronous and runs on every runtime, so it cannot use Web Crypto (async) or
 * `node:crypto`. These digests name cache entries; they are not used for security.
 *
 * Compact by design (this ships in the core bundle): one padding routine, round constants
 * computed at load (MD5 from `sin`, SHA-256 from the square and cube roots of the primes).
 * @module
 */

const encoder = new TextEncoder();

/** The hash algorithms the `hash(...)` key transform accepts. */
export type HashAlgorithm = "md5" | "sha1" | "sha256";

/** Names of the supported hash algorithms. */
export const HASH_ALGORITHMS: readonly HashAlgorithm[] = ["md5", "sha1", "sha256"];

/**
 * Hex digest of the UTF-8 bytes of `text` with the given algorithm.
 * @param algorithm - `md5`, `sha1` or `sha256`.
 * @param text - the text to hash.
 * @returns the lowercase hex digest.
 */
export function hashHex(algorithm: HashAlgorithm, text: string): string {
  return (algorithm === "md5" ? md5 : algorithm === "sha1" ? sha1 : sha256)(text);
}

// One buffer reused by every call (hashing is synchronous, so calls never interleave); inputs
// too large for it get a buffer of their own, so a single huge key does not stay in memory.
let shared = new Uint8Array(1024);
const HEX = Array.from({ length: 256 }, (_, i) => (i + 256).toString(16).slice(1));
/** Message schedule, shared by the three algorithms. */
const W = new Int32Array(80);

/**
 * Encodes `text` as UTF-8, pads it per MD5/SHA (`0x80`, zeros, the bit length as 64 bits,
 * little-endian for MD5, big-endian for SHA), then runs `compress` on each 64-byte block
 * (message words in `W[0..15]`) and returns the state as lowercase hex.
 */
function digest(text: string, le: boolean, h: Int32Array, compress: (h: Int32Array) => void): string {
  const max = text.length * 3 + 72;
  let buf = shared;
  if (max > buf.length) {
    buf = new Uint8Array(max);
    if (max <= 65536) shared = buf;
  }
  const length = encoder.encodeInto(text, buf).written;
  const total = (((length + 8) >>> 6) + 1) << 6;
  buf.fill(0, length, total);
  buf[length] = 0x80;
  const view = new DataView(buf.buffer, 0, total);
  // setUint32 takes both halves modulo 2^32.
  view.setUint32(total - (le ? 8 : 4), length << 3, le);
  view.setUint32(total - (le ? 4 : 8), length / 0x20000000, le);
  for (let off = 0; off < total; off += 64) {
    for (let j = 0; j < 16; j++) W[j] = view.getInt32(off + j * 4, le);
    compress(h);
  }
  let out = "";
  for (let i = 0; i < h.length * 4; i++) out += HEX[(h[i >> 2]! >>> (le ? (i & 3) * 8 : 24 - (i & 3) * 8)) & 255];
  return out;
}

const rotl = (x: number, n: number): number => (x << n) | (x >>> (32 - n));
const rotr = (x: number, n: number): number => rotl(x, 32 - n);
const INIT = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];

const MD5_K = Array.from({ length: 64 }, (_, i) => (Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);
// Message word of each step: i, 5i+1, 3i+5, 7i (mod 16) in rounds 1 to 4.
const MD5_G = MD5_K.map((_, i) => [i, 5 * i + 1, 3 * i + 5, 7 * i][i >> 4]! & 15);
// Shift amounts: four per round.
const MD5_S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

/**
 * MD5 of the UTF-8 bytes of `text`.
 * @param text - the text to hash.
 * @returns the lowercase hex digest (32 characters).
 */
export function md5(text: string): string {
  return digest(text, true, Int32Array.from(INIT.slice(0, 4)), (h) => {
    let a = h[0]!;
    let b = h[1]!;
    let c = h[2]!;
    let d = h[3]!;
    for (let i = 0; i < 64; i++) {
      const r = i >>> 4;
      const f = r === 0 ? d ^ (b & (c ^ d)) : r === 1 ? c ^ (d & (b ^ c)) : r === 2 ? b ^ c ^ d : c ^ (b | ~d);
      const t = d;
      d = c;
      c = b;
      b = (b + rotl((a + f + MD5_K[i]! + W[MD5_G[i]!]!) | 0, MD5_S[(r << 2) | (i & 3)]!)) | 0;
      a = t;
    }
    h[0]! += a;
    h[1]! += b;
    h[2]! += c;
    h[3]! += d;
  });
}

// 2^30 times the square roots of 2, 3, 5 and 10.
const SHA1_K = [2, 3, 5, 10].map((n) => (Math.sqrt(n) * 2 ** 30) | 0);

/**
 * SHA-1 of the UTF-8 bytes of `text`.
 * @param text - the text to hash.
 * @returns the lowercase hex digest (40 characters).
 */
export function sha1(text: string): string {
  return digest(text, false, Int32Array.from(INIT), (h) => {
    for (let j = 16; j < 80; j++) W[j] = rotl(W[j - 3]! ^ W[j - 8]! ^ W[j - 14]! ^ W[j - 16]!, 1);
    let a = h[0]!;
    let b = h[1]!;
    let c = h[2]!;
    let d = h[3]!;
    let e = h[4]!;
    for (let j = 0; j < 80; j++) {
      const r = (j / 20) | 0;
      // Choose, parity, majority, parity (in the same forms as MD5 and SHA-256).
      const f = r === 0 ? d ^ (b & (c ^ d)) : r === 2 ? (b & c) | (d & (b | c)) : b ^ c ^ d;
      const t = (rotl(a, 5) + f + e + SHA1_K[r]! + W[j]!) | 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    h[0]! += a;
    h[1]! += b;
    h[2]! += c;
    h[3]! += d;
    h[4]! += e;
  });
}

// SHA-256 constants: the first 32 bits of the fractional parts of the square roots of the first
// 8 primes (initial state) and of the cube roots of the first 64 primes (round constants).
const SHA256_H: number[] = [];
const SHA256_K: number[] = [];
for (let n = 2; SHA256_K.length < 64; n++) {
  let prime = true;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) prime = false;
  if (!prime) continue;
  if (SHA256_H.length < 8) SHA256_H.push(((Math.sqrt(n) % 1) * 2 ** 32) | 0);
  SHA256_K.push(((Math.cbrt(n) % 1) * 2 ** 32) | 0);
}

/**
 * SHA-256 of the UTF-8 bytes of `text`.
 * @param text - the text to hash.
 * @returns the lowercase hex digest (64 characters).
 */
export function sha256(text: string): string {
  return digest(text, false, Int32Array.from(SHA256_H), (h) => {
    for (let j = 16; j < 64; j++) {
      const x = W[j - 15]!;
      const y = W[j - 2]!;
      W[j] = (W[j - 16]! + (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) + W[j - 7]! + (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10))) | 0;
    }
    let a = h[0]!;
    let b = h[1]!;
    let c = h[2]!;
    let d = h[3]!;
    let e = h[4]!;
    let f = h[5]!;
    let g = h[6]!;
    let k = h[7]!;
    for (let j = 0; j < 64; j++) {
      const t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + (g ^ (e & (f ^ g))) + SHA256_K[j]! + W[j]!;
      const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) | (c & (a | b)));
      k = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0]! += a;
    h[1]! += b;
    h[2]! += c;
    h[3]! += d;
    h[4]! += e;
    h[5]! += f;
    h[6]! += g;
    h[7]! += k;
  });
}
