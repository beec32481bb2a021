import { createHmac } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CacheConfigError } from "../../src/errors.js";
import { createSigner, encode, isCounter, isSigned, SIGNED_PREFIX } from "../../src/codec/index.js";

const secret = "s3cr3t";
const payload = encode({ user: "ada", at: new Date(0) });

afterEach(() => {
  vi.restoreAllMocks();
});

describe("createSigner", () => {
  it("signs and verifies", async () => {
    const signer = createSigner(secret);
    const stored = await signer.sign("user:1", payload);
    expect(stored.startsWith(SIGNED_PREFIX)).toBe(true);
    expect(stored.endsWith(":" + payload)).toBe(true);
    expect(stored).toHaveLength(SIGNED_PREFIX.length + 43 + 1 + payload.length);
    expect(isSigned(stored)).toBe(true);
    expect(await signer.verify("user:1", stored)).toBe(payload);
    expect(await createSigner(secret).verify("user:1", stored)).toBe(payload);
  });

  it("MACs 's1:' + key length + ':' + key + payload with HMAC-SHA256", async () => {
    const key = "ключ:1";
    const stored = await createSigner(secret).sign(key, "42");
    const mac = createHmac("sha256", secret).update(`s1:${key.length}:${key}42`).digest("base64url");
    expect(stored).toBe(`$s1:${mac}:42`);
  });

  it("handles empty and unicode payloads and keys", async () => {
    const signer = createSigner("🔑");
    for (const [key, value] of [["", ""], ["k", ""], ["", "x"], ["ü🎉", '"ü🎉"']] as const) {
      expect(await signer.verify(key, await signer.sign(key, value))).toBe(value);
    }
  });

  it("rejects a tampered payload", async () => {
    const signer = createSigner(secret);
    const stored = await signer.sign("k", '{"admin":false}');
    expect(await signer.verify("k", stored.replace("false", "true"))).toBeNull();
    expect(await signer.verify("k", stored + " ")).toBeNull();
  });

  it("rejects a tampered MAC at every position", async () => {
    const signer = createSigner(secret);
    const stored = await signer.sign("k", payload);
    for (let i = SIGNED_PREFIX.length; i < SIGNED_PREFIX.length + 43; i++) {
      for (const c of ["A", "B", "-", "_"]) {
        if (stored[i] === c) continue;
        const tampered = stored.slice(0, i) + c + stored.slice(i + 1);
        expect(await signer.verify("k", tampered)).toBeNull();
      }
    }
  });

  it("rejects every truncation", async () => {
    const signer = createSigner(secret);
    const stored = await signer.sign("k", payload);
    for (let n = 0; n < stored.length; n++) expect(await signer.verify("k", stored.slice(0, n))).toBeNull();
  });

  it("rejects another secret", async () => {
    const stored = await createSigner(secret).sign("k", payload);
    expect(await createSigner(secret + "x").verify("k", stored)).toBeNull();
  });

  it("rejects a value moved to another key", async () => {
    const signer = createSigner(secret);
    const stored = await signer.sign("user:1", payload);
    expect(await signer.verify("user:2", stored)).toBeNull();
    expect(await signer.verify("user:1 ", stored)).toBeNull();
  });

  it("separates key and payload unambiguously", async () => {
    const signer = createSigner(secret);
    const stored = await signer.sign("ab", "cd");
    const mac = stored.slice(SIGNED_PREFIX.length, SIGNED_PREFIX.length + 43);
    // The same bytes split differently between key and payload must not verify.
    expect(await signer.verify("a", `${SIGNED_PREFIX}${mac}:bcd`)).toBeNull();
    expect(await signer.verify("abc", `${SIGNED_PREFIX}${mac}:d`)).toBeNull();
  });

  it("rejects unsigned and malformed texts", async () => {
    const signer = createSigner(secret);
    for (const text of ["", "5", "{}", '"x"', "~{}", "$s1:", "$s1:abc:{}", "$s2:" + "A".repeat(43) + ":{}", `$s1:${"A".repeat(43)}:{}`, `$s1:${"A".repeat(43)}{}`]) {
      expect(await signer.verify("k", text)).toBeNull();
    }
    expect(await signer.verify("k", 5 as unknown as string)).toBeNull();
  });

  it("rejects a non-canonical base64url MAC", async () => {
    const signer = createSigner(secret);
    const stored = await signer.sign("k", "1");
    const last = SIGNED_PREFIX.length + 42;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const index = alphabet.indexOf(stored[last]!);
    // The last character carries 2 unused bits: flipping them keeps the MAC bytes.
    const twin = stored.slice(0, last) + alphabet[index ^ 1] + stored.slice(last + 1);
    expect(await signer.verify("k", twin)).toBeNull();
  });

  it("imports the CryptoKey once per signer", async () => {
    const spy = vi.spyOn(crypto.subtle, "importKey");
    const signer = createSigner(secret);
    expect(spy).not.toHaveBeenCalled();
    const stored = await Promise.all([1, 2, 3].map((i) => signer.sign(`k${i}`, "x")));
    await Promise.all(stored.map((s, i) => signer.verify(`k${i + 1}`, s)));
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it("verifies with crypto.subtle.verify (constant-time)", async () => {
    const spy = vi.spyOn(crypto.subtle, "verify");
    const signer = createSigner(secret);
    await signer.verify("k", await signer.sign("k", "x"));
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it("throws CacheConfigError for an empty secret", () => {
    expect(() => createSigner("")).toThrow(CacheConfigError);
  });
});

describe("isSigned", () => {
  it("recognises the prefix only", () => {
    expect(isSigned("$s1:x")).toBe(true);
    for (const text of ["", "5", "{}", "~{}", "$s2:x", " $s1:"]) expect(isSigned(text)).toBe(false);
  });
});

describe("isCounter", () => {
  it.each(["0", "5", "-5", "42", "-1", "9007199254740991", "-9007199254740991", "1000000"])("%s is a counter", (text) => {
    expect(isCounter(text)).toBe(true);
  });

  it.each([
    "", "-", "-0", "00", "007", "-07", "+5", " 5", "5 ", "1.5", "1.0", "1e3", "0x10", "NaN", "Infinity",
    "9007199254740992", "-9007199254740992", "12345678901234567890", "٣", "5\n", '"5"', "true", "$s1:5",
  ])("%j is not a counter", (text) => {
    expect(isCounter(text)).toBe(false);
  });
});
