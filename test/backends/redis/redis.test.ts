// The Redis backend's commands against the shared test redis-server (namespaced: other test files
// use the same server). Tests that need a server of their own are in safe.test.ts.
import { createHash, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import * as scripts from "../../../src/backends/scripts.js";
import { INCR_EXPIRE, UNLOCK } from "../../../src/backends/scripts.js";
import { MISSING } from "../../../src/backends/types.js";
import { createRedisBackend, type RedisBackend } from "../../../src/redis.js";

const url = inject("redisUrl");
const NS = `t-redis-${randomUUID().slice(0, 8)}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out;
}

/**
 * The commands `backend` sent while `run` ran, as seen by MONITOR (lower-case names, PING left
 * out; an MGET with its key count, e.g. "mget3").
 */
async function commandsOf(backend: RedisBackend, run: () => Promise<void>): Promise<string[]> {
  const monitor = await new Redis(url).monitor();
  const seen: { args: string[]; source: string }[] = [];
  monitor.on("monitor", (_time: string, args: string[], source: string) => seen.push({ args, source }));
  try {
    const marker = `marker-${randomUUID()}`;
    await backend.ping(marker);
    await run();
    await backend.ping(`end-${randomUUID()}`);
    await sleep(100);
    const source = seen.find((line) => line.args[1] === marker)?.source;
    expect(source).toBeDefined();
    return seen
      .filter((line) => line.source === source)
      .map(({ args }) => (args[0]!.toLowerCase() === "mget" ? `mget${args.length - 1}` : args[0]!.toLowerCase()))
      .filter((name) => name !== "ping");
  } finally {
    monitor.disconnect();
  }
}

describe("scripts", () => {
  it("carry the SHA-1 of their source (every script of backends/scripts)", () => {
    const all = Object.values(scripts).filter((value): value is scripts.LuaScript => typeof value === "object" && value !== null && "lua" in value);
    expect(all.length).toBeGreaterThanOrEqual(10);
    for (const script of all) expect([script.name, script.sha1]).toEqual([script.name, createHash("sha1").update(script.lua).digest("hex")]);
  });

  it("touch only KEYS[1]", () => {
    for (const script of [INCR_EXPIRE, UNLOCK]) {
      expect(script.lua.match(/KEYS\[(\d+)\]/g)?.every((k) => k === "KEYS[1]")).toBe(true);
    }
  });
});

describe.skipIf(!url)("redis backend commands", () => {
  let backend: RedisBackend;
  let raw: Redis; // a plain connection to look at what the backend stored

  beforeAll(async () => {
    backend = createRedisBackend(url, { namespace: NS });
    await backend.init();
    raw = new Redis(url, { lazyConnect: true });
    await raw.connect();
  });

  afterEach(async () => {
    const keys = await raw.keys(`${NS}*`);
    if (keys.length > 0) await raw.unlink(keys);
  });

  afterAll(async () => {
    await backend?.close();
    raw?.disconnect();
  });

  it("is a string store named redis", () => {
    expect(backend.kind).toBe("redis");
    expect(backend.storesValues).toBe(false);
  });

  it("stores keys under <namespace>:", async () => {
    await backend.set("k", "v", undefined);
    expect(await raw.get(`${NS}:k`)).toBe("v");
    expect(await raw.exists("k")).toBe(0);
  });

  it("set/get round-trips strings exactly; missing → MISSING", async () => {
    const values = ["", "plain", "ünïcödé ✓ 🧀", "x".repeat(100_000), "line\r\nbreak\0nul"];
    for (const [i, value] of values.entries()) {
      expect(await backend.set(`v${i}`, value, undefined)).toBe(true);
      expect(await backend.get(`v${i}`)).toBe(value);
    }
    expect(await backend.get("nope")).toBe(MISSING);
  });

  it("set with expire sets a ms TTL; without expire clears it", async () => {
    await backend.set("t", "1", 1500);
    const ttl = await backend.getExpire("t");
    expect(ttl).toBeGreaterThan(1000);
    expect(ttl).toBeLessThanOrEqual(1500);
    expect(await raw.pttl(`${NS}:t`)).toBeLessThanOrEqual(1500);

    await backend.set("t", "2", undefined);
    expect(await backend.getExpire("t")).toBe(-1);
    expect(await backend.get("t")).toBe("2");
  });

  it("expires keys", async () => {
    await backend.set("short", "1", 60);
    expect(await backend.get("short")).toBe("1");
    await sleep(150);
    expect(await backend.get("short")).toBe(MISSING);
    expect(await backend.exists("short")).toBe(false);
  });

  it("treats 0 as no expiry and rounds fractional ms up", async () => {
    await backend.set("zero", "1", 0);
    expect(await backend.getExpire("zero")).toBe(-1);
    await backend.set("frac", "1", 1000.2);
    expect(await raw.pttl(`${NS}:frac`)).toBeLessThanOrEqual(1001);
    expect(await raw.pttl(`${NS}:frac`)).toBeGreaterThan(900);
  });

  it("set exist=false is NX, exist=true is XX", async () => {
    expect(await backend.set("nx", "a", undefined, false)).toBe(true);
    expect(await backend.set("nx", "b", undefined, false)).toBe(false);
    expect(await backend.get("nx")).toBe("a");

    expect(await backend.set("xx", "a", undefined, true)).toBe(false);
    expect(await backend.get("xx")).toBe(MISSING);
    await backend.set("xx", "a", undefined);
    expect(await backend.set("xx", "b", 5000, true)).toBe(true);
    expect(await backend.get("xx")).toBe("b");
    expect(await backend.getExpire("xx")).toBeGreaterThan(4000);
  });

  it("rejects values that are not strings", async () => {
    await expect(backend.set("obj", { a: 1 }, undefined)).rejects.toThrow(TypeError);
    expect(await backend.exists("obj")).toBe(false);
  });

  it("getMany returns input order with MISSING holes; empty input is no round trip", async () => {
    await backend.set("a", "1", undefined);
    await backend.set("c", "3", undefined);
    expect(await backend.getMany(["c", "b", "a", "c"])).toEqual(["3", MISSING, "1", "3"]);
    expect(await backend.getMany([])).toEqual([]);
  });

  it("setMany stores every entry with the same expiry", async () => {
    await backend.setMany(
      [
        ["m1", "1"],
        ["m2", "2"],
      ],
      2000,
    );
    expect(await backend.getMany(["m1", "m2"])).toEqual(["1", "2"]);
    for (const key of ["m1", "m2"]) {
      const ttl = await backend.getExpire(key);
      expect(ttl).toBeGreaterThan(1500);
      expect(ttl).toBeLessThanOrEqual(2000);
    }
    await backend.setMany([["m1", "x"]], undefined);
    expect(await backend.getExpire("m1")).toBe(-1);
    await backend.setMany([], undefined);
  });

  it("getMany is one MGET and setMany one MULTI/EXEC (MONITOR)", async () => {
    const commands = await commandsOf(backend, async () => {
      await backend.getMany(["g1", "g2", "g3"]);
      await backend.setMany(
        [
          ["s1", "1"],
          ["s2", "2"],
          ["s3", "3"],
        ],
        1000,
      );
    });
    expect(commands).toEqual(["mget3", "multi", "set", "set", "set", "exec"]);
  });

  it("GETs issued in one tick go out as one MGET, in issue order with other commands (MONITOR)", async () => {
    const backend = createRedisBackend(url, { namespace: NS }); // fresh: no earlier reads shape its batching
    await backend.set("b1", "old", undefined);
    const burst = async () => {
      const values = await Promise.all(Array.from({ length: 100 }, (_, i) => backend.get(i % 2 ? "b1" : `absent${i}`)));
      expect(values.every((v, i) => v === (i % 2 ? "old" : MISSING))).toBe(true);
    };
    try {
      const commands = await commandsOf(backend, async () => {
        // After sequential reads the first GET of a tick is sent at once; the rest of the burst is one MGET.
        await burst();
        // The next burst is batched from its first GET, and so is the next lone GET.
        await burst();
        expect(await backend.get("b1")).toBe("old");
        // A batch of one: lone GETs are sent at once again. A GET issued before a SET in the same
        // tick reads the value from before the SET; one issued after it, the new value.
        const before = backend.get("b1");
        const write = backend.set("b1", "new", undefined);
        const after = backend.get("b1");
        expect([await before, await write, await after]).toEqual(["old", true, "new"]);
      });
      expect(commands).toEqual(["get", "mget99", "mget100", "get", "get", "set", "get"]);
    } finally {
      await backend.close();
    }
  });

  it("a write among a tick's GETs cuts the batch there, and does not make the GETs after it go out one by one (MONITOR)", async () => {
    const backend = createRedisBackend(url, { namespace: NS });
    await backend.set("w1", "1", undefined);
    try {
      const commands = await commandsOf(backend, async () => {
        for (let tick = 0; tick < 3; tick++) {
          const reads = [backend.get("w1")];
          const write = backend.set("w2", String(tick), undefined);
          reads.push(backend.get("w2"), backend.get("w1"), backend.get("absent"));
          expect(await Promise.all([...reads, write])).toEqual(["1", String(tick), "1", MISSING, true]);
        }
      });
      // The first tick's first GET goes alone (reads were sequential until then); from then on
      // each tick is the GET before the SET, the SET, and one MGET of the three after it.
      expect(commands).toEqual(["get", "set", "mget3", "get", "set", "mget3", "get", "set", "mget3"]);
    } finally {
      await backend.close();
    }
  });

  it("a lone GET is written before get() returns; a tick with more GETs batches, and the next lone GET joins a batch once", async () => {
    const client = new Redis(url, { lazyConnect: true });
    await client.connect();
    const own = createRedisBackend(url, { namespace: NS, client });
    await own.init();
    // ioredis queues a command it has written to the socket in commandQueue (sendCommand).
    const queue = (client as unknown as { commandQueue: { length: number } }).commandQueue;
    const written = (read: () => Promise<unknown>): boolean => {
      const before = queue.length;
      void read();
      return queue.length > before;
    };
    try {
      await own.set("q1", "one", undefined);
      const lone: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        let result: Promise<unknown> | undefined;
        lone.push(written(() => (result = own.get("q1"))));
        expect(await result).toBe("one");
      }
      expect(lone).toEqual([true, true, true]);
      // Two in one tick: the first is written at once, the second waits for the tick's batch.
      let first: Promise<unknown> | undefined;
      let second: Promise<unknown> | undefined;
      expect([written(() => (first = own.get("q1"))), written(() => (second = own.get("q-absent")))]).toEqual([true, false]);
      expect([await first, await second]).toEqual(["one", MISSING]);
      // The next lone GET is batched (a batch of one), then lone GETs are written at once again.
      const after: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        let result: Promise<unknown> | undefined;
        after.push(written(() => (result = own.get(i === 1 ? "q-absent" : "q1"))));
        expect(await result).toBe(i === 1 ? MISSING : "one");
      }
      expect(after).toEqual([false, true, true]);
    } finally {
      await own.close();
      client.disconnect();
    }
  });

  it("incr counts atomically from 0, also by negative steps", async () => {
    expect(await backend.incr("n", 1, undefined)).toBe(1);
    expect(await backend.incr("n", 5, undefined)).toBe(6);
    expect(await backend.incr("n", -10, undefined)).toBe(-4);
    expect(await backend.get("n")).toBe("-4");
    expect(await backend.getExpire("n")).toBe(-1);
    const results = await Promise.all(Array.from({ length: 50 }, () => backend.incr("par", 1, 10_000)));
    expect(new Set(results).size).toBe(50);
    expect(await backend.get("par")).toBe("50");
  });

  it("incr with expire sets the TTL only when it creates the counter", async () => {
    expect(await backend.incr("e", 3, 1500)).toBe(3); // created with an increment other than 1
    const ttl = await backend.getExpire("e");
    expect(ttl).toBeGreaterThan(1000);
    expect(ttl).toBeLessThanOrEqual(1500);
    await sleep(50);
    expect(await backend.incr("e", 1, 60_000)).toBe(4); // existing: TTL neither reset nor extended
    expect(await backend.getExpire("e")).toBeLessThanOrEqual(1500);

    await backend.incr("forever", 1, undefined);
    expect(await backend.incr("forever", 1, 1000)).toBe(2); // existing without TTL keeps none
    expect(await backend.getExpire("forever")).toBe(-1);

    await backend.incr("back", 1, undefined);
    await backend.incr("back", -1, undefined); // exists with value 0
    expect(await backend.incr("back", 1, 1000)).toBe(1); // value equals `by` but not created: no TTL
    expect(await backend.getExpire("back")).toBe(-1);

    expect(await backend.incr("neg", -1, 1000)).toBe(-1);
    expect(await backend.getExpire("neg")).toBeGreaterThan(0);
  });

  it("incr rejects on a non-integer value and a non-integer step", async () => {
    await backend.set("text", "abc", undefined);
    await expect(backend.incr("text", 1, undefined)).rejects.toThrow(/not an integer/);
    await expect(backend.incr("text", 1, 1000)).rejects.toThrow(/not an integer/);
    await expect(backend.incr("n2", 1.5, undefined)).rejects.toThrow(TypeError);
  });

  it("delete and deleteMany", async () => {
    await backend.setMany(
      [
        ["d1", "1"],
        ["d2", "2"],
        ["d3", "3"],
      ],
      undefined,
    );
    expect(await backend.delete("d1")).toBe(true);
    expect(await backend.delete("d1")).toBe(false);
    expect(await backend.deleteMany(["d2", "d3", "d4"])).toBe(2);
    expect(await backend.deleteMany([])).toBe(0);
    expect(await backend.getMany(["d1", "d2", "d3"])).toEqual([MISSING, MISSING, MISSING]);
  });

  it("expire sets or (with undefined) removes a TTL; false for a missing key", async () => {
    await backend.set("x", "1", undefined);
    expect(await backend.expire("x", 2000)).toBe(true);
    const ttl = await backend.getExpire("x");
    expect(ttl).toBeGreaterThan(1500);
    expect(ttl).toBeLessThanOrEqual(2000);
    expect(await backend.expire("x", undefined)).toBe(true);
    expect(await backend.getExpire("x")).toBe(-1);
    expect(await backend.expire("x", undefined)).toBe(true); // no TTL to remove, but the key exists
    expect(await backend.expire("missing", 1000)).toBe(false);
    expect(await backend.expire("missing", undefined)).toBe(false);
  });

  it("getExpire: -1 without expiry, -2 when missing", async () => {
    await backend.set("p", "1", undefined);
    expect(await backend.getExpire("p")).toBe(-1);
    expect(await backend.getExpire("missing")).toBe(-2);
  });

  it("exists and ping", async () => {
    await backend.set("here", "1", undefined);
    expect(await backend.exists("here")).toBe(true);
    expect(await backend.exists("gone")).toBe(false);
    expect(await backend.ping()).toBe("PONG");
    expect(await backend.ping("hello world")).toBe("hello world");
  });

  it("setLock is set-if-absent with a TTL; unlock only by the owner", async () => {
    expect(await backend.setLock("lock", "owner", 2000)).toBe(true);
    expect(await backend.setLock("lock", "other", 2000)).toBe(false);
    const ttl = await backend.getExpire("lock");
    expect(ttl).toBeGreaterThan(1500);
    expect(ttl).toBeLessThanOrEqual(2000);
    expect(await backend.unlock("lock", "other")).toBe(false);
    expect(await backend.get("lock")).toBe("owner");
    expect(await backend.unlock("lock", "owner")).toBe(true);
    expect(await backend.exists("lock")).toBe(false);
    expect(await backend.unlock("lock", "owner")).toBe(false);
    expect(await backend.setLock("lock", "other", 2000)).toBe(true);
  });

  describe("patterns and namespace isolation", () => {
    const keys = ["user:1", "user:2", "user:10", "item:a", "abc", "axc", "ax", "bx", "cx", "a*b", "a?b", "[x]", "é", "ee", "k:"];
    const foreign = [`${NS}x:user:1`, `user:1`, `${NS}`, `x${NS}:abc`, `${NS}-other:abc`];

    const seed = async () => {
      for (const key of keys) await backend.set(key, key, undefined);
      for (const key of foreign) await raw.set(key, "foreign");
    };

    afterEach(async () => {
      await raw.unlink(foreign);
    });

    const cases: [string, string[]][] = [
      ["*", keys],
      ["user:*", ["user:1", "user:2", "user:10"]],
      ["user:?", ["user:1", "user:2"]],
      ["a?c", ["abc", "axc"]],
      ["[ab]x", ["ax", "bx"]],
      ["[^a]x", ["bx", "cx"]],
      ["[b-c]x", ["bx", "cx"]],
      ["a\\*b", ["a*b"]],
      ["a\\?b", ["a?b"]],
      ["\\[x\\]", ["[x]"]],
      ["??", ["ax", "bx", "cx", "é", "ee", "k:"]], // é is two bytes
      ["abc", ["abc"]], // no `*`: still a pattern (exact here)
      ["a?b", ["a*b", "a?b"]], // no `*`, but a glob: not an exact UNLINK of "a?b"
      ["nothing*", []],
    ];

    it.each(cases)("scan(%j) yields the matching user keys", async (pattern, expected) => {
      await seed();
      const found = new Set(await collect(backend.scan(pattern, 2)));
      expect([...found].sort()).toEqual([...expected].sort());
    });

    it.each(cases)("deleteMatch(%j) deletes exactly the matching keys", async (pattern, expected) => {
      await seed();
      expect(await backend.deleteMatch(pattern)).toBe(expected.length);
      for (const key of keys) expect(await backend.exists(key)).toBe(!expected.includes(key));
      for (const key of foreign) expect(await raw.get(key)).toBe("foreign");
    });

    it("scan pages through many keys with a small batch", async () => {
      const many = Array.from({ length: 1234 }, (_, i) => [`bulk:${i}`, String(i)] as const);
      await backend.setMany(many, undefined);
      const found = new Set(await collect(backend.scan("bulk:*", 50)));
      expect(found.size).toBe(many.length);
      expect(await backend.getKeysCount()).toBe(many.length);
      expect(await backend.deleteMatch("bulk:*")).toBe(many.length);
      expect(await backend.getKeysCount()).toBe(0);
    });

    it("getKeysCount counts this namespace only", async () => {
      await seed();
      expect(await backend.getKeysCount()).toBe(keys.length);
    });

    it("clear removes this namespace only", async () => {
      await seed();
      await backend.clear();
      expect(await backend.getKeysCount()).toBe(0);
      for (const key of foreign) expect(await raw.get(key)).toBe("foreign");
    });

    it("a namespace with glob characters matches only itself", async () => {
      const tricky = createRedisBackend(url, { namespace: `${NS}[*?]\\` });
      const lookalike = createRedisBackend(url, { namespace: `${NS}x*?\\` });
      try {
        await tricky.set("a", "1", undefined);
        await tricky.set("b", "1", undefined);
        await lookalike.set("a", "2", undefined);
        await raw.set(`${NS}*:a`, "foreign");
        expect(await tricky.getKeysCount()).toBe(2);
        expect((await collect(tricky.scan("*", 10))).sort()).toEqual(["a", "b"]);
        expect(await tricky.deleteMatch("a")).toBe(1);
        await tricky.clear();
        expect(await tricky.getKeysCount()).toBe(0);
        expect(await lookalike.get("a")).toBe("2");
        expect(await raw.get(`${NS}*:a`)).toBe("foreign");
      } finally {
        await raw.unlink(`${NS}*:a`);
        await lookalike.clear();
        await tricky.close();
        await lookalike.close();
      }
    });
  });

  it("rejects a command on a key of another type", async () => {
    await raw.sadd(`${NS}:set`, "x");
    await expect(backend.get("set")).rejects.toThrow(/WRONGTYPE/);
  });
});
