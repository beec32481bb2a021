// The compress setup option (issue 17, item 7): options, stored form, threshold, signing order,
// and what a reader does with a broken compressed text. Per backend: src/testing/codecs.ts (the
// conformance suite); per runtime: test/runtimes/ (Deno, Bun) and test/workers/ (workerd).
import { describe, expect, it } from "vitest";
import { Cache, CacheConfigError, type CacheEventInfo } from "../../src/index.js";
import { createSigner, decode, UNDECODABLE } from "../../src/codec/index.js";
import { compress, decompress } from "../../src/codec/compress.js";

const big = { text: "compress me ".repeat(400), at: new Date(7), tags: new Set(["a", "ü", "☃", "😀"]) };

async function raw(cache: Cache, key: string): Promise<unknown> {
  return (await cache.route(key).start()).get(key);
}

describe("compress: options", () => {
  it("takes gzip or deflate and an integer threshold >= 0, as options or URL query; refuses the rest at setup", () => {
    const refused: [string, Record<string, unknown>, RegExp][] = [
      ["mem://", { compress: "brotli" }, /option "compress" must be one of "gzip", "deflate", got "brotli"/],
      ["mem://?compress=zip", {}, /query parameter "compress" must be one of "gzip", "deflate"/],
      ["mem://", { compress: true }, /"compress" must be one of/],
      ["mem://", { compressThreshold: 10 }, /"compressThreshold" needs "compress"/],
      ["mem://", { compress: "gzip", compressThreshold: -1 }, /"compressThreshold" must be an integer >= 0/],
      ["mem://?compress=gzip&compress_threshold=1k", {}, /"compress_threshold" must be an integer >= 0/],
    ];
    for (const [url, options, message] of refused) {
      expect(() => new Cache().setup(url, options), String(message)).toThrow(CacheConfigError);
      expect(() => new Cache().setup(url, options)).toThrow(message);
    }
    expect(() => new Cache().setup("mem://?compress=deflate&compressThreshold=0")).not.toThrow();
  });

  it("compresses from 1024 characters of encoded text by default", async () => {
    const cache = new Cache("default threshold").setup("mem://?compress=gzip");
    await cache.set("below", "x".repeat(1021)); // '"' + 1021 + '"': 1023 characters
    await cache.set("at", "x".repeat(1022));
    expect(await raw(cache, "below")).toBe(JSON.stringify("x".repeat(1021)));
    expect(await raw(cache, "at")).toMatch(/^\$zg:/);
    expect(await cache.get("at")).toBe("x".repeat(1022));
  });

  it("on mem:// implies serialize (like secret and serializer): the compressed text is what is kept", async () => {
    const cache = new Cache("mem").setup("mem://", { compress: "deflate", compressThreshold: 0 });
    await cache.set("k", big);
    expect(await raw(cache, "k")).toMatch(/^\$zd:[A-Za-z0-9+/]+=*$/);
    const back = await cache.get("k");
    expect(back).toStrictEqual(big);
    expect(back).not.toBe(big);
  });
});

describe("compress: the stored form", () => {
  it("is $zg: or $zd: and base64 of the standard formats; a text compression would not shorten stays as is", async () => {
    const text = JSON.stringify(big);
    const gz = await compress(text, "gzip");
    expect(gz).toMatch(/^\$zg:H4sI/); // the gzip magic bytes 1f 8b 08
    expect(await decompress(gz)).toBe(text);
    const zl = await compress(text, "deflate");
    expect(zl).toMatch(/^\$zd:eJ/); // a zlib header (78 9c)
    expect(await decompress(zl)).toBe(text);
    // Random base64 holds 6 bits a character: compressed, then base64 again, it would grow.
    const random = JSON.stringify(btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(3000)))));
    expect(await compress(random, "gzip")).toBe(random);
    expect(await compress('"short"', "gzip")).toBe('"short"');
  });

  it("reads as garbage to a typed decoder that knows no compression (what an older cashews does): a miss, never a wrong value", async () => {
    expect(decode(await compress(JSON.stringify(big), "gzip"))).toBe(UNDECODABLE);
  });

  it("with a secret, the compressed text is what is signed", async () => {
    const cache = new Cache("signed").setup("mem://", { secret: "s3cret", compress: "gzip", compressThreshold: 0 });
    await cache.set("k", big);
    const stored = (await raw(cache, "k")) as string;
    expect(stored).toMatch(/^\$s1:[\w-]{43}:\$zg:/);
    const payload = await createSigner("s3cret").verify("k", stored);
    expect(payload).toMatch(/^\$zg:/);
    expect(JSON.parse((await decompress(payload!)).slice(1))).toBeTruthy();
    expect(await cache.get("k")).toStrictEqual(big);
  });
});

describe("compress: a compressed text that cannot be read is a miss with an error event", () => {
  for (const [name, text] of [
    ["corrupt data", "$zg:H4sIAAAAAAAAA0tMTAQAAAAAAAAA"],
    ["bad base64", "$zg:@@@"],
    ["an unknown format letter", "$zb:AAAA"],
    ["a truncated stream", "$zd:eJxLTA=="],
  ] as const) {
    it(name, async () => {
      const cache = new Cache("broken").setup("mem://?serialize=1");
      const errors: CacheEventInfo[] = [];
      cache.on("error", (e) => void errors.push(e));
      await (await cache.route("k").start()).set("k", text, undefined);
      expect(await cache.get("k", "default")).toBe("default");
      expect(await cache.getMany(["k"])).toEqual([undefined]);
      expect(errors.map((e) => [e.key, (e.error as Error).name])).toEqual([["k", "SerializationError"], ["k", "SerializationError"]]);
      expect((errors[0]!.error as Error).message).toMatch(/could not decompress the stored value/);
    });
  }

  it("a tampered signed compressed text is reported as tampered and deleted", async () => {
    const cache = new Cache("tamper").setup("mem://", { secret: "s3cret", compress: "gzip", compressThreshold: 0 });
    const tampered: CacheEventInfo[] = [];
    cache.on("tampered", (e) => void tampered.push(e));
    await cache.set("k", big);
    const stored = (await raw(cache, "k")) as string;
    const flipped = stored.slice(0, -6) + (stored.at(-6) === "A" ? "B" : "A") + stored.slice(-5);
    await (await cache.route("k").start()).set("k", flipped, undefined);
    expect(await cache.get("k")).toBeUndefined();
    expect(tampered).toHaveLength(1);
    expect(await cache.exists("k")).toBe(false);
  });
});
