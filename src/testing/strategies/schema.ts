/**
 * Conformance of the `schema` option (value strategies and `getOrSet`): a stored value of another
 * shape is a miss, deleted (compare-and-delete) and reported; a computed one is returned unstored,
 * or rejected with `strict`; the schema's output is what callers get. The validators here are
 * written by hand against the Standard Schema v1 interface, so the suite needs no schema library.
 * @module
 */
import { describe, expect, it } from "vitest";
import { SchemaError, type Cache, type CacheEventInfo, type StandardSchemaV1 } from "../../index.js";
import { Boom } from "../errors.js";
import { itNeeds, useCachesPerTest, type TargetHandle } from "../target.js";

interface UserV2 {
  v: 2;
  name: string;
}

/** Accepts `{ v: 2, name: string }` as is; `migrate`: also `{ v: 1, name }`, migrated to v2 with the name upper-cased. */
function userSchema(options: { migrate?: boolean; async?: boolean; onValidate?: (value: unknown) => Promise<void> } = {}): StandardSchemaV1<unknown, UserV2> {
  const check = (value: unknown): StandardSchemaV1.Result<UserV2> => {
    const o = value as { v?: unknown; name?: unknown } | null;
    if (typeof o !== "object" || o === null || typeof o.name !== "string") return { issues: [{ message: "expected a user", path: ["name"] }] };
    if (o.v === 2) return { value: o as UserV2 };
    if (o.v === 1 && options.migrate) return { value: { v: 2, name: o.name.toUpperCase() } };
    return { issues: [{ message: `unknown version ${String(o.v)}`, path: [{ key: "v" }] }] };
  };
  return {
    "~standard": {
      version: 1,
      vendor: "cashews-testing",
      validate: (value) => {
        if (options.onValidate !== undefined) return options.onValidate(value).then(() => check(value));
        return options.async ? Promise.resolve().then(() => check(value)) : check(value);
      },
    },
  };
}

