/**
 * Synchronous HMAC-SHA256 where the runtime has one, found at run time (no static `node:*`
 * import, no `Buffer`): signing then costs about a microsecond instead of a Web Crypto round
 * trip (tens of µs per awaited call on Node, Bun and Deno). Without one (Workers without
 * `nodejs_compat`, browsers) the signer uses Web Crypto.
 *
 * Engines, fastest first:
 * - Bun: `Bun.CryptoHasher("sha256", secret)`;
 * - `node:crypto` through `process.getBuiltinModule` (Node ≥ 20.16, Bun, Deno, Workers with
 *   `nodejs_compat`): for a secret of at most 64 ASCII bytes, HMAC is built from two one-shot
 *   `crypto.hash` calls (RFC 2104: `H((K ^ opad) || H((K ^ ipad) || m))`), with no per-call
 *   object; otherwise `createHmac`.
 *
 * Each engine is checked once against known MACs before it is used.
 * @internal
 * @module
 */

/** The MAC of the UTF-8 bytes of `data` as unpadded base64url (43 characters). */
export type SyncHmac = (data: string) => string;

interface NodeHmacObject {
  update(data: string): NodeHmacObject;
  digest(encoding: "base64url"): string;
}

/** The part of `node:crypto` used here. */
export interface NodeCryptoLike {
  createHmac?: (algorithm: "sha256", key: string) => NodeHmacObject;
  hash?: (algorithm: "sha256", data: string | Uint8Array, encoding: "latin1" | "base64url") => string;
}

/** The part of Bun's global used here. */
export interface BunLike {
  CryptoHasher?: new (algorithm: "sha256", key: string) => { update(data: string): { digest(encoding: "base64url"): string } };
}

/** Where the engines are looked up: `globalThis`, or a stand-in (tests). */
export interface HmacGlobals {
  process?: { getBuiltinModule?: (id: string) => unknown } | undefined;
  Bun?: BunLike | undefined;
}

/**
 * The fastest synchronous HMAC-SHA256 keyed with `secret` (its UTF-8 bytes) that `globals`
 * offers, or `undefined` when there is none (then use Web Crypto).
 */
export function syncHmac(secret: string, globals: HmacGlobals = globalThis as HmacGlobals): SyncHmac | undefined {
  let crypto: NodeCryptoLike | undefined;
  try {
    crypto = globals.process?.getBuiltinModule?.("node:crypto") as NodeCryptoLike | undefined;
  } catch {
    // no node:crypto here
  }
  const Hasher = globals.Bun?.CryptoHasher;
  const hash = crypto?.hash;
  const createHmac = crypto?.createHmac;
  const engines: ((key: string) => SyncHmac | undefined)[] = [
    (key) => Hasher && ((data) => new Hasher("sha256", key).update(data).digest("base64url")),
    (key) => (hash && key.length <= 64 && /^[\x00-\x7f]*$/.test(key) ? hashHmac(hash, key) : undefined),
    (key) => createHmac && ((data) => createHmac("sha256", key).update(data).digest("base64url")),
  ];
  for (const make of engines) {
    try {
      const hmac = make(secret);
      // Checked once against known MACs (an engine that cannot take a test key skips it).
      if (hmac && (make("Jefe")?.(TEST_DATA) ?? TEST_MAC) === TEST_MAC) return hmac;
    } catch {
      // missing or broken here: try the next one
    }
  }
  return undefined;
}

/**
 * HMAC from two one-shot hashes (RFC 2104). `crypto.hash` takes strings as UTF-8, so the inner
 * pad is prepended as text: exact only when every pad byte is ASCII, i.e. for a secret of at
 * most 64 ASCII bytes (`K ^ 0x36` and `K ^ 0x5c` then stay below 0x80). The outer input (pad
 * and inner digest, any bytes) goes in as a reused Uint8Array.
 */
function hashHmac(hash: NonNullable<NodeCryptoLike["hash"]>, secret: string): SyncHmac {
  let inner = "";
  const outer = new Uint8Array(96);
  for (let i = 0; i < 64; i++) {
    const byte = secret.charCodeAt(i) || 0;
    inner += String.fromCharCode(byte ^ 0x36);
    outer[i] = byte ^ 0x5c;
  }
  return (data) => {
    const digest = hash("sha256", inner + data, "latin1");
    for (let i = 0; i < 32; i++) outer[64 + i] = digest.charCodeAt(i);
    return hash("sha256", outer, "base64url");
  };
}

/** RFC 4231 test case 2 (key `"Jefe"`): the data and its base64url MAC. */
const TEST_DATA = "what do ya want for nothing?";
const TEST_MAC = "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM";
