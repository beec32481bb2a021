// The routes' signer remembers texts that verified (VerifiedTexts): a hot key costs one MAC per
// distinct stored value. What must hold: the MAC is skipped only for the exact text that
// verified, only for its key; tampered texts are never remembered; memory stays bounded.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createFastSigner, createSigner, encode } from "../../src/codec/index.js";
import { VERIFIED_CHARS, VERIFIED_ENTRIES, VERIFIED_MAX_TEXT, VerifiedTexts } from "../../src/codec/sign.js";
import type { HmacGlobals } from "../../src/codec/hmac.js";

const SECRET = "memo-secret";

/** node:crypto's createHmac only, counting the MACs computed after construction. */
function countingGlobals(): { globals: HmacGlobals; macs: () => number } {
  let count = 0;
  const counted = (algorithm: "sha256", key: string) => {
    count++;
    return createHmac(algorithm, key);
  };
  return {
    globals: { process: { getBuiltinModule: (id) => (id === "node:crypto" ? { createHmac: counted } : undefined) } },
    macs: () => count,
  };
}

describe("verified-text memo", () => {
  it("computes one MAC for repeated reads of the same stored text", () => {
    const { globals, macs } = countingGlobals();
    const signer = createFastSigner(SECRET, globals);
    const stored = signer.sign("user:1", encode({ name: "ada" })) as string;
    const before = macs();
    for (let i = 0; i < 50; i++) {
      // a fresh string object each time, as a client reply would be
      expect(signer.verify("user:1", (" " + stored).slice(1))).toBe(encode({ name: "ada" }));
    }
    expect(macs() - before).toBe(1);
  });

  it("answers synchronously on Web Crypto once a text has verified", async () => {
    const signer = createFastSigner(SECRET, {}); // no synchronous HMAC: Web Crypto
    const stored = await createSigner(SECRET).sign("k", "payload");
    const first = signer.verify("k", stored);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe("payload");
    expect(signer.verify("k", stored)).toBe("payload");
  });

  it("never accepts a text that differs from the verified one, or the same text under another key", async () => {
    for (const globals of [undefined, {}] as (HmacGlobals | undefined)[]) {
      const signer = createFastSigner(SECRET, globals);
      const stored = await signer.sign("a", "value");
      expect(await signer.verify("a", stored)).toBe("value");
      expect(await signer.verify("b", stored)).toBeNull();
      const last = stored.length - 1;
      expect(await signer.verify("a", stored.slice(0, last) + (stored[last] === "e" ? "f" : "e"))).toBeNull();
      expect(await signer.verify("a", stored + " ")).toBeNull();
      const mac = 5;
      const flipped = stored.slice(0, mac) + (stored[mac] === "A" ? "B" : "A") + stored.slice(mac + 1);
      expect(await signer.verify("a", flipped)).toBeNull();
      expect(await signer.verify("a", stored)).toBe("value"); // still verified
    }
  });

  it("does not remember a text that failed, so it is checked (and rejected) every time", () => {
    const { globals, macs } = countingGlobals();
    const signer = createFastSigner(SECRET, globals);
    const forged = (signer.sign("k", "v") as string).replace(/:v$/, ":w");
    const before = macs();
    for (let i = 0; i < 3; i++) expect(signer.verify("k", forged)).toBeNull();
    expect(macs() - before).toBe(3);
  });

  it("stays bounded in entries and characters, and keeps texts read often", () => {
    const memo = new VerifiedTexts();
    const hot = "$s1:hot";
    memo.add("hot", hot);
    for (let i = 0; i < 20 * VERIFIED_ENTRIES; i++) {
      memo.add(`k${i}`, `text ${i} ` + "x".repeat(i % 300));
      if (i % 100 === 0) expect(memo.has("hot", hot)).toBe(true);
      if (i % 1000 === 0) {
        const { entries, chars } = memo.size;
        expect(entries).toBeLessThanOrEqual(2 * VERIFIED_ENTRIES);
        expect(chars).toBeLessThanOrEqual(2 * VERIFIED_CHARS);
      }
    }
    expect(memo.has("hot", hot)).toBe(true);
    expect(memo.has("k0", "text 0 ")).toBe(false); // long gone
    const big = "y".repeat(VERIFIED_MAX_TEXT + 1);
    memo.add("big", big);
    expect(memo.has("big", big)).toBe(false);
    for (let i = 0; i < 100; i++) memo.add(`c${i}`, "z".repeat(VERIFIED_MAX_TEXT));
    expect(memo.size.chars).toBeLessThanOrEqual(2 * VERIFIED_CHARS);
  });
});
