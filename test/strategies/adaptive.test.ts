// Adaptive ttls and factory timeouts (issue 17, items 3 and 5): wrap-time validation and types.
// Their behaviour on every backend is in the conformance suite (src/testing/strategies/adaptive.ts).
import { describe, expect, expectTypeOf, it } from "vitest";
import { Cache, CacheConfigError, TimeoutError, CacheError, runWithWaitUntil, type TtlFunction, type TimeoutOption } from "../../src/index.js";

describe("adaptive ttl and timeout: wrap-time validation", () => {
  const cache = new Cache("adaptive").setup("mem://");

  it("iterator takes a function ttl of the run's chunks and arguments (typed)", () => {
    const rows = cache.iterator({ key: "rows:{n}", ttl: (chunks: unknown[], n: number) => (chunks.length > n ? "1h" : null) });
    expect(typeof rows).toBe("function");
    // @ts-expect-error the arguments after the chunks are the function's own
    cache.iterator<[number]>({ ttl: (_chunks: unknown[], n: string) => n });
  });

  it("a static earlyTtl/softTtl with a function ttl must still be a Duration > 0", () => {
    expect(() => cache.early({ ttl: () => "1m", earlyTtl: 0 })).toThrow(/earlyTtl must be greater than 0/);
    expect(() => cache.soft({ ttl: () => "1m", softTtl: "nope" })).toThrow(CacheConfigError);
    // With a static ttl the static check at wrap time stays.
    expect(() => cache.early({ ttl: "1m", earlyTtl: "2m" })).toThrow(/shorter than ttl/);
    // A function earlyTtl with ttl: null needs no default.
    expect(() => cache.early({ ttl: null, earlyTtl: () => "1m" })).not.toThrow();
  });

  it("timeout: an object { soft?, hard? } of Durations > 0, soft < hard; cache takes only hard", () => {
    const bad: [string, () => unknown, RegExp][] = [
      // @ts-expect-error cache has no stale value: no soft
      ["cache soft", () => cache.cache({ ttl: "1m", timeout: { soft: 10 } }), /cache: timeout: unknown option "soft"/],
      // @ts-expect-error a Duration is not the object
      ["not an object", () => cache.soft({ ttl: "1m", timeout: "1s" }), /soft: "timeout" must be an object/],
      ["empty", () => cache.failover({ ttl: "1m", timeout: {} }), /failover: "timeout" needs soft or hard/],
      ["soft >= hard", () => cache.early({ ttl: "1m", background: false, timeout: { soft: "2s", hard: "1s" } }), /early: timeout.soft \(2000 ms\) must be shorter than timeout.hard/],
      ["zero", () => cache.cache({ ttl: "1m", timeout: { hard: 0 } }), /cache: "timeout.hard" must be greater than 0/],
      ["bad duration", () => cache.soft({ ttl: "1m", timeout: { soft: "soon" } }), /soft: timeout.soft/],
      // @ts-expect-error unknown key
      ["unknown key", () => cache.failover({ ttl: "1m", timeout: { hrad: 5 } }), /unknown option "hrad"/],
      // @ts-expect-error hit has no timeout
      ["hit", () => cache.hit({ ttl: "1m", cacheHits: 2, timeout: { hard: 5 } }), /hit: unknown option "timeout"/],
    ];
    for (const [, wrap, message] of bad) {
      expect(wrap).toThrow(CacheConfigError);
      expect(wrap).toThrow(message);
    }
    expect(() => cache.soft({ ttl: "1m", timeout: { soft: "100ms", hard: "1s" } })).not.toThrow();
  });

  it("TimeoutError is a CacheError; the types are exported", () => {
    expect(new TimeoutError("x")).toBeInstanceOf(CacheError);
    expect(new TimeoutError("x").name).toBe("TimeoutError");
    expectTypeOf<TimeoutOption>().toEqualTypeOf<{ soft?: string | number; hard?: string | number }>();
    // A ttl function's arguments follow the wrapped function's when they are known.
    cache.cache({
      key: (id: string) => `k:${id}`,
      ttl: (_result, id) => {
        expectTypeOf(id).toEqualTypeOf<string>();
        return "1m";
      },
    })(async (id: string) => id);
    // Unknown arguments: any ttl function fits.
    expectTypeOf<(r: number, id: string) => string>().toExtend<TtlFunction>();
  });
});

describe("timeout: the computation a caller left goes to the request's waitUntil", () => {
  it("past hard, the pending computation is handed to waitUntil, and it stores the result", async () => {
    const cache = new Cache("adaptive-wu").setup("mem://");
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const fn = cache.cache({ key: "wu", ttl: "1m", timeout: { hard: 30 } })(async () => {
      await gate;
      return "late";
    });
    const handed: Promise<unknown>[] = [];
    await expect(runWithWaitUntil((p) => handed.push(p), () => fn())).rejects.toBeInstanceOf(TimeoutError);
    expect(handed).toHaveLength(1);
    open();
    await handed[0];
    expect(await cache.get("wu")).toBe("late");
  });
});

describe("early timeout.soft", () => {
  it("is refused with background: true (no caller waits with a due value at hand), accepted with background: false", () => {
    const cache = new Cache("early-soft").setup("mem://");
    expect(() => cache.early({ ttl: "1m", timeout: { soft: "100ms" } })).toThrow(/timeout.soft applies only with background: false/);
    expect(() => cache.early({ ttl: "1m", timeout: { soft: "100ms" }, background: false })).not.toThrow();
    expect(() => cache.early({ ttl: "1m", timeout: { hard: "1s" } })).not.toThrow();
  });
});
