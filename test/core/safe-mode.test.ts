// Safe mode through the Cache facade: Redis stops, every command resolves neutral within
// `timeout`, wrapped functions still answer, errors are reported, and caching resumes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cache, CacheBackendError, type CacheEventInfo } from "../../src/index.js";
import { hasRedisServer, startRedis, type RedisServer } from "../support/redis-server.js";

const TIMEOUT = 300;
// Generous bound for "does not hang": the command timeout plus scheduling slack on a busy machine.
const BOUND = TIMEOUT + 1500;

async function within<T>(promise: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await promise;
  return { value, ms: performance.now() - started };
}

async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("condition not met in time");
}

describe.skipIf(!hasRedisServer())("safe mode on redis://", () => {
  let server: RedisServer;
  let cache: Cache;
  let errors: CacheEventInfo[];

  beforeAll(async () => {
    server = await startRedis();
    cache = new Cache("safe").setup(server.url, { timeout: TIMEOUT });
    errors = [];
    cache.on("error", (e) => errors.push(e));
  });
  afterAll(async () => {
    await cache?.close();
    await server?.stop();
  });

  it("serves normally, then degrades to neutral values while Redis is down, then recovers", async () => {
    let calls = 0;
    const fn = cache({ ttl: "1m", key: "f:{n}" })(async (n: number) => {
      calls++;
      return n * 10;
    });
    expect(await fn(1)).toBe(10);
    expect(await fn(1)).toBe(10);
    expect(calls).toBe(1);
    await cache.set("k", "v");
    await cache.setLock("held", "me", "1m");

    await server.stop();

    const neutral: [string, () => Promise<unknown>, unknown][] = [
      ["get", () => cache.get("k", "dflt"), "dflt"],
      ["getMany", () => cache.getMany(["k", "x"], 0), [0, 0]],
      ["set", () => cache.set("k", 1), false],
      ["setMany", () => cache.setMany({ a: 1 }), undefined],
      ["getOrSet", () => cache.getOrSet("g", async () => "computed"), "computed"],
      ["incr", () => cache.incr("c"), Number.NaN],
      ["delete", () => cache.delete("k"), false],
      ["deleteMany", () => cache.deleteMany(["k"]), 0],
      ["deleteMatch", () => cache.deleteMatch("k*"), 0],
      ["exists", () => cache.exists("k"), false],
      ["expire", () => cache.expire("k", "1m"), false],
      ["getExpire", () => cache.getExpire("k"), -2],
      ["ping", () => cache.ping(), ""],
      ["getKeysCount", () => cache.getKeysCount(), 0],
      ["clear", () => cache.clear(), undefined],
      ["setLock", () => cache.setLock("l", "me", "1m"), false],
      ["unlock", () => cache.unlock("held", "me"), false],
      ["isLocked", () => cache.isLocked("held"), false],
      ["scan", async () => { const out: string[] = []; for await (const k of cache.scan("*")) out.push(k); return out; }, []],
      ["withLock (runs unlocked)", () => cache.withLock("job", "1m", async () => "ran"), "ran"],
      ["wrapped function", () => fn(2), 20],
      ["wrapped function, cached before", () => fn(1), 10],
    ];
    for (const [name, call, expected] of neutral) {
      const before = cache.stats().errors;
      const { value, ms } = await within(call());
      expect(value, name).toStrictEqual(expected);
      expect(ms, `${name} took ${ms.toFixed(0)} ms`).toBeLessThan(BOUND);
      // Every failure is counted; its error event is rate-limited while the backend is down.
      expect(cache.stats().errors, `${name} counts a failure`).toBeGreaterThan(before);
    }
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.backend === "redis")).toBe(true);

    await server.restart();
    await eventually(async () => (await cache.set("back", 1)) === true);
    expect(await cache.get("back")).toBe(1);
    const callsBefore = calls;
    expect(await fn(3)).toBe(30);
    expect(await fn(3)).toBe(30);
    expect(calls).toBe(callsBefore + 1);
  });

  it("with safe: false, a dead backend throws CacheBackendError within the timeout", async () => {
    const dead = new Cache("unsafe").setup(server.url.replace(/:\d+/, ":1"), { timeout: TIMEOUT, safe: false });
    const { value: error, ms } = await within(dead.get("k").then(() => "resolved", (e: unknown) => e));
    expect(error).toBeInstanceOf(CacheBackendError);
    expect(ms).toBeLessThan(BOUND + 2000);
    await expect(dead.set("k", 1)).rejects.toBeInstanceOf(CacheBackendError);
    await dead.close();
  });
});
