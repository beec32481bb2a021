// The `schema` option with real validators (zod 4, valibot 1, arktype 2) on mem:// and a real
// redis-server: a deploy that changes a value's shape does not serve old shapes. Per-backend
// behaviour is in the conformance suite (src/testing/strategies/schema.ts, hand-written validator);
// here: the libraries' own Standard Schema objects, their transforms and async checks, and the
// wrap-time errors.
import { afterAll, beforeEach, describe, expect, expectTypeOf, inject, it } from "vitest";
import { z } from "zod";
import * as v from "valibot";
import { type } from "arktype";
import { Cache, CacheConfigError, SchemaError, type CacheEventInfo, type StandardSchemaV1 } from "../../src/index.js";

const redisUrl = inject("redisUrl");

interface User {
  id: string;
  fullName: string;
}

/** Each library's schema of the new shape, and one that migrates the old shape `{ id, name }` to it. */
const libraries: { name: string; current: StandardSchemaV1<unknown, User>; migrating: StandardSchemaV1<unknown, User> }[] = [
  {
    name: "zod",
    current: z.object({ id: z.string(), fullName: z.string() }),
    migrating: z.union([
      z.object({ id: z.string(), fullName: z.string() }),
      z.object({ id: z.string(), name: z.string() }).transform(({ id, name }) => ({ id, fullName: name })),
    ]),
  },
  {
    name: "valibot",
    current: v.object({ id: v.string(), fullName: v.string() }),
    migrating: v.union([
      v.object({ id: v.string(), fullName: v.string() }),
      v.pipe(
        v.object({ id: v.string(), name: v.string() }),
        v.transform(({ id, name }) => ({ id, fullName: name })),
      ),
    ]),
  },
  {
    name: "arktype",
    current: type({ id: "string", fullName: "string" }),
    migrating: type({ id: "string", fullName: "string" }).or(type({ id: "string", name: "string", "fullName?": "never" }).pipe(({ id, name }) => ({ id, fullName: name }))),
  },
];

const backends = [
  { name: "mem://", url: "mem://" },
  { name: "redis://", url: redisUrl },
];

for (const backend of backends) {
  describe.skipIf(!backend.url)(`schema with real validators on ${backend.name}`, () => {
    const cache = new Cache("schema").setup(backend.url, backend.name === "mem://" ? {} : { namespace: `schema-${Math.random().toString(36).slice(2, 8)}` });
    afterAll(async () => {
      await cache.clear();
      await cache.close();
    });
    beforeEach(() => cache.clear());

    for (const lib of libraries) {
      it(`${lib.name}: the old shape stored by the previous deploy is a miss, deleted and reported with the library's issues`, async () => {
        const events: CacheEventInfo[] = [];
        const off = cache.on("invalid", (e) => events.push(e));
        const before = cache.cache({ ttl: "1h", key: "user:{id}" })(async function getUser(id: string) {
          return { id, name: "Ada" };
        });
        await before("1");
        let calls = 0;
        const after = cache.cache({ ttl: "1h", key: "user:{id}", schema: lib.current })(async function getUser(id: string): Promise<User> {
          calls++;
          return { id, fullName: "Ada Lovelace" };
        });
        expect(await after("1")).toEqual({ id: "1", fullName: "Ada Lovelace" });
        expect(await after("1")).toEqual({ id: "1", fullName: "Ada Lovelace" });
        expect(calls).toBe(1);
        off();
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ type: "invalid", key: "user:1", function: "getUser" });
        expect(events[0]!.error).toBeInstanceOf(SchemaError);
        expect(events[0]!.issues!.length).toBeGreaterThan(0);
        expect(JSON.stringify(events[0]!.issues!.map((i) => i.path))).toContain("fullName");
      });

      it(`${lib.name}: a migrating schema serves the old shape transformed; what is stored stays as it was`, async () => {
        await cache.set("user:2", { id: "2", name: "Grace" });
        const fn = cache.cache({ ttl: "1h", key: "user:{id}", schema: lib.migrating })(async (id: string): Promise<User> => {
          throw new Error(`not called for ${id}`);
        });
        expect(await fn("2")).toEqual({ id: "2", fullName: "Grace" });
        expect(await cache.get("user:2")).toEqual({ id: "2", name: "Grace" });
        const user = await cache.getOrSet("user:2", () => ({ id: "2", fullName: "unused" }), { schema: lib.migrating });
        expectTypeOf(user).toEqualTypeOf<User>();
        expect(user).toEqual({ id: "2", fullName: "Grace" });
      });

      it(`${lib.name}: strict rejects a computed value of the wrong shape with SchemaError; without strict it is returned unstored`, async () => {
        const make = (strict: boolean) =>
          cache.cache({ ttl: "1h", key: "bad:{id}", schema: lib.current, strict })(async (id: string): Promise<unknown> => ({ id, name: "old code" }));
        await expect(make(true)("1")).rejects.toBeInstanceOf(SchemaError);
        expect(await make(false)("1")).toEqual({ id: "1", name: "old code" });
        expect(await cache.exists("bad:1")).toBe(false);
      });
    }

    it("zod: an async refinement makes the check asynchronous; early and soft validate their stored value", async () => {
      const schema = z.object({ id: z.string(), fullName: z.string().refine(async (s) => s.length > 0, "empty") });
      for (const strategy of ["early", "soft"] as const) {
        const old = cache[strategy]({ ttl: "1h", key: "a:{id}" })(async (id: string): Promise<unknown> => ({ id, fullName: "" }));
        await old("1");
        const fn = cache[strategy]({ ttl: "1h", key: "a:{id}", schema })(async (id: string): Promise<unknown> => ({ id, fullName: "Ada" }));
        expect(await fn("1")).toEqual({ id: "1", fullName: "Ada" });
        expect(await old("1")).toEqual({ id: "1", fullName: "Ada" }); // stored by the new code
      }
    });
  });
}

