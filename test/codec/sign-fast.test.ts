// The routes' signer: the runtime's synchronous HMAC (node:crypto reached through
// process.getBuiltinModule, or Bun's CryptoHasher) must give exactly the Web Crypto signer's
// texts, accept exactly what it accepts, and fall back to Web Crypto where there is none.
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { createFastSigner, createSigner, encode, SIGNED_PREFIX } from "../../src/codec/index.js";
import { syncHmac, type HmacGlobals } from "../../src/codec/hmac.js";
import { Cache } from "../../src/index.js";

const nodeGlobals: HmacGlobals = { process: { getBuiltinModule: process.getBuiltinModule } };
/** node:crypto without `crypto.hash` (older Node, or a runtime without it): createHmac. */
const createHmacOnly: HmacGlobals = {
  process: { getBuiltinModule: (id) => (id === "node:crypto" ? { createHmac } : undefined) },
};
/** A stand-in for Bun's global, backed by node:crypto. */
const bunGlobals: HmacGlobals = {
  Bun: {
    CryptoHasher: class {
      readonly #hmac;
      constructor(_algorithm: "sha256", key: string) {
        this.#hmac = createHmac("sha256", key);
      }
      update(data: string) {
        this.#hmac.update(data);
        return { digest: (encoding: "base64url") => this.#hmac.digest(encoding) };
      }
    },
  },
};
const engines: [string, HmacGlobals][] = [
  ["node:crypto hash", nodeGlobals],
  ["node:crypto createHmac", createHmacOnly],
  ["Bun.CryptoHasher", bunGlobals],
];

const secrets = ["s3cr3t", "🔑 clé", "k".repeat(64), "k".repeat(65), "\x7f\x00 ascii edge", "x", "lone \uD800 surrogate"];
const cases: [string, string][] = [
  ["user:1", encode({ user: "ada", at: new Date(0) })],
  ["", ""],
  ["k", ""],
  ["", "x"],
  ["ключ:1", '"ü🎉"'],
  ["lone\uD800surrogate", '"\uDFFF"'],
  ["big", JSON.stringify("x".repeat(5000))],
];

describe("syncHmac", () => {
  it("finds node:crypto through process.getBuiltinModule", () => {
    const hmac = syncHmac("secret", nodeGlobals)!;
    expect(hmac("data")).toBe(createHmac("sha256", "secret").update("data").digest("base64url"));
  });

  it("is undefined without getBuiltinModule or Bun (Workers without nodejs_compat)", () => {
    expect(syncHmac("secret", {})).toBeUndefined();
    expect(syncHmac("secret", { process: {} })).toBeUndefined();
    expect(syncHmac("secret", { process: { getBuiltinModule: () => undefined } })).toBeUndefined();
    expect(
      syncHmac("secret", {
        process: {
          getBuiltinModule: () => {
            throw new Error("no such module");
          },
        },
      }),
    ).toBeUndefined();
  });

  it("refuses an engine that fails the RFC 4231 vectors", () => {
    const wrong: HmacGlobals = {
      process: { getBuiltinModule: () => ({ createHmac: (_: string, key: string) => createHmac("sha256", key + "!") }) },
    };
    expect(syncHmac("secret", wrong)).toBeUndefined();
  });

  for (const [name, globals] of engines) {
    it(`${name}: the same MACs as node:crypto createHmac, for every secret`, () => {
      fc.assert(
        fc.property(fc.oneof(fc.string({ minLength: 1 }), fc.string({ minLength: 1, unit: "binary" }), fc.constantFrom(...secrets)), fc.string({ unit: "binary" }), (secret, data) => {
          const hmac = syncHmac(secret, globals);
          expect(hmac).toBeDefined();
          expect(hmac!(data)).toBe(createHmac("sha256", secret).update(data).digest("base64url"));
        }),
        { numRuns: 200 },
      );
    });
  }
});

describe("createFastSigner", () => {
  it("signs synchronously where node:crypto is reachable", () => {
    const signer = createFastSigner("s3cr3t");
    const stored = signer.sign("k", "1");
    expect(typeof stored).toBe("string");
    expect(signer.verify("k", stored as string)).toBe("1");
  });

  for (const [name, globals] of engines) {
    describe(name, () => {
      it("gives the Web Crypto signer's texts, and each verifies the other's", async () => {
        for (const secret of secrets) {
          const fast = createFastSigner(secret, globals);
          const web = createSigner(secret);
          for (const [key, payload] of cases) {
            const a = fast.sign(key, payload);
            expect(typeof a).toBe("string");
            const b = await web.sign(key, payload);
            expect(a).toBe(b);
            expect(fast.verify(key, b)).toBe(payload);
            expect(await web.verify(key, a as string)).toBe(payload);
          }
        }
      });

      it("accepts exactly what the Web Crypto signer accepts (random texts and mutations)", async () => {
        const fast = createFastSigner("s3cr3t", globals);
        const web = createSigner("s3cr3t");
        const good = await web.sign("k", '{"a":1}');
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(
              fc.string(),
              fc.string().map((s) => SIGNED_PREFIX + s),
              fc.tuple(fc.nat(good.length), fc.string({ maxLength: 3 }), fc.nat(3)).map(([at, insert, cut]) => good.slice(0, at) + insert + good.slice(at + cut)),
            ),
            fc.constantFrom("k", "k2"),
            async (stored, key) => {
              expect(fast.verify(key, stored)).toBe(await web.verify(key, stored));
            },
          ),
          { numRuns: 500 },
        );
      });

      it("rejects a tampered MAC at every position, every truncation, another key or secret", () => {
        const fast = createFastSigner("s3cr3t", globals);
        const stored = fast.sign("k", '{"admin":false}') as string;
        for (let i = SIGNED_PREFIX.length; i < SIGNED_PREFIX.length + 43; i++) {
          for (const c of ["A", "B", "-", "_"]) {
            if (stored[i] !== c) expect(fast.verify("k", stored.slice(0, i) + c + stored.slice(i + 1))).toBeNull();
          }
        }
        for (let n = 0; n < stored.length; n++) expect(fast.verify("k", stored.slice(0, n))).toBeNull();
        expect(fast.verify("k", stored.replace("false", "true"))).toBeNull();
        expect(fast.verify("k2", stored)).toBeNull();
        expect(createFastSigner("other", globals).verify("k", stored)).toBeNull();
        expect(fast.verify("k", 5 as unknown as string)).toBeNull();
        expect(fast.verify(5 as unknown as string, stored)).toBeNull();
      });

      it("rejects a non-canonical base64url MAC", () => {
        const fast = createFastSigner("s3cr3t", globals);
        const stored = fast.sign("k", "1") as string;
        const last = SIGNED_PREFIX.length + 42;
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        // The last character carries 2 unused bits: flipping them keeps the MAC bytes.
        const twin = stored.slice(0, last) + alphabet[alphabet.indexOf(stored[last]!) ^ 1] + stored.slice(last + 1);
        expect(fast.verify("k", twin)).toBeNull();
      });
    });
  }

  it("falls back to Web Crypto without a synchronous HMAC", async () => {
    const sign = vi.spyOn(crypto.subtle, "sign");
    const verify = vi.spyOn(crypto.subtle, "verify");
    try {
      const fallback = createFastSigner("s3cr3t", { process: {} });
      const stored = fallback.sign("k", "1");
      expect(stored).toBeInstanceOf(Promise);
      expect(await stored).toBe(createFastSigner("s3cr3t", nodeGlobals).sign("k", "1"));
      expect(await fallback.verify("k", await stored)).toBe("1");
      expect(sign).toHaveBeenCalledTimes(1);
      expect(verify).toHaveBeenCalledTimes(1);
    } finally {
      sign.mockRestore();
      verify.mockRestore();
    }
  });

  it("throws CacheConfigError for an empty secret", () => {
    expect(() => createFastSigner("")).toThrow(/secret/);
  });
});

describe("a cache with a secret", () => {
  it("stores what the Web Crypto signer verifies, and reads what it signed", async () => {
    const cache = new Cache("fast-signing").setup("mem://", { secret: "s3cr3t" });
    const web = createSigner("s3cr3t");
    try {
      await cache.set("user:1", { name: "Ada" });
      const backend = cache.route("user:1").backend!;
      const stored = (await backend.get("user:1")) as string;
      expect(await web.verify("user:1", stored)).toBe(encode({ name: "Ada" }));
      await backend.set("user:2", await web.sign("user:2", encode({ name: "Grace" })), undefined);
      expect(await cache.get("user:2")).toEqual({ name: "Grace" });
    } finally {
      await cache.close();
    }
  });
});
