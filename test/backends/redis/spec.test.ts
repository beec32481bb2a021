// The redis:// scheme spec: option parsing at setup (no ioredis needed) and lazy loading.
import { describe, expect, it } from "vitest";
import { loadModule } from "../../../src/config/load.js";
import { parseSetup } from "../../../src/config/parse.js";
import { registerScheme } from "../../../src/config/registry.js";
import { CacheConfigError } from "../../../src/errors.js";
import { redisSpec } from "../../../src/backends/redis/spec.js";
import { redisModule, RedisBackend } from "../../../src/redis.js";

registerScheme(redisSpec);

describe("redis:// setup options", () => {
  it("applies defaults and passes the common timeout on", () => {
    const parsed = parseSetup("redis://localhost:6379/2");
    expect(parsed.scheme).toBe("redis");
    expect(parsed.backend.url).toBe("redis://localhost:6379/2");
    expect(parsed.backend.options).toEqual({ namespace: "cashews", clientSide: false, cluster: false, timeout: undefined });
    expect(parseSetup("redis://h", { timeout: "1s" }).backend.options.timeout).toBe(1000);
  });

  it("accepts query parameters in camelCase and snake_case, with aliases", () => {
    const parsed = parseSetup(
      "rediss://u:p@h/0?namespace=app&db=3&client_side=0&create_connection_timeout=1.5s&username=x&password=y",
    );
    expect(parsed.scheme).toBe("rediss");
    expect(parsed.backend.url).toBe("rediss://u:p@h/0");
    expect(parsed.backend.options).toMatchObject({
      namespace: "app",
      db: 3,
      clientSide: false,
      connectTimeout: 1500,
      username: "x",
      password: "y",
    });
    expect(parseSetup("redis://h?connectTimeout=250").backend.options.connectTimeout).toBe(250);
  });

  it("names a bad or unknown option", () => {
    expect(() => parseSetup("redis://h?db=-1")).toThrow(/db.*integer >= 0/);
    expect(() => parseSetup("redis://h?bogus=1")).toThrow(/unknown query parameter "bogus"/);
    expect(() => parseSetup("redis://h?connect_timeout=soon")).toThrow(CacheConfigError);
    expect(() => parseSetup("redis://h", { client: "nope" })).toThrow(/must be an object/);
  });
});

describe("redis:// backend module", () => {
  it("loads lazily (from source: src/redis.ts; built: the cashews/redis entry)", async () => {
    expect(typeof redisSpec.module).toBe("function");
    const loaded = await loadModule(redisSpec, "redis");
    // Running from source, the loader imports src/redis.ts: the very module imported above.
    expect(loaded).toBe(redisModule);
  });

  it("create builds a backend without I/O; setup refuses unsupported combinations or malformed URLs", () => {
    const backend = redisModule.create(parseSetup("redis://127.0.0.1:1/0?namespace=x").backend);
    expect(backend).toBeInstanceOf(RedisBackend);
    expect(backend.kind).toBe("redis");
    // Refused at setup (parseSetup runs the scheme's validate), without loading ioredis.
    expect(parseSetup("redis://h?clientSide=1").backend.options.clientSide).toBe(true);
    expect(() => parseSetup("redis+cluster://a:1,b:2?clientSide=1")).toThrow(/clientSide is not supported on Redis Cluster/);
    expect(parseSetup("redis://h?cluster=yes").backend.options.cluster).toBe(true);
    expect(() => parseSetup("redis+cluster://a:1,b:2")).not.toThrow();
    expect(() => parseSetup("redis+cluster://a:1,b:2?db=1")).toThrow(/Cluster has database 0 only/);
    expect(() => parseSetup("redis://h:6379/abc")).toThrow(/database number/);
    expect(() => parseSetup("redis://h:99999")).toThrow(CacheConfigError);
    expect(() => parseSetup("redis://h", { client: {} })).toThrow(/ioredis client/);
  });
});
