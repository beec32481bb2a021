// Setup: URL and options, validation at setup, prefix routing, lifecycle.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";
import { Cache, CacheConfigError, NotConfiguredError, parseDuration } from "../../src/index.js";
import { backendOf } from "../../src/testing/target.js";
import { MISSING } from "../../src/backends/types.js";

const run = promisify(execFile);
const redisUrl = inject("redisUrl");

describe("parseDuration", () => {
  it.each([
    [250, 250],
    ["500ms", 500],
    ["10s", 10_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["1d 2h", 93_600_000],
    ["1w", 604_800_000],
    ["0s", 0],
  ])("%j is %d ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(["10", "", "1h30", "abc", "-5s", "5 parsecs", "h"])("rejects %j, naming it", (input) => {
    expect(() => parseDuration(input)).toThrow(TypeError);
    expect(() => parseDuration(input)).toThrow(JSON.stringify(input));
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])("rejects the number %d", (input) => {
    expect(() => parseDuration(input)).toThrow(TypeError);
  });
});

describe("setup", () => {
  it("accepts options in the query (camelCase and snake_case) and as an object", () => {
    expect(() => new Cache().setup("mem://?size=10&check_interval=2s&serialize=yes")).not.toThrow();
    expect(() => new Cache().setup("mem://?checkInterval=0&hash_key=abc")).not.toThrow();
    expect(() => new Cache().setup("mem://", { size: 5, checkInterval: "1s", secret: "x" })).not.toThrow();
    expect(() => new Cache().setup("redis://localhost:1/0?safe=0&timeout=200ms&create_connection_timeout=1s&client_side=no")).not.toThrow();
  });

  it.each([
    ["mem://?sise=10", {}, /"sise"/],
    ["mem://", { colour: "red" }, /"colour".*known options:.*size/],
    ["mem://?size=-3", {}, /size.*integer >= 1.*"-3"/],
    ["mem://?size=ten", {}, /size/],
    ["mem://?serialize=maybe", {}, /serialize.*boolean.*"maybe"/],
    ["mem://?check_interval=soon", {}, /check_interval.*"soon"/],
    ["mem://", { serializer: { encode: 1 } }, /serializer/],
    ["mem://", { secret: "" }, /secret/],
    ["memcached://localhost", {}, /unknown scheme "memcached:\/\/".*mem:\/\/.*redis:\/\//],
    ["localhost:6379", {}, /not a cache URL/],
    ["redis://localhost?timeout=abc", {}, /timeout.*"abc"/],
    ["redis://localhost", { namespace: 5 }, /namespace.*string/],
    ["redis://localhost?db=x", {}, /db/],
    ["redis://localhost:6379/abc", {}, /database number/],
    ["redis://localhost:99999", {}, /invalid URL/],
    ["redis://localhost?clientSide=1&cluster=1", {}, /clientSide is not supported on Redis Cluster/],
    ["redis+cluster://a:1,b:2/3", {}, /Cluster has database 0 only.*db 3/],
    ["redis+cluster://a:1,,b:2", {}, /bad seed node ""/],
    ["redis://a:1,b:2", {}, /redis\+cluster:\/\/.*cluster=1/],
    ["redis://localhost", { client: { not: "ioredis" } }, /ioredis client/],
    ["mem://", { checkInterval: "10" }, /checkInterval.*"10"/],
  ])("rejects %s %j at setup, naming the problem", (url, options, message) => {
    const setup = () => new Cache().setup(url, options);
    expect(setup).toThrow(CacheConfigError);
    expect(setup).toThrow(message);
  });

  it("the options object wins over the query", async () => {
    const cache = new Cache().setup("mem://?size=1", { size: 3 });
    await cache.setMany({ a: 1, b: 2, c: 3 });
    expect(await cache.getKeysCount()).toBe(3);
    await cache.close();
  });

  it("a cache that was never set up says how to fix it", async () => {
    const cache = new Cache("lonely");
    await expect(cache.get("k")).rejects.toBeInstanceOf(NotConfiguredError);
    await expect(cache.get("k")).rejects.toThrow(/cache.setup/);
    expect(() => cache.cache({ ttl: "1m", key: "k" })(async () => 1)).not.toThrow();
    await expect(cache.cache({ ttl: "1m", key: "k" })(async () => 1)()).rejects.toBeInstanceOf(NotConfiguredError);
  });

  it("routes keys by prefix, the longest matching prefix wins", async () => {
    const cache = new Cache()
      .setup("mem://")
      .setup("mem://", { prefix: "user" })
      .setup("mem://", { prefix: "user:admin" });
    await cache.setMany({ "user:1": "u", "user:admin:1": "a", "post:1": "p" });
    const held = async (backendKey: string, key: string) => (await (await backendOf(cache, backendKey)).get(key)) !== MISSING;
    expect(await held("user:x", "user:1")).toBe(true);
    expect(await held("", "user:1")).toBe(false);
    expect(await held("user:admin:x", "user:admin:1")).toBe(true);
    expect(await held("user:x", "user:admin:1")).toBe(false);
    expect(await held("", "post:1")).toBe(true);
    expect(await cache.getMany(["user:1", "user:admin:1", "post:1"])).toEqual(["u", "a", "p"]);
    expect(await cache.getKeysCount()).toBe(3);
    await cache.close();
  });

  it("without a default backend, an unrouted key is a NotConfiguredError", async () => {
    const cache = new Cache().setup("mem://", { prefix: "user" });
    await expect(cache.get("post:1")).rejects.toBeInstanceOf(NotConfiguredError);
  });

  it("setup again with the same prefix replaces and closes the old backend", async () => {
    const cache = new Cache().setup("mem://");
    await cache.set("k", 1);
    const old = await backendOf(cache);
    let closed = false;
    const close = old.close.bind(old);
    old.close = async () => {
      closed = true;
      await close();
    };
    cache.setup("mem://");
    await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(true);
    expect(await cache.get("k")).toBeUndefined();
  });

  it.skipIf(!redisUrl)("a replaced backend never starts again, even for work already under way", async () => {
    const cache = new Cache().setup(redisUrl, { secret: "k", namespace: "replaced" });
    const errors: unknown[] = [];
    cache.on("error", (e) => errors.push(e.error));
    const pending = cache.set("k", 1); // signing is async: the backend is not started yet
    cache.setup("mem://");
    expect(await pending).toBe(false);
    expect(String(errors[0])).toMatch(/replaced by a later setup/);
    expect(await cache.get("k")).toBeUndefined();
    await cache.close();
  });

  it("deleteMany emits one delete event per key only when every key existed", async () => {
    const cache = new Cache().setup("mem://");
    const seen: (string | undefined)[] = [];
    cache.on("delete", (e) => seen.push(e.key));
    await cache.setMany({ a: 1, b: 2, c: 3 });
    expect(await cache.deleteMany(["a", "b"])).toBe(2);
    expect(await cache.deleteMany(["c", "nope1", "nope2"])).toBe(1);
    expect(seen).toEqual(["a", "b", undefined]);
    expect(cache.stats().deletes).toBe(3);
  });

  it("setup does no I/O: an unreachable Redis costs nothing until used", async () => {
    const cache = new Cache().setup("redis://127.0.0.1:1", { timeout: 200 });
    const errors: unknown[] = [];
    cache.on("error", (e) => errors.push(e.error));
    expect(errors).toEqual([]);
    await cache.init();
    expect(errors.length).toBe(1);
    await cache.close();
  });

  it("init rejects with CacheBackendError when safe is off and the backend is unreachable", async () => {
    const cache = new Cache().setup("redis://127.0.0.1:1", { timeout: 200, safe: false });
    await expect(cache.init()).rejects.toMatchObject({ name: "CacheBackendError" });
    await expect(cache.get("k")).rejects.toMatchObject({ name: "CacheBackendError" });
    await cache.close();
  });
});

describe("close", () => {
  const script = (url: string) => `
    import { Cache } from "./src/index.ts";
    const cache = new Cache().setup(${JSON.stringify(url)}${url.startsWith("redis") ? ', { namespace: "exit-test" }' : ""});
    const fn = cache.cache({ ttl: "1h", key: "k:{n}" })(async (n) => n);
    await fn(1); await fn(1);
    await cache.set("x", 1, { expire: "1h" });
    await cache.close();
    console.log("closed");
  `;

  it.each([
    ["mem://?checkInterval=10ms", true],
    ["redis://", Boolean(redisUrl)],
  ])("%s: nothing keeps the process alive after close()", async (url, enabled) => {
    if (!enabled) return;
    const target = url === "redis://" ? redisUrl : url;
    const started = Date.now();
    const { stdout } = await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script(target)], {
      cwd: new URL("../..", import.meta.url).pathname,
      timeout: 15_000,
    });
    expect(stdout.trim()).toBe("closed");
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