/** Registers the schema tests on a started target in the calling `describe`. */
export function schemaTests(target: TargetHandle): void {
  describe("schema", () => {
    let cache: Cache;
    useCachesPerTest(target, ["schema"], ([a]) => {
      cache = a!;
    });

    const invalidEvents = (): CacheEventInfo[] => {
      const events: CacheEventInfo[] = [];
      cache.on("invalid", (e) => events.push(e));
      return events;
    };

    for (const async of [false, true]) {
      it(`cache: a stored value of another shape is a miss, deleted and reported (${async ? "async" : "sync"} validator)`, async () => {
        const events = invalidEvents();
        // The previous deploy stored v1 users under the same key.
        const before = cache.cache({ ttl: "1m", key: "user:{id}" })(async function getUser(id: string) {
          return { v: 1, name: id };
        });
        await before("ada");
        let calls = 0;
        const now = cache.cache({ ttl: "1m", key: "user:{id}", schema: userSchema({ async }) })(async function getUser(id: string): Promise<unknown> {
          calls++;
          return calls === 1 ? { v: 1, name: id } : { v: 2, name: id };
        });
        // Stored v1 fails: a miss; the computed value fails too: returned, not stored, and the stored one is gone.
        expect(await now("ada")).toEqual({ v: 1, name: "ada" });
        expect(await cache.exists("user:ada")).toBe(false);
        expect(events.map((e) => [e.type, e.key, e.function, e.error instanceof SchemaError])).toEqual([
          ["invalid", "user:ada", "getUser", true],
          ["invalid", "user:ada", "getUser", true],
        ]);
        expect(events[0]!.backend).toBeTypeOf("string");
        expect(events[0]!.issues![0]!.message).toBe("unknown version 1");
        expect((events[0]!.error as SchemaError).message).toMatch(/stored value/);
        expect((events[1]!.error as SchemaError).message).toMatch(/computed value/);
        // The next call computes a conforming value, stores it, and the one after is a hit.
        expect(await now("ada")).toEqual({ v: 2, name: "ada" });
        expect(await now("ada")).toEqual({ v: 2, name: "ada" });
        expect(calls).toBe(2);
        expect(await cache.get("user:ada")).toEqual({ v: 2, name: "ada" });
      });
    }

    it("cache: the schema's output is returned, the function's own result is stored and judged by the condition (migrations)", async () => {
      await cache.set("m:ada", { v: 1, name: "ada" });
      const events = invalidEvents();
      let calls = 0;
      // The condition judges what is stored: the function's own (v1) result, not the migrated output.
      const condition = (result: unknown): boolean => (result as { v: number }).v === 1;
      const fn = cache.cache({ ttl: "1m", key: "m:{id}", schema: userSchema({ migrate: true }), condition })(async (id: string) => {
        calls++;
        return { v: 1, name: id };
      });
      expect(await fn("ada")).toEqual({ v: 2, name: "ADA" }); // a hit, migrated
      expect(calls).toBe(0);
      expect(await cache.get("m:ada")).toEqual({ v: 1, name: "ada" });
      expect(await fn("bob")).toEqual({ v: 2, name: "BOB" }); // computed, migrated
      expect(await cache.get("m:bob")).toEqual({ v: 1, name: "bob" });
      expect(await fn("bob")).toEqual({ v: 2, name: "BOB" });
      expect(calls).toBe(1);
      expect(events).toEqual([]);
    });

    it("cache: strict rejects a computed value that fails, with SchemaError, and stores nothing", async () => {
      const fn = cache.cache({ ttl: "1m", key: "s:{id}", schema: userSchema(), strict: true })(async function load(id: string): Promise<unknown> {
        return { v: 3, name: id };
      });
      const error = await fn("ada").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SchemaError);
      expect((error as SchemaError).issues).toEqual([{ message: "unknown version 3", path: [{ key: "v" }] }]);
      expect(await cache.exists("s:ada")).toBe(false);
      expect(cache.stats().functions.load?.errors).toBe(1);
    });

    it("cache: a stored value that fails is deleted only if nobody wrote another meanwhile (compare-and-delete; unconditionally on a store without it)", async () => {
      const { locks } = await target.capabilities();
      await cache.set("r:ada", { v: 1, name: "old" });
      let stored = 0;
      const schema = userSchema({
        onValidate: async (value) => {
          // The second look at the old value (the re-check before deleting it): someone writes a good value meanwhile.
          if ((value as { name?: string }).name === "old" && ++stored === 2) await cache.set("r:ada", { v: 2, name: "meanwhile" });
        },
      });
      const fn = cache.cache({ ttl: "1m", key: "r:{id}", schema, protected: false })(async (id: string): Promise<unknown> => ({ v: 0, name: id }));
      expect(await fn("ada")).toEqual({ v: 0, name: "ada" }); // invalid computed value: returned unstored
      expect(stored).toBe(2);
      // Without compare-and-delete (Workers KV) the failing value is deleted unconditionally: the one written meanwhile is lost to a miss.
      expect(await cache.get("r:ada")).toEqual(locks ? { v: 2, name: "meanwhile" } : undefined);
    });

    it("cache: a stored value that passes is served without calling again; no schema, no validation", async () => {
      let validations = 0;
      const schema = userSchema({
        onValidate: async () => {
          validations++;
        },
      });
      const fn = cache.cache({ ttl: "1m", key: "h:{id}", schema })(async (id: string) => ({ v: 2 as const, name: id }));
      await fn("a");
      await fn("a");
      expect(validations).toBe(2); // the computed value, then the hit
      const plain = cache.cache({ ttl: "1m", key: "h:{id}" })(async (id: string) => ({ v: 2 as const, name: id }));
      await plain("a");
      expect(validations).toBe(2);
    });

    itNeeds(target, ["locks", "strongConsistency"], "cache with lock: true: a stored value of another shape is recomputed, once", async () => {
      await cache.set("l:ada", { v: 1, name: "old" });
      let calls = 0;
      const fn = cache.cache({ ttl: "1m", key: "l:{id}", lock: true, schema: userSchema() })(async (id: string): Promise<unknown> => {
        calls++;
        return { v: 2, name: id };
      });
      expect(await Promise.all([fn("ada"), fn("ada")])).toEqual([
        { v: 2, name: "ada" },
        { v: 2, name: "ada" },
      ]);
      expect(await fn("ada")).toEqual({ v: 2, name: "ada" });
      expect(calls).toBe(1);
    });

    it("early and soft: the value in the envelope is validated", async () => {
      for (const strategy of ["early", "soft"] as const) {
        const events = invalidEvents();
        const old = cache[strategy]({ ttl: "1m", key: "e:{id}" })(async (id: string): Promise<unknown> => ({ v: 1, name: id }));
        await old("ada");
        const fn = cache[strategy]({ ttl: "1m", key: "e:{id}", schema: userSchema({ migrate: false }) })(async (id: string): Promise<unknown> => ({ v: 2, name: id }));
        expect(await fn("ada")).toEqual({ v: 2, name: "ada" });
        expect(events.map((e) => [e.type, e.key])).toEqual([["invalid", `${strategy}:e:ada`]]);
        const migrating = cache[strategy]({ ttl: "1m", key: "e:{id}", schema: userSchema({ migrate: true }) })(async (id: string): Promise<unknown> => {
          throw new Error(`not called for ${id}`);
        });
        expect(await migrating("ada")).toEqual({ v: 2, name: "ada" });
      }
    });

    it("failover: a stored value of another shape is not served on error; it is deleted", async () => {
      const old = cache.failover({ ttl: "1m", key: "f" })(async (): Promise<unknown> => ({ v: 1, name: "old" }));
      await old();
      const events = invalidEvents();
      const fn = cache.failover({ ttl: "1m", key: "f", schema: userSchema() })(async (fail: boolean): Promise<unknown> => {
        if (fail) throw new Boom("down");
        return { v: 2, name: "new" };
      });
      await expect(fn(true)).rejects.toBeInstanceOf(Boom);
      expect(events.map((e) => e.key)).toEqual(["fail:f"]);
      expect(await cache.exists("fail:f")).toBe(false);
      expect(await fn(false)).toEqual({ v: 2, name: "new" });
      expect(await fn(true)).toEqual({ v: 2, name: "new" });
    });

    it("failover: with strict, a computed value that fails is answered with the last stored value", async () => {
      const fn = cache.failover({ ttl: "1m", key: "fs", schema: userSchema(), strict: true })(async (v: number): Promise<unknown> => ({ v, name: "x" }));
      expect(await fn(2)).toEqual({ v: 2, name: "x" });
      expect(await fn(5)).toEqual({ v: 2, name: "x" });
    });

    itNeeds(target, ["atomic"], "hit: a stored value of another shape is recomputed", async () => {
      const old = cache.hit({ ttl: "1m", key: "k", cacheHits: 5 })(async (): Promise<unknown> => ({ v: 1, name: "old" }));
      await old();
      const fn = cache.hit({ ttl: "1m", key: "k", cacheHits: 5, schema: userSchema() })(async (): Promise<unknown> => ({ v: 2, name: "new" }));
      expect(await fn()).toEqual({ v: 2, name: "new" });
      expect(await cache.get("hit:k")).toEqual({ v: 2, name: "new" });
    });

    it("iterator: every replayed chunk is validated first; one of another shape makes the call a miss, deleted and reported", async () => {
      const events = invalidEvents();
      const before = cache.iterator({ ttl: "1m", key: "team" })(async function* () {
        yield { v: 2, name: "ada" };
        yield { v: 0, name: "bob" }; // a shape the new schema refuses
      });
      for await (const _ of before()) void _;
      let runs = 0;
      const after = cache.iterator({ ttl: "1m", key: "team", schema: userSchema({ migrate: true }) })(async function* () {
        runs++;
        yield { v: 2, name: "ada" };
        yield { v: 1, name: "bob" };
      });
      const all = async (): Promise<unknown[]> => {
        const out: unknown[] = [];
        for await (const row of after()) out.push(row);
        return out;
      };
      // Nothing of the old run is yielded: the whole replay is a miss, and the run is computed.
      expect(await all()).toEqual([
        { v: 2, name: "ada" },
        { v: 2, name: "BOB" }, // the transform applies to what is yielded
      ]);
      expect(runs).toBe(1);
      expect(events.map((e) => [e.type, e.key])).toEqual([["invalid", "team:1"]]);
      expect(await cache.get("team:1")).toEqual([expect.any(String), { v: 1, name: "bob" }]); // stored as yielded
      expect(await all()).toEqual([
        { v: 2, name: "ada" },
        { v: 2, name: "BOB" },
      ]); // replayed, migrated again
      expect(runs).toBe(1);
    });

    it("iterator: a computed chunk that fails is yielded unstored, or ends the run with SchemaError under strict", async () => {
      const events = invalidEvents();
      let runs = 0;
      const source = async function* (): AsyncGenerator<unknown> {
        runs++;
        yield { v: 2, name: "ada" };
        yield { v: 7, name: "odd" };
        yield { v: 2, name: "cy" };
      };
      const loose = cache.iterator({ ttl: "1m", key: "loose", schema: userSchema({ async: true }) })(source);
      const out: unknown[] = [];
      for await (const row of loose()) out.push(row);
      expect(out).toEqual([{ v: 2, name: "ada" }, { v: 7, name: "odd" }, { v: 2, name: "cy" }]);
      expect(await cache.exists("loose")).toBe(false); // no marker: never replayed
      const strict = cache.iterator({ ttl: "1m", key: "strict", schema: userSchema(), strict: true })(source);
      const got: unknown[] = [];
      await expect(
        (async () => {
          for await (const row of strict()) got.push(row);
        })(),
      ).rejects.toBeInstanceOf(SchemaError);
      expect(got).toEqual([{ v: 2, name: "ada" }]);
      expect(await cache.exists("strict")).toBe(false);
      expect(runs).toBe(2);
      expect(events.map((e) => [e.type, e.key])).toEqual([
        ["invalid", "loose"],
        ["invalid", "strict"],
      ]);
    });

    it("getOrSet: validates what it reads and what it computes; returns the schema's output", async () => {
      const events = invalidEvents();
      await cache.set("g", { v: 0, name: "bad" });
      const user: UserV2 = await cache.getOrSet("g", () => ({ v: 1, name: "ada" }), { expire: "1m", schema: userSchema({ migrate: true }) });
      expect(user).toEqual({ v: 2, name: "ADA" });
      expect(await cache.get("g")).toEqual({ v: 1, name: "ada" });
      expect(events.map((e) => [e.type, e.key])).toEqual([["invalid", "g"]]);
      expect(await cache.getOrSet("g", () => ({ v: 9, name: "unused" }), { schema: userSchema({ migrate: true, async: true }) })).toEqual({ v: 2, name: "ADA" });
      await expect(cache.getOrSet("g2", { v: 3, name: "x" }, { schema: userSchema(), strict: true })).rejects.toBeInstanceOf(SchemaError);
      expect(await cache.getOrSet("g2", { v: 3, name: "x" }, { schema: userSchema() })).toEqual({ v: 3, name: "x" });
      expect(await cache.exists("g2")).toBe(false);
    });
  });
}
