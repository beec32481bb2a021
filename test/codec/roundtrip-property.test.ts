// Property tests: every supported value round-trips exactly, on every backend and codec
// configuration; every unsupported value is rejected with SerializationError and writes nothing.
// Fixed seed (test/support/values.ts, FC_SEED to override); fast-check prints seed and
// counterexample on failure.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Cache, SerializationError } from "../../src/index.js";
import { decode, encode, validate } from "../../src/codec/index.js";
import { openTarget, type ConformanceTarget } from "../../src/testing/target.js";
import { upstashTarget } from "../support/backends.js";
import { diff, runs, supportedValue, unsupportedValue } from "../support/values.js";

const redisUrl = inject("redisUrl");
const RUN = randomUUID().slice(0, 8);
const MISS = Symbol("miss");

describe("codec round trip (property)", () => {
  it("decode(encode(v)) equals v for every supported value, and encoding is deterministic", () => {
    fc.assert(
      fc.property(supportedValue, (value) => {
        const text = encode(value);
        expect(diff(decode(text), value)).toBeNull();
        expect(encode(decode(text))).toBe(text);
        expect(() => validate(value)).not.toThrow();
      }),
      runs(3000),
    );
  });

  it("encode and validate reject every unsupported value with SerializationError", () => {
    fc.assert(
      fc.property(unsupportedValue, (value) => {
        expect(() => encode(value)).toThrow(SerializationError);
        expect(() => validate(value)).toThrow(SerializationError);
      }),
      runs(1000),
    );
  });
});

const targets: (ConformanceTarget & { numRuns: number; live?: boolean })[] = [
  { name: "mem:// (live values)", url: () => "mem://", numRuns: 500, live: true },
  { name: "mem:// (serialize)", url: () => "mem://?serialize=1", numRuns: 500 },
  { name: "mem:// (secret)", url: () => "mem://", options: { secret: "s3cret" }, numRuns: 500 },
  { name: "redis://", url: () => redisUrl, options: { namespace: `rt-${RUN}`, timeout: 5000 }, numRuns: 300 },
  { name: "redis:// (secret)", url: () => redisUrl, options: { namespace: `rt-s-${RUN}`, secret: "s3cret", timeout: 5000 }, numRuns: 300 },
  { name: "upstash://", ...upstashTarget(redisUrl, { namespace: `rt-up-${RUN}`, timeout: 5000 }), numRuns: 150 },
  { name: "upstash:// (secret)", ...upstashTarget(redisUrl, { namespace: `rt-up-s-${RUN}`, secret: "s3cret", timeout: 5000 }), numRuns: 150 },
];

for (const target of targets) {
  describe.skipIf(!target.url())(`round trip on ${target.name} (property)`, { timeout: 60_000 }, () => {
    let cache: Cache;
    let stop: () => Promise<void>;
    const sets: string[] = [];
    const problems: string[] = [];

    beforeAll(async () => {
      ({ cache, stop } = await openTarget(target, `rt ${target.name}`));
      await cache.init();
      await cache.clear();
      cache.on("set", (e) => sets.push(e.key!));
      cache.on("error", (e) => problems.push(`error ${String(e.error)}`));
      cache.on("tampered", (e) => problems.push(`tampered ${e.key}`));
    });
    afterAll(async () => {
      await cache.clear();
      await stop();
    });

    it("set then get returns an equal value of the same types", async () => {
      await fc.assert(
        fc.asyncProperty(supportedValue, async (value) => {
          expect(await cache.set("rt", value)).toBe(true);
          const back = await cache.get("rt", MISS);
          expect(diff(back, value)).toBeNull();
        }),
        runs(target.numRuns),
      );
      expect(problems).toEqual([]);
    });

    it("setMany then getMany returns equal values in order", async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(supportedValue, { minLength: 1, maxLength: 6 }), async (values) => {
          const keys = values.map((_, i) => `many:${i}`);
          await cache.setMany(values.map((v, i) => [keys[i]!, v] as const));
          const back = await cache.getMany(keys, MISS);
          values.forEach((v, i) => expect(diff(back[i], v), `item ${i}`).toBeNull());
        }),
        runs(Math.ceil(target.numRuns / 5)),
      );
      expect(problems).toEqual([]);
    });

    it("an unsupported value is rejected with SerializationError and nothing is written", async () => {
      await cache.set("kept", "before");
      await fc.assert(
        fc.asyncProperty(unsupportedValue, supportedValue, async (bad, good) => {
          await cache.deleteMany(["fresh", "fresh-good", "fresh-bad", "fresh-factory"]);
          sets.length = 0;
          const count = await cache.getKeysCount();
          await expect(cache.set("kept", bad)).rejects.toBeInstanceOf(SerializationError);
          await expect(cache.set("fresh", bad)).rejects.toBeInstanceOf(SerializationError);
          await expect(cache.setMany([["fresh-good", good], ["fresh-bad", bad]])).rejects.toBeInstanceOf(SerializationError);
          // getOrSet awaits a promise (its documented job), so a Promise is not a bad value there.
          if (!(bad instanceof Promise)) {
            await expect(cache.getOrSet("fresh-factory", () => bad)).rejects.toBeInstanceOf(SerializationError);
          }
          expect(await cache.get("kept", MISS)).toBe("before");
          for (const key of ["fresh", "fresh-good", "fresh-bad", "fresh-factory"]) expect(await cache.exists(key), key).toBe(false);
          expect(await cache.getKeysCount()).toBe(count);
          expect(sets).toEqual([]);
        }),
        runs(Math.ceil(target.numRuns / 3)),
      );
      expect(problems).toEqual([]);
    });
  });
}

describe("getMany of a stored undefined on mem:// (live values)", () => {
  // Live memory is the only backend whose raw value can be `undefined`: getMany must not take it
  // for a miss.
  it("is a hit, as with get", async () => {
    const cache = new Cache("undefined-hit").setup("mem://");
    await cache.set("u", undefined);
    expect(await cache.get("u", MISS)).toBeUndefined();
    expect(await cache.getMany(["u"], MISS)).toEqual([undefined]);
    await cache.close();
  });
});
