/**
 * Synchronous MD5, SHA-1 and SHA-256 in plain TypeScript, for the `{x:hash}` key transforms.
 *
 * Key building is synchronous and runs on every runtime, so it cannot use Web Crypto (async) or
 * `node:crypto`. These digests name cache entries; they are not used for security.
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
  switch (algorithm) {
    case "md5":
      return md5(text);
    case "sha1":
      return sha1(text);
    case "sha256":
      return sha256(text);
  }
}

// One buffer reused by every call (hashing is synchronous, so calls never interleave); inputs
// too large for it get a buffer of their own, so a single huge key does not stay in memory.
const SHARED_MAX = 1 << 16;
let shared = new Uint8Array(1024);

/**
 * Encodes `text` as UTF-8 and pads it per MD5/SHA: `0x80`, zeros, then the bit length as 64 bits
 * (little-endian for MD5, big-endian for SHA). Returns a view over the padded message.
 */
function pad(text: string, littleEndian: boolean): DataView {
  const max = text.length * 3 + 72;
  let buf = shared;
  if (max > buf.length) {
    buf = new Uint8Array(max);
    if (max <= SHARED_MAX) shared = buf;
  }
  const length = encoder.encodeInto(text, buf).written;
  const total = (((length + 8) >>> 6) + 1) << 6;
  buf.fill(0, length, total);
  buf[length] = 0x80;
  const view = new DataView(buf.buffer, 0, total);
  const bitsLow = (length << 3) >>> 0;
  const bitsHigh = Math.floor(length / 0x20000000) >>> 0;
  if (littleEndian) {
    view.setUint32(total - 8, bitsLow, true);
    view.setUint32(total - 4, bitsHigh, true);
  } else {
    view.setUint32(total - 8, bitsHigh, false);
    view.setUint32(total - 4, bitsLow, false);
  }
  return view;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hex(words: Int32Array, littleEndian: boolean): string {
  let out = "";
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    out += littleEndian
      ? HEX[w & 0xff]! + HEX[(w >>> 8) & 0xff]! + HEX[(w >>> 16) & 0xff]! + HEX[w >>> 24]!
      : HEX[w >>> 24]! + HEX[(w >>> 16) & 0xff]! + HEX[(w >>> 8) & 0xff]! + HEX[w & 0xff]!;
  }
  return out;
}

const MD5_S = Uint8Array.from([
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
]);
const MD5_K = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000));
const MD5_M = new Int32Array(16);
// Message word used by each step: i, 5i+1, 3i+5, 7i (mod 16) in rounds 1 to 4.
const MD5_G = Uint8Array.from({ length: 64 }, (_, i) =>
  i < 16 ? i : i < 32 ? (5 * i + 1) & 15 : i < 48 ? (3 * i + 5) & 15 : (7 * i) & 15,
);

/**
 * MD5 of the UTF-8 bytes of `text`.
 * @param text - the text to hash.
 * @returns the lowercase hex digest (32 characters).
 */
export function md5(text: string): string {
  const view = pad(text, true);
  let a0 = 0x67452301;
  let b0 = 0xefcdab89 | 0;
  let c0 = 0x98badcfe | 0;
  let d0 = 0x10325476;
  const m = MD5_M;
  for (let off = 0; off < view.byteLength; off += 64) {
    for (let j = 0; j < 16; j++) m[j] = view.getInt32(off + j * 4, true);
    let a = a0;
    let b = b0;
    let c = c0;
    let d = d0;
    // Four rounds of 16 steps; `f` is the round function, `m[g]` the message word.
    for (let i = 0; i < 64; i++) {
      const r = i >>> 4;
      const f =
        r === 0 ? d ^ (b & (c ^ d)) : r === 1 ? c ^ (d & (b ^ c)) : r === 2 ? b ^ c ^ d : c ^ (b | ~d);
      const sum = (a + f + MD5_K[i]! + m[MD5_G[i]!]!) | 0;
      const s = MD5_S[i]!;
      a = d;
      d = c;
      c = b;
      b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
    }
    a0 = (a0 + a) | 0;
    b0 = (b0 + b) | 0;
    c0 = (c0 + c) | 0;
    d0 = (d0 + d) | 0;
  }
  return hex(Int32Array.of(a0, b0, c0, d0), true);
}

/**
 * SHA-1 of the UTF-8 bytes of `text`.
 * @param text - the text to hash.
 * @returns the lowercase hex digest (40 characters).
 */
export function sha1(text: string): string {
  const view = pad(text, false);
  const h = new Int32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]);
  const w = SHA1_W;
  for (let off = 0; off < view.byteLength; off += 64) {
    for (let j = 0; j < 16; j++) w[j] = view.getInt32(off + j * 4, false);
    for (let j = 16; j < 80; j++) {
      const x = w[j - 3]! ^ w[j - 8]! ^ w[j - 14]! ^ w[j - 16]!;
      w[j] = (x << 1) | (x >>> 31);
    }
    let a = h[0]!;
    let b = h[1]!;
    let c = h[2]!;
    let d = h[3]!;
    let e = h[4]!;
    for (let j = 0; j < 80; j++) {
      let f: number;
      let k: number;
      if (j < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (j < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (j < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6;
      }
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[j]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h[0] = (h[0]! + a) | 0;
    h[1] = (h[1]! + b) | 0;
    h[2] = (h[2]! + c) | 0;
    h[3] = (h[3]! + d) | 0;
    h[4] = (h[4]! + e) | 0;
  }
  return hex(h, false);
}

const SHA1_W = new Int32Array(80);
const SHA256_W = new Int32Array(64);
const SHA256_K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/**
 * SHA-256 of the UTF-8 bytes of `text`.
 * @param text - the text to hash.
 * @returns the lowercase hex digest (64 characters).
 */
export function sha256(text: string): string {
  const view = pad(text, false);
  const h = new Int32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = SHA256_W;
  for (let off = 0; off < view.byteLength; off += 64) {
    for (let j = 0; j < 16; j++) w[j] = view.getInt32(off + j * 4, false);
    for (let j = 16; j < 64; j++) {
      const x = w[j - 15]!;
      const y = w[j - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[j] = (w[j - 16]! + s0 + w[j - 7]! + s1) | 0;
    }
    let a = h[0]!;
    let b = h[1]!;
    let c = h[2]!;
    let d = h[3]!;
    let e = h[4]!;
    let f = h[5]!;
    let g = h[6]!;
    let hh = h[7]!;
    for (let j = 0; j < 64; j++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + SHA256_K[j]! + w[j]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = h[0]! + a;
    h[1] = h[1]! + b;
    h[2] = h[2]! + c;
    h[3] = h[3]! + d;
    h[4] = h[4]! + e;
    h[5] = h[5]! + f;
    h[6] = h[6]! + g;
    h[7] = h[7]! + hh;
  }
  return hex(h, false);
}