describe("schema: configuration errors at wrap time", () => {
  const cache = new Cache("schema-config").setup("mem://");
  afterAll(() => cache.close());
  const fn = async (id: string): Promise<string> => id;

  it("anything but a Standard Schema v1 object is a CacheConfigError naming it", async () => {
    const bad = [{}, "user", null, 42, z, { "~standard": { version: 2, validate: () => ({ value: 1 }) } }, { "~standard": { version: 1 } }];
    for (const [index, schema] of bad.entries()) {
      for (const strategy of ["cache", "early", "soft", "failover", "hit"] as const) {
        const options = { ttl: "1m", schema, ...(strategy === "hit" ? { cacheHits: 1 } : {}) };
        expect(() => cache[strategy](options as never), `${strategy}, bad schema #${index}`).toThrow(CacheConfigError);
        expect(() => cache[strategy](options as never), `${strategy}, bad schema #${index}`).toThrow(`${strategy}: "schema" must be a Standard Schema v1 validator`);
      }
      await expect(cache.getOrSet("k", 1, { schema } as never)).rejects.toThrow(/getOrSet: "schema" must be a Standard Schema v1 validator/);
    }
    expect(() => cache.cache({ ttl: "1m", schema: {} as never })).toThrow(/cache: "schema" must be a Standard Schema v1 validator/);
  });

  it("strict needs a schema and a boolean", () => {
    expect(() => cache.cache({ ttl: "1m", strict: true })).toThrow(/"strict" applies only with a schema/);
    expect(() => cache.cache({ ttl: "1m", strict: false })).not.toThrow();
    expect(() => cache.cache({ ttl: "1m", schema: z.string(), strict: "yes" as never })).toThrow(/"strict" must be a boolean/);
  });

  it("iterator: a zod schema migrates replayed chunks of the old shape", async () => {
    const old = cache.iterator({ ttl: "1m", key: "people" })(async function* () {
      yield { id: "1", name: "Ada" };
    });
    for await (const _ of old()) void _;
    const migrating = libraries[0]!.migrating;
    const people = cache.iterator({ ttl: "1m", key: "people", schema: migrating })(async function* (): AsyncGenerator<unknown> {
      throw new Error("not called: the stored run is replayed");
    });
    const out: unknown[] = [];
    for await (const person of people()) out.push(person);
    expect(out).toEqual([{ id: "1", fullName: "Ada" }]);
  });

  it("a wrapped function keeps its type with a schema", () => {
    const wrapped = cache.cache({ ttl: "1m", schema: z.string() })(fn);
    expectTypeOf(wrapped).toEqualTypeOf<typeof fn>();
  });
});
